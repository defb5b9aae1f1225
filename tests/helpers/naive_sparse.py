"""Plain-loop references of the sparse kernels (``fastreg/_kernels/_sparse_numpy.py``), written
to be read, not to be fast.

X is read through its CSR arrays only: row n's nonzeros are the pairs (X.indices[p],
X.data[p]) for X.indptr[n] <= p < X.indptr[n + 1], in their stored order; a repeated index
adds up. The weights are float64 (K, d) and every step shrinks every weight, as the formula is
written: O(d K) a step, the definition the kernels' lazy shrinks (one scale factor, or one per
feature) must reproduce. The link functions, losses and gradients by the logits come from the
loop reference of the dense kernels, :mod:`helpers.naive`.
"""

import numpy as np

from helpers import naive


def nonzeros(X, n):
    """The (feature, value) pairs of row n of the CSR matrix X, as stored."""
    for p in range(X.indptr[n], X.indptr[n + 1]):
        yield int(X.indices[p]), float(X.data[p])


def linear_forward(X, coef, intercept):
    """z[n, k] = sum over row n's nonzeros (j, x) of x coef[k, j], plus intercept[k]."""
    N, K = X.shape[0], coef.shape[0]
    Z = np.zeros((N, K))
    for n in range(N):
        for k in range(K):
            Z[n, k] = float(intercept[k])
            for j, x in nonzeros(X, n):
                Z[n, k] += x * float(coef[k, j])
    return Z


def epoch(
    X,
    y,
    coef,
    intercept,
    order,
    batch_size,
    learning_rates,
    l2,
    sample_weight=None,
    step_scale=None,
):
    """Mini-batch gradient descent over ``X[order]``, step by step, in place on coef and
    intercept (float64 arrays).

    Batch t (rows R, n_t of them) takes, with v_n = sample_weight[n] and s_j = step_scale[j]
    (None: ones) and G_n = dE_n/dz_n at the weights before the step:
        coef[k, j] -= lr_t s_j ((1/n_t) sum_{n in R} v_n G_nk x_nj + 2 l2 coef[k, j])
        intercept[k] -= lr_t (1/n_t) sum_{n in R} v_n G_nk
    Returns ``(sum v E / sum v, sum v [right] / sum v)`` over the rows, each measured before
    its batch's step.
    """
    K, d = coef.shape
    v = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    s = np.ones(d) if step_scale is None else np.asarray(step_scale, float)
    loss_sum = right_sum = weight_sum = 0.0
    for t, start in enumerate(range(0, len(order), batch_size)):
        rows = order[start : start + batch_size]
        nb, lr = len(rows), float(learning_rates[t])
        Z = np.array([linear_forward_row(X, n, coef, intercept) for n in rows])
        losses, G = naive.cross_entropy_grad(Z, y[rows])
        grad_coef = 2 * l2 * coef
        grad_intercept = np.zeros(K)
        for i, n in enumerate(rows):
            loss_sum += v[n] * losses[i]
            right_sum += v[n] * naive.correct(Z[i : i + 1], y[n : n + 1])
            weight_sum += v[n]
            for k in range(K):
                grad_intercept[k] += v[n] * G[i, k] / nb
                for j, x in nonzeros(X, n):
                    grad_coef[k, j] += v[n] * G[i, k] * x / nb
        for k in range(K):
            for j in range(d):
                coef[k, j] -= lr * s[j] * grad_coef[k, j]
            intercept[k] -= lr * grad_intercept[k]
    return loss_sum / weight_sum, right_sum / weight_sum


def linear_forward_row(X, n, coef, intercept):
    """The K logits of row n (see :func:`linear_forward`)."""
    return linear_forward(X[n : n + 1], coef, intercept)[0]
