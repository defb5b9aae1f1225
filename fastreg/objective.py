"""The objective of both models, its hand-derived gradient, and a finite-difference check.

One weight layout, that of the estimators' ``coef_`` and ``intercept_``: coef (K, d) with one
row per class, intercept (K,). K = 1 is logistic regression (labels y in {0, 1}), K >= 2
softmax regression (labels y in 0..K-1, T one-hot):

    logistic (K = 1):   z_n = w . x_n + b,      s(z) = 1 / (1 + e^-z)
        J   = (1/N) sum_n [ log(1 + e^{z_n}) - y_n z_n ] + lambda ||w||^2
        dJ/dw = (1/N) sum_n (s(z_n) - y_n) x_n + 2 lambda w,   dJ/db = (1/N) sum_n (s(z_n) - y_n)

    softmax (K >= 2):   a_nk = w_k . x_n + b_k,  p_nk = exp(a_nk) / sum_c exp(a_nc)
        J    = (1/N) sum_n [ logsumexp_k a_nk - a_{n,y_n} ] + lambda ||W||^2
        dJ/dW = (1/N) (P - T)^T X + 2 lambda W,   dJ/db = (1/N) sum_n (p_n - t_n)

The bias is never penalised. Losses are computed from logits (log-sum-exp, log1p(e^z)), so
no log(0) occurs for any finite logits.

With sample weights w_n >= 0 (``sample_weight``, W = sum_n w_n > 0) every (1/N) sum_n above
becomes the weighted mean (1/W) sum_n w_n, the objective the estimators minimise with
``fit(X, y, sample_weight=w)``:

        J = (1/W) sum_n w_n E_n + lambda ||coef||^2,
        dJ/dcoef = (1/W) sum_n w_n G_n x_n^T + 2 lambda coef,   dJ/db = (1/W) sum_n w_n G_n

(G_n = p_n - t_n). Integer weights are repeated rows, a zero weight is a row left out.

Before 0.2.0 the softmax weights were passed as W (d, K). A (d, K) array is refused with a
message, except when d == K: such a square W cannot be told from coef and is read as coef
(K, d); transpose it (``W.T``) yourself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._kernels import get_backend
from ._sample_weight import check_sample_weight
from ._targets import check_targets
from ._validation import Param, check_array, check_param, check_value
from .exceptions import InvalidParameterError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["loss_and_grad", "numerical_gradient"]

_EPS = Param("real", 0, None, "neither")  # numerical_gradient's step: not an estimator's


def _dtype(*arrays):
    """float32 when every floating input is float32, float64 otherwise."""
    kinds = [np.asarray(a).dtype for a in arrays if np.asarray(a).dtype.kind == "f"]
    return (
        np.dtype(np.float32)
        if kinds and all(k == np.float32 for k in kinds)
        else np.dtype(np.float64)
    )


def _prepare(X, y, coef, intercept, l2, sample_weight):
    """Check the public arguments; return (X, codes, coef, intercept, l2, sample_weight) for
    the kernel (sample_weight None, or one weight per row in the computation's dtype)."""
    X = check_array(X, "X", allow_uint8=False)
    if np.ndim(coef) != 2:
        raise InvalidParameterError(
            f"coef must be 2-d (n_classes, n_features) as an estimator's coef_, got shape "
            f"{np.shape(coef)}; for the logistic model pass w.reshape(1, -1)",
            param="coef",
        )
    coef = check_array(coef, "coef", allow_uint8=False)
    dtype = _dtype(X, coef)
    X = X.astype(dtype, copy=False)
    coef = np.array(coef, dtype=dtype, order="C")
    n, d = X.shape
    K = coef.shape[0]
    if coef.shape[1] != d:
        hint = (
            "; it looks like W (n_features, n_classes) of fastreg < 0.2: pass W.T"
            if K == d
            else ""
        )
        raise InvalidParameterError(
            f"coef has shape {coef.shape} but X has {d} features: coef must be "
            f"(n_classes, n_features), as an estimator's coef_{hint}",
            param="coef",
        )
    if np.ndim(intercept) != 1 or np.shape(intercept)[0] != K:
        raise InvalidParameterError(
            f"intercept must have shape ({K},) to match coef of shape {coef.shape}, as an "
            f"estimator's intercept_, got shape {np.shape(intercept)}",
            param="intercept",
        )
    intercept = np.array(
        check_array(intercept, "intercept", allow_uint8=False, ndim=1), dtype=dtype, order="C"
    )
    _, codes = check_targets(y, n, np.arange(max(K, 2)))
    return X, codes, coef, intercept, check_param("l2", l2), _weights(sample_weight, n, dtype)


def _weights(sample_weight, n, dtype):
    """One finite weight >= 0 per row, not all zero (in ``dtype``), or None."""
    weights = check_sample_weight(sample_weight, n)
    if weights is None:
        return None
    with np.errstate(over="ignore"):  # reported just below, with what to do
        converted = weights.astype(dtype)
    if not np.isfinite(converted).all():
        raise InvalidParameterError(
            f"sample_weight holds weights too large for {dtype} (the largest is "
            f"{weights.max():g}); scale the weights down (J does not change)",
            param="sample_weight",
        )
    if not converted.sum(dtype=np.float64) > 0:
        raise InvalidParameterError(
            "All sample weights are zero (in the computation's dtype): the objective is a "
            "weighted mean; give at least one sample a weight above zero",
            param="sample_weight",
        )
    return converted


def loss_and_grad(
    X: ArrayLike,
    y: ArrayLike,
    coef: ArrayLike,
    intercept: ArrayLike,
    *,
    l2: float = 0.0,
    sample_weight: ArrayLike | None = None,
    backend: str | None = "auto",
) -> tuple[float, NDArray[np.floating[Any]], NDArray[np.floating[Any]]]:
    """Objective J and its gradient (dJ/dcoef, dJ/dintercept), in the estimators' layout.

    Parameters
    ----------
    X : array of shape (N, d).
    y : array of shape (N,): labels 0/1 when K = 1 (logistic), 0..K-1 when K >= 2 (softmax).
    coef : array of shape (K, d), exactly as an estimator's ``coef_`` (K = 1: logistic).
    intercept : array of shape (K,), as ``intercept_``.
    l2 : float >= 0, lambda in J = E + lambda ||coef||^2 (the intercept is not penalised).
    sample_weight : None, a number, or array of shape (N,): finite weights >= 0, not all zero;
        None weighs every row 1 (the plain mean).
    backend : "auto" (or None, the same), "cython" or "numpy".

    Returns
    -------
    loss : float, the (weighted) mean cross-entropy plus ``l2 * sum(coef**2)`` (module
        docstring).
    grad_coef : (K, d); grad_intercept : (K,), in the computation's dtype (float32 when X and
        coef are float32, float64 otherwise).

    ``loss_and_grad(X, y, model.coef_, model.intercept_, l2=model.l2)`` is the objective
    the model was trained on, when its labels are the class indices (``classes_`` = 0..K-1);
    pass the ``sample_weight`` it was fitted with for a weighted fit.
    """
    kernels = get_backend(check_param("backend", "auto" if backend is None else backend))
    X, codes, coef, intercept, l2, weights = _prepare(X, y, coef, intercept, l2, sample_weight)
    loss, grad_coef, grad_intercept = kernels.loss_grad(
        X, codes, coef, intercept, l2, sample_weight=weights
    )
    return float(loss), grad_coef, grad_intercept


def numerical_gradient(
    X: ArrayLike,
    y: ArrayLike,
    coef: ArrayLike,
    intercept: ArrayLike,
    *,
    l2: float = 0.0,
    sample_weight: ArrayLike | None = None,
    eps: float = 1e-6,
    backend: str | None = "auto",
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Centred finite-difference gradient of the objective of :func:`loss_and_grad`.

    Each weight theta is moved by +-eps and dJ/dtheta ~ (J(theta + eps) - J(theta - eps)) /
    (2 eps), with error O(eps^2). It is evaluated in float64 whatever the input dtype, since
    differences of float32 losses keep too few digits. Costs 2 (d K + K) loss evaluations:
    for checking gradients on small problems, not for training.

    Returns ``(grad_coef (K, d), grad_intercept (K,))`` in float64, the layout of coef_.
    """
    eps = check_value(_EPS, "eps", eps)
    X64 = np.asarray(X, dtype=np.float64)
    coef64 = np.array(coef, dtype=np.float64)
    intercept64 = np.array(intercept, dtype=np.float64)
    # checks, once; then the checked float64 weights serve every evaluation
    X64, codes, coef64, intercept64, l2, weights = _prepare(
        X64, y, coef64, intercept64, l2, sample_weight
    )
    get_backend(check_param("backend", "auto" if backend is None else backend))

    def objective():
        return loss_and_grad(
            X64, codes, coef64, intercept64, l2=l2, sample_weight=weights, backend=backend
        )[0]

    grads = []
    for theta in (coef64, intercept64):
        g = np.zeros_like(theta)
        flat, g_flat = theta.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = objective()
            flat[i] = old - eps
            down = objective()
            flat[i] = old
            g_flat[i] = (up - down) / (2 * eps)
        grads.append(g)
    return grads[0], grads[1]
