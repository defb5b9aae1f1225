"""Time of one full training epoch, compiled against NumPy twin, on MNIST-sized data.

    pytest benchmarks/bench_epoch.py                          # every case (a few minutes)
    pytest benchmarks/bench_epoch.py -k "softmax and float32"  # a selection
    pytest benchmarks/bench_epoch.py --benchmark-disable      # each epoch once: a smoke test

Each test times one call of ``epoch`` with coef (K, d): softmax (60000 x 784, K = 10) or
binary (K = 1, the logistic model; the digits 2 and 3 only: about 12000 rows) on one backend,
at one batch size (1, 8, 32, 128, 1024) and one input type:

``float32`` / ``float64``  X and the weights in that dtype (pixels / 255);
``uint8``                  the raw pixels with float32 weights, scaled by 1/255 inside the kernel.

Backends: ``numpy`` (the twin), ``cython`` (n_threads=1) and ``cython-2t`` (n_threads=2; the
kernel uses the second thread only where a batch has enough work: src_pyx/_thread_policy.pxd,
``fastreg._kernels._linear._tuning``). Tests
of one (model, batch, input) share a ``benchmark.group``, so the table pytest-benchmark prints
per group gives the Cython/NumPy ratio of that case from one run.

Data: the real MNIST training set when FASTREG_DATA points at it, else a synthetic stand-in of
the same shape and type (uint8 pixels, about 19 % of them non-zero like MNIST, random labels),
built in memory from a fixed seed; ``extra_info["data"]`` says which was used. The weights start
at zero and keep training from round to round (a small learning rate keeps every loss finite;
a non-finite epoch would stop early and is rejected by the assertion).

The NumPy epoch at batch 1 takes 60000 Python-level steps (several seconds): it runs once
(``pedantic``, one round), and at batch 8 three rounds; everything else is calibrated by
pytest-benchmark as usual.
"""

import functools
import os

import numpy as np
import pytest

import fastreg

N_SYNTH, D, K = 60000, 784, 10
BATCH_SIZES = (1, 8, 32, 128, 1024)
INPUTS = ("float32", "float64", "uint8")
MODELS = ("softmax", "binary")
LEARNING_RATE = 0.05
L2 = 1e-4

_env = os.environ.get("FASTREG_BACKEND", "").strip().lower()
_loaded = [_env] if _env in ("cython", "numpy") else fastreg.available_backends()
BACKENDS = [b for b in ("numpy", "cython", "cython-2t") if b.split("-")[0] in _loaded]


@functools.cache
def _pixels():
    """(uint8 pixels (N, 784), int labels, source name): real MNIST if found, else synthetic."""
    if os.environ.get("FASTREG_DATA"):
        from fastreg.datasets import load_mnist

        data = load_mnist(download=False)
        X = np.ascontiguousarray(data.X_train.reshape(len(data.X_train), -1))
        return X, np.asarray(data.y_train, dtype=np.intc), "mnist"
    rng = np.random.default_rng(0)
    X = rng.integers(1, 256, size=(N_SYNTH, D), dtype=np.uint8)
    X[rng.random((N_SYNTH, D)) >= 0.19] = 0
    return X, rng.integers(0, K, N_SYNTH).astype(np.intc), "synthetic"


@functools.cache
def _data(model, inputs):
    """(X, y) of one model and input type; X is C-contiguous and never copied by the kernels."""
    X, y, _ = _pixels()
    if model == "binary":
        keep = (y == 2) | (y == 3)
        X, y = np.ascontiguousarray(X[keep]), (y[keep] == 2).astype(np.intc)
    if inputs != "uint8":
        X = X.astype(inputs) / np.dtype(inputs).type(255)
    return X, y


@pytest.mark.parametrize("inputs", INPUTS)
@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("model", MODELS)
def test_epoch(benchmark, model, backend, batch, inputs):
    X, y = _data(model, inputs)
    wdtype = np.float32 if inputs == "uint8" else np.dtype(inputs)
    kernels = fastreg.get_backend(backend.split("-")[0])
    n_threads = 2 if backend == "cython-2t" else 1
    n_outputs = K if model == "softmax" else 1
    epoch = kernels.epoch
    coef, intercept = np.zeros((n_outputs, D), wdtype), np.zeros(n_outputs, wdtype)
    order = np.random.default_rng(1).permutation(len(X))
    lrs = np.full(-(-len(X) // batch), LEARNING_RATE)
    args = (X, y, coef, intercept, order, batch, lrs, L2)
    kwargs = dict(input_scale=1 / 255 if inputs == "uint8" else 1.0, n_threads=n_threads)

    benchmark.group = f"{model} {inputs} batch={batch}"
    benchmark.extra_info.update(
        model=model,
        backend=backend,
        batch=batch,
        inputs=inputs,
        n_threads=n_threads,
        rows=len(X),
        data=_pixels()[2],
    )
    if backend == "numpy" and batch <= 8:
        result = benchmark.pedantic(
            epoch, args=args, kwargs=kwargs, rounds=1 if batch == 1 else 3, iterations=1
        )
    else:
        result = benchmark(epoch, *args, **kwargs)
    if backend.startswith("cython"):
        from fastreg._kernels import _linear

        benchmark.extra_info.update(
            simd=_linear._simd_level(), threads_used=_linear._last_thread_count()
        )
    loss, accuracy = result
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0
