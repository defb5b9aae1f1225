"""Plain-loop references of the kernels, written to be read, not to be fast.

Each function loops over rows (and logits) the way the mathematics is written, in the style
of cs231n's ``softmax_loss_naive``; only dot products of one row with one weight vector are
left to ``np.dot``. They take the arguments of the kernels in ``fastreg/_kernels/`` (without the
``out`` arguments) on the one layout: logits Z (N, K), weights coef (K, d) and intercept (K,),
the link chosen by K (sigmoid for K == 1 with labels 0/1, softmax for K >= 2). They compute in
float64 whatever the input dtype, so they serve as the oracle for both backends: tests compare
a backend's float32 result with the float64 reference computed from the same float32 inputs.

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


# --------------------------------------------------------------------------- forward pass
def linear_forward(X, coef, intercept):
    """z[n, k] = x_n . w_k + b_k for every row n and logit k (coef is (K, d)).

    The kernels' ``input_scale`` is left to the caller: pass the rows the model sees.
    """
    X, coef, intercept = _f64(X), _f64(coef), _f64(intercept)
    N, K = X.shape[0], coef.shape[0]
    Z = np.zeros((N, K))
    for n in range(N):
        for k in range(K):
            Z[n, k] = np.dot(X[n], coef[k]) + intercept[k]
    return Z


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


def probabilities(Z):
    """p(class | z_n) of every row: (N, 1) sigmoids for K == 1, the softmax rows for K >= 2."""
    return sigmoid(Z) if np.shape(Z)[1] == 1 else softmax(Z)


# --------------------------------------------------------------------------- cross-entropy
def cross_entropy(Z, y):
    """-log p(y_n | z_n) of every row.

    K == 1: -log s(z) = log(1 + e^-z) when y = 1, -log(1 - s(z)) = log(1 + e^z) when y = 0
    (``softplus``); K >= 2: log sum_k e^{z_nk} - z_{n, y_n}.
    """
    Z = _f64(Z)
    out = np.zeros(Z.shape[0])
    for n in range(Z.shape[0]):
        if Z.shape[1] == 1:
            out[n] = softplus(-Z[n, 0]) if y[n] == 1 else softplus(Z[n, 0])
        else:
            out[n] = logsumexp(Z[n]) - Z[n, y[n]]
    return out


def cross_entropy_grad(Z, y):
    """``(loss, grad)``: the row losses and dE_n/dz_nk = p_nk - [k == y_n], one entry at a time.

    K == 1 has one logit, and p_n0 = s(z_n) is the probability of class 1: grad = s(z_n) - y_n.
    The entry of the true class, p - 1, is written without subtracting from 1 (which would
    round it to 0 as p -> 1): -s(-z_n) for K == 1, -sum_{c != y_n} p_nc for K >= 2.
    """
    Z = _f64(Z)
    P = probabilities(Z)
    grad = np.zeros(Z.shape)
    for n in range(Z.shape[0]):
        if Z.shape[1] == 1:
            grad[n, 0] = -logistic(-Z[n, 0]) if y[n] == 1 else logistic(Z[n, 0])
            continue
        for k in range(Z.shape[1]):
            if k == y[n]:
                grad[n, k] = -sum(P[n, c] for c in range(Z.shape[1]) if c != k)
            else:
                grad[n, k] = P[n, k]
    return cross_entropy(Z, y), grad


# --------------------------------------------------------------------------- objective
def loss_grad(X, y, coef, intercept, l2):
    """J = (1/N) sum_n loss_n + l2 ||W||^2 and its gradient, one row and one logit at a time.

    Row n contributes G_nk x_n / N to row k of dJ/dW (coef is (K, d)) and G_nk / N to dJ/db_k,
    with G_n = dE_n/dz_n; the penalty adds 2 l2 W. Returns ``(J, dJ/dW (K, d), dJ/db (K,))``.
    """
    X, coef = _f64(X), _f64(coef)
    N, K = X.shape[0], coef.shape[0]
    Z = linear_forward(X, coef, intercept)
    losses, G = cross_entropy_grad(Z, y)
    loss = 0.0
    grad_coef = np.zeros(coef.shape)
    grad_intercept = np.zeros(K)
    for n in range(N):
        loss += losses[n] / N
        for k in range(K):
            grad_coef[k] += G[n, k] / N * X[n]
            grad_intercept[k] += G[n, k] / N
    loss += l2 * np.sum(coef * coef)
    grad_coef += 2 * l2 * coef
    return float(loss), grad_coef, grad_intercept


# --------------------------------------------------------------------------- training
def correct(Z, y):
    """How many rows are classified right: z >= 0 means class 1 (K == 1), else the argmax."""
    Z = _f64(Z)
    count = 0
    for n in range(Z.shape[0]):
        guess = int(Z[n, 0] >= 0) if Z.shape[1] == 1 else int(np.argmax(Z[n]))
        count += guess == y[n]
    return count


def sgd_step(X, y, coef, intercept, learning_rate, l2):
    """W -= lr dJ/dW and b -= lr dJ/db in place, the whole gradient taken before the step.

    The update is computed in float64 and stored in the dtype of ``coef``/``intercept``.
    Returns ``(mean loss, correct count)`` of the batch before the step (no L2 term).
    """
    Z = linear_forward(X, coef, intercept)
    mean_loss = float(np.mean(cross_entropy(Z, y)))
    hits = correct(Z, y)
    _, grad_coef, grad_intercept = loss_grad(X, y, coef, intercept, l2)
    coef[...] = _f64(coef) - learning_rate * grad_coef
    intercept[...] = _f64(intercept) - learning_rate * grad_intercept
    return mean_loss, hits


def epoch(X, y, coef, intercept, order, batch_size, learning_rates, l2, input_scale=1.0):
    """One epoch of mini-batch gradient descent over ``X[order]``, step by step, in place.

    Batch t is rows ``order[t*B:(t+1)*B]``, seen as ``X * input_scale``, stepped with
    ``learning_rates[t]``. Returns ``(mean loss, accuracy)`` over the rows, each measured
    before its batch's step.
    """
    loss_sum, hits = 0.0, 0
    for t, start in enumerate(range(0, len(order), batch_size)):
        rows = order[start:start + batch_size]
        batch_loss, batch_hits = sgd_step(_f64(X[rows]) * input_scale, y[rows], coef,
                                          intercept, learning_rates[t], l2)
        loss_sum += batch_loss * len(rows)
        hits += batch_hits
    return loss_sum / len(order), hits / len(order)
