"""The NumPy twin of ``fastreg._kernels._loss`` (``src_pyx/_loss.pyx``): link functions,
cross-entropy and its gradient. This file is the specification; the compiled module is held to it.

One layout for every model: logits ``Z`` are (N, K) and the link is chosen by K:

* K == 1, the logistic model: p_n = s(z_n) = 1 / (1 + e^-z_n), labels y_n in {0, 1};
* K >= 2, the softmax model: p_nk = e^{z_nk} / sum_c e^{z_nc}, labels y_n in 0..K-1.

The cross-entropy of row n is E_n = -log p(y_n | z_n):

* K == 1: E_n = log(1 + e^{z_n}) - y_n z_n, evaluated as log(1 + e^{-z_n}) when y_n = 1 and
  log(1 + e^{z_n}) when y_n = 0 (``np.logaddexp``), so it neither overflows nor cancels;
* K >= 2: E_n = logsumexp_k z_nk - z_{n, y_n}, evaluated as (m - z_{n,y_n}) + log1p(rest) with
  m = z_{n,i} the row maximum and rest = sum_{c != i} e^{z_nc - m}: the first term is exact, and
  a confidently right row keeps its tiny loss to full relative precision.

Its gradient by the logits, dE_n/dz_n = p_n - onehot(y_n) (K == 1: s(z_n) - y_n), is written
once, in :func:`cross_entropy_grad`; :func:`loss_grad` and the NumPy epoch call it.

Conventions (the input checks of ``fastreg/_kernels/_checks.py`` enforce them, for both
backends; the functions here trust their inputs): arrays are float32 or float64 and results
have the dtype of the logits or weights; ``y`` is ``np.intc``; ``out``-style arguments are
written and returned when given, allocated when None.
"""

import numpy as np


def _out(out, shape, dtype):
    return np.empty(shape, dtype=dtype) if out is None else out


def sigmoid(z, out=None):
    """Logistic function s(z) = 1 / (1 + e^-z), elementwise on an array of any shape.

    With e = exp(-|z|) <= 1: s(z) = 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0, so no
    finite z overflows.
    """
    out = _out(out, z.shape, z.dtype)
    e = np.exp(-np.abs(z))
    np.divide(np.where(z >= 0, 1, e), 1 + e, out=out)
    return out


def softmax(Z, out=None):
    """Row softmax ``out[n, k] = exp(Z[n, k] - m_n) / sum_c exp(Z[n, c] - m_n)``, m_n = max Z[n].

    Subtracting the row maximum keeps every exponent <= 0, so nothing overflows; small terms
    underflow to 0 on their own, none is cut off on purpose. ``out=Z`` computes in place.
    """
    out = _out(out, Z.shape, Z.dtype)
    np.subtract(Z, Z.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def _binary_signed(Z, y):
    """t_n = -z_n where y_n = 1, z_n where y_n = 0 (K == 1).

    Then E_n = log(1 + e^{t_n}), and s(z_n) - y_n is s(t_n) for y_n = 0, -s(t_n) for y_n = 1.
    """
    z = Z[:, 0]
    return np.where(y == 1, -z, z)


def _softmax_parts(Z):
    """(E, rest, i) of each row: exponentials E = e^{Z - m} (E[n, i_n] = 1 exactly), the sum
    ``rest`` of the others, and i the index of the row maximum (the first, as numpy.argmax)."""
    rows = np.arange(Z.shape[0])
    i = Z.argmax(axis=1)
    E = Z - Z[rows, i][:, None]
    np.exp(E, out=E)
    E[rows, i] = 0
    rest = E.sum(axis=1)
    E[rows, i] = 1
    return E, rest, i


def cross_entropy(Z, y, out=None):
    """Per-row cross-entropy E_n (N,) from the logits Z (N, K); see the module docstring."""
    out = _out(out, (Z.shape[0],), Z.dtype)
    if Z.shape[1] == 1:
        np.logaddexp(0, _binary_signed(Z, y), out=out)
        return out
    rows = np.arange(Z.shape[0])
    _, rest, i = _softmax_parts(Z)
    np.add(Z[rows, i] - Z[rows, y], np.log1p(rest), out=out)
    return out


def cross_entropy_grad(Z, y, loss=None, grad=None):
    """Per-row cross-entropy and its gradient by the logits: ``(loss (N,), grad (N, K))``.

    grad_n = dE_n/dz_n = p_n - onehot(y_n): for K == 1 that is s(z_n) - y_n, computed as
    -s(-z_n) when y_n = 1 (no cancellation); for K >= 2 it is softmax(z_n) - onehot(y_n), and
    when y_n is the row's argmax its entry p_y - 1 is computed as -rest / (1 + rest), so it does
    not cancel to 0 as p_y -> 1. ``grad=Z`` computes in place (the loss is taken first).
    """
    N, K = Z.shape
    loss = _out(loss, (N,), Z.dtype)
    grad = _out(grad, (N, K), Z.dtype)
    if K == 1:
        t = _binary_signed(Z, y)
        np.logaddexp(0, t, out=loss)
        g = sigmoid(t)
        np.negative(g, out=g, where=(y == 1))
        grad[:, 0] = g
        return loss, grad
    rows = np.arange(N)
    E, rest, i = _softmax_parts(Z)
    np.add(Z[rows, i] - Z[rows, y], np.log1p(rest), out=loss)
    total = 1 + rest
    np.divide(E, total[:, None], out=grad)
    at_max = y == i
    grad[rows, y] -= 1  # p_y <= 1/2 where y is not the argmax: no cancellation there
    grad[rows[at_max], y[at_max]] = -rest[at_max] / total[at_max]
    return loss, grad


def loss_grad(X, y, coef, intercept, l2, grad_coef=None, grad_intercept=None, sample_weight=None):
    """Objective and gradient of the model on the batch (X, y): ``(J, grad_coef, grad_intercept)``.

    With weights w_n (``sample_weight``; None means w = 1) and W = sum_n w_n > 0:
    J = (1/W) sum_n w_n E_n(z_n) + l2 ||coef||^2 with z_n = coef x_n + intercept (K logits; the
    intercept is not penalised). By the chain rule, with G_n = dE_n/dz_n (cross_entropy_grad):
    dJ/dcoef = (1/W) sum_n w_n G_n x_n^T + 2 l2 coef  (K, d)  and
    dJ/dintercept = (1/W) sum_n w_n G_n  (K,). Unweighted, W = N and this is the mean.

    X (N, d) is a float array of coef's dtype, N >= 1; ``sample_weight`` (N,) of its dtype;
    J is a Python float (the losses summed in float64).
    """
    Z = np.matmul(X, coef.T)
    Z += intercept
    loss, G = cross_entropy_grad(Z, y, grad=Z)
    if sample_weight is None:
        n = X.shape[0]
        data = float(loss.sum(dtype=np.float64) / n)
    else:
        n = float(sample_weight.sum(dtype=np.float64))
        data = float(np.dot(sample_weight.astype(np.float64), loss.astype(np.float64))) / n
        G *= sample_weight[:, None]
    J = data + l2 * float(np.vdot(coef, coef))
    grad_coef = _out(grad_coef, coef.shape, coef.dtype)
    grad_intercept = _out(grad_intercept, intercept.shape, coef.dtype)
    np.matmul(G.T, X, out=grad_coef)
    grad_coef /= n
    grad_coef += (2 * l2) * coef
    np.divide(G.sum(axis=0), n, out=grad_intercept)
    return J, grad_coef, grad_intercept
