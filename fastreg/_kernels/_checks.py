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
  :mod:`fastreg._validation` (the one dialect): integers >= 1, a real >= 0, a real > 0.
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
        raise TypeError(f"{name} must be a NumPy array, got {type(a).__name__}; "
                        f"pass np.asarray({name})")
    return a


def _floats(a, name, ndim, dtype=None):
    """a is a C-contiguous float32/float64 array of ``ndim`` dimensions (of ``dtype`` if given)."""
    _array(a, name)
    if dtype is None and a.dtype not in _FLOATS:
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {a.dtype}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype} (the dtype of the other float arrays), "
                        f"got {a.dtype}")
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
        raise ValueError(f"y has shape {y.shape} but there are {n_rows} rows: pass one label "
                         "per row")
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
    coef = _floats(coef, "coef", 2)
    if coef.shape[0] < 1:
        raise ValueError(f"coef must be (K, d) with K >= 1 (K = 1: the logistic model), got "
                         f"shape {coef.shape}")
    dtype = coef.dtype
    if not isinstance(intercept, np.ndarray) or intercept.dtype != dtype:
        raise TypeError(f"intercept must be a {dtype} array like coef, got "
                        f"{getattr(intercept, 'dtype', type(intercept).__name__)}")
    _floats(intercept, "intercept", 1, dtype)
    if intercept.shape != (coef.shape[0],):
        raise ValueError(f"coef {coef.shape} takes intercept ({coef.shape[0]},), got "
                         f"{intercept.shape}")
    if writeable and not (coef.flags.writeable and intercept.flags.writeable):
        raise ValueError("coef and intercept must be writeable C-contiguous arrays (they are "
                         "updated in place)")
    X = _array(X, "X")
    if X.ndim != 2 or (X.dtype != dtype and not (allow_uint8 and X.dtype == np.uint8)):
        pixels = " or uint8 pixels" if allow_uint8 else ""
        raise TypeError(f"X must be a 2-d array of dtype {dtype} (the dtype of coef){pixels}, "
                        f"got a {X.ndim}-d {X.dtype} array")
    if X.shape[1] != coef.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features but coef has {coef.shape[1]}")
    if not X.flags.c_contiguous:
        raise ValueError("X must be C-contiguous; pass np.ascontiguousarray(X) once (the "
                         "kernels never copy X)")
    return X, coef, intercept


def check_c_int_range(coef):
    """The compiled kernels' size limit: d and K fit their C int indices (NumPy has none)."""
    K, d = coef.shape
    if d > _C_INT_MAX_D or K > _C_INT_MAX_K:
        raise ValueError(f"{d} features x {K} classes is beyond the compiled kernels (C int "
                         "indices); use the NumPy backend (backend='numpy')")


# --------------------------------------------------------------------------- _linear
def linear_forward(X, coef, intercept, input_scale=1.0, out=None):
    X, coef, intercept = _model(X, coef, intercept, allow_uint8=True)
    input_scale = _scalar("input_scale", input_scale)
    out = _output(out, "out", (X.shape[0], coef.shape[0]), coef.dtype)
    return X, coef, intercept, input_scale, out


def epoch(X, y, coef, intercept, order, batch_size, learning_rates, l2, input_scale=1.0,
          n_threads=1):
    X, coef, intercept = _model(X, coef, intercept, allow_uint8=True, writeable=True)
    y = _labels(y, X.shape[0], coef.shape[0])
    batch_size = _scalar("batch_size", batch_size)
    n_threads = _scalar("n_threads", n_threads)
    l2 = _scalar("l2", l2)
    input_scale = _scalar("input_scale", input_scale)
    order = _array(order, "order")
    if order.dtype.kind not in "iu" or order.ndim != 1:
        raise TypeError(f"order must be a 1-d array of integer row indices, got a {order.ndim}-d "
                        f"{order.dtype} array")
    n = order.shape[0]
    if n == 0:
        raise ValueError("order is empty: an epoch needs at least one row")
    if order.min() < 0 or order.max() >= X.shape[0]:
        raise ValueError(f"order holds row indices outside 0..{X.shape[0] - 1} (X has "
                         f"{X.shape[0]} rows): found {order.min()}..{order.max()}")
    order = np.ascontiguousarray(order, dtype=np.intp)
    lrs = _array(learning_rates, "learning_rates")
    if lrs.dtype.kind not in "iuf" or lrs.ndim != 1:
        raise TypeError(f"learning_rates must be a 1-d array of reals, got a {lrs.ndim}-d "
                        f"{lrs.dtype} array")
    n_batches = -(-n // batch_size)
    if lrs.shape[0] < n_batches:
        raise ValueError(f"learning_rates has {lrs.shape[0]} entries but the epoch has "
                         f"{n_batches} batches; pass one learning rate per batch")
    lrs = np.ascontiguousarray(lrs, dtype=np.float64)
    return X, y, coef, intercept, order, batch_size, lrs, l2, input_scale, n_threads


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


def loss_grad(X, y, coef, intercept, l2, grad_coef=None, grad_intercept=None):
    X, coef, intercept = _model(X, coef, intercept, allow_uint8=False)
    if X.shape[0] == 0:
        raise ValueError("X has no rows: the mean loss needs at least one")
    y = _labels(y, X.shape[0], coef.shape[0])
    l2 = _scalar("l2", l2)
    grad_coef = _output(grad_coef, "grad_coef", coef.shape, coef.dtype)
    grad_intercept = _output(grad_intercept, "grad_intercept", intercept.shape, coef.dtype)
    return X, y, coef, intercept, l2, grad_coef, grad_intercept
