"""learning_rate="auto" (the default) at the estimators: learning_rate_ and step_scale_.

fit and the first partial_fit call ``auto_step`` on the training rows and keep the result;
partial_fit chains and warm_start keep it; an explicit number is today's behaviour (no step
scales); the schedule starts from learning_rate_; model files store both, and files of
format 1 (without them) still load. Also: LogisticRegression on more than two classes in
model files.
"""

import json
import math

import numpy as np
import pytest

import fastreg
from fastreg import LogisticRegression, SoftmaxRegression
from fastreg._training import fit as fit_driver
from fastreg._training.split import stratified_holdout
from fastreg._training.step_size import auto_step
from fastreg.exceptions import ModelFileError, TrainingDivergedError

ESTIMATORS = [LogisticRegression, SoftmaxRegression]


def _data(cls, n=200, d=5, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    k = 2 if cls is LogisticRegression else 3
    y = rng.integers(0, k, size=n)
    X = (rng.normal(scale=2.0, size=(k, d))[y] + rng.normal(size=(n, d))) * np.geomspace(
        0.1, 300, d
    )
    return X.astype(dtype), y


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_records_the_auto_step_of_its_training_rows(backend, cls, dtype):
    X, y = _data(cls, dtype=dtype)
    model = cls(backend=backend.name, random_state=4, max_epochs=3, l2=1e-3).fit(X, y)
    assert model.learning_rate == "auto"
    codes = np.searchsorted(model.classes_, y)
    _, rows = stratified_holdout(codes, len(model.classes_), 0.1, np.random.default_rng(4))
    lr, scale = auto_step(X, rows, None, model.coef_.shape[0], 32, 1e-3, None, dtype=dtype)
    assert type(model.learning_rate_) is float and model.learning_rate_ == lr
    assert model.step_scale_.dtype == dtype and model.step_scale_.shape == (5,)
    np.testing.assert_array_equal(model.step_scale_, scale)
    # the schedule starts from it
    assert model.history_["learning_rate"] == [lr] * 3


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_an_explicit_learning_rate_has_no_step_scales(backend, cls):
    X, y = _data(cls)
    model = cls(
        backend=backend.name,
        random_state=0,
        max_epochs=2,
        learning_rate=0.003,
        lr_schedule="step",
        lr_decay=0.5,
        lr_decay_steps=3,
    ).fit(X, y)
    assert model.learning_rate_ == 0.003 and model.step_scale_ is None
    steps = np.array(model.history_["step"])
    np.testing.assert_allclose(
        model.history_["learning_rate"], 0.003 * 0.5 ** np.floor((steps - 1) / 3)
    )


def test_the_schedule_decays_from_learning_rate_(backend):
    X, y = _data(SoftmaxRegression)
    model = SoftmaxRegression(
        backend=backend.name,
        random_state=0,
        max_epochs=3,
        lr_schedule="exponential",
        lr_decay=0.5,
        validation_interval=2,
    ).fit(X, y)
    steps = np.array(model.history_["step"])
    np.testing.assert_allclose(
        model.history_["learning_rate"],
        model.learning_rate_ * 0.5 ** ((steps - 1) / 6),
        rtol=1e-12,
    )


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_computes_on_the_first_call_and_keeps(backend, cls):
    X, y = _data(cls)
    classes = np.unique(y)
    model = cls(backend=backend.name, random_state=0)
    model.partial_fit(X[:100], y[:100], classes=classes)
    lr, scale = model.learning_rate_, model.step_scale_.copy()
    first = auto_step(X[:100], np.arange(100), None, model.coef_.shape[0], 32, 0.0, None)
    assert lr == first[0]
    model.partial_fit(X[100:] * 50, y[100:])  # another scale: the steps stay
    assert model.learning_rate_ == lr
    np.testing.assert_array_equal(model.step_scale_, scale)
    model.set_params(learning_rate=0.01)
    model.partial_fit(X[100:], y[100:])
    assert model.learning_rate_ == 0.01 and model.step_scale_ is None


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_warm_start_keeps_the_steps_and_a_cold_fit_does_not(backend, cls):
    X, y = _data(cls)
    model = cls(backend=backend.name, random_state=0, max_epochs=2).fit(X, y)
    lr, scale = model.learning_rate_, model.step_scale_.copy()
    model.set_params(warm_start=True).fit(X * 10, y)
    assert model.learning_rate_ == lr
    np.testing.assert_array_equal(model.step_scale_, scale)
    model.set_params(warm_start=False).fit(X * 10, y)
    np.testing.assert_allclose(model.step_scale_, scale / 100, rtol=1e-12)


def test_a_callable_schedule_gives_its_rates_as_they_are(backend):
    X, y = _data(SoftmaxRegression)
    model = SoftmaxRegression(
        backend=backend.name, random_state=0, max_epochs=2, lr_schedule=lambda t: 1e-4 * (t + 1)
    ).fit(X, y)
    assert math.isnan(model.learning_rate_) and model.step_scale_ is None
    steps = np.array(model.history_["step"])
    np.testing.assert_allclose(model.history_["learning_rate"], 1e-4 * steps)


def test_auto_trains_unscaled_features_a_fixed_rate_cannot():
    """The wine data (features from 0.1 to 1700): "auto" learns it, 0.1 and 1e-3 do not."""
    datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.model_selection import train_test_split

    X, y = datasets.load_wine(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0, stratify=y)
    auto = SoftmaxRegression(backend="numpy", random_state=0).fit(X_tr, y_tr)
    assert auto.score(X_te, y_te) > 0.9
    for rate in (0.1, 1e-3):
        fixed = SoftmaxRegression(backend="numpy", random_state=0, learning_rate=rate)
        assert fixed.fit(X_tr, y_tr).score(X_te, y_te) < 0.6


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_divergence_under_auto_suggests_an_explicit_rate(backend, cls, monkeypatch):
    """The error's learning_rate is the explicit rate whose steps are nowhere larger than
    auto's (the largest rate times the smallest step scale); a tenth of it is the advice."""
    X, y = _data(cls)
    model = cls(backend=backend.name, random_state=0, max_epochs=2).fit(X, y)
    coef = model.coef_.copy()
    real = fit_driver.auto_step

    def huge(*args, **kwargs):
        lr, scale = real(*args, **kwargs)
        return lr * 1e12, scale

    monkeypatch.setattr(fit_driver, "auto_step", huge)
    with pytest.raises(TrainingDivergedError, match="times per-feature step scales") as info:
        model.fit(X, y)
    err = info.value
    scale = model.step_scale_  # the same data: the same scales
    assert err.learning_rate == pytest.approx(
        float(np.max(err.result.history["learning_rate"] or [model.learning_rate_ * 1e12]))
        * float(scale.min()),
        rel=1e-6,
    )
    assert f"learning_rate={err.learning_rate / 10:.3g}" in err.hint
    np.testing.assert_array_equal(model.coef_, coef)


# ------------------------------------------------------------------ model files
def _members(path):
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_model_files_store_the_steps(tmp_path, cls, dtype):
    X, y = _data(cls, dtype=dtype)
    model = cls(backend="numpy", random_state=0, max_epochs=2).fit(X, y)
    loaded = fastreg.load(model.save(tmp_path / "m"))
    assert loaded.learning_rate_ == model.learning_rate_
    np.testing.assert_array_equal(loaded.step_scale_, model.step_scale_)
    assert loaded.step_scale_.dtype == dtype
    # and a partial_fit chain goes on with them
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.step_scale_, model.step_scale_)
    explicit = cls(backend="numpy", learning_rate=0.2, max_epochs=2).fit(X, y)
    again = fastreg.load(explicit.save(tmp_path / "e"))
    assert again.learning_rate_ == 0.2 and again.step_scale_ is None


def test_files_of_format_1_still_load(tmp_path):
    """Written before learning_rate="auto": no learning_rate_, no step_scale_ entries."""
    X, y = _data(SoftmaxRegression)
    model = SoftmaxRegression(backend="numpy", learning_rate=0.05, max_epochs=2).fit(X, y)
    members = _members(model.save(tmp_path / "m"))
    for key in ("learning_rate_", "step_scale_"):
        del members[key]
    members["format_version"] = np.array(1)
    np.savez(tmp_path / "old.npz", **members)
    old = fastreg.load(tmp_path / "old.npz")
    assert old.learning_rate_ == 0.05 and old.step_scale_ is None
    np.testing.assert_array_equal(old.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(step_scale_=np.ones(3)), "step_scale_ of shape"),
        (dict(step_scale_=-np.ones(5)), "is not finite and > 0"),
        (dict(learning_rate_=np.array(-1.0)), "learning_rate_ is -1.0"),
        (dict(learning_rate_=np.array("fast")), "learning_rate_"),
    ],
)
def test_bad_step_entries_are_refused(tmp_path, change, match):
    X, y = _data(SoftmaxRegression)
    model = SoftmaxRegression(backend="numpy", max_epochs=2).fit(X, y)
    members = {**_members(model.save(tmp_path / "m")), **change}
    np.savez(tmp_path / "bad.npz", **members)
    with pytest.raises(ModelFileError, match=match):
        fastreg.load(tmp_path / "bad.npz")


def test_multiclass_logistic_regression_files(tmp_path):
    X, y = _data(SoftmaxRegression)
    model = LogisticRegression(backend="numpy", max_epochs=2).fit(X, y)
    assert model.coef_.shape == (3, 5)
    path = model.save(tmp_path / "m")
    assert json.loads(str(_members(path)["params"]))["learning_rate"] == "auto"
    loaded = fastreg.load(path)
    assert type(loaded) is LogisticRegression and loaded.coef_.shape == (3, 5)
    np.testing.assert_array_equal(loaded.decision_function(X), model.decision_function(X))
    # a two-class file still has one row; one of two rows is refused as it was
    two = LogisticRegression(backend="numpy", max_epochs=2).fit(X, y % 2)
    members = _members(two.save(tmp_path / "two"))
    assert members["coef_"].shape == (1, 5)
    members["coef_"] = np.zeros((2, 5))
    np.savez(tmp_path / "bad.npz", **members)
    with pytest.raises(ModelFileError, match=r"coef_'?: shape \(2, 5\), expected \(1, 5\)"):
        fastreg.load(tmp_path / "bad.npz")
