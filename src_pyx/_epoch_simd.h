/* Blocked SIMD micro-kernels of the fused epoch (_epoch.pyx), compiled once per instruction
 * set and picked at run time, so that the default build runs on any x86-64 / aarch64 CPU and
 * still uses AVX2 or AVX-512 where the CPU has them (no -march=native needed).
 *
 * x86-64 with GCC or clang: AVX-512 (F/BW/DQ/VL), AVX2+FMA and the SSE2 baseline; other CPUs
 * (aarch64: NEON) or compilers: the baseline with 16-byte vectors. The kernels are written with
 * the compilers' generic vector types (vector_size), which lower to the ISA of each variant.
 * FASTREG_SIMD=avx512|avx2|baseline caps the choice (for tests and measurements).
 *
 * Also here: 64-byte aligned allocation, the OpenMP barrier of the threaded epoch (a no-op
 * without OpenMP), and the software prefetch locality.
 */
#ifndef FR_EPOCH_SIMD_H
#define FR_EPOCH_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef FR_PF_LOCALITY
#define FR_PF_LOCALITY 2
#endif
#ifndef FR_PF_STRIDE
#define FR_PF_STRIDE 64
#endif
#ifndef FR_PF_SPAN
#define FR_PF_SPAN (1 << 30)
#endif

enum { FR_STORE = 0, FR_ADD = 1, FR_UPDATE = 2, FR_ADD_UPDATE = 3 };

/* index into the tables: 0 float X / float W, 1 uint8 X / float W, 2 double, 3 uint8 / double */
typedef void (*fr_fwd_t)(const void *const *rows, const void *const *pf, int nrows, int j0,
                         int j1, const void *W, ptrdiff_t ldw, int K, void *Z, int ldz);
typedef void (*fr_bwd_t)(void); /* cast back to its real type by fr_bwd_f32 / fr_bwd_f64 */

typedef struct {
    const char *name;
    int vbytes;
    fr_fwd_t fwd[4];
    fr_bwd_t bwd[4];
} fr_simd;

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
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
#define FR_U8_F64(p) _mm_cvtepi32_pd(_mm_unpacklo_epi16(_mm_unpacklo_epi8( \
                        _mm_cvtsi32_si128(fr_load_i16(p)), _mm_setzero_si128()), _mm_setzero_si128()))
#endif
#include "_epoch_simd_isa.h"
#undef FR_ISA
#undef FR_ISA_NAME
#undef FR_VBYTES
#undef FR_NREG
#undef FR_U8_F32
#undef FR_U8_F64

#if FR_X86 && !defined(FR_SKIP_AVX2)
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
#include "_epoch_simd_isa.h"
#undef FR_U8_F32
#undef FR_U8_F64
#undef FR_ISA
#undef FR_ISA_NAME
#undef FR_VBYTES
#undef FR_NREG
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
#include "_epoch_simd_isa.h"
#undef FR_U8_F32
#undef FR_U8_F64
#undef FR_ISA
#undef FR_ISA_NAME
#undef FR_VBYTES
#undef FR_NREG
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
#ifndef FR_SKIP_AVX2
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        out[n++] = &fr_table_avx2_all;
#endif
#endif
    out[n++] = &fr_table_base_all;
    return n;
}

static inline void fr_fwd(const fr_simd *s, int kind, const void *const *rows,
                          const void *const *pf, int nrows, int j0, int j1, const void *W,
                          ptrdiff_t ldw, int K, void *Z, int ldz)
{
    s->fwd[kind](rows, pf, nrows, j0, j1, W, ldw, K, Z, ldz);
}

static inline void fr_bwd_f32(const fr_simd *s, int kind, const void *const *rows, int nrows,
                              int j0, int j1, int jend, const float *G, int ldg, int K,
                              float *W, float *gbuf, ptrdiff_t ldw, int mode, float c_grad,
                              float l2x2, float lr)
{
    typedef void (*f_t)(const void *const *, int, int, int, int, const float *, int, int,
                        float *, float *, ptrdiff_t, int, float, float, float);
    ((f_t) s->bwd[kind])(rows, nrows, j0, j1, jend, G, ldg, K, W, gbuf, ldw, mode, c_grad,
                         l2x2, lr);
}

static inline void fr_bwd_f64(const fr_simd *s, int kind, const void *const *rows, int nrows,
                              int j0, int j1, int jend, const double *G, int ldg, int K,
                              double *W, double *gbuf, ptrdiff_t ldw, int mode, double c_grad,
                              double l2x2, double lr)
{
    typedef void (*f_t)(const void *const *, int, int, int, int, const double *, int, int,
                        double *, double *, ptrdiff_t, int, double, double, double);
    ((f_t) s->bwd[kind])(rows, nrows, j0, j1, jend, G, ldg, K, W, gbuf, ldw, mode, c_grad,
                         l2x2, lr);
}

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
#if defined(__unix__) || defined(__APPLE__)
#include <sched.h>
#define FR_YIELD() sched_yield()
#else
#define FR_YIELD() ((void) 0)
#endif

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

/* A sense-reversing barrier for the threads of one epoch: spin on one cache line (a barrier
 * per batch must cost well under a microsecond), and yield the CPU after a while, so that an
 * oversubscribed machine still makes progress. */
typedef struct {
    int count;
    int sense;
    int n;
    char pad[64 - 3 * sizeof(int)];
} fr_barrier_t;

static inline void fr_barrier_init(fr_barrier_t *b, int n)
{
    b->count = 0;
    b->sense = 0;
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
#define FR_BARRIER_SPINS 20000
#endif

static inline void fr_barrier_wait(fr_barrier_t *b, int *local_sense)
{
#ifdef FR_OMP_BARRIER
    (void) b;
    (void) local_sense;
#ifdef _OPENMP
#pragma omp barrier
#endif
#else
    int s = !*local_sense, spins = 0;
    *local_sense = s;
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == b->n) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->sense, s, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) != s) {
        if (++spins < FR_BARRIER_SPINS) {
#if FR_X86
            _mm_pause();
#endif
        } else {
            FR_YIELD();
        }
    }
#endif
}

#endif /* FR_EPOCH_SIMD_H */
