"""Hand-derived gradients against centred finite differences (cs231n's gradient check).

``fastreg.loss_and_grad`` returns dJ/dcoef and dJ/dintercept from the chain rule;
``numerical_gradient`` estimates them as (J(theta + eps) - J(theta - eps)) / (2 eps), error
O(eps^2), in float64. Both take and return the estimators' layout: coef (K, d), intercept (K,),
K = 1 for logistic regression. They must agree to a relative error below 1e-6 for both
models, with and without the L2 penalty, on every backend, for moderate logits and for large
ones (|z| ~ 30, where a naive log(sigmoid) or unshifted softmax would lose the digits the
check needs).

With ``sample_weight`` w the objective is the weighted mean sum w E / sum w (+ the penalty):
its gradient against finite differences, integer weights against repeated rows, zero weights
against dropped rows, uniform weights against none, and the errors for bad weights.
"""

import numpy as np
import pytest

import fastreg
from fastreg import SoftmaxRegression
from fastreg.exceptions import InvalidParameterError


def rel_error(a, b):
    """max_i |a_i - b_i| / max(|a_i| + |b_i|, 1e-8): cs231n's measure, strict for every entry."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def problem(model, logit_scale, seed=0, dtype=np.float64):
    """The draws of the pre-0.2 test (W (d, K) transposed into coef (K, d))."""
    rng = np.random.default_rng([seed, int(logit_scale)])
    n, d, k = 10, 6, 4
    X = rng.standard_normal((n, d))
    if model == "logistic":
        y = rng.integers(0, 2, n)
        coef = (rng.standard_normal(d) * logit_scale / np.sqrt(d)).reshape(1, d)
        intercept = np.array([rng.standard_normal()])
    else:
        y = np.arange(n) % k  # every class present
        coef = (rng.standard_normal((d, k)) * logit_scale / np.sqrt(d)).T.copy()
        intercept = rng.standard_normal(k)
    return X.astype(dtype), y, coef.astype(dtype), intercept.astype(dtype)


@pytest.mark.parametrize("model", ("logistic", "softmax"))
@pytest.mark.parametrize("l2", (0.0, 0.1))
@pytest.mark.parametrize("logit_scale", (1.0, 30.0))
def test_gradient_matches_finite_differences(backend, model, l2, logit_scale):
    X, y, coef, intercept = problem(model, logit_scale)
    loss, g_coef, g_int = fastreg.loss_and_grad(X, y, coef, intercept, l2=l2, backend=backend.name)
    num_coef, num_int = fastreg.numerical_gradient(
        X, y, coef, intercept, l2=l2, backend=backend.name
    )
    assert np.isfinite(loss)
    assert g_coef.shape == num_coef.shape == coef.shape
    assert g_int.shape == num_int.shape == intercept.shape
    assert rel_error(g_coef, num_coef) < 1e-6, rel_error(g_coef, num_coef)
    assert rel_error(g_int, num_int) < 1e-6, rel_error(g_int, num_int)


@pytest.mark.parametrize("model", ("logistic", "softmax"))
def test_penalty_adds_exactly_its_gradient(backend, model):
    """J(l2) - J(0) = l2 ||coef||^2 and dJ/dcoef gains 2 l2 coef; the intercept is not
    penalised."""
    X, y, coef, intercept = problem(model, 1.0)
    loss0, g0, b0 = fastreg.loss_and_grad(X, y, coef, intercept, l2=0.0, backend=backend.name)
    loss1, g1, b1 = fastreg.loss_and_grad(X, y, coef, intercept, l2=0.1, backend=backend.name)
    assert loss1 - loss0 == pytest.approx(0.1 * np.sum(coef**2), rel=1e-12)
    np.testing.assert_allclose(g1 - g0, 0.2 * coef, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(b1, b0)


@pytest.mark.parametrize("model", ("logistic", "softmax"))
def test_float32_gradient_matches_finite_differences(backend, model):
    """float32 arithmetic still gives the float64 finite-difference gradient to ~1e-5."""
    X, y, coef, intercept = problem(model, 1.0, dtype=np.float32)
    _loss, g_coef, g_int = fastreg.loss_and_grad(
        X, y, coef, intercept, l2=0.1, backend=backend.name
    )
    assert g_coef.dtype == g_int.dtype == np.float32
    num_coef, num_int = fastreg.numerical_gradient(
        X, y, coef, intercept, l2=0.1, backend=backend.name
    )
    scale = np.max(np.abs(num_coef))
    np.testing.assert_allclose(g_coef, num_coef, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(g_int, num_int, rtol=1e-5, atol=1e-5 * scale)


def test_square_weights_are_read_as_coef(backend):
    """d == K: ``loss_and_grad(X, y, m.coef_, m.intercept_)`` is the model's own training
    objective (before 0.2.0 it read coef_ as W (d, K) and returned another loss). The check:
    one full-batch gradient step of the model, started from zeros, equals coef - lr * grad."""
    rng = np.random.default_rng(0)
    d = k = 3
    X = rng.normal(size=(60, d))
    y = np.argmax(X @ rng.normal(size=(d, k)) + 0.3 * rng.normal(size=(60, k)), axis=1)
    lr, l2 = 0.5, 0.01
    model = SoftmaxRegression(
        backend=backend.name,
        learning_rate=lr,
        l2=l2,
        batch_size=60,
        max_epochs=1,
        early_stopping=False,
        shuffle=False,
        random_state=0,
    ).fit(X, y)
    zeros, zeros_b = np.zeros((k, d)), np.zeros(k)
    _, g_coef, g_int = fastreg.loss_and_grad(X, y, zeros, zeros_b, l2=l2, backend=backend.name)
    np.testing.assert_allclose(model.coef_, -lr * g_coef, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(model.intercept_, -lr * g_int, rtol=1e-12, atol=1e-15)
    # and at the trained weights: the loss the kernel measures is the objective's
    loss, g_coef, _ = fastreg.loss_and_grad(
        X, y, model.coef_, model.intercept_, backend=backend.name
    )
    Z = X @ model.coef_.T + model.intercept_
    expected = np.mean(np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(60), y])
    assert loss == pytest.approx(expected, rel=1e-12)
    transposed = fastreg.loss_and_grad(
        X, y, model.coef_.T.copy(), model.intercept_, backend=backend.name
    )[0]
    assert transposed != pytest.approx(loss, rel=1e-6)  # the layout matters when d == K


def test_logistic_coef_is_one_row(backend):
    """K = 1: the logistic model's coef_ (1, d) and intercept_ (1,) go in as they are."""
    from fastreg import LogisticRegression

    X, y, _, _ = problem("logistic", 1.0)
    m = LogisticRegression(
        backend=backend.name, max_epochs=3, early_stopping=False, random_state=0
    ).fit(X, y)
    loss, g_coef, g_int = fastreg.loss_and_grad(X, y, m.coef_, m.intercept_, backend=backend.name)
    z = X @ m.coef_[0] + m.intercept_[0]
    assert loss == pytest.approx(np.mean(np.logaddexp(0, z) - y * z), rel=1e-12)
    assert g_coef.shape == (1, X.shape[1]) and g_int.shape == (1,)


# ------------------------------------------------- extreme logits: the stable log-softmax
@pytest.mark.parametrize("dtype, z", [(np.float32, 1e7), (np.float64, 1e17)])
@pytest.mark.parametrize("k", [2, 3, 10])
def test_cross_entropy_at_tied_extreme_logits_is_log_k(backend, dtype, z, k):
    """E = (m - z_y) + log sum_c e^{z_c - m} on both backends: at K tied logits of 1e7
    (float32) or 1e17 (float64) every row costs log K, and the gradient is 1/K - onehot.
    (m + log sum) - z_y, the NumPy twin's formula before bd4b8e0, gave 1.0 instead of log 3 in
    float32: m + log 3 rounds to m, and the difference to z_y is one ulp of 1e7.)"""
    y = np.arange(2 * k, dtype=np.intc) % k
    Z = np.full((2 * k, k), z, dtype=dtype)
    for sign in (1, -1):
        loss = backend.cross_entropy(sign * Z, y)
        np.testing.assert_allclose(loss, np.log(k), rtol=1e-6)
        loss2, grad = backend.cross_entropy_grad(sign * Z, y)
        np.testing.assert_allclose(loss2, np.log(k), rtol=1e-6)
        want = np.full((2 * k, k), 1 / k) - np.eye(k)[y]
        np.testing.assert_allclose(grad, want, rtol=1e-6, atol=1e-7)
    # one logit far ahead: the others' loss is the gap, exactly, and the leader's is ~0
    Z = np.zeros((k, k), dtype=dtype)
    Z[:, 0] = z
    loss = backend.cross_entropy(Z, np.arange(k, dtype=np.intc))
    assert loss[0] == 0 and np.all(loss[1:] == dtype(z))


# ------------------------------------------------------------------------------ sample weights
def weights(n, seed=0):
    """Weights in [0, 3] with some exact zeros."""
    w = np.random.default_rng(seed).uniform(0.0, 3.0, n)
    w[::4] = 0.0
    return w


@pytest.mark.parametrize("model", ("logistic", "softmax"))
@pytest.mark.parametrize("l2", (0.0, 0.1))
@pytest.mark.parametrize("logit_scale", (1.0, 30.0))
def test_weighted_gradient_matches_finite_differences(backend, model, l2, logit_scale):
    X, y, coef, intercept = problem(model, logit_scale)
    w = weights(len(y))
    loss, g_coef, g_int = fastreg.loss_and_grad(
        X, y, coef, intercept, l2=l2, sample_weight=w, backend=backend.name
    )
    num_coef, num_int = fastreg.numerical_gradient(
        X, y, coef, intercept, l2=l2, sample_weight=w, backend=backend.name
    )
    assert np.isfinite(loss)
    assert rel_error(g_coef, num_coef) < 1e-6, rel_error(g_coef, num_coef)
    assert rel_error(g_int, num_int) < 1e-6, rel_error(g_int, num_int)
    plain = fastreg.loss_and_grad(X, y, coef, intercept, l2=l2, backend=backend.name)
    assert rel_error(plain[1], g_coef) > 1e-3  # the weights matter


@pytest.mark.parametrize("model", ("logistic", "softmax"))
def test_weighted_float32_gradient_matches_finite_differences(backend, model):
    X, y, coef, intercept = problem(model, 1.0, dtype=np.float32)
    w = weights(len(y)).astype(np.float32)
    _, g_coef, g_int = fastreg.loss_and_grad(
        X, y, coef, intercept, l2=0.1, sample_weight=w, backend=backend.name
    )
    assert g_coef.dtype == g_int.dtype == np.float32
    num_coef, num_int = fastreg.numerical_gradient(
        X, y, coef, intercept, l2=0.1, sample_weight=w, backend=backend.name
    )
    scale = np.max(np.abs(num_coef))
    np.testing.assert_allclose(g_coef, num_coef, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(g_int, num_int, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("model", ("logistic", "softmax"))
def test_integer_zero_and_uniform_weights(backend, model):
    """Integer weights are repeated rows (0: a dropped row), and weights all equal to c are no
    weights, whatever c: J is a weighted mean."""
    X, y, coef, intercept = problem(model, 3.0)
    w = np.random.default_rng(2).integers(0, 4, len(y))
    w[0] = 0
    rows = np.repeat(np.arange(len(y)), w)
    kw = dict(l2=0.05, backend=backend.name)
    got = fastreg.loss_and_grad(X, y, coef, intercept, sample_weight=w, **kw)
    want = fastreg.loss_and_grad(X[rows], y[rows], coef, intercept, **kw)
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)
    plain = fastreg.loss_and_grad(X, y, coef, intercept, **kw)
    for c in (1.0, 2.5, 1e-3, 7):
        uniform = fastreg.loss_and_grad(
            X, y, coef, intercept, sample_weight=np.full(len(y), c), **kw
        )
        for g, e in zip(uniform, plain):
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)
    scalar = fastreg.loss_and_grad(X, y, coef, intercept, sample_weight=2.5, **kw)
    np.testing.assert_allclose(scalar[1], plain[1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.ones(9), "9 weights, but X has 10 samples"),
        (np.ones((10, 1)), "1-d"),
        (-np.ones(10), "Negative values in sample_weight"),
        (np.r_[np.ones(9), np.nan], "NaN or infinity"),
        (np.r_[np.ones(9), np.inf], "NaN or infinity"),
        (np.zeros(10), "All sample weights are zero"),
        (["a"] * 10, "must be numbers"),
    ],
)
def test_bad_sample_weight_is_refused_at_the_public_edge(backend, bad, match):
    """The objective checks the weights itself (an InvalidParameterError naming sample_weight),
    numerical_gradient too, before any kernel runs."""
    X, y, coef, intercept = problem("softmax", 1.0)
    for func in (fastreg.loss_and_grad, fastreg.numerical_gradient):
        with pytest.raises(InvalidParameterError, match=match) as info:
            func(X, y, coef, intercept, sample_weight=bad, backend=backend.name)
        assert info.value.param == "sample_weight"
    too_large = np.full(10, 1e300)
    with pytest.raises(InvalidParameterError, match="too large for float32"):
        fastreg.loss_and_grad(
            X.astype(np.float32),
            y,
            coef.astype(np.float32),
            intercept,
            sample_weight=too_large,
            backend=backend.name,
        )
