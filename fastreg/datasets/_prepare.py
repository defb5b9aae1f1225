"""Turn loaded images into training data: two-class subsets, splits, features, standardisation.

``prepare`` chains the steps; its defaults are the reference setup:

* all ten classes (``digits=(2, 3)`` gives the reference binary task: 2 -> 1, 3 -> 0);
* a stratified 10 % validation split of the training set, seeded (``random_state=0``): the
  same hold-out rule and rows as the estimators' early stopping;
* features flattened to (N, 784) and scaled to [0, 1] as **float64**, x / 255
  (``dtype=np.float32`` halves memory traffic at single precision);
* **no standardisation**. Pixels in [0, 1] are already on one scale, and standardising
  divides MNIST's near-constant border pixels by tiny deviations, blowing up any stroke that
  reaches them at test time. ``standardize=True`` fits the statistics on the training part
  only and applies them unchanged to validation and test data.
"""

from typing import NamedTuple

import numpy as np

from .._training.split import holdout_size, stratified_holdout
from .._validation import PARAMETERS, check_value

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _check_pair(X, y):
    X, y = np.asarray(X), np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per sample); got shape {y.shape}")
    if X.ndim < 1 or len(X) != len(y):
        raise ValueError(
            f"X and y must have one row per sample; got X with shape {X.shape} "
            f"and y with {len(y)} labels"
        )
    return X, y


def binary_subset(X, y, positive, negative):
    """Keep the samples labelled ``positive`` or ``negative``, relabelled 1 and 0.

    Returns ``(X_sub, y_sub)``, rows in their original order, ``y_sub`` uint8 in {0, 1}.
    """
    X, y = _check_pair(X, y)
    if positive == negative:
        raise ValueError(
            f"positive and negative must be two different labels; both are {positive!r}"
        )
    present = np.unique(y)
    for role, label in (("positive", positive), ("negative", negative)):
        if label not in present:
            raise ValueError(
                f"{role} label {label!r} does not occur in y; choose among the "
                f"labels present: {present.tolist()}"
            )
    keep = (y == positive) | (y == negative)
    return X[keep], (y[keep] == positive).astype(np.uint8)


class Split(NamedTuple):
    X_train: np.ndarray
    X_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray


def train_val_split(X, y, val_fraction=0.1, *, stratify=True, random_state=None):
    """Split ``(X, y)`` into training and validation parts (scikit-learn's output order).

    With ``stratify=True`` the rows held out are those of THE stratified hold-out the
    estimators use for early stopping (:func:`fastreg._training.split.stratified_holdout`):
    class c of n_c samples gives min(floor(val_fraction * n_c + 1/2), n_c - 1) of them (so a
    class keeps at least one training sample; a class too small to give any stays in
    training), and one sample of the largest class if that holds out nothing. The same seed
    gives the same rows as ``fit(X, y)`` with ``random_state`` of that seed. With
    ``stratify=False`` one random subset of floor(val_fraction * n + 1/2) samples (at least
    one, at most n - 1) is drawn, with no guarantee per class.

    ``random_state`` (an int, a ``np.random.Generator`` or None for fresh entropy) fixes the
    draw: the same seed gives the same split. Both parts keep the rows' original order.
    """
    X, y = _check_pair(X, y)
    val_fraction = check_value(PARAMETERS["validation_fraction"], "val_fraction", val_fraction)
    rng = np.random.default_rng(random_state)
    if len(y) < 2:
        raise ValueError(f"need at least 2 samples to split; got {len(y)}")
    if stratify:
        classes, codes = np.unique(y, return_inverse=True)
        val_index, _ = stratified_holdout(codes.reshape(-1), len(classes), val_fraction, rng)
    else:
        n_val = min(max(holdout_size(val_fraction, len(y)), 1), len(y) - 1)
        val_index = rng.permutation(len(y))[:n_val]
    is_val = np.zeros(len(y), dtype=bool)
    is_val[val_index] = True
    return Split(X[~is_val], X[is_val], y[~is_val], y[is_val])


def flatten(X):
    """Images (N, h, w) as rows (N, h * w); a view when ``X`` is contiguous."""
    X = np.asarray(X)
    if X.ndim < 2:
        raise ValueError(
            f"expected a stack of images (N, h, w) or rows (N, d); got shape {X.shape}"
        )
    return X.reshape(len(X), -1)


def scale_pixels(X, dtype=np.float64):
    """uint8 pixels to floats in [0, 1]: x / 255, computed in ``dtype`` (float32 or float64)."""
    X = np.asarray(X)
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64; got {dtype}")
    if X.dtype != np.uint8:
        raise ValueError(
            f"expected raw uint8 pixels (0..255); got {X.dtype}. If the data is "
            "already scaled, use it as it is"
        )
    return np.true_divide(X, dtype.type(255), dtype=dtype)


class Standardizer:
    """Per-feature standardisation z = (x - mean_) / scale_, fitted on training data only.

    ``scale_`` is the standard deviation of each feature, or 1 where it is at most ``eps``
    (constant features, such as MNIST's always-black corners, map to 0 rather than nan).
    Statistics are computed in float64; ``transform`` returns the input's float dtype.
    """

    def __init__(self, eps=1e-8):
        self.eps = eps

    def fit(self, X):
        X = self._check(X, fitting=True)
        self.mean_ = X.mean(axis=0, dtype=np.float64)
        std = X.std(axis=0, dtype=np.float64)
        self.scale_ = np.where(std > self.eps, std, 1.0)
        return self

    def transform(self, X):
        X = self._check(X, fitting=False)
        return ((X - self.mean_) / self.scale_).astype(X.dtype, copy=False)

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def _check(self, X, *, fitting):
        X = np.asarray(X)
        if X.ndim != 2 or X.dtype not in FLOAT_DTYPES:
            raise ValueError(
                f"expected float32/float64 features of shape (N, d); got {X.dtype} "
                f"with shape {X.shape}. Use flatten() and scale_pixels() first"
            )
        if fitting:
            if len(X) < 1:
                raise ValueError("cannot fit a Standardizer on zero samples")
            return X
        if not hasattr(self, "mean_"):
            raise ValueError("this Standardizer is not fitted; call fit(X_train) first")
        if X.shape[1] != self.mean_.shape[0]:
            raise ValueError(
                f"X has {X.shape[1]} features but the Standardizer was fitted on "
                f"{self.mean_.shape[0]}"
            )
        return X


class Prepared(NamedTuple):
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray
    standardizer: Standardizer | None


def prepare(
    data, *, digits=None, val_fraction=0.1, dtype=np.float64, standardize=False, random_state=0
):
    """Training-ready arrays from loaded :class:`DatasetArrays` (defaults: module docstring).

    ``digits=(positive, negative)`` keeps two classes, labelled 1 and 0; ``val_fraction=None``
    skips the validation split (``X_val`` and ``y_val`` are then None).
    """
    X_train, y_train, X_test, y_test = data
    if digits is not None:
        positive, negative = digits
        X_train, y_train = binary_subset(X_train, y_train, positive, negative)
        X_test, y_test = binary_subset(X_test, y_test, positive, negative)
    X_val = y_val = None
    if val_fraction is not None:
        X_train, X_val, y_train, y_val = train_val_split(
            X_train, y_train, val_fraction, stratify=True, random_state=random_state
        )

    def features(X):
        return None if X is None else scale_pixels(flatten(X), dtype)

    X_train, X_val, X_test = features(X_train), features(X_val), features(X_test)
    scaler = None
    if standardize:
        scaler = Standardizer().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        X_val = None if X_val is None else scaler.transform(X_val)
    return Prepared(
        X_train,
        np.array(y_train),
        X_val,
        None if y_val is None else np.array(y_val),
        X_test,
        np.array(y_test),
        scaler,
    )
