/* The runtime of _linear.pyx's drivers: 64-byte aligned allocation, what OpenMP offers (was
 * the module built with it, how many threads a region has or may have), the atomic row-task
 * counter of the threaded forward pass, the barrier of the threaded epoch, and the pacing of
 * the epoch's checks for pending signals (Ctrl-C).
 *
 * Nothing here looks at the machine's load: the thread counts are chosen beforehand from the
 * shape alone (_thread_policy.pxd), so results never depend on how busy the machine is. The
 * clock paces the signal checks only, never what the epoch computes.
 */
#ifndef FR_SIMD_RUNTIME_H
#define FR_SIMD_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* 64-byte aligned, zeroed memory (one cache line / one AVX-512 vector); free with fr_free.
 * NULL when out of memory (the callers raise MemoryError). */
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

/* Threads a parallel region starts by default: OMP_NUM_THREADS, or a threadpoolctl limit
 * (1 without OpenMP). The forward pass uses as many; its results do not depend on them. */
static inline int fr_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* The next task number of the threaded forward pass (each thread claims until none is left). */
static inline ptrdiff_t fr_claim(ptrdiff_t *next)
{
    return __atomic_fetch_add(next, 1, __ATOMIC_RELAXED);
}

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
#if defined(__x86_64__) || defined(__i386__)
#define FR_SPIN_PAUSE() __builtin_ia32_pause()
#else
#define FR_SPIN_PAUSE() ((void) 0)
#endif

/* A sense-reversing barrier for the threads of one epoch. It spins on one cache line first (a
 * barrier per batch must cost well under a microsecond when both cores are ours), then sleeps
 * (Linux futex; elsewhere it yields): on a busy machine a spinning waiter would take the CPU
 * from the very thread it waits for. Waiting longer changes nothing but the time. */
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
        FR_SPIN_PAUSE();
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

/* Monotonic time in nanoseconds. */
#if defined(_WIN32)
#include <windows.h>
static inline long long fr_now_ns(void)
{
    return (long long) GetTickCount64() * 1000000;
}
#else
#include <time.h>
static inline long long fr_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
#endif

/* When thread 0 of an epoch runs Python's signal handlers (taking the GIL): every FR_POLL_NS
 * (10 ms: Ctrl-C lands well within 0.1 s), the clock read only after FR_POLL_WORK
 * multiply-adds (a clock read costs ~20 ns, a one-row MNIST batch ~1 us), so the checks cost
 * nothing measurable at any batch size. */
#define FR_POLL_WORK ((ptrdiff_t) 1 << 18)
#define FR_POLL_NS 10000000LL

typedef struct {
    ptrdiff_t work;    /* multiply-adds since the last clock read */
    long long t0;      /* the last clock read */
    long long next;    /* when the handlers are next due */
} fr_poll_t;

static inline void fr_poll_init(fr_poll_t *p)
{
    p->work = 0;
    p->t0 = fr_now_ns();
    p->next = p->t0 + FR_POLL_NS;  /* the caller has just come from Python */
}

/* 1 when the handlers are due, after `work` more multiply-adds (then call fr_poll_done). */
static inline int fr_poll_due(fr_poll_t *p, ptrdiff_t work)
{
    p->work += work;
    if (p->work < FR_POLL_WORK)
        return 0;
    p->work = 0;
    p->t0 = fr_now_ns();
    return p->t0 >= p->next;
}

/* After the handlers ran: due again in FR_POLL_NS; later if that took long (another Python
 * thread held the GIL, up to its 5 ms switch interval): 8 times as long, at most 5 FR_POLL_NS,
 * so a busy Python thread costs the epoch at most about a ninth of its time, and Ctrl-C still
 * lands within 0.1 s. */
static inline void fr_poll_done(fr_poll_t *p)
{
    long long t1 = fr_now_ns(), wait = 8 * (t1 - p->t0);
    if (wait < FR_POLL_NS)
        wait = FR_POLL_NS;
    if (wait > 5 * FR_POLL_NS)
        wait = 5 * FR_POLL_NS;
    p->next = t1 + wait;
}

/* The sub-block every thread of an epoch stops at: written once by thread 0 before the barrier
 * that joins that sub-block's logits, read by every thread after it. */
static inline void fr_store_ssize(ptrdiff_t *p, ptrdiff_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline ptrdiff_t fr_load_ssize(const ptrdiff_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

#endif /* FR_SIMD_RUNTIME_H */
