"""Hand-derived gradients against centred finite differences (cs231n's gradient check).

``fastreg.loss_and_grad`` returns dJ/dW and dJ/db from the chain rule; ``numerical_gradient``
estimates them as (J(theta + eps) - J(theta - eps)) / (2 eps), error O(eps^2), in float64.
They must agree to a relative error below 1e-6 for both models, with and without the L2
penalty, on every backend, for moderate logits and for large ones (|z| ~ 30, where a naive
log(sigmoid) or unshifted softmax would already lose the digits the check needs).
"""
import numpy as np
import pytest

import fastreg


def rel_error(a, b):
    """max_i |a_i - b_i| / max(|a_i| + |b_i|, 1e-8): cs231n's measure, strict for every entry."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def problem(model, logit_scale, seed=0, dtype=np.float64):
    rng = np.random.default_rng([seed, int(logit_scale)])
    n, d, k = 10, 6, 4
    X = rng.standard_normal((n, d))
    if model == "logistic":
        y = rng.integers(0, 2, n)
        W = rng.standard_normal(d) * logit_scale / np.sqrt(d)
        b = float(rng.standard_normal())
    else:
        y = np.arange(n) % k  # every class present
        W = rng.standard_normal((d, k)) * logit_scale / np.sqrt(d)
        b = rng.standard_normal(k)
    return X.astype(dtype), y, W.astype(dtype), (np.asarray(b, dtype) if np.ndim(b) else b)


@pytest.mark.parametrize("model", ("logistic", "softmax"))
@pytest.mark.parametrize("l2", (0.0, 0.1))
@pytest.mark.parametrize("logit_scale", (1.0, 30.0))
def test_gradient_matches_finite_differences(backend, model, l2, logit_scale):
    X, y, W, b = problem(model, logit_scale)
    loss, dW, db = fastreg.loss_and_grad(X, y, W, b, l2=l2, backend=backend)
    num_dW, num_db = fastreg.numerical_gradient(X, y, W, b, l2=l2, backend=backend)
    assert np.isfinite(loss)
    assert np.shape(dW) == np.shape(W) and np.shape(db) == np.shape(b)
    assert rel_error(dW, num_dW) < 1e-6, rel_error(dW, num_dW)
    assert rel_error(db, num_db) < 1e-6, rel_error(db, num_db)


@pytest.mark.parametrize("model", ("logistic", "softmax"))
def test_penalty_adds_exactly_its_gradient(backend, model):
    """J(l2) - J(0) = l2 ||W||^2 and dJ/dW gains 2 l2 W; the intercept is not penalised."""
    X, y, W, b = problem(model, 1.0)
    loss0, dW0, db0 = fastreg.loss_and_grad(X, y, W, b, l2=0.0, backend=backend)
    loss1, dW1, db1 = fastreg.loss_and_grad(X, y, W, b, l2=0.1, backend=backend)
    assert loss1 - loss0 == pytest.approx(0.1 * np.sum(W ** 2), rel=1e-12)
    np.testing.assert_allclose(dW1 - dW0, 0.2 * W, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(db1, db0)


@pytest.mark.parametrize("model", ("logistic", "softmax"))
def test_float32_gradient_matches_finite_differences(backend, model):
    """float32 arithmetic still gives the float64 finite-difference gradient to ~1e-5."""
    X, y, W, b = problem(model, 1.0, dtype=np.float32)
    loss, dW, db = fastreg.loss_and_grad(X, y, W, b, l2=0.1, backend=backend)
    assert dW.dtype == np.float32
    num_dW, num_db = fastreg.numerical_gradient(X, y, W, b, l2=0.1, backend=backend)
    scale = np.max(np.abs(num_dW))
    np.testing.assert_allclose(dW, num_dW, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(db, num_db, rtol=1e-5, atol=1e-5 * scale)
