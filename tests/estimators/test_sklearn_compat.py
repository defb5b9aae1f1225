"""scikit-learn compatibility: the estimator checks; pipelines, CV, search, clone and pickle.

scikit-learn's whole estimator check suite runs on LogisticRegression and SoftmaxRegression, on
every selected backend, with no expected failures (``EXPECTED_FAILED_CHECKS`` is empty; a check
that fails fails the suite).

The parametrisation is built from scikit-learn's public generator
(``sklearn.utils.estimator_checks.estimator_checks_generator``, what
``parametrize_with_checks`` itself iterates) rather than by ``parametrize_with_checks``,
because two checks run on another instance, following scikit-learn's own convention for its
estimators (``PER_ESTIMATOR_CHECK_PARAMS`` in ``sklearn/utils/_test_common/
instance_generator.py``, which that decorator applies to scikit-learn's estimators only):

* ``check_sample_weight_equivalence_on_dense_data`` and ``..._on_sparse_data`` compare a fit
  with integer sample weights to a fit on the repeated rows, to rtol 1e-7. No stochastic
  mini-batch method with a random hold-out can meet that (the batches, and the held-out rows,
  differ between the two data sets; scikit-learn marks these checks as expected failures of
  its SGDClassifier). They run on :data:`FULL_BATCH`: ``early_stopping=False`` (no random
  hold-out) and a ``batch_size`` larger than any data the checks use (every step is the
  full-batch gradient step of J = sum w E / sum w, which the weighted and the repeated data
  share; the order of rows within a batch changes only rounding). ``learning_rate="auto"``
  is invariant to repeated rows, so both fits take the same steps: the equivalence holds
  for real. Every other check runs on the default instances.

Two remarks on checks that scikit-learn itself would skip here:

* ``check_array_api_input`` (NumPy namespace) only runs with SCIPY_ARRAY_API=1; the test sets it
  for the duration of each check so that this check runs too.
* ``check_classifier_data_not_an_array`` first fits on scikit-learn's ``_NotAnArray`` wrapper,
  then on pandas objects; pandas is not in fastreg's test extra, so when it is missing the
  check raises SkipTest after its NotAnArray half has passed. That SkipTest, and only that
  one, is treated as a pass; with pandas installed the check runs in full.
"""

import os
import pickle
import re
import subprocess
import sys
import textwrap
import warnings
from unittest import SkipTest

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone, is_classifier  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402
from sklearn.utils.estimator_checks import estimator_checks_generator  # noqa: E402

import fastreg  # noqa: E402
from fastreg import LogisticRegression, SoftmaxRegression  # noqa: E402


def _selected_backends():
    env = os.environ.get("FASTREG_BACKEND", "").strip().lower()
    if env in ("cython", "numpy"):
        return [env]
    return fastreg.available_backends()


ESTIMATORS = [
    cls(backend=name)
    for cls in (LogisticRegression, SoftmaxRegression)
    for name in _selected_backends()
]

#: Checks expected to fail, with the reason (none).
EXPECTED_FAILED_CHECKS = {}

#: The deterministic full-batch solver the two sample-weight equivalence checks run on (see
#: the module docstring); the checks' data have at most a few dozen rows.
FULL_BATCH = dict(early_stopping=False, batch_size=1 << 20)
FULL_BATCH_CHECKS = (
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weight_equivalence_on_sparse_data",
)


def _check_name(check):
    return getattr(check, "__name__", None) or _check_name(check.func)


def _checks():
    """(estimator, check) pairs of every check of every estimator, the full-batch instance for
    :data:`FULL_BATCH_CHECKS` (what PER_ESTIMATOR_CHECK_PARAMS does for scikit-learn's own)."""
    for estimator in ESTIMATORS:
        for est, check in estimator_checks_generator(
            estimator,
            legacy=True,
            expected_failed_checks=EXPECTED_FAILED_CHECKS,
            mark="xfail",
            xfail_strict=True,
        ):
            if _check_name(check) in FULL_BATCH_CHECKS:
                est = clone(est).set_params(**FULL_BATCH)
            yield est, check


def _id(value):
    """Test ids as parametrize_with_checks writes them: the estimator, then the check."""
    if hasattr(value, "get_params"):
        return re.sub(r"\s+", "", repr(value))
    keywords = getattr(value, "keywords", None) or {}
    args = ",".join(f"{k}={v}" for k, v in keywords.items())
    return f"{_check_name(value)}({args})" if args else _check_name(value)


CHECKS = list(_checks())


@pytest.mark.parametrize("estimator, check", CHECKS, ids=_id)
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    try:
        check(estimator)
    except SkipTest as exc:
        if _check_name(
            check
        ) == "check_classifier_data_not_an_array" and "pandas is not installed" in str(exc):
            return  # the NotAnArray half ran and passed; see the module docstring
        raise


def test_only_the_equivalence_checks_run_on_the_full_batch_instance():
    """The parametrisation is the whole suite, unmarked, with the defaults everywhere except
    the two sample-weight equivalence checks (which do run, sparse included)."""
    names = [_check_name(check) for _, check in CHECKS]
    assert all(not hasattr(pair, "marks") for pair in CHECKS)
    for name in FULL_BATCH_CHECKS + (
        "check_sample_weights_shape",
        "check_estimator_sparse_array",
        "check_class_weight_classifiers",
        "check_all_zero_sample_weights_error",
    ):
        assert names.count(name) == len(ESTIMATORS), name
    for est, check in CHECKS:
        defaults = type(est)().get_params()
        changed = {
            k: v for k, v in est.get_params().items() if k != "backend" and v != defaults[k]
        }
        assert changed == (FULL_BATCH if _check_name(check) in FULL_BATCH_CHECKS else {})


def _blobs(n=300, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(k, 4))
    y = rng.integers(0, k, size=n)
    return (centers[y] + rng.normal(size=(n, 4))) * 5 + 50, y  # unscaled features


def test_tags_and_type():
    for name in _selected_backends():
        assert is_classifier(LogisticRegression(backend=name))
        for cls in (LogisticRegression, SoftmaxRegression):
            tags = get_tags(cls(backend=name))
            assert tags.classifier_tags.multi_class is True and tags.input_tags.sparse is True
    assert fastreg.linear_model.HAVE_SKLEARN
    assert isinstance(SoftmaxRegression(), sklearn.base.BaseEstimator)


@pytest.mark.parametrize("name", _selected_backends())
def test_pipeline_cross_validation_and_grid_search(name):
    X, y = _blobs()
    pipe = make_pipeline(
        StandardScaler(), SoftmaxRegression(backend=name, random_state=0, max_epochs=30)
    )
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8
    search = GridSearchCV(
        pipe,
        {"softmaxregression__learning_rate": [0.01, 0.3], "softmaxregression__l2": [0.0, 1e-3]},
        cv=3,
    )
    search.fit(X, y)
    assert search.best_score_ > 0.8
    assert set(search.best_params_) == {
        "softmaxregression__learning_rate",
        "softmaxregression__l2",
    }
    assert search.best_estimator_[-1].coef_.shape == (3, 4)


def test_grid_search_scores_a_diverging_candidate_as_nan():
    """fit raises on divergence, so a search marks that candidate failed instead of scoring
    a broken model; the other candidates are unaffected."""
    X, y = _blobs(k=2)
    search = GridSearchCV(
        LogisticRegression(backend="numpy", random_state=0, l2=1.0, max_epochs=20),
        {"learning_rate": [1e15, 0.005]},
        cv=2,
        error_score=np.nan,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y)
    assert np.isnan(search.cv_results_["mean_test_score"][0])
    assert search.best_params_ == {"learning_rate": 0.005}
    assert any("lower learning_rate" in str(w.message).lower() for w in caught)


@pytest.mark.parametrize("cls", [LogisticRegression, SoftmaxRegression])
def test_clone_and_pickle(cls):
    X, y = _blobs(k=2 if cls is LogisticRegression else 3)
    model = cls(
        backend=_selected_backends()[0],
        learning_rate=0.05,
        random_state=3,
        lr_schedule="cosine",
        max_epochs=8,
    )
    model.fit(X / 50, y)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "coef_")
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.coef_, model.coef_)
    np.testing.assert_array_equal(restored.predict_proba(X / 50), model.predict_proba(X / 50))
    assert restored.history_ == model.history_
    copy.fit(X / 50, y)
    np.testing.assert_array_equal(copy.coef_, model.coef_)  # same params, same seed


def test_works_without_sklearn(tmp_path):
    """scikit-learn is optional: with it made unimportable the estimators still fit, predict,
    expose the parameter protocol, raise the same errors, pickle and save."""
    script = textwrap.dedent(f"""
        import pickle, sys, warnings
        sys.modules["sklearn"] = None  # any import of sklearn now raises ImportError
        import numpy as np
        import fastreg
        from fastreg import linear_model
        assert not linear_model.HAVE_SKLEARN
        rng = np.random.default_rng(0)
        X = rng.normal(size=(200, 3)); y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
        m = fastreg.LogisticRegression(backend="numpy", random_state=0, max_epochs=20)
        try:
            m.predict(X)
        except fastreg.NotFittedError as exc:
            assert isinstance(exc, ValueError) and isinstance(exc, AttributeError)
        else:
            raise AssertionError("no NotFittedError")
        assert m.fit(X, y) is m and m.score(X, y) > 0.9
        assert repr(m) == "LogisticRegression(backend='numpy', max_epochs=20, random_state=0)"
        params = m.get_params()
        assert params["learning_rate"] == "auto" and len(params) == 21
        twin = type(m)(**params).fit(X, y)
        np.testing.assert_array_equal(twin.coef_, m.coef_)
        assert m.set_params(l2=0.5) is m and m.l2 == 0.5
        try:
            m.set_params(alpha=1)
        except ValueError as exc:
            assert "Invalid parameter 'alpha'" in str(exc)
        else:
            raise AssertionError("set_params accepted an unknown parameter")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m.fit(X, y[:, None])
        assert [w.category.__name__ for w in caught] == ["DataConversionWarning"]
        again = pickle.loads(pickle.dumps(m))
        np.testing.assert_array_equal(again.predict(X), m.predict(X))
        path = m.save({str(tmp_path / "m")!r})
        np.testing.assert_array_equal(fastreg.load(path).predict_proba(X), m.predict_proba(X))
        y3 = np.digitize(X[:, 0], [-0.5, 0.5])
        s = fastreg.SoftmaxRegression(backend="numpy", random_state=0).fit(X, y3)
        assert s.coef_.shape == (3, 3) and s.score(X, y3) > 0.8
        lr3 = fastreg.LogisticRegression(backend="numpy", random_state=0,
                                         class_weight="balanced")
        lr3.fit(X, y3, sample_weight=np.linspace(0, 1, len(y3)))
        assert lr3.coef_.shape == (3, 3) and lr3.step_scale_.shape == (3,)
        print("ok")
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=root, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


@pytest.mark.parametrize("cls", [LogisticRegression, SoftmaxRegression])
def test_not_fitted_error_is_both_sklearns_and_fastregs(cls):
    """Code written for scikit-learn catches it, and so does code written for fastreg."""
    from sklearn.exceptions import NotFittedError as SkNotFittedError
    from sklearn.utils.validation import check_is_fitted

    model = cls()
    for method in (model.predict, model.predict_proba, model.decision_function):
        with pytest.raises(SkNotFittedError) as info:
            method(np.zeros((2, 3)))
        assert isinstance(info.value, fastreg.NotFittedError)
        assert isinstance(info.value, fastreg.exceptions.FastregError)
    with pytest.raises(fastreg.NotFittedError):
        model.save("unused")
    with pytest.raises(SkNotFittedError):
        check_is_fitted(model)
