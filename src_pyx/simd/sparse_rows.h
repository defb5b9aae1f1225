/* The row kernels of the sparse epoch and forward pass (src_pyx/_sparse.pyx): one CSR row's
 * logits z = x V and its update V[j] -= x_j g of the rows of V its nonzeros name (x_j
 * optionally times a per-feature factor), and the prefetch that runs ahead of the rows. V is
 * (d, K) row-major: a feature's K numbers are contiguous.
 *
 * Classes go by in blocks of 4 vectors (16 floats / 8 doubles: one cache line), then one
 * vector, then one by one; a block's sums (or its part of g) stay in registers while the
 * row's nonzeros go by. Written with GCC/Clang vector extensions, which compile to the
 * baseline instruction set (SSE2 on x86-64, NEON on aarch64) with no -march flag; other
 * compilers get the plain loops. Each sum runs in the order of the nonzeros, so every path
 * gives the same numbers (barring contraction to FMA, which the default x86-64 build has not).
 *
 * Instantiated for float/double values and int32/int64 indices: fr_sparse_<op>_f32_i32 ...
 * Raw pointers, no checks: the callers pass valid rows (indices in 0..d-1, checked above).
 */
#ifndef FR_SPARSE_ROWS_H
#define FR_SPARSE_ROWS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define FR_SP_VECTORS 1
#define FR_SP_RESTRICT __restrict__
typedef float fr_sp_f32v __attribute__((vector_size(16)));
typedef double fr_sp_f64v __attribute__((vector_size(16)));
#else
#define FR_SP_VECTORS 0
#define FR_SP_RESTRICT
#endif

#if defined(__GNUC__) || defined(__clang__)
/* always_inline: a function whose only effects are prefetches is "const" to GCC, which then
 * deletes its calls; inlined into the epoch's loop, the prefetches stay. */
#define FR_SP_INLINE static inline __attribute__((always_inline))
#define FR_SP_PREFETCH_READ(p) __builtin_prefetch((const void *) (p), 0, 3)
#define FR_SP_PREFETCH_WRITE(p) __builtin_prefetch((const void *) (p), 1, 3)
#else
#define FR_SP_INLINE static inline
#define FR_SP_PREFETCH_READ(p) ((void) (p))
#define FR_SP_PREFETCH_WRITE(p) ((void) (p))
#endif

#define FR_SP_LOAD(v, p) memcpy(&(v), (p), sizeof(v))   /* unaligned, one instruction */
#define FR_SP_STORE(p, v) memcpy((p), &(v), sizeof(v))

/* T the value type, VT its 16-byte vector, VL the values per vector, I the index type. */
#define FR_SP_ROWS(SUFFIX, T, VT, VL, I)                                                        \
                                                                                                \
/* z[k] = sum_{p0 <= p < p1} data[p] V[idx[p] K + k], each sum in the order of p. */           \
static inline void fr_sparse_logits_##SUFFIX(const T *FR_SP_RESTRICT data,                     \
                                             const I *FR_SP_RESTRICT idx, ptrdiff_t p0,        \
                                             ptrdiff_t p1, const T *FR_SP_RESTRICT V, int K,   \
                                             T *FR_SP_RESTRICT z)                              \
{                                                                                               \
    int k0 = 0;                                                                                 \
    ptrdiff_t p;                                                                                \
    if (FR_SP_VECTORS) {                                                                        \
        for (; k0 + 4 * VL <= K; k0 += 4 * VL) {                                                \
            VT a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, w0, w1, w2, w3;                          \
            for (p = p0; p < p1; p++) {                                                         \
                const T *w = V + (ptrdiff_t) idx[p] * K + k0;                                   \
                T x = data[p];                                                                  \
                FR_SP_LOAD(w0, w); FR_SP_LOAD(w1, w + VL);                                      \
                FR_SP_LOAD(w2, w + 2 * VL); FR_SP_LOAD(w3, w + 3 * VL);                         \
                a0 += x * w0; a1 += x * w1; a2 += x * w2; a3 += x * w3;                         \
            }                                                                                   \
            FR_SP_STORE(z + k0, a0); FR_SP_STORE(z + k0 + VL, a1);                              \
            FR_SP_STORE(z + k0 + 2 * VL, a2); FR_SP_STORE(z + k0 + 3 * VL, a3);                 \
        }                                                                                       \
        for (; k0 + VL <= K; k0 += VL) {                                                        \
            VT a0 = {0}, w0;                                                                    \
            for (p = p0; p < p1; p++) {                                                         \
                FR_SP_LOAD(w0, V + (ptrdiff_t) idx[p] * K + k0);                                \
                a0 += data[p] * w0;                                                             \
            }                                                                                   \
            FR_SP_STORE(z + k0, a0);                                                            \
        }                                                                                       \
    }                                                                                           \
    for (; k0 < K; k0++) {                                                                      \
        T a = 0;                                                                                \
        for (p = p0; p < p1; p++)                                                               \
            a += data[p] * V[(ptrdiff_t) idx[p] * K + k0];                                      \
        z[k0] = a;                                                                              \
    }                                                                                           \
}                                                                                               \
                                                                                                \
/* V[idx[p] K + k] -= x_p g[k] for p0 <= p < p1 in order, x_p = data[p] (times                 \
 * fs[idx[p]] when fs is not NULL): repeated indices are applied one after the other. */       \
static inline void fr_sparse_update_##SUFFIX(const T *FR_SP_RESTRICT data,                     \
                                             const I *FR_SP_RESTRICT idx, ptrdiff_t p0,        \
                                             ptrdiff_t p1, const T *FR_SP_RESTRICT fs,         \
                                             T *FR_SP_RESTRICT V, int K,                       \
                                             const T *FR_SP_RESTRICT g)                        \
{                                                                                               \
    int k0 = 0;                                                                                 \
    ptrdiff_t p;                                                                                \
    if (FR_SP_VECTORS) {                                                                        \
        for (; k0 + 4 * VL <= K; k0 += 4 * VL) {                                                \
            VT c0, c1, c2, c3, w0, w1, w2, w3;                                                  \
            FR_SP_LOAD(c0, g + k0); FR_SP_LOAD(c1, g + k0 + VL);                                \
            FR_SP_LOAD(c2, g + k0 + 2 * VL); FR_SP_LOAD(c3, g + k0 + 3 * VL);                   \
            for (p = p0; p < p1; p++) {                                                         \
                T *w = V + (ptrdiff_t) idx[p] * K + k0;                                         \
                T x = fs ? data[p] * fs[idx[p]] : data[p];                                      \
                FR_SP_LOAD(w0, w); FR_SP_LOAD(w1, w + VL);                                      \
                FR_SP_LOAD(w2, w + 2 * VL); FR_SP_LOAD(w3, w + 3 * VL);                         \
                w0 -= x * c0; w1 -= x * c1; w2 -= x * c2; w3 -= x * c3;                         \
                FR_SP_STORE(w, w0); FR_SP_STORE(w + VL, w1);                                    \
                FR_SP_STORE(w + 2 * VL, w2); FR_SP_STORE(w + 3 * VL, w3);                       \
            }                                                                                   \
        }                                                                                       \
        for (; k0 + VL <= K; k0 += VL) {                                                        \
            VT c0, w0;                                                                          \
            FR_SP_LOAD(c0, g + k0);                                                             \
            for (p = p0; p < p1; p++) {                                                         \
                T *w = V + (ptrdiff_t) idx[p] * K + k0;                                         \
                T x = fs ? data[p] * fs[idx[p]] : data[p];                                      \
                FR_SP_LOAD(w0, w);                                                              \
                w0 -= x * c0;                                                                   \
                FR_SP_STORE(w, w0);                                                             \
            }                                                                                   \
        }                                                                                       \
    }                                                                                           \
    for (; k0 < K; k0++) {                                                                      \
        T c = g[k0];                                                                            \
        for (p = p0; p < p1; p++) {                                                             \
            T x = fs ? data[p] * fs[idx[p]] : data[p];                                          \
            V[(ptrdiff_t) idx[p] * K + k0] -= x * c;                                            \
        }                                                                                       \
    }                                                                                           \
}

/* Before the logits of the row at position i of `order` (n positions), ask for what rows
 * further on will read, each stage's addresses in cache by the time the next needs them: the
 * indptr entry of the row 8 on, the nonzeros (indices, values) of the row 4 on, the rows of
 * V the next row names (and their entries of `state`, state_bytes each, unless NULL). Rows
 * come in random order from an X of many MB and V (d K values) is several MB: without this
 * the epoch waits on memory at each row's start and at many of its nonzeros. Index and value
 * types by their sizes (4 or 8 bytes). */
FR_SP_INLINE void fr_sparse_prefetch(const ptrdiff_t *order, ptrdiff_t i, ptrdiff_t n,
                                     const void *indptr, const void *idx, int index_bytes,
                                     const void *data, int value_bytes, const void *V, int K,
                                     const void *state, int state_bytes)
{
#define FR_SP_INDEX(a, q) (index_bytes == 4 ? (ptrdiff_t) ((const int32_t *) (a))[q]          \
                                             : (ptrdiff_t) ((const int64_t *) (a))[q])
    ptrdiff_t p, p1, r;
    const char *v = (const char *) V;
    if (i + 8 < n)
        FR_SP_PREFETCH_READ((const char *) indptr + order[i + 8] * index_bytes);
    if (i + 4 < n) {
        r = order[i + 4];
        p1 = FR_SP_INDEX(indptr, r + 1);
        for (p = FR_SP_INDEX(indptr, r); p < p1; p += 64 / index_bytes)
            FR_SP_PREFETCH_READ((const char *) idx + p * index_bytes);
        for (p = FR_SP_INDEX(indptr, r); p < p1; p += 64 / value_bytes)
            FR_SP_PREFETCH_READ((const char *) data + p * value_bytes);
    }
    if (i + 1 < n) {
        r = order[i + 1];
        p1 = FR_SP_INDEX(indptr, r + 1);
        for (p = FR_SP_INDEX(indptr, r); p < p1; p++) {
            ptrdiff_t j = FR_SP_INDEX(idx, p);
            const char *w = v + j * K * value_bytes;
            FR_SP_PREFETCH_WRITE(w);
            FR_SP_PREFETCH_WRITE(w + (K - 1) * value_bytes);
            if (state)
                FR_SP_PREFETCH_WRITE((const char *) state + j * state_bytes);
        }
    }
#undef FR_SP_INDEX
}

#if FR_SP_VECTORS
FR_SP_ROWS(f32_i32, float, fr_sp_f32v, 4, int32_t)
FR_SP_ROWS(f32_i64, float, fr_sp_f32v, 4, int64_t)
FR_SP_ROWS(f64_i32, double, fr_sp_f64v, 2, int32_t)
FR_SP_ROWS(f64_i64, double, fr_sp_f64v, 2, int64_t)
#else /* the vector branches are dead code here, but must still compile: scalar stand-ins */
typedef float fr_sp_f32s;
typedef double fr_sp_f64s;
FR_SP_ROWS(f32_i32, float, fr_sp_f32s, 1, int32_t)
FR_SP_ROWS(f32_i64, float, fr_sp_f32s, 1, int64_t)
FR_SP_ROWS(f64_i32, double, fr_sp_f64s, 1, int32_t)
FR_SP_ROWS(f64_i64, double, fr_sp_f64s, 1, int64_t)
#endif

#endif /* FR_SPARSE_ROWS_H */
