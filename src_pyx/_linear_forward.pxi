# Included by _linear.pyx (`include`): the forward pass `linear_forward` of the compiled module
# fastreg._kernels._linear, beside the epoch there. It shares the module's SIMD variant
# (`_simd`), the fork guard (`_forked_child`), the epoch's forward micro-kernel and panel layout,
# and THE logit formula (fr_logits). Not compiled on its own.
# --------------------------------------------------------------------------- the forward pass
# linear_forward runs the epoch's forward micro-kernel (fr_fwd) on the epoch's weight layout,
# under the same SIMD dispatch, and finishes each logit with the same fr_logits: W is packed
# once per call into 64-byte panels, then blocks of FWD_BLOCK rows go through fr_fwd by row
# pointers (X is never copied). Compared with one dot product per (row, class), each W vector
# loaded serves several rows and each row chunk several classes from registers; unlike BLAS on
# these skinny products (K = 10 columns) it reaches the memory bandwidth.
# Calls estimated at 200 us or more split their rows between OpenMP threads, as many as OpenMP
# gives by default (OMP_NUM_THREADS, threadpoolctl's limit): NumPy's BLAS uses its threads the
# same way, and a memory-bound product (K = 1) needs two cores to match it. Each row is
# computed by one thread in one order: the results depend neither on the thread count nor on
# how the rows are cut into calls.
#
# Tuning, measured on a 2-core AVX-512 Xeon (benchmarks/bench_kernels.py, 784 features):
# rows per call of fr_fwd, and per task claimed by a thread (consecutive rows: the prefetch of
# the next block mostly stays within a thread's own rows; 32..1024 measured alike);
cdef enum:
    FWD_BLOCK = 16
    FWD_TASK = 128
# prefetch of the rows FWD_BLOCK ahead: float32 weights with several classes only (1.2x from
# cache, 1.4-2.3x from memory); it slowed float64 and K = 1 by 5-20%;
cdef int _fwd_prefetch = 1
# threads start when a call's estimated time on one core is at least this (_thread_policy);
cdef Py_ssize_t _fwd_min_ns = 200000
cdef int _fwd_last_threads = 0


cdef void _forward_rows(Fwd* f, Py_ssize_t start, Py_ssize_t stop,
                        floating* Z) noexcept nogil:
    """Z[n, :] = (X[n, :] W^T) * scale + b for start <= n < stop, FWD_BLOCK rows per call."""
    cdef const void* rows[FWD_BLOCK]
    cdef const void* pf[FWD_BLOCK]
    cdef Py_ssize_t nb, i, p
    cdef floating* z
    cdef bint prefetch = _fwd_prefetch and floating is float and f.K > 1
    while start < stop:
        nb = min(FWD_BLOCK, stop - start)
        for i in range(nb):
            rows[i] = f.X + (start + i) * f.row_bytes
            p = start + i + FWD_BLOCK
            pf[i] = f.X + p * f.row_bytes if p < f.N else NULL
        z = Z + start * f.K
        fr_fwd(f.simd, f.kind, rows, pf if prefetch else NULL, <int> nb, 0, f.d, f.Wp, f.K, f.K,
               z, f.K)
        if floating is float:
            fr_logits_f32(f.simd, z, 0, 1, <int> nb, f.K, <float> f.scale,
                          <const float*> f.b, z)
        else:
            fr_logits_f64(f.simd, z, 0, 1, <int> nb, f.K, f.scale, <const double*> f.b, z)
        start += nb


cdef void _forward_tasks(Fwd* f, floating* Z) noexcept nogil:
    """One thread's share: tasks of FWD_TASK rows claimed until none is left (a thread that
    starts late, or runs slower, simply takes fewer)."""
    cdef Py_ssize_t t, ntasks = (f.N + FWD_TASK - 1) // FWD_TASK
    while True:
        t = fr_claim(&f.next_task)
        if t >= ntasks:
            break
        _forward_rows(f, t * FWD_TASK, min(f.N, (t + 1) * FWD_TASK), Z)


cdef int _forward(Fwd* f, const floating* coef, floating* Z) noexcept nogil:
    """Pack W, then Z (N, K) on the threads the policy gives; -1 when out of memory."""
    cdef floating* Wp = <floating*> fr_alloc(
        fr_panel_size(f.K, f.d, sizeof(floating)) * sizeof(floating))
    cdef int nt
    if Wp == NULL:
        return -1
    if floating is float:
        fr_pack_f32(Wp, coef, f.K, f.d)
    else:
        fr_pack_f64(Wp, coef, f.K, f.d)
    f.Wp = Wp
    f.next_task = 0
    nt = forward_threads(f.N, f.row_bytes, f.d, f.K, sizeof(floating),
                         1 if _forked_child else fr_max_threads(), _fwd_min_ns, FWD_TASK)
    if nt == 1:
        _forward_rows(f, 0, f.N, Z)
    else:
        with parallel(num_threads=nt):
            _forward_tasks(f, Z)
    global _fwd_last_threads
    _fwd_last_threads = nt
    fr_free(Wp)
    return 0


def linear_forward(X, const floating[:, ::1] coef, const floating[::1] intercept,
                   double input_scale=1.0, out=None):
    """Logits of the linear model: ``out[n, k] = (sum_j X[n, j] coef[k, j]) * input_scale
    + intercept[k]``.

    X (N, d) of coef's dtype or uint8, coef (K, d), intercept (K,); out (N, K) of coef's dtype,
    C-contiguous, is written and returned (allocated when None). K = 1 gives the logistic
    model's logits as a column.
    """
    dtype = np.float64 if floating is double else np.float32
    if out is None:
        out = np.empty((X.shape[0], coef.shape[0]), dtype=dtype)
    cdef floating[:, ::1] Z = out
    cdef Fwd f
    cdef int rc = 0
    _check_int_range(coef.shape[1], coef.shape[0])
    if X.shape[0] == 0:
        return out
    cdef const unsigned char[:, ::1] xv = X.view(np.uint8)
    f.simd = _simd
    f.kind = _x_kind(X, dtype)
    f.X = <const char*> &xv[0, 0]
    f.row_bytes = xv.shape[1]
    f.N = X.shape[0]
    f.d = <int> coef.shape[1]
    f.K = <int> coef.shape[0]
    f.b = &intercept[0]
    f.scale = input_scale
    with nogil:
        rc = _forward(&f, &coef[0, 0], &Z[0, 0])
    if rc:
        raise MemoryError("linear_forward: could not allocate the packed weights")
    return out


# the forward micro-kernel's feature tiles (kernels_template.h's fwd; the epoch's forward pass
# too): W bytes of a tile (0: no tiles), the W bytes over a feature range above which it is
# tiled, the least features of a tile.
cdef extern from "simd/dispatch.h":
    int fr_fwd_tile_bytes, fr_fwd_tile_over, fr_fwd_tile_min


def _forward_tuning(min_ns=None, prefetch=None, tile_bytes=None, tile_over=None,
                    tile_min=None):
    """Read or set the forward pass's tuning (for tests and measurements); returns the old
    values. ``min_ns=0`` starts the threads at every size above one task. ``tile_bytes``,
    ``tile_over`` and ``tile_min`` set the feature tiles of the forward micro-kernel, which
    the epoch shares: ``tile_bytes=1, tile_over=0, tile_min=0`` tiles every range by one
    64-byte panel; ``tile_bytes=0`` turns the tiles off."""
    global _fwd_min_ns, _fwd_prefetch, fr_fwd_tile_bytes, fr_fwd_tile_over, fr_fwd_tile_min
    previous = dict(min_ns=_fwd_min_ns, prefetch=bool(_fwd_prefetch),
                    tile_bytes=fr_fwd_tile_bytes, tile_over=fr_fwd_tile_over,
                    tile_min=fr_fwd_tile_min)
    if min_ns is not None:
        _fwd_min_ns = max(0, int(min_ns))
    if prefetch is not None:
        _fwd_prefetch = 1 if prefetch else 0
    if tile_bytes is not None:
        fr_fwd_tile_bytes = <int> min(max(0, int(tile_bytes)), 2**30)
    if tile_over is not None:
        fr_fwd_tile_over = <int> min(max(0, int(tile_over)), 2**30)
    if tile_min is not None:
        fr_fwd_tile_min = <int> min(max(0, int(tile_min)), 2**30)
    return previous


def _forward_last_threads():
    """Threads the last forward call ran on (for tests: the threaded path really ran)."""
    return _fwd_last_threads


def _forward_max_threads():
    """Threads a large forward call may start here: OpenMP's default (OMP_NUM_THREADS, or a
    threadpoolctl limit), 1 without OpenMP or in a forked child."""
    return 1 if _forked_child else fr_max_threads()
