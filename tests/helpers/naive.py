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

Sample weights w_n (``sample_weight``, None: all 1) and per-feature step scales p_j
(``step_scale``, None: all 1) enter as the contract of the kernels says: the objective is the
weighted mean sum w E / sum w; an epoch's batch step is lr P ((1/n_t) sum v G x + 2 l2 W), its
data term not normalised by the weights, and its metrics are weighted means.
"""

import math

import numpy as np


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _ones_or(a, n):
    """``a`` in float64, or n ones for None."""
    return np.ones(n) if a is None else _f64(a)


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
def loss_grad(X, y, coef, intercept, l2, sample_weight=None):
    """J = (1/W) sum_n w_n loss_n + l2 ||W||^2 and its gradient, one row and one logit at a time.

    W = sum_n w_n (N without weights). Row n contributes w_n G_nk x_n / W to row k of dJ/dW
    (coef is (K, d)) and w_n G_nk / W to dJ/db_k, with G_n = dE_n/dz_n; the penalty adds
    2 l2 W. Returns ``(J, dJ/dW (K, d), dJ/db (K,))``.
    """
    X, coef = _f64(X), _f64(coef)
    N, K = X.shape[0], coef.shape[0]
    w = _ones_or(sample_weight, N)
    total = sum(w)
    Z = linear_forward(X, coef, intercept)
    losses, G = cross_entropy_grad(Z, y)
    loss = 0.0
    grad_coef = np.zeros(coef.shape)
    grad_intercept = np.zeros(K)
    for n in range(N):
        loss += w[n] * losses[n] / total
        for k in range(K):
            grad_coef[k] += w[n] * G[n, k] / total * X[n]
            grad_intercept[k] += w[n] * G[n, k] / total
    loss += l2 * np.sum(coef * coef)
    grad_coef += 2 * l2 * coef
    return float(loss), grad_coef, grad_intercept


# --------------------------------------------------------------------------- training
def correct(Z, y, sample_weight=None):
    """How many rows are classified right (z >= 0 means class 1 for K == 1, else the argmax):
    the sum of their weights when ``sample_weight`` is given."""
    Z = _f64(Z)
    w = _ones_or(sample_weight, Z.shape[0])
    count = 0
    for n in range(Z.shape[0]):
        guess = int(Z[n, 0] >= 0) if Z.shape[1] == 1 else int(np.argmax(Z[n]))
        if guess == y[n]:
            count += w[n]
    return int(count) if sample_weight is None else float(count)


def sgd_step(X, y, coef, intercept, learning_rate, l2, sample_weight=None, step_scale=None):
    """One batch step of the kernels' epoch in place, the whole gradient taken before it:

        W[k, j] -= lr p_j ((1/n) sum_r v_r G_rk x_rj + 2 l2 W[k, j]),
        b[k]    -= lr (1/n) sum_r v_r G_rk,

    over the n rows of (X, y), v = ``sample_weight`` (not normalised), p = ``step_scale``
    (both None: 1, the plain gradient step). Computed in float64, stored in the dtype of
    ``coef``/``intercept``. Returns ``(mean loss, correct)`` of the batch before the step
    (no L2 term): sum v E / sum v (0 when sum v = 0), and the (weighted) count of rows
    classified right.
    """
    X = _f64(X)
    n, K = X.shape[0], coef.shape[0]
    v = _ones_or(sample_weight, n)
    p = _ones_or(step_scale, X.shape[1])
    Z = linear_forward(X, coef, intercept)
    losses, G = cross_entropy_grad(Z, y)
    total = sum(v)
    mean_loss = float(sum(v[r] * losses[r] for r in range(n)) / total) if total else 0.0
    hits = correct(Z, y, sample_weight)
    grad_coef = 2 * l2 * _f64(coef)
    grad_intercept = np.zeros(K)
    for r in range(n):
        for k in range(K):
            grad_coef[k] += v[r] * G[r, k] / n * X[r]
            grad_intercept[k] += v[r] * G[r, k] / n
    coef[...] = _f64(coef) - learning_rate * p * grad_coef
    intercept[...] = _f64(intercept) - learning_rate * grad_intercept
    return mean_loss, hits


def epoch(
    X,
    y,
    coef,
    intercept,
    order,
    batch_size,
    learning_rates,
    l2,
    input_scale=1.0,
    sample_weight=None,
    step_scale=None,
):
    """One epoch of mini-batch gradient descent over ``X[order]``, step by step, in place.

    Batch t is rows ``order[t*B:(t+1)*B]``, seen as ``X * input_scale``, stepped with
    ``learning_rates[t]`` by :func:`sgd_step` (``sample_weight`` is indexed by row of X, like
    y). Returns ``(mean loss, accuracy)`` over the rows, each measured before its batch's
    step, weighted: sum v E / sum v and sum v [right] / sum v.
    """
    v = _ones_or(sample_weight, len(y))
    loss_sum, hits, weight_sum = 0.0, 0.0, 0.0
    for t, start in enumerate(range(0, len(order), batch_size)):
        rows = order[start : start + batch_size]
        batch_loss, batch_hits = sgd_step(
            _f64(X[rows]) * input_scale,
            y[rows],
            coef,
            intercept,
            learning_rates[t],
            l2,
            v[rows],
            step_scale,
        )
        loss_sum += batch_loss * sum(v[rows])
        hits += batch_hits
        weight_sum += sum(v[rows])
    return loss_sum / weight_sum, hits / weight_sum
