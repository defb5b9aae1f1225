/* ISA dispatch of the linear kernels (_linear.pyx): the blocked SIMD micro-kernels are
 * compiled once per instruction set and picked at run time, so that the default build runs on
 * any x86-64 / aarch64 CPU and still uses AVX2 or AVX-512 where the CPU has them (no
 * -march=native needed).
 *
 * x86-64 with GCC or clang: AVX-512 (F/BW/DQ/VL), AVX2+FMA and the SSE2 baseline; other CPUs
 * (aarch64: NEON) or compilers: the baseline with 16-byte vectors. The kernels are written with
 * the compilers' generic vector types (vector_size), which lower to the ISA of each variant.
 * _linear.pyx's FASTREG_SIMD=avx512|avx2|baseline caps the choice (tests and measurements).
 *
 * This file: the table type fr_simd, one block per ISA that sets the ISA's parameters (width,
 * registers, uint8 conversions, lane sums, masked loads for the feature tails) and
 * includes isa_template.h (which instantiates kernels_template.h and rows_template.h for it),
 * fr_simd_available (the variants this CPU runs) and the typed calls through a table
 * (fr_fwd, fr_bwd_f32/_f64, fr_logits_f32/_f64, fr_softmax_rows_f32/_f64,
 * fr_sigmoid_rows_f32/_f64). The weights' panel layout is pack.h;
 * allocation, OpenMP queries and the barrier are runtime.h.
 */
#ifndef FR_SIMD_DISPATCH_H
#define FR_SIMD_DISPATCH_H

#if !defined(__GNUC__)
#error "fastreg's epoch kernels use GCC/clang vector extensions: build with gcc or clang"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#ifndef FR_GENERIC_ONLY
#define FR_GENERIC_ONLY 0
#endif

/* FR_GENERIC_ONLY=1 builds only the portable variant (what non-x86 CPUs get): for testing it. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !FR_GENERIC_ONLY
#define FR_X86_ASM 1
#else
#define FR_X86_ASM 0
#endif

/* Prefetches of the coming rows go to L2 (locality 1 and 2 measured alike; 3, into L1, a
 * little slower; 0, non-temporal, much slower: the rows are read twice). */
#ifndef FR_PF_LOCALITY
#define FR_PF_LOCALITY 2
#endif


/* Keeps a vector in a register: without it GCC folds a W chunk (or a broadcast G value) used by
 * several rows into each of their FMAs as a memory operand, one load per use, and the kernels
 * become load-bound instead of FMA-bound. */
#if defined(__GNUC__) && FR_X86_ASM
#define FR_IN_REGISTER(v) __asm__("" : "+v"(v))
#elif defined(__GNUC__) && defined(__aarch64__)
#define FR_IN_REGISTER(v) __asm__("" : "+w"(v))
#else
#define FR_IN_REGISTER(v) ((void) 0)
#endif

enum { FR_STORE = 0, FR_ADD = 1, FR_UPDATE = 2, FR_ADD_UPDATE = 3 };

/* index into the tables: 0 float X / float W, 1 uint8 X / float W, 2 double, 3 uint8 / double */
typedef void (*fr_fwd_t)(const void *const *rows, const void *const *pf, int nrows, int j0,
                         int j1, const void *W, int K, int kn, void *Z, int ldz);
typedef void (*fr_bwd_t)(void); /* cast back to its real type by fr_bwd_f32 / fr_bwd_f64 */

/* cast back by fr_softmax_rows_*, fr_sigmoid_rows_*, fr_logits_* */
typedef void (*fr_rows_t)(void);

typedef struct {
    const char *name;
    int vbytes;
    fr_fwd_t fwd[4];
    fr_bwd_t bwd[4];
    fr_rows_t rows_f32, rows_f64; /* softmax rows */
    fr_rows_t sig_f32, sig_f64;   /* sigmoid rows */
    fr_rows_t logits_f32, logits_f64;
    void (*vexp)(double *x, int n);
    void (*vlog1p)(double *x, int n);
} fr_simd;

#if FR_X86_ASM
#define FR_X86 1
#include <immintrin.h>
#else
#define FR_X86 0
#endif

/* uint8 -> float conversions of one vector of pixels, per x86 instruction set (zero-extend to
 * int32, then convert: exact); elsewhere the generic __builtin_convertvector is used. */
static inline int32_t fr_load_i32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline int16_t fr_load_i16(const uint8_t *p)
{
    int16_t v;
    memcpy(&v, p, 2);
    return v;
}
#define FR_SSE2_U8_I32(p) \
    _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(fr_load_i32(p)), _mm_setzero_si128()), \
                       _mm_setzero_si128())

#if FR_X86
static inline float fr_hsum_sse_ps(__m128 v)
{
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(v, _mm_shuffle_ps(v, v, 1)));
}
static inline double fr_hsum_sse_pd(__m128d v)
{
    return _mm_cvtsd_f64(_mm_add_sd(v, _mm_unpackhi_pd(v, v)));
}
#endif

#if FR_X86
/* AVX2's masked loads take their lane mask from memory: from entry 8 - n (4 - n) on, these
 * tables give n all-ones lanes, then zeros (FR_MASKLOAD_F32 / F64 below). */
static const int32_t fr_lane_mask32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t fr_lane_mask64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};
#endif

/* ---------------------------------------------------------------- baseline (any CPU) */
#define FR_ISA base
#define FR_ISA_NAME "baseline"
#define FR_VBYTES 16
#if defined(__aarch64__)
#define FR_NREG 32
#else
#define FR_NREG 16
#endif
#if FR_X86
#define FR_U8_F32(p) _mm_cvtepi32_ps(FR_SSE2_U8_I32(p))
#define FR_HSUM_F32(v) fr_hsum_sse_ps((__m128) (v))
#define FR_HSUM_F64(v) fr_hsum_sse_pd((__m128d) (v))
#define FR_U8_F64(p) _mm_cvtepi32_pd(_mm_unpacklo_epi16(_mm_unpacklo_epi8( \
                        _mm_cvtsi32_si128(fr_load_i16(p)), _mm_setzero_si128()), _mm_setzero_si128()))
#endif
#include "isa_template.h"

#if FR_X86
/* ---------------------------------------------------------------- AVX2 + FMA */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define FR_ISA avx2
#define FR_ISA_NAME "avx2"
#define FR_VBYTES 32
#define FR_NREG 16
#define FR_U8_F32(p) _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *) (p))))
#define FR_U8_F64(p) _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(fr_load_i32(p))))
#define FR_HSUM_F32(v) fr_hsum_avx_ps((__m256) (v))
#define FR_HSUM_F64(v) fr_hsum_avx_pd((__m256d) (v))
/* the first n < VL elements at p, zeros after, reading nothing past them (no fault either) */
#define FR_MASKLOAD_F32(p, n) \
    _mm256_maskload_ps((p), _mm256_loadu_si256((const __m256i *) (fr_lane_mask32 + 8 - (n))))
#define FR_MASKLOAD_F64(p, n) \
    _mm256_maskload_pd((p), _mm256_loadu_si256((const __m256i *) (fr_lane_mask64 + 4 - (n))))
static inline float fr_hsum_avx_ps(__m256 v)
{
    return fr_hsum_sse_ps(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}
static inline double fr_hsum_avx_pd(__m256d v)
{
    return fr_hsum_sse_pd(_mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1)));
}
#include "isa_template.h"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

#if FR_X86
/* ---------------------------------------------------------------- AVX-512 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
#endif
#define FR_ISA avx512
#define FR_ISA_NAME "avx512"
#define FR_VBYTES 64
#define FR_NREG 32
#define FR_U8_F32(p) _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *) (p))))
#define FR_U8_F64(p) _mm512_cvtepi32_pd(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *) (p))))
#define FR_HSUM_F32(v) _mm512_reduce_add_ps((__m512) (v))
#define FR_HSUM_F64(v) _mm512_reduce_add_pd((__m512d) (v))
#define FR_MASKLOAD_F32(p, n) _mm512_maskz_loadu_ps((__mmask16) ((1u << (n)) - 1u), (p))
#define FR_MASKLOAD_F64(p, n) _mm512_maskz_loadu_pd((__mmask8) ((1u << (n)) - 1u), (p))
#include "isa_template.h"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif /* FR_X86 */

/* The variants this CPU can run, widest first; returns how many were written to out. */
static int fr_simd_available(const fr_simd **out)
{
    int n = 0;
#if FR_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        out[n++] = &fr_table_avx512_all;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        out[n++] = &fr_table_avx2_all;
#endif
    out[n++] = &fr_table_base_all;
    return n;
}

static inline void fr_fwd(const fr_simd *s, int kind, const void *const *rows,
                          const void *const *pf, int nrows, int j0, int j1, const void *W,
                          int K, int kn, void *Z, int ldz)
{
    s->fwd[kind](rows, pf, nrows, j0, j1, W, K, kn, Z, ldz);
}

#define FR_BWD_WRAPPER(name, T)                                                                \
    static inline void name(const fr_simd *s, int kind, const void *const *rows, int nrows,    \
                            int j0, int j1, const T *G, int ldg, int K, int kn, T *W,           \
                            T *gbuf, int mode, T c_grad, T l2x2, T lr, const T *pscale)         \
    {                                                                                           \
        typedef void (*f_t)(const void *const *, int, int, int, const T *, int, int, int, T *,  \
                            T *, int, T, T, T, const T *);                                      \
        ((f_t) s->bwd[kind])(rows, nrows, j0, j1, G, ldg, K, kn, W, gbuf, mode, c_grad, l2x2,   \
                             lr, pscale);                                                       \
    }
FR_BWD_WRAPPER(fr_bwd_f32, float)
FR_BWD_WRAPPER(fr_bwd_f64, double)
#undef FR_BWD_WRAPPER

#define FR_ROWS_WRAPPER(name, field, T)                                                        \
    static inline double name(const fr_simd *s, const T *zpart, ptrdiff_t zslot, int nt,       \
                              int nrows, int K, T scale, const T *b, const int *y, const T *v,  \
                              T *G, double *gsum, double *correct, double *tmp)                 \
    {                                                                                           \
        typedef double (*f_t)(const T *, ptrdiff_t, int, int, int, T, const T *, const int *,  \
                              const T *, T *, double *, double *, double *);                    \
        return ((f_t) s->field)(zpart, zslot, nt, nrows, K, scale, b, y, v, G, gsum, correct,  \
                                tmp);                                                           \
    }
FR_ROWS_WRAPPER(fr_softmax_rows_f32, rows_f32, float)
FR_ROWS_WRAPPER(fr_softmax_rows_f64, rows_f64, double)
FR_ROWS_WRAPPER(fr_sigmoid_rows_f32, sig_f32, float)
FR_ROWS_WRAPPER(fr_sigmoid_rows_f64, sig_f64, double)
#undef FR_ROWS_WRAPPER

#define FR_LOGITS_WRAPPER(name, field, T)                                                      \
    static inline void name(const fr_simd *s, const T *zpart, ptrdiff_t zslot, int nt,         \
                            int nrows, int K, T scale, const T *b, T *G)                        \
    {                                                                                           \
        typedef void (*f_t)(const T *, ptrdiff_t, int, int, int, T, const T *, T *);           \
        ((f_t) s->field)(zpart, zslot, nt, nrows, K, scale, b, G);                              \
    }
FR_LOGITS_WRAPPER(fr_logits_f32, logits_f32, float)
FR_LOGITS_WRAPPER(fr_logits_f64, logits_f64, double)
#undef FR_LOGITS_WRAPPER

#endif /* FR_SIMD_DISPATCH_H */
