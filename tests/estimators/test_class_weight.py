"""class_weight = None | "balanced" | {label: weight}: w_n = sample_weight_n class_weight[y_n].

"balanced" is scikit-learn's compute_class_weight on the y given to fit; a dict weighs the
labels it names (others 1) and refuses labels that are not classes; partial_fit refuses
"balanced"; the weights also weigh an explicit validation set; model files keep the dict.
"""

import pickle

import numpy as np
import pytest

import fastreg
from fastreg import LogisticRegression, SoftmaxRegression
from fastreg.exceptions import InvalidParameterError

ESTIMATORS = [LogisticRegression, SoftmaxRegression]


def _data(cls, n=150, d=4, seed=0, labels=None):
    rng = np.random.default_rng(seed)
    k = 2 if cls is LogisticRegression else 3
    centers = rng.normal(scale=1.0, size=(k, d))
    codes = np.minimum(rng.integers(0, 2 * k, size=n), k - 1)  # unbalanced: the last is common
    X = centers[codes] + rng.normal(size=(n, d))
    labels = np.arange(k) * 10 + 5 if labels is None else np.asarray(labels)
    return X, labels[codes]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_balanced_is_scikit_learns_compute_class_weight(backend, cls):
    from sklearn.utils.class_weight import compute_class_weight

    X, y = _data(cls)
    params = dict(backend=backend.name, random_state=0, max_epochs=4)
    balanced = cls(class_weight="balanced", **params).fit(X, y)
    classes = np.unique(y)
    weights = compute_class_weight("balanced", classes=classes, y=y)
    manual = cls(class_weight=dict(zip(classes.tolist(), weights)), **params).fit(X, y)
    np.testing.assert_array_equal(balanced.coef_, manual.coef_)
    by_sample = cls(**params).fit(X, y, sample_weight=weights[np.searchsorted(classes, y)])
    np.testing.assert_array_equal(balanced.coef_, by_sample.coef_)
    assert not np.array_equal(cls(**params).fit(X, y).coef_, balanced.coef_)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_dict_multiplies_sample_weight_and_missing_labels_weigh_one(backend, cls):
    X, y = _data(cls)
    sw = np.random.default_rng(1).uniform(0.2, 2, size=len(y))
    params = dict(backend=backend.name, random_state=0, max_epochs=4)
    first = int(np.unique(y)[0])
    both = cls(class_weight={first: 4.0}, **params).fit(X, y, sample_weight=sw)
    product = cls(**params).fit(X, y, sample_weight=sw * np.where(y == first, 4.0, 1.0))
    np.testing.assert_array_equal(both.coef_, product.coef_)


def test_string_labels_and_zero_weight_classes(backend):
    X, y = _data(SoftmaxRegression, labels=["ant", "bee", "cat"])
    params = dict(backend=backend.name, random_state=0, max_epochs=4)
    model = SoftmaxRegression(class_weight={"ant": 2.0, "cat": 0.5}, **params).fit(X, y)
    assert model.coef_.shape == (3, 4)
    # a class of weight 0 is left out of training (its rows dropped), not out of classes_
    zero = SoftmaxRegression(class_weight={"bee": 0}, **params).fit(X, y)
    assert list(zero.classes_) == ["ant", "bee", "cat"] and "bee" not in set(zero.predict(X))
    with pytest.raises(
        InvalidParameterError, match="at least 2 classes with a weight above"
    ) as info:
        SoftmaxRegression(class_weight={"bee": 0, "cat": 0}, **params).fit(X, y)
    assert "class" in str(info.value)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_unknown_labels_are_refused_and_change_nothing(method):
    X, y = _data(SoftmaxRegression)
    model = SoftmaxRegression(backend="numpy", random_state=0, max_epochs=2).fit(X, y)
    before = pickle.dumps(model)
    model.set_params(class_weight={5: 1.0, 99: 2.0, "x": 1.0})
    with pytest.raises(
        InvalidParameterError,
        match=r"class_weight names labels \[99, 'x'\] "
        r"that are not classes",
    ) as info:
        model.fit(X, y) if method == "fit" else model.partial_fit(X, y)
    assert info.value.param == "class_weight"
    model.set_params(class_weight=None)
    assert pickle.dumps(model) == before


@pytest.mark.parametrize(
    "value, match",
    [
        ("auto", "class_weight must be None, 'balanced' or a dict"),
        ({5: -1}, "got the weight -1 for the class 5"),
        ({5: np.inf}, "got the weight inf for the class 5"),
    ],
)
def test_bad_class_weight_values(value, match):
    X, y = _data(SoftmaxRegression)
    with pytest.raises(InvalidParameterError, match=match) as info:
        SoftmaxRegression(backend="numpy", class_weight=value).fit(X, y)
    assert info.value.param == "class_weight"


def test_partial_fit_refuses_balanced_and_takes_a_dict(backend):
    X, y = _data(SoftmaxRegression)
    classes = np.unique(y)
    model = SoftmaxRegression(backend=backend.name, random_state=0).partial_fit(
        X, y, classes=classes
    )
    before = pickle.dumps(model)
    model.set_params(class_weight="balanced")
    with pytest.raises(
        InvalidParameterError, match="class_weight 'balanced' is not supported for partial_fit"
    ) as info:
        model.partial_fit(X, y)
    assert info.value.param == "class_weight" and "compute_class_weight" in info.value.hint
    model.set_params(class_weight=None)
    assert pickle.dumps(model) == before
    with pytest.raises(InvalidParameterError, match="not supported for partial_fit"):
        SoftmaxRegression(class_weight="balanced").partial_fit(X, y, classes=classes)
    params = dict(backend=backend.name, random_state=0)
    weighted = SoftmaxRegression(class_weight={5: 3.0}, **params).partial_fit(
        X, y, classes=classes
    )
    by_sample = SoftmaxRegression(**params).partial_fit(
        X, y, classes=classes, sample_weight=np.where(y == 5, 3.0, 1.0)
    )
    np.testing.assert_array_equal(weighted.coef_, by_sample.coef_)


def test_explicit_validation_set_is_weighted_by_class(backend):
    X, y = _data(LogisticRegression, n=200)
    X_val, y_val = _data(LogisticRegression, n=80, seed=1)
    cw = {5: 3.0, 15: 0.5}
    model = LogisticRegression(
        backend=backend.name, random_state=0, max_epochs=3, early_stopping=False, class_weight=cw
    ).fit(X, y, X_val=X_val, y_val=y_val)
    w = np.where(y_val == 5, 3.0, 0.5)
    logp = model.predict_log_proba(X_val)[
        np.arange(len(y_val)), np.searchsorted(model.classes_, y_val)
    ]
    assert model.history_["val_loss"][-1] == pytest.approx(-np.sum(w * logp) / w.sum(), rel=1e-9)
    right = model.predict(X_val) == y_val
    assert model.history_["val_accuracy"][-1] == pytest.approx(np.sum(w * right) / w.sum())


@pytest.mark.parametrize("cw", [{5: 2.0, 15: 0.25}, {"ant": 1.5}, "balanced", {True: 2.0}])
def test_model_files_keep_the_class_weight(tmp_path, cw):
    if isinstance(cw, dict) and "ant" in cw:
        labels = ["ant", "bee"]
    elif isinstance(cw, dict) and True in cw:
        labels = [False, True]
    else:
        labels = None
    X, y = _data(LogisticRegression, labels=labels)
    model = LogisticRegression(backend="numpy", random_state=0, max_epochs=2, class_weight=cw).fit(
        X, y
    )
    loaded = fastreg.load(model.save(tmp_path / "m"))
    assert loaded.class_weight == cw
    if isinstance(cw, dict):
        assert [type(k) for k in loaded.class_weight] == [type(k) for k in cw]
    loaded.fit(X, y)
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
