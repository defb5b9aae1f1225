# The state structs of _linear.pyx's kernels, shared by every thread of one call (declarations
# only, no code): `Ctx` is the fused epoch's (set up by `epoch` and `_run`, read by each
# `_worker`; thread 0 writes the results), `Fwd` the forward pass's (`linear_forward`,
# `_forward` and its threads, which share the task counter). Raw pointers: the owners in
# _linear.pyx keep the memory alive for the call.
from cpython.ref cimport PyObject

from _simd_api cimport fr_simd, fr_barrier_t

cdef struct Ctx:
    const fr_simd* simd
    int kind                  # 0 float X, 1 uint8 X (float W), 2 double X, 3 uint8 X (double W)
    const char* X
    Py_ssize_t row_bytes
    int d, K, nt
    bint by_class             # the threads split the classes (else the features)
    bint binary               # K == 1: the sigmoid link
    Py_ssize_t n, B, S
    Py_ssize_t prefetch_min_rows
    const int* y
    const Py_ssize_t* order
    const double* lrs
    const void* sw            # sample weights (N,) of the weights' type, NULL: all 1
    const void* pscale        # step scale (d,) of the weights' type, NULL: all 1
    double l2x2, scale
    void* W                   # working weights in 64-byte panels (simd/pack.h)
    void* gbuf                # gradient across sub-blocks (batches larger than S), same layout
    void* zpart               # [2][nt] slots of zslot elements: partial logits per thread
    Py_ssize_t zslot
    void* tbuf                # per thread: rows, pf, Z/G, intercept, G sums, labels, exp buffer
    Py_ssize_t tbuf_bytes
    fr_barrier_t* barrier
    bint check_signals        # run Python's signal handlers (called from the main thread)
    Py_ssize_t stop_at        # the sub-block every thread stops at (set once, by thread 0)
    PyObject* error           # what a signal handler raised (_run re-raises it)
    # results, written by thread 0
    double loss_sum, correct, weight_sum
    Py_ssize_t batches_done
    int status                # 1: a non-finite batch, 2: a signal handler raised


cdef struct Fwd:
    const fr_simd* simd
    int kind                  # as Ctx.kind
    const char* X
    Py_ssize_t row_bytes, N
    int d, K
    const void* Wp            # packed weights (simd/pack.h)
    const void* b
    double scale
    Py_ssize_t next_task      # the threads' shared task counter
