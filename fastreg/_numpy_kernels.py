"""The NumPy backend: the readable specification of every kernel, and the test oracle.

The compiled backend (``src_pyx/_kernels.pyx``, ``src_pyx/_epoch.pyx``) provides the same
functions with the same signatures and meaning; tests hold it to this file.

Conventions shared by both backends (the Python layer in ``fastreg/_validation.py`` enforces
them once, at the public edge; kernels trust their inputs):

* ``X`` is (N, d), C-contiguous, of the same float dtype as the weights (float32 or float64).
  The epoch kernels also take uint8 ``X`` together with ``input_scale``: row x then means
  ``dtype(x) * dtype(input_scale)``.
* Multinomial weights ``coef`` are (K, d), one C-contiguous row per class (scikit-learn's
  ``coef_`` layout: the inner loops over features are contiguous), ``intercept`` is (K,).
  Binary weights ``coef`` are (d,) and ``intercept`` is a 1-element array, so that both can
  be updated in place.
* Labels ``y`` are ``np.intc``: 0/1 for the binary model, 0..K-1 for the multinomial one.
* ``out`` arguments may be passed in (then written and returned) or left None (allocated).
  Results have the dtype of the weights/logits: float32 in gives float32 out.
* ``l2`` is lambda in J(W) = E(W) + lambda * ||coef||^2; the intercept is never penalised.
"""
import numpy as np


def _out(out, shape, dtype):
    return np.empty(shape, dtype=dtype) if out is None else out


# --------------------------------------------------------------------------- forward passes
def linear_forward(X, coef, intercept, out=None):
    """Logits of the multinomial model: ``out[n, k] = sum_j X[n, j] coef[k, j] + intercept[k]``."""
    out = _out(out, (X.shape[0], coef.shape[0]), coef.dtype)
    np.matmul(X, coef.T, out=out)
    out += intercept
    return out


def linear_forward_binary(X, coef, intercept, out=None):
    """Logits of the binary model: ``out[n] = sum_j X[n, j] coef[j] + intercept[0]``."""
    out = _out(out, (X.shape[0],), coef.dtype)
    np.matmul(X, coef, out=out)
    out += intercept[0]
    return out


def sigmoid(z, out=None):
    """Logistic function 1 / (1 + e^-z), evaluated without overflow for any finite z.

    With e = exp(-|z|) <= 1: sigmoid(z) = 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0.
    """
    out = _out(out, z.shape, z.dtype)
    e = np.exp(-np.abs(z))
    np.divide(np.where(z >= 0, 1, e), 1 + e, out=out)
    return out


def softmax(Z, out=None):
    """Row softmax ``out[n, k] = exp(Z[n, k] - m_n) / sum_c exp(Z[n, c] - m_n)``, m_n = max_c Z[n, c].

    Subtracting the row maximum keeps every exponent <= 0, so nothing overflows; small terms
    underflow gracefully to 0 without being truncated on purpose.
    """
    out = _out(out, Z.shape, Z.dtype)
    np.subtract(Z, Z.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


# --------------------------------------------------------------------------- losses
def binary_cross_entropy(z, y, out=None):
    """Per-sample binary cross-entropy from logits.

    ``out[n] = -y log s(z) - (1 - y) log(1 - s(z)) = log(1 + e^z) - y z`` with s the sigmoid;
    log(1 + e^z) is evaluated stably (np.logaddexp), so no log(0) for any finite z.
    """
    out = _out(out, z.shape, z.dtype)
    np.logaddexp(0, z, out=out)
    out -= y * z
    return out


def multinomial_cross_entropy(Z, y, out=None):
    """Per-sample cross-entropy of the softmax from logits, with integer labels.

    ``out[n] = logsumexp_k Z[n, k] - Z[n, y[n]]`` = -log softmax(Z)[n, y[n]], with
    logsumexp = m + log sum_k exp(Z[n, k] - m) and m the row maximum (never log(0): the sum >= 1).
    """
    out = _out(out, (Z.shape[0],), Z.dtype)
    m = Z.max(axis=1)
    lse = m + np.log(np.exp(Z - m[:, None]).sum(axis=1))
    np.subtract(lse, Z[np.arange(Z.shape[0]), y], out=out)
    return out


# --------------------------------------------------------------------------- gradients
def binary_loss_grad(X, y, coef, intercept, l2, grad_coef=None, grad_intercept=None):
    """Objective and gradient of the logistic model on the batch (X, y).

    J = (1/N) sum_n [log(1 + e^{z_n}) - y_n z_n] + l2 ||w||^2, with z = X w + b.
    By the chain rule dJ/dz_n = (s(z_n) - y_n) / N, hence
    dJ/dw = (1/N) X^T (s(z) - y) + 2 l2 w  and  dJ/db = (1/N) sum_n (s(z_n) - y_n).

    Returns ``(J, grad_coef, grad_intercept)``; J is a Python float.
    """
    n = X.shape[0]
    z = linear_forward_binary(X, coef, intercept)
    loss = float(binary_cross_entropy(z, y).sum(dtype=np.float64) / n)
    loss += l2 * float(np.dot(coef, coef))
    r = sigmoid(z)
    r -= y
    grad_coef = _out(grad_coef, coef.shape, coef.dtype)
    grad_intercept = _out(grad_intercept, intercept.shape, coef.dtype)
    np.matmul(r, X, out=grad_coef)
    grad_coef /= n
    grad_coef += (2 * l2) * coef
    grad_intercept[0] = r.sum() / n
    return loss, grad_coef, grad_intercept


def multinomial_loss_grad(X, y, coef, intercept, l2, grad_coef=None, grad_intercept=None):
    """Objective and gradient of the softmax model on the batch (X, y).

    J = (1/N) sum_n [logsumexp_k Z_nk - Z_{n,y_n}] + l2 ||W||^2, with Z = X W^T + b.
    By the chain rule dJ/dZ = (P - T) / N, where P = softmax(Z) and T the one-hot targets, hence
    dJ/dW = (1/N) (P - T)^T X + 2 l2 W  (shape (K, d))  and  dJ/db = (1/N) sum_n (P_n - T_n).

    Returns ``(J, grad_coef, grad_intercept)``; J is a Python float.
    """
    n = X.shape[0]
    Z = linear_forward(X, coef, intercept)
    loss = float(multinomial_cross_entropy(Z, y).sum(dtype=np.float64) / n)
    loss += l2 * float(np.vdot(coef, coef))
    G = softmax(Z)
    G[np.arange(n), y] -= 1
    grad_coef = _out(grad_coef, coef.shape, coef.dtype)
    grad_intercept = _out(grad_intercept, intercept.shape, coef.dtype)
    np.matmul(G.T, X, out=grad_coef)
    grad_coef /= n
    grad_coef += (2 * l2) * coef
    np.divide(G.sum(axis=0), n, out=grad_intercept)
    return loss, grad_coef, grad_intercept


# --------------------------------------------------------------------------- one update
def _step_binary(Xb, yb, coef, intercept, lr, l2):
    """One gradient step in place; returns (sum of sample losses, correct count) before it.

    A non-finite loss sum is returned at once, without the step.
    """
    n = Xb.shape[0]
    z = linear_forward_binary(Xb, coef, intercept)
    loss_sum = float(binary_cross_entropy(z, yb).sum(dtype=np.float64))
    if not np.isfinite(loss_sum):  # diverged: leave the weights as they were
        return loss_sum, 0
    correct = int(np.count_nonzero((z >= 0) == (yb == 1)))
    r = sigmoid(z)
    r -= yb
    grad = np.matmul(r, Xb) / n + (2 * l2) * coef
    coef -= coef.dtype.type(lr) * grad
    intercept -= coef.dtype.type(lr) * (r.sum() / n)
    return loss_sum, correct


def _step_multinomial(Xb, yb, coef, intercept, lr, l2):
    """One gradient step in place; returns (sum of sample losses, correct count) before it.

    A non-finite loss sum is returned at once, without the step.
    """
    n = Xb.shape[0]
    Z = linear_forward(Xb, coef, intercept)
    loss_sum = float(multinomial_cross_entropy(Z, yb).sum(dtype=np.float64))
    if not np.isfinite(loss_sum):  # diverged: leave the weights as they were
        return loss_sum, 0
    correct = int(np.count_nonzero(Z.argmax(axis=1) == yb))
    G = softmax(Z)
    G[np.arange(n), yb] -= 1
    grad = np.matmul(G.T, Xb) / n + (2 * l2) * coef
    coef -= coef.dtype.type(lr) * grad
    intercept -= coef.dtype.type(lr) * (G.sum(axis=0) / n)
    return loss_sum, correct


def binary_sgd_step(X, y, coef, intercept, learning_rate, l2):
    """One mini-batch gradient step on (X, y), in place: w -= lr dJ/dw, b -= lr dJ/db.

    Returns the mean cross-entropy of the batch at the weights before the step (no L2 term).
    """
    return _step_binary(X, y, coef, intercept, learning_rate, l2)[0] / X.shape[0]


def multinomial_sgd_step(X, y, coef, intercept, learning_rate, l2):
    """One mini-batch gradient step on (X, y), in place: W -= lr dJ/dW, b -= lr dJ/db.

    Returns the mean cross-entropy of the batch at the weights before the step (no L2 term).
    """
    return _step_multinomial(X, y, coef, intercept, learning_rate, l2)[0] / X.shape[0]


# --------------------------------------------------------------------------- one epoch
def _epoch(step, X, y, coef, intercept, order, batch_size, learning_rates, l2, input_scale):
    dtype = coef.dtype
    scale = dtype.type(input_scale)
    n = order.shape[0]
    loss_sum, correct = 0.0, 0
    for t, start in enumerate(range(0, n, batch_size)):
        idx = order[start:start + batch_size]
        Xb = X[idx]
        if Xb.dtype != dtype:  # uint8 pixels: scale inside, as the compiled kernel does
            Xb = Xb.astype(dtype) * scale
        elif input_scale != 1.0:
            Xb = Xb * scale
        batch_loss, batch_correct = step(Xb, y[idx], coef, intercept, learning_rates[t], l2)
        if not np.isfinite(batch_loss):
            return float("nan"), float("nan")
        loss_sum += batch_loss
        correct += batch_correct
    return loss_sum / n, correct / n


def binary_epoch(X, y, coef, intercept, order, batch_size, learning_rates, l2,
                 input_scale=1.0, n_threads=1):
    """Run mini-batch gradient descent over the rows ``X[order]`` in place, batch by batch.

    Batch t holds rows ``order[t*B:(t+1)*B]`` (the last may be smaller) and steps with learning
    rate ``learning_rates[t]`` (float64, length ceil(len(order)/B)). ``X`` may be uint8, then
    scaled by ``input_scale`` inside. ``n_threads`` is accepted for signature parity (NumPy
    decides its own threading).

    Returns ``(mean_loss, accuracy)`` over the rows seen, each measured on its batch at the
    weights before that batch's step (the running train metrics deep-learning users log).
    If a batch loss is not finite the epoch stops before that step and returns (nan, nan).
    """
    return _epoch(_step_binary, X, y, coef, intercept, order, batch_size, learning_rates, l2,
                  input_scale)


def multinomial_epoch(X, y, coef, intercept, order, batch_size, learning_rates, l2,
                      input_scale=1.0, n_threads=1):
    """Softmax-model twin of :func:`binary_epoch` (same arguments, same return value)."""
    return _epoch(_step_multinomial, X, y, coef, intercept, order, batch_size, learning_rates,
                  l2, input_scale)
