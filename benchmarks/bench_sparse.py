"""Time of the sparse kernels, compiled against NumPy twin, on text-like CSR data.

    pytest benchmarks/bench_sparse.py                            # every case (a few minutes)
    pytest benchmarks/bench_sparse.py -k "epoch and float32"     # a selection
    pytest benchmarks/bench_sparse.py --benchmark-disable        # each call once: a smoke test

Data: ``sparse_text.make_text`` (Zipf words, tf-idf values, rows of unit norm, 20 classes from
a planted linear model) at 20,000 rows x 20,000 features, ~60 nonzeros a row, int32 indices,
in float32 or float64; built once per dtype from a fixed seed. The full-size comparison with
scikit-learn (200,000 x 100,000) is ``python benchmarks/sparse_text.py``.

Each test times one call through the input check (``get_backend(name).kernel``, as the
library calls it) on one backend, dtype and batch size:

``epoch``        one epoch, constant learning rate, l2 = 5e-5: the uniform lazy shrink (one
                 scale factor for all weights);
``epoch[auto]``  the same with a per-feature ``step_scale`` (1 / max|x_j|^2, as
                 learning_rate="auto" gives) under a cosine schedule: the per-feature lazy
                 shrinks through their series;
``forward``      the logits of every row (a validation pass or a predict call).

Tests of one (kernel, dtype, batch) share a ``benchmark.group``, so the table pytest-benchmark
prints per group gives the Cython/NumPy ratio from one run. The NumPy epoch at batch 1 takes
20,000 Python-level steps: it runs once (``pedantic``); everything else is calibrated by
pytest-benchmark as usual.
"""

import functools
import os
import sys

import numpy as np
import pytest

import fastreg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sparse_text import make_text

ROWS, FEATURES = 20_000, 20_000
BATCH_SIZES = (1, 32, 256)
DTYPES = ("float32", "float64")
LEARNING_RATE, L2 = 10.0, 5e-5
_env = os.environ.get("FASTREG_BACKEND", "").strip().lower()
BACKENDS = [_env] if _env in ("cython", "numpy") else fastreg.available_backends()


@functools.cache
def _data(dtype):
    """(X CSR, y) of one dtype, and the per-feature step scales 1 / max|x_j|^2."""
    X, y = make_text(ROWS, FEATURES, dtype=np.dtype(dtype))
    maxabs = np.zeros(FEATURES)
    np.maximum.at(maxabs, X.indices, np.abs(X.data))
    step_scale = 1.0 / np.where(maxabs > 0, maxabs, 1.0) ** 2
    return X, y, step_scale.astype(dtype)


def _epoch_args(dtype, batch, auto):
    X, y, step_scale = _data(dtype)
    K = int(y.max()) + 1
    coef, intercept = np.zeros((K, FEATURES), dtype), np.zeros(K, dtype)
    order = np.random.default_rng(1).permutation(ROWS)
    n_batches = -(-ROWS // batch)
    if auto:
        lrs = 0.5 * (1.0 + np.cos(np.pi * np.arange(n_batches) / n_batches))
        kwargs = dict(step_scale=step_scale)
    else:
        lrs, kwargs = np.full(n_batches, LEARNING_RATE), {}
    return (X, y, coef, intercept, order, batch, lrs, L2), kwargs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kernel", ("epoch", "epoch[auto]"))
def test_sparse_epoch(benchmark, kernel, backend, batch, dtype):
    args, kwargs = _epoch_args(dtype, batch, auto=kernel == "epoch[auto]")
    epoch = fastreg.get_backend(backend).sparse_epoch
    benchmark.group = f"sparse {kernel} {dtype} batch={batch}"
    benchmark.extra_info.update(
        kernel=kernel,
        backend=backend,
        batch=batch,
        dtype=dtype,
        rows=ROWS,
        features=FEATURES,
        nnz=int(args[0].nnz),
    )
    if backend == "numpy" and batch == 1:
        result = benchmark.pedantic(epoch, args=args, kwargs=kwargs, rounds=1, iterations=1)
    else:
        result = benchmark(epoch, *args, **kwargs)
    loss, accuracy = result
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_sparse_forward(benchmark, backend, dtype):
    X, y, _ = _data(dtype)
    K = int(y.max()) + 1
    rng = np.random.default_rng(2)
    coef = (0.1 * rng.standard_normal((K, FEATURES))).astype(dtype)
    intercept = np.zeros(K, dtype)
    benchmark.group = f"sparse forward {dtype}"
    benchmark.extra_info.update(backend=backend, dtype=dtype, rows=ROWS, features=FEATURES)
    Z = benchmark(fastreg.get_backend(backend).sparse_linear_forward, X, coef, intercept)
    assert Z.shape == (ROWS, K) and np.isfinite(Z).all()
