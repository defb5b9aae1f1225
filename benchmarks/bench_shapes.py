"""One epoch through the public API on random data of many shapes (pytest-benchmark).

    pytest benchmarks/bench_shapes.py                            # full sizes (long)
    pytest benchmarks/bench_shapes.py -k "mnist and float32 and b32"
    FASTREG_SHAPES_SCALE=0.05 pytest benchmarks/bench_shapes.py  # every N times 0.05
    pytest benchmarks/bench_shapes.py --benchmark-disable        # each case once, tiny: CI

The cases of ``python benchmarks/compare.py --shapes`` (``benchmarks/contenders/shapes.py``
defines the shapes and the data): for each shape, dtype (float32, float64), batch size (1, 32,
256), thread count (1, 2: fastreg's ``n_threads`` and the BLAS threads, through threadpoolctl
when installed) and API (``partial_fit`` once on the default backend, ``fit`` with
``max_epochs=1, early_stopping=False``, ``partial_fit`` with ``backend="numpy"``; PyTorch is the
compare.py table's business), one timed epoch from a fresh model (the model is built in the
untimed setup). The learning rate is fixed at 0.01, so the step-size computation of
``learning_rate="auto"`` is not timed.

Data are made once per (shape, rows, dtype) in memory from a fixed seed, never written to disk.
N is scaled by ``FASTREG_SHAPES_SCALE``: 1 by default, but 0.001 under ``--benchmark-disable``
(every shape then has 64 to 500 rows, each case well under a second: a smoke test, nothing
timed; below a scale of 0.01 N may be smaller than K, so fit may see fewer classes).
``extra_info`` holds N, d, K, the bytes an epoch reads and its flops (4 N d K, or 4 nnz K for
CSR), from which compare.py's floor follows. Tests of one (shape, dtype, batch, threads) share
a ``benchmark.group``.
"""

import contextlib
import functools
import os
import warnings

import pytest

from contenders.shapes import SHAPES, data_bytes, data_flops, estimator_epoch, make_data

DTYPES = ("float32", "float64")
BATCH_SIZES = (1, 32, 256)
THREADS = (1, 2)
APIS = ("partial_fit", "fit", "numpy")
LEARNING_RATE = 0.01
SMOKE_SCALE = 0.001
ROUNDS = int(os.environ.get("FASTREG_SHAPES_ROUNDS", "3"))


@functools.lru_cache(maxsize=2)
def _data(name, rows, dtype):
    return make_data(SHAPES[name], rows, dtype, seed=0)


def _scale(config):
    if "FASTREG_SHAPES_SCALE" in os.environ:
        return float(os.environ["FASTREG_SHAPES_SCALE"])
    return SMOKE_SCALE if config.getoption("benchmark_disable", False) else 1.0


def _blas_threads(threads):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"{t}t")
@pytest.mark.parametrize("batch", BATCH_SIZES, ids=lambda b: f"b{b}")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_one_epoch(benchmark, request, shape, dtype, batch, threads, api):
    spec = SHAPES[shape]
    scale = _scale(request.config)
    # the smoke test may leave classes out (fit then sees fewer than K); real runs never do
    X, y = _data(shape, spec.rows(scale, every_class=scale >= 0.01), dtype)
    benchmark.group = f"{shape}-{dtype}-b{batch}-{threads}t"
    benchmark.extra_info.update(
        n=X.shape[0],
        d=X.shape[1],
        k=spec.k,
        bytes=data_bytes(X),
        flops=data_flops(X, spec.k),
        sparse=spec.sparse,
    )
    models = []

    def setup():
        model, epoch = estimator_epoch(spec, api, LEARNING_RATE, batch, threads, seed=0)
        models.append(model)
        return (epoch, X, y), {}

    with _blas_threads(threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        benchmark.pedantic(
            lambda epoch, X, y: epoch(X, y), setup=setup, rounds=ROUNDS, iterations=1
        )
    model = models[-1]
    if api == "numpy":
        assert model.backend_ == "numpy"
    assert model.coef_.shape[-1] == X.shape[1]
