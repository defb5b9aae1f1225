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

from dataclasses import replace

import numpy as np

from .._validation import PARAMETERS, check_value

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
#: the compiled micro-kernels index features and classes with C ints
_C_INT_MAX_D = 2**31 - 65
_C_INT_MAX_K = 2**31 - 1


def _array(a, name):
    if not isinstance(a, np.ndarray):
        raise TypeError(
            f"{name} must be a NumPy array, got {type(a).__name__}; pass np.asarray({name})"
        )
    return a


def _floats(a, name, ndim, dtype=None):
    """a is a C-contiguous float32/float64 array of ``ndim`` dimensions (of ``dtype`` if given)."""
    _array(a, name)
    if dtype is None and a.dtype not in _FLOATS:
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {a.dtype}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(
            f"{name} must have dtype {dtype} (the dtype of the other float arrays), got {a.dtype}"
        )
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array, got shape {a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous; pass np.ascontiguousarray({name})")
    return a


def _output(out, name, shape, dtype):
    """None, or a writeable C-contiguous array of ``shape`` and ``dtype`` to write into."""
    if out is None:
        return None
    _floats(out, name, len(shape), dtype)
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {out.shape}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only: pass a writeable array (or None)")
    return out


def _scalar(name, value):
    """A scalar argument checked by the one dialect: the parameter table's entry for ``name``
    (``batch_size``, ``n_threads`` >= 1; ``l2`` >= 0; ``input_scale`` > 0, never None here)."""
    return check_value(replace(PARAMETERS[name], none=False), name, value)


def _labels(y, n_rows, K):
    """y as C-contiguous np.intc: one integer label per row, each in 0..max(K, 2)-1."""
    y = _array(y, "y")
    if y.dtype.kind not in "iub":
        raise TypeError(f"y must hold integer class indices, got dtype {y.dtype}")
    if y.ndim != 1 or y.shape[0] != n_rows:
        raise ValueError(
            f"y has shape {y.shape} but there are {n_rows} rows: pass one label per row"
        )
    n_classes = max(K, 2)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        what = "0/1 (K = 1, the logistic model)" if K == 1 else f"0..{n_classes - 1}"
        raise ValueError(f"y holds labels outside {what}: found {y.min()}..{y.max()}")
    return np.ascontiguousarray(y, dtype=np.intc)


def _logits(Z, name="Z"):
    Z = _floats(Z, name, 2)
    if Z.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column (K >= 1), got shape {Z.shape}")
    return Z


def _model(X, coef, intercept, *, allow_uint8, writeable=False):
    """coef (K, d) float, intercept (K,) of its dtype, X (N, d) of its dtype (or uint8)."""
    coef, intercept = _weights(coef, intercept, writeable)
    dtype = coef.dtype
    X = _array(X, "X")
    if X.ndim != 2 or (X.dtype != dtype and not (allow_uint8 and X.dtype == np.uint8)):
        pixels = " or uint8 pixels" if allow_uint8 else ""
        raise TypeError(
            f"X must be a 2-d array of dtype {dtype} (the dtype of coef){pixels}, "
            f"got a {X.ndim}-d {X.dtype} array"
        )
    if X.shape[1] != coef.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features but coef has {coef.shape[1]}")
    if not X.flags.c_contiguous:
        raise ValueError(
            "X must be C-contiguous; pass np.ascontiguousarray(X) once (the kernels never copy X)"
        )
    return X, coef, intercept


def _weights(coef, intercept, writeable):
    """coef (K, d) float32/float64 and intercept (K,) of its dtype (writeable when asked)."""
    coef = _floats(coef, "coef", 2)
    if coef.shape[0] < 1:
        raise ValueError(
            f"coef must be (K, d) with K >= 1 (K = 1: the logistic model), got shape {coef.shape}"
        )
    dtype = coef.dtype
    if not isinstance(intercept, np.ndarray) or intercept.dtype != dtype:
        raise TypeError(
            f"intercept must be a {dtype} array like coef, got "
            f"{getattr(intercept, 'dtype', type(intercept).__name__)}"
        )
    _floats(intercept, "intercept", 1, dtype)
    if intercept.shape != (coef.shape[0],):
        raise ValueError(
            f"coef {coef.shape} takes intercept ({coef.shape[0]},), got {intercept.shape}"
        )
    if writeable and not (coef.flags.writeable and intercept.flags.writeable):
        raise ValueError(
            "coef and intercept must be writeable C-contiguous arrays (they are updated in place)"
        )
    return coef, intercept


def check_c_int_range(coef):
    """The compiled kernels' size limit: d and K fit their C int indices (NumPy has none)."""
    K, d = coef.shape
    if d > _C_INT_MAX_D or K > _C_INT_MAX_K:
        raise ValueError(
            f"{d} features x {K} classes is beyond the compiled kernels (C int "
            "indices); use the NumPy backend (backend='numpy')"
        )


def _reals(a, name, length, what, dtype):
    """A 1-d real array of ``length`` entries (one per ``what``) as C-contiguous ``dtype``,
    each finite (and then the caller checks its sign)."""
    a = _array(a, name)
    if a.dtype.kind not in "iuf" or a.ndim != 1:
        raise TypeError(
            f"{name} must be None or a 1-d array of reals, got a {a.ndim}-d {a.dtype} array"
        )
    if a.shape[0] != length:
        raise ValueError(
            f"{name} has {a.shape[0]} entries but there are {length} {what}s: pass one per {what}"
        )
    with np.errstate(over="ignore"):  # an overflow to inf is reported just below
        a = np.ascontiguousarray(a, dtype=dtype)
    if not np.isfinite(a).all():
        raise ValueError(
            f"{name} holds values that are not finite in {dtype} (nan, inf, or "
            f"too large); pass finite {name}"
        )
    return a


def _sample_weight(sample_weight, n_rows, dtype, rows=None):
    """None, or one finite weight >= 0 per row of X (C-contiguous ``dtype``) whose sum over
    ``rows`` (all rows when None) is positive."""
    if sample_weight is None:
        return None
    v = _reals(sample_weight, "sample_weight", n_rows, "row of X", dtype)
    if v.size and v.min() < 0:
        raise ValueError(f"sample_weight holds negative values (min {v.min()}); pass weights >= 0")
    used = v if rows is None else v[rows]
    if not used.sum(dtype=np.float64) > 0:
        where = "" if rows is None else " of the rows in order"
        raise ValueError(
            f"the sample weights{where} are all zero: the weighted mean loss "
            "needs a positive weight sum; give some rows a positive weight"
        )
    return v


def _step_scale(step_scale, d, dtype):
    """None, or one finite factor > 0 per feature (C-contiguous ``dtype``)."""
    if step_scale is None:
        return None
    p = _reals(step_scale, "step_scale", d, "feature", dtype)
    if p.size and not p.min() > 0:
        raise ValueError(
            f"step_scale holds values <= 0 (min {p.min()}); pass factors > 0 "
            "(1 leaves a feature's step as it is)"
        )
    return p


def _order(order, n_rows):
    """The rows of an epoch: a non-empty 1-d array of row indices of X, as C-contiguous intp."""
    order = _array(order, "order")
    if order.dtype.kind not in "iu" or order.ndim != 1:
        raise TypeError(
            f"order must be a 1-d array of integer row indices, got a {order.ndim}-d "
            f"{order.dtype} array"
        )
    if order.shape[0] == 0:
        raise ValueError("order is empty: an epoch needs at least one row")
    if order.min() < 0 or order.max() >= n_rows:
        raise ValueError(
            f"order holds row indices outside 0..{n_rows - 1} (X has "
            f"{n_rows} rows): found {order.min()}..{order.max()}"
        )
    return np.ascontiguousarray(order, dtype=np.intp)


def _learning_rates(learning_rates, n, batch_size):
    """One real learning rate per batch of an epoch over n rows at least, as C-contiguous
    float64."""
    lrs = _array(learning_rates, "learning_rates")
    if lrs.dtype.kind not in "iuf" or lrs.ndim != 1:
        raise TypeError(
            f"learning_rates must be a 1-d array of reals, got a {lrs.ndim}-d {lrs.dtype} array"
        )
    n_batches = -(-n // batch_size)
    if lrs.shape[0] < n_batches:
        raise ValueError(
            f"learning_rates has {lrs.shape[0]} entries but the epoch has "
            f"{n_batches} batches; pass one learning rate per batch"
        )
    return np.ascontiguousarray(lrs, dtype=np.float64)


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
    if z.dtype not in _FLOATS:
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
