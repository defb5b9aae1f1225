/* Per-row part of one sub-block, for one ISA and weight type FR_T (set by isa_template.h;
 * FR_RN(x) names function x).
 *
 * logits: THE logit of the linear model, written once for the epoch (softmax and sigmoid) and
 * the forward pass, so that they agree bit for bit: it joins the partial logits of the nt
 * threads (each summed over its own features), scales by input_scale and adds the intercept,
 *
 *   G[i, c] = scale (zpart_0[i, c] + ... + zpart_{nt-1}[i, c]) + b[c],
 *
 * in place when G == zpart and nt == 1 (the forward pass).
 *
 * softmax_rows: then per row what _common.pxd's row cross-entropy gradient computes, with the
 * K exponentials of all rows done as one vector loop (fr_vexp_*, accurate to about 1 ulp):
 *
 *   i = argmax z (the first),  m = z_i,
 *   rest = sum_{c != i} e^{z_c - m},  loss = (m - z_y) + log1p(rest),
 *   g_c = e^{z_c - m} / (1 + rest) - [c = y], with g_y = -rest / (1 + rest) when y = i.
 *
 * With row weights v (NULL: all 1) row i's g is multiplied by v_i (in FR_T, as the NumPy
 * twin's G *= v) and its loss and hit count by v_i. G (nrows, K) receives g; gsum[c] += sum
 * over the rows of g_c; *correct += sum of v_i over the rows with i = y. tmp holds nrows*K + VL
 * doubles. Returns sum_i v_i loss_i (double; 0 * inf is NaN: a non-finite row stops the epoch
 * whatever its weight).
 */
static void FR_RN(logits)(const FR_T *zpart, ptrdiff_t zslot, int nt, int nrows, int K,
                          FR_T scale, const FR_T *b, FR_T *G)
{
    int i, k, t;
    for (i = 0; i < nrows; i++) {
        const FR_T *zp = zpart + (ptrdiff_t) i * K;
        FR_T *g = G + (ptrdiff_t) i * K;
        for (k = 0; k < K; k++) {
            FR_T z = zp[k];
            for (t = 1; t < nt; t++)
                z = z + zp[t * zslot + k];
            g[k] = z * scale + b[k];
        }
    }
}

static double FR_RN(softmax_rows)(const FR_T *zpart, ptrdiff_t zslot, int nt, int nrows, int K,
                                  FR_T scale, const FR_T *b, const int *y, const FR_T *v,
                                  FR_T *G, double *gsum, double *correct, double *tmp)
{
    int i, k, n = nrows * K;
    double loss = 0.0;
    FR_RN(logits)(zpart, zslot, nt, nrows, K, scale, b, G);
    for (i = 0; i < nrows; i++) {
        const FR_T *z = G + i * K;
        FR_T m = z[0];
        for (k = 1; k < K; k++)
            if (z[k] > m)
                m = z[k];
        for (k = 0; k < K; k++)
            tmp[i * K + k] = (double) z[k] - (double) m;
    }
    FR_VEXP(tmp, n);
    for (i = 0; i < nrows; i++) {
        FR_T *g = G + i * K;
        const double *e = tmp + i * K;
        int best = 0, yi = y[i];
        double rest = 0.0, inv, zy = g[yi], m;
        for (k = 1; k < K; k++)
            if (g[k] > g[best])
                best = k;
        m = g[best];
        for (k = 0; k < K; k++)
            if (k != best)
                rest += e[k];
        inv = 1.0 / (1.0 + rest);
        for (k = 0; k < K; k++)
            g[k] = (FR_T) ((double) (FR_T) e[k] * inv);
        if (yi == best)
            g[yi] = (FR_T) (-rest * inv);
        else
            g[yi] = g[yi] - 1;
        if (v) {
            FR_T vi = v[i];
            for (k = 0; k < K; k++)
                g[k] = g[k] * vi;
            loss += (double) vi * ((m - zy) + log1p(rest));
            *correct += yi == best ? (double) vi : 0.0;
        } else {
            loss += (m - zy) + log1p(rest);
            *correct += yi == best;
        }
        for (k = 0; k < K; k++)
            gsum[k] += g[k];
    }
    return loss;
}
