"""The argument checks the kernel checks of :mod:`._checks` are made of: one function per kind
of argument (arrays, float arrays, outputs, scalars from the parameter table, labels, logits,
the model's X / coef / intercept, sample weights, step scales, row orders, learning rates).

Each raises TypeError for a wrong type and ValueError for a wrong value, with a message that
names the argument and what to pass instead, and returns the argument as the raw kernels
take it (C-contiguous, of the dtype they need). The rules they enforce are listed once, in
:mod:`._checks`' docstring.
"""

from dataclasses import replace

import numpy as np

from .._validation import PARAMETERS, check_value

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _array(a, name):
    """a is a NumPy array (no conversion: the kernels never copy their inputs)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(
            f"{name} must be a NumPy array, got {type(a).__name__}; pass np.asarray({name})"
        )
    return a


def _floats(a, name, ndim, dtype=None):
    """a is a C-contiguous float32/float64 array of ``ndim`` dimensions (of ``dtype`` if given)."""
    _array(a, name)
    if dtype is None and a.dtype not in FLOATS:
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
