"""feature_names_in_: the column names of a DataFrame, with scikit-learn's behaviour and words.

Each warning and error is compared with what scikit-learn's own LogisticRegression says in the
same situation (its ``_check_feature_names``), so the wording is theirs exactly.
"""

import pickle
import warnings

import numpy as np
import pytest

import fastreg
from fastreg import LogisticRegression, SoftmaxRegression

pd = pytest.importorskip("pandas")
sklearn_lm = pytest.importorskip("sklearn.linear_model")

ESTIMATORS = [LogisticRegression, SoftmaxRegression]
NAMES = [f"f{i}" for i in range(8)]


def _frame(columns=NAMES, n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(columns)))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    return pd.DataFrame(X, columns=columns), y


def _outcome(call):
    """("warn", [messages]) or ("raise", the exception) of ``call``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the outcome is compared, whatever it is
            return "raise", exc
    return "warn", [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def _same_as_sklearn(ours, theirs, method, X):
    kind, got = _outcome(lambda: getattr(ours, method)(X))
    kind_sk, want = _outcome(lambda: getattr(theirs, method)(X))
    assert kind == kind_sk
    if kind == "warn":
        assert got == [w.replace("LogisticRegression", type(ours).__name__) for w in want]
    else:  # the same text, and an instance of scikit-learn's class (fastreg's is both)
        assert str(got) == str(want) and isinstance(got, type(want))
        got = str(got)
    return kind, got


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fit_on_a_frame_records_the_names(backend, cls):
    X, y = _frame()
    model = cls(backend=backend.name, random_state=0, max_epochs=3).fit(X, y)
    assert model.feature_names_in_.dtype == object
    assert model.feature_names_in_.tolist() == NAMES
    ref = cls(backend=backend.name, random_state=0, max_epochs=3).fit(X.to_numpy(), y)
    np.testing.assert_array_equal(model.coef_, ref.coef_)
    assert not hasattr(ref, "feature_names_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(model.predict_proba(X), ref.predict_proba(X.to_numpy()))
    # non-string names are no names; a refit on an array forgets the old ones
    unnamed = cls(backend=backend.name, max_epochs=2).fit(pd.DataFrame(X.to_numpy()), y)
    assert not hasattr(unnamed, "feature_names_in_")
    model.fit(X.to_numpy(), y)
    assert not hasattr(model, "feature_names_in_")


CASES = {
    "array after frame": lambda X: X.to_numpy(),
    "same frame": lambda X: X,
    "reordered": lambda X: X[NAMES[::-1]],
    "one renamed": lambda X: X.rename(columns={"f3": "g3"}),
    "many renamed": lambda X: X.set_axis([f"g{i}" for i in range(8)], axis=1),
    "integer names": lambda X: X.set_axis(list(range(8)), axis=1),
    "mixed names": lambda X: X.set_axis(["a", 1] + NAMES[2:], axis=1),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "decision_function", "predict_log_proba"]
)
def test_checks_after_a_frame_fit_say_what_scikit_learn_says(case, method):
    X, y = _frame()
    ours = SoftmaxRegression(backend="numpy", max_epochs=2).fit(X, y)
    theirs = sklearn_lm.LogisticRegression(max_iter=50).fit(X, y)
    kind, got = _same_as_sklearn(ours, theirs, method, CASES[case](X))
    expected = {"array after frame": "warn", "same frame": "warn", "integer names": "warn"}
    assert kind == expected.get(case, "raise")
    if case in ("array after frame", "integer names"):
        assert got == [
            "X does not have valid feature names, but SoftmaxRegression was fitted "
            "with feature names"
        ]
    if case == "reordered":
        assert got == (
            "The feature names should match those that were passed during fit."
            "\nFeature names must be in the same order as they were in fit.\n"
        )
    if case == "many renamed":
        assert "Feature names unseen at fit time:\n- g0\n- g1\n- g2\n- g3\n- g4\n- ...\n" in got


def test_a_frame_after_an_array_fit_warns():
    X, y = _frame()
    ours = LogisticRegression(backend="numpy", max_epochs=2).fit(X.to_numpy(), y)
    theirs = sklearn_lm.LogisticRegression(max_iter=50).fit(X.to_numpy(), y)
    _kind, got = _same_as_sklearn(ours, theirs, "predict", X)
    assert got == ["X has feature names, but LogisticRegression was fitted without feature names"]


def test_fit_on_mixed_names_is_a_type_error_and_changes_nothing():
    X, y = _frame()
    model = LogisticRegression(backend="numpy", max_epochs=2).fit(X, y)
    before = pickle.dumps(model)
    mixed = X.set_axis(["a", 1] + NAMES[2:], axis=1)
    with pytest.raises(
        TypeError,
        match="Feature names are only supported if all input "
        r"features have string names, but your input has "
        r"\['int', 'str'\]",
    ):
        model.fit(mixed, y)
    assert pickle.dumps(model) == before


def test_score_and_partial_fit_check_the_names(backend):
    X, y = _frame()
    model = SoftmaxRegression(backend=backend.name, random_state=0)
    model.partial_fit(X, y, classes=[0, 1, 2])  # the first call records the names
    assert model.feature_names_in_.tolist() == NAMES
    model.partial_fit(X, y)  # the same names: silent
    before = pickle.dumps(model)
    with pytest.raises(ValueError, match="The feature names should match"):
        model.partial_fit(X[NAMES[::-1]], y)
    assert pickle.dumps(model) == before
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.partial_fit(X.to_numpy(), y)
    with pytest.raises(
        ValueError, match="Feature names seen at fit time, yet now missing:\n- f7\n"
    ):
        model.score(X.drop(columns="f7").assign(h="x"), y)


def test_model_files_keep_the_names(tmp_path):
    X, y = _frame(columns=["área", "länge"] + NAMES[2:])
    model = LogisticRegression(backend="numpy", max_epochs=2).fit(X, y % 2)
    path = model.save(tmp_path / "m")
    with np.load(path, allow_pickle=False) as archive:
        assert archive["feature_names_in_"].dtype.kind == "U"
    loaded = fastreg.load(path)
    assert loaded.feature_names_in_.dtype == object
    assert loaded.feature_names_in_.tolist() == model.feature_names_in_.tolist()
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        loaded.predict(X.to_numpy())
    plain = LogisticRegression(backend="numpy", max_epochs=2).fit(X.to_numpy(), y % 2)
    assert not hasattr(fastreg.load(plain.save(tmp_path / "p")), "feature_names_in_")
