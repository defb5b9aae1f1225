"""THE stratified hold-out (fastreg/_training/split.py): one rule, used by fit and datasets.

take_c = min(floor(fraction * n_c + 1/2), n_c - 1) rows of class c; one row of the largest
class if that holds out nothing. The estimators' early stopping and
``fastreg.datasets.train_val_split`` both call it, so the same seed holds out the same rows.
"""

import math

import numpy as np
import pytest

from fastreg import LogisticRegression, SoftmaxRegression
from fastreg._training.split import holdout_size, stratified_holdout
from fastreg.datasets import train_val_split


def take_reference(fraction, counts):
    """The rule, class by class, in plain Python."""
    take = [min(math.floor(fraction * n + 0.5), max(n - 1, 0)) for n in counts]
    if sum(take) == 0:
        take[int(np.argmax(counts))] = 1
    return take


@pytest.mark.parametrize("counts", [(5, 25, 45), (1, 1, 8), (2, 3), (30, 25, 40, 12), (1, 4)])
@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.25, 0.5, 0.9])
def test_rule_per_class(counts, fraction):
    codes = np.repeat(np.arange(len(counts)), counts).astype(np.intc)
    codes = np.random.default_rng(1).permutation(codes)
    val, train = stratified_holdout(codes, len(counts), fraction, np.random.default_rng(0))
    assert val.dtype == train.dtype == np.intp
    assert (np.diff(val) > 0).all() and (np.diff(train) > 0).all()
    np.testing.assert_array_equal(np.sort(np.concatenate([val, train])), np.arange(len(codes)))
    held = np.bincount(codes[val], minlength=len(counts)).tolist()
    assert held == take_reference(fraction, counts)


def test_rounding_is_half_up_not_to_even():
    """floor(f n + 1/2): 0.5 * 5 = 2.5 gives 3 (Python's round() would give 2)."""
    assert holdout_size(0.5, 5) == 3 and holdout_size(0.1, 25) == 3 and holdout_size(0.1, 45) == 5
    codes = np.zeros(5, np.intc)
    val, _ = stratified_holdout(
        np.r_[codes, np.ones(5, np.intc)], 2, 0.5, np.random.default_rng(0)
    )
    assert len(val) == 6


def test_the_issue_example_gives_one_answer():
    """Classes of 5/25/45 rows at 0.1: the estimator held out [1, 3, 5] and train_val_split
    [1, 2, 4] before 0.2.0; now both hold out [1, 3, 5]."""
    y = np.repeat([0, 1, 2], [5, 25, 45])
    X = np.arange(len(y), dtype=np.float64)[:, None]
    split = train_val_split(X, y, 0.1, random_state=0)
    assert np.bincount(split.y_val).tolist() == [1, 3, 5]
    val, _ = stratified_holdout(y.astype(np.intc), 3, 0.1, np.random.default_rng(0))
    assert np.bincount(y[val]).tolist() == [1, 3, 5]


@pytest.mark.parametrize("seed", [0, 7])
def test_fit_and_train_val_split_hold_out_the_same_rows(seed):
    """fit's validation set is the rows train_val_split returns for the same seed: after one
    epoch (one check) the recorded validation loss is the loss of the model's weights on
    train_val_split's X_val, and on no other choice of rows."""
    rng = np.random.default_rng(5)
    y = rng.permutation(np.repeat(np.array(["a", "b", "c"]), [13, 31, 56]))
    X = rng.normal(size=(len(y), 4)) + (y == "b")[:, None]
    split = train_val_split(X, y, 0.15, random_state=seed)
    model = SoftmaxRegression(
        backend="numpy", validation_fraction=0.15, random_state=seed, max_epochs=1
    ).fit(X, y)

    def mean_ce(Xv, yv):
        Z = Xv @ model.coef_.T + model.intercept_
        codes = np.searchsorted(model.classes_, yv)
        return np.mean(np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(len(yv)), codes])

    assert model.history_["val_loss"][0] == pytest.approx(
        mean_ce(split.X_val, split.y_val), rel=1e-12
    )
    other = train_val_split(X, y, 0.15, random_state=seed + 1)
    assert model.history_["val_loss"][0] != pytest.approx(
        mean_ce(other.X_val, other.y_val), rel=1e-6
    )


def test_fit_trains_on_the_other_rows():
    """Weights after one epoch without shuffling equal a fit on train_val_split's X_train
    with an explicit validation set: the same rows, the same order, the same steps."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=120) > 0).astype(int)
    common = dict(backend="numpy", max_epochs=2, shuffle=False, random_state=4)
    held = LogisticRegression(validation_fraction=0.2, **common).fit(X, y)
    split = train_val_split(X, y, 0.2, random_state=4)
    explicit = LogisticRegression(**common).fit(
        split.X_train, split.y_train, X_val=split.X_val, y_val=split.y_val
    )
    np.testing.assert_array_equal(held.coef_, explicit.coef_)
    assert held.history_["val_loss"] == explicit.history_["val_loss"]
