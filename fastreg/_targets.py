"""Class labels: checked, and encoded as the codes the kernels take.

``check_labels``   y as a 1-d array of its original labels (integers, strings, booleans,
                   integral floats); continuous, NaN, infinite or complex targets raise
``check_targets``  labels -> ``(classes, codes)``, codes ``np.intc`` in 0..K-1 (integer
                   labels over a short range without a sort: ``_integer_codes``)

Part of the one validation dialect (:mod:`fastreg._validation` checks arrays and
hyper-parameters); messages follow scikit-learn's wording where its estimator checks look for
it ("Unknown label type", "inconsistent numbers of samples").
"""

import warnings

import numpy as np

from ._sparse_input import is_sparse
from .exceptions import InvalidParameterError, InvalidParameterTypeError


def warn_column_vector(stacklevel=3):
    """scikit-learn's DataConversionWarning (our own class without scikit-learn) for a
    column-vector y; imported only here, so that importing fastreg stays quick."""
    try:
        from sklearn.exceptions import DataConversionWarning as category
    except ImportError:
        category = DataConversionWarning
    warnings.warn(
        "A column-vector y was passed when a 1d array was expected. Please change the shape "
        "of y to (n_samples, ), for example using ravel().",
        category,
        stacklevel=stacklevel + 1,
    )


class DataConversionWarning(UserWarning):
    """Input was converted (scikit-learn's own class is used when it is installed)."""


def check_labels(y, n_samples, *, name="y", warn_column=True):
    """Class labels as a 1-d array of their original values (integers, strings, booleans,
    integral floats); continuous, NaN, infinite or complex targets raise."""
    if y is None:
        raise InvalidParameterError(
            "This classifier requires y to be passed, but the target y is None; pass one "
            "class label per row of X",
            param=name,
        )
    if is_sparse(y):
        raise InvalidParameterTypeError(
            f"{name} is a sparse matrix, and sparse targets are not supported; pass a 1-d array",
            param=name,
        )
    arr = np.asarray(y)
    if arr.dtype.kind == "c":
        raise InvalidParameterError(
            f"Complex data not supported: {name} has dtype {arr.dtype}", param=name
        )
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
        if warn_column:
            warn_column_vector(stacklevel=4)  # above check_labels, check_targets, fit
    if arr.ndim != 1:
        raise InvalidParameterError(
            f"{name} should be a 1d array, got an array of shape {arr.shape} instead; one "
            "label per sample is expected (multi-output targets are not supported)",
            param=name,
        )
    if arr.shape[0] != n_samples:
        raise InvalidParameterError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{n_samples}, {arr.shape[0]}] (X has {n_samples} rows, {name} has "
            f"{arr.shape[0]} labels)",
            param=name,
        )
    values = arr if arr.dtype.kind == "f" else None
    if arr.dtype.kind == "O":
        values = np.asarray([v for v in arr if isinstance(v, (float, np.floating))], np.float64)
    if values is not None and values.size:
        if np.isnan(values).any():
            raise InvalidParameterError(
                f"Input {name} contains NaN; every sample needs a class label", param=name
            )
        if np.isinf(values).any():
            raise InvalidParameterError(
                f"Input {name} contains infinity; every sample needs a finite class label",
                param=name,
            )
        if not np.all(values == np.round(values)):
            raise InvalidParameterError(
                "Unknown label type: continuous. A classifier needs discrete class labels "
                f"(integers, strings or booleans), but {name} holds non-integer numbers; for "
                "a continuous target use a regression model",
                param=name,
            )
    return arr


def check_targets(y, n_samples, classes=None, *, name="y"):
    """Labels ``y`` (one per sample) as ``(classes, codes)``: codes ``np.intc`` 0..K-1 index
    ``classes``. ``classes`` None takes the sorted unique labels (``np.unique``, as
    scikit-learn does); labels absent from a given ``classes`` raise."""
    labels = check_labels(y, n_samples, name=name)
    fast = _integer_codes(labels, classes)
    if fast is not None:
        return fast
    try:
        if classes is None:
            classes, codes = np.unique(labels, return_inverse=True)
            return classes, np.ascontiguousarray(codes.reshape(-1), dtype=np.intc)
        classes = np.asarray(classes)
        codes = np.clip(np.searchsorted(classes, labels), 0, len(classes) - 1)
        unknown = classes[codes] != labels
    except (TypeError, ValueError) as exc:  # strings mixed with numbers, say
        raise InvalidParameterError(
            f"Unknown label type: the labels of {name} cannot be sorted or compared with the "
            f"classes ({exc}); use labels of one type",
            param=name,
        ) from exc
    if np.any(unknown):
        raise InvalidParameterError(
            f"{name} holds labels {np.unique(np.asarray(labels)[unknown]).tolist()} that are "
            f"not among the classes {classes.tolist()}",
            param=name,
        )
    return classes, np.ascontiguousarray(codes, dtype=np.intc)


#: Integer labels spanning at most this many values are encoded by a lookup table.
LOOKUP_SPAN = 1 << 16


def _integer_codes(labels, classes):
    """``(classes, codes)`` of integer ``labels`` in O(n), no sort, or None to take the
    general path (other label types, a span of values over LOOKUP_SPAN, or labels outside
    ``classes``, whose error message the general path words).

    Labels within [lo, hi] go through a table of hi - lo + 1 codes: the classes present
    (``np.bincount``) when ``classes`` is None, else those of ``classes``. The result is
    exactly ``np.unique(labels, return_inverse=True)``'s, or the searchsorted codes: the
    sorted classes of integers are their table order.
    """
    if labels.dtype.kind not in "iu" or labels.size == 0:
        return None
    if classes is not None:
        classes = np.asarray(classes)
        if classes.dtype.kind not in "iu" or classes.ndim != 1 or classes.size == 0:
            return None
    lo, hi = labels.min(), labels.max()
    if int(hi) - int(lo) >= LOOKUP_SPAN:
        return None
    shifted = labels - lo  # in [0, hi - lo]: no overflow in labels' own dtype
    if classes is None:
        present = np.flatnonzero(np.bincount(shifted, minlength=int(hi) - int(lo) + 1))
        if present.size == int(hi) - int(lo) + 1:  # every value in between: codes = y - lo
            return (present + lo).astype(labels.dtype), shifted.astype(np.intc)
        table = np.zeros(int(hi) - int(lo) + 1, dtype=np.intc)
        table[present] = np.arange(present.size, dtype=np.intc)
        return (present + lo).astype(labels.dtype), table[shifted]
    inside = (classes >= lo) & (classes <= hi)
    table = np.full(int(hi) - int(lo) + 1, -1, dtype=np.intc)
    table[(classes[inside] - lo).astype(np.intp)] = np.flatnonzero(inside).astype(np.intc)
    codes = table[shifted]
    if np.any(codes < 0):  # a label that is not a class: the general path says which
        return None
    return classes, codes
