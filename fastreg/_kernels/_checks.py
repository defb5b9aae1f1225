"""The input checks of every kernel, one function per kernel, shared by both backends.

``get_backend`` wraps each kernel as ``kernel(*check(*args, **kwargs))``: a check has its
kernel's exact signature and returns the arguments, in order, that the raw kernel receives.
So the compiled and the NumPy kernels accept and refuse the same inputs, with the same
exception and message, and the raw kernels trust their inputs (``get_backend(name).raw``).

What is checked (wrong types raise TypeError, wrong values ValueError):

* float arrays (X, coef, intercept, logits, outputs) are NumPy arrays of float32 or float64,
  one dtype per call, of the documented shape, C-contiguous (X is never copied: a large X of
  the wrong layout is the caller's to convert once, at the public edge);
* the arrays a kernel writes (outputs, and coef/intercept of ``epoch``) are writeable;
* ``X`` of ``linear_forward``/``epoch`` may also be uint8 (pixels, seen as ``X * input_scale``);
* labels are integers in 0..max(K, 2)-1, one per row; they are passed on as C-contiguous
  ``np.intc``; ``order`` holds row indices of X and is passed on as C-contiguous ``np.intp``;
  ``learning_rates`` is passed on as C-contiguous float64 with one entry per batch at least;
* ``batch_size``, ``n_threads``, ``l2`` and ``input_scale`` are checked by the parameter table of
  :mod:`fastreg._validation` (the one dialect): integers >= 1, a real >= 0, a real > 0;
* ``sample_weight`` (``epoch``, ``loss_grad``) is None or a 1-d real array with one entry per
  row of X, finite and >= 0, with a positive sum over the rows used; ``step_scale``
  (``epoch``) is None or a 1-d real array with one entry per feature, finite and > 0; both are
  passed on as C-contiguous arrays of coef's dtype;
* a sparse ``X`` (the ``sparse_*`` kernels) is a SciPy CSR matrix or array whose data has coef's
  dtype and whose structure (indptr, every stored index) is checked in full: the compiled
  kernels index with it unchecked (``_csr``).
"""

import numpy as np

from ._check_args import (
    FLOATS,
    _array,
    _labels,
    _learning_rates,
    _logits,
    _model,
    _order,
    _output,
    _sample_weight,
    _scalar,
    _step_scale,
    _weights,
)

#: the compiled micro-kernels index features and classes with C ints
_C_INT_MAX_D = 2**31 - 65
_C_INT_MAX_K = 2**31 - 1


def check_c_int_range(coef):
    """The compiled kernels' size limit: d and K fit their C int indices (NumPy has none)."""
    K, d = coef.shape
    if d > _C_INT_MAX_D or K > _C_INT_MAX_K:
        raise ValueError(
            f"{d} features x {K} classes is beyond the compiled kernels (C int "
            "indices); use the NumPy backend (backend='numpy')"
        )


# --------------------------------------------------------------------------- _linear
def linear_forward(X, coef, intercept, input_scale=1.0, out=None):
    X, coef, intercept = _model(X, coef, intercept, allow_uint8=True)
    input_scale = _scalar("input_scale", input_scale)
    out = _output(out, "out", (X.shape[0], coef.shape[0]), coef.dtype)
    return X, coef, intercept, input_scale, out


def epoch(
    X,
    y,
    coef,
    intercept,
    order,
    batch_size,
    learning_rates,
    l2,
    input_scale=1.0,
    n_threads=1,
    sample_weight=None,
    step_scale=None,
):
    X, coef, intercept = _model(X, coef, intercept, allow_uint8=True, writeable=True)
    input_scale = _scalar("input_scale", input_scale)
    y, order, batch_size, lrs, l2, n_threads, sample_weight, step_scale = _epoch_args(
        X.shape[0],
        coef,
        y,
        order,
        batch_size,
        learning_rates,
        l2,
        n_threads,
        sample_weight,
        step_scale,
    )
    return (
        X,
        y,
        coef,
        intercept,
        order,
        batch_size,
        lrs,
        l2,
        input_scale,
        n_threads,
        sample_weight,
        step_scale,
    )


def _epoch_args(
    n_rows, coef, y, order, batch_size, learning_rates, l2, n_threads, sample_weight, step_scale
):
    """The arguments every epoch kernel (dense and sparse) shares, checked in one place."""
    y = _labels(y, n_rows, coef.shape[0])
    batch_size = _scalar("batch_size", batch_size)
    n_threads = _scalar("n_threads", n_threads)
    l2 = _scalar("l2", l2)
    order = _order(order, n_rows)
    lrs = _learning_rates(learning_rates, order.shape[0], batch_size)
    sample_weight = _sample_weight(sample_weight, n_rows, coef.dtype, order)
    step_scale = _step_scale(step_scale, coef.shape[1], coef.dtype)
    return y, order, batch_size, lrs, l2, n_threads, sample_weight, step_scale


# --------------------------------------------------------------------------- _loss
def sigmoid(z, out=None):
    z = _array(z, "z")
    if z.dtype not in FLOATS:
        raise TypeError(f"z must be a float32 or float64 array, got dtype {z.dtype}")
    out = _output(out, "out", z.shape, z.dtype)
    return z, out


def softmax(Z, out=None):
    Z = _logits(Z)
    out = _output(out, "out", Z.shape, Z.dtype)
    return Z, out


def cross_entropy(Z, y, out=None):
    Z = _logits(Z)
    y = _labels(y, Z.shape[0], Z.shape[1])
    out = _output(out, "out", (Z.shape[0],), Z.dtype)
    return Z, y, out


def cross_entropy_grad(Z, y, loss=None, grad=None):
    Z = _logits(Z)
    y = _labels(y, Z.shape[0], Z.shape[1])
    loss = _output(loss, "loss", (Z.shape[0],), Z.dtype)
    grad = _output(grad, "grad", Z.shape, Z.dtype)
    return Z, y, loss, grad


def loss_grad(X, y, coef, intercept, l2, grad_coef=None, grad_intercept=None, sample_weight=None):
    X, coef, intercept = _model(X, coef, intercept, allow_uint8=False)
    if X.shape[0] == 0:
        raise ValueError("X has no rows: the mean loss needs at least one")
    y = _labels(y, X.shape[0], coef.shape[0])
    l2 = _scalar("l2", l2)
    grad_coef = _output(grad_coef, "grad_coef", coef.shape, coef.dtype)
    grad_intercept = _output(grad_intercept, "grad_intercept", intercept.shape, coef.dtype)
    sample_weight = _sample_weight(sample_weight, X.shape[0], coef.dtype)
    return X, y, coef, intercept, l2, grad_coef, grad_intercept, sample_weight


# --------------------------------------------------------------------------- _sparse
_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def _csr(X, coef):
    """X as the sparse kernels read it: a SciPy CSR matrix or array (N, d), data of coef's dtype,
    indices and indptr int32 or int64 (converted to one dtype if they differ, on a copy of X).

    The structure is checked in full, because the compiled kernels trust it to stay inside the
    arrays: indptr has N + 1 entries, starts at 0, never decreases and ends within indices and
    data; every index of a stored entry is in 0..d-1. Indices may be unsorted and repeated
    within a row (duplicates are summed).
    """
    if getattr(X, "format", None) != "csr":
        raise TypeError(
            f"X must be a scipy.sparse CSR matrix or array (X.format == 'csr'), got "
            f"{type(X).__name__}; convert it once with X.tocsr()"
        )
    shape = tuple(X.shape)
    if len(shape) != 2:
        raise ValueError(f"X must be 2-d (N, d), got shape {shape}")
    (N, d), dtype = shape, coef.dtype
    if d != coef.shape[1]:
        raise ValueError(f"X has {d} features but coef has {coef.shape[1]}")
    parts = {"X.data": X.data, "X.indices": X.indices, "X.indptr": X.indptr}
    for name, a in parts.items():
        if _array(a, name).ndim != 1 or not a.flags.c_contiguous:
            raise ValueError(f"{name} must be a 1-d C-contiguous array, got shape {a.shape}")
    data, indices, indptr = parts.values()
    if data.dtype != dtype:
        raise TypeError(
            f"X must hold {dtype} values (the dtype of coef), got {data.dtype}; "
            f"convert it once with X.astype(np.{dtype})"
        )
    if indices.dtype not in _INDEX_DTYPES or indptr.dtype not in _INDEX_DTYPES:
        raise TypeError(
            f"X.indices and X.indptr must be int32 or int64, got {indices.dtype} "
            f"and {indptr.dtype}"
        )
    if indptr.shape[0] != N + 1:
        raise ValueError(
            f"X is not a valid CSR matrix: indptr has {indptr.shape[0]} entries "
            f"for {N} rows (N + 1 = {N + 1} expected)"
        )
    nnz = int(indptr[-1])
    if (
        indptr[0] != 0
        or nnz > min(indices.shape[0], data.shape[0])
        or (N and (np.diff(indptr) < 0).any())
    ):
        raise ValueError(
            f"X is not a valid CSR matrix: indptr must rise from 0 to at most the "
            f"{min(indices.shape[0], data.shape[0])} stored entries, never "
            f"decreasing (found {indptr[0]}..{nnz})"
        )
    if nnz and (indices[:nnz].min() < 0 or indices[:nnz].max() >= d):
        raise ValueError(
            f"X is not a valid CSR matrix: column indices outside 0..{d - 1} "
            f"(found {indices[:nnz].min()}..{indices[:nnz].max()})"
        )
    if indices.dtype != indptr.dtype:  # one index type per call
        X = X.copy()
        X.indices, X.indptr = indices.astype(np.int64), indptr.astype(np.int64)
    return X


def sparse_linear_forward(X, coef, intercept, out=None):
    coef, intercept = _weights(coef, intercept, writeable=False)
    X = _csr(X, coef)
    out = _output(out, "out", (X.shape[0], coef.shape[0]), coef.dtype)
    return X, coef, intercept, out


def sparse_epoch(
    X,
    y,
    coef,
    intercept,
    order,
    batch_size,
    learning_rates,
    l2,
    n_threads=1,
    sample_weight=None,
    step_scale=None,
):
    coef, intercept = _weights(coef, intercept, writeable=True)
    X = _csr(X, coef)
    y, order, batch_size, lrs, l2, n_threads, sample_weight, step_scale = _epoch_args(
        X.shape[0],
        coef,
        y,
        order,
        batch_size,
        learning_rates,
        l2,
        n_threads,
        sample_weight,
        step_scale,
    )
    return (
        X,
        y,
        coef,
        intercept,
        order,
        batch_size,
        lrs,
        l2,
        n_threads,
        sample_weight,
        step_scale,
    )
