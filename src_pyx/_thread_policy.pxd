# How many threads the linear kernels (_linear.pyx) start: pure functions of the caller's
# thread cap, the shape and the tuning constants passed in. They never look at the clock or at
# the machine's load, so the same seed and n_threads give bitwise the same weights on a busy
# and an idle machine, and when several fits run at once (the epoch's result depends on its
# thread count, which splits the features; the forward pass's does not).
#
# The cost model is rough on purpose: a sub-block (or a forward call) costs its rows read from
# memory (~8 GB/s on one core) plus its multiply-adds (~0.15 ns per 64-byte vector of them),
# measured on a 2-core AVX-512 Xeon (benchmarks/bench_epoch.py, bench_kernels.py).


cdef inline double work_ns(Py_ssize_t rows, Py_ssize_t row_bytes, int d, int K,
                           int esize) noexcept nogil:
    """Rough time on one core of a forward and backward pass over ``rows`` rows."""
    return rows * (row_bytes / 8.0 + d * K * esize / 200.0)


cdef inline bint epoch_by_class(int K, int nt, int min_classes) noexcept nogil:
    """Whether the nt threads of an epoch split the classes instead of the features: when each
    gets at least ``min_classes`` of the K classes (0: never).

    Each thread then computes whole logits of its classes over all the features, so no partial
    logits are joined (the feature split's B K nt additions a sub-block, which grow with the
    thread count) and the results do not depend on nt; every thread reads whole rows. See
    docs/THREADS.md for the measurements behind ``min_classes``.
    """
    return nt > 1 and min_classes > 0 and K >= min_classes * nt


cdef inline int epoch_threads(Py_ssize_t subblock_rows, Py_ssize_t row_bytes, int d, int K,
                              int esize, int n_threads, Py_ssize_t min_ns_per_barrier,
                              int min_classes) noexcept nogil:
    """Threads of an epoch, at most ``n_threads`` (and 64).

    The threads meet at one barrier per sub-block, so each extra thread must be paid for by
    ``min_ns_per_barrier`` of work in a sub-block (break-even measured at 2-4 us on an idle
    machine), and each needs its share: two 16-feature blocks at least when they split the
    features, ``min_classes`` classes when they split the classes (``epoch_by_class``).
    """
    cdef int nt = min(n_threads, 64)
    while nt > 1 and (work_ns(subblock_rows, row_bytes, d, K, esize)
                      < min_ns_per_barrier * (nt - 1)
                      or (d < 32 * nt and not epoch_by_class(K, nt, min_classes))):
        nt -= 1
    return nt


cdef inline int forward_threads(Py_ssize_t N, Py_ssize_t row_bytes, int d, int K, int esize,
                                int max_threads, Py_ssize_t min_ns,
                                Py_ssize_t task_rows) noexcept nogil:
    """Threads of a forward pass over N rows, at most ``max_threads`` (OpenMP's default).

    Rows are handed out in tasks of ``task_rows``; threads start only for more than one task
    and an estimated ``min_ns`` or more on one core (waking a thread costs tens of us).
    """
    if N <= task_rows or work_ns(N, row_bytes, d, K, esize) < min_ns:
        return 1
    return <int> min(<Py_ssize_t> max_threads, (N + task_rows - 1) // task_rows, 64)
