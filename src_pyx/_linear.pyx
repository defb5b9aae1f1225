# The linear model's compiled kernels: the forward pass `linear_forward` and the fused training
# epoch `epoch`. Twins of fastreg/_kernels/_linear_numpy.py (the specification): same
# signatures, same meaning. One weight layout: coef (K, d), intercept (K,); K = 1 is the
# logistic model (sigmoid link, labels 0/1), K >= 2 the softmax model (labels 0..K-1).
#
# dtypes: coef/intercept float32 or float64; X of the same dtype, or uint8 pixels; the model
#   sees X * input_scale, the scale applied inside (logit = (sum_j x_j w_kj) * scale + b_k, one
#   formula for the forward pass and the epoch: simd/rows_template.h's logits). y np.intc;
#   order np.intp; learning_rates float64, one per batch; sample_weight (N,) and step_scale
#   (d,) of coef's dtype, or None.
# contiguity: X C-contiguous (N, d), never copied (the epoch reaches its rows through order);
#   coef, intercept, out C-contiguous. Read-only and memory-mapped X, y, order and
#   learning_rates work (const views).
# written: `out` (linear_forward); coef and intercept in place (epoch: from a 64-byte aligned
#   working copy, written back at the end of the epoch, or where it stops: a batch boundary).
# trusted: these are raw kernels. fastreg/_kernels/_checks.py checks shapes, dtypes, label and
#   order ranges, the number of learning rates, sample weights and step scales for both
#   backends before they run; here only what the C code itself needs (C-int sizes, memory)
#   is checked.
#
# How the epoch runs (the C lives in simd/, declared for Cython in _simd_api.pxd: dispatch.h
# picks the instruction set at import, kernels_template.h holds the micro-kernels,
# rows_template.h the per-row part, pack.h the weights' panel layout, runtime.h allocation,
# OpenMP and the barrier; _thread_policy.pxd says how many threads start):
# * Per batch, a forward pass Z = X_b W^T, the per-row softmax / sigmoid, loss and accuracy,
#   and a backward pass that forms G^T X_b and applies the update in the same sweep over W, so
#   the gradient never goes to memory. Batches above a few hundred KiB of rows run as
#   sub-blocks (forward, rows, backward into a gradient buffer), keeping their rows in L2.
# * Sample weights multiply the rows of G (and each row's loss and hit) in the per-row part;
#   the step scale multiplies lr per feature in the update. With both None the arithmetic is
#   the unweighted epoch's, bit for bit (and an all-ones step scale gives the same bits).
# * Forward and backward are blocked micro-kernels (rows x classes, or classes x feature
#   chunks, of accumulators in vector registers) on a working copy of W laid out in 64-byte
#   panels, compiled for AVX-512, AVX2+FMA and a portable baseline and picked at run time
#   (the default build needs no -march flag). The rows of the next sub-block are prefetched
#   during the forward pass; the per-row part (softmax or sigmoid rows) takes the exponentials
#   of a sub-block as one vector loop and the log1p of its losses as another.
# * n_threads > 1 (OpenMP, when the build found it) splits the features: each thread owns its
#   part of W and of every row; one barrier per sub-block joins the partial logits, and every
#   thread then does the (cheap, identical) per-row work itself. With many classes (at least
#   _class_split_min a thread) it splits the classes instead: each thread computes whole logits
#   of its classes over every feature into one shared slot, and updates only its classes' rows
#   of W; nothing is joined, so the weights do not depend on the thread count. How many threads
#   start, and which split, is a pure function of n_threads and the shape (_thread_policy.pxd):
#   never of the machine's load, so a seed and n_threads give the same bits on a busy machine
#   and an idle one. docs/THREADS.md has the model and the measurements.
# * Signals: between sub-blocks, every ~10 ms (runtime.h's fr_poll), thread 0 of an epoch called
#   from the main thread takes the GIL and runs Python's signal handlers. If one raises (Ctrl-C:
#   KeyboardInterrupt), all threads stop at that sub-block, before its step, and it propagates.
import os
import threading

import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, threadid
from libc.math cimport isfinite
from cpython.exc cimport PyErr_CheckSignals
from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF

from _epoch_ctx cimport Ctx, Fwd
from _thread_policy cimport epoch_by_class, epoch_threads, forward_threads
from _simd_api cimport (
    fr_simd, FR_STORE, FR_ADD, FR_UPDATE, FR_ADD_UPDATE, fr_simd_available, fr_fwd, fr_bwd_f32,
    fr_bwd_f64, fr_logits_f32, fr_logits_f64, fr_softmax_rows_f32, fr_softmax_rows_f64,
    fr_sigmoid_rows_f32, fr_sigmoid_rows_f64,
    fr_panel_size, fr_pack_f32, fr_unpack_f32, fr_pack_f64, fr_unpack_f64, fr_alloc, fr_free,
    fr_barrier_t, fr_barrier_setup, fr_barrier_wait, fr_team_size, fr_have_openmp,
    fr_max_threads, fr_claim, fr_poll_t, fr_poll_init, fr_poll_due, fr_poll_done,
    fr_store_ssize, fr_load_ssize,
)


# --------------------------------------------------------------------------- SIMD variant
cdef const fr_simd* _variants[8]
cdef int _n_variants = fr_simd_available(_variants)
cdef const fr_simd* _simd = _variants[0]


def _simd_levels():
    """Names of the SIMD variants this CPU runs, widest first (the first one is the default)."""
    return [(<bytes> _variants[i].name).decode() for i in range(_n_variants)]


def _simd_level():
    """Name of the SIMD variant the kernels use now."""
    return (<bytes> _simd.name).decode()


def _set_simd_level(name):
    """Use the SIMD variant ``name`` (one of :func:`_simd_levels`); returns the previous name.

    For tests and measurements: every variant computes the same results up to rounding.
    """
    global _simd
    previous = _simd_level()
    for i in range(_n_variants):
        if (<bytes> _variants[i].name).decode() == name:
            _simd = _variants[i]
            return previous
    raise ValueError(f"unknown or unsupported SIMD level {name!r}: choose one of "
                     f"{_simd_levels()} (FASTREG_SIMD)")


if os.environ.get("FASTREG_SIMD"):
    _set_simd_level(os.environ["FASTREG_SIMD"])


def _vexp(x):
    """e^x of a float64 array by the current SIMD variant's vector exp (tests its accuracy)."""
    cdef Py_ssize_t n = len(x)
    arr = np.zeros(n + 8, dtype=np.float64)
    arr[:n] = np.asarray(x, dtype=np.float64).ravel()
    cdef double[::1] buf = arr
    with nogil:
        _simd.vexp(&buf[0], <int> n)
    return arr[:n].copy()


def _vlog1p(x):
    """log(1 + x) of a float64 array by the current SIMD variant's vector log1p (tests its
    accuracy)."""
    cdef Py_ssize_t n = len(x)
    arr = np.zeros(n + 8, dtype=np.float64)
    arr[:n] = np.asarray(x, dtype=np.float64).ravel()
    cdef double[::1] buf = arr
    with nogil:
        _simd.vlog1p(&buf[0], <int> n)
    return arr[:n].copy()


def _openmp_enabled():
    """True when the module was compiled with OpenMP (n_threads > 1 can use more cores)."""
    return bool(fr_have_openmp())


# --------------------------------------------------------------------------- process state
# A process forked from one that ran OpenMP threads hangs in its first parallel region (GNU
# libgomp's thread pool does not survive fork): in a forked child the epoch and the forward
# pass run on one thread. A property of the process, not of the machine's load.
cdef int _forked_child = 0


def _after_fork_in_child():
    global _forked_child
    _forked_child = 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


cdef _check_int_range(Py_ssize_t d, Py_ssize_t K):
    # the micro-kernels index features and classes with C ints
    if d > 2**31 - 65 or K > 2**31 - 1:
        raise ValueError(f"{d} features x {K} classes is beyond the compiled kernels (C int "
                         "indices); use the NumPy backend (backend='numpy')")


cdef inline int _x_kind(X, dtype):
    """Index of the micro-kernels for (X, weights): 0 float/float, 1 uint8/float, 2 double/
    double, 3 uint8/double."""
    return (2 if dtype == np.float64 else 0) + (1 if X.dtype == np.uint8 else 0)


# --------------------------------------------------------------------------- the epoch
# Tuning, measured on a 2-core AVX-512 Xeon (benchmarks/bench_epoch.py):
# rows of one sub-block are read twice (forward, backward): keep them within L2;
cdef Py_ssize_t _subblock_bytes = 256 * 1024
# but every sub-block also streams all of W in the forward pass and W plus the gradient
# buffer in the backward one: with at most 10 classes (one class block of the backward pass,
# which then reads each row once) a sub-block holds at least this many times W's bytes of
# rows, so that W's traffic stays a fraction of the rows'. Measured on a 2-core AVX2 EPYC
# (512 KiB L2), one epoch at batch 32: 20000 features x 10 classes 1.2x (float32) and 1.9x
# (float64) faster than with 256 KiB sub-blocks, 3072 x 10 1.1x; 784 x 10 (W of 31 KiB)
# untouched. With 100 classes (rows read once per class block) the larger sub-blocks were
# 1.2x slower at batch 256: there the rows' staying in L2 matters more;
cdef Py_ssize_t _subblock_w_factor = 4
# the prefetch runs at least this many rows ahead of the forward pass (else one sub-block);
cdef Py_ssize_t _prefetch_min_rows = 8
# a second thread needs a sub-block of about this many nanoseconds to pay for its barrier
# (measured break-even on an idle machine: 2-4 us), see _thread_policy.epoch_threads.
cdef Py_ssize_t _min_ns_per_barrier = 4000
# the threads split the classes when each gets at least this many (0: always the features).
# On 2 cores the two splits measured alike at 100 and 1000 classes (within this machine's
# noise, +-10%); the class split is chosen there for what does not depend on the machine: no
# join that grows with the thread count, and weights that are the same for any n_threads;
cdef int _class_split_min = 50
cdef Py_ssize_t _last_threads = 0, _last_batches = 0
cdef bint _last_by_class = 0


def _last_thread_count():
    """Threads the last epoch ran on (for tests: the threaded path really ran)."""
    return _last_threads


def _last_split():
    """How the last epoch's threads split the work: "classes" or "features"."""
    return "classes" if _last_by_class else "features"


def _last_batches_done():
    """Batches whose step the last epoch took: all of them, or those before its stop."""
    return _last_batches


def _reset_batches_done():
    """Make ``_last_batches_done()`` 0 until the next epoch ends: a caller that may stop the
    next call before it starts (a signal handler) then reads 0, not the last call's count."""
    global _last_batches
    _last_batches = 0


def _tuning(subblock_bytes=None, prefetch_min_rows=None, min_ns_per_barrier=None,
            subblock_w_factor=None, class_split_min=None):
    """Read or set the epoch's tuning constants (for tests and measurements); returns the old
    values. Tests set ``min_ns_per_barrier=0`` to run the threaded path at every batch size,
    and ``subblock_bytes`` small with ``subblock_w_factor=0`` to cut batches into sub-blocks
    of a few rows."""
    global _subblock_bytes, _prefetch_min_rows, _min_ns_per_barrier, _subblock_w_factor
    global _class_split_min
    previous = dict(subblock_bytes=_subblock_bytes, prefetch_min_rows=_prefetch_min_rows,
                    min_ns_per_barrier=_min_ns_per_barrier,
                    subblock_w_factor=_subblock_w_factor, class_split_min=_class_split_min)
    if class_split_min is not None:
        _class_split_min = max(0, int(class_split_min))
    if subblock_bytes is not None:
        _subblock_bytes = max(1, int(subblock_bytes))
    if subblock_w_factor is not None:
        _subblock_w_factor = max(0, int(subblock_w_factor))
    if prefetch_min_rows is not None:
        _prefetch_min_rows = max(0, int(prefetch_min_rows))
    if min_ns_per_barrier is not None:
        _min_ns_per_barrier = max(0, int(min_ns_per_barrier))
    return previous


cdef void _check_signals(Ctx* c, Py_ssize_t u) noexcept nogil:
    """Thread 0 before sub-block u: run Python's signal handlers; when one raises, keep its
    exception in c.error (for _run to re-raise) and make every thread stop at sub-block u."""
    with gil:
        try:
            PyErr_CheckSignals()
        except BaseException as exc:
            Py_INCREF(exc)
            c.error = <PyObject*> exc
            fr_store_ssize(&c.stop_at, u)


cdef void _worker(Ctx* c, floating* W, int tid, int nt, floating* intercept) noexcept nogil:
    """Thread tid of nt: the epoch over its feature range, or over its classes (c.by_class);
    every thread runs every batch."""
    cdef int K = c.K, d = c.d, sense = 0
    cdef Py_ssize_t S = c.S, n = c.n, B = c.B
    cdef char* mine = <char*> c.tbuf + tid * c.tbuf_bytes
    cdef const void** rows = <const void**> mine
    cdef const void** pf = rows + S
    cdef floating* Z = <floating*> (pf + S)
    cdef floating* b = Z + S * K
    cdef double* gsum = <double*> (b + K)
    cdef double* tmp = gsum + K          # S*(K+1) + 8 doubles: the per-row part's scratch
    cdef floating* vrow = <floating*> (tmp + S * K + S + 8)  # the rows' sample weights
    cdef int* ylab = <int*> (vrow + S)
    cdef const floating* sw = <const floating*> c.sw
    cdef const floating* vb = vrow if sw else NULL
    cdef floating* zpart = <floating*> c.zpart
    cdef floating* zp
    cdef floating* gbuf = <floating*> c.gbuf
    cdef floating lr
    cdef double batch_loss, loss_sum = 0.0, batch_correct, correct = 0.0
    cdef double batch_weight, weight_sum = 0.0
    cdef Py_ssize_t start = 0, stop, nb, s0, s1, ns, i, p, pd, t = 0, u = 0
    cdef fr_poll_t poll
    cdef int k, parity = 0, mode, j0, j1, blocks = (d + 15) // 16
    # the classes [ka, ka + kn) of this thread and the partial-logit slots to join
    cdef int ka = 0, kn = K, joined = nt
    cdef floating* Wk
    cdef floating* gk = NULL
    if c.by_class:  # whole logits of its classes over every feature: nothing to join
        ka = <int> (K * tid // nt)
        kn = <int> (K * (tid + 1) // nt) - ka
        j0, j1, joined = 0, d, 1
    else:  # its feature range, cut at multiples of 16 (64-byte aligned W panels)
        j0 = <int> (blocks * tid // nt) * 16
        j1 = min(d, <int> (blocks * (tid + 1) // nt) * 16)
    Wk = W + ka * (64 // sizeof(floating))  # the panel row of class ka
    if gbuf:
        gk = gbuf + ka * (64 // sizeof(floating))
    for k in range(K):
        b[k] = intercept[k]
    fr_poll_init(&poll)
    while start < n:
        stop = min(start + B, n)
        nb = stop - start
        lr = <floating> c.lrs[t]
        batch_loss = 0.0
        batch_correct = 0.0
        batch_weight = 0.0
        for k in range(K):
            gsum[k] = 0.0
        s0 = start
        while s0 < stop:
            s1 = min(s0 + S, stop)
            ns = s1 - s0
            pd = max(ns, c.prefetch_min_rows)
            for i in range(ns):
                rows[i] = c.X + c.order[s0 + i] * c.row_bytes
                p = s0 + i + pd
                pf[i] = c.X + c.order[p] * c.row_bytes if p < n else NULL
            if tid == 0 and c.check_signals and fr_poll_due(&poll, ns * d * K):
                _check_signals(c, u)
                fr_poll_done(&poll)
            if c.by_class:  # one slot; each thread writes its classes' columns
                zp = zpart + parity * nt * c.zslot + ka
            else:
                zp = zpart + (parity * nt + tid) * c.zslot
            fr_fwd(c.simd, c.kind, rows, pf, <int> ns, j0, j1, Wk, K, kn, zp, K)
            if nt > 1:
                fr_barrier_wait(c.barrier, &sense)  # every partial logit is written
            if fr_load_ssize(&c.stop_at) == u:  # every thread stops at the same sub-block,
                c.status = 2                    # before its step: W still at batch t's start
                break
            u += 1
            zp = zpart + parity * nt * c.zslot
            for i in range(ns):
                ylab[i] = c.y[c.order[s0 + i]]
            if sw:
                for i in range(ns):
                    vrow[i] = sw[c.order[s0 + i]]
                    batch_weight += vrow[i]
            if not c.binary:
                if floating is float:
                    batch_loss += fr_softmax_rows_f32(c.simd, zp, c.zslot, joined, <int> ns, K,
                                                      <float> c.scale, b, ylab, vb, Z, gsum,
                                                      &batch_correct, tmp)
                else:
                    batch_loss += fr_softmax_rows_f64(c.simd, zp, c.zslot, joined, <int> ns, K,
                                                      c.scale, b, ylab, vb, Z, gsum,
                                                      &batch_correct, tmp)
            else:  # an infinite logit gives a NaN loss there: it stops the epoch
                if floating is float:
                    batch_loss += fr_sigmoid_rows_f32(c.simd, zp, c.zslot, joined, <int> ns, 1,
                                                      <float> c.scale, b, ylab, vb, Z, gsum,
                                                      &batch_correct, tmp)
                else:
                    batch_loss += fr_sigmoid_rows_f64(c.simd, zp, c.zslot, joined, <int> ns, 1,
                                                      c.scale, b, ylab, vb, Z, gsum,
                                                      &batch_correct, tmp)
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
                fr_bwd_f32(c.simd, c.kind, rows, <int> ns, j0, j1, Z + ka, K, K, kn, Wk, gk, mode,
                           <float> (c.scale / nb), <float> c.l2x2, lr, <const float*> c.pscale)
            else:
                fr_bwd_f64(c.simd, c.kind, rows, <int> ns, j0, j1, Z + ka, K, K, kn, Wk, gk, mode,
                           c.scale / nb, c.l2x2, lr, <const double*> c.pscale)
            s0 = s1
        if c.status:
            break
        for k in range(K):
            b[k] = b[k] - lr * <floating> (gsum[k] / nb)
        loss_sum += batch_loss
        correct += batch_correct
        weight_sum += batch_weight
        start = stop
        t += 1
    if tid == 0:
        for k in range(K):
            intercept[k] = b[k]
        c.loss_sum = loss_sum
        c.correct = correct
        c.weight_sum = weight_sum
        c.batches_done = t


cdef object _run(Ctx* c, floating[:, ::1] coef, floating[::1] intercept, int n_threads):
    """Set up the working copy and buffers, run the threads, write the weights back."""
    cdef int K = coef.shape[0], d = coef.shape[1], tid, nt
    cdef Py_ssize_t esize = sizeof(floating), S, wsize = fr_panel_size(K, d, sizeof(floating))
    cdef floating* W
    c.K = K
    c.d = d
    S = _subblock_bytes
    if K <= 10:
        S = max(S, _subblock_w_factor * wsize * esize)
    S = max(1, min(c.B, S // max(1, c.row_bytes)))
    c.S = S
    nt = epoch_threads(S, c.row_bytes, d, K, sizeof(floating), n_threads, _min_ns_per_barrier,
                       _class_split_min)
    c.nt = nt
    c.by_class = epoch_by_class(K, nt, _class_split_min)
    c.zslot = (S * K + 15) // 16 * 16
    c.tbuf_bytes = ((2 * S * sizeof(void*) + (S * K + K) * esize
                     + (K + S * K + S + 8) * sizeof(double) + S * esize + S * sizeof(int))
                    + 63) // 64 * 64
    c.W = fr_alloc(wsize * esize)
    c.gbuf = fr_alloc(wsize * esize) if c.B > S else NULL
    c.zpart = fr_alloc(2 * nt * c.zslot * esize)
    c.barrier = <fr_barrier_t*> fr_alloc(sizeof(fr_barrier_t))
    c.tbuf = fr_alloc(nt * c.tbuf_bytes)
    c.status = 0
    c.loss_sum = c.correct = c.weight_sum = 0.0
    c.batches_done = 0
    c.stop_at = -1
    c.error = NULL
    try:
        if not c.W or not c.zpart or not c.tbuf or not c.barrier or (c.B > S and not c.gbuf):
            raise MemoryError("epoch: could not allocate the working buffers")
        W = <floating*> c.W
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
            if floating is float:
                fr_unpack_f32(&coef[0, 0], W, K, d)
            else:
                fr_unpack_f64(&coef[0, 0], W, K, d)
    finally:
        fr_free(c.W)
        fr_free(c.gbuf)
        fr_free(c.zpart)
        fr_free(c.tbuf)
        fr_free(c.barrier)
    global _last_threads, _last_batches, _last_by_class
    _last_threads = c.nt
    _last_by_class = c.by_class and c.nt > 1
    _last_batches = c.batches_done
    if c.error:  # the buffers are freed, W and b written back at the batch boundary
        exc = <object> c.error
        Py_DECREF(exc)
        raise exc
    if c.status:
        return float("nan"), float("nan")
    if c.sw:
        return c.loss_sum / c.weight_sum, c.correct / c.weight_sum
    return c.loss_sum / c.n, c.correct / c.n


def epoch(X, const int[::1] y, floating[:, ::1] coef, floating[::1] intercept,
          const Py_ssize_t[::1] order, Py_ssize_t batch_size,
          const double[::1] learning_rates, double l2, double input_scale=1.0,
          int n_threads=1, sample_weight=None, step_scale=None):
    """Run mini-batch gradient descent over the rows ``X[order]`` in place, batch by batch.

    Batch t (rows R_t = ``order[t*B:(t+1)*B]``, n_t of them) takes the step
    W -= lr_t P ((1/n_t) sum_{n in R_t} v_n G_n x_n^T + 2 l2 W),
    b -= lr_t (1/n_t) sum_{n in R_t} v_n G_n,
    with z_n = (input_scale x_n) W^T + b, G_n = dE_n/dz_n the cross-entropy gradient (s(z) - y
    for K = 1, the sigmoid; softmax(z) - onehot(y) for K >= 2), v_n = ``sample_weight[n]``
    (indexed by row of X; None: 1) and P = diag(``step_scale``) on the features (None: the
    identity). ``X`` may be uint8, scaled by ``input_scale`` inside. ``n_threads`` caps the
    threads (fewer start where a batch's work would not pay for a barrier per sub-block: see
    _thread_policy.pxd).

    Returns ``(mean_loss, accuracy)`` over the rows seen, each measured on its batch at the
    weights before its step, weighted: sum v E / sum v and sum v [right] / sum v. If a batch
    loss is not finite (a row of weight 0 counts too) the epoch stops before that step, leaves
    the weights as they were, and returns (nan, nan). Called from the main thread, it
    runs Python's signal handlers about every 10 ms; if one raises (KeyboardInterrupt on
    Ctrl-C), the epoch stops before its next sub-block, leaves the weights as the batches
    before it left them (``_last_batches_done()`` of them) and re-raises that exception.
    """
    cdef Ctx c
    cdef Py_ssize_t n = order.shape[0]
    cdef const floating[::1] sw, pscale
    _check_int_range(coef.shape[1], coef.shape[0])
    if n == 0:
        return float("nan"), float("nan")
    cdef const unsigned char[:, ::1] xv = X.view(np.uint8)
    c.simd = _simd
    c.X = <const char*> &xv[0, 0]
    c.row_bytes = xv.shape[1]
    c.binary = coef.shape[0] == 1
    c.n = n
    c.B = batch_size
    c.prefetch_min_rows = _prefetch_min_rows
    c.y = &y[0]
    c.order = &order[0]
    c.lrs = &learning_rates[0]
    c.l2x2 = 2.0 * l2
    c.scale = input_scale
    c.sw = c.pscale = NULL
    if sample_weight is not None:
        sw = sample_weight
        c.sw = &sw[0]
    if step_scale is not None and coef.shape[1] > 0:
        pscale = step_scale
        c.pscale = &pscale[0]
    c.kind = _x_kind(X, np.float64 if floating is double else np.float32)
    c.check_signals = threading.get_ident() == threading.main_thread().ident
    return _run(&c, coef, intercept, 1 if _forked_child else n_threads)


# --------------------------------------------------------------------------- the forward pass
# linear_forward and its tuning: _linear_forward.pxi, included here (one compiled module, one
# twin: the switch pairs _linear with _linear_numpy), a file of its own for the reader.
include "_linear_forward.pxi"
