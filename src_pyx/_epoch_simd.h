/* Blocked SIMD micro-kernels of the fused epoch (_epoch.pyx), compiled once per instruction
 * set and picked at run time, so that the default build runs on any x86-64 / aarch64 CPU and
 * still uses AVX2 or AVX-512 where the CPU has them (no -march=native needed).
 *
 * x86-64 with GCC or clang: AVX-512 (F/BW/DQ/VL), AVX2+FMA and the SSE2 baseline; other CPUs
 * (aarch64: NEON) or compilers: the baseline with 16-byte vectors. The kernels are written with
 * the compilers' generic vector types (vector_size), which lower to the ISA of each variant.
 * FASTREG_SIMD=avx512|avx2|baseline caps the choice (for tests and measurements).
 *
 * Files: _epoch_simd_isa.h (one instruction set: the vector exp, the table of kernels),
 * _epoch_simd_kern.h (forward / backward micro-kernels, per weight and input type) and
 * _epoch_simd_rows.h (the per-row softmax part of a sub-block). Also here: the panel layout of
 * the working weights, 64-byte aligned allocation, and the barrier of the threaded epoch.
 */
#ifndef FR_EPOCH_SIMD_H
#define FR_EPOCH_SIMD_H

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
                         int j1, const void *W, int K, void *Z, int ldz);
typedef void (*fr_bwd_t)(void); /* cast back to its real type by fr_bwd_f32 / fr_bwd_f64 */

typedef void (*fr_rows_t)(void); /* cast back by fr_softmax_rows_f32 / _f64 */

typedef struct {
    const char *name;
    int vbytes;
    fr_fwd_t fwd[4];
    fr_bwd_t bwd[4];
    fr_rows_t rows_f32, rows_f64;
    void (*vexp)(double *x, int n);
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
#include "_epoch_simd_isa.h"

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
static inline float fr_hsum_avx_ps(__m256 v)
{
    return fr_hsum_sse_ps(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}
static inline double fr_hsum_avx_pd(__m256d v)
{
    return fr_hsum_sse_pd(_mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1)));
}
#include "_epoch_simd_isa.h"
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
#include "_epoch_simd_isa.h"
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
                          int K, void *Z, int ldz)
{
    s->fwd[kind](rows, pf, nrows, j0, j1, W, K, Z, ldz);
}

#define FR_BWD_WRAPPER(name, T)                                                                \
    static inline void name(const fr_simd *s, int kind, const void *const *rows, int nrows,    \
                            int j0, int j1, const T *G, int ldg, int K, T *W, T *gbuf,          \
                            int mode, T c_grad, T l2x2, T lr)                                   \
    {                                                                                           \
        typedef void (*f_t)(const void *const *, int, int, int, const T *, int, int, T *, T *, \
                            int, T, T, T);                                                      \
        ((f_t) s->bwd[kind])(rows, nrows, j0, j1, G, ldg, K, W, gbuf, mode, c_grad, l2x2, lr);  \
    }
FR_BWD_WRAPPER(fr_bwd_f32, float)
FR_BWD_WRAPPER(fr_bwd_f64, double)
#undef FR_BWD_WRAPPER

#define FR_ROWS_WRAPPER(name, field, T)                                                        \
    static inline double name(const fr_simd *s, const T *zpart, ptrdiff_t zslot, int nt,       \
                              int nrows, int K, T scale, const T *b, const int *y, T *G,        \
                              double *gsum, ptrdiff_t *correct, double *tmp)                    \
    {                                                                                           \
        typedef double (*f_t)(const T *, ptrdiff_t, int, int, int, T, const T *, const int *,  \
                              T *, double *, ptrdiff_t *, double *);                            \
        return ((f_t) s->field)(zpart, zslot, nt, nrows, K, scale, b, y, G, gsum, correct,     \
                                tmp);                                                           \
    }
FR_ROWS_WRAPPER(fr_softmax_rows_f32, rows_f32, float)
FR_ROWS_WRAPPER(fr_softmax_rows_f64, rows_f64, double)
#undef FR_ROWS_WRAPPER

/* The panel layout of the working weights (see _epoch_simd_kern.h): P = 64 bytes of features
 * per panel, K rows of P in each; fr_panel_size gives the elements to allocate. */
static inline size_t fr_panel_size(int K, int d, int itemsize)
{
    int P = 64 / itemsize;
    return (size_t) ((d + P - 1) / P) * (size_t) K * (size_t) P;
}

/* pack: coef (K, d) row-major into the panels, zero past d; unpack: back. One 64-byte copy per
 * (class, panel): an element-wise loop would cost more than a forward pass over a small batch. */
#define FR_PACKING(pack, unpack, T)                                                            \
    static void pack(T *Wp, const T *coef, int K, int d)                                       \
    {                                                                                           \
        const int P = 64 / (int) sizeof(T), full = d / P, tail = d % P;                         \
        int k, p;                                                                               \
        for (k = 0; k < K; k++) {                                                               \
            const T *src = coef + (ptrdiff_t) k * d;                                            \
            T *dst = Wp + (ptrdiff_t) k * P;                                                    \
            for (p = 0; p < full; p++, src += P, dst += (ptrdiff_t) K * P)                      \
                memcpy(dst, src, 64);                                                           \
            if (tail) {                                                                         \
                memcpy(dst, src, (size_t) tail * sizeof(T));                                    \
                memset(dst + tail, 0, (size_t) (P - tail) * sizeof(T));                         \
            }                                                                                   \
        }                                                                                       \
    }                                                                                           \
    static void unpack(T *coef, const T *Wp, int K, int d)                                     \
    {                                                                                           \
        const int P = 64 / (int) sizeof(T), full = d / P, tail = d % P;                         \
        int k, p;                                                                               \
        for (k = 0; k < K; k++) {                                                               \
            T *dst = coef + (ptrdiff_t) k * d;                                                  \
            const T *src = Wp + (ptrdiff_t) k * P;                                              \
            for (p = 0; p < full; p++, dst += P, src += (ptrdiff_t) K * P)                      \
                memcpy(dst, src, 64);                                                           \
            if (tail)                                                                           \
                memcpy(dst, src, (size_t) tail * sizeof(T));                                    \
        }                                                                                       \
    }
FR_PACKING(fr_pack_f32, fr_unpack_f32, float)
FR_PACKING(fr_pack_f64, fr_unpack_f64, double)
#undef FR_PACKING

/* 64-byte aligned, zeroed memory (one cache line / one AVX-512 vector); free with fr_free. */
static void *fr_alloc(size_t nbytes)
{
    unsigned char *raw = (unsigned char *) malloc(nbytes + 64 + sizeof(void *));
    unsigned char *p;
    if (!raw)
        return NULL;
    p = (unsigned char *) (((uintptr_t) (raw + sizeof(void *)) + 63) & ~(uintptr_t) 63);
    ((void **) p)[-1] = raw;
    memset(p, 0, nbytes);
    return p;
}

static void fr_free(void *p)
{
    if (p)
        free(((void **) p)[-1]);
}

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#define FR_FUTEX 1
#else
#define FR_FUTEX 0
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <sched.h>
#define FR_YIELD() sched_yield()
#else
#define FR_YIELD() ((void) 0)
#endif

/* Monotonic clock in nanoseconds (0 where there is none: then nothing is adaptive). */
#if defined(__unix__) || defined(__APPLE__)
#include <time.h>
static inline long long fr_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
#else
static inline long long fr_now_ns(void)
{
    return 0;
}
#endif

/* Values shared between the threads of an epoch outside the barrier's ordering. */
static inline void fr_store_ll(long long *p, long long v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline long long fr_load_ll(const long long *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* 1 when this module was compiled with OpenMP (else n_threads > 1 runs on one thread). */
static inline int fr_have_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* Threads in the enclosing OpenMP parallel region (1 outside one, or without OpenMP). The
 * runtime may give fewer threads than asked for: the work split must use this number. */
static inline int fr_team_size(void)
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* A sense-reversing barrier for the threads of one epoch. It spins on one cache line first (a
 * barrier per batch must cost well under a microsecond when both cores are ours), then sleeps
 * (Linux futex; elsewhere it yields): on a busy machine a spinning waiter would take the CPU
 * from the very thread it waits for. */
typedef struct {
    int count;
    int sense;
    int sleepers;
    int n;
    char pad[64 - 4 * sizeof(int)];
} fr_barrier_t;

static inline void fr_barrier_init(fr_barrier_t *b, int n)
{
    b->count = 0;
    b->sense = 0;
    b->sleepers = 0;
    b->n = n;
}

/* Called by every thread of the region: one of them sets the barrier up for the team. */
static inline void fr_barrier_setup(fr_barrier_t *b)
{
#ifdef _OPENMP
#pragma omp single
#endif
    fr_barrier_init(b, fr_team_size());
    /* the end of `omp single` is a barrier: nobody uses b before it is ready */
}

#ifndef FR_BARRIER_SPINS
#define FR_BARRIER_SPINS 4000
#endif

static inline void fr_barrier_wait(fr_barrier_t *b, int *local_sense)
{
    int s = !*local_sense, spins;
    *local_sense = s;
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_SEQ_CST) == b->n) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->sense, s, __ATOMIC_SEQ_CST);
#if FR_FUTEX
        if (__atomic_load_n(&b->sleepers, __ATOMIC_SEQ_CST) > 0)
            syscall(SYS_futex, &b->sense, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
#endif
        return;
    }
    for (spins = 0; spins < FR_BARRIER_SPINS; spins++) {
        if (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) == s)
            return;
#if FR_X86
        _mm_pause();
#endif
    }
    while (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) != s) {
#if FR_FUTEX
        __atomic_add_fetch(&b->sleepers, 1, __ATOMIC_SEQ_CST);
        /* sleeps only while sense still holds the old value (checked by the kernel) */
        syscall(SYS_futex, &b->sense, FUTEX_WAIT_PRIVATE, !s, NULL, NULL, 0);
        __atomic_sub_fetch(&b->sleepers, 1, __ATOMIC_SEQ_CST);
#else
        FR_YIELD();
#endif
    }
}

#endif /* FR_EPOCH_SIMD_H */
