# Per-row numerical helpers shared by the compiled kernels (_loss.pyx, and the forward pass and
# epoch of _linear.pyx): `cimport` them, do not copy them. The cross-entropy and its gradient by
# the logits are written here once for every K (`cross_entropy_row`, `cross_entropy_grad_row`:
# sigmoid for K == 1, softmax for K >= 2), the Cython twin of fastreg/_kernels/_loss_numpy.py.
#
# dtypes: `floating` is float or double (Cython's fused type). Every transcendental function
#   (exp, log, log1p) is evaluated in double, whatever the storage type: a row has only K of
#   them against K*d multiply-adds, so double costs nothing measurable and keeps float32 results
#   correctly rounded. Losses are returned as double, ready to be summed in double.
# contiguity: helpers take raw pointers to contiguous rows (`&Z[n, 0]` of a [:, ::1] view).
# written: only the output pointers: y of `axpy`/`axpy4`; p of `row_softmax` and g of
#   `row_cross_entropy_grad`/`cross_entropy_grad_row`, which may alias z.
# All helpers are `noexcept nogil` and trust their inputs (lengths >= 1, labels in range).
from cython cimport floating
from libc.math cimport exp, log, log1p


cdef inline double log1pexp(double x) noexcept nogil:
    """log(1 + e^x) without overflow or lost digits (scikit-learn's piecewise `log1pexp`).

    x <= -37: e^x alone (1 + e^x rounds to 1);   x <= -2: log1p(e^x);   x <= 18: log(1 + e^x);
    x <= 33.3: x + e^-x (log(1 + e^x) = x + log1p(e^-x) ~ x + e^-x);   beyond: x.
    """
    if x <= -37.0:
        return exp(x)
    elif x <= -2.0:
        return log1p(exp(x))
    elif x <= 18.0:
        return log(1.0 + exp(x))
    elif x <= 33.3:
        return x + exp(-x)
    return x


cdef inline floating sigmoid(floating z) noexcept nogil:
    """1 / (1 + e^-z) for any finite z: with e = e^-|z| <= 1, it is 1/(1+e) (z >= 0) or e/(1+e)."""
    cdef double e
    if z >= 0:
        return <floating> (1.0 / (1.0 + exp(-<double> z)))
    e = exp(<double> z)
    return <floating> (e / (1.0 + e))


cdef inline double binary_cross_entropy(floating z, int y) noexcept nogil:
    """-log s(z) for y = 1, -log(1 - s(z)) for y = 0, from the logit z.

    -log s(z) = log(1 + e^-z) and -log(1 - s(z)) = log(1 + e^z): one log1pexp each, so the loss
    never takes log(0) and never subtracts two large numbers (log(1 + e^z) - y z would, for y = 1
    and large z).
    """
    return log1pexp(-<double> z) if y else log1pexp(<double> z)


cdef inline floating binary_cross_entropy_dz(floating z, int y) noexcept nogil:
    """d/dz of :func:`binary_cross_entropy`, s(z) - y, as -s(-z) for y = 1: no cancellation."""
    return -sigmoid(-z) if y else sigmoid(z)


cdef inline floating dot(const floating* a, const floating* b, Py_ssize_t n) noexcept nogil:
    """sum_j a[j] b[j], accumulated in the storage type as BLAS does.

    Sixteen independent partial sums, added pairwise at the end: one running sum would fix the
    order of the additions and forbid SIMD (the compiler may not reassociate them itself).
    Sixteen lanes vectorise cleanly at every width, SSE2 to AVX-512; eight scalar sums compiled
    with -march=native into shuffles and ran 5x slower (measured, GCC 12).
    """
    cdef floating acc[16]
    cdef Py_ssize_t j, lane, half, n16 = n - n % 16
    for lane in range(16):
        acc[lane] = 0
    for j in range(0, n16, 16):
        for lane in range(16):
            acc[lane] = acc[lane] + a[j + lane] * b[j + lane]
    for j in range(n16, n):
        acc[0] = acc[0] + a[j] * b[j]
    half = 8
    while half > 0:
        for j in range(half):
            acc[j] = acc[j] + acc[j + half]
        half = half // 2
    return acc[0]


cdef inline void axpy(floating alpha, const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    """y[j] += alpha x[j]: elementwise, so it vectorises as written (gradient rows += g x_n)."""
    cdef Py_ssize_t j
    for j in range(n):
        y[j] = y[j] + alpha * x[j]


cdef inline void axpy4(floating a0, floating a1, floating a2, floating a3, const floating* x0,
                       const floating* x1, const floating* x2, const floating* x3, floating* y,
                       Py_ssize_t n) noexcept nogil:
    """y[j] += a0 x0[j] + a1 x1[j] + a2 x2[j] + a3 x3[j]: four samples' terms in one sweep of y.

    Reading and writing y once for four rows, rather than once per row, is what speeds up a
    gradient accumulation whose rows y stay in cache while x streams by.
    """
    cdef Py_ssize_t j
    for j in range(n):
        y[j] = y[j] + ((a0 * x0[j] + a1 * x1[j]) + (a2 * x2[j] + a3 * x3[j]))


cdef inline Py_ssize_t row_argmax(const floating* z, Py_ssize_t k) noexcept nogil:
    """Index of the largest of z[0..k-1] (the first one on ties, as numpy.argmax)."""
    cdef Py_ssize_t c, best = 0
    for c in range(1, k):
        if z[c] > z[best]:
            best = c
    return best


cdef inline void row_softmax(const floating* z, floating* p, Py_ssize_t k) noexcept nogil:
    """p[c] = e^{z[c] - m} / sum_c' e^{z[c'] - m}, m = max_c z[c]; p may alias z (in place).

    Every exponent is <= 0, so nothing overflows; terms far below the maximum underflow to 0
    on their own, none is cut off on purpose.
    """
    cdef Py_ssize_t c
    cdef double m = z[row_argmax(z, k)], s = 0.0, e
    for c in range(k):
        e = exp(<double> z[c] - m)
        p[c] = <floating> e
        s += e
    s = 1.0 / s
    for c in range(k):
        p[c] = <floating> (p[c] * s)


cdef inline double row_cross_entropy(const floating* z, Py_ssize_t k, int y) noexcept nogil:
    """Cross-entropy -log softmax(z)[y] = logsumexp(z) - z[y] of one row of logits.

    Evaluated as (m - z[y]) + log1p(sum_{c != i} e^{z[c] - m}) with m = z[i] the row maximum:
    the first term is exact, the second never logs 0, and a confidently right row keeps its tiny
    loss to full relative precision (m + log(...) - z[y] would round it to 0).
    """
    cdef Py_ssize_t c, i = row_argmax(z, k)
    cdef double m = z[i], rest = 0.0
    for c in range(k):
        if c != i:
            rest += exp(<double> z[c] - m)
    return (m - <double> z[y]) + log1p(rest)


cdef inline double row_cross_entropy_grad(const floating* z, floating* g, Py_ssize_t k,
                                          int y) noexcept nogil:
    """Loss of :func:`row_cross_entropy` and its gradient g = softmax(z) - onehot(y) by the logits.

    g may alias z (computed in place). When y is the argmax, g[y] = p_y - 1 is computed as
    -(sum of the other terms) / (1 + that sum), so it does not cancel to 0 as p_y -> 1.
    """
    cdef Py_ssize_t c, i = row_argmax(z, k)
    cdef double m = z[i], zy = z[y], rest = 0.0, e, inv
    for c in range(k):
        e = exp(<double> z[c] - m)
        g[c] = <floating> e
        if c != i:
            rest += e
    inv = 1.0 / (1.0 + rest)
    for c in range(k):
        g[c] = <floating> (g[c] * inv)
    if y == i:
        g[y] = <floating> (-rest * inv)
    else:
        g[y] = g[y] - 1  # p_y <= 1/2 here: no cancellation
    return (m - zy) + log1p(rest)


cdef inline double cross_entropy_row(const floating* z, Py_ssize_t k, int y) noexcept nogil:
    """Cross-entropy of one row of k logits: binary (sigmoid) for k == 1, y in {0, 1};
    softmax for k >= 2, y in 0..k-1."""
    if k == 1:
        return binary_cross_entropy(z[0], y)
    return row_cross_entropy(z, k, y)


cdef inline double cross_entropy_grad_row(const floating* z, floating* g, Py_ssize_t k,
                                          int y) noexcept nogil:
    """Loss of :func:`cross_entropy_row`, and THE gradient by the logits g = p - onehot(y):
    s(z) - y for k == 1, softmax(z) - onehot(y) for k >= 2. g may alias z (in place)."""
    cdef double loss
    if k == 1:
        loss = binary_cross_entropy(z[0], y)  # before g[0] overwrites z[0]
        g[0] = binary_cross_entropy_dz(z[0], y)
        return loss
    return row_cross_entropy_grad(z, g, k, y)
