/* The panel layout of the working weights of _linear.pyx (read by kernels_template.h): P =
 * 64 bytes of features per panel, K rows of P in each, so the weight of class k and feature j
 * sits at Wp[(j / P) K P + k P + j % P]; features past d are zero. fr_panel_size gives the
 * elements to allocate (64-byte aligned: runtime.h's fr_alloc).
 */
#ifndef FR_SIMD_PACK_H
#define FR_SIMD_PACK_H

#include <stddef.h>
#include <string.h>

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

#endif /* FR_SIMD_PACK_H */
