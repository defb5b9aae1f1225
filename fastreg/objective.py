"""The objective of both models, its hand-derived gradient, and a finite-difference check.

Logistic regression (W of shape (d,), scalar b, labels y in {0, 1}):

    z_n = w . x_n + b,      s(z) = 1 / (1 + e^-z)
    J   = (1/N) sum_n [ -y_n log s(z_n) - (1 - y_n) log(1 - s(z_n)) ] + lambda ||w||^2
        = (1/N) sum_n [ log(1 + e^{z_n}) - y_n z_n ]                  + lambda ||w||^2
    dJ/dz_n = (s(z_n) - y_n) / N                     (chain rule through the sigmoid)
    dJ/dw   = (1/N) sum_n (s(z_n) - y_n) x_n + 2 lambda w
    dJ/db   = (1/N) sum_n (s(z_n) - y_n)

Softmax regression (W of shape (d, K), b of shape (K,), labels y in 0..K-1, T one-hot):

    a_nk = w_k . x_n + b_k,  p_nk = exp(a_nk) / sum_c exp(a_nc)
    J    = (1/N) sum_n [ logsumexp_k a_nk - a_{n,y_n} ] + lambda ||W||^2
    dJ/da_nk = (p_nk - t_nk) / N                     (chain rule through the softmax)
    dJ/dW    = (1/N) X^T (P - T) + 2 lambda W
    dJ/db    = (1/N) sum_n (p_n - t_n)

The bias is never penalised. Losses are computed from logits (log-sum-exp, log1p(e^z)), so
no log(0) occurs for any finite logits.
"""
import numpy as np

from ._backend import get_backend
from ._validation import (
    as_numeric,
    check_class_indices,
    check_finite,
    check_matrix,
    check_scalar,
    compute_dtype,
)


def _prepare(X, y, W, b, l2):
    """Validate the public arguments; return (is_binary, X, y, coef, intercept, l2)."""
    X = as_numeric(X, "X")
    W_arr = as_numeric(W, "W")
    b_arr = as_numeric(b, "b")
    dtype = compute_dtype(X, W_arr)
    X = check_matrix(X, "X", dtype=dtype)
    n, d = X.shape
    l2 = check_scalar(l2, "l2", min_value=0.0)
    if W_arr.ndim == 1:
        if W_arr.shape[0] != d:
            raise ValueError(f"W has {W_arr.shape[0]} weights but X has {d} features; they must match")
        if b_arr.size != 1:
            raise ValueError(
                f"b must be a scalar for logistic regression (W of shape (d,)), got shape {b_arr.shape}"
            )
        y = check_class_indices(y, n, 2)
        coef = np.array(W_arr, dtype=dtype, order="C")
        intercept = np.array(b_arr, dtype=dtype).reshape(1)
        binary = True
    elif W_arr.ndim == 2:
        if W_arr.shape[0] != d:
            raise ValueError(
                f"W has shape {W_arr.shape} but X has {d} features: W must be (n_features, n_classes)"
            )
        k = W_arr.shape[1]
        if b_arr.shape != (k,):
            raise ValueError(f"b must have shape ({k},) to match W of shape {W_arr.shape}, got {b_arr.shape}")
        y = check_class_indices(y, n, k)
        coef = np.ascontiguousarray(W_arr.T, dtype=dtype)  # kernels want one row per class
        intercept = np.array(b_arr, dtype=dtype)
        binary = False
    else:
        raise ValueError(f"W must be 1-d (logistic) or 2-d (softmax), got shape {W_arr.shape}")
    check_finite(coef, "W")
    check_finite(intercept, "b")
    return binary, X, y, coef, intercept, l2


def loss_and_grad(X, y, W, b, *, l2=0.0, backend=None):
    """Objective J and its gradient (dJ/dW, dJ/db) for logistic or softmax regression.

    Parameters
    ----------
    X : array of shape (N, d)
    y : array of shape (N,)
        Labels 0/1 (logistic) or integer classes 0..K-1 (softmax).
    W : array of shape (d,) for logistic regression, (d, K) for softmax regression.
    b : scalar (logistic) or array of shape (K,) (softmax).
    l2 : float, lambda in J = E + lambda ||W||^2 (the bias is not penalised).
    backend : "auto", "cython", "numpy" or None (FASTREG_BACKEND).

    Returns
    -------
    loss : float
        Mean cross-entropy over the N rows plus ``l2 * sum(W**2)``; formulas in the module docstring.
    dW, db : gradients with the shapes of W and b, in the computation's dtype (float32 when
        X and W are float32, float64 otherwise).
    """
    kernels = get_backend(backend)
    binary, X, y, coef, intercept, l2 = _prepare(X, y, W, b, l2)
    if binary:
        loss, g_coef, g_int = kernels.binary_loss_grad(X, y, coef, intercept, l2)
        db = g_int.reshape(np.shape(b)) if isinstance(b, np.ndarray) else g_int.dtype.type(g_int[0])
        return float(loss), g_coef, db
    loss, g_coef, g_int = kernels.multinomial_loss_grad(X, y, coef, intercept, l2)
    return float(loss), np.ascontiguousarray(g_coef.T), g_int


def numerical_gradient(X, y, W, b, *, l2=0.0, eps=1e-6, backend=None):
    """Centred finite-difference gradient of the objective of :func:`loss_and_grad`.

    Each weight theta is moved by +-eps and dJ/dtheta ~ (J(theta + eps) - J(theta - eps)) / (2 eps),
    with error O(eps^2). It is evaluated in float64 whatever the input dtype, since differences
    of float32 losses keep too few digits. Costs 2 (d K + K) loss evaluations: meant for
    checking gradients on small problems, not for training.

    Returns ``(dW, db)`` in float64 with the shapes of W and b (db a float for scalar b).
    """
    eps = check_scalar(eps, "eps", min_value=0.0, include_min=False)
    X64 = np.asarray(X, dtype=np.float64)
    W64 = np.array(W, dtype=np.float64)
    b64 = np.array(b, dtype=np.float64)

    def objective():
        return loss_and_grad(X64, y, W64, b64, l2=l2, backend=backend)[0]

    grads = []
    for theta in (W64, b64):
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
    dW, db = grads
    return dW, (db if isinstance(b, np.ndarray) else float(db))
