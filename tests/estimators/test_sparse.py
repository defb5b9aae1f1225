"""scipy.sparse input in fit, partial_fit, predict*, decision_function and score.

CSR is used as given (other formats converted once), float32/float64 values kept, integers
made float64, never densified; the same data and seed give the same model as dense input;
input_scale and non-finite values are refused with clear errors.
"""

import pickle

import numpy as np
import pytest

from fastreg import LogisticRegression, SoftmaxRegression
from fastreg.exceptions import InvalidParameterError

sparse = pytest.importorskip("scipy.sparse")

ESTIMATORS = [LogisticRegression, SoftmaxRegression]


def _data(cls, n=240, d=12, seed=0, dtype=np.float64):
    """Rows with about a third of their entries nonzero, of several scales."""
    rng = np.random.default_rng(seed)
    k = 2 if cls is LogisticRegression else 3
    y = rng.integers(0, k, size=n)
    centers = rng.normal(scale=2.0, size=(k, d))
    X = (centers[y] + rng.normal(size=(n, d))) * (rng.random((n, d)) < 0.35)
    X *= np.linspace(0.5, 20, d)
    return X.astype(dtype), y


class NoDense(sparse.csr_matrix):
    """A CSR matrix that refuses to become dense: training and prediction never ask."""

    def toarray(self, *args, **kwargs):
        raise AssertionError("densified")

    todense = toarray

    def __array__(self, *args, **kwargs):
        raise AssertionError("densified")


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("learning_rate", ["auto", 0.01])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-5), (np.float32, 2e-5)])
def test_sparse_and_dense_give_the_same_model(backend, cls, learning_rate, dtype, tol):
    """Same data, same seed: same hold-out, shuffles and steps, so the same weights and
    predictions, to 1e-5 in float64 (measured: 1e-15). float32 to 2e-5: the sparse kernels
    sum only the nonzero products, in another order, so each of the 42 steps rounds
    differently at float32's 6e-8; measured up to 4.4e-7 of the largest weight (compiled
    backend), which 2e-5 bounds with a margin of 40."""
    X, y = _data(cls, dtype=dtype)
    params = dict(
        backend=backend.name,
        learning_rate=learning_rate,
        random_state=1,
        max_epochs=6,
        validation_interval=2,
        patience=100,
    )
    dense = cls(**params).fit(X, y)
    sp = cls(**params).fit(sparse.csr_matrix(X), y)
    assert sp.coef_.dtype == dtype and sp.n_iter_ == dense.n_iter_
    scale = np.abs(dense.coef_).max()
    np.testing.assert_allclose(sp.coef_, dense.coef_, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(sp.intercept_, dense.intercept_, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(sp.history_["val_loss"], dense.history_["val_loss"], rtol=tol)
    if learning_rate == "auto":
        np.testing.assert_allclose(sp.step_scale_, dense.step_scale_, rtol=1e-6)
    Xs = sparse.csr_matrix(X)
    for method in ("decision_function", "predict_proba", "predict_log_proba"):
        np.testing.assert_allclose(
            getattr(sp, method)(Xs),
            getattr(sp, method)(X),
            rtol=1e-5 if dtype == np.float32 else 1e-12,
            atol=1e-6,
        )
    np.testing.assert_array_equal(sp.predict(Xs), sp.predict(X))
    assert sp.score(Xs, y) == sp.score(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_and_validation_sets_take_sparse_chunks(backend, cls):
    X, y = _data(cls)
    classes = np.unique(y)
    params = dict(backend=backend.name, random_state=2, learning_rate=0.02)
    dense, sp = cls(**params), cls(**params)
    for start in range(0, len(y), 80):
        chunk = slice(start, start + 80)
        dense.partial_fit(X[chunk], y[chunk], classes=classes)
        sp.partial_fit(sparse.csr_matrix(X[chunk]), y[chunk], classes=classes)
    np.testing.assert_allclose(sp.coef_, dense.coef_, rtol=1e-9, atol=1e-12)
    a = cls(**params).fit(X[:160], y[:160], X_val=sparse.csr_array(X[160:]), y_val=y[160:])
    b = cls(**params).fit(X[:160], y[:160], X_val=X[160:], y_val=y[160:])
    np.testing.assert_allclose(a.history_["val_loss"], b.history_["val_loss"], rtol=1e-10)


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil", "dok", "bsr"])
def test_other_formats_and_types(backend, fmt):
    X, y = _data(SoftmaxRegression)
    params = dict(backend=backend.name, random_state=0, max_epochs=3)
    ref = SoftmaxRegression(**params).fit(sparse.csr_matrix(X), y)
    other = SoftmaxRegression(**params).fit(sparse.csr_array(X).asformat(fmt), y)
    np.testing.assert_array_equal(other.coef_, ref.coef_)
    np.testing.assert_array_equal(other.predict(sparse.coo_matrix(X)), ref.predict(X))
    # integer values become float64; float32 stays float32 (and predicts float64 data too)
    Xi = sparse.csr_matrix(np.round(X).astype(np.int64))
    assert SoftmaxRegression(**params).fit(Xi, y).coef_.dtype == np.float64
    m32 = SoftmaxRegression(**params).fit(sparse.csr_matrix(X.astype(np.float32)), y)
    assert (
        m32.coef_.dtype == np.float32
        and m32.predict_proba(sparse.csr_matrix(X)).dtype == np.float32
    )
    # 64-bit indices
    X64 = sparse.csr_matrix(X)
    X64.indices, X64.indptr = X64.indices.astype(np.int64), X64.indptr.astype(np.int64)
    np.testing.assert_array_equal(SoftmaxRegression(**params).fit(X64, y).coef_, ref.coef_)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_never_densified(backend, cls):
    X, y = _data(cls)
    Xs = NoDense(X)
    with pytest.raises(AssertionError, match="densified"):
        Xs.toarray()
    model = cls(backend=backend.name, random_state=0, max_epochs=3).fit(
        Xs, y, sample_weight=np.linspace(0, 1, len(y))
    )
    model.partial_fit(Xs, y)
    for method in ("decision_function", "predict_proba", "predict_log_proba", "predict"):
        getattr(model, method)(Xs)
    assert model.score(Xs, y) > 0.5


@pytest.mark.parametrize("method", ["fit", "partial_fit", "predict", "fit X_val"])
def test_input_scale_with_sparse_is_refused(method):
    X, y = _data(SoftmaxRegression)
    model = SoftmaxRegression(backend="numpy", random_state=0, max_epochs=2).fit(X, y)
    before = pickle.dumps(model)
    model.set_params(input_scale=0.5)
    Xs = sparse.csr_matrix(X)
    with pytest.raises(
        InvalidParameterError, match=r"input_scale=0\.5 cannot be used with sparse X"
    ) as info:
        if method == "fit":
            model.fit(Xs, y)
        elif method == "partial_fit":
            model.partial_fit(Xs, y)
        elif method == "predict":
            model.predict(Xs)
        else:
            model.fit(X, y, X_val=Xs, y_val=y)
    err = info.value
    assert err.param == "input_scale" and "input_scale=None" in err.hint
    assert "used as given" in str(err)
    model.set_params(input_scale=None)
    assert pickle.dumps(model) == before


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_sparse_values_are_refused(value):
    X, y = _data(LogisticRegression)
    Xs = sparse.csr_matrix(X)
    Xs.data[5] = value
    model = LogisticRegression(backend="numpy", max_epochs=2)
    with pytest.raises(InvalidParameterError, match=r"Input X contains NaN or infinity \(1 "):
        model.fit(Xs, y)
    model.fit(X, y)
    with pytest.raises(InvalidParameterError, match="Input X contains NaN or infinity"):
        model.predict(Xs)


def test_wrong_feature_count_and_tags():
    X, y = _data(LogisticRegression)
    model = LogisticRegression(backend="numpy", max_epochs=2).fit(sparse.csr_matrix(X), y)
    with pytest.raises(
        InvalidParameterError, match="X has 11 features, but LogisticRegression is expecting 12"
    ):
        model.predict(sparse.csr_matrix(X[:, 1:]))
    pytest.importorskip("sklearn")
    from sklearn.utils import get_tags

    assert get_tags(model).input_tags.sparse is True
