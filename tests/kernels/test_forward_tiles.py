"""The forward micro-kernel's feature tiles (issue 14): compiled against the NumPy twin.

kernels_template.h's ``fwd`` runs a wide feature range in tiles (every class block and row
group within a tile, the first tile storing the partial logits, the others adding to them), so
that W comes from L1 for all but the first row group. The tiles are set by
``_linear._forward_tuning(tile_bytes=, tile_over=, tile_min=)``; here they are forced down to
one 64-byte panel, to a few panels, and off, besides the default, on every SIMD level, for
``linear_forward`` and ``epoch`` (which share the kernel), d in {1, 15, 16, 17, 1000, 4097,
20000} x K in {1, 3, 10, 37} x float32 / float64; uint8 pixels, two threads (each tiling its
own feature range) and their determinism on a few shapes. Tolerances as in test_kernels.py
(forward: ``|got - want| <= rtol (|want| + sum_j |x_j w_j|)``) and test_epoch.py (epochs).
"""

import numpy as np
import pytest

pytestmark = pytest.mark.requires_cython

DS = (1, 15, 16, 17, 1000, 4097, 20000)
KS = (1, 3, 10, 37)
DTYPES = (np.float32, np.float64)
FORWARD_RTOL = {np.float32: 1e-5, np.float64: 1e-12}
EPOCH_RTOL = {np.float32: 1e-4, np.float64: 1e-9}
#: feature tilings of the forward kernel (None: the default tuning)
TILINGS = {
    "default": None,
    "off": dict(tile_bytes=0),
    "panel": dict(tile_bytes=1, tile_over=0, tile_min=0),  # one 64-byte panel a tile
    "panels": dict(tile_bytes=1, tile_over=0, tile_min=48),  # 3 (float) / 6 (double) panels
}


def _set_tiling(m, name, default):
    m._forward_tuning(**default)
    if TILINGS[name]:
        m._forward_tuning(**TILINGS[name])


def _forward_problem(dtype, n, d, k, uint8=False, seed=0):
    rng = np.random.default_rng([seed, n, d, k, int(uint8)])
    if uint8:
        X = rng.integers(0, 256, size=(n, d)).astype(np.uint8)
    else:
        X = rng.standard_normal((n, d)).astype(dtype)
    coef = (rng.standard_normal((k, d)) * (2.0 / np.sqrt(d))).astype(dtype)
    intercept = rng.standard_normal(k).astype(dtype)
    return X, coef, intercept


def _assert_forward_close(got, X, coef, intercept, scale, want, dtype, what):
    """|got - want| <= rtol (|want| + sum_j |x_j w_j| scale) elementwise, all finite."""
    terms = (np.abs(X.astype(np.float64)) @ np.abs(coef.astype(np.float64)).T) * scale
    bound = FORWARD_RTOL[dtype] * (np.abs(want.astype(np.float64)) + terms + np.abs(intercept))
    assert got.dtype == dtype and got.shape == want.shape
    assert np.all(np.isfinite(got)), what
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    worst = np.unravel_index(np.argmax(err - bound), err.shape)
    assert np.all(err <= bound), (
        f"{what}: error {err[worst]:.3g} > bound {bound[worst]:.3g} at {worst}"
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("k", KS, ids=lambda k: f"K={k}")
@pytest.mark.parametrize("d", DS, ids=lambda d: f"d={d}")
def test_forward_tiles_match_numpy(cython_backend, numpy_backend, linear_module, d, k, dtype):
    """37 rows (blocks of 16 rows and odd row groups), every SIMD level and tiling."""
    m = linear_module
    default = m._forward_tuning()
    X, coef, intercept = _forward_problem(dtype, 37, d, k)
    want = numpy_backend.linear_forward(X, coef, intercept)
    for level in m._simd_levels():
        m._set_simd_level(level)
        for tiling in TILINGS:
            _set_tiling(m, tiling, default)
            got = cython_backend.linear_forward(X, coef, intercept)
            _assert_forward_close(
                got, X, coef, intercept, 1.0, want, dtype, f"{level} tiles {tiling}"
            )


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("d, k", [(17, 3), (1000, 10), (4097, 37), (20000, 1)])
def test_forward_tiles_uint8(cython_backend, numpy_backend, linear_module, d, k, dtype):
    """uint8 pixels with input_scale (the kernels' own uint8 -> float loads) in tiles."""
    m = linear_module
    default = m._forward_tuning()
    X, coef, intercept = _forward_problem(dtype, 21, d, k, uint8=True)
    want = numpy_backend.linear_forward(X, coef, intercept, 1 / 255)
    for level in m._simd_levels():
        m._set_simd_level(level)
        for tiling in TILINGS:
            _set_tiling(m, tiling, default)
            got = cython_backend.linear_forward(X, coef, intercept, 1 / 255)
            _assert_forward_close(
                got, X, coef, intercept, 1 / 255, want, dtype, f"{level} tiles {tiling}"
            )


def test_tiling_reaches_the_kernel_and_is_restored(cython_backend, linear_module):
    """The setter changes the summation order of a wide row (the tiles really run), the same
    tiling gives the same bits, and the old values come back from the setter."""
    m = linear_module
    default = m._forward_tuning()
    assert {"tile_bytes", "tile_over", "tile_min"} <= set(default)
    X, coef, intercept = _forward_problem(np.float32, 16, 4097, 10)
    m._forward_tuning(tile_bytes=0)
    off = cython_backend.linear_forward(X, coef, intercept)
    previous = m._forward_tuning(**TILINGS["panel"])
    assert previous["tile_bytes"] == 0
    panel = cython_backend.linear_forward(X, coef, intercept)
    assert not np.array_equal(off, panel)
    np.testing.assert_array_equal(cython_backend.linear_forward(X, coef, intercept), panel)
    m._forward_tuning(**default)
    assert m._forward_tuning() == default


# --------------------------------------------------------------------------- the epoch
def _epoch_problem(k, dtype, n, d, uint8=False, seed=0):
    """Rows of about unit norm (or pixels, scaled by 1/(255 sqrt(d)) inside), logits of a few
    units, labels (0/1 when k == 1)."""
    rng = np.random.default_rng([seed, n, d, k, int(uint8)])
    if uint8:
        X = rng.integers(0, 256, size=(n, d)).astype(np.uint8)
        scale = 1.0 / (255 * np.sqrt(d / 3))
    else:
        X = (rng.standard_normal((n, d)) / np.sqrt(d)).astype(dtype)
        scale = 1.0
    y = rng.integers(0, max(k, 2), size=n).astype(np.intc)
    coef = rng.standard_normal((k, d)).astype(dtype)
    intercept = (0.1 * rng.standard_normal(k)).astype(dtype)
    return X, y, coef, intercept, scale


def _run_epochs(epoch, X, y, coef, intercept, scale, batch_size=8, n_epochs=2, lr=0.5, **kw):
    coef, intercept = coef.copy(), intercept.copy()
    rng = np.random.default_rng(1)
    n_batches = -(-X.shape[0] // batch_size)
    history = []
    for e in range(n_epochs):
        order = rng.permutation(X.shape[0])
        lrs = lr / (1.0 + 0.05 * (e * n_batches + np.arange(n_batches)))
        history.append(
            epoch(X, y, coef, intercept, order, batch_size, lrs, 0.01, input_scale=scale, **kw)
        )
    return np.array(history), coef, intercept


def _assert_close(actual, expected, dtype, what):
    rtol = EPOCH_RTOL[dtype]
    scale = max(float(np.max(np.abs(expected))), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def _assert_runs_close(ours, spec, dtype, n, what):
    (hist_a, coef_a, int_a), (hist_b, coef_b, int_b) = ours, spec
    _assert_close(coef_a, coef_b, dtype, what)
    _assert_close(int_a, int_b, dtype, what)
    _assert_close(hist_a[:, 0], hist_b[:, 0], dtype, what)  # mean loss
    # accuracy counts whole rows: a logit within rounding of a tie may flip one of them
    np.testing.assert_allclose(hist_a[:, 1], hist_b[:, 1], atol=1.5 / n, err_msg=what)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("k", KS, ids=lambda k: f"K={k}")
@pytest.mark.parametrize("d", DS, ids=lambda d: f"d={d}")
def test_epoch_tiles_match_numpy(cython_backend, numpy_backend, linear_module, d, k, dtype):
    """Two epochs of 40 rows in batches of 8 (sub-blocks of 1-3 rows at d = 20000), every
    SIMD level and tiling."""
    m = linear_module
    default = m._forward_tuning()
    X, y, coef, intercept, scale = _epoch_problem(k, dtype, 40, d)
    spec = _run_epochs(numpy_backend.epoch, X, y, coef, intercept, scale)
    for level in m._simd_levels():
        m._set_simd_level(level)
        for tiling in TILINGS:
            _set_tiling(m, tiling, default)
            ours = _run_epochs(cython_backend.epoch, X, y, coef, intercept, scale)
            _assert_runs_close(ours, spec, dtype, 40, f"{level} tiles {tiling}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("d, k", [(1000, 3), (4097, 10), (20000, 37)])
@pytest.mark.parametrize("uint8", [False, True], ids=["float", "uint8"])
def test_threaded_epoch_tiles(cython_backend, numpy_backend, linear_module, d, k, dtype, uint8):
    """Two threads, each tiling its own feature range (tiles start at the thread's first
    feature): close to the twin, and the same bits at every run."""
    m = linear_module
    default = m._forward_tuning()
    m._tuning(min_ns_per_barrier=0)
    X, y, coef, intercept, scale = _epoch_problem(k, dtype, 40, d, uint8=uint8)
    spec = _run_epochs(numpy_backend.epoch, X, y, coef, intercept, scale)
    for tiling in ("default", "panel", "panels"):
        _set_tiling(m, tiling, default)
        ours = _run_epochs(cython_backend.epoch, X, y, coef, intercept, scale, n_threads=2)
        assert m._last_thread_count() == (2 if m._openmp_enabled() else 1)
        _assert_runs_close(ours, spec, dtype, 40, f"tiles {tiling}")
        again = _run_epochs(cython_backend.epoch, X, y, coef, intercept, scale, n_threads=2)
        for a, b in zip(ours, again):
            np.testing.assert_array_equal(a, b, err_msg=f"tiles {tiling}")
