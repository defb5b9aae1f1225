/* What reading the rows of X in a shuffled order costs, with no arithmetic but a running sum:
 * a lower bound for any shuffled epoch, beside the streaming floor that compare.py --shapes
 * uses (X read once, in order, at the best bandwidth).
 *
 *     gcc -O3 -march=native -o /tmp/read_bound benchmarks/read_bound.c
 *     /tmp/read_bound N D [float64]        e.g. /tmp/read_bound 500000 54
 *
 * X (N x D, float32 or float64) is summed row by row, once in order and once in a random
 * order (Fisher-Yates from a fixed seed), prefetching every 64-byte line of the row PREFETCH
 * rows ahead as the compiled epoch does; the minimum of REPEATS passes of each is printed, in
 * ms. (Measured 2026-12-01, AMD EPYC 2 vCPU: 500000 x 54 float32 in order 6.2-6.8 ms, shuffled
 * 19.9-20.7 ms, with 8 to 64 rows of prefetch and with MADV_HUGEPAGE alike.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PREFETCH = 16, REPEATS = 15, MAX_D = 4096 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* every 64-byte line of one row, as the epoch's forward pass asks for them */
static inline void prefetch_row(const void* row, size_t bytes)
{
    for (size_t o = 0; o < bytes + 63; o += 64)
        __builtin_prefetch((const char*)row + o);
}

#define MEASURE(T)                                                                             \
    do {                                                                                       \
        T* X = aligned_alloc(64, ((size_t)n * d * sizeof(T) + 63) / 64 * 64);                  \
        static T acc[MAX_D];                                                                   \
        double best[2] = {1e9, 1e9};                                                           \
        for (size_t i = 0; i < (size_t)n * d; i++)                                             \
            X[i] = (T)((i * 2654435761u) % 1000) / 1000;                                        \
        for (int rep = 0; rep < REPEATS; rep++) {                                              \
            for (int shuffled = 0; shuffled < 2; shuffled++) {                                 \
                const long* rows = shuffled ? order : in_order;                                \
                memset(acc, 0, sizeof acc);                                                    \
                double t0 = now();                                                             \
                for (long i = 0; i < n; i++) {                                                 \
                    if (i + PREFETCH < n)                                                      \
                        prefetch_row(X + (size_t)rows[i + PREFETCH] * d, d * sizeof(T));       \
                    const T* r = X + (size_t)rows[i] * d;                                      \
                    for (int j = 0; j < d; j++)                                                \
                        acc[j] += r[j];                                                        \
                }                                                                              \
                double t = now() - t0;                                                         \
                if (t < best[shuffled])                                                        \
                    best[shuffled] = t;                                                        \
                if (acc[0] < 0) /* keep the sums alive */                                      \
                    puts("");                                                                  \
            }                                                                                  \
        }                                                                                      \
        printf("%ld x %d %s (%.0f MB): in order %.2f ms, shuffled %.2f ms\n", n, d, #T,         \
               (double)n * d * sizeof(T) / 1e6, 1e3 * best[0], 1e3 * best[1]);                 \
        free(X);                                                                               \
    } while (0)

int main(int argc, char** argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s N D [float64]\n", argv[0]);
        return 2;
    }
    long n = atol(argv[1]);
    int d = atoi(argv[2]);
    int f64 = argc > 3 && strcmp(argv[3], "float64") == 0;
    if (n < 1 || d < 1 || d > MAX_D) {
        fprintf(stderr, "N must be >= 1 and D in 1..%d\n", MAX_D);
        return 2;
    }
    long* order = malloc(n * sizeof(long));
    long* in_order = malloc(n * sizeof(long));
    for (long i = 0; i < n; i++)
        order[i] = in_order[i] = i;
    srand(1);
    for (long i = n - 1; i > 0; i--) {
        long j = ((long)rand() * RAND_MAX + rand()) % (i + 1);
        long t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    if (f64)
        MEASURE(double);
    else
        MEASURE(float);
    free(order);
    free(in_order);
    return 0;
}
