"""Checks and conversions at the public edge: done once here, so that kernels can trust inputs.

Every error names the argument, says what was wrong and what to do about it. Conversions make
arrays C-contiguous with the float dtype the computation runs in; float32 stays float32.
"""
import numbers

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def compute_dtype(*arrays):
    """The float dtype a computation on ``arrays`` runs in.

    float32 when every floating input is float32, float64 otherwise; integer and boolean
    inputs (pixels, say) do not force float64 on float32 weights but alone give float64.
    """
    floats = [np.asarray(a).dtype for a in arrays if np.asarray(a).dtype.kind == "f"]
    if floats and all(dt == np.float32 for dt in floats):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def as_numeric(a, name):
    try:
        arr = np.asarray(a)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(
            f"{name} could not be converted to an array (rows of different lengths?): {exc}"
        ) from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} has dtype {arr.dtype}; pass a real-valued numeric array "
            "(float32 or float64, or integers such as uint8 pixels)"
        )
    return arr


def check_finite(arr, name):
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); remove or impute them before fitting"
        )


def check_matrix(X, name="X", dtype=None, allow_uint8=False):
    """Return ``X`` as a finite, non-empty, C-contiguous 2-d array.

    ``dtype`` None keeps float32/float64 as they are (other types become float64); with
    ``allow_uint8`` a uint8 array is returned unchanged (the kernels scale it themselves).
    """
    arr = as_numeric(X, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-d (n_samples, n_features), got shape {arr.shape}; "
            "reshape a single sample with x.reshape(1, -1) or flatten images with X.reshape(len(X), -1)"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}): at least one sample and one feature are needed")
    if allow_uint8 and arr.dtype == np.uint8 and dtype is None:
        return np.ascontiguousarray(arr)
    if dtype is None:
        dtype = arr.dtype if arr.dtype in FLOAT_DTYPES else np.float64
    arr = np.ascontiguousarray(arr, dtype=dtype)
    check_finite(arr, name)
    return arr


def check_class_indices(y, n_samples, n_classes, name="y"):
    """Return labels ``y`` as a C-contiguous ``np.intc`` vector of values in 0..n_classes-1."""
    arr = as_numeric(y, name)
    if arr.ndim != 1:
        arr_sq = np.squeeze(arr)
        if arr_sq.ndim != 1 or arr_sq.shape[0] != n_samples:
            raise ValueError(f"{name} must be 1-d with one label per sample, got shape {arr.shape}")
        arr = arr_sq
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {arr.shape[0]} labels but X has {n_samples} samples; pass one label per row of X"
        )
    check_finite(arr, name)
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise ValueError(f"{name} must hold integer class labels, got non-integer values")
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(
            f"{name} holds labels in [{arr.min()}, {arr.max()}] but must lie in 0..{n_classes - 1} "
            f"for a model with {n_classes} classes"
            + ("; logistic regression takes labels 0 and 1" if n_classes == 2 else "")
        )
    return np.ascontiguousarray(arr, dtype=np.intc)


def check_scalar(value, name, *, min_value=None, max_value=None, include_min=True,
                 include_max=True, integer=False):
    """Return ``value`` as a Python float/int after checking its type and bounds."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an integer' if integer else 'a real number'}, got {value!r}")
    value = int(value) if integer else float(value)
    if not integer and not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    low_bad = min_value is not None and (value < min_value or (not include_min and value == min_value))
    high_bad = max_value is not None and (value > max_value or (not include_max and value == max_value))
    if low_bad or high_bad:
        lo = "-inf" if min_value is None else min_value
        hi = "inf" if max_value is None else max_value
        rng = f"{'[' if include_min else '('}{lo}, {hi}{']' if include_max else ')'}"
        raise ValueError(f"{name} must lie in {rng}, got {value}")
    return value


# --------------------------------------------------------------------------- estimator inputs
# The helpers below serve the estimators (fastreg/estimators.py). Their messages follow
# scikit-learn's wording where its estimator checks look for it ("Reshape your data",
# "0 feature(s)", "Unknown label type", ...), so that code written against scikit-learn
# classifiers catches the same errors.

#: Elements per block of the chunked finiteness check (512 KiB of float64).
FINITE_CHUNK = 1 << 16


def check_finite_chunked(arr, name="X"):
    """Raise ValueError if the float array ``arr`` holds NaN or +-inf, without a full-size mask.

    A finite sum proves every element finite (NaN and inf propagate through a sum), so the
    common case costs one pass and no temporary; only when the sum is not finite (bad values,
    or finite values whose sum overflows) are blocks of rows checked exactly.
    """
    if arr.dtype.kind != "f" or arr.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(arr)):
            return
    rows = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    step = max(1, FINITE_CHUNK // max(1, rows.shape[1]))
    bad = 0
    for start in range(0, rows.shape[0], step):
        block = rows[start:start + step]
        bad += int(block.size - np.count_nonzero(np.isfinite(block)))
    if bad:
        raise ValueError(
            f"Input {name} contains NaN or infinity ({bad} value(s)); remove or impute them "
            "before calling this method"
        )


def _is_sparse(obj):
    return hasattr(obj, "tocsr") and hasattr(obj, "nnz")


def check_features(X, name="X", dtype=None):
    """Return ``X`` as a finite, non-empty, C-contiguous 2-d array for an estimator.

    uint8 arrays (pixels) are returned unchanged whatever ``dtype``: the kernels convert and
    scale them row by row, so no float copy of the data set is made. Float arrays keep their
    dtype when ``dtype`` is None, other numeric arrays become float64; an explicit ``dtype``
    converts every non-uint8 input. A C-contiguous input of the right dtype is not copied.
    """
    if _is_sparse(X):
        raise TypeError(
            f"{name} is a sparse matrix, and sparse input is not supported: pass a dense array "
            "(X.toarray()) or use a solver for sparse data"
        )
    arr = np.asarray(X)
    if arr.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {arr.dtype}")
    if arr.dtype.kind == "O":
        arr = arr.astype(np.float64)  # TypeError for values that are not numbers
    elif arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} has dtype {arr.dtype}; pass a real-valued numeric array "
            "(float32 or float64, or integers such as uint8 pixels)"
        )
    if arr.ndim == 0:
        raise ValueError(
            f"Expected 2D array, got scalar array instead: {name}={arr!r}. Reshape your data "
            "to (n_samples, n_features)"
        )
    if arr.ndim == 1:
        raise ValueError(
            f"Expected 2D array, got 1D array instead ({name} of shape {arr.shape}). Reshape "
            "your data either using array.reshape(-1, 1) if your data has a single feature or "
            "array.reshape(1, -1) if it contains a single sample."
        )
    if arr.ndim > 2:
        raise ValueError(
            f"Found array with dim {arr.ndim}. {name} of shape {arr.shape} must be 2-d "
            "(n_samples, n_features); flatten images with X.reshape(len(X), -1)"
        )
    if arr.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={arr.shape}) while a minimum of 1 is required."
        )
    if arr.shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required."
        )
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if dtype is None:
        dtype = arr.dtype if arr.dtype in FLOAT_DTYPES else np.float64
    arr = np.ascontiguousarray(arr, dtype=dtype)
    check_finite_chunked(arr, f"{name}")
    return arr


def check_labels(y, n_samples):
    """Validate classification targets; return ``(labels_1d, was_column_vector)``.

    ``labels_1d`` is a 1-d array of the original label values (any dtype: integers, strings,
    booleans, integral floats). Continuous, NaN, infinite or complex targets raise ValueError.
    """
    if y is None:
        raise ValueError(
            "This classifier requires y to be passed, but the target y is None; pass one "
            "class label per row of X"
        )
    if _is_sparse(y):
        raise TypeError(
            "y is a sparse matrix, and sparse targets are not supported; pass a 1-d array"
        )
    arr = np.asarray(y)
    if arr.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: y has dtype {arr.dtype}")
    column = arr.ndim == 2 and arr.shape[1] == 1
    if column:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(
            f"y should be a 1d array, got an array of shape {arr.shape} instead; one label per "
            "sample is expected (multi-output targets are not supported)"
        )
    if arr.shape[0] != n_samples:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{n_samples}, {arr.shape[0]}] (X has {n_samples} rows, y has {arr.shape[0]} labels)"
        )
    if arr.dtype.kind == "f":
        values = arr
    elif arr.dtype.kind == "O":
        floats = [v for v in arr if isinstance(v, (float, np.floating))]
        values = np.asarray(floats, dtype=np.float64)
    else:
        values = None
    if values is not None and values.size:
        if np.isnan(values).any():
            raise ValueError("Input y contains NaN; every sample needs a class label")
        if np.isinf(values).any():
            raise ValueError("Input y contains infinity; every sample needs a finite class label")
        if not np.all(values == np.round(values)):
            raise ValueError(
                "Unknown label type: continuous. A classifier needs discrete class labels "
                "(integers, strings or booleans), but y holds non-integer numbers; for a "
                "continuous target use a regression model"
            )
    return arr, column


def encode_labels(labels, classes=None):
    """Map labels to class indices ``np.intc`` 0..K-1 in the order of ``classes``.

    ``classes`` None takes the sorted unique labels (``np.unique``, as scikit-learn does);
    returns ``(classes, codes)``. Labels absent from a given ``classes`` raise ValueError.
    """
    try:
        if classes is None:
            classes, codes = np.unique(labels, return_inverse=True)
            return classes, np.ascontiguousarray(codes.reshape(-1), dtype=np.intc)
        codes = np.searchsorted(classes, labels)
    except TypeError as exc:  # e.g. strings mixed with numbers in an object array
        raise ValueError(
            f"Unknown label type: the labels cannot be sorted ({exc}); use labels of one type"
        ) from exc
    codes = np.clip(codes, 0, len(classes) - 1)
    unknown = classes[codes] != labels
    if np.any(unknown):
        raise ValueError(
            f"y holds labels {np.unique(np.asarray(labels)[unknown]).tolist()} that are not "
            f"among the classes {np.asarray(classes).tolist()} of this model"
        )
    return classes, np.ascontiguousarray(codes, dtype=np.intc)
