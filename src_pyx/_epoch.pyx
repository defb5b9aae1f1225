# The fused training epoch: mini-batch gradient descent over the rows X[order], the whole epoch
# in compiled code without the GIL. Compiled twins of `binary_epoch` / `multinomial_epoch` in
# fastreg/_numpy_kernels.py: same signatures, same meaning (that file is the specification).
#
# dtypes: coef/intercept float32 or float64; X of the same dtype, or uint8 pixels with
#   input_scale applied inside (x means dtype(x) * dtype(input_scale)); y np.intc; order any
#   integer array (converted to np.intp); learning_rates float64, one per batch.
# contiguity: X C-contiguous (N, d); batch rows are reached through `order`, never copied; coef
#   (K, d) or (d,) and intercept C-contiguous. Read-only and memory-mapped X, y, order and
#   learning_rates work (const views).
# written: coef and intercept, in place (from a 64-byte aligned working copy, written back at
#   the end of the epoch, or at the stop before a non-finite batch).
#
# How it runs (files: _epoch_simd.h and the three headers it includes):
# * Per batch, a forward pass Z = X_b W^T, the per-row softmax / sigmoid, loss and accuracy,
#   and a backward pass that forms G^T X_b and applies the update in the same sweep over W, so
#   the gradient never goes to memory. Batches above a few hundred KiB of rows run as
#   sub-blocks (forward, rows, backward into a gradient buffer), keeping their rows in L2.
# * Forward and backward are blocked micro-kernels (rows x classes, or classes x feature
#   chunks, of accumulators in vector registers) on a working copy of W laid out in 64-byte
#   panels, compiled for AVX-512, AVX2+FMA and a portable baseline and picked at run time
#   (the default build needs no -march flag). The rows of the next sub-block are prefetched
#   during the forward pass; the exponentials of a sub-block are one vector loop.
# * n_threads > 1 (OpenMP, when the build found it) splits the features: each thread owns its
#   part of W and of every row; one barrier per sub-block joins the partial logits, and every
#   thread then does the (cheap, identical) per-row work itself. Threads start only where a
#   sub-block pays for its barrier, and hand over to one thread if they keep waiting for each
#   other (a busy machine), see _threads_for and _should_go_solo.
#
# Also here: the compiled linear_forward / linear_forward_binary (twins of the NumPy forward
# passes; fastreg._kernels re-exports them), because they run the same forward micro-kernel on
# the same weight layout under the same SIMD dispatch. Their X, coef, intercept are const C-
# contiguous views of one float dtype; `out` is written. See "forward passes" at the end.
import os

import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, threadid
from libc.math cimport isfinite

from _common cimport binary_cross_entropy as _bce, binary_cross_entropy_dz as _bce_dz, dot


# Back-off after contention, shared by the epoch and the forward pass: a threaded call that
# mostly waited for its other threads (another program holds a core) makes the next 1, 2, 4,
# ... calls, up to a cap, run on one thread; a call without contention resets the length.
cdef struct Backoff:
    int len    # the length of the current run of one-thread calls
    int left   # calls of it still to run on one thread


cdef inline bint _backoff_solo(Backoff* b) noexcept nogil:
    """True when this call must run on one thread (and counts it)."""
    if b.left > 0:
        b.left -= 1
        return True
    return False


cdef inline void _backoff_note(Backoff* b, bint contended, int cap) noexcept nogil:
    """Record how a threaded call went."""
    if contended:
        b.len = min(cap, max(1, 2 * b.len))
        b.left = b.len
    else:
        b.len = 0


cdef inline void _backoff_set(Backoff* b, int left) noexcept nogil:
    """For tests: ``left`` one-thread calls to come."""
    b.left = max(0, left)
    b.len = b.left

cdef extern from "_epoch_simd.h" nogil:
    ctypedef struct fr_simd:
        const char* name
        int vbytes
        void (*vexp)(double* x, int n) noexcept nogil
    enum:
        FR_STORE
        FR_ADD
        FR_UPDATE
        FR_ADD_UPDATE
    int fr_simd_available(const fr_simd** out)
    void fr_fwd(const fr_simd* s, int kind, const void** rows, const void** pf, int nrows,
                int j0, int j1, const void* W, int K, void* Z, int ldz)
    void fr_bwd_f32(const fr_simd* s, int kind, const void** rows, int nrows, int j0, int j1,
                    const float* G, int ldg, int K, float* W, float* gbuf,
                    int mode, float c_grad, float l2x2, float lr)
    void fr_bwd_f64(const fr_simd* s, int kind, const void** rows, int nrows, int j0, int j1,
                    const double* G, int ldg, int K, double* W, double* gbuf,
                    int mode, double c_grad, double l2x2, double lr)
    size_t fr_panel_size(int K, int d, int itemsize)
    void fr_pack_f32(float* Wp, const float* coef, int K, int d)
    void fr_unpack_f32(float* coef, const float* Wp, int K, int d)
    void fr_pack_f64(double* Wp, const double* coef, int K, int d)
    void fr_unpack_f64(double* coef, const double* Wp, int K, int d)
    double fr_softmax_rows_f32(const fr_simd* s, const float* zpart, Py_ssize_t zslot, int nt,
                               int nrows, int K, float scale, const float* b, const int* y,
                               float* G, double* gsum, Py_ssize_t* correct, double* tmp)
    double fr_softmax_rows_f64(const fr_simd* s, const double* zpart, Py_ssize_t zslot, int nt,
                               int nrows, int K, double scale, const double* b, const int* y,
                               double* G, double* gsum, Py_ssize_t* correct, double* tmp)
    void* fr_alloc(size_t nbytes)
    void fr_free(void* p)
    ctypedef struct fr_barrier_t:
        int n
    void fr_barrier_setup(fr_barrier_t* b)
    void fr_barrier_wait(fr_barrier_t* b, int* local_sense)
    int fr_team_size()
    long long fr_now_ns()
    void fr_store_ll(long long* p, long long v)
    long long fr_load_ll(const long long* p)
    int fr_have_openmp()


# --------------------------------------------------------------------------- SIMD variant
cdef const fr_simd* _variants[8]
cdef int _n_variants = fr_simd_available(_variants)
cdef const fr_simd* _simd = _variants[0]


def simd_levels():
    """Names of the SIMD variants this CPU runs, widest first (the first one is the default)."""
    return [(<bytes> _variants[i].name).decode() for i in range(_n_variants)]


def simd_level():
    """Name of the SIMD variant the epoch kernels use now."""
    return (<bytes> _simd.name).decode()


def set_simd_level(name):
    """Use the SIMD variant ``name`` (one of :func:`simd_levels`); returns the previous name.

    For tests and measurements: every variant computes the same epoch up to rounding.
    """
    global _simd
    previous = simd_level()
    for i in range(_n_variants):
        if (<bytes> _variants[i].name).decode() == name:
            _simd = _variants[i]
            return previous
    raise ValueError(f"unknown or unsupported SIMD level {name!r}: choose one of {simd_levels()}")


if os.environ.get("FASTREG_SIMD"):
    set_simd_level(os.environ["FASTREG_SIMD"])


# --------------------------------------------------------------------------- the epoch
# Tuning, measured on a 2-core AVX-512 Xeon (benchmarks/bench_epoch.py):
# rows of one sub-block are read twice (forward, backward): keep them within L2;
cdef Py_ssize_t _subblock_bytes = 256 * 1024
# the prefetch runs at least this many rows ahead of the forward pass (else one sub-block);
cdef Py_ssize_t _prefetch_min_rows = 8
# a second thread needs a sub-block of about this many nanoseconds to pay for its barrier
# (measured break-even on an idle machine: 2-4 us); the estimate is _subblock_ns below;
cdef Py_ssize_t _min_ns_per_barrier = 4000
# threads give up and the first one finishes the epoch alone when, over a window of this many
# nanoseconds, they spent more than half of it waiting for each other (another program holds
# a core: each barrier then waits for the scheduler);
cdef Py_ssize_t _contention_window_ns = 1000000
# after an epoch that met contention the next ones run on one thread: 1, then 2, 4, ... up to
# 16 epochs while it lasts (an epoch may be shorter than the window: a 2-vs-3 digit epoch is a
# few milliseconds), see Backoff;
cdef Backoff _epoch_backoff
# for tests: go solo after this many batches (-1: only on contention), or (_adaptive = 0) keep
# the threads whatever happens.
cdef Py_ssize_t _solo_after_batches = -1
cdef int _adaptive = 1

# a process forked from one that ran OpenMP threads hangs in its first parallel region (GNU
# libgomp's thread pool does not survive fork): in a forked child the epoch and
# the forward run on one thread
cdef int _forked_child = 0


def _after_fork_in_child():
    global _forked_child
    _forked_child = 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _vexp(x):
    """e^x of a float64 array by the current SIMD variant's vector exp (tests its accuracy)."""
    cdef Py_ssize_t n = len(x)
    cdef double[::1] buf = np.zeros(n + 8, dtype=np.float64)
    buf[:n] = np.asarray(x, dtype=np.float64)
    with nogil:
        _simd.vexp(&buf[0], <int> n)
    return np.asarray(buf[:n]).copy()


def openmp_enabled():
    """True when the module was compiled with OpenMP (n_threads > 1 can use more cores)."""
    return bool(fr_have_openmp())


cdef int _last_threads = 0
cdef Py_ssize_t _last_solo_batch = -1


def _last_thread_count():
    """Threads the last epoch started (for tests: the threaded path really ran)."""
    return _last_threads


def _last_solo_batch_index():
    """Batch from which the last epoch ran on one thread after starting several (else -1)."""
    return _last_solo_batch


def _tuning(subblock_bytes=None, prefetch_min_rows=None, min_ns_per_barrier=None,
            contention_window_ns=None, solo_after_batches=None, backoff_left=None,
            adaptive=None):
    """Read or set the tuning constants (for tests and measurements); returns the old values.

    Tests set ``min_ns_per_barrier=0`` to run the threaded path at every batch size,
    ``adaptive=False`` to keep the threads on a busy machine (where tiny test epochs would look
    contended), and ``solo_after_batches`` / ``backoff_left`` to exercise the switches to one
    thread.
    """
    global _subblock_bytes, _prefetch_min_rows, _min_ns_per_barrier, _contention_window_ns
    global _solo_after_batches, _adaptive
    previous = dict(subblock_bytes=_subblock_bytes, prefetch_min_rows=_prefetch_min_rows,
                    min_ns_per_barrier=_min_ns_per_barrier,
                    contention_window_ns=_contention_window_ns,
                    solo_after_batches=_solo_after_batches, backoff_left=_epoch_backoff.left,
                    adaptive=bool(_adaptive))
    if subblock_bytes is not None:
        _subblock_bytes = max(1, int(subblock_bytes))
    if prefetch_min_rows is not None:
        _prefetch_min_rows = max(0, int(prefetch_min_rows))
    if min_ns_per_barrier is not None:
        _min_ns_per_barrier = max(0, int(min_ns_per_barrier))
    if contention_window_ns is not None:
        _contention_window_ns = max(1, int(contention_window_ns))
    if solo_after_batches is not None:
        _solo_after_batches = int(solo_after_batches)
    if backoff_left is not None:
        _backoff_set(&_epoch_backoff, int(backoff_left))
    if adaptive is not None:
        _adaptive = 1 if adaptive else 0
    return previous


cdef struct Ctx:
    const fr_simd* simd
    int kind                  # 0 float X, 1 uint8 X (float W), 2 double X, 3 uint8 X (double W)
    const char* X
    Py_ssize_t row_bytes
    int d, K, nt
    bint binary
    Py_ssize_t n, B, S
    const int* y
    const Py_ssize_t* order
    const double* lrs
    double l2x2, scale
    void* W                   # working weights in 64-byte panels (_epoch_simd_kern.h)
    void* gbuf                # gradient across sub-blocks (batches larger than S), same layout
    void* zpart               # [2][nt] slots of zslot elements: partial logits per thread
    Py_ssize_t zslot
    void* tbuf                # per thread: rows, pf, Z/G, intercept, G sums, labels, exp buffer
    Py_ssize_t tbuf_bytes
    fr_barrier_t* barrier
    long long* waits          # per thread, 8 apart: nanoseconds spent in barriers so far
    int solo[2]               # thread 0's decision to go on alone, by sub-block parity
    Py_ssize_t solo_batch
    # results, written by thread 0
    double loss_sum
    Py_ssize_t correct
    int status


cdef void _worker(Ctx* c, floating* W, int tid, int nt, floating* intercept) noexcept nogil:
    """Thread tid of nt: the epoch over its feature range; every thread runs every batch."""
    cdef int K = c.K, d = c.d, sense = 0
    cdef Py_ssize_t S = c.S, n = c.n, B = c.B
    cdef char* mine = <char*> c.tbuf + tid * c.tbuf_bytes
    cdef const void** rows = <const void**> mine
    cdef const void** pf = rows + S
    cdef floating* Z = <floating*> (pf + S)
    cdef floating* b = Z + S * K
    cdef double* gsum = <double*> (b + K)
    cdef double* tmp = gsum + K          # S*K + 8 doubles: the exponentials of a sub-block
    cdef int* ylab = <int*> (tmp + S * K + 8)
    cdef floating* zpart = <floating*> c.zpart
    cdef floating* zp
    cdef floating* gbuf = <floating*> c.gbuf
    cdef floating lr, zval
    cdef double batch_loss, loss_sum = 0.0
    cdef Py_ssize_t batch_correct, correct = 0
    cdef Py_ssize_t start = 0, stop, nb, s0, s1, ns, i, p, pd, t = 0
    cdef int k, u, parity = 0, mode, yi, j0, j1, blocks = (d + 15) // 16, leaving = 0
    cdef long long t0, waited = 0, win_start = 0, win_waits = 0
    # feature range of this thread, cut at multiples of 16 (64-byte aligned W panels)
    j0 = <int> (blocks * tid // nt) * 16
    j1 = min(d, <int> (blocks * (tid + 1) // nt) * 16)
    for k in range(K):
        b[k] = intercept[k]
    if nt > 1 and tid == 0:
        win_start = fr_now_ns()
    while start < n:
        stop = min(start + B, n)
        nb = stop - start
        lr = <floating> c.lrs[t]
        batch_loss = 0.0
        batch_correct = 0
        for k in range(K):
            gsum[k] = 0.0
        s0 = start
        while s0 < stop:
            s1 = min(s0 + S, stop)
            ns = s1 - s0
            pd = max(ns, _prefetch_min_rows)
            for i in range(ns):
                rows[i] = c.X + c.order[s0 + i] * c.row_bytes
                p = s0 + i + pd
                pf[i] = c.X + c.order[p] * c.row_bytes if p < n else NULL
            zp = zpart + (parity * nt + tid) * c.zslot
            fr_fwd(c.simd, c.kind, rows, pf, <int> ns, j0, j1, W, K, zp, K)
            if nt > 1:
                if tid == 0:
                    c.solo[parity] = _should_go_solo(c, nt, t, &win_start, &win_waits)
                t0 = fr_now_ns()
                fr_barrier_wait(c.barrier, &sense)  # every partial logit is written
                waited += fr_now_ns() - t0
                fr_store_ll(&c.waits[8 * tid], waited)
                if c.solo[parity]:
                    leaving = 1
            zp = zpart + parity * nt * c.zslot
            for i in range(ns):
                ylab[i] = c.y[c.order[s0 + i]]
            if not c.binary:
                if floating is float:
                    batch_loss += fr_softmax_rows_f32(c.simd, zp, c.zslot, nt, <int> ns, K,
                                                      <float> c.scale, b, ylab, Z, gsum,
                                                      &batch_correct, tmp)
                else:
                    batch_loss += fr_softmax_rows_f64(c.simd, zp, c.zslot, nt, <int> ns, K,
                                                      c.scale, b, ylab, Z, gsum,
                                                      &batch_correct, tmp)
            else:
                for i in range(ns):
                    zval = zp[i]
                    for u in range(1, nt):
                        zval = zval + zp[u * c.zslot + i]
                    zval = zval * <floating> c.scale + b[0]
                    yi = ylab[i]
                    batch_correct += (zval >= 0) == (yi == 1)
                    # z - z: NaN for an infinite logit, whose loss the spec (log(1 + e^z) - y z)
                    # counts as not finite even where the limit (_bce) is 0
                    batch_loss += _bce(zval, yi) + (zval - zval)
                    Z[i] = _bce_dz(zval, yi)
                    gsum[0] += Z[i]
            parity ^= 1  # the next sub-block writes the other slots: no second barrier
            if s1 == stop and not isfinite(batch_loss):
                c.status = 1  # every thread sees the same loss and stops here
                break
            if nb <= S:
                mode = FR_UPDATE
            elif s0 == start:
                mode = FR_STORE
            elif s1 < stop:
                mode = FR_ADD
            else:
                mode = FR_ADD_UPDATE
            if floating is float:
                fr_bwd_f32(c.simd, c.kind, rows, <int> ns, j0, j1, Z, K, K, W, gbuf, mode,
                           <float> (c.scale / nb), <float> c.l2x2, lr)
            else:
                fr_bwd_f64(c.simd, c.kind, rows, <int> ns, j0, j1, Z, K, K, W, gbuf, mode,
                           c.scale / nb, c.l2x2, lr)
            s0 = s1
        if c.status:
            break
        for k in range(K):
            b[k] = b[k] - lr * <floating> (gsum[k] / nb)
        loss_sum += batch_loss
        correct += batch_correct
        start = stop
        t += 1
        if leaving:
            # once every thread has updated its features for this batch (the barrier), thread
            # 0 goes on alone over all of them (W is shared) and the others stop
            fr_barrier_wait(c.barrier, &sense)
            if tid != 0:
                return
            c.solo_batch = t
            nt = 1
            j0 = 0
            j1 = d
            leaving = 0
    if tid == 0:
        for k in range(K):
            intercept[k] = b[k]
        c.loss_sum = loss_sum
        c.correct = correct


cdef int _should_go_solo(Ctx* c, int nt, Py_ssize_t t, long long* win_start,
                         long long* win_waits) noexcept nogil:
    """Thread 0, before a barrier: have the threads waited for each other more than half the
    time of the last window (or do the tests ask for the switch at batch t)?"""
    cdef long long now, total = 0
    cdef int u
    if _solo_after_batches >= 0:
        return t >= _solo_after_batches
    if not _adaptive:
        return 0
    now = fr_now_ns()
    if now - win_start[0] < _contention_window_ns:
        return 0
    for u in range(nt):
        total += fr_load_ll(&c.waits[8 * u])
    if 2 * (total - win_waits[0]) > now - win_start[0]:
        return 1
    win_start[0] = now
    win_waits[0] = total
    return 0


cdef double _subblock_ns(Py_ssize_t rows, Py_ssize_t row_bytes, int d, int K,
                        int esize) noexcept nogil:
    """Rough time of one sub-block on one core: its rows from memory (~8 GB/s) plus the
    forward and backward multiply-adds (~0.15 ns per 64-byte vector of them)."""
    return rows * (row_bytes / 8.0 + d * K * esize / 200.0)


cdef int _threads_for(Py_ssize_t rows, Py_ssize_t row_bytes, int d, int K, int esize,
                      int n_threads) noexcept nogil:
    """Threads worth starting: a barrier per sub-block must be paid for by the work it splits,
    and each thread needs two 16-feature blocks at least."""
    cdef int nt = min(n_threads, 64)
    while nt > 1 and (_subblock_ns(rows, row_bytes, d, K, esize) < _min_ns_per_barrier * (nt - 1)
                      or d < 32 * nt):
        nt -= 1
    return nt


cdef object _run(Ctx* c, floating[:, ::1] coef, floating[::1] intercept, int n_threads):
    """Set up the working copy and buffers, run the threads, write the weights back."""
    cdef int K = coef.shape[0], d = coef.shape[1], k, tid, nt
    cdef Py_ssize_t esize = sizeof(floating), S, wsize = fr_panel_size(K, d, sizeof(floating))
    cdef long long t_start = 0, t_end = 0, waited = 0
    cdef floating* W
    c.K = K
    c.d = d
    S = max(1, min(c.B, _subblock_bytes // max(1, c.row_bytes)))
    c.S = S
    nt = _threads_for(S, c.row_bytes, d, K, sizeof(floating), n_threads)
    if nt > 1 and _backoff_solo(&_epoch_backoff):
        nt = 1
    c.nt = nt
    c.zslot = (S * K + 15) // 16 * 16
    c.tbuf_bytes = ((2 * S * sizeof(void*) + (S * K + K) * esize
                     + (K + S * K + 8) * sizeof(double) + S * sizeof(int)) + 63) // 64 * 64
    c.W = fr_alloc(wsize * esize)
    c.gbuf = fr_alloc(wsize * esize) if c.B > S else NULL
    c.zpart = fr_alloc(2 * nt * c.zslot * esize)
    c.barrier = <fr_barrier_t*> fr_alloc(sizeof(fr_barrier_t))
    c.waits = <long long*> fr_alloc(8 * nt * sizeof(long long))
    c.solo[0] = c.solo[1] = 0
    c.solo_batch = -1
    c.tbuf = fr_alloc(nt * c.tbuf_bytes)
    c.status = 0
    c.loss_sum = 0.0
    c.correct = 0
    try:
        if (not c.W or not c.zpart or not c.tbuf or not c.barrier or not c.waits
                or (c.B > S and not c.gbuf)):
            raise MemoryError("could not allocate the epoch's working buffers")
        W = <floating*> c.W
        t_start = fr_now_ns()
        with nogil:
            if floating is float:
                fr_pack_f32(W, &coef[0, 0], K, d)
            else:
                fr_pack_f64(W, &coef[0, 0], K, d)
            if nt == 1:
                _worker(c, W, 0, 1, &intercept[0])
            else:
                tid = 0
                with parallel(num_threads=nt):
                    # the runtime may start fewer threads than asked: split by the real count
                    tid = threadid()
                    fr_barrier_setup(c.barrier)
                    if tid == 0:
                        c.nt = fr_team_size()
                    _worker(c, W, tid, fr_team_size(), &intercept[0])
            t_end = fr_now_ns()
            if floating is float:
                fr_unpack_f32(&coef[0, 0], W, K, d)
            else:
                fr_unpack_f64(&coef[0, 0], W, K, d)
        if nt > 1 and _adaptive and _solo_after_batches < 0:
            # contention: the threads handed over to one, or (an epoch too short for the
            # window, but not tiny) waited more than half the time
            for k in range(c.nt):
                waited += c.waits[8 * k]
            _backoff_note(&_epoch_backoff, c.solo_batch >= 0 or (
                t_end - t_start > 1000000 and 2 * waited > t_end - t_start), 16)
    finally:
        fr_free(c.W)
        fr_free(c.gbuf)
        fr_free(c.zpart)
        fr_free(c.tbuf)
        fr_free(c.barrier)
        fr_free(c.waits)
    global _last_threads, _last_solo_batch
    _last_threads = c.nt
    _last_solo_batch = c.solo_batch
    if c.status:
        return float("nan"), float("nan")
    return c.loss_sum / c.n, <double> c.correct / c.n


cdef _epoch(bint binary, X, y, coef, intercept, order, batch_size, learning_rates, l2,
            input_scale, n_threads):
    cdef Ctx c
    dtype = coef.dtype
    if dtype != np.float32 and dtype != np.float64:
        raise TypeError(f"coef must be float32 or float64, got {dtype}")
    if not isinstance(intercept, np.ndarray) or intercept.dtype != dtype:
        raise TypeError(f"intercept must be a {dtype} array like coef")
    if binary and (coef.ndim != 1 or intercept.shape != (1,)):
        raise ValueError(f"the binary model takes coef (d,) and intercept (1,), got "
                         f"{coef.shape} and {intercept.shape}")
    if not binary and (coef.ndim != 2 or intercept.shape != (coef.shape[0],)):
        raise ValueError(f"the multinomial model takes coef (K, d) and intercept (K,), got "
                         f"{coef.shape} and {intercept.shape}")
    X = np.asarray(X)
    if X.ndim != 2 or (X.dtype != dtype and X.dtype != np.uint8):
        raise TypeError(f"X must be a 2-d array of dtype {dtype} (the dtype of coef) or uint8 "
                        f"pixels, got a {X.ndim}-d {X.dtype} array")
    n_features = coef.shape[coef.ndim - 1]
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features but coef has {n_features}")
    if not X.flags.c_contiguous:
        raise ValueError("X must be C-contiguous (np.ascontiguousarray(X)); the epoch never "
                         "copies X")
    if not (coef.flags.c_contiguous and intercept.flags.c_contiguous and
            coef.flags.writeable and intercept.flags.writeable):
        raise ValueError("coef and intercept must be writeable C-contiguous arrays "
                         "(they are updated in place)")
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n_threads = int(n_threads)
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if _forked_child:
        n_threads = 1
    order = np.ascontiguousarray(order, dtype=np.intp)
    n = order.shape[0]
    n_batches = -(-n // batch_size)
    lrs = np.ascontiguousarray(learning_rates, dtype=np.float64)
    if lrs.ndim != 1 or lrs.shape[0] < n_batches:
        raise ValueError(f"learning_rates has {lrs.size} entries but the epoch has {n_batches} "
                         "batches; pass one learning rate per batch")
    if n and (order.min() < 0 or order.max() >= X.shape[0]):
        raise IndexError(f"order holds row indices outside 0..{X.shape[0] - 1}")
    y = np.ascontiguousarray(y, dtype=np.intc)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y has {y.size} labels but X has {X.shape[0]} rows")
    n_classes = 2 if binary else coef.shape[0]
    if y.shape[0] and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y holds labels outside 0..{n_classes - 1}")
    if n == 0:
        return float("nan"), float("nan")

    cdef const unsigned char[:, ::1] xv = X.view(np.uint8)
    cdef const int[::1] yv = y
    cdef const Py_ssize_t[::1] ov = order
    cdef const double[::1] lv = lrs
    c.simd = _simd
    c.X = <const char*> &xv[0, 0]
    c.row_bytes = X.strides[0]
    c.binary = binary
    c.n = n
    c.B = batch_size
    c.y = &yv[0]
    c.order = &ov[0]
    c.lrs = &lv[0]
    c.l2x2 = 2.0 * float(l2)
    c.scale = float(input_scale)
    c.kind = (2 if dtype == np.float64 else 0) + (1 if X.dtype == np.uint8 else 0)
    W2 = coef.reshape(1, -1) if binary else coef
    if dtype == np.float32:
        return _run[float](&c, W2, intercept, n_threads)
    return _run[double](&c, W2, intercept, n_threads)


def binary_epoch(X, y, coef, intercept, order, batch_size, learning_rates, l2,
                 input_scale=1.0, n_threads=1):
    """Run mini-batch gradient descent over the rows ``X[order]`` in place, batch by batch.

    The logistic model: batch t (rows ``order[t*B:(t+1)*B]``) takes the step
    w -= lr_t ((1/n_t) X_t^T (s(X_t w + b) - y_t) + 2 l2 w),  b -= lr_t mean(s(.) - y_t),
    with s the sigmoid. ``X`` may be uint8, scaled by ``input_scale`` inside. ``n_threads``
    caps the threads (small batches run on one: a barrier per batch would cost more).

    Returns ``(mean_loss, accuracy)`` over the rows seen, each measured on its batch at the
    weights before its step. If a batch loss is not finite the epoch stops before that step,
    leaves the weights as they were, and returns (nan, nan).
    """
    return _epoch(True, X, y, coef, intercept, order, batch_size, learning_rates, l2,
                  input_scale, n_threads)


def multinomial_epoch(X, y, coef, intercept, order, batch_size, learning_rates, l2,
                      input_scale=1.0, n_threads=1):
    """Softmax-model twin of :func:`binary_epoch` (same arguments, same return value).

    Batch t steps W -= lr_t ((1/n_t) (P_t - T_t)^T X_t + 2 l2 W), b -= lr_t mean(P_t - T_t),
    with P_t = softmax(X_t W^T + b) row by row and T_t the one-hot labels.
    """
    return _epoch(False, X, y, coef, intercept, order, batch_size, learning_rates, l2,
                  input_scale, n_threads)


# --------------------------------------------------------------------------- forward passes
# The compiled linear_forward / linear_forward_binary (fastreg._kernels re-exports them). They
# live here because they run the epoch's forward micro-kernel (fr_fwd) on the epoch's weight
# layout, under the same SIMD dispatch: W is packed once per call into 64-byte panels, then
# blocks of FWD_BLOCK rows go through fr_fwd by row pointers (X is never copied), each row's
# sum plus the intercept stored as it comes. Compared with one dot product per (row, class),
# each W vector loaded serves several rows and each row chunk several classes from registers;
# unlike BLAS on these skinny products (K = 10 columns) it reaches the memory bandwidth.
# Calls estimated at 200 us or more split their rows between OpenMP threads, as many as OpenMP
# gives by default (OMP_NUM_THREADS, threadpoolctl's limit): NumPy's BLAS uses its threads
# the same way, and a memory-bound product (the binary model) needs two cores to match it. Each
# row is computed by one thread in one order: the results do not depend on the thread count.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int fr_fwd_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int fr_fwd_max_threads(void) { return 1; }
    #endif
    static Py_ssize_t fr_fwd_claim(Py_ssize_t *next)
    {
        return __atomic_fetch_add(next, 1, __ATOMIC_RELAXED);
    }
    """
    int fr_fwd_max_threads() noexcept nogil
    Py_ssize_t fr_fwd_claim(Py_ssize_t* next) noexcept nogil

# Tuning, measured on a 2-core AVX-512 Xeon (benchmarks/bench_kernels.py, 784 features):
# rows per call of fr_fwd, and per task claimed by a thread (consecutive rows: the prefetch of
# the next block mostly stays within a thread's own rows; 32..1024 measured alike);
cdef enum:
    FWD_BLOCK = 16
    FWD_TASK = 128
# prefetch of the rows FWD_BLOCK ahead: float32 with several classes only (1.2x from cache,
# 1.4-2.3x from memory); it slowed float64 and the binary model (one class) by 5-20%;
cdef int _fwd_prefetch = 1
# threads start when a call's estimated time on one core (_subblock_ns) is at least this
cdef Py_ssize_t _fwd_min_ns = 200000
# after a threaded call that waited for its other threads longer than it worked (another
# program holds a core: waking a thread then costs a scheduler time slice, milliseconds), the
# next 1, 2, 4, ... up to 64 calls run on one thread
cdef Backoff _fwd_backoff
cdef int _fwd_last_threads = 0
cdef void _forward_rows(const fr_simd* s, const floating* X, Py_ssize_t N, Py_ssize_t start,
                        Py_ssize_t stop, int d, const floating* Wp, int K, const floating* b,
                        floating* Z) noexcept nogil:
    """Z[n, :] = X[n, :] W^T + b for start <= n < stop, FWD_BLOCK rows per fr_fwd call."""
    cdef int kind = 2 if floating is double else 0
    cdef const void* rows[FWD_BLOCK]
    cdef const void* pf[FWD_BLOCK]
    cdef Py_ssize_t nb, i, p
    cdef int k
    cdef floating* z
    cdef bint prefetch = _fwd_prefetch and floating is float and K > 1
    while start < stop:
        nb = min(FWD_BLOCK, stop - start)
        for i in range(nb):
            rows[i] = X + (start + i) * d
            p = start + i + FWD_BLOCK
            pf[i] = X + p * d if p < N else NULL
        z = Z + start * K
        fr_fwd(s, kind, rows, pf if prefetch else NULL, <int> nb, 0, d, Wp, K, z, K)
        for i in range(nb):
            for k in range(K):
                z[i * K + k] = z[i * K + k] + b[k]
        start += nb


cdef void _forward_tasks(const fr_simd* s, const floating* X, Py_ssize_t N, int d,
                         const floating* Wp, int K, const floating* b, floating* Z,
                         Py_ssize_t* next_task) noexcept nogil:
    """One thread's share: tasks of FWD_TASK rows claimed until none is left (a thread that
    starts late, or runs slower, simply takes fewer)."""
    cdef Py_ssize_t t, ntasks = (N + FWD_TASK - 1) // FWD_TASK
    while True:
        t = fr_fwd_claim(next_task)
        if t >= ntasks:
            break
        _forward_rows(s, X, N, t * FWD_TASK, min(N, (t + 1) * FWD_TASK), d, Wp, K, b, Z)


cdef int _forward(const floating* X, Py_ssize_t N, int d, const floating* coef, int K,
                  const floating* b, floating* Z) noexcept nogil:
    """Z (N, K) = X (N, d) coef^T + b; returns -1 when out of memory (nothing written)."""
    cdef const fr_simd* s = _simd
    cdef size_t wbytes = fr_panel_size(K, d, sizeof(floating)) * sizeof(floating)
    cdef floating* Wp
    cdef Py_ssize_t n, next_task = 0
    cdef Py_ssize_t* next_ptr = &next_task
    cdef long long t0, t_end, t_mine = 0
    cdef long long* mine = &t_mine
    cdef int k, nt = 1
    global _fwd_last_threads
    if N <= 2:
        # packing W would cost more than these few products with it as it is
        for n in range(N):
            for k in range(K):
                Z[n * K + k] = dot(X + n * d, coef + <Py_ssize_t> k * d, d) + b[k]
        _fwd_last_threads = 1
        return 0
    Wp = <floating*> fr_alloc(wbytes)
    if Wp == NULL:
        return -1
    if floating is float:
        fr_pack_f32(Wp, coef, K, d)
    else:
        fr_pack_f64(Wp, coef, K, d)
    if (N > FWD_TASK and _subblock_ns(N, d * sizeof(floating), d, K, sizeof(floating))
            >= _fwd_min_ns):
        nt = min(fr_fwd_max_threads(), <int> ((N + FWD_TASK - 1) // FWD_TASK), 64)
        if _forked_child:
            nt = 1
        elif nt > 1 and _backoff_solo(&_fwd_backoff):
            nt = 1
    if nt == 1:
        _forward_rows(s, X, N, 0, N, d, Wp, K, b, Z)
    else:
        t0 = fr_now_ns()
        with parallel(num_threads=nt):
            _forward_tasks(s, X, N, d, Wp, K, b, Z, next_ptr)
            if threadid() == 0:
                mine[0] = fr_now_ns()
        t_end = fr_now_ns()
        _backoff_note(&_fwd_backoff,
                      t_end - t_mine > t_mine - t0 and t_end - t_mine > 100000, 64)
    _fwd_last_threads = nt
    fr_free(Wp)
    return 0


cdef inline object _float_dtype(floating x):
    # The NumPy dtype of a fused specialisation (x only selects it).
    return np.float32 if floating is float else np.float64


def linear_forward(const floating[:, ::1] X, const floating[:, ::1] coef,
                   const floating[::1] intercept, out=None):
    """Logits of the multinomial model: ``out[n, k] = sum_j X[n, j] coef[k, j] + intercept[k]``.

    X (N, d), coef (K, d), intercept (K,), one float dtype; out (N, K) of that dtype,
    C-contiguous, is written and returned (allocated when None).
    """
    cdef Py_ssize_t N = X.shape[0], d = X.shape[1], K = coef.shape[0]
    if coef.shape[1] != d or intercept.shape[0] != K:
        raise ValueError(f"linear_forward: X ({N}, {d}), coef ({K}, {coef.shape[1]}) and intercept "
                         f"({intercept.shape[0]},) do not fit: coef must be "
                         f"(K, {d}) and intercept (K,)")
    if out is None:
        out = np.empty((N, K), dtype=_float_dtype(<floating> 0))
    cdef floating[:, ::1] Z = out
    if Z.shape[0] != N or Z.shape[1] != K:
        raise ValueError(f"linear_forward: out must have shape ({N}, {K}), got {out.shape}")
    _check_int_range(d, K)
    cdef int rc = 0
    if N:
        with nogil:
            rc = _forward(&X[0, 0], N, <int> d, &coef[0, 0], <int> K, &intercept[0], &Z[0, 0])
    if rc:
        raise MemoryError("linear_forward: could not allocate the packed weights")
    return out


def linear_forward_binary(const floating[:, ::1] X, const floating[::1] coef,
                          const floating[::1] intercept, out=None):
    """Logits of the binary model: ``out[n] = sum_j X[n, j] coef[j] + intercept[0]``.

    X (N, d), coef (d,), intercept (1,), one float dtype; out (N,) of that dtype is written
    and returned (allocated when None).
    """
    cdef Py_ssize_t N = X.shape[0], d = X.shape[1]
    if coef.shape[0] != d or intercept.shape[0] < 1:
        raise ValueError(f"linear_forward_binary: X ({N}, {d}) needs coef ({d},) and "
                         f"intercept (1,), got ({coef.shape[0]},) and ({intercept.shape[0]},)")
    if out is None:
        out = np.empty(N, dtype=_float_dtype(<floating> 0))
    cdef floating[::1] z = out
    if z.shape[0] != N:
        raise ValueError(f"linear_forward_binary: out must have shape ({N},), got {out.shape}")
    _check_int_range(d, 1)
    cdef int rc = 0
    if N:
        with nogil:
            rc = _forward(&X[0, 0], N, <int> d, &coef[0], 1, &intercept[0], &z[0])
    if rc:
        raise MemoryError("linear_forward_binary: could not allocate the packed weights")
    return out


cdef _check_int_range(Py_ssize_t d, Py_ssize_t K):
    # the micro-kernels index features and classes with C ints
    if d > 2**31 - 65 or K > 2**31 - 1:
        raise ValueError(f"linear_forward: {d} features x {K} classes is beyond the compiled "
                         "kernels (C int indices); use the NumPy backend")


def _forward_tuning(min_ns=None, prefetch=None, backoff_left=None):
    """Read or set the forward pass's tuning (for tests and measurements); returns the old
    values. ``min_ns=0`` starts the threads at every size above one task."""
    global _fwd_min_ns, _fwd_prefetch
    previous = dict(min_ns=_fwd_min_ns, prefetch=bool(_fwd_prefetch),
                    backoff_left=_fwd_backoff.left)
    if min_ns is not None:
        _fwd_min_ns = max(0, int(min_ns))
    if prefetch is not None:
        _fwd_prefetch = 1 if prefetch else 0
    if backoff_left is not None:
        _backoff_set(&_fwd_backoff, int(backoff_left))
    return previous


def _forward_last_threads():
    """Threads the last forward call ran on (for tests: the threaded path really ran)."""
    return _fwd_last_threads


def _forward_max_threads():
    """Threads a large forward call may start here: OpenMP's default (OMP_NUM_THREADS, or a
    threadpoolctl limit), 1 without OpenMP or in a forked child."""
    return 1 if _forked_child else fr_fwd_max_threads()
