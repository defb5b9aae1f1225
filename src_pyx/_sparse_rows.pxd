# The row kernels of src_pyx/simd/sparse_rows.h (one typed C function per value and index
# type) and their fused-type dispatch, cimported by _sparse.pyx: index_t (the CSR index
# type), fr_sparse_prefetch, _row_logits and _row_update. Raw pointers, no checks.
from cython cimport floating
from libc.stdint cimport int32_t, int64_t

cdef extern from "simd/sparse_rows.h" nogil:
    void fr_sparse_prefetch(const Py_ssize_t* order, Py_ssize_t i, Py_ssize_t n,
                            const void* indptr, const void* idx, int index_bytes,
                            const void* data, int value_bytes, const void* V, int K,
                            const void* state, int state_bytes)
    void fr_sparse_logits_f32_i32(const float* data, const int32_t* idx, Py_ssize_t p0,
                                  Py_ssize_t p1, const float* V, int K, float* z)
    void fr_sparse_logits_f32_i64(const float* data, const int64_t* idx, Py_ssize_t p0,
                                  Py_ssize_t p1, const float* V, int K, float* z)
    void fr_sparse_logits_f64_i32(const double* data, const int32_t* idx, Py_ssize_t p0,
                                  Py_ssize_t p1, const double* V, int K, double* z)
    void fr_sparse_logits_f64_i64(const double* data, const int64_t* idx, Py_ssize_t p0,
                                  Py_ssize_t p1, const double* V, int K, double* z)
    void fr_sparse_update_f32_i32(const float* data, const int32_t* idx, Py_ssize_t p0,
                                  Py_ssize_t p1, const float* fs, float* V, int K,
                                  const float* g)
    void fr_sparse_update_f32_i64(const float* data, const int64_t* idx, Py_ssize_t p0,
                                  Py_ssize_t p1, const float* fs, float* V, int K,
                                  const float* g)
    void fr_sparse_update_f64_i32(const double* data, const int32_t* idx, Py_ssize_t p0,
                                  Py_ssize_t p1, const double* fs, double* V, int K,
                                  const double* g)
    void fr_sparse_update_f64_i64(const double* data, const int64_t* idx, Py_ssize_t p0,
                                  Py_ssize_t p1, const double* fs, double* V, int K,
                                  const double* g)

ctypedef fused index_t:
    int32_t
    int64_t


cdef inline void _row_logits(const floating* data, const index_t* indices, Py_ssize_t p0,
                             Py_ssize_t p1, const floating* V, int K, floating* z) noexcept nogil:
    """z[k] = sum_p data[p] V[indices[p], k] over p0 <= p < p1 (simd/sparse_rows.h)."""
    if floating is float:
        if index_t is int32_t:
            fr_sparse_logits_f32_i32(data, indices, p0, p1, V, K, z)
        else:
            fr_sparse_logits_f32_i64(data, indices, p0, p1, V, K, z)
    else:
        if index_t is int32_t:
            fr_sparse_logits_f64_i32(data, indices, p0, p1, V, K, z)
        else:
            fr_sparse_logits_f64_i64(data, indices, p0, p1, V, K, z)


cdef inline void _row_update(const floating* data, const index_t* indices, Py_ssize_t p0,
                             Py_ssize_t p1, const floating* fs, floating* V, int K,
                             const floating* g) noexcept nogil:
    """V[j, k] -= x_p g[k] for each nonzero p, j = indices[p], x_p = data[p] (fs[j]), in the
    order of p (fs NULL: no factor; simd/sparse_rows.h)."""
    if floating is float:
        if index_t is int32_t:
            fr_sparse_update_f32_i32(data, indices, p0, p1, fs, V, K, g)
        else:
            fr_sparse_update_f32_i64(data, indices, p0, p1, fs, V, K, g)
    else:
        if index_t is int32_t:
            fr_sparse_update_f64_i32(data, indices, p0, p1, fs, V, K, g)
        else:
            fr_sparse_update_f64_i64(data, indices, p0, p1, fs, V, K, g)
