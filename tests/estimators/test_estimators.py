"""LogisticRegression and SoftmaxRegression: behaviour of the public estimators."""

import math
import tracemalloc

import numpy as np
import pytest

from fastreg import LogisticRegression, SoftmaxRegression
from fastreg.exceptions import InvalidParameterError, NotFittedError, TrainingDivergedError

ESTIMATORS = [LogisticRegression, SoftmaxRegression]


def blobs(n=240, d=5, k=3, seed=0, spread=1.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(k, d))
    y = rng.integers(0, k, size=n)
    X = (centers[y] + spread * rng.normal(size=(n, d))).astype(dtype)
    return X, y


def data_for(cls, n=240, seed=0, dtype=np.float64, spread=1.0):
    return blobs(
        n=n, k=2 if cls is LogisticRegression else 3, seed=seed, dtype=dtype, spread=spread
    )


def clone_fitted(model, **params):
    """A copy of a fitted model with some parameters changed (the weights kept)."""
    import copy

    other = copy.deepcopy(model)
    other.set_params(**params)
    return other


def log_loss(model, X, y):
    """Mean cross-entropy of the model on (X, y), from predict_log_proba."""
    logp = model.predict_log_proba(X)
    return -float(np.mean(logp[np.arange(len(y)), np.searchsorted(model.classes_, y)]))


# ----------------------------------------------------------------------------- labels, shapes
@pytest.mark.parametrize(
    "labels",
    [
        np.array(["spam", "ham"]),
        np.array([-1, 7]),
        np.array([False, True]),
        np.array([2.0, 3.0]),
        np.array(["a", "b"], dtype=object),
    ],
)
def test_binary_labels_of_any_type(backend, labels):
    X, y01 = blobs(k=2)
    y = labels[y01]
    model = LogisticRegression(backend=backend.name, random_state=0, max_epochs=20).fit(X, y)
    np.testing.assert_array_equal(model.classes_, np.unique(labels))
    pred = model.predict(X)
    assert pred.dtype == model.classes_.dtype and set(pred) <= set(labels)
    assert model.score(X, y) > 0.9
    proba = model.predict_proba(X)
    # the positive class is classes_[1]: its column grows with the logit
    z = model.decision_function(X)
    np.testing.assert_array_equal(pred, model.classes_[(z > 0).astype(int)])
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-12)


@pytest.mark.parametrize("labels", [np.array(["cat", "dog", "emu"]), np.array([30, 10, 20])])
def test_softmax_columns_follow_classes(backend, labels):
    X, codes = blobs(k=3)
    y = labels[codes]
    model = SoftmaxRegression(backend=backend.name, random_state=0, max_epochs=30).fit(X, y)
    np.testing.assert_array_equal(model.classes_, np.sort(labels))
    proba = model.predict_proba(X)
    # column j of predict_proba is the probability of classes_[j]: on the rows labelled
    # classes_[j] that column is the largest on average
    for j, label in enumerate(model.classes_):
        assert np.argmax(proba[y == label].mean(axis=0)) == j
    assert model.score(X, y) > 0.9


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_shapes_and_consistency(backend, cls):
    X, y = data_for(cls)
    model = cls(backend=backend.name, random_state=0, max_epochs=10).fit(X, y)
    k = len(model.classes_)
    rows = 1 if cls is LogisticRegression else k
    assert model.coef_.shape == (rows, 5) and model.intercept_.shape == (rows,)
    assert model.n_features_in_ == 5
    dec = model.decision_function(X)
    proba = model.predict_proba(X)
    assert dec.shape == ((len(X),) if cls is LogisticRegression else (len(X), k))
    assert proba.shape == (len(X), k)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_allclose(model.predict_log_proba(X), np.log(proba), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])
    if cls is SoftmaxRegression:
        np.testing.assert_allclose(dec, X @ model.coef_.T + model.intercept_, rtol=1e-12)
    else:
        np.testing.assert_allclose(dec, X @ model.coef_[0] + model.intercept_[0], rtol=1e-12)


def test_softmax_two_classes_decision_is_the_log_odds(backend):
    X, y = blobs(k=2)
    model = SoftmaxRegression(backend=backend.name, random_state=0, max_epochs=10).fit(X, y)
    assert model.coef_.shape == (2, 5)
    a = X @ model.coef_.T + model.intercept_
    np.testing.assert_allclose(
        model.decision_function(X), a[:, 1] - a[:, 0], rtol=1e-10, atol=1e-12
    )
    np.testing.assert_array_equal(model.predict(X), (a[:, 1] > a[:, 0]).astype(int))


def test_extreme_logits_give_finite_probabilities(backend):
    X, y = blobs(k=3)
    model = SoftmaxRegression(backend=backend.name, random_state=0, max_epochs=2).fit(X, y)
    model.coef_ = model.coef_ * 1e4
    proba = model.predict_proba(X)
    logp = model.predict_log_proba(X)
    assert np.isfinite(proba).all() and np.isfinite(logp).all()
    assert np.all(logp <= 0)
    lr = LogisticRegression(backend=backend.name, random_state=0, max_epochs=2).fit(*blobs(k=2))
    lr.coef_ = lr.coef_ * 1e5
    logp = lr.predict_log_proba(X)
    assert np.isfinite(logp).all() and logp.min() < -1e3  # no log(0) = -inf


# ----------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_dtype_is_kept(backend, cls, dtype):
    X, y = data_for(cls, dtype=dtype)
    model = cls(backend=backend.name, random_state=0, max_epochs=3).fit(X, y)
    assert model.coef_.dtype == dtype and model.intercept_.dtype == dtype
    assert model.predict_proba(X).dtype == dtype
    assert model.decision_function(X).dtype == dtype


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_dtype_parameter_and_integer_input(backend, cls):
    X, y = data_for(cls)
    Xi = np.round(X * 10).astype(np.int64)
    assert cls(backend=backend.name, max_epochs=2).fit(Xi, y).coef_.dtype == np.float64
    m32 = cls(backend=backend.name, max_epochs=2, dtype="float32").fit(X, y)
    assert m32.coef_.dtype == np.float32
    assert (
        cls(backend=backend.name, max_epochs=2, dtype=np.float64)
        .fit(X.astype(np.float32), y)
        .coef_.dtype
        == np.float64
    )
    with pytest.raises(ValueError, match="dtype must be None, 'float32' or 'float64'"):
        cls(dtype="float16").fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uint8_with_input_scale_equals_prescaled_floats(backend, cls, dtype):
    """uint8 X is scaled inside the kernels as dtype(x) * dtype(scale): the model trained on
    those floats, without a float copy of X (bit for bit on the NumPy backend; the compiled
    kernel may round its uint8 path differently, so to float precision there)."""
    rng = np.random.default_rng(0)
    X8 = rng.integers(0, 256, size=(300, 20), dtype=np.uint8)
    y = (X8[:, :10].astype(int).sum(axis=1) > X8[:, 10:].astype(int).sum(axis=1)).astype(int)
    if cls is SoftmaxRegression:
        y = y + (X8[:, 0] > 128)
    scale = 1 / 255
    Xf = X8.astype(dtype) * dtype(scale)
    common = dict(
        backend=backend.name,
        random_state=3,
        max_epochs=4,
        validation_interval=2,
        learning_rate=0.1,
    )
    m8 = cls(input_scale=scale, dtype=np.dtype(dtype).name, **common).fit(X8, y)
    mf = cls(**common).fit(Xf, y)
    assert m8.coef_.dtype == dtype
    rtol = 0 if backend.name == "numpy" else (1e-5 if dtype == np.float32 else 1e-12)
    atol = rtol * np.abs(mf.coef_).max()
    np.testing.assert_allclose(m8.coef_, mf.coef_, rtol=rtol, atol=atol)
    np.testing.assert_allclose(m8.intercept_, mf.intercept_, rtol=rtol, atol=atol)
    assert m8.history_["step"] == mf.history_["step"]
    np.testing.assert_allclose(m8.history_["val_loss"], mf.history_["val_loss"], rtol=rtol)
    # prediction converts uint8 in chunks, with the same scaling, and equals the prediction
    # of the same weights on the scaled floats
    big = rng.integers(0, 256, size=(7000, 20), dtype=np.uint8)  # several 1 MiB chunks
    big_f = big.astype(dtype) * dtype(scale)
    same_weights = clone_fitted(m8, input_scale=None)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(
        m8.decision_function(big), same_weights.decision_function(big_f), rtol=tol, atol=tol
    )
    np.testing.assert_allclose(
        m8.predict_proba(big), same_weights.predict_proba(big_f), rtol=tol, atol=tol
    )
    assert m8.predict_proba(big).dtype == dtype
    # input_scale also applies to float input: the model always sees X * input_scale
    np.testing.assert_allclose(
        m8.decision_function(big_f * 255), m8.decision_function(big), rtol=tol, atol=tol
    )
    # learning_rate="auto" reads the same features from both; its statistics of uint8 rows
    # are summed in float32 (exact counts, float32 sums), so the two agree to float32's
    # rounding of a step size, and the weights to a few times that
    common["learning_rate"] = "auto"
    a8 = cls(input_scale=scale, dtype=np.dtype(dtype).name, **common).fit(X8, y)
    af = cls(**common).fit(Xf, y)
    tol = 1e-5
    np.testing.assert_allclose(a8.step_scale_, af.step_scale_, rtol=tol)
    assert a8.learning_rate_ == pytest.approx(af.learning_rate_, rel=tol)
    np.testing.assert_allclose(a8.coef_, af.coef_, rtol=tol, atol=tol * np.abs(af.coef_).max())


def test_uint8_without_scale_trains_on_raw_values(backend):
    rng = np.random.default_rng(1)
    X8 = rng.integers(0, 3, size=(200, 4), dtype=np.uint8)
    y = (X8[:, 0] > X8[:, 1]).astype(int)
    common = dict(backend=backend.name, random_state=0, max_epochs=3, learning_rate=0.1)
    m8 = LogisticRegression(**common).fit(X8, y)
    mf = LogisticRegression(**common).fit(X8.astype(np.float64), y)
    assert m8.coef_.dtype == np.float64
    np.testing.assert_array_equal(m8.coef_, mf.coef_)
    common["learning_rate"] = "auto"
    a8 = LogisticRegression(**common).fit(X8, y)
    af = LogisticRegression(**common).fit(X8.astype(np.float64), y)
    np.testing.assert_allclose(a8.coef_, af.coef_, rtol=1e-6)


def test_read_only_memmap_input(backend, tmp_path):
    X, y = blobs(k=3)
    path = tmp_path / "X.npy"
    np.save(path, X)
    Xm = np.load(path, mmap_mode="r")
    assert not Xm.flags.writeable
    model = SoftmaxRegression(backend=backend.name, random_state=0, max_epochs=3).fit(Xm, y)
    ref = SoftmaxRegression(backend=backend.name, random_state=0, max_epochs=3).fit(X, y)
    np.testing.assert_array_equal(model.coef_, ref.coef_)
    np.testing.assert_array_equal(model.predict(Xm), ref.predict(X))


# ----------------------------------------------------------------------------- reproducibility
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_same_seed_same_weights(backend, cls):
    X, y = data_for(cls)
    a = cls(backend=backend.name, random_state=11, max_epochs=5).fit(X, y)
    b = cls(backend=backend.name, random_state=11, max_epochs=5).fit(X, y)
    c = cls(backend=backend.name, random_state=12, max_epochs=5).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.history_ == b.history_
    assert not np.array_equal(a.coef_, c.coef_)
    a.fit(X, y)  # refitting starts over
    np.testing.assert_array_equal(a.coef_, b.coef_)


@pytest.mark.requires_cython
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-9), (np.float32, 1e-4)])
@pytest.mark.parametrize("uint8", [False, True])
def test_backends_give_the_same_weights(cls, dtype, rtol, uint8):
    """Same random_state => the same split, shuffles and learning rates on both backends, so
    the same weights after several epochs (float64 rtol 1e-9, float32 rtol 1e-4)."""
    rng = np.random.default_rng(4)
    n, d = 600, 30
    X8 = rng.integers(0, 256, size=(n, d), dtype=np.uint8)
    w = rng.normal(size=(d, 3))
    y = np.argmax(X8 @ w / 255 + rng.normal(size=(n, 3)), axis=1)
    if cls is LogisticRegression:
        y = (y == 0).astype(int)
    X = X8 if uint8 else X8.astype(dtype) / dtype(255)
    params = dict(
        random_state=5,
        max_epochs=6,
        batch_size=16,
        learning_rate=0.2,
        validation_interval=3,
        lr_schedule="inverse",
        lr_decay=0.5,
        patience=100,
        dtype=np.dtype(dtype).name,
        input_scale=1 / 255 if uint8 else None,
    )
    m_np = cls(backend="numpy", **params).fit(X, y)
    m_cy = cls(backend="cython", **params).fit(X, y)
    assert m_np.backend_ == "numpy" and m_cy.backend_ == "cython"
    assert m_cy.coef_.dtype == dtype
    np.testing.assert_allclose(m_cy.coef_, m_np.coef_, rtol=rtol, atol=0)
    np.testing.assert_allclose(m_cy.intercept_, m_np.intercept_, rtol=rtol, atol=0)
    assert m_cy.n_iter_ == m_np.n_iter_ and m_cy.best_epoch_ == m_np.best_epoch_
    assert m_cy.history_["step"] == m_np.history_["step"]
    np.testing.assert_allclose(
        m_cy.history_["val_loss"], m_np.history_["val_loss"], rtol=10 * rtol
    )
    np.testing.assert_allclose(
        m_cy.history_["train_loss"], m_np.history_["train_loss"], rtol=10 * rtol
    )


# ----------------------------------------------------------------------------- early stopping
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_early_stopping_keeps_the_best_validation_weights(backend, cls):
    """The returned model's validation loss equals the minimum of history_["val_loss"],
    and training stopped `patience` checks after that minimum."""
    X, y = data_for(cls, n=400, spread=2.5)
    X_val, y_val = data_for(cls, n=150, seed=1, spread=2.5)
    X_val = X_val + 1.0  # a shifted validation set: its loss turns up soon
    model = cls(
        backend=backend.name,
        random_state=0,
        learning_rate=1.0,
        batch_size=8,
        validation_interval=4,
        patience=6,
        max_epochs=200,
    ).fit(X, y, X_val=X_val, y_val=y_val)
    h = model.history_
    best = int(np.argmin(h["val_loss"]))
    assert len(h["val_loss"]) == best + 1 + 6 and model.n_iter_ < 200
    assert model.best_epoch_ == h["epoch"][best] and model.n_iter_ == h["epoch"][-1]
    assert log_loss(model, X_val, y_val) == pytest.approx(min(h["val_loss"]), rel=1e-10)
    assert log_loss(model, X_val, y_val) < h["val_loss"][-1]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_early_stopping_with_the_internal_split(backend, cls):
    X, y = data_for(cls, n=500, spread=2.0)
    model = cls(
        backend=backend.name, random_state=0, validation_fraction=0.2, patience=3, max_epochs=300
    ).fit(X, y)
    h = model.history_
    assert model.n_iter_ < 300 and len(h["val_loss"]) == model.n_iter_
    assert model.best_epoch_ == int(np.argmin(h["val_loss"])) + 1
    assert model.n_iter_ == model.best_epoch_ + 3
    # 80% of the rows train: ceil(400 / 32) steps per epoch
    assert h["step"][0] == 13 and model.t_ == 13 * model.n_iter_
    assert all(math.isfinite(v) for v in h["val_accuracy"])


def test_without_early_stopping_all_epochs_run(backend):
    X, y = blobs(k=3)
    model = SoftmaxRegression(
        backend=backend.name,
        early_stopping=False,
        max_epochs=7,
        validation_interval=2,
        random_state=0,
    ).fit(X, y)
    assert model.n_iter_ == 7 == model.best_epoch_ and len(model.history_["step"]) == 14
    assert all(math.isnan(v) for v in model.history_["val_loss"])
    assert model.t_ == 7 * 8  # all 240 rows train
    # an explicit validation set is still measured, but does not stop or pick weights
    model.fit(X, y, X_val=X[:50], y_val=y[:50])
    assert model.n_iter_ == 7 == model.best_epoch_
    assert log_loss(model, X[:50], y[:50]) == pytest.approx(
        model.history_["val_loss"][-1], rel=1e-10
    )


def test_validation_split_is_stratified(backend):
    X, y = blobs(n=1000, k=3)
    model = SoftmaxRegression(
        backend=backend.name, random_state=0, max_epochs=1, validation_fraction=0.25
    ).fit(X, y)
    counts = np.bincount(y)
    held = sum(np.floor(0.25 * c + 0.5) for c in counts)
    assert model.history_["step"][0] == -(-(1000 - int(held)) // 32)


# ----------------------------------------------------------------------------- divergence
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_diverging_fit_raises_and_leaves_the_model_unfitted(backend, cls, dtype):
    """A diverging first fit commits nothing (fastreg at bd4b8e0 kept the last finite
    weights); the error carries the failed run for inspection."""
    X, y = data_for(cls, dtype=dtype)
    model = cls(backend=backend.name, learning_rate=1e7, l2=1.0, random_state=0)
    advice = r"lower learning_rate \(e\.g\. learning_rate=1e\+06"
    with pytest.raises(FloatingPointError, match=advice) as info:
        model.fit(X * 100, y)
    assert not hasattr(model, "coef_") and not hasattr(model, "history_")
    with pytest.raises(NotFittedError):
        model.predict(X)
    res = info.value.result
    assert np.isfinite(res.coef).all() and np.isfinite(res.intercept).all()
    assert res.coef.dtype == dtype and res.coef.shape[1] == X.shape[1]
    assert all(math.isfinite(v) for v in res.history["train_loss"])


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_divergence_does_not_corrupt_a_trained_model(backend, cls):
    """A diverging warm-start fit or partial_fit leaves the weights the model had."""
    X, y = data_for(cls)
    model = cls(backend=backend.name, random_state=0, max_epochs=5).fit(X, y)
    coef, intercept = model.coef_.copy(), model.intercept_.copy()
    # l2 = 1 with this rate multiplies the weights by about -2e15 per step: the weights
    # overflow within the first epoch, before any validation check
    model.set_params(warm_start=True, learning_rate=1e15, l2=1.0, batch_size=8)
    with pytest.raises(TrainingDivergedError):
        model.fit(X * 1e3, y)
    np.testing.assert_array_equal(model.coef_, coef)
    np.testing.assert_array_equal(model.intercept_, intercept)
    with pytest.raises(TrainingDivergedError):
        model.partial_fit(X * 1e3, y)
    np.testing.assert_array_equal(model.coef_, coef)
    np.testing.assert_array_equal(model.intercept_, intercept)
    model.set_params(learning_rate=0.1, batch_size=32)
    model.partial_fit(X, y)  # and it trains on
    assert not np.array_equal(model.coef_, coef)


# ------------------------------------------------------------------------- partial_fit, warm_start
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_epochs_equal_fit_epochs(backend, cls):
    X, y = data_for(cls)
    params = dict(backend=backend.name, random_state=7, lr_schedule="exponential", lr_decay=0.5)
    full = cls(early_stopping=False, max_epochs=3, **params).fit(X, y)
    inc = cls(max_epochs=3, **params)
    for _ in range(3):
        inc.partial_fit(X, y, classes=np.unique(y))
    np.testing.assert_array_equal(inc.coef_, full.coef_)
    np.testing.assert_array_equal(inc.intercept_, full.intercept_)
    assert inc.n_iter_ == 3 and inc.t_ == full.t_ == 24 and inc.best_epoch_ == 3
    assert inc.history_["step"] == full.history_["step"]
    assert inc.history_["learning_rate"] == full.history_["learning_rate"]


def test_partial_fit_rules(backend):
    X, y = blobs(k=3)
    model = SoftmaxRegression(backend=backend.name, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X, y)
    model.partial_fit(X[:100], y[:100], classes=[0, 1, 2, 3])  # label 3 not seen yet
    assert list(model.classes_) == [0, 1, 2, 3] and model.coef_.shape == (4, 5)
    model.partial_fit(X[100:], y[100:])
    assert model.n_iter_ == 2
    with pytest.raises(ValueError, match="differs from the classes"):
        model.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"labels \[9\] that are not among the classes"):
        model.partial_fit(X[:3], [0, 9, 1])
    with pytest.raises(ValueError, match="X has 4 features, but SoftmaxRegression is expecting 5"):
        model.partial_fit(X[:, :4], y)
    # LogisticRegression takes more than two classes too (softmax rows)
    multi = LogisticRegression(backend=backend.name).partial_fit(X, y, classes=[0, 1, 2])
    assert multi.coef_.shape == (3, 5)
    # the dtype is fixed by the first call; later batches are converted to it
    m32 = LogisticRegression(backend=backend.name).partial_fit(
        X.astype(np.float32), y == 0, classes=[False, True]
    )
    m32.partial_fit(X, y == 0)
    assert m32.coef_.dtype == np.float32


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_warm_start_continues_from_the_weights(backend, cls):
    X, y = data_for(cls)
    model = cls(backend=backend.name, random_state=0, max_epochs=3).fit(X, y)
    coef = model.coef_.copy()
    model.set_params(warm_start=True, learning_rate=1e-12, early_stopping=False, max_epochs=1)
    model.fit(X, y)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-9)  # tiny steps from the old weights
    assert model.n_iter_ == 1 and len(model.history_["step"]) == 1  # history restarts
    model.set_params(warm_start=False)
    model.fit(X, y)
    assert np.abs(model.coef_).max() < 1e-9  # from zeros again
    model.set_params(warm_start=True, learning_rate=0.1)
    with pytest.raises(ValueError, match="X has 4 features"):
        model.fit(X[:, :4], y)
    if cls is SoftmaxRegression:
        with pytest.raises(ValueError, match="warm_start=True continues from a model of classes"):
            model.fit(X, np.where(y == 2, 5, y))


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_input_errors(cls):
    X, y = data_for(cls)
    model = cls(backend="numpy", max_epochs=2)
    cases = [
        (X[:, 0], y, ValueError, "Reshape your data"),
        (X.reshape(len(X), 5, 1), y, ValueError, "flatten images"),
        (
            np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X),
            y,
            ValueError,
            "Input X contains NaN or infinity",
        ),
        (X, None, ValueError, "requires y to be passed"),
        (X, y + 0.5, ValueError, "Unknown label type: continuous"),
        (X, y[:-1], ValueError, "inconsistent numbers of samples"),
        (X, np.zeros(len(y)), ValueError, "only one class"),
        (X, np.column_stack([y, y]), ValueError, "y should be a 1d array"),
        (X.astype(complex), y, ValueError, "Complex data not supported"),
        (np.empty((0, 5)), [], ValueError, "0 sample"),
    ]
    for Xb, yb, exc, match in cases:
        with pytest.raises(exc, match=match):
            model.fit(Xb, yb)


def test_logistic_regression_is_multinomial_above_two_classes(backend):
    """As scikit-learn's LogisticRegression: K >= 3 classes train the softmax model, coef_
    (K, d), decision_function (n, K); it is the same model as SoftmaxRegression's."""
    X, y = blobs(k=4)
    params = dict(backend=backend.name, random_state=0, max_epochs=5)
    lr = LogisticRegression(**params).fit(X, y)
    sm = SoftmaxRegression(**params).fit(X, y)
    assert lr.coef_.shape == (4, 5) and lr.intercept_.shape == (4,)
    assert lr.decision_function(X).shape == (len(X), 4)
    np.testing.assert_array_equal(lr.coef_, sm.coef_)
    np.testing.assert_array_equal(lr.predict_proba(X), sm.predict_proba(X))
    assert lr.score(X, y) > 0.9
    # two classes: the sigmoid model of one row, whatever the labels were before
    assert LogisticRegression(**params).fit(X, y % 2).coef_.shape == (1, 5)


@pytest.mark.parametrize(
    "param, value, exc, match",
    [
        ("learning_rate", -0.1, ValueError, "learning_rate must be a real number > 0"),
        ("batch_size", 0, ValueError, "batch_size must be an integer >= 1"),
        ("batch_size", 3.5, TypeError, "batch_size must be an integer"),
        ("max_epochs", 0, ValueError, "max_epochs"),
        ("l2", -1.0, ValueError, "l2 must be a real number >= 0"),
        ("lr_schedule", "warmup", ValueError, "lr_schedule must be one of"),
        (
            "validation_fraction",
            1.0,
            ValueError,
            r"validation_fraction must be a real number in \(0, 1\)",
        ),
        ("patience", 0, ValueError, "patience"),
        ("min_delta", -1e-3, ValueError, "min_delta"),
        ("validation_interval", 0, ValueError, "validation_interval"),
        ("early_stopping", "yes", TypeError, "early_stopping must be True or False"),
        ("backend", "gpu", ValueError, "backend must be one of"),
        ("input_scale", 0.0, ValueError, "input_scale must be None or a real number > 0"),
        ("n_threads", 0, ValueError, "n_threads"),
        ("random_state", "seed", ValueError, "random_state must be None, an int"),
    ],
)
def test_bad_hyper_parameters_fail_at_fit(param, value, exc, match):
    X, y = blobs(k=2)
    model = LogisticRegression(**{param: value})  # __init__ and set_params never validate
    with pytest.raises(exc, match=match) as info:
        model.fit(X, y)
    assert isinstance(info.value, InvalidParameterError) and info.value.param == param


def test_predict_errors():
    X, y = blobs(k=3)
    model = SoftmaxRegression(backend="numpy")
    with pytest.raises(ValueError, match="not fitted yet"):
        model.predict(X)
    with pytest.raises(AttributeError):  # NotFittedError is both, as in scikit-learn
        model.predict_proba(X)
    model.set_params(max_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features, but SoftmaxRegression is expecting 5"):
        model.predict(X[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.full((2, 5), np.inf))
    with pytest.raises(ValueError, match="pass both X_val and y_val"):
        model.fit(X, y, X_val=X)
    with pytest.raises(ValueError, match="X_val has 4 features"):
        model.fit(X, y, X_val=X[:, :4], y_val=y)
    with pytest.raises(TypeError):  # X_val is keyword-only: a third argument is sample_weight
        model.fit(X, y, None, X, y)


def test_score_with_sample_weight(backend):
    X, y = blobs(k=3)
    model = SoftmaxRegression(backend=backend.name, random_state=0, max_epochs=5).fit(X, y)
    pred = model.predict(X)
    w = np.linspace(0.1, 2, len(y))
    assert model.score(X, y) == pytest.approx(np.mean(pred == y))
    assert model.score(X, y, sample_weight=w) == pytest.approx(np.average(pred == y, weights=w))


# ----------------------------------------------------------------------------- backend, threads
def test_backend_auto_follows_the_environment(monkeypatch):
    X, y = blobs(k=2)
    monkeypatch.setenv("FASTREG_BACKEND", "numpy")
    assert LogisticRegression(max_epochs=1).fit(X, y).backend_ == "numpy"
    assert LogisticRegression(max_epochs=1, backend="numpy").fit(X, y).backend_ == "numpy"


@pytest.mark.requires_cython
def test_n_threads_is_passed_to_the_kernel():
    X, y = blobs(n=2000, d=40, k=4)
    one = SoftmaxRegression(
        backend="cython", random_state=0, max_epochs=3, n_threads=1, batch_size=256
    ).fit(X, y)
    two = SoftmaxRegression(
        backend="cython", random_state=0, max_epochs=3, n_threads=2, batch_size=256
    ).fit(X, y)
    np.testing.assert_allclose(two.coef_, one.coef_, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- progress
def test_verbose_prints_epochs(backend, capsys):
    X, y = blobs(k=3)
    SoftmaxRegression(
        backend=backend.name,
        verbose=2,
        max_epochs=3,
        early_stopping=True,
        patience=50,
        random_state=0,
    ).fit(X, y)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    for epoch, line in enumerate(lines, 1):
        assert line.startswith(f"SoftmaxRegression epoch {epoch}/3: train loss ")
        assert "val loss 0." in line and "val accuracy " in line


def test_verbose_bar(backend, monkeypatch, capsys):
    pytest.importorskip("tqdm")
    from fastreg import _progress

    monkeypatch.setattr(_progress, "_draws_in_place", lambda file: True)  # as on a terminal
    X, y = blobs(k=2)
    LogisticRegression(
        backend=backend.name, verbose=1, max_epochs=4, patience=50, random_state=0
    ).fit(X, y)
    err = capsys.readouterr().err
    assert "LogisticRegression" in err and "4/4" in err and "val_acc=" in err


def test_quiet_by_default(backend, capsys):
    X, y = blobs(k=2)
    LogisticRegression(backend=backend.name, max_epochs=2).fit(X, y)
    assert capsys.readouterr() == ("", "")


# ----------------------------------------------------------------------------- memory
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fit_does_not_copy_X(backend, cls):
    """Peak memory of a float32 fit stays below 1.5x the size of X plus a few MB: the
    validation rows (10%) are the only copy of the data."""
    rng = np.random.default_rng(0)
    X = rng.random((25000, 400), dtype=np.float32)  # 40 MB
    y = (X[:, 0] > 0.5).astype(int) + (cls is SoftmaxRegression) * (X[:, 1] > 0.5)
    model = cls(backend=backend.name, max_epochs=1, random_state=0)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        model.fit(X, y)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert model.coef_.dtype == np.float32
    assert peak <= 0.5 * X.nbytes + 4e6, (
        f"fit allocated {peak / 1e6:.1f} MB for X of {X.nbytes / 1e6:.0f} MB"
    )
    assert peak >= 0.1 * X.nbytes  # the validation copy is seen: the measurement works


# ------------------------------------------------- predict_log_proba at extreme logits
@pytest.mark.parametrize("dtype, z", [(np.float32, 1e7), (np.float64, 1e17)])
def test_predict_log_proba_at_tied_extreme_logits(backend, dtype, z):
    """log p_k = (z_k - m) - log sum e^{z - m}: tied logits of 1e7 (float32) or 1e17 (float64)
    give -log K for each class, consistent with predict_proba's 1/K (fastreg at bd4b8e0
    computed z_k - (m + log sum), which rounds to 0: log-probabilities [0, 0, 0])."""
    X, y = blobs(k=3, dtype=dtype)
    model = SoftmaxRegression(backend=backend.name, max_epochs=1, random_state=0).fit(X, y)
    model.coef_ = np.zeros_like(model.coef_)
    for sign in (1, -1):
        model.intercept_ = np.full(3, sign * z, dtype=dtype)
        logp = model.predict_log_proba(X[:5])
        np.testing.assert_allclose(logp, -np.log(3), rtol=1e-6)
        np.testing.assert_allclose(model.predict_proba(X[:5]), 1 / 3, rtol=1e-6)
        np.testing.assert_allclose(np.exp(logp), model.predict_proba(X[:5]), rtol=1e-6)
    # one class far ahead: the others' log-probability is minus the gap, exactly
    model.intercept_ = np.array([z, 0, 0], dtype=dtype)
    logp = model.predict_log_proba(X[:2])
    assert np.all(logp[:, 0] == 0) and np.all(logp[:, 1:] == -dtype(z))
