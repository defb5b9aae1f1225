/* One instruction set's instantiation, included by dispatch.h once per ISA with FR_ISA,
 * FR_ISA_NAME, FR_VBYTES, FR_NREG (and the ISA's uint8 conversions, lane sums and masked
 * loads) defined: the vector exp and log1p, the per-row softmax and sigmoid of
 * rows_template.h and the micro-kernels of kernels_template.h for the four (weight, X) type
 * pairs, and the table fr_table_<ISA>_all that hands them to _linear.pyx's epoch and forward
 * drivers. */
#define FR_PASTE_(a, b, c) fr_##a##_##b##_##c
#define FR_PASTE(a, b, c) FR_PASTE_(a, b, c)

/* e^x in place for x[0..n-1], doubles, vectorised: x = n ln2 + r (Cody-Waite, |r| <= ln2/2),
 * e^r by its Taylor polynomial of degree 13 (truncation below 5e-18 relative), then times 2^n
 * in two steps so that results down to the subnormals come out right. NaN stays NaN, -inf and
 * anything below -746 give 0. Error about 1 ulp. x must have room for a multiple of VL. */
typedef double FR_PASTE(vd, FR_ISA, t) __attribute__((vector_size(FR_VBYTES)));
typedef long long FR_PASTE(vq, FR_ISA, t) __attribute__((vector_size(FR_VBYTES)));
static void FR_PASTE(vexp, FR_ISA, f64)(double *x, int n)
{
    typedef FR_PASTE(vd, FR_ISA, t) vd;
    typedef FR_PASTE(vq, FR_ISA, t) vq;
    const int L = FR_VBYTES / 8;
    const double log2e = 1.4426950408889634, ln2hi = 6.93147180369123816490e-01,
                 ln2lo = 1.90821492927058770002e-10, shifter = 6755399441055744.0; /* 1.5 2^52 */
    int i;
    for (i = 0; i < n; i += L) {
        vd v, t, r, p, s1, s2;
        vq q, n1, n2;
        memcpy(&v, x + i, sizeof v);
        q = v < -746.0; /* all ones where below; NaN compares false and is kept */
        v = (vd) (((vq) v & ~q) | ((vq) ((vd) {0} - 746.0) & q));
        t = v * log2e + shifter;
        q = (vq) t - (vq) ((vd) {0} + shifter); /* round(v log2e) as an integer */
        t = t - shifter;
        r = v - t * ln2hi; /* exact: ln2hi has 11 trailing zero bits, |t| < 1100 */
        r = r - t * ln2lo;
        p = 1.0 / 6227020800.0 + r * 0.0;
        p = 1.0 / 479001600.0 + r * p;
        p = 1.0 / 39916800.0 + r * p;
        p = 1.0 / 3628800.0 + r * p;
        p = 1.0 / 362880.0 + r * p;
        p = 1.0 / 40320.0 + r * p;
        p = 1.0 / 5040.0 + r * p;
        p = 1.0 / 720.0 + r * p;
        p = 1.0 / 120.0 + r * p;
        p = 1.0 / 24.0 + r * p;
        p = 1.0 / 6.0 + r * p;
        p = 0.5 + r * p;
        p = 1.0 + r * p;
        p = 1.0 + r * p;
        n1 = q >> 1;
        n2 = q - n1;
        s1 = (vd) ((n1 + 1023) << 52);
        s2 = (vd) ((n2 + 1023) << 52);
        p = (p * s1) * s2;
        memcpy(x + i, &p, sizeof p);
    }
}
#define FR_VEXP(x, n) FR_PASTE(vexp, FR_ISA, f64)(x, n)

/* log(1 + x) in place for x[0..n-1], doubles, vectorised (the softmax and sigmoid losses take
 * one per row: libm's scalar log1p was a tenth of a small-d epoch). x > -1: u = 1 + x rounded,
 * c = (x - (u - 1)) / u its rounding error as log(1 + x) - log(u) to first order (u - 1 is
 * exact); u = 2^k m with m in [sqrt(1/2), sqrt(2)) by the bits (musl's offset trick), f = m - 1
 * (exact), s = f / (2 + f), and fdlibm's arrangement
 *   log m = f - (f^2/2 - s (f^2/2 + R)),  R = 2 s^2/3 + 2 s^4/5 + ... + 2 s^22/23
 * (|s| <= 0.1716: the series' truncation is below 1e-20 relative), so the leading term f is
 * exact and only small terms round; k ln2 in two parts as in vexp. Error below 1 ulp.
 * +inf gives +inf, NaN stays NaN, -1 gives -inf, x < -1 NaN. x must have room for a multiple
 * of VL. */
typedef unsigned long long FR_PASTE(vu, FR_ISA, t) __attribute__((vector_size(FR_VBYTES)));
static void FR_PASTE(vlog1p, FR_ISA, f64)(double *x, int n)
{
    typedef FR_PASTE(vd, FR_ISA, t) vd;
    typedef FR_PASTE(vq, FR_ISA, t) vq;
    typedef FR_PASTE(vu, FR_ISA, t) vu;
    const int L = FR_VBYTES / 8;
    const double ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10,
                 two52 = 4503599627370496.0;
    /* bits of sqrt(1/2): adding one minus it carries into the exponent where m >= sqrt(2) */
    const unsigned long long rt = 0x3fe6a09e667f3bcdULL, mant = 0x000fffffffffffffULL;
    int i;
    for (i = 0; i < n; i += L) {
        vd v, u, c, m, f, s, z, R, hfsq, kd, r;
        vu ix;
        vq q;
        memcpy(&v, x + i, sizeof v);
        u = v + 1.0;
        c = (v - (u - 1.0)) / u;
        ix = (vu) u + (0x3ff0000000000000ULL - rt);
        /* 2^52 + biased exponent, exactly, minus 2^52 + 1023: k as a double */
        kd = (vd) ((ix >> 52) | 0x4330000000000000ULL) - (two52 + 1023.0);
        m = (vd) ((ix & mant) + rt);
        f = m - 1.0;
        s = f / (2.0 + f);
        z = s * s;
        R = 2.0 / 23 + z * 0.0;
        R = 2.0 / 21 + z * R;
        R = 2.0 / 19 + z * R;
        R = 2.0 / 17 + z * R;
        R = 2.0 / 15 + z * R;
        R = 2.0 / 13 + z * R;
        R = 2.0 / 11 + z * R;
        R = 2.0 / 9 + z * R;
        R = 2.0 / 7 + z * R;
        R = 2.0 / 5 + z * R;
        R = 2.0 / 3 + z * R;
        R = z * R;
        hfsq = 0.5 * f * f;
        r = kd * ln2hi - ((hfsq - (s * (hfsq + R) + (kd * ln2lo + c))) - f);
        /* the edges the bit arithmetic gets wrong: +inf (c is NaN there), -1, below -1 */
        q = v == __builtin_inf();
        r = (vd) (((vq) r & ~q) | ((vq) v & q));
        q = v == -1.0;
        r = (vd) (((vq) r & ~q) | ((vq) ((vd) {0} - __builtin_inf()) & q));
        q = v < -1.0;
        r = (vd) (((vq) r & ~q) | ((vq) ((vd) {0} + __builtin_nan("")) & q));
        memcpy(x + i, &r, sizeof r);
    }
}
#define FR_VLOG1P(x, n) FR_PASTE(vlog1p, FR_ISA, f64)(x, n)

#define FR_T float
#define FR_T_IS_DOUBLE 0
#define FR_RN(x) FR_PASTE(x, FR_ISA, f32)
#include "rows_template.h"
#undef FR_T
#undef FR_T_IS_DOUBLE
#undef FR_RN
#define FR_T double
#define FR_T_IS_DOUBLE 1
#define FR_RN(x) FR_PASTE(x, FR_ISA, f64)
#include "rows_template.h"
#undef FR_T
#undef FR_T_IS_DOUBLE
#undef FR_RN

#define FR_T float
#define FR_XT float
#define FR_T_IS_DOUBLE 0
#define FR_X_IS_U8 0
#define FR_FN(x) FR_PASTE(x, FR_ISA, f32)
#include "kernels_template.h"
#undef FR_XT
#undef FR_X_IS_U8
#undef FR_FN
#define FR_XT uint8_t
#define FR_X_IS_U8 1
#define FR_FN(x) FR_PASTE(x, FR_ISA, u8f32)
#include "kernels_template.h"
#undef FR_T
#undef FR_XT
#undef FR_T_IS_DOUBLE
#undef FR_X_IS_U8
#undef FR_FN

#define FR_T double
#define FR_XT double
#define FR_T_IS_DOUBLE 1
#define FR_X_IS_U8 0
#define FR_FN(x) FR_PASTE(x, FR_ISA, f64)
#include "kernels_template.h"
#undef FR_XT
#undef FR_X_IS_U8
#undef FR_FN
#define FR_XT uint8_t
#define FR_X_IS_U8 1
#define FR_FN(x) FR_PASTE(x, FR_ISA, u8f64)
#include "kernels_template.h"
#undef FR_T
#undef FR_XT
#undef FR_T_IS_DOUBLE
#undef FR_X_IS_U8
#undef FR_FN

static const fr_simd FR_PASTE(table, FR_ISA, all) = {
    FR_ISA_NAME, FR_VBYTES,
    {(fr_fwd_t) FR_PASTE(fwd, FR_ISA, f32), (fr_fwd_t) FR_PASTE(fwd, FR_ISA, u8f32),
     (fr_fwd_t) FR_PASTE(fwd, FR_ISA, f64), (fr_fwd_t) FR_PASTE(fwd, FR_ISA, u8f64)},
    {(fr_bwd_t) FR_PASTE(bwd, FR_ISA, f32), (fr_bwd_t) FR_PASTE(bwd, FR_ISA, u8f32),
     (fr_bwd_t) FR_PASTE(bwd, FR_ISA, f64), (fr_bwd_t) FR_PASTE(bwd, FR_ISA, u8f64)},
    (fr_rows_t) FR_PASTE(softmax_rows, FR_ISA, f32),
    (fr_rows_t) FR_PASTE(softmax_rows, FR_ISA, f64),
    (fr_rows_t) FR_PASTE(sigmoid_rows, FR_ISA, f32),
    (fr_rows_t) FR_PASTE(sigmoid_rows, FR_ISA, f64),
    (fr_rows_t) FR_PASTE(logits, FR_ISA, f32), (fr_rows_t) FR_PASTE(logits, FR_ISA, f64),
    FR_PASTE(vexp, FR_ISA, f64), FR_PASTE(vlog1p, FR_ISA, f64),
};
#undef FR_VEXP
#undef FR_VLOG1P

#undef FR_PASTE
#undef FR_PASTE_

/* this instruction set's parameters end here; the next block of dispatch.h defines its own */
#undef FR_ISA
#undef FR_ISA_NAME
#undef FR_VBYTES
#undef FR_NREG
#undef FR_U8_F32
#undef FR_U8_F64
#undef FR_HSUM_F32
#undef FR_HSUM_F64
#undef FR_MASKLOAD_F32
#undef FR_MASKLOAD_F64
