"""Scores of a fitted classifier: accuracy and the confusion matrix, with integer class labels.

Both take true and predicted labels as 1-d arrays of equal length. The confusion matrix counts
``C[i, j]`` = number of samples whose true class is ``labels[i]`` and predicted class is
``labels[j]`` (rows: truth, columns: prediction, scikit-learn's convention), so that
``C.sum() == n_samples``, ``trace(C) / n_samples`` is the accuracy, and a row sums to the
number of samples of its class. Bad arguments raise
:class:`fastreg.exceptions.InvalidParameterError` (a ``ValueError``) naming the argument.
"""

import numpy as np

from .exceptions import InvalidParameterError


def _check_labels(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1:
        raise InvalidParameterError(
            f"labels must be 1-d, got y_true with shape {y_true.shape} and y_pred with "
            f"{y_pred.shape}",
            param="y_true" if y_true.ndim != 1 else "y_pred",
        )
    if y_true.shape != y_pred.shape:
        raise InvalidParameterError(
            f"y_true has {y_true.size} labels but y_pred has {y_pred.size}",
            param="y_pred",
            hint="pass one prediction per sample",
        )
    if y_true.size == 0:
        raise InvalidParameterError(
            "no samples: accuracy and the confusion matrix need at least one label", param="y_true"
        )
    return y_true, y_pred


def accuracy(y_true, y_pred):
    """Fraction of samples whose predicted label equals the true one, in [0, 1]."""
    y_true, y_pred = _check_labels(y_true, y_pred)
    return float(np.count_nonzero(y_true == y_pred)) / y_true.size


def confusion_matrix(y_true, y_pred, labels=None):
    """Counts ``C[i, j]`` of samples of true class ``labels[i]`` predicted as ``labels[j]``.

    ``labels`` (default: the sorted union of the labels seen) fixes the order of rows and
    columns and may list classes absent from both arrays (their row and column are zero). A
    label outside ``labels`` raises ValueError rather than being dropped silently, which would
    make the matrix sum to less than the number of samples.
    """
    y_true, y_pred = _check_labels(y_true, y_pred)
    if labels is None:
        labels = np.union1d(y_true, y_pred)
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0 or np.unique(labels).size != labels.size:
        raise InvalidParameterError(
            f"labels must be a non-empty list of distinct values, got {labels.tolist()}",
            param="labels",
        )
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]

    def index_of(y, name):
        pos = np.searchsorted(sorted_labels, y).clip(0, labels.size - 1)
        unknown = sorted_labels[pos] != y
        if unknown.any():
            raise InvalidParameterError(
                f"{name} holds labels {np.unique(y[unknown]).tolist()} that are not among "
                f"labels={labels.tolist()}",
                param=name,
            )
        return order[pos]

    k = labels.size
    flat = index_of(y_true, "y_true") * k + index_of(y_pred, "y_pred")
    return np.bincount(flat, minlength=k * k).reshape(k, k)


def mean_cross_entropy(log_proba, y_index):
    """Mean of ``-log_proba[n, y_index[n]]``: the data term of the training objective.

    ``log_proba`` (n_samples, n_classes) holds log-probabilities computed from the logits
    (``predict_log_proba``), so no probability is clipped and no log(0) occurs; ``y_index``
    holds each sample's column (its class's position in ``classes_``). The mean is summed in
    float64 whatever the dtype of ``log_proba``.
    """
    log_proba = np.asarray(log_proba)
    y_index = np.asarray(y_index)
    if log_proba.ndim != 2 or y_index.shape != (log_proba.shape[0],):
        raise InvalidParameterError(
            f"log_proba must be (n_samples, n_classes) and y_index (n_samples,), got "
            f"{log_proba.shape} and {y_index.shape}",
            param="log_proba",
        )
    if y_index.size == 0:
        raise InvalidParameterError(
            "no samples: the cross-entropy needs at least one label", param="y_index"
        )
    if y_index.min() < 0 or y_index.max() >= log_proba.shape[1]:
        raise InvalidParameterError(
            f"y_index holds columns in [{y_index.min()}, {y_index.max()}] but log_proba has "
            f"{log_proba.shape[1]} columns",
            param="y_index",
        )
    picked = log_proba[np.arange(y_index.size), y_index]
    return -float(picked.sum(dtype=np.float64)) / y_index.size


def per_class_accuracy(cm):
    """Recall of each class: ``C[i, i] / C[i, :].sum()`` (NaN for a class with no samples)."""
    cm = np.asarray(cm)
    totals = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(cm) / totals, np.nan)
