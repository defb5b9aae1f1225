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


def _as_numeric(a, name):
    try:
        arr = np.asarray(a)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} could not be converted to a numeric array: {exc}") from exc
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
    arr = _as_numeric(X, name)
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
    arr = _as_numeric(y, name)
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
