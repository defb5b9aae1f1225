"""Plain-loop references of the ten non-epoch kernels, written to be read, not to be fast.

Each function loops over samples (and classes) the way the mathematics is written, in the
style of cs231n's ``softmax_loss_naive``; only dot products of one row with one weight vector
are left to ``np.dot``. They share the signatures of ``fastreg/_numpy_kernels.py`` (without the
``out`` arguments) and compute in float64 whatever the input dtype, so they serve as the
oracle for both backends: tests compare a backend's float32 result with the float64 reference
computed from the same float32 inputs.

Every formula is stable for any finite logits (the tests use |z| up to 1e4):
log(1 + e^t) = max(t, 0) + log1p(e^-|t|), and softmax / log-sum-exp subtract the row maximum.
"""
import math

import numpy as np


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def softplus(t):
    """log(1 + e^t) of one number, without overflow: max(t, 0) + log(1 + e^-|t|)."""
    return max(t, 0.0) + math.log1p(math.exp(-abs(t)))


def logistic(t):
    """s(t) = 1 / (1 + e^-t) of one number, written e^t / (1 + e^t) for t < 0 (no overflow)."""
    if t >= 0:
        return 1.0 / (1.0 + math.exp(-t))
    return math.exp(t) / (1.0 + math.exp(t))


def logsumexp(row):
    """log sum_k e^{row_k} = m + log sum_k e^{row_k - m}, m = max_k row_k (every exponent <= 0)."""
    m = max(row)
    return m + math.log(sum(math.exp(r - m) for r in row))


# --------------------------------------------------------------------------- forward passes
def linear_forward(X, coef, intercept):
    """z[n, k] = x_n . w_k + b_k for every sample n and class k (coef is (K, d))."""
    X, coef, intercept = _f64(X), _f64(coef), _f64(intercept)
    N, K = X.shape[0], coef.shape[0]
    Z = np.zeros((N, K))
    for n in range(N):
        for k in range(K):
            Z[n, k] = np.dot(X[n], coef[k]) + intercept[k]
    return Z


def linear_forward_binary(X, coef, intercept):
    """z[n] = x_n . w + b for every sample n (coef is (d,), intercept holds b)."""
    X, coef, b = _f64(X), _f64(coef), float(np.reshape(intercept, -1)[0])
    z = np.zeros(X.shape[0])
    for n in range(X.shape[0]):
        z[n] = np.dot(X[n], coef) + b
    return z


# --------------------------------------------------------------------------- link functions
def sigmoid(z):
    """s(t) = 1 / (1 + e^-t) elementwise, written e^t / (1 + e^t) for t < 0 (no overflow)."""
    z = _f64(z)
    out = np.zeros(z.shape)
    for i, t in np.ndenumerate(z):
        out[i] = logistic(t)
    return out


def softmax(Z):
    """p[n, k] = e^{z_nk - m_n} / sum_c e^{z_nc - m_n}, m_n the largest logit of row n."""
    Z = _f64(Z)
    P = np.zeros(Z.shape)
    for n in range(Z.shape[0]):
        m = max(Z[n])
        total = 0.0
        for k in range(Z.shape[1]):
            P[n, k] = math.exp(Z[n, k] - m)
            total += P[n, k]
        for k in range(Z.shape[1]):
            P[n, k] /= total
    return P


# --------------------------------------------------------------------------- losses
def binary_cross_entropy(z, y):
    """-log s(z_n) when y_n = 1, -log(1 - s(z_n)) when y_n = 0.

    -log s(t) = log(1 + e^-t) and -log(1 - s(t)) = log(1 + e^t), evaluated by ``softplus``.
    """
    z = _f64(z)
    out = np.zeros(z.shape[0])
    for n in range(z.shape[0]):
        out[n] = softplus(-z[n]) if y[n] == 1 else softplus(z[n])
    return out


def multinomial_cross_entropy(Z, y):
    """-log p[n, y_n] = log sum_k e^{z_nk} - z_{n, y_n}, the log-sum-exp taken around the row max."""
    Z = _f64(Z)
    out = np.zeros(Z.shape[0])
    for n in range(Z.shape[0]):
        out[n] = logsumexp(Z[n]) - Z[n, y[n]]
    return out


# --------------------------------------------------------------------------- gradients
def binary_loss_grad(X, y, coef, intercept, l2):
    """J = (1/N) sum_n loss_n + l2 ||w||^2 and its gradient, one sample at a time.

    Sample n contributes (s(z_n) - y_n) x_n / N to dJ/dw and (s(z_n) - y_n) / N to dJ/db;
    the penalty adds 2 l2 w. Returns ``(J, dJ/dw of shape (d,), dJ/db of shape (1,))``.
    """
    X, coef = _f64(X), _f64(coef)
    N = X.shape[0]
    z = linear_forward_binary(X, coef, intercept)
    loss = 0.0
    grad_coef = np.zeros(coef.shape)
    grad_intercept = np.zeros(1)
    for n in range(N):
        loss += (softplus(-z[n]) if y[n] == 1 else softplus(z[n])) / N
        dz = (logistic(z[n]) - y[n]) / N
        grad_coef += dz * X[n]
        grad_intercept[0] += dz
    loss += l2 * np.dot(coef, coef)
    grad_coef += 2 * l2 * coef
    return float(loss), grad_coef, grad_intercept


def multinomial_loss_grad(X, y, coef, intercept, l2):
    """J = (1/N) sum_n loss_n + l2 ||W||^2 and its gradient, one sample and one class at a time.

    Sample n contributes (p_nk - [k == y_n]) x_n / N to row k of dJ/dW (coef is (K, d)) and
    (p_nk - [k == y_n]) / N to dJ/db_k; the penalty adds 2 l2 W.
    Returns ``(J, dJ/dW of shape (K, d), dJ/db of shape (K,))``.
    """
    X, coef = _f64(X), _f64(coef)
    N, K = X.shape[0], coef.shape[0]
    Z = linear_forward(X, coef, intercept)
    P = softmax(Z)
    loss = 0.0
    grad_coef = np.zeros(coef.shape)
    grad_intercept = np.zeros(K)
    for n in range(N):
        loss += (logsumexp(Z[n]) - Z[n, y[n]]) / N
        for k in range(K):
            dz = (P[n, k] - (1.0 if k == y[n] else 0.0)) / N
            grad_coef[k] += dz * X[n]
            grad_intercept[k] += dz
    loss += l2 * np.sum(coef * coef)
    grad_coef += 2 * l2 * coef
    return float(loss), grad_coef, grad_intercept


# --------------------------------------------------------------------------- one update
def binary_sgd_step(X, y, coef, intercept, learning_rate, l2):
    """w -= lr dJ/dw and b -= lr dJ/db in place, the whole gradient taken before the step.

    The update is computed in float64 and stored in the dtype of ``coef``/``intercept``.
    Returns the mean cross-entropy of the batch before the step (the L2 term left out).
    """
    mean_loss = float(np.mean(binary_cross_entropy(linear_forward_binary(X, coef, intercept), y)))
    _, grad_coef, grad_intercept = binary_loss_grad(X, y, coef, intercept, l2)
    coef[...] = _f64(coef) - learning_rate * grad_coef
    intercept[...] = _f64(intercept) - learning_rate * grad_intercept
    return mean_loss


def multinomial_sgd_step(X, y, coef, intercept, learning_rate, l2):
    """W -= lr dJ/dW and b -= lr dJ/db in place, the whole gradient taken before the step.

    The update is computed in float64 and stored in the dtype of ``coef``/``intercept``.
    Returns the mean cross-entropy of the batch before the step (the L2 term left out).
    """
    mean_loss = float(np.mean(multinomial_cross_entropy(linear_forward(X, coef, intercept), y)))
    _, grad_coef, grad_intercept = multinomial_loss_grad(X, y, coef, intercept, l2)
    coef[...] = _f64(coef) - learning_rate * grad_coef
    intercept[...] = _f64(intercept) - learning_rate * grad_intercept
    return mean_loss
