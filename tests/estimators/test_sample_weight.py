"""sample_weight in fit, partial_fit and score: J = sum w E / sum w.

Integer weights are repeated rows (exactly so for a full-batch, unshuffled fit), a zero
weight is a dropped row (bit for bit, hold-out included), equal weights are no weights; the
validation metrics are weighted; bad weights are refused with clear errors and leave the
model as it was; the caller's array is never modified.
"""

import pickle

import numpy as np
import pytest

from fastreg import LogisticRegression, SoftmaxRegression
from fastreg._training.split import stratified_holdout
from fastreg.exceptions import InvalidParameterError

ESTIMATORS = [LogisticRegression, SoftmaxRegression]


def _data(cls, n=90, d=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    k = 2 if cls is LogisticRegression else 3
    centers = rng.normal(scale=1.5, size=(k, d))
    y = rng.integers(0, k, size=n)
    X = (centers[y] + rng.normal(size=(n, d))).astype(dtype)
    return X, y


def _weighted_log_loss(model, X, y, w):
    logp = model.predict_log_proba(X)[np.arange(len(y)), np.searchsorted(model.classes_, y)]
    return -float(np.sum(w * logp) / np.sum(w))


# ------------------------------------------------------------------ weights == repeated rows
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("learning_rate", [0.3, "auto"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_integer_weights_equal_repeated_rows_full_batch(backend, cls, learning_rate, dtype):
    """A full-batch, unshuffled fit without hold-out takes the gradient step of
    sum w E / sum w: the same step as on the repeated rows (rounding aside: the rows are
    summed in another order), so the same model, to 1e-6 (float32: 1e-4, its rounding of the
    two sums grown over 30 steps)."""
    X, y = _data(cls, dtype=dtype)
    w = np.random.default_rng(1).integers(0, 4, size=len(y))
    params = dict(
        backend=backend.name,
        learning_rate=learning_rate,
        batch_size=10_000,
        shuffle=False,
        early_stopping=False,
        max_epochs=30,
        random_state=0,
    )
    weighted = cls(**params).fit(X, y, sample_weight=w)
    repeated = cls(**params).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    tol = 1e-6 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=tol, atol=tol)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=tol, atol=tol)
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), rtol=tol, atol=tol
    )
    assert weighted.learning_rate_ == pytest.approx(repeated.learning_rate_, rel=tol)
    # the train loss the kernel reports is the weighted mean, as on the repeated rows
    np.testing.assert_allclose(
        weighted.history_["train_loss"], repeated.history_["train_loss"], rtol=tol
    )
    assert not np.allclose(cls(**params).fit(X, y).coef_, weighted.coef_, rtol=1e-3)


# ------------------------------------------------------------------ zero weight == dropped row
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("learning_rate", [0.1, "auto"])
def test_zero_weight_is_a_dropped_row_exactly(backend, cls, learning_rate):
    """Default settings (shuffling, stratified hold-out, early stopping): rows of weight 0
    are dropped before the hold-out, so the fit is bit for bit the fit without them: the same
    held-out rows, the same shuffles, the same steps. learning_rate="auto" reads X in place
    in blocks, the dropped rows with weight 0, which groups its sums differently: its step
    size, and so the weights, agree to rounding (1e-12); the rest stays exact."""
    X, y = _data(cls, n=200)
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=len(y))
    w[::7] = 0
    params = dict(
        backend=backend.name,
        learning_rate=learning_rate,
        random_state=3,
        max_epochs=8,
        validation_interval=2,
    )
    with_zeros = cls(**params).fit(X, y, sample_weight=w)
    keep = w > 0
    dropped = cls(**params).fit(X[keep], y[keep], sample_weight=w[keep])
    if learning_rate == "auto":
        np.testing.assert_array_equal(with_zeros.step_scale_, dropped.step_scale_)
        assert with_zeros.learning_rate_ == pytest.approx(dropped.learning_rate_, rel=1e-14)
        tol = dict(rtol=1e-12, atol=1e-14)
    else:
        tol = dict(rtol=0, atol=0)
    np.testing.assert_allclose(with_zeros.coef_, dropped.coef_, **tol)
    np.testing.assert_allclose(with_zeros.intercept_, dropped.intercept_, **tol)
    assert with_zeros.history_["step"] == dropped.history_["step"]
    for key in ("val_loss", "train_loss", "val_accuracy", "train_accuracy"):
        np.testing.assert_allclose(with_zeros.history_[key], dropped.history_[key], **tol)
    # and the weights matter
    assert not np.array_equal(cls(**params).fit(X[keep], y[keep]).coef_, dropped.coef_)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_equal_weights_are_no_weights(backend, cls):
    X, y = _data(cls)
    params = dict(backend=backend.name, random_state=0, max_epochs=5)
    plain = cls(**params).fit(X, y)
    for w in (np.ones(len(y)), np.full(len(y), 3.5), 2, [0.25] * len(y)):
        other = cls(**params).fit(X, y, sample_weight=w)
        np.testing.assert_array_equal(other.coef_, plain.coef_)
        assert other.history_ == plain.history_


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_scaling_all_weights_changes_nothing(backend, cls):
    """The weights are normalised to mean 1: only their ratios count."""
    X, y = _data(cls)
    w = np.random.default_rng(4).uniform(0.1, 3, size=len(y))
    params = dict(backend=backend.name, random_state=0, max_epochs=5)
    a = cls(**params).fit(X, y, sample_weight=w)
    b = cls(**params).fit(X, y, sample_weight=w * 1000)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ weighted validation
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_validation_metrics_are_weighted_by_the_held_out_rows(backend, cls):
    """Without early stopping the last check's validation loss and accuracy are those of
    the final weights on the held-out rows (drawn first from random_state's generator among
    the rows of positive weight), weighted by their weights."""
    X, y = _data(cls, n=300)
    w = np.random.default_rng(5).uniform(0.0, 3.0, size=len(y))
    w[:20] = 0
    model = cls(
        backend=backend.name,
        random_state=7,
        max_epochs=3,
        validation_fraction=0.3,
        early_stopping=True,
        patience=100,
    ).fit(X, y, sample_weight=w)
    rows = np.flatnonzero(w > 0)
    codes = np.searchsorted(model.classes_, y)
    held, _ = stratified_holdout(codes[rows], len(model.classes_), 0.3, np.random.default_rng(7))
    val = rows[held]
    assert model.n_iter_ == 3
    assert model.best_epoch_ == int(np.argmin(model.history_["val_loss"])) + 1
    # the kept weights are those of the best check: compare there
    best = model.best_epoch_ - 1
    assert model.history_["val_loss"][best] == pytest.approx(
        _weighted_log_loss(model, X[val], y[val], w[val]), rel=1e-9
    )
    right = model.predict(X[val]) == y[val]
    assert model.history_["val_accuracy"][best] == pytest.approx(
        np.sum(w[val] * right) / np.sum(w[val]), rel=1e-12
    )
    unweighted = np.mean(right)
    assert model.history_["val_accuracy"][best] != pytest.approx(unweighted, rel=1e-6)


# ------------------------------------------------------------------ partial_fit
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_weights(backend, cls):
    """Per call: zero weights are dropped rows, weights are normalised to mean 1 over the
    chunk, integer weights of a full-batch epoch are repeated rows."""
    X, y = _data(cls)
    classes = np.unique(y)
    w = np.random.default_rng(6).integers(0, 3, size=len(y)).astype(float)
    params = dict(backend=backend.name, random_state=0, learning_rate=0.2)
    a = cls(**params).partial_fit(X, y, classes=classes, sample_weight=w)
    keep = w > 0
    b = cls(**params).partial_fit(X[keep], y[keep], classes=classes, sample_weight=w[keep])
    np.testing.assert_array_equal(a.coef_, b.coef_)
    c = cls(**params).partial_fit(X, y, classes=classes, sample_weight=w * 7)
    np.testing.assert_allclose(a.coef_, c.coef_, rtol=1e-10, atol=1e-13)
    full = dict(params, batch_size=10_000, shuffle=False)
    d = cls(**full).partial_fit(X, y, classes=classes, sample_weight=w)
    e = cls(**full).partial_fit(
        np.repeat(X, w.astype(int), axis=0), np.repeat(y, w.astype(int)), classes=classes
    )
    np.testing.assert_allclose(d.coef_, e.coef_, rtol=1e-10, atol=1e-13)
    # a second call: its own weights, its own normalisation
    a.partial_fit(X[:30], y[:30], sample_weight=np.arange(30.0))
    assert a.n_iter_ == 2


# ------------------------------------------------------------------ bad weights
BAD = [
    ("all zero", lambda n: np.zeros(n), r"(?=.*weight)(?=.*zero)"),
    ("negative", lambda n: np.r_[-1.0, np.ones(n - 1)], r"Negative values in sample_weight"),
    ("nan", lambda n: np.r_[np.nan, np.ones(n - 1)], r"sample_weight contains NaN or infinity"),
    ("inf", lambda n: np.r_[np.inf, np.ones(n - 1)], r"sample_weight contains NaN or infinity"),
    ("too long", lambda n: np.ones(n + 1), r"sample_weight has \d+ weights, but X has \d+ samp"),
    ("2-d", lambda n: np.ones((n, 2)), r"sample_weight must be 1-d"),
    ("text", lambda n: ["heavy"] * n, r"sample_weight must be numbers"),
]


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("method", ["fit", "partial_fit", "score"])
@pytest.mark.parametrize("case, make, match", BAD, ids=[c[0] for c in BAD])
def test_bad_weights_are_refused_and_change_nothing(backend, cls, method, case, make, match):
    X, y = _data(cls)
    model = cls(backend=backend.name, random_state=0, max_epochs=2).fit(X, y)
    before = pickle.dumps(model)
    call = {
        "fit": model.fit,
        "score": model.score,
        "partial_fit": lambda X, y, sample_weight: model.partial_fit(
            X, y, sample_weight=sample_weight
        ),
    }[method]
    with pytest.raises(InvalidParameterError, match=match) as info:
        call(X, y, sample_weight=make(len(y)))
    assert info.value.param == "sample_weight" and isinstance(info.value, ValueError)
    assert pickle.dumps(model) == before


def test_all_zero_weights_message_speaks_of_weight_and_zero():
    X, y = _data(SoftmaxRegression)
    with pytest.raises(ValueError) as info:
        SoftmaxRegression(backend="numpy").fit(X, y, sample_weight=np.zeros(len(y)))
    assert "weight" in str(info.value) and "zero" in str(info.value)


def test_one_class_left_after_zero_weights_is_refused():
    """Zero weight == dropped row: if only one class keeps weight, fit says so (the same
    rule as for a y of one class), and names classes."""
    X, y = _data(LogisticRegression)
    with pytest.raises(
        InvalidParameterError,
        match=r"at least 2 classes with a weight above "
        r"zero, but only the class 1",
    ) as info:
        LogisticRegression(backend="numpy").fit(X, y, sample_weight=(y == 1).astype(float))
    assert info.value.param == "sample_weight"


@pytest.mark.parametrize("method", ["fit", "partial_fit", "score"])
def test_the_callers_weights_are_not_modified(method):
    X, y = _data(SoftmaxRegression)
    w = np.random.default_rng(0).uniform(0, 2, size=len(y))
    w[3] = 0
    original = w.copy()
    model = SoftmaxRegression(backend="numpy", class_weight={0: 3.0}, max_epochs=2)
    model.fit(X, y)
    if method == "fit":
        model.fit(X, y, sample_weight=w)
    elif method == "partial_fit":
        model.partial_fit(X, y, sample_weight=w)
    else:
        model.score(X, y, sample_weight=w)
    np.testing.assert_array_equal(w, original)


def test_score_with_weights(backend):
    X, y = _data(SoftmaxRegression)
    model = SoftmaxRegression(backend=backend.name, random_state=0, max_epochs=3).fit(X, y)
    right = model.predict(X) == y
    w = np.random.default_rng(1).uniform(0, 1, size=len(y))
    assert model.score(X, y, sample_weight=w) == pytest.approx(np.sum(w * right) / np.sum(w))
    assert model.score(X, y, sample_weight=list(w)) == model.score(X, y, sample_weight=w)
    assert model.score(X, y, sample_weight=2.0) == model.score(X, y)
