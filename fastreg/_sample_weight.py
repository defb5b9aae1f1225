"""Sample and class weights: from the caller's arguments to the per-row weights of training.

With w_n = ``sample_weight[n] * class_weight[y_n]`` both estimators minimise the weighted
mean cross-entropy

    J(W, b) = sum_n w_n E_n(W, b) / sum_n w_n + lambda ||W||^2,

so integer weights are the same as repeated rows, and a weight of 0 the same as a row left
out. The rules, each written once here:

* ``sample_weight``: None (all ones), a number (every row), or one finite weight >= 0 per row;
  the caller's array is never modified (:func:`check_sample_weight` makes a new array).
* ``class_weight``: None, a dict {label: weight} (labels not in it weigh 1, labels that are
  not classes raise), or "balanced": n_samples / (n_classes * bincount(y)) over the y given
  to ``fit``, as scikit-learn's ``compute_class_weight`` (:func:`class_weights`).
* Rows of weight w_n = 0 are dropped before anything else, the stratified hold-out included:
  a zero weight is exactly a dropped row. All weights zero is a ValueError.
* The kernels receive v_n = w_n / mean(w over the training rows), mean 1
  (:func:`kernel_weights`), so the full-batch step is the gradient of J; equal weights are
  passed as None (no weights), which is the same objective, bit for bit the unweighted path.
* Validation loss and accuracy are weighted by the held-out rows' w_n.
"""

import numbers

import numpy as np

from .exceptions import InvalidParameterError

__all__ = [
    "check_positive_classes",
    "check_sample_weight",
    "class_weights",
    "kernel_weights",
    "positive_rows",
    "row_weights",
]


def check_sample_weight(sample_weight, n_samples, name="sample_weight"):
    """``sample_weight`` as a new float64 array of ``n_samples`` finite weights >= 0, or None.

    A number is a weight for every row. Raises InvalidParameterError (``param=name``) for a
    wrong shape or length, non-numeric, NaN, infinite or negative weights.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        weights = np.full(n_samples, float(sample_weight))
    else:
        try:
            weights = np.array(sample_weight, dtype=np.float64)  # always a copy
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(
                f"{name} must be numbers, one weight per sample: {exc}", param=name
            ) from exc
        if weights.ndim != 1:
            raise InvalidParameterError(
                f"{name} must be 1-d (one weight per sample), got shape {weights.shape}",
                param=name,
            )
        if weights.shape[0] != n_samples:
            raise InvalidParameterError(
                f"{name} has {weights.shape[0]} weights, but X has {n_samples} samples; "
                "pass one weight per sample",
                param=name,
            )
    if not np.isfinite(weights).all():
        raise InvalidParameterError(
            f"Input {name} contains NaN or infinity; weights must be finite", param=name
        )
    if (weights < 0).any():
        raise InvalidParameterError(
            f"Negative values in {name} (the smallest is {weights.min():g}); weights must be "
            ">= 0 (0 leaves a sample out)",
            param=name,
        )
    return weights


def class_weights(class_weight, classes, codes):
    """The weight of each class (float64, ``len(classes)``), or None for ``class_weight``
    None. ``codes`` index ``classes`` (the y of ``fit``, for "balanced")."""
    if class_weight is None:
        return None
    k = len(classes)
    if class_weight == "balanced":
        counts = np.bincount(codes, minlength=k)
        # scikit-learn's compute_class_weight; every class of fit occurs in its y
        return codes.shape[0] / (k * counts.astype(np.float64))
    known = classes.tolist()
    unknown = [label for label in class_weight if label not in known]
    if unknown:
        raise InvalidParameterError(
            f"class_weight names labels {unknown!r} that are not classes of the data {known!r}",
            param="class_weight",
            hint="key the dict by the labels of y (classes_)",
        )
    weights = np.ones(k)
    for i, label in enumerate(known):
        if label in class_weight:
            weights[i] = class_weight[label]
    return weights


def row_weights(sample_weight, per_class, codes):
    """w_n = sample_weight[n] * per_class[y_n] (float64, a new array), or None when both are
    None (every row weighs 1)."""
    if per_class is None:
        return sample_weight
    weights = per_class[codes]
    if sample_weight is not None:
        weights *= sample_weight
    return weights


def positive_rows(weights, n_samples):
    """The rows of positive weight (sorted np.intp): all of them for None. All weights zero
    raise ValueError."""
    if weights is None:
        return np.arange(n_samples, dtype=np.intp)
    rows = np.flatnonzero(weights > 0).astype(np.intp)
    if rows.size == 0:
        raise InvalidParameterError(
            "All sample weights are zero (sample_weight times class_weight); at least one "
            "sample needs a weight above zero",
            param="sample_weight",
        )
    return rows


def check_positive_classes(weights, codes, classes, estimator):
    """``fit`` needs rows of positive weight in two classes at least (all weights zero: the
    error of :func:`positive_rows`)."""
    if weights is None:
        return
    positive_rows(weights, codes.shape[0])
    present = np.unique(codes[weights > 0])
    if present.shape[0] < 2:
        raise InvalidParameterError(
            f"{estimator} needs samples of at least 2 classes with a weight above zero, but "
            f"only the class {classes.tolist()[present[0]]!r} has some (sample_weight times "
            "class_weight)",
            param="sample_weight",
        )


def kernel_weights(weights, rows, dtype):
    """The weights the kernels take: v (N,) of ``dtype``, indexed by row of X like y, with
    v[rows] = w[rows] / mean(w[rows]) (mean 1 over the training ``rows``; other rows 0), or
    None when the training rows all weigh the same (the same objective, unweighted)."""
    if weights is None:
        return None
    train = weights[rows]
    if train.size == 0 or np.all(train == train[0]):
        return None
    v = np.zeros(weights.shape[0], dtype=dtype)
    v[rows] = train * (train.shape[0] / train.sum())
    return v
