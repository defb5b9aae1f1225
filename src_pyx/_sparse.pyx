# The linear model's compiled kernels on a sparse CSR X: the forward pass
# `sparse_linear_forward` and the training epoch `sparse_epoch`. Twins of
# fastreg/_kernels/_sparse_numpy.py (the specification, whose docstring carries the
# mathematics): same signatures, same meaning. One weight layout: coef (K, d), intercept (K,);
# K = 1 is the logistic model (sigmoid link, labels 0/1), K >= 2 the softmax model.
#
# dtypes: X.data, coef, intercept (and sample_weight, step_scale) float32 or float64, one dtype
#   per call; X.indices and X.indptr int32 or int64 (one dtype for both); y np.intc; order
#   np.intp; learning_rates float64, one per batch. Logits and gradients are accumulated in the
#   storage type (as the dense kernels do), losses and their sums in double (_common.pxd).
# contiguity: the CSR arrays 1-d C-contiguous, in any index order, duplicates summed; coef,
#   intercept, out C-contiguous. Read-only inputs work (const views).
# written: `out` (forward); coef and intercept in place (epoch: from a transposed working copy,
#   written back at the end of the call or where it stops, always at a batch boundary).
# trusted: these are raw kernels. fastreg/_kernels/_checks.py checks the CSR structure (indptr
#   from 0, non-decreasing, within the arrays; every index in 0..d-1: what makes the loops below
#   memory-safe), shapes, dtypes, labels, order and learning rates for both backends.
#
# How the epoch runs: every step costs O(nnz_t K) for the batch's nonzeros, never O(d K).
# * The weights live in a working copy V (d, K) row-major, so a nonzero x_nj meets the K
#   contiguous numbers of row j (one vector loop). Batch t: the logits of all its rows at the
#   weights before its step, then loss, accuracy and G = dE/dz per row (_common.pxd's
#   cross_entropy_grad_row, in place), then the update x_nj G_n of each nonzero's row of V.
# * The L2 shrink of every step is lazy, as in the twin: one scale factor wscale for uniform
#   steps (folded into V when it drops below 1e-9); with a step_scale and l2 > 0, one scale
#   per feature (struct Feature) brought up to date when the feature is read or written (one
#   pow, or a short series over prefix sums of the rates' powers: O(1) per touch for every
#   schedule but large shrinks under rates that change at every step, see _shrink), the
#   batch's values times their features' factors in a buffer the row kernels read.
# * The row kernels (simd/sparse_rows.h) keep a block of classes in vector registers over a
#   row's nonzeros; fr_sparse_prefetch asks for the next rows' nonzeros and rows of V ahead of
#   their use (random rows of a large X and a V of several MB otherwise stall every row).
# * Sequential and deterministic: n_threads is accepted for parity with the dense epoch (see
#   sparse_epoch's docstring: a step is tens of us, mostly memory latency, and neither its rows
#   nor its classes split into independent parts worth a barrier).
# * Signals: at a batch boundary, every ~10 ms (runtime.h's fr_poll), an epoch called from the
#   main thread takes the GIL and runs Python's signal handlers; if one raises (Ctrl-C), the
#   weights are written back as the batches before it left them and the exception propagates.
import threading

import numpy as np

from cython cimport floating
from libc.math cimport NAN, exp, fabs, isfinite, log1p, pow
from cpython.exc cimport PyErr_CheckSignals
from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF

from _common cimport cross_entropy_grad_row, row_argmax
from _sparse_runtime cimport (
    fr_alloc, fr_free, fr_poll_t, fr_poll_init, fr_poll_due, fr_poll_done,
)
from _sparse_rows cimport index_t, fr_sparse_prefetch, _row_logits, _row_update

#: the scale factor below which (or at or below 0) it is folded into the stored weights
cdef double WSCALE_MIN = 1e-9
#: the series of the lazy shrinks (_shrink): at most this many terms, remainder below this
cdef enum:
    SERIES_TERMS = 16
cdef double SERIES_TOL = 1e-16
#: transposition tile (features) of the copies between coef (K, d) and V (d, K)
cdef enum:
    TILE = 64

cdef Py_ssize_t _last_batches = 0
#: ask for what the next rows read ahead of their logits (simd/sparse_rows.h's fr_sparse_prefetch;
#: measured 1.5x faster on the text-like benchmark, benchmarks/sparse_text.py)
cdef bint _prefetch_rows = 1


def _last_batches_done():
    """Batches whose step the last epoch took: all of them, or those before its stop."""
    return _last_batches


def _reset_batches_done():
    """Make ``_last_batches_done()`` 0 until the next epoch ends: a caller that may stop the
    next call before it starts (a signal handler) then reads 0, not the last call's count."""
    global _last_batches
    _last_batches = 0


def _tuning(prefetch=None):
    """Read or set the epoch's tuning (for tests and measurements); returns the old values."""
    global _prefetch_rows
    previous = dict(prefetch=bool(_prefetch_rows))
    if prefetch is not None:
        _prefetch_rows = 1 if prefetch else 0
    return previous


cdef _check_int_range(Py_ssize_t d, Py_ssize_t K):
    # as the dense kernels: classes are C ints
    if d > 2**31 - 65 or K > 2**31 - 1:
        raise ValueError(f"{d} features x {K} classes is beyond the compiled kernels (C int "
                         "indices); use the NumPy backend (backend='numpy')")


# --------------------------------------------------------------------------- the forward pass
cdef void _gather_rows(const floating* data, const index_t* indices, const index_t* indptr,
                       Py_ssize_t N, const floating* coef, Py_ssize_t d, int K,
                       const floating* b, floating* Z) noexcept nogil:
    """Z[n, k] = sum_p data[p] coef[k, indices[p]] + b[k] read from coef (K, d) itself: each
    sum in the order of the nonzeros, as simd/sparse_rows.h's on V (so both give the same
    bits)."""
    cdef Py_ssize_t n, p
    cdef int k
    cdef floating x
    cdef floating* z
    cdef const floating* w
    for n in range(N):
        z = Z + n * K
        for k in range(K):
            z[k] = 0
        for p in range(indptr[n], indptr[n + 1]):
            x = data[p]
            w = coef + <Py_ssize_t> indices[p]
            for k in range(K):
                z[k] = z[k] + x * w[k * d]
        for k in range(K):
            z[k] = z[k] + b[k]


cdef void _transpose(const floating* src, floating* dst, Py_ssize_t rows,
                     Py_ssize_t cols) noexcept nogil:
    """dst (cols, rows) = src (rows, cols)^T, in tiles of TILE columns (both sides in cache)."""
    cdef Py_ssize_t c0 = 0, c, r
    while c0 < cols:
        for r in range(rows):
            for c in range(c0, min(c0 + TILE, cols)):
                dst[c * rows + r] = src[r * cols + c]
        c0 += TILE


def _forward(const floating[::1] data, const index_t[::1] indices, const index_t[::1] indptr,
             const floating[:, ::1] coef, const floating[::1] intercept, floating[:, ::1] Z):
    cdef Py_ssize_t N = Z.shape[0], K = coef.shape[0], d = coef.shape[1], n, k
    cdef Py_ssize_t nnz = indptr[N] - indptr[0]
    cdef const floating* pdata = &data[0] if data.shape[0] else NULL
    cdef const index_t* pind = &indices[0] if indices.shape[0] else NULL
    cdef floating* V = NULL
    if N == 0 or K == 0:
        return
    # a feature's K weights are d apart in coef: transposing coef (O(d K)) pays when the rows
    # hold as many nonzeros as there are features; fewer (a few rows) are gathered in place
    if nnz >= d:
        V = <floating*> fr_alloc(d * K * sizeof(floating))
        if V == NULL:
            raise MemoryError("sparse_linear_forward: could not allocate the weights' copy")
    with nogil:
        if V != NULL:
            _transpose(&coef[0, 0], V, K, d)
            for n in range(N):
                _row_logits(pdata, pind, indptr[n], indptr[n + 1], V, <int> K, &Z[n, 0])
                for k in range(K):
                    Z[n, k] = Z[n, k] + intercept[k]
        else:
            _gather_rows(pdata, pind, &indptr[0], N, &coef[0, 0], d, <int> K, &intercept[0],
                         &Z[0, 0])
    fr_free(V)


def sparse_linear_forward(X, coef, intercept, out=None):
    """Logits ``out[n, k] = sum_j X[n, j] coef[k, j] + intercept[k]`` of a CSR X, shape (N, K).

    Duplicate entries of a row are summed. ``out`` (N, K) of coef's dtype, C-contiguous, is
    written and returned (allocated when None). Costs O(nnz K), plus O(d K) to transpose coef
    when X holds at least d nonzeros.
    """
    _check_int_range(coef.shape[1], coef.shape[0])
    if out is None:
        out = np.empty((X.shape[0], coef.shape[0]), dtype=coef.dtype)
    _forward(X.data, X.indices, X.indptr, coef, intercept, out)
    return out


# --------------------------------------------------------------------------- the epoch
cdef struct Feature:
    # lazy shrinks: W[:, j] before step `last` is `scale` times row j of V
    double scale
    double c                   # 2 l2 step_scale[j]: step u shrinks the feature by 1 - lr_u c
    double log_shrink          # log(1 - lr c) when the call has one rate and 1 - lr c > 0
    Py_ssize_t last


cdef struct Epoch:
    Py_ssize_t n, B, d, T      # rows in order, batch size, features, batches
    int K
    const int* y
    const Py_ssize_t* order
    const double* lrs
    double l2
    bint weighted              # sample_weight given
    bint lazy                  # per-feature shrinks: step_scale given and l2 > 0
    bint check_signals         # run Python's signal handlers (called from the main thread)
    double wscale              # uniform shrinks: W = wscale V
    # lazy shrinks (else NULL)
    Feature* feat              # (d,)
    void* xbuf                 # (floating) a batch's values times their feature's factor
    Py_ssize_t* run_of         # the piece of equal learning rate of each step
    Py_ssize_t* run_stop       # the step after each piece
    double* powsums            # [u, m] = sum_{v < u} lr_v^(m+1), m < SERIES_TERMS
    double lr_max              # max_u |lr_u|
    bint one_rate              # one learning rate for the whole call
    # results
    double loss_sum, correct_sum, weight_sum
    Py_ssize_t batches_done
    int status                 # 1: a non-finite batch, 2: a signal handler raised
    PyObject* error            # what the signal handler raised (re-raised by the caller)


cdef int _check_signals(Epoch* e) noexcept nogil:
    """Run Python's signal handlers; when one raises keep its exception in e.error, return 1."""
    with gil:
        try:
            PyErr_CheckSignals()
        except BaseException as exc:
            Py_INCREF(exc)
            e.error = <PyObject*> exc
            return 1
    return 0


cdef inline int _series_terms(double x, Py_ssize_t gap) noexcept nogil:
    """Terms m of the series below that bound its remainder, gap |x|^(m+1) / ((m+1)(1-|x|)),
    by SERIES_TOL (x = max_u |lr_u| c_j); 0 when SERIES_TERMS are not enough."""
    cdef double xm = fabs(x), ax = fabs(x)
    cdef int m
    for m in range(1, SERIES_TERMS + 1):
        xm *= ax
        if gap * xm <= SERIES_TOL * (m + 1) * (1.0 - ax):
            return m
    return 0


cdef double _shrink(Epoch* e, Feature* f, Py_ssize_t a, Py_ssize_t t) noexcept nogil:
    """prod_{u=a}^{t-1} (1 - lr_u c), the L2 shrinks of a feature over steps a..t-1.

    One rate over the gap: one pow (exp((t - a) log(1 - lr c)) in a call of one rate). Else,
    when it converges within SERIES_TERMS, the series log prod = -sum_m (c^m / m) sum_u lr_u^m
    from the prefix sums of lr^m: O(1) whatever the schedule. Else one pow per piece of equal
    rate: O(gap) for rates that change at every step and shrink by more than ~1 % a step.
    """
    cdef double c = f.c, prod = 1.0, L = 0.0, cm = 1.0
    cdef Py_ssize_t r = e.run_of[a], stop
    cdef const double* Pa
    cdef const double* Pt
    cdef int m, M
    if e.run_stop[r] >= t:
        if e.one_rate and f.log_shrink == f.log_shrink:  # not NaN
            return exp((t - a) * f.log_shrink)
        return pow(1.0 - e.lrs[a] * c, <double> (t - a))
    M = _series_terms(e.lr_max * c, t - a)
    if M:
        Pa = e.powsums + a * SERIES_TERMS
        Pt = e.powsums + t * SERIES_TERMS
        for m in range(M):
            cm *= c
            L -= cm / (m + 1) * (Pt[m] - Pa[m])
        return exp(L)
    while a < t:
        stop = min(e.run_stop[r], t)
        prod *= pow(1.0 - e.lrs[a] * c, <double> (stop - a))
        a = stop
        r += 1
    return prod


cdef inline void _set_scale(Epoch* e, floating* V, Py_ssize_t j, double s) noexcept nogil:
    """Feature j's scale = s; below WSCALE_MIN (or <= 0) it is folded into row j of V (O(K),
    rare) and the scale is 1."""
    cdef floating g
    cdef floating* w
    cdef int k
    if s < WSCALE_MIN:
        g = <floating> s
        w = V + j * e.K
        for k in range(e.K):
            w[k] = w[k] * g
        s = 1.0
    e.feat[j].scale = s


cdef inline double _catch_up(Epoch* e, floating* V, Py_ssize_t j, Py_ssize_t t) noexcept nogil:
    """Feature j's scale brought to the weights before step t (lazy shrinks); returns it."""
    cdef Feature* f = e.feat + j
    if f.last < t:
        _set_scale(e, V, j, f.scale * _shrink(e, f, f.last, t))
        f.last = t
    return f.scale


cdef void _epoch(Epoch* e, const floating* data, const index_t* indices,
                 const index_t* indptr, floating* V, floating* b, floating* Z, double* gsum,
                 const floating* sw, const floating* ss) noexcept nogil:
    """The batches of one call, in place on V (d, K) and b; stops at a non-finite batch or a
    signal handler's exception, before that batch's step (e.status)."""
    cdef int K = e.K, k, yi
    cdef Py_ssize_t t = 0, start = 0, stop, nb, i, r, p, p0, p1, j, q, work = 0, pos
    cdef floating ws, lr, cg, g
    cdef floating* z
    cdef floating* xb = <floating*> e.xbuf
    cdef const floating* x
    cdef double loss, v, batch_loss, batch_correct, batch_weight, wscale
    cdef bint right
    cdef Feature* f
    cdef fr_poll_t poll
    fr_poll_init(&poll)
    while start < e.n:
        if e.check_signals and fr_poll_due(&poll, work):
            if _check_signals(e):
                e.status = 2
                break
            fr_poll_done(&poll)
        stop = min(start + e.B, e.n)
        nb = stop - start
        work = pos = 0
        # logits of every row at the weights before the step: z = wscale (x V) + b; with lazy
        # shrinks z = sum_j (x_j scale_j) V[j] + b, each scale first brought up to date
        ws = <floating> e.wscale
        for i in range(nb):
            if _prefetch_rows:
                fr_sparse_prefetch(e.order, start + i, e.n, indptr, indices, sizeof(index_t),
                                   data, sizeof(floating), V, K, e.feat, sizeof(Feature))
            r = e.order[start + i]
            p0, p1 = indptr[r], indptr[r + 1]
            x = data + p0
            if e.lazy:
                for p in range(p0, p1):
                    xb[pos + p - p0] = data[p] * <floating> _catch_up(e, V, indices[p], t)
                x = xb + pos
                pos += p1 - p0
            z = Z + i * K
            _row_logits(x, indices + p0, 0, p1 - p0, V, K, z)
            work += (p1 - p0) * K
            for k in range(K):
                z[k] = z[k] * ws + b[k]
        # loss, accuracy and G = dE/dz (in place of z), the dense epoch's conventions
        batch_loss = batch_correct = 0.0
        for k in range(K):
            gsum[k] = 0.0
        for i in range(nb):
            r = e.order[start + i]
            yi = e.y[r]
            z = Z + i * K
            if K == 1:
                right = (z[0] >= 0) == (yi == 1)
                # z - z: NaN for an infinite logit, which stops the epoch (as the dense one)
                loss = (z[0] - z[0]) + cross_entropy_grad_row(z, z, 1, yi)
            else:
                right = row_argmax(z, K) == yi
                loss = cross_entropy_grad_row(z, z, K, yi)
            if e.weighted:
                v = sw[r]
                batch_loss += v * loss  # 0 * inf is nan: a weight-0 row's overflow stops too
                batch_correct += v if right else 0.0
                for k in range(K):
                    z[k] = z[k] * sw[r]
            else:
                batch_loss += loss
                batch_correct += right
            for k in range(K):
                gsum[k] += z[k]
        if not isfinite(batch_loss):
            e.status = 1  # diverged: the weights stay as this batch found them
            break
        if e.weighted:
            batch_weight = 0.0
            for i in range(start, stop):
                batch_weight += sw[e.order[i]]
        else:
            batch_weight = nb
        # the step: V's rows of the batch's features, then b
        lr = <floating> e.lrs[t]
        if e.lazy:
            # this step's shrink of each feature of the batch (at its first nonzero), then the
            # nonzeros' factors step_scale_j / scale_j of the update, all before any update
            cg = <floating> (e.lrs[t] / nb)
            pos = 0
            for i in range(start, stop):
                r = e.order[i]
                for p in range(indptr[r], indptr[r + 1]):
                    j = indices[p]
                    f = e.feat + j
                    if f.last == t:
                        _set_scale(e, V, j, f.scale * (1.0 - e.lrs[t] * f.c))
                        f.last = t + 1
                    xb[pos] = data[p] * <floating> (ss[j] / f.scale)
                    pos += 1
        else:
            wscale = e.wscale * (1.0 - 2.0 * e.lrs[t] * e.l2)
            if wscale < WSCALE_MIN:  # fold it in (O(d K), rare)
                g = <floating> wscale
                for q in range(e.d * K):
                    V[q] = V[q] * g
                wscale = 1.0
            e.wscale = wscale
            cg = <floating> (e.lrs[t] / nb / wscale)
        pos = 0
        for i in range(nb):
            z = Z + i * K
            for k in range(K):
                z[k] = z[k] * cg
            r = e.order[start + i]
            p0, p1 = indptr[r], indptr[r + 1]
            if e.lazy:
                _row_update(xb + pos, indices + p0, 0, p1 - p0, NULL, V, K, z)
                pos += p1 - p0
            else:
                _row_update(data + p0, indices + p0, 0, p1 - p0, ss, V, K, z)
        for k in range(K):
            b[k] = b[k] - lr * <floating> (gsum[k] / nb)
        e.loss_sum += batch_loss
        e.correct_sum += batch_correct
        e.weight_sum += batch_weight
        start = stop
        t += 1
    e.batches_done = t
    if e.lazy:  # every feature up to date
        for j in range(e.d):
            _catch_up(e, V, j, t)


cdef Py_ssize_t _max_batch_nnz(const Py_ssize_t* order, Py_ssize_t n, Py_ssize_t B,
                               const index_t* indptr) noexcept nogil:
    """The most nonzeros a batch of the epoch holds (the size of the lazy path's buffer)."""
    cdef Py_ssize_t i, nnz = 0, most = 0
    for i in range(n):
        if i % B == 0:
            nnz = 0
        nnz += indptr[order[i] + 1] - indptr[order[i]]
        most = max(most, nnz)
    return most


cdef void _lazy_setup(Epoch* e, const floating* ss) noexcept nogil:
    """Every feature current with scale 1, c = 2 l2 step_scale; the pieces of equal learning
    rate and the prefix sums of the rates' powers (the series of _shrink)."""
    cdef Py_ssize_t j, u, r = 0
    cdef int m
    cdef double lr_m
    e.lr_max = 0.0
    for u in range(e.T):
        if u > 0 and e.lrs[u] != e.lrs[u - 1]:
            e.run_stop[r] = u
            r += 1
        e.run_of[u] = r
        e.lr_max = max(e.lr_max, fabs(e.lrs[u]))
        lr_m = 1.0
        for m in range(SERIES_TERMS):
            lr_m *= e.lrs[u]
            e.powsums[(u + 1) * SERIES_TERMS + m] = e.powsums[u * SERIES_TERMS + m] + lr_m
    e.run_stop[r] = e.T
    e.one_rate = r == 0
    for j in range(e.d):
        e.feat[j].scale = 1.0
        e.feat[j].c = 2.0 * e.l2 * ss[j]
        e.feat[j].last = 0
        e.feat[j].log_shrink = (log1p(-e.lrs[0] * e.feat[j].c)
                                if e.one_rate and e.lrs[0] * e.feat[j].c < 1.0 else NAN)


def _run(const floating[::1] data, const index_t[::1] indices, const index_t[::1] indptr,
         const int[::1] y, floating[:, ::1] coef, floating[::1] intercept,
         const Py_ssize_t[::1] order, Py_ssize_t batch_size, const double[::1] lrs, double l2,
         const floating[::1] sample_weight, const floating[::1] step_scale, bint weighted,
         bint scaled):
    """Set up the working copy (and the lazy shrinks' tables), run the batches, write back."""
    cdef Epoch e
    cdef Py_ssize_t K = coef.shape[0], d = coef.shape[1], q, u
    cdef floating* V = NULL
    cdef floating* Z = NULL
    cdef double* gsum = NULL
    cdef floating ws
    cdef floating* pcoef = &coef[0, 0] if d else NULL
    cdef const floating* pdata = &data[0] if data.shape[0] else NULL
    cdef const index_t* pind = &indices[0] if indices.shape[0] else NULL
    cdef const floating* ss = &step_scale[0] if scaled and d else NULL
    e.n = order.shape[0]
    e.B = min(batch_size, e.n)
    e.d = d
    e.K = <int> K
    e.T = (e.n + batch_size - 1) // batch_size
    e.y = &y[0]
    e.order = &order[0]
    e.lrs = &lrs[0]
    e.l2 = l2
    e.weighted = weighted
    e.lazy = scaled and l2 > 0
    e.check_signals = threading.get_ident() == threading.main_thread().ident
    e.wscale = 1.0
    e.feat = NULL
    e.xbuf = NULL
    e.run_of = e.run_stop = NULL
    e.powsums = NULL
    e.loss_sum = e.correct_sum = e.weight_sum = 0.0
    e.batches_done = 0
    e.status = 0
    e.error = NULL
    try:
        V = <floating*> fr_alloc(d * K * sizeof(floating))
        Z = <floating*> fr_alloc(e.B * K * sizeof(floating))
        gsum = <double*> fr_alloc(K * sizeof(double))
        if e.lazy:
            e.feat = <Feature*> fr_alloc(d * sizeof(Feature))
            e.xbuf = fr_alloc(_max_batch_nnz(&order[0], e.n, e.B, &indptr[0])
                              * sizeof(floating))
            e.run_of = <Py_ssize_t*> fr_alloc(e.T * sizeof(Py_ssize_t))
            e.run_stop = <Py_ssize_t*> fr_alloc(e.T * sizeof(Py_ssize_t))
            e.powsums = <double*> fr_alloc((e.T + 1) * SERIES_TERMS * sizeof(double))
        if V == NULL or Z == NULL or gsum == NULL or (e.lazy and (
                e.feat == NULL or e.xbuf == NULL or e.run_of == NULL or e.run_stop == NULL
                or e.powsums == NULL)):
            raise MemoryError("sparse_epoch: could not allocate the working buffers")
        with nogil:
            if e.lazy:
                _lazy_setup(&e, ss)
            _transpose(pcoef, V, K, d)
            _epoch(&e, pdata, pind, &indptr[0], V, &intercept[0], Z, gsum,
                   &sample_weight[0] if weighted else NULL, ss)
            # coef = (V times its scales)^T: wscale, or the lazy per-feature scales
            _transpose(V, pcoef, d, K)
            if e.lazy:
                for q in range(K):
                    for u in range(d):
                        pcoef[q * d + u] = pcoef[q * d + u] * <floating> e.feat[u].scale
            elif e.wscale != 1.0:
                ws = <floating> e.wscale
                for q in range(K * d):
                    pcoef[q] = pcoef[q] * ws
    finally:
        fr_free(V)
        fr_free(Z)
        fr_free(gsum)
        fr_free(e.feat)
        fr_free(e.xbuf)
        fr_free(e.run_of)
        fr_free(e.run_stop)
        fr_free(e.powsums)
    global _last_batches
    _last_batches = e.batches_done
    if e.error:  # the weights are written back at the batch boundary
        exc = <object> e.error
        Py_DECREF(exc)
        raise exc
    if e.status:
        return float("nan"), float("nan")
    return e.loss_sum / e.weight_sum, e.correct_sum / e.weight_sum


def sparse_epoch(X, y, coef, intercept, order, batch_size, learning_rates, l2, n_threads=1,
                 sample_weight=None, step_scale=None):
    """Mini-batch gradient descent over the rows ``X[order]`` of a CSR X, in place on coef and
    intercept: the dense epoch's steps (see fastreg/_kernels/_sparse_numpy.py), each costing
    O(nnz_t K) for the batch's nonzeros.

    Batch t (rows ``order[t*B:(t+1)*B]``, n_t of them, weights v_n, step scales s_j) takes
    coef -= lr_t P ((1/n_t) sum_n v_n G_n x_n^T + 2 l2 coef), intercept -= lr_t (1/n_t)
    sum_n v_n G_n, all its rows at the weights before the step. The L2 shrink is lazy: one
    scale factor for uniform steps; with a ``step_scale`` and l2 > 0 one scale per feature,
    brought up to date when the feature is next read: O(1) a read for constant and
    piecewise-constant schedules (one power) and for any schedule whose shrinks stay below
    about 1 % a step (a short series); O(gap) only for larger shrinks under a rate that
    changes at every step (one power per step of the gap).

    ``n_threads`` is accepted for parity with the dense epoch; the sparse epoch is sequential
    and deterministic. A step at batch 32 on text-like rows (60 nonzeros, 20 classes) takes
    ~50 us, most of it waiting for random rows of X and V: threads splitting the rows would
    collide on the frequent features every batch writes, threads splitting the classes would
    wait on the same cache lines of V, and a barrier per step costs 2-4 us.

    Returns ``(sum v_n E_n / sum v_n, sum v_n [right_n] / sum v_n)`` over the rows seen, each
    at the weights before its batch's step (unweighted: the mean loss and the accuracy). If a
    batch loss is not finite (K == 1: also a logit) the epoch stops before that step, leaves
    the weights as that batch found them and returns (nan, nan). Called from the main thread
    it runs Python's signal handlers about every 10 ms, between batches; if one raises
    (KeyboardInterrupt on Ctrl-C), the weights are those after the batches before it
    (``_last_batches_done()`` of them) and the exception propagates.
    """
    _check_int_range(coef.shape[1], coef.shape[0])
    if order.shape[0] == 0:
        return float("nan"), float("nan")
    empty = np.empty(0, dtype=coef.dtype)
    return _run(X.data, X.indices, X.indptr, y, coef, intercept, order, batch_size,
                learning_rates, l2, empty if sample_weight is None else sample_weight,
                empty if step_scale is None else step_scale, sample_weight is not None,
                step_scale is not None)
