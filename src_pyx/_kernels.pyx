# The compiled twins of the ten non-epoch kernels of fastreg/_numpy_kernels.py (forward passes,
# sigmoid, softmax, both cross-entropies, both objective+gradient, both one-step updates):
# same signatures, same meaning, same return values. That file is the specification.
#
# dtypes: X, coef, intercept, logits and every output share one float dtype, float32 or float64
#   (float32 in gives float32 out); labels y are np.intc; l2 and learning_rate are Python floats.
#   Losses are summed in double and returned as Python floats.
# contiguity: every array is C-contiguous (the Python layer, fastreg/_validation.py, converts at
#   the public edge); inputs are const views, so read-only and memory-mapped arrays work.
# written: `out`, `grad_coef`, `grad_intercept` (allocated here when None, then returned), and
#   for the *_sgd_step kernels `coef` and `intercept`, updated in place.
# Loops run without the GIL; the per-row arithmetic lives in _common.pxd (shared with _epoch).
# The two forward passes are _epoch.pyx's (see below), re-exported.
import numpy as np

from cython cimport floating

from _common cimport (
    axpy,
    axpy4,
    binary_cross_entropy as _bce,
    binary_cross_entropy_dz as _bce_dz,
    dot,
    row_cross_entropy,
    row_cross_entropy_grad,
    row_softmax,
    sigmoid as _sigmoid,
)


cdef inline object _dtype(floating x):
    # The NumPy dtype of a fused specialisation (x only selects it).
    return np.float32 if floating is float else np.float64


# --------------------------------------------------------------------------- forward passes
# linear_forward and linear_forward_binary run the fused epoch's blocked SIMD forward kernel
# (packed weights, runtime ISA dispatch, OpenMP for large N): they are defined in _epoch.pyx,
# next to that kernel, and provided here under the same names.
from fastreg._epoch import linear_forward, linear_forward_binary  # noqa: F401


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
        out = np.empty(np.shape(z), dtype=z.dtype)
    elif not out.flags.c_contiguous:  # its flattened view would be a copy, and the result lost
        raise ValueError("sigmoid: out must be C-contiguous")
    _sigmoid_flat(z.reshape(-1), out.reshape(-1))
    return out


def softmax(const floating[:, ::1] Z, out=None):
    """Row softmax ``out[n, k] = exp(Z[n, k] - m_n) / sum_c exp(Z[n, c] - m_n)``, m_n = max_c Z[n, c].

    Z (N, K); out (N, K) is written and returned (``out=Z`` computes in place).
    """
    cdef Py_ssize_t N = Z.shape[0], K = Z.shape[1], n
    if out is None:
        out = np.empty((N, K), dtype=_dtype(<floating> 0))
    cdef floating[:, ::1] P = out
    with nogil:
        for n in range(N):
            row_softmax(&Z[n, 0], &P[n, 0], K)
    return out


# --------------------------------------------------------------------------- losses
def binary_cross_entropy(const floating[::1] z, const int[::1] y, out=None):
    """Per-sample binary cross-entropy from logits: ``out[n] = log(1 + e^{z_n}) - y_n z_n``.

    Evaluated as log1pexp(-z) for y = 1 and log1pexp(z) for y = 0 (no log(0), no cancellation).
    z (N,), y (N,) in {0, 1}; out (N,) is written and returned.
    """
    cdef Py_ssize_t N = z.shape[0], n
    if out is None:
        out = np.empty(N, dtype=_dtype(<floating> 0))
    cdef floating[::1] loss = out
    with nogil:
        for n in range(N):
            loss[n] = <floating> _bce(z[n], y[n])
    return out


def multinomial_cross_entropy(const floating[:, ::1] Z, const int[::1] y, out=None):
    """Per-sample softmax cross-entropy from logits: ``out[n] = logsumexp_k Z[n, k] - Z[n, y[n]]``.

    Evaluated as (m - Z[n, y[n]]) + log1p(sum of the other terms), m the row maximum (see
    _common.row_cross_entropy). Z (N, K), y (N,) in 0..K-1; out (N,) is written and returned.
    """
    cdef Py_ssize_t N = Z.shape[0], K = Z.shape[1], n
    if out is None:
        out = np.empty(N, dtype=_dtype(<floating> 0))
    cdef floating[::1] loss = out
    with nogil:
        for n in range(N):
            loss[n] = <floating> row_cross_entropy(&Z[n, 0], K, y[n])
    return out


# --------------------------------------------------------------------------- gradients
# The two passes below take the rows four at a time: the logits and derivatives of four samples
# first, then one sweep over each gradient row adds all four terms (axpy4). A gradient row is
# then read and written once per four samples instead of once per sample, which is what bounds
# the speed of a per-sample loop (coef is 31-63 KiB: it lives in L1/L2, not in registers).
cdef double _binary_pass(const floating[:, ::1] X, const int[::1] y, const floating[::1] coef,
                         const floating[::1] intercept, floating[::1] grad_coef,
                         double* grad_intercept) noexcept nogil:
    """One pass over the batch at fixed weights; returns the sum of the sample losses.

    Writes grad_coef = (1/N) sum_n r_n x_n and *grad_intercept = (1/N) sum_n r_n, with
    r_n = s(z_n) - y_n = N dJ/dz_n: the data part of the gradient, without the L2 term.
    """
    cdef Py_ssize_t N = X.shape[0], d = X.shape[1], n, j, i, start, nb
    cdef floating inv_n = <floating> (1.0 / N), z
    cdef floating r[4]
    cdef double loss = 0.0, gb = 0.0
    for j in range(d):
        grad_coef[j] = 0
    for start in range(0, N, 4):
        nb = min(4, N - start)
        for i in range(nb):
            n = start + i
            z = dot(&X[n, 0], &coef[0], d) + intercept[0]
            loss += _bce(z, y[n])
            r[i] = _bce_dz(z, y[n]) * inv_n
            gb += r[i]
        if nb == 4:
            axpy4(r[0], r[1], r[2], r[3], &X[start, 0], &X[start + 1, 0], &X[start + 2, 0],
                  &X[start + 3, 0], &grad_coef[0], d)
        else:
            for i in range(nb):
                axpy(r[i], &X[start + i, 0], &grad_coef[0], d)
    grad_intercept[0] = gb
    return loss


cdef double _multinomial_pass(const floating[:, ::1] X, const int[::1] y,
                              const floating[:, ::1] coef, const floating[::1] intercept,
                              floating[:, ::1] grad_coef, double[::1] grad_intercept,
                              floating[:, ::1] g) noexcept nogil:
    """One pass over the batch at fixed weights; returns the sum of the sample losses.

    Writes grad_coef = (1/N) sum_n (p_n - t_n) x_n^T (row k gathers class k) and
    grad_intercept = (1/N) sum_n (p_n - t_n), the data part of the gradient, without the L2
    term. g (4, K) is scratch: the logits of four rows, then their (p_n - t_n) / N.
    """
    cdef Py_ssize_t N = X.shape[0], d = X.shape[1], K = coef.shape[0], n, k, j, i, start, nb
    cdef floating inv_n = <floating> (1.0 / N)
    cdef double loss = 0.0
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
            loss += row_cross_entropy_grad(&g[i, 0], &g[i, 0], K, y[n])
            for k in range(K):
                g[i, k] = g[i, k] * inv_n
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


def binary_loss_grad(const floating[:, ::1] X, const int[::1] y, const floating[::1] coef,
                     const floating[::1] intercept, double l2,
                     grad_coef=None, grad_intercept=None):
    """Objective and gradient of the logistic model on the batch (X, y).

    J = (1/N) sum_n [log(1 + e^{z_n}) - y_n z_n] + l2 ||w||^2, with z = X w + b;
    dJ/dw = (1/N) X^T (s(z) - y) + 2 l2 w  and  dJ/db = (1/N) sum_n (s(z_n) - y_n).

    X (N, d), coef (d,), intercept (1,); grad_coef (d,) and grad_intercept (1,) are written.
    Returns ``(J, grad_coef, grad_intercept)``; J is a Python float.
    """
    cdef Py_ssize_t d = coef.shape[0], j
    if grad_coef is None:
        grad_coef = np.empty(d, dtype=_dtype(<floating> 0))
    if grad_intercept is None:
        grad_intercept = np.empty(1, dtype=_dtype(<floating> 0))
    cdef floating[::1] gw = grad_coef
    cdef floating[::1] gb = grad_intercept
    cdef floating l2x2 = <floating> (2.0 * l2)
    cdef double loss, gb_sum
    with nogil:
        loss = _binary_pass(X, y, coef, intercept, gw, &gb_sum) / X.shape[0]
        if l2 != 0:  # the penalty: l2 ||w||^2 and 2 l2 w
            loss += l2 * _sum_squares(&coef[0], d)
            for j in range(d):
                gw[j] = gw[j] + l2x2 * coef[j]
        gb[0] = <floating> gb_sum
    return loss, grad_coef, grad_intercept


def multinomial_loss_grad(const floating[:, ::1] X, const int[::1] y,
                          const floating[:, ::1] coef, const floating[::1] intercept, double l2,
                          grad_coef=None, grad_intercept=None):
    """Objective and gradient of the softmax model on the batch (X, y).

    J = (1/N) sum_n [logsumexp_k Z_nk - Z_{n,y_n}] + l2 ||W||^2, with Z = X W^T + b;
    dJ/dW = (1/N) (P - T)^T X + 2 l2 W  (K, d)  and  dJ/db = (1/N) sum_n (P_n - T_n).

    X (N, d), coef (K, d), intercept (K,); grad_coef (K, d) and grad_intercept (K,) are written.
    Returns ``(J, grad_coef, grad_intercept)``; J is a Python float.
    """
    cdef Py_ssize_t K = coef.shape[0], d = coef.shape[1], k, j
    dtype = _dtype(<floating> 0)
    if grad_coef is None:
        grad_coef = np.empty((K, d), dtype=dtype)
    if grad_intercept is None:
        grad_intercept = np.empty(K, dtype=dtype)
    cdef floating[:, ::1] gw = grad_coef
    cdef floating[::1] gb = grad_intercept
    cdef double[::1] gb_sum = np.empty(K)
    cdef floating[:, ::1] g = np.empty((4, K), dtype=dtype)
    cdef floating l2x2 = <floating> (2.0 * l2)
    cdef double loss
    with nogil:
        loss = _multinomial_pass(X, y, coef, intercept, gw, gb_sum, g) / X.shape[0]
        if l2 != 0:  # the penalty: l2 ||W||^2 and 2 l2 W
            loss += l2 * _sum_squares(&coef[0, 0], K * d)
            for k in range(K):
                for j in range(d):
                    gw[k, j] = gw[k, j] + l2x2 * coef[k, j]
        for k in range(K):
            gb[k] = <floating> gb_sum[k]
    return loss, grad_coef, grad_intercept


# --------------------------------------------------------------------------- one update
def binary_sgd_step(const floating[:, ::1] X, const int[::1] y, floating[::1] coef,
                    floating[::1] intercept, double learning_rate, double l2):
    """One mini-batch gradient step on (X, y), in place: w -= lr dJ/dw, b -= lr dJ/db.

    The whole gradient is taken at the weights before the step. coef (d,) and intercept (1,)
    are updated. Returns the mean cross-entropy of the batch before the step (no L2 term).
    """
    cdef Py_ssize_t d = coef.shape[0], j
    cdef floating[::1] grad = np.empty(d, dtype=_dtype(<floating> 0))
    cdef floating lr = <floating> learning_rate, l2x2 = <floating> (2.0 * l2)
    cdef double loss, gb
    with nogil:
        loss = _binary_pass(X, y, coef, intercept, grad, &gb) / X.shape[0]
        for j in range(d):
            coef[j] = coef[j] - lr * (grad[j] + l2x2 * coef[j])
        intercept[0] = intercept[0] - lr * <floating> gb
    return loss


def multinomial_sgd_step(const floating[:, ::1] X, const int[::1] y, floating[:, ::1] coef,
                         floating[::1] intercept, double learning_rate, double l2):
    """One mini-batch gradient step on (X, y), in place: W -= lr dJ/dW, b -= lr dJ/db.

    The whole gradient is taken at the weights before the step. coef (K, d) and intercept (K,)
    are updated. Returns the mean cross-entropy of the batch before the step (no L2 term).
    """
    cdef Py_ssize_t K = coef.shape[0], d = coef.shape[1], k, j
    dtype = _dtype(<floating> 0)
    cdef floating[:, ::1] grad = np.empty((K, d), dtype=dtype)
    cdef double[::1] gb = np.empty(K)
    cdef floating[:, ::1] g = np.empty((4, K), dtype=dtype)
    cdef floating lr = <floating> learning_rate, l2x2 = <floating> (2.0 * l2)
    cdef double loss
    with nogil:
        loss = _multinomial_pass(X, y, coef, intercept, grad, gb, g) / X.shape[0]
        for k in range(K):
            for j in range(d):
                coef[k, j] = coef[k, j] - lr * (grad[k, j] + l2x2 * coef[k, j])
            intercept[k] = intercept[k] - lr * <floating> gb[k]
    return loss
