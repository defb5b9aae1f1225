"""Preparing loaded images for training: two-class subsets, splits, features, standardisation."""

import numpy as np
import pytest

from fastreg.datasets import (
    DatasetArrays,
    Standardizer,
    binary_subset,
    flatten,
    prepare,
    scale_pixels,
    train_val_split,
)


def labelled(n_per_class=(30, 25, 40, 12), seed=0):
    """Images whose first pixel encodes their row index, so rows can be traced."""
    y = np.repeat(np.arange(len(n_per_class)), n_per_class).astype(np.uint8)
    y = np.random.default_rng(seed).permutation(y)
    X = np.zeros((len(y), 28, 28), dtype=np.uint8)
    X[:, 0, 0] = np.arange(len(y)) % 256
    X[:, 0, 1] = np.arange(len(y)) // 256
    return X, y


def row_ids(X):
    X = X.reshape(len(X), -1)
    return X[:, 0].astype(int) + 256 * X[:, 1].astype(int)


# ---- binary_subset -------------------------------------------------------------------------


def test_binary_subset_keeps_two_labels_mapped_to_one_and_zero():
    X, y = labelled()
    Xb, yb = binary_subset(X, y, positive=2, negative=1)
    ids = row_ids(Xb)
    np.testing.assert_array_equal(ids, np.flatnonzero((y == 2) | (y == 1)))  # order kept
    np.testing.assert_array_equal(yb, (y[ids] == 2).astype(np.uint8))
    assert yb.dtype == np.uint8 and yb.sum() == 40 and len(yb) == 65


@pytest.mark.parametrize(
    "positive, negative, message",
    [
        (2, 2, "two different labels"),
        (7, 1, "positive label 7 does not occur.*\\[0, 1, 2, 3\\]"),
        (1, 9, "negative label 9 does not occur"),
    ],
)
def test_binary_subset_rejects_bad_labels(positive, negative, message):
    X, y = labelled()
    with pytest.raises(ValueError, match=message):
        binary_subset(X, y, positive, negative)


def test_binary_subset_rejects_mismatched_lengths():
    X, y = labelled()
    with pytest.raises(ValueError, match="one row per sample"):
        binary_subset(X[:-1], y, 1, 2)


# ---- train_val_split -----------------------------------------------------------------------


def test_split_is_deterministic_for_a_seed_and_varies_with_it():
    X, y = labelled()
    a = train_val_split(X, y, 0.2, random_state=7)
    b = train_val_split(X, y, 0.2, random_state=7)
    c = train_val_split(X, y, 0.2, random_state=8)
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    assert not np.array_equal(row_ids(a.X_val), row_ids(c.X_val))


def test_split_generator_seed_is_accepted():
    X, y = labelled()
    a = train_val_split(X, y, random_state=np.random.default_rng(3))
    b = train_val_split(X, y, random_state=np.random.default_rng(3))
    np.testing.assert_array_equal(a.y_val, b.y_val)


@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.5, 0.99])
def test_stratified_split_partitions_by_the_one_holdout_rule(fraction):
    """take_c = min(floor(f n_c + 1/2), n_c - 1), one row of the largest class if that is
    nothing: the rule of the estimators' hold-out (fastreg/_training/split.py)."""
    X, y = labelled()
    X_tr, X_val, y_tr, y_val = train_val_split(X, y, fraction, random_state=0)
    ids_tr, ids_val = row_ids(X_tr), row_ids(X_val)
    assert np.intersect1d(ids_tr, ids_val).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([ids_tr, ids_val])), np.arange(len(y)))
    np.testing.assert_array_equal(y_tr, y[ids_tr])
    np.testing.assert_array_equal(y_val, y[ids_val])
    assert (np.diff(ids_tr) > 0).all() and (np.diff(ids_val) > 0).all()  # original order
    counts = np.bincount(y)
    val_counts = np.bincount(y_val, minlength=4)
    expected = np.minimum(np.floor(fraction * counts + 0.5), counts - 1)
    if expected.sum() == 0:
        expected[np.argmax(counts)] = 1
    np.testing.assert_array_equal(val_counts, expected)
    assert (np.bincount(y_tr, minlength=4) >= 1).all()  # every class keeps training rows
    if fraction >= 0.1:
        assert (val_counts >= 1).all()


def test_stratified_split_is_the_estimators_holdout():
    """The same seed holds out the same rows as fit's early stopping (one rule, one draw)."""
    from fastreg._training.split import stratified_holdout

    X, y = labelled()
    split = train_val_split(X, y, 0.2, random_state=11)
    val, _ = stratified_holdout(y.astype(np.intc), 4, 0.2, np.random.default_rng(11))
    np.testing.assert_array_equal(row_ids(split.X_val), val)


def test_unstratified_split_takes_the_fraction_of_all_samples():
    X, y = labelled()  # 107 samples
    split = train_val_split(X, y, 0.25, stratify=False, random_state=0)
    assert len(split.y_val) == 27 == int(np.floor(0.25 * len(y) + 0.5))
    assert len(split.y_train) + len(split.y_val) == len(y)
    X, y = labelled((5, 5))  # 0.25 * 10 = 2.5 rounds half up (round() would give 2)
    assert len(train_val_split(X, y, 0.25, stratify=False, random_state=0).y_val) == 3


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, 0.0, float("nan")])
def test_split_rejects_fraction_outside_open_unit_interval(fraction):
    X, y = labelled()
    with pytest.raises(ValueError, match=r"val_fraction must be a real number in \(0, 1\)"):
        train_val_split(X, y, fraction)


def test_stratified_split_keeps_a_singleton_class_in_training():
    """A class of one sample cannot give a validation row (n_c - 1 = 0): it stays in
    training, as in the estimators' hold-out."""
    X, y = labelled((5, 1, 5))
    split = train_val_split(X, y, 0.2, random_state=0)
    assert np.bincount(split.y_val, minlength=3).tolist() == [1, 0, 1]
    assert 1 in split.y_train
    assert len(train_val_split(X, y, 0.2, stratify=False, random_state=0).y_val) == 2


def test_split_rejects_two_dimensional_labels():
    X, y = labelled()
    with pytest.raises(ValueError, match="1-D"):
        train_val_split(X, y[:, None])


# ---- features ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flatten_and_scale_give_rows_in_unit_interval(dtype):
    X = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
    X = X.astype(np.uint8)
    features = scale_pixels(flatten(X), dtype)
    assert features.shape == (2, 784) and features.dtype == dtype
    np.testing.assert_array_equal(features, X.reshape(2, 784).astype(dtype) / dtype(255))
    assert features.min() == 0.0 and features.max() == 1.0


def test_flatten_is_a_view_of_contiguous_images():
    X = np.zeros((3, 28, 28), dtype=np.uint8)
    assert np.shares_memory(flatten(X), X)


def test_scale_rejects_non_uint8_and_non_float_dtype():
    with pytest.raises(ValueError, match=r"uint8 pixels.*float64"):
        scale_pixels(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="float32 or float64; got int32"):
        scale_pixels(np.zeros((2, 4), dtype=np.uint8), np.int32)
    with pytest.raises(ValueError, match="stack of images"):
        flatten(np.zeros(5))


# ---- standardisation ---------------------------------------------------------------------


def test_standardizer_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    train = rng.normal(3.0, 2.0, (500, 5))
    train[:, 4] = 0.25  # a constant feature
    other = rng.normal(-1.0, 5.0, (50, 5))
    scaler = Standardizer().fit(train)
    z_train = scaler.transform(train)
    np.testing.assert_allclose(z_train[:, :4].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z_train[:, :4].std(axis=0), 1, rtol=1e-12)
    np.testing.assert_array_equal(z_train[:, 4], 0.0)
    expected = (other - train.mean(axis=0)) / np.where(train.std(axis=0) > 0, train.std(axis=0), 1)
    np.testing.assert_allclose(scaler.transform(other), expected, rtol=1e-12)


def test_standardizer_keeps_float32():
    X = np.random.default_rng(1).random((20, 3)).astype(np.float32)
    assert Standardizer().fit_transform(X).dtype == np.float32


def test_standardizer_errors():
    with pytest.raises(ValueError, match="not fitted"):
        Standardizer().transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"3 features but .* fitted on 2"):
        Standardizer().fit(np.zeros((4, 2))).transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="flatten\\(\\) and scale_pixels\\(\\)"):
        Standardizer().fit(np.zeros((4, 28, 28), dtype=np.uint8))


# ---- prepare -----------------------------------------------------------------------------


def _data():
    X, y = labelled((30, 25, 40, 12))
    Xt, yt = labelled((5, 6, 7, 8), seed=1)
    return DatasetArrays(X, y, Xt, yt)


def test_prepare_defaults_float64_unit_interval_stratified_no_standardisation():
    data = _data()
    ready = prepare(data)
    assert ready.X_train.dtype == np.float64 and ready.X_train.shape[1] == 784
    assert ready.X_train.min() >= 0 and ready.X_train.max() <= 1
    assert ready.standardizer is None
    assert len(ready.y_train) + len(ready.y_val) == len(data.y_train)
    assert set(np.unique(ready.y_val)) == {0, 1, 2, 3}
    np.testing.assert_array_equal(ready.X_test, data.X_test.reshape(-1, 784) / 255.0)
    again = prepare(data)
    np.testing.assert_array_equal(ready.y_val, again.y_val)  # seeded by default


def test_prepare_binary_float32_standardised_with_train_stats():
    data = _data()
    ready = prepare(data, digits=(2, 3), dtype=np.float32, standardize=True, val_fraction=None)
    assert ready.X_val is None and ready.y_val is None
    assert set(np.unique(ready.y_train)) == {0, 1} and ready.y_train.sum() == 40
    assert len(ready.y_test) == 15 and ready.X_train.dtype == np.float32
    train_features = data.X_train[(data.y_train == 2) | (data.y_train == 3)]
    train_features = train_features.reshape(-1, 784).astype(np.float32) / np.float32(255)
    np.testing.assert_allclose(ready.standardizer.mean_, train_features.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(ready.X_train.mean(axis=0), 0, atol=1e-5)
