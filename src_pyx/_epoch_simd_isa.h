/* The four type pairs of the micro-kernels for one instruction set (FR_ISA, FR_VBYTES,
 * FR_NREG set by _epoch_simd.h), and the table that hands them to the epoch driver. */
#define FR_PASTE_(a, b, c) fr_##a##_##b##_##c
#define FR_PASTE(a, b, c) FR_PASTE_(a, b, c)

#define FR_T float
#define FR_XT float
#define FR_T_IS_DOUBLE 0
#define FR_X_IS_U8 0
#define FR_FN(x) FR_PASTE(x, FR_ISA, f32)
#include "_epoch_simd_kern.h"
#undef FR_XT
#undef FR_X_IS_U8
#undef FR_FN
#define FR_XT uint8_t
#define FR_X_IS_U8 1
#define FR_FN(x) FR_PASTE(x, FR_ISA, u8f32)
#include "_epoch_simd_kern.h"
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
#include "_epoch_simd_kern.h"
#undef FR_XT
#undef FR_X_IS_U8
#undef FR_FN
#define FR_XT uint8_t
#define FR_X_IS_U8 1
#define FR_FN(x) FR_PASTE(x, FR_ISA, u8f64)
#include "_epoch_simd_kern.h"
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
};

#undef FR_PASTE
#undef FR_PASTE_
