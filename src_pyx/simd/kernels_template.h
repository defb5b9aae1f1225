/* One instantiation of the blocked epoch micro-kernels, included by isa_template.h with
 *   FR_T      the weight type (float or double)
 *   FR_XT     the type of X's elements (FR_T, or uint8_t for pixels)
 *   FR_FN(x)  the name of function x for this ISA / type pair
 *   FR_VBYTES the vector width in bytes of the ISA, FR_NREG its number of vector registers.
 *
 * Layout: W is the working copy of the weights in panels of P = 64 bytes of features: the
 * weight of class k and feature j sits at W[(j / P) K P + k P + j % P], so the K vectors a
 * kernel needs for one chunk of features are one pointer plus constant offsets, and a panel
 * (K cache lines) is read front to back. Features past d are zero, and stay zero: the last
 * partial chunk of d % VL features is read masked (loadx_tail) and, on AVX2 / AVX-512 with
 * float or double X, updated as a whole vector with a zero step past d (bwd_kc's tail); the
 * baseline and uint8 X update it one element at a time (bwd_tail). gbuf has the same layout.
 * X rows are reached through pointer arrays (rows[r] = &X[order[i], 0]), never copied. Z and
 * G are (nrows, ldz) row-major. K is the panels' class count (their stride); the kernels
 * compute kn <= K classes starting at the panel row W (and gbuf) points to, and at column 0
 * of Z and G as given: kn = K for all of them, fewer for a thread's share of the classes.
 *
 * fwd  Z[r, k] = sum_{j0 <= j < j1} x_r[j] W[k, j]   (a partial logit over one feature range)
 * bwd  for j0 <= j < j1:  A[k, j] = sum_r G[r, k] x_r[j], then by mode
 *        FR_STORE  gbuf = A        FR_ADD  gbuf += A
 *        FR_UPDATE W = W - lr (c A + l2x2 W)          (c = input_scale / batch rows)
 *        FR_ADD_UPDATE  the same with A + gbuf
 *      with a per-feature step scale p (pscale, NULL: none) the update is
 *        W[k, j] = W[k, j] - (lr p_j) (c A + l2x2 W): lr p_j is lr exactly when p_j = 1, so
 *      all-ones p gives the bits of no p: one update expression serves both.
 *      FR_UPDATE_ROUNDING: with FMA contraction (GCC's default) c A + l2x2 W may become
 *      fma(A, c, l2x2 W) or fma(l2x2, W, c A), and GCC picks by where the products land after
 *      its other optimisations; l2x2 W is therefore kept in a register on its own
 *      (FR_IN_REGISTER), which pins the first, the rounding of the epoch before step scales.
 * Both keep R rows x KB classes (fwd) or KB classes x C vector chunks (bwd) of accumulators in
 * registers, so each W (or gradient) chunk loaded from L1 serves several rows.
 */
/* The forward pass's feature tiles (see fwd), shared by every instantiation; _linear.pyx's
 * _forward_tuning reads and sets them (tests force tiles on small shapes). Measured on a
 * 2-core AVX2 EPYC (32 KiB L1, 512 KiB L2), one epoch, batch 32: wide (20000 features, 10
 * classes) 1.2x faster, tiles of 8-24 KiB alike; cifar (3072) within noise; with tiles of
 * K T sizeof <= 16 KiB on the shapes left untiled here, 100 or 1000 classes over 784
 * features ran 1.3-2.2x slower (T of 16-48 features: a lane sum per few chunks). */
#ifndef FR_FWD_TILES
#define FR_FWD_TILES
static int fr_fwd_tile_bytes = 16 * 1024;
static int fr_fwd_tile_over = 48 * 1024;
static int fr_fwd_tile_min = 256;
#endif

#define FR_VL ((int) (FR_VBYTES / sizeof(FR_T)))
#define FR_P ((int) (64 / sizeof(FR_T)))
/* the first element of feature j's panel row for class 0 */
#define FR_WAT(W, K, j) \
    ((W) + (ptrdiff_t) ((unsigned) (j) / FR_P) * (K) * FR_P + (unsigned) (j) % FR_P)
#define FR_AI static inline __attribute__((always_inline))
#define FR_KB_MAX 10
#define FR_UNROLL _Pragma("GCC unroll 16")

typedef FR_T FR_FN(v) __attribute__((vector_size(FR_VBYTES)));
typedef FR_T FR_FN(vu) __attribute__((vector_size(FR_VBYTES), aligned(sizeof(FR_T))));
typedef uint8_t FR_FN(vb) __attribute__((vector_size(FR_VBYTES / sizeof(FR_T)), aligned(1)));
#if FR_T_IS_DOUBLE
typedef int32_t FR_FN(vi) __attribute__((vector_size(FR_VBYTES / 2)));
#else
typedef int32_t FR_FN(vi) __attribute__((vector_size(FR_VBYTES)));
#endif

#define V FR_FN(v)

/* VL consecutive x elements as a vector of FR_T (uint8 -> int32 -> FR_T: exact). The ISA
 * file supplies FR_U8_F32 / FR_U8_F64 where the generic conversion compiles badly (x86). */
FR_AI V FR_FN(loadx)(const FR_XT *p)
{
#if FR_X_IS_U8 && FR_T_IS_DOUBLE && defined(FR_U8_F64)
    return (V) FR_U8_F64(p);
#elif FR_X_IS_U8 && !FR_T_IS_DOUBLE && defined(FR_U8_F32)
    return (V) FR_U8_F32(p);
#elif FR_X_IS_U8
    FR_FN(vb) b = *(const FR_FN(vb) *) p;
    return __builtin_convertvector(__builtin_convertvector(b, FR_FN(vi)), V);
#else
    return *(const FR_FN(vu) *) p;
#endif
}

/* The last n < VL elements of a row, zero-padded, never reading past the end of X: one masked
 * load where the ISA file has one for this type (FR_MASKLOAD_F32 / F64: AVX2, AVX-512; it
 * also serves the step scale, of the same type), else built element by element (the
 * baseline, uint8 pixels). FR_VTAIL says which: the backward pass runs its last partial
 * chunk through the vector kernel only with the masked load. */
#if !FR_X_IS_U8 && FR_T_IS_DOUBLE && defined(FR_MASKLOAD_F64)
#define FR_VTAIL 1
FR_AI V FR_FN(loadx_tail)(const FR_XT *p, int n)
{
    return (V) FR_MASKLOAD_F64(p, n);
}
#elif !FR_X_IS_U8 && !FR_T_IS_DOUBLE && defined(FR_MASKLOAD_F32)
#define FR_VTAIL 1
FR_AI V FR_FN(loadx_tail)(const FR_XT *p, int n)
{
    return (V) FR_MASKLOAD_F32(p, n);
}
#else
#define FR_VTAIL 0
static V FR_FN(loadx_tail)(const FR_XT *p, int n)
{
    FR_T tmp[FR_VL] __attribute__((aligned(FR_VBYTES)));
    int i;
    for (i = 0; i < FR_VL; i++)
        tmp[i] = i < n ? (FR_T) p[i] : (FR_T) 0;
    return *(V *) tmp;
}
#endif

/* Sum of the lanes of v: the ISA file's shuffle sequence (FR_HSUM_F32/F64) where it has one,
 * else a loop over the lanes (the baseline's 2 or 4 lanes). */
FR_AI FR_T FR_FN(hsum)(V v)
{
#if FR_T_IS_DOUBLE && defined(FR_HSUM_F64)
    return FR_HSUM_F64(v);
#elif !FR_T_IS_DOUBLE && defined(FR_HSUM_F32)
    return FR_HSUM_F32(v);
#else
    FR_T s = v[0];
    int i;
    for (i = 1; i < FR_VL; i++)
        s += v[i];
    return s;
#endif
}

#define FR_PF_LINE(p) __builtin_prefetch((const void *) (p), 0, FR_PF_LOCALITY)

/* One vector chunk of features at j for R rows x KB classes, the W vectors of the chunk at
 * wv + k P. */
FR_AI void FR_FN(fwd_step)(const FR_XT *const *rows, int j, const FR_T *wv,
                           V acc[8][FR_KB_MAX], const int R, const int KB)
{
    V x[8];
    int r, k;
    FR_UNROLL
    for (r = 0; r < R; r++)
        x[r] = FR_FN(loadx)(rows[r] + j);
    FR_UNROLL
    for (k = 0; k < KB; k++) {
        V w = *(const V *) (wv + k * FR_P);
        FR_IN_REGISTER(w);
        FR_UNROLL
        for (r = 0; r < R; r++)
            acc[r][k] += x[r] * w;
    }
}

/* The prefetch of the rows of the next sub-block, the 64-byte line of x at feature j. */
FR_AI void FR_FN(fwd_pf)(const FR_XT *const *pf, int j, const int R)
{
    int r;
    FR_UNROLL
    for (r = 0; r < R; r++)
        if (pf[r])
            FR_PF_LINE(pf[r] + j);
}

/* R rows x KB classes of the forward pass over [j0, j1): stored into Z, or added to it (add,
 * the feature tiles after the first one). Whole panels run as one step per vector chunk off a
 * panel pointer (no index arithmetic per chunk, the prefetch test once per panel); the
 * chunks before the first panel boundary and after the last one, one at a time. Every
 * accumulator sums its chunks in feature order either way. */
FR_AI void FR_FN(fwd_rk)(const FR_XT *const *rows, const FR_XT *const *pf, int j0, int j1,
                         const FR_T *W, int K, FR_T *Z, int ldz, int add, const int R,
                         const int KB)
{
    V acc[8][FR_KB_MAX];
    int r, k, j, c;
    FR_UNROLL
    for (r = 0; r < R; r++)
        FR_UNROLL
        for (k = 0; k < KB; k++)
            acc[r][k] = (V) {0};
    /* a line of x is prefetched at the chunk that starts it (j0 is a multiple of VL) */
#define FR_PF_DUE(j, n) (pf && ((unsigned) (j) * sizeof(FR_XT)) % 64u < (n) * sizeof(FR_XT))
    for (j = j0; (unsigned) j % FR_P != 0 && j + FR_VL <= j1; j += FR_VL) {
        if (FR_PF_DUE(j, FR_VL))
            FR_FN(fwd_pf)(pf, j, R);
        FR_FN(fwd_step)(rows, j, FR_WAT(W, K, j), acc, R, KB);
    }
    if (j + FR_P <= j1) {
        const FR_T *wp = FR_WAT(W, K, j);
        for (; j + FR_P <= j1; j += FR_P, wp += (ptrdiff_t) K * FR_P) {
            if (FR_PF_DUE(j, FR_P))
                FR_FN(fwd_pf)(pf, j, R);
            FR_UNROLL
            for (c = 0; c < FR_P / FR_VL; c++)
                FR_FN(fwd_step)(rows, j + c * FR_VL, wp + c * FR_VL, acc, R, KB);
        }
    }
    for (; j + FR_VL <= j1; j += FR_VL) {
        if (FR_PF_DUE(j, FR_VL))
            FR_FN(fwd_pf)(pf, j, R);
        FR_FN(fwd_step)(rows, j, FR_WAT(W, K, j), acc, R, KB);
    }
#undef FR_PF_DUE
    if (j < j1) {
        FR_UNROLL
        for (r = 0; r < R; r++) {
            V x = FR_FN(loadx_tail)(rows[r] + j, j1 - j);
            FR_UNROLL
            for (k = 0; k < KB; k++)
                acc[r][k] += x * *(const V *) (FR_WAT(W, K, j) + k * FR_P);
        }
    }
    if (add) {
        FR_UNROLL
        for (r = 0; r < R; r++)
            FR_UNROLL
            for (k = 0; k < KB; k++)
                Z[r * ldz + k] += FR_FN(hsum)(acc[r][k]);
    } else {
        FR_UNROLL
        for (r = 0; r < R; r++)
            FR_UNROLL
            for (k = 0; k < KB; k++)
                Z[r * ldz + k] = FR_FN(hsum)(acc[r][k]);
    }
}

/* All rows for a class block of KB classes: R rows at a time, then one at a time. */
FR_AI void FR_FN(fwd_kb)(const FR_XT *const *rows, const FR_XT *const *pf, int nrows, int j0,
                         int j1, const FR_T *W, int K, FR_T *Z, int ldz, int add, const int KB)
{
    /* accumulators + R x-vectors + one W vector must fit in the register file */
    const int R = FR_NREG >= 32 ? (KB <= 1 ? 8 : KB <= 2 ? 6 : KB <= 5 ? 4 : 2)
                                : (KB <= 2 ? 4 : KB <= 5 ? 2 : 1);
    int r = 0;
    for (; r + R <= nrows; r += R)
        FR_FN(fwd_rk)(rows + r, pf ? pf + r : 0, j0, j1, W, K, Z + r * ldz, ldz, add, R, KB);
    for (; r < nrows; r++)
        FR_FN(fwd_rk)(rows + r, pf ? pf + r : 0, j0, j1, W, K, Z + r * ldz, ldz, add, 1, KB);
}

static inline int FR_FN(class_block)(int left);

/* The forward pass streams all of W once per R rows: when W does not fit in L1 (narrow), or
 * the register file is small, blocks of at most 5 classes let R = 4 (2) rows share each W
 * vector, halving the W traffic at the price of reading each row chunk twice. */
static inline int FR_FN(fwd_class_block)(int left, int narrow)
{
    if (narrow || FR_NREG < 32)
        return left >= 5 ? 5 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
    return FR_FN(class_block)(left);
}

/* Feature tiles. Every R-row group of a class block streams that block's W over the features
 * it is given: when the widest block's W over [j0, j1) is above fr_fwd_tile_over bytes (beyond
 * L1), W comes from L2 or L3 once per row group. Then the range runs in tiles of T features
 * (a multiple of the panel P), T about fr_fwd_tile_bytes / (K sizeof(T)) but at least
 * fr_fwd_tile_min (each tile costs a lane sum per row and class), the range cut in equal
 * tiles: within a tile, every class block and row group, so the tile's W comes from L2/L3
 * once and then from L1, as do the tile's rows for the class blocks after the first. The
 * first tile stores into Z, the others add. Tiles depend only on [j0, j1), K and the type, so
 * each row's logits are summed in the same order however the rows are grouped. Many classes
 * over few features (each block's W already in L1) are not tiled. fr_fwd_tile_bytes 0: never.
 * The rows of the next sub-block (pf) are prefetched by the first class block of each tile:
 * each line once. */
static void FR_FN(fwd)(const FR_XT *const *rows, const FR_XT *const *pf, int nrows, int j0,
                       int j1, const FR_T *W, int K, int kn, FR_T *Z, int ldz)
{
    /* the block widths and the tiles follow K, all the classes, not kn: the classes a caller
     * takes (a thread's share under the class split) then never change a logit's order of
     * summation, so the class split's bits do not depend on the number of threads */
    size_t span = (size_t) (j1 - j0) * sizeof(FR_T); /* bytes of one class's W */
    int k0, kb, t, te, T = j1 - j0, narrow = (size_t) K * span > 40 * 1024;
    size_t kbw = (size_t) FR_FN(fwd_class_block)(K, narrow); /* the widest block */
    if (fr_fwd_tile_bytes > 0 && kbw * span > (size_t) fr_fwd_tile_over) {
        size_t per = (size_t) fr_fwd_tile_bytes / ((size_t) K * sizeof(FR_T)) / FR_P * FR_P;
        size_t least = ((size_t) fr_fwd_tile_min + FR_P - 1) / FR_P * FR_P, n;
        if (per < least)
            per = least;
        if (per < (size_t) FR_P)
            per = FR_P;
        /* n tiles of equal length (panels), none much shorter than the others */
        n = ((size_t) T + per - 1) / per;
        per = (((size_t) T + n - 1) / n + FR_P - 1) / FR_P * FR_P;
        if (per < (size_t) T)
            T = (int) per;
    }
    t = j0;
    do { /* at least once: an empty range stores zeros */
        te = j1 - t > T ? t + T : j1;
        for (k0 = 0; k0 < kn; k0 += kb) {
            const FR_XT *const *p = k0 == 0 ? pf : 0;
            kb = FR_FN(fwd_class_block)(kn - k0, narrow);
#define FR_FWD_CASE(n) \
            case n: FR_FN(fwd_kb)(rows, p, nrows, t, te, W + k0 * FR_P, K, Z + k0, ldz, t > j0, \
                                  n); break;
            switch (kb) {
            FR_FWD_CASE(1) FR_FWD_CASE(2) FR_FWD_CASE(4) FR_FWD_CASE(5) FR_FWD_CASE(6)
            FR_FWD_CASE(8)
            default: FR_FN(fwd_kb)(rows, p, nrows, t, te, W + k0 * FR_P, K, Z + k0, ldz, t > j0,
                                   10); break;
            }
#undef FR_FWD_CASE
        }
        t = te;
    } while (t < j1);
}

/* KB classes x C full chunks of VL features starting at j: gradient over all rows, then the
 * mode (STORE / ADD into gbuf, or the update of W). tail > 0 (with C = 1, FR_VTAIL only): the
 * chunk holds the last tail < VL features; x and the step scale are loaded masked, so the
 * lanes past d get a zero gradient, a zero step and keep W's (and gbuf's) zeros there. */
FR_AI void FR_FN(bwd_kc)(const FR_XT *const *rows, int nrows, int j, const FR_T *G, int ldg,
                         FR_T *W, FR_T *gbuf, int K, int mode, FR_T c_grad, FR_T l2x2,
                         FR_T lr, const FR_T *pscale, const int KB, const int C, int tail)
{
    V acc[FR_KB_MAX][8];
    int r, k, c;
    (void) tail; /* unused without FR_VTAIL */
    FR_UNROLL
    for (k = 0; k < KB; k++)
        FR_UNROLL
        for (c = 0; c < C; c++)
            acc[k][c] = (V) {0};
    for (r = 0; r < nrows; r++, G += ldg) {
        V x[8];
        const FR_XT *row = rows[r] + j;
#if FR_VTAIL
        if (tail) {
            x[0] = FR_FN(loadx_tail)(row, tail);
        } else
#endif
        {
            FR_UNROLL
            for (c = 0; c < C; c++)
                x[c] = FR_FN(loadx)(row + c * FR_VL);
        }
        FR_UNROLL
        for (k = 0; k < KB; k++) {
            /* x - 0 is x exactly (even -0): a plain broadcast, where 0 + x would be an add */
            V g = G[k] - (V) {0};
            FR_IN_REGISTER(g);
            FR_UNROLL
            for (c = 0; c < C; c++)
                acc[k][c] += g * x[c];
        }
    }
#define FR_EACH for (k = 0; k < KB; k++) for (c = 0; c < C; c++)
#define FR_AT(p) (*(V *) (FR_WAT(p, K, j + c * FR_VL) + k * FR_P))
    if (mode == FR_STORE) {
        FR_UNROLL FR_EACH FR_AT(gbuf) = acc[k][c];
    } else if (mode == FR_ADD) {
        FR_UNROLL FR_EACH FR_AT(gbuf) += acc[k][c];
    } else {
        if (mode == FR_ADD_UPDATE) {
            FR_UNROLL FR_EACH acc[k][c] += FR_AT(gbuf);
        }
        V lrp[8];
        FR_UNROLL
        for (c = 0; c < C; c++)
            lrp[c] = lr - (V) {0};
        if (pscale) {
#if FR_VTAIL
            if (tail) /* never past pscale[d - 1]: garbage times a zero can be NaN */
                lrp[0] = lr * FR_FN(loadx_tail)(pscale + j, tail);
            else
#endif
            {
                FR_UNROLL
                for (c = 0; c < C; c++)
                    lrp[c] = lr * *(const FR_FN(vu) *) (pscale + j + c * FR_VL);
            }
        }
        FR_UNROLL FR_EACH {
            V wl = l2x2 * FR_AT(W);
            FR_IN_REGISTER(wl); /* see FR_UPDATE_ROUNDING */
            FR_AT(W) = FR_AT(W) - lrp[c] * (acc[k][c] * c_grad + wl);
        }
    }
#undef FR_EACH
#undef FR_AT
}

#if !FR_VTAIL
/* The last partial chunk [j, jend) of the features, one element at a time (d % VL of them):
 * the baseline and uint8 pixels, which have no masked load. */
static void FR_FN(bwd_tail)(const FR_XT *const *rows, int nrows, int j, int jend, const FR_T *G,
                            int ldg, int K, int kn, FR_T *W, FR_T *gbuf, int mode, FR_T c_grad,
                            FR_T l2x2, FR_T lr, const FR_T *pscale)
{
    int r, k, jj;
    for (k = 0; k < kn; k++) {
        for (jj = j; jj < jend; jj++) {
            ptrdiff_t at = FR_WAT((ptrdiff_t) 0, K, jj) + k * FR_P;
            FR_T a = 0, *pw = W + at, *pg = gbuf ? gbuf + at : 0, wl;
            for (r = 0; r < nrows; r++)
                a += G[r * ldg + k] * (FR_T) rows[r][jj];
            if (mode == FR_STORE)
                *pg = a;
            else if (mode == FR_ADD)
                *pg += a;
            else {
                if (mode == FR_ADD_UPDATE)
                    a += *pg;
                wl = l2x2 * *pw;
                FR_IN_REGISTER(wl); /* see FR_UPDATE_ROUNDING */
                *pw = *pw - (pscale ? lr * pscale[jj] : lr) * (a * c_grad + wl);
            }
        }
    }
}
#endif

/* The full chunks of [j0, j1), then (tail > 0) the partial chunk of tail features at j1. */
FR_AI void FR_FN(bwd_kb)(const FR_XT *const *rows, int nrows, int j0, int j1, const FR_T *G,
                         int ldg, FR_T *W, FR_T *gbuf, int K, int mode, FR_T c_grad,
                         FR_T l2x2, FR_T lr, const FR_T *pscale, const int KB, int tail)
{
    /* accumulators + C x-vectors + the broadcast G value must fit in the register file */
    const int C = FR_NREG >= 32 ? (KB <= 2 ? 8 : KB <= 3 ? 6 : KB <= 6 ? 4 : 2)
                                : (KB <= 2 ? 4 : KB <= 4 ? 2 : 1);
    int j = j0;
    for (; j + C * FR_VL <= j1; j += C * FR_VL)
        FR_FN(bwd_kc)(rows, nrows, j, G, ldg, W, gbuf, K, mode, c_grad, l2x2, lr, pscale, KB,
                      C, 0);
    for (; j + FR_VL <= j1; j += FR_VL)
        FR_FN(bwd_kc)(rows, nrows, j, G, ldg, W, gbuf, K, mode, c_grad, l2x2, lr, pscale, KB,
                      1, 0);
#if FR_VTAIL
    if (tail)
        FR_FN(bwd_kc)(rows, nrows, j, G, ldg, W, gbuf, K, mode, c_grad, l2x2, lr, pscale, KB,
                      1, tail);
#else
    (void) tail;
#endif
}

/* The class blocks of the kernels: any K as a sum of the widths compiled below. */
static inline int FR_FN(class_block)(int left)
{
    return left >= 10 ? 10 : left >= 8 ? 8 : left >= 6 ? 6 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
}

/* Gradient over the features [j0, j1) (j1 = d for the last thread), then mode. */
static void FR_FN(bwd)(const FR_XT *const *rows, int nrows, int j0, int j1, const FR_T *G,
                       int ldg, int K, int kn, FR_T *W, FR_T *gbuf, int mode, FR_T c_grad,
                       FR_T l2x2, FR_T lr, const FR_T *pscale)
{
    int k0, kb, jfull = j0 + (j1 - j0) / FR_VL * FR_VL, tail = FR_VTAIL ? j1 - jfull : 0;
    for (k0 = 0; k0 < kn; k0 += kb) {
        const FR_T *g = G + k0;
        FR_T *w = W + k0 * FR_P, *gb = gbuf ? gbuf + k0 * FR_P : 0;
        kb = FR_FN(class_block)(kn - k0);
#define FR_BWD_CASE(n) \
        case n: FR_FN(bwd_kb)(rows, nrows, j0, jfull, g, ldg, w, gb, K, mode, c_grad, l2x2, \
                              lr, pscale, n, tail); break;
        switch (kb) {
        FR_BWD_CASE(1) FR_BWD_CASE(2) FR_BWD_CASE(4) FR_BWD_CASE(6) FR_BWD_CASE(8)
        default: FR_FN(bwd_kb)(rows, nrows, j0, jfull, g, ldg, w, gb, K, mode, c_grad, l2x2,
                               lr, pscale, 10, tail); break;
        }
#undef FR_BWD_CASE
    }
#if !FR_VTAIL
    if (jfull < j1)
        FR_FN(bwd_tail)(rows, nrows, jfull, j1, G, ldg, K, kn, W, gbuf, mode, c_grad, l2x2, lr,
                        pscale);
#endif
}

#undef V
#undef FR_VL
#undef FR_P
#undef FR_WAT
#undef FR_AI
#undef FR_PF_LINE
#undef FR_KB_MAX
#undef FR_UNROLL
#undef FR_VTAIL
