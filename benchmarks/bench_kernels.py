"""Per-call time of the non-epoch kernels, compiled against NumPy twin, at d=784 and K=10 (or 1).

    pytest benchmarks/bench_kernels.py                         # every case (about 1-2 minutes)
    pytest benchmarks/bench_kernels.py -k "float32 and 1024"   # a selection
    pytest benchmarks/bench_kernels.py --benchmark-disable     # each call once: a smoke test

Each test times one call of one kernel on one backend, for a batch of 1, 32 or 1024 rows of
MNIST-sized random data (784 features, 10 classes) in float32 or float64; the forward passes
also at 6000 rows, the size of the trainer's validation check on MNIST (10% held out) and of a
predict call on many rows. Tests of the same
kernel, dtype and batch share a ``benchmark.group``, so pytest-benchmark prints the Cython and
NumPy timings of each case side by side in one table. The backends are those that load here
(``fastreg.available_backends()``); FASTREG_BACKEND=cython|numpy keeps one.
Calls allocate their outputs (``out=None``), as the library's callers do, and go through the
input checks (``get_backend(name).kernel``, as the library calls them). Kernel names ending in
``[K=1]`` run the logistic model (coef (1, d)); ``linear_forward[uint8]`` takes uint8 pixels with
``input_scale=1/255``, as predictions on MNIST do. The epoch has its own file, bench_epoch.py.
"""

import os

import numpy as np
import pytest

import fastreg

D, K = 784, 10
BATCH_SIZES = (1, 32, 1024)
DTYPES = ("float32", "float64")
_env = os.environ.get("FASTREG_BACKEND", "").strip().lower()
BACKENDS = [_env] if _env in ("cython", "numpy") else fastreg.available_backends()


class Batch:
    """One MNIST-sized batch with weights, logits and labels, in one dtype."""

    def __init__(self, n, dtype):
        rng = np.random.default_rng(n)
        self.pixels = rng.integers(0, 256, (n, D)).astype(np.uint8)
        self.X = (self.pixels / 255).astype(dtype)  # pixels scaled to [0, 1]
        self.y = rng.integers(0, K, n).astype(np.intc)
        self.y01 = (self.y % 2).astype(np.intc)
        self.coef = (rng.standard_normal((K, D)) * 0.01).astype(dtype)
        self.intercept = np.zeros(K, dtype=dtype)
        self.coef1 = self.coef[:1].copy()
        self.intercept1 = np.zeros(1, dtype=dtype)
        self.Z = fastreg.get_backend("numpy").linear_forward(self.X, self.coef, self.intercept)


def _calls(kernels, b):
    """kernel name -> (function, arguments) for one backend and batch."""
    return {
        "linear_forward": (kernels.linear_forward, (b.X, b.coef, b.intercept)),
        "linear_forward[K=1]": (kernels.linear_forward, (b.X, b.coef1, b.intercept1)),
        "linear_forward[uint8]": (
            kernels.linear_forward,
            (b.pixels, b.coef, b.intercept, 1 / 255),
        ),
        "softmax": (kernels.softmax, (b.Z,)),
        "cross_entropy": (kernels.cross_entropy, (b.Z, b.y)),
        "cross_entropy_grad": (kernels.cross_entropy_grad, (b.Z, b.y)),
        "loss_grad": (kernels.loss_grad, (b.X, b.y, b.coef, b.intercept, 1e-4)),
        "loss_grad[K=1]": (kernels.loss_grad, (b.X, b.y01, b.coef1, b.intercept1, 1e-4)),
    }


KERNELS = tuple(_calls(fastreg.get_backend("numpy"), Batch(1, "float64")))
FORWARD_KERNELS = ("linear_forward", "linear_forward[K=1]", "linear_forward[uint8]")
VALIDATION_BATCH = 6000


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel(benchmark, kernel, backend, batch, dtype):
    _run(benchmark, kernel, backend, batch, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kernel", FORWARD_KERNELS)
def test_forward_validation_size(benchmark, kernel, backend, dtype):
    _run(benchmark, kernel, backend, VALIDATION_BATCH, dtype)


def _run(benchmark, kernel, backend, batch, dtype):
    func, args = _calls(fastreg.get_backend(backend), Batch(batch, dtype))[kernel]
    benchmark.group = f"{kernel} {dtype} batch={batch}"
    benchmark.extra_info.update(kernel=kernel, backend=backend, batch=batch, dtype=dtype)
    result = benchmark(func, *args)
    assert np.all(np.isfinite(result[0] if isinstance(result, tuple) else result))
