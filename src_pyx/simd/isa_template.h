/* One instruction set's instantiation, included by dispatch.h once per ISA with FR_ISA,
 * FR_ISA_NAME, FR_VBYTES, FR_NREG (and the ISA's uint8 conversions and lane sums) defined:
 * the vector exp, the per-row softmax of rows_template.h and the micro-kernels of
 * kernels_template.h for the four (weight, X) type pairs, and the table fr_table_<ISA>_all
 * that hands them to _linear.pyx's epoch and forward drivers. */
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
    (fr_rows_t) FR_PASTE(softmax_rows, FR_ISA, f32), (fr_rows_t) FR_PASTE(softmax_rows, FR_ISA, f64),
    (fr_rows_t) FR_PASTE(logits, FR_ISA, f32), (fr_rows_t) FR_PASTE(logits, FR_ISA, f64),
    FR_PASTE(vexp, FR_ISA, f64),
};
#undef FR_VEXP

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
