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

import argparse
import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._sparse_input import as_csr, is_sparse
from .exceptions import InvalidParameterError, InvalidParameterTypeError

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
SCHEDULE_NAMES = ("constant", "step", "exponential", "inverse", "cosine")
#: The backend names, listed here once ("auto": FASTREG_BACKEND, else the compiled backend when
#: built, else NumPy; see fastreg._kernels).
BACKEND_NAMES = ("auto", "cython", "numpy")
#: Elements per block of the exact finiteness count (512 KiB of float64).
FINITE_CHUNK = 1 << 16


# --------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Param:
    """How one hyper-parameter is checked.

    kind     "real", "int", "bool", "choice", "dtype", "random_state" or "class_weight"
             (None, "balanced" or a dict {label: weight >= 0}; the labels are checked
             against the classes at fit time, :mod:`fastreg._sample_weight`)
    low/high bounds of a real or int (None: unbounded); ``closed`` says which belong to the
             range: "both", "left", "right" or "neither" (scikit-learn's ``Interval``)
    choices  the allowed strings of a "choice"; of a "real" or "int", strings allowed besides
             the numbers (learning_rate's "auto")
    none     None is allowed; ``callable``: a callable is allowed (lr_schedule)
    flag     the command-line option that sets it, or None (for a bool: the switch that
             turns it off, e.g. "--no-shuffle")
    """

    kind: str
    low: float | None = None
    high: float | None = None
    closed: str = "both"
    choices: tuple = ()
    none: bool = False
    callable: bool = False
    flag: str | None = None
    allow_bool: bool = False  # an "int" that also takes True/False as 1/0 (verbose)

    def describe(self, with_none=True):
        """What a valid value is, in words ("a real number > 0")."""
        if self.kind in ("real", "int"):
            what = "a real number" if self.kind == "real" else "an integer"
            lo_in, hi_in = self.closed in ("both", "left"), self.closed in ("both", "right")
            if self.low is not None and self.high is not None:
                what += (
                    f" in {'[' if lo_in else '('}{_num(self.low)}, "
                    f"{_num(self.high)}{']' if hi_in else ')'}"
                )
            elif self.low is not None:
                what += f" {'>=' if lo_in else '>'} {_num(self.low)}"
            elif self.high is not None:
                what += f" {'<=' if hi_in else '<'} {_num(self.high)}"
            elif self.kind == "real":
                what = "a finite real number"
            what += "".join(f" or {c!r}" for c in self.choices)
        elif self.kind == "bool":
            what = "True or False"
        elif self.kind == "choice":
            what = "one of " + ", ".join(repr(c) for c in self.choices)
            if self.callable:
                what += ", or a callable of the step count"
        elif self.kind == "dtype":
            return "None, 'float32' or 'float64'" if with_none else "'float32' or 'float64'"
        elif self.kind == "class_weight":
            what = "'balanced' or a dict {class label: weight >= 0}"
            return f"None, {what}" if with_none else what
        else:  # random_state
            what = (
                "an int >= 0"
                if not with_none
                else "None, an int >= 0, or a numpy Generator/RandomState/SeedSequence"
            )
            return what
        return f"None or {what}" if self.none and with_none else what


def _num(value):
    return str(int(value)) if float(value).is_integer() else str(value)


PARAMETERS = {
    # "auto": per-feature steps from the data (fastreg._training.step_size)
    "learning_rate": Param("real", 0, None, "neither", choices=("auto",), flag="--lr"),
    "batch_size": Param("int", 1, flag="--batch-size"),
    "max_epochs": Param("int", 1, flag="--epochs"),
    "l2": Param("real", 0, flag="--l2"),
    "lr_schedule": Param("choice", choices=SCHEDULE_NAMES, callable=True, flag="--lr-schedule"),
    # decay's range depends on the schedule: make_schedule checks that cross-parameter rule
    "lr_decay": Param("real", flag="--lr-decay"),
    "lr_decay_steps": Param("int", 1, none=True, flag="--lr-decay-steps"),
    "early_stopping": Param("bool", flag="--no-early-stopping"),
    "validation_fraction": Param("real", 0, 1, "neither", flag="--val-fraction"),
    "patience": Param("int", 1, flag="--patience"),
    "min_delta": Param("real", 0, flag="--min-delta"),
    "validation_interval": Param("int", 1, flag="--validation-interval"),
    "shuffle": Param("bool", flag="--no-shuffle"),
    "random_state": Param("random_state", none=True, flag="--seed"),
    "warm_start": Param("bool"),
    "backend": Param("choice", choices=BACKEND_NAMES, flag="--backend"),
    "dtype": Param("dtype", none=True, flag="--dtype"),
    "input_scale": Param("real", 0, None, "neither", none=True),
    "n_threads": Param("int", 1, flag="--threads"),
    "verbose": Param("int", 0, allow_bool=True),
    "class_weight": Param("class_weight", none=True),
}


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


def check_params(params):
    """A dict of every entry of ``params`` checked and normalised by :func:`check_param`."""
    return {name: check_param(name, value) for name, value in params.items()}


def cli_flag(name):
    """The command-line option of the parameter ``name`` ("--lr"), or None if it has none.

    A KeyError for names that are not parameters of the estimators."""
    return PARAMETERS[name].flag


def argparse_type(name):
    """An argparse ``type=`` callable for the parameter ``name``: parses the text and applies
    :func:`check_param`; raises ``argparse.ArgumentTypeError`` in the table's words."""
    spec = PARAMETERS[name]
    parse = {"real": float, "int": int, "random_state": int}.get(spec.kind, str)

    def convert(text):
        try:
            value = text if text in spec.choices else parse(text)
            if spec.kind == "bool":
                value = {"true": True, "false": False}.get(text.strip().lower(), text)
            return check_param(name, value)
        except (ValueError, TypeError):  # InvalidParameterError is a ValueError
            raise argparse.ArgumentTypeError(
                f"must be {spec.describe(with_none=False)}, got {text!r}"
            ) from None

    convert.__name__ = name  # argparse names the type in some of its messages
    return convert


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
