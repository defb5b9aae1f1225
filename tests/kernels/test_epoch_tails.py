"""The feature tails of the compiled epoch and forward pass: every d around the vector widths.

The micro-kernels work on chunks of VL features (4 to 16 lanes, by SIMD level and dtype); the
last d % VL features of a row are a partial chunk, read with a masked load (AVX2, AVX-512) or
element by element (the baseline, uint8 pixels), and on AVX2 / AVX-512 the backward pass
updates that chunk as a whole vector whose lanes past d must get a zero step, so that the
padded weights stay exactly 0. Checked here, on every SIMD level the CPU runs, for every d in
1..40 and 63, 65, 127, 129, K in {1, 3, 7}, float32 and float64, batch sizes 1 and 5, with and
without sample weights and step scales: several compiled epochs agree with the NumPy twin
(tolerances of test_epoch.py), which they would not if a padded weight drifted from 0 (the
forward pass reads it); and ``linear_forward`` agrees with a float64 loop.

X and the step scale are views at the start of a longer buffer whose elements past their end
are NaN: a read past X's last row or past step_scale[d - 1], even one multiplied by a zero
weight or a zero gradient, turns the results NaN.
"""

import numpy as np
import pytest

from helpers import naive

pytestmark = pytest.mark.requires_cython

RTOL = {np.float32: 1e-4, np.float64: 1e-9}
DIMS = list(range(1, 41)) + [63, 65, 127, 129]
N = 23


def _guarded(values):
    """values (C-contiguous) as a view on a buffer followed by 64 NaNs."""
    flat = np.full(values.size + 64, np.nan, dtype=values.dtype)
    flat[: values.size] = values.ravel()
    return flat[: values.size].reshape(values.shape)


def _problem(k, dtype, d, seed=0):
    rng = np.random.default_rng([seed, d, k])
    X = _guarded(rng.uniform(-1.0, 1.0, (N, d)).astype(dtype))
    y = rng.integers(0, max(k, 2), N).astype(np.intc)
    coef = (rng.standard_normal((k, d)) / np.sqrt(d)).astype(dtype)
    intercept = (0.1 * rng.standard_normal(k)).astype(dtype)
    return X, y, coef, intercept


def _weighting(weights, scales, d, dtype):
    rng = np.random.default_rng([7, d])
    kw = {}
    if weights:
        v = rng.uniform(0.0, 2.0, N)
        v[::7] = 0.0
        kw["sample_weight"] = v.astype(dtype)
    if scales:
        kw["step_scale"] = _guarded(rng.uniform(0.1, 3.0, d).astype(dtype))
    return kw


def _run_epochs(epoch, X, y, coef, intercept, batch_size, n_epochs=3, **kw):
    coef, intercept = coef.copy(), intercept.copy()
    rng = np.random.default_rng(1)
    n_batches = -(-N // batch_size)
    history = []
    for e in range(n_epochs):
        order = rng.permutation(N)
        lrs = 0.2 / (1.0 + 0.01 * (e * n_batches + np.arange(n_batches)))
        history.append(epoch(X, y, coef, intercept, order, batch_size, lrs, 0.01, **kw))
    return np.array(history), coef, intercept


def _assert_close(actual, expected, dtype):
    rtol = RTOL[dtype]
    scale = max(float(np.max(np.abs(expected))), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def _levels(m):
    for level in m._simd_levels():
        m._set_simd_level(level)
        yield level


@pytest.mark.parametrize("d", DIMS)
@pytest.mark.parametrize("k", [1, 3, 7])
def test_epoch_tails_match_numpy(cython_backend, numpy_backend, linear_module, d, k):
    for dtype in (np.float32, np.float64):
        X, y, coef, intercept = _problem(k, dtype, d)
        for batch_size in (1, 5):
            for weights in (False, True):
                for scales in (False, True):
                    kw = _weighting(weights, scales, d, dtype)
                    spec = _run_epochs(
                        numpy_backend.epoch, X, y, coef, intercept, batch_size, **kw
                    )
                    assert np.isfinite(spec[0]).all()
                    v = kw.get("sample_weight")
                    accuracy_atol = 1.5 / N if v is None else 1.5 * v.max() / v.sum()
                    for level in _levels(linear_module):
                        ours = _run_epochs(
                            cython_backend.epoch, X, y, coef, intercept, batch_size, **kw
                        )
                        where = (level, dtype.__name__, batch_size, weights, scales)
                        for a, b in zip(ours[1:], spec[1:]):
                            assert np.isfinite(a).all(), where
                            _assert_close(a, b, dtype)
                        _assert_close(ours[0][:, 0], spec[0][:, 0], dtype)
                        np.testing.assert_allclose(
                            ours[0][:, 1], spec[0][:, 1], atol=accuracy_atol, err_msg=str(where)
                        )


@pytest.mark.parametrize("d", DIMS)
@pytest.mark.parametrize("k", [1, 3, 7])
def test_forward_tails(cython_backend, linear_module, d, k):
    for dtype in (np.float32, np.float64):
        X, _, coef, intercept = _problem(k, dtype, d, seed=2)
        want = naive.linear_forward(X.astype(np.float64), coef, intercept)
        for level in _levels(linear_module):
            Z = cython_backend.linear_forward(X, coef, intercept)
            np.testing.assert_allclose(Z, want, rtol=RTOL[dtype], atol=RTOL[dtype], err_msg=level)
