"""The one validation dialect: arrays and the table of hyper-parameters.

Everything a user passes in is checked here, once, at the public edge, so that the training
code and the kernels can trust their inputs:

``check_array``    X (and weight arrays): numeric, 2-d (or 1-d where asked), non-empty,
                   C-contiguous, finite (training X: by the epoch kernel, see there);
                   float32/float64 kept, uint8 passed through unscaled;
                   with ``accept_sparse``, scipy.sparse input as CSR (``_sparse_input``)
(class labels: :mod:`fastreg._targets`, ``check_targets`` -> ``(classes, codes)``)
``PARAMETERS``     one declarative entry per hyper-parameter of the estimators (kind, range,
                   choices, None allowed, command-line flag), in the spirit of scikit-learn's
                   ``_parameter_constraints``; ``check_param`` / ``check_params`` apply it, and
                   ``argparse_type`` / ``cli_flag`` give the command line the same checks.

Messages follow scikit-learn's wording where its estimator checks look for it ("Reshape your
data", "0 feature(s)", "Unknown label type", ...). Bad arguments raise
:class:`fastreg.exceptions.InvalidParameterError` (a ``ValueError``) with ``param`` set; a value
of the wrong type raises its subclass ``InvalidParameterTypeError``, also a ``TypeError``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

# the table (numpy-free, so the command line's --help needs no NumPy) lives in _parameters:
# re-exported here, where every check built on it is
from ._parameters import (  # noqa: F401
    BACKEND_NAMES,
    DTYPE_NAMES,
    PARAMETERS,
    SCHEDULE_NAMES,
    Param,
    cli_flag,
)
from ._parameters import argparse_type as _table_type
from ._sparse_input import as_csr, is_sparse
from .exceptions import InvalidParameterError, InvalidParameterTypeError

FLOAT_DTYPES = tuple(np.dtype(name) for name in DTYPE_NAMES)
#: Elements per block of the exact finiteness count (512 KiB of float64).
FINITE_CHUNK = 1 << 16


def _fail(name, spec, value, *, wrong_type=False):
    cls = InvalidParameterTypeError if wrong_type else InvalidParameterError
    return cls(f"{name} must be {spec.describe()}, got {value!r}", param=name)


def check_value(spec, name, value):
    """``value`` checked against the :class:`Param` ``spec`` and normalised (float, int, bool,
    np.dtype, or as given); raises InvalidParameterError(param=name)."""
    if value is None and spec.none:
        return None
    kind = spec.kind
    if spec.allow_bool and isinstance(value, (bool, np.bool_)):
        value = int(value)
    if kind in ("real", "int") and isinstance(value, str) and value in spec.choices:
        return value
    if kind in ("real", "int"):
        base = numbers.Real if kind == "real" else numbers.Integral
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, base):
            raise _fail(name, spec, value, wrong_type=True)
        value = float(value) if kind == "real" else int(value)
        if not math.isfinite(value):
            raise _fail(name, spec, value)
        lo_in, hi_in = spec.closed in ("both", "left"), spec.closed in ("both", "right")
        if spec.low is not None and (value < spec.low or (not lo_in and value == spec.low)):
            raise _fail(name, spec, value)
        if spec.high is not None and (value > spec.high or (not hi_in and value == spec.high)):
            raise _fail(name, spec, value)
        return value
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise _fail(name, spec, value, wrong_type=True)
        return bool(value)
    if kind == "choice":
        if spec.callable and callable(value):
            return value
        if not isinstance(value, str) or value not in spec.choices:
            raise _fail(name, spec, value)
        return value
    if kind == "dtype":
        try:
            dtype = np.dtype(value)
        except TypeError:
            dtype = None
        if dtype not in FLOAT_DTYPES:
            raise _fail(name, spec, value)
        return dtype
    if kind == "class_weight":
        return _class_weight(spec, name, value)
    # random_state: validated here, turned into a Generator by the training code
    if isinstance(value, (np.random.Generator, np.random.RandomState, np.random.SeedSequence)):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
        raise _fail(name, spec, value)
    return int(value)


def _class_weight(spec, name, value):
    """ "balanced", or a dict with finite weights >= 0 (a new dict of floats)."""
    if isinstance(value, str) and value == "balanced":
        return value
    if not isinstance(value, dict):
        raise _fail(name, spec, value, wrong_type=not isinstance(value, str))
    weights = {}
    for label, weight in value.items():
        if (
            isinstance(weight, (bool, np.bool_))
            or not isinstance(weight, numbers.Real)
            or not math.isfinite(weight)
            or weight < 0
        ):
            raise InvalidParameterError(
                f"{name} must be {spec.describe()}, got the weight {weight!r} for the class "
                f"{label!r}",
                param=name,
            )
        weights[label] = float(weight)
    return weights


def check_param(name, value):
    """``value`` of the hyper-parameter ``name`` checked against :data:`PARAMETERS`."""
    return check_value(PARAMETERS[name], name, value)


def argparse_type(name):
    """An argparse ``type=`` callable for the parameter ``name`` that applies
    :func:`check_param` (:func:`fastreg._parameters.argparse_type`)."""
    return _table_type(name, check_param)


def check_params(params):
    """A dict of every entry of ``params`` checked and normalised by :func:`check_param`."""
    return {name: check_param(name, value) for name, value in params.items()}


# --------------------------------------------------------------------------- arrays
def check_finite(arr, name="X"):
    """Raise if the float array ``arr`` holds NaN or +-inf, without a full-size mask.

    A finite sum proves every element finite (NaN and inf propagate through a sum), so the
    common case costs one pass and no temporary; only when the sum is not finite (bad values,
    or finite values whose sum overflows) are blocks of rows counted exactly.
    """
    if arr.dtype.kind != "f" or arr.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(arr)):
            return
    rows = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    step = max(1, FINITE_CHUNK // max(1, rows.shape[1]))
    bad = sum(
        int(b.size - np.count_nonzero(np.isfinite(b)))
        for b in (rows[i : i + step] for i in range(0, rows.shape[0], step))
    )
    if bad:
        raise InvalidParameterError(
            f"Input {name} contains NaN or infinity ({bad} value(s)); remove or impute them "
            "before calling this method",
            param=name,
        )


def _check_kind(dtype, name):
    """Refuse complex and non-numeric dtypes (objects are converted by the caller)."""
    if dtype.kind == "c":
        raise InvalidParameterError(
            f"Complex data not supported: {name} has dtype {dtype}", param=name
        )
    if dtype.kind not in "biufO":
        raise InvalidParameterTypeError(
            f"{name} has dtype {dtype}; pass a real-valued numeric array (float32 or "
            "float64, or integers such as uint8 pixels)",
            param=name,
        )


def _check_shape(arr, name, ndim):
    """``arr`` (dense or sparse) has ``ndim`` dimensions, rows and (2-d) columns."""
    shape = arr.shape
    if ndim == 1 and len(shape) != 1:
        raise InvalidParameterError(f"{name} must be 1-d, got shape {shape}", param=name)
    if len(shape) == 0:
        raise InvalidParameterError(
            f"Expected 2D array, got scalar array instead: {name}={arr!r}. Reshape your data "
            "to (n_samples, n_features)",
            param=name,
        )
    if len(shape) == 1 and ndim == 2:
        raise InvalidParameterError(
            f"Expected 2D array, got 1D array instead ({name} of shape {shape}). Reshape "
            "your data either using array.reshape(-1, 1) if your data has a single feature or "
            "array.reshape(1, -1) if it contains a single sample.",
            param=name,
        )
    if len(shape) > 2:
        raise InvalidParameterError(
            f"Found array with dim {len(shape)}. {name} of shape {shape} must be 2-d "
            "(n_samples, n_features); flatten images with X.reshape(len(X), -1)",
            param=name,
        )
    if shape[0] == 0:
        raise InvalidParameterError(
            f"Found array with 0 sample(s) (shape={shape}) while a minimum of 1 is required.",
            param=name,
        )
    if ndim == 2 and shape[1] == 0:
        raise InvalidParameterError(
            f"Found array with 0 feature(s) (shape={shape}) while a minimum of 1 is required.",
            param=name,
        )


def check_array(
    X, name="X", *, dtype=None, allow_uint8=True, ndim=2, accept_sparse=False, finite=True
):
    """``X`` as a finite, non-empty, C-contiguous array of ``ndim`` (2 or 1) dimensions.

    uint8 arrays (pixels) are returned unchanged with ``allow_uint8`` whatever ``dtype``: the
    kernels convert and scale them row by row, so no float copy is made. Float arrays keep
    their dtype when ``dtype`` is None, other numeric arrays become float64; an explicit
    ``dtype`` converts. A C-contiguous input of the right dtype is not copied.

    With ``accept_sparse`` a scipy.sparse matrix or array of any format is returned as CSR
    (:func:`fastreg._sparse_input.as_csr`: converted once, never densified; float32/float64
    values kept, other numbers become float64, uint8 included); else it is refused.

    ``finite=False`` leaves out the finiteness pass over a dense X (sparse values are always
    checked: they are few). Only the training paths pass it: every training row then reaches
    an epoch kernel, which reads each value anyway and stops at a non-finite batch, and
    :func:`fastreg._training.trainer.Trainer` turns that stop into this function's error
    (:func:`check_finite`) with the model unchanged. At MNIST size the pass costs a third of
    a compiled epoch.
    """
    if is_sparse(X):
        if not accept_sparse:
            raise InvalidParameterTypeError(
                f"{name} is a sparse matrix, and sparse input is not supported here: pass a "
                "dense array (X.toarray())",
                param=name,
            )
        _check_kind(X.dtype, name)
        _check_shape(X, name, 2)
        X = as_csr(X, dtype)
        check_finite(X.data, name)
        return X
    try:
        arr = np.asarray(X)
    except ValueError as exc:  # ragged nested lists
        raise InvalidParameterError(
            f"{name} could not be converted to an array (rows of different lengths?): {exc}",
            param=name,
        ) from exc
    _check_kind(arr.dtype, name)
    if arr.dtype.kind == "O":
        arr = arr.astype(np.float64)  # TypeError for values that are not numbers
    _check_shape(arr, name, ndim)
    if allow_uint8 and arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if dtype is None:
        dtype = arr.dtype if arr.dtype in FLOAT_DTYPES else np.float64
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if finite:
        check_finite(arr, name)
    return arr
