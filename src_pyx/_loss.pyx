# fastreg._kernels._loss: the compiled twin of fastreg/_kernels/_loss_numpy.py (that file is the
# specification): sigmoid, softmax, the per-row cross-entropy, its gradient by the logits, and
# the batch objective with its gradient. Same names, signatures, meaning and return values.
#
# layout: logits Z (N, K) and weights coef (K, d), intercept (K,); the link is chosen by K
#   (sigmoid for K == 1 with labels 0/1, softmax for K >= 2 with labels 0..K-1).
# dtypes: every float array of a call shares one dtype, float32 or float64 (float32 in gives
#   float32 out); labels y are np.intc; l2 is a Python float. Transcendental functions and loss
#   sums run in double (see _common.pxd); the objective J is returned as a Python float.
# contiguity: every array is C-contiguous (z of sigmoid may have any layout: it is flattened);
#   inputs are const views, so read-only and memory-mapped arrays work.
# written: only `out`, `loss`, `grad`, `grad_coef`, `grad_intercept` (allocated when None, then
#   returned); `out=Z` (softmax) and `grad=Z` (cross_entropy_grad) compute in place.
# The checks of fastreg/_kernels/_checks.py run before every call (get_backend wraps these
# functions); here inputs are trusted. Loops run without the GIL; the per-row arithmetic lives
# in _common.pxd. This module imports no other compiled module.
import numpy as np

from cython cimport floating

from _common cimport (
    axpy,
    axpy4,
    cross_entropy_grad_row,
    cross_entropy_row,
    dot,
    row_softmax,
    sigmoid as _sigmoid,
)


def _empty(shape, like):
    return np.empty(shape, dtype=like.dtype)


# --------------------------------------------------------------------------- link functions
def _sigmoid_flat(const floating[::1] z, floating[::1] out):
    cdef Py_ssize_t i
    with nogil:
        for i in range(z.shape[0]):
            out[i] = _sigmoid(z[i])


def sigmoid(z, out=None):
    """Logistic function ``out = 1 / (1 + e^-z)`` elementwise, without overflow for any finite z.

    z may have any shape; out (C-contiguous, the shape and dtype of z) is written and returned.
    """
    if out is None:
        out = _empty(z.shape, z)
    _sigmoid_flat(z.reshape(-1), out.reshape(-1))
    return out


def _softmax(const floating[:, ::1] Z, floating[:, ::1] P):
    cdef Py_ssize_t N = Z.shape[0], K = Z.shape[1], n
    with nogil:
        for n in range(N):
            row_softmax(&Z[n, 0], &P[n, 0], K)


def softmax(Z, out=None):
    """Row softmax ``out[n, k] = exp(Z[n, k] - m_n) / sum_c exp(Z[n, c] - m_n)``, m_n = max Z[n].

    Z (N, K); out (N, K) is written and returned (``out=Z`` computes in place).
    """
    if out is None:
        out = _empty(Z.shape, Z)
    if Z.shape[0]:
        _softmax(Z, out)
    return out


# --------------------------------------------------------------------------- cross-entropy
def _cross_entropy(const floating[:, ::1] Z, const int[::1] y, floating[::1] loss):
    cdef Py_ssize_t N = Z.shape[0], K = Z.shape[1], n
    with nogil:
        for n in range(N):
            loss[n] = <floating> cross_entropy_row(&Z[n, 0], K, y[n])


def cross_entropy(Z, y, out=None):
    """Per-row cross-entropy from logits Z (N, K): ``out[n] = -log p(y_n | z_n)`` (N,).

    K == 1: log1pexp(-z) for y = 1, log1pexp(z) for y = 0; K >= 2: (m - Z[n, y]) + log1p(sum of
    the other terms), m the row maximum (no log(0), no cancellation; see _common.pxd).
    """
    if out is None:
        out = _empty(Z.shape[0], Z)
    if Z.shape[0]:
        _cross_entropy(Z, y, out)
    return out


def _cross_entropy_grad(const floating[:, ::1] Z, const int[::1] y, floating[::1] loss,
                        floating[:, ::1] G):
    cdef Py_ssize_t N = Z.shape[0], K = Z.shape[1], n
    with nogil:
        for n in range(N):
            loss[n] = <floating> cross_entropy_grad_row(&Z[n, 0], &G[n, 0], K, y[n])


def cross_entropy_grad(Z, y, loss=None, grad=None):
    """Per-row cross-entropy and its gradient by the logits: ``(loss (N,), grad (N, K))``.

    grad_n = p_n - onehot(y_n): s(z_n) - y_n for K == 1, softmax(z_n) - onehot(y_n) for K >= 2,
    computed without cancellation (_common.cross_entropy_grad_row). ``grad=Z`` works in place.
    """
    if loss is None:
        loss = _empty(Z.shape[0], Z)
    if grad is None:
        grad = _empty(Z.shape, Z)
    if Z.shape[0]:
        _cross_entropy_grad(Z, y, loss, grad)
    return loss, grad


# --------------------------------------------------------------------------- objective
# The pass takes the rows four at a time: the logits and derivatives of four rows first, then
# one sweep over each gradient row adds all four terms (axpy4). A gradient row is then read
# and written once per four rows instead of once per row, which is what bounds the speed of a
# per-row loop (coef is 31-63 KiB: it lives in L1/L2, not in registers).
cdef double _pass(const floating[:, ::1] X, const int[::1] y, const floating[:, ::1] coef,
                  const floating[::1] intercept, floating[:, ::1] grad_coef,
                  double[::1] grad_intercept, floating[:, ::1] g, const floating* w,
                  double total) noexcept nogil:
    """One pass over the batch at fixed weights; returns the weighted sum of the row losses.

    With w_n the row weights (w NULL: all 1, total = N) and W = total their sum, writes
    grad_coef = (1/W) sum_n w_n G_n x_n^T (row k gathers logit k) and grad_intercept =
    (1/W) sum_n w_n G_n with G_n = p_n - onehot(y_n), the data part of the gradient, without
    the L2 term; returns sum_n w_n E_n. g (4, K) is scratch: the logits of four rows, then
    their w_n G_n / W.
    """
    cdef Py_ssize_t N = X.shape[0], d = X.shape[1], K = coef.shape[0], n, k, j, i, start, nb
    cdef floating inv_n = <floating> (1.0 / total), f
    cdef double loss = 0.0, e
    for k in range(K):
        grad_intercept[k] = 0.0
        for j in range(d):
            grad_coef[k, j] = 0
    for start in range(0, N, 4):
        nb = min(4, N - start)
        for i in range(nb):
            n = start + i
            for k in range(K):
                g[i, k] = dot(&X[n, 0], &coef[k, 0], d) + intercept[k]
            e = cross_entropy_grad_row(&g[i, 0], &g[i, 0], K, y[n])
            if w == NULL:
                loss += e
                f = inv_n
            else:  # 0 * inf is NaN: a non-finite row shows whatever its weight
                loss += w[n] * e
                f = <floating> (w[n] / total)
            for k in range(K):
                g[i, k] = g[i, k] * f
                grad_intercept[k] += g[i, k]
        for k in range(K):
            if nb == 4:
                axpy4(g[0, k], g[1, k], g[2, k], g[3, k], &X[start, 0], &X[start + 1, 0],
                      &X[start + 2, 0], &X[start + 3, 0], &grad_coef[k, 0], d)
            else:
                for i in range(nb):
                    axpy(g[i, k], &X[start + i, 0], &grad_coef[k, 0], d)
    return loss


cdef double _sum_squares(const floating* w, Py_ssize_t n) noexcept nogil:
    """sum_j w[j]^2 in double, with four partial sums (a single one would serialise the adds)."""
    cdef Py_ssize_t j, n4 = n - n % 4
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    for j in range(0, n4, 4):
        s0 += <double> w[j] * w[j]
        s1 += <double> w[j + 1] * w[j + 1]
        s2 += <double> w[j + 2] * w[j + 2]
        s3 += <double> w[j + 3] * w[j + 3]
    for j in range(n4, n):
        s0 += <double> w[j] * w[j]
    return (s0 + s1) + (s2 + s3)


def _loss_grad(const floating[:, ::1] X, const int[::1] y, const floating[:, ::1] coef,
               const floating[::1] intercept, double l2, floating[:, ::1] gw, floating[::1] gb,
               floating[:, ::1] g, sample_weight):
    cdef Py_ssize_t K = coef.shape[0], d = coef.shape[1], k, j
    cdef double[::1] gb_sum = np.empty(K)
    cdef floating l2x2 = <floating> (2.0 * l2)
    cdef double loss, total = X.shape[0]
    cdef const floating[::1] wv
    cdef const floating* w = NULL
    if sample_weight is not None:
        wv = sample_weight
        w = &wv[0]
        total = np.sum(sample_weight, dtype=np.float64)
    with nogil:
        loss = _pass(X, y, coef, intercept, gw, gb_sum, g, w, total) / total
        if l2 != 0:  # the penalty: l2 ||coef||^2 and 2 l2 coef
            loss += l2 * _sum_squares(&coef[0, 0], K * d)
            for k in range(K):
                for j in range(d):
                    gw[k, j] = gw[k, j] + l2x2 * coef[k, j]
        for k in range(K):
            gb[k] = <floating> gb_sum[k]
    return loss


def loss_grad(X, y, coef, intercept, l2, grad_coef=None, grad_intercept=None,
              sample_weight=None):
    """Objective and gradient of the model on the batch (X, y): ``(J, grad_coef, grad_intercept)``.

    With weights w_n (``sample_weight`` (N,) of coef's dtype; None: all 1) and W = sum_n w_n:
    J = (1/W) sum_n w_n E_n(z_n) + l2 ||coef||^2 with z_n = coef x_n + intercept;
    dJ/dcoef = (1/W) sum_n w_n G_n x_n^T + 2 l2 coef (K, d) and dJ/dintercept =
    (1/W) sum_n w_n G_n (K,), with G_n = p_n - onehot(y_n). X (N >= 1, d) of coef's dtype;
    J is a Python float.
    """
    if grad_coef is None:
        grad_coef = _empty(coef.shape, coef)
    if grad_intercept is None:
        grad_intercept = _empty(intercept.shape, coef)
    scratch = _empty((4, coef.shape[0]), coef)
    J = _loss_grad(X, y, coef, intercept, l2, grad_coef, grad_intercept, scratch,
                   sample_weight)
    return J, grad_coef, grad_intercept
