/* Per-row part of one sub-block (softmax or sigmoid), for one ISA and weight type FR_T (set
 * by isa_template.h; FR_RN(x) names function x).
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
 * K exponentials of all rows done as one vector loop (fr_vexp_*) and the log1p of all rows'
 * rests as another (fr_vlog1p_*), both accurate to about 1 ulp:
 *
 *   i = argmax z (the first),  m = z_i,
 *   rest = sum_{c != i} e^{z_c - m},  loss = (m - z_y) + log1p(rest),
 *   g_c = e^{z_c - m} / (1 + rest) - [c = y], with g_y = -rest / (1 + rest) when y = i.
 *
 * sigmoid_rows: the same for K = 1 (the logistic model), e = e^{-|z|} by one vector exp and
 * the loss's log1p by one vector log1p:
 *
 *   loss = max(a, 0) + log1p(e) = log(1 + e^a),  a = -z for y = 1, z for y = 0,
 *   g = s(z) - y,  s(z) = 1/(1 + e) for z >= 0, e/(1 + e) below, and 1 - s(z) the other
 *   one (g = -(1 - s(z)) for y = 1: no cancellation), a hit when (z >= 0) = (y = 1);
 *   an infinite or NaN logit makes the loss NaN (see the stop in _linear.pyx).
 *
 * With row weights v (NULL: all 1) row i's g is multiplied by v_i (in FR_T, as the NumPy
 * twin's G *= v) and its loss and hit count by v_i. G (nrows, K) receives g; gsum[c] += sum
 * over the rows of g_c; *correct += sum of v_i over the rows classified right. tmp holds
 * nrows (K + 1) + 8 doubles (the exponentials, padded to whole vectors, then one term per
 * row). Returns sum_i v_i loss_i (double; 0 * inf is NaN: a non-finite row stops the epoch
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
    /* rest_i goes to tmp[i] once row i's exponentials are used (i <= i K: they are), so
     * that one vector log1p takes them all; row i's argmax, then (m - z_y)_i, wait in part[i],
     * past the vector loops' reach */
    double loss = 0.0, hits = 0.0, *rest = tmp, *part = tmp + n + FR_VBYTES / 8;
    FR_RN(logits)(zpart, zslot, nt, nrows, K, scale, b, G);
    for (i = 0; i < nrows; i++) {
        const FR_T *z = G + i * K;
        FR_T m = z[0];
        int best = 0;
        for (k = 1; k < K; k++) { /* selects, not branches: a random argmax mispredicts */
            best = z[k] > m ? k : best;
            m = z[k] > m ? z[k] : m;
        }
        for (k = 0; k < K; k++)
            tmp[i * K + k] = (double) z[k] - (double) m;
        /* e^0 = 1 is known: a zero there lets rest sum every lane, no test of k != best */
        tmp[i * K + best] = -__builtin_inf();
        part[i] = best; /* until the row's (m - z_y) takes its place */
    }
    FR_VEXP(tmp, n);
    for (i = 0; i < nrows; i++) {
        FR_T *g = G + i * K;
        const double *e = tmp + i * K;
        int best = (int) part[i], yi = y[i];
        double r = 0.0, inv, zy = g[yi], m = g[best];
        for (k = 0; k < K; k++)
            r += e[k];
        inv = 1.0 / (1.0 + r);
        for (k = 0; k < K; k++)
            g[k] = (FR_T) ((double) (FR_T) e[k] * inv);
        g[best] = (FR_T) inv; /* e^0 / (1 + rest) */
        if (yi == best)
            g[yi] = (FR_T) (-r * inv);
        else
            g[yi] = g[yi] - 1;
        if (v) {
            FR_T vi = v[i];
            for (k = 0; k < K; k++)
                g[k] = g[k] * vi;
            hits += yi == best ? (double) vi : 0.0;
        } else {
            hits += yi == best;
        }
        for (k = 0; k < K; k++)
            gsum[k] += g[k];
        part[i] = m - zy;
        rest[i] = r;
    }
    *correct += hits;
    FR_VLOG1P(rest, nrows);
    if (v) {
        for (i = 0; i < nrows; i++)
            loss += (double) v[i] * (part[i] + rest[i]);
    } else {
        for (i = 0; i < nrows; i++)
            loss += part[i] + rest[i];
    }
    return loss;
}

/* K = 1: sigmoid rows (arguments as softmax_rows, K ignored). */
static double FR_RN(sigmoid_rows)(const FR_T *zpart, ptrdiff_t zslot, int nt, int nrows, int K,
                                  FR_T scale, const FR_T *b, const int *y, const FR_T *v,
                                  FR_T *G, double *gsum, double *correct, double *tmp)
{
    int i;
    /* the sums in registers, not through the pointers (which may alias G: a store and a
     * reload per row), added once per call: the row-by-row bits when the batch is one
     * sub-block (gsum starts at 0), a rounding apart otherwise */
    double loss = 0.0, gs = 0.0, hits = 0.0, *e = tmp, *part = tmp + nrows + FR_VBYTES / 8;
    (void) K;
    FR_RN(logits)(zpart, zslot, nt, nrows, 1, scale, b, G);
    for (i = 0; i < nrows; i++)
        e[i] = -fabs((double) G[i]);
    FR_VEXP(e, nrows);
    for (i = 0; i < nrows; i++) {
        double z = G[i], a;
        int one = y[i] == 1, pos = z >= 0;
        FR_T g;
        a = one ? -z : z;
        /* z - z: NaN for an infinite logit, which stops the epoch even where the loss's
         * limit is 0 (its zero gradient times an infinite row would not be) */
        part[i] = (a > 0.0 ? a : 0.0) + (z - z);
        g = (FR_T) ((pos != one ? 1.0 : e[i]) / (1.0 + e[i])); /* one division, picked before */
        if (one)
            g = -g;
        if (v) {
            g = g * v[i];
            hits += pos == one ? (double) v[i] : 0.0;
        } else {
            hits += pos == one;
        }
        G[i] = g;
        gs += g;
    }
    gsum[0] += gs;
    *correct += hits;
    FR_VLOG1P(e, nrows);
    if (v) {
        for (i = 0; i < nrows; i++)
            loss += (double) v[i] * (part[i] + e[i]);
    } else {
        for (i = 0; i < nrows; i++)
            loss += part[i] + e[i];
    }
    return loss;
}
