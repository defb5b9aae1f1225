"""``learning_rate="auto"``: the base step size and the per-feature step sizes, read from the data.

The kernels take the step ``coef[:, j] -= lr_t s_j (g_j + 2 l2 coef[:, j])`` (g the mini-batch
gradient of the mean cross-entropy, s = ``step_scale``; the intercept's step is not scaled).
:func:`auto_step` picks s and the base rate lr = alpha0 of the schedule, once per fit, from
the training rows.

Preconditioning (s)
    m_j = max_n |x_nj| over the training rows, x as the model sees it (uint8 X times
    ``input_scale``; sparse X from its stored entries, duplicates summed). Coordinate j of
    the objective has curvature at most c m_j^2 + 2 l2 (the loss's, c below, plus the L2
    term's), and s is the inverse of that bound, normalised by c (Jacobi preconditioning):
        s_j = 1 / (m_j^2 + 2 l2 / c),
    s_j = 1 for a column that is zero on every training row when l2 = 0 (its gradient is 0).
    Without the l2 / c term a feature with a tiny m_j (an edge pixel inked once) would get a
    huge s_j, and its L2 curvature 2 l2 s_j would shrink the step of every feature; with it
    2 l2 s_j <= c. With u_j = m_j coef_j and x'_j = x_j / m_j in [-1, 1] the kernel's step
    is plain gradient descent on u at rate lr, for the loss E(u) + l2 sum_j s_j u_j^2: the
    diagonal preconditioner takes each feature's scale out, so one rate suits all of them (a
    scalar rate cannot: raw wine, features from 0.1 to 1700, stays near 0.64 accuracy).

Smoothness in the preconditioned coordinates (lr)
    Row n's loss E_n, as a function of its logits, has a Hessian below c I: c = 1/4 for the
    sigmoid (p (1 - p) <= 1/4), c = 1/2 for the softmax (diag(p) - p p^T; a 2-class softmax
    moves both logits, twice the sigmoid's step). With x~_n = (x'_n, 1) (the bias column),
        L_n = c (||x'_n||^2 + 1),    L_max = max_n L_n,
        L_full = c lambda_max(M),    M = sum_n w_n x~_n x~_n^T / sum_n w_n,
    and a batch of B rows drawn without replacement from n has the expected smoothness
    (Gower et al. 2019, "SGD: general analysis and improved rates", Prop. 3.8)
        L(B) = n (B - 1) / (B (n - 1)) L_full + (n - B) / (B (n - 1)) L_max     (B < n),
    L(B) = L_full for B >= n (full batch); B = 1 gives L_max, the smoothness scikit-learn's SAG
    solver steps by. The L2 term adds 2 l2 s_j to coordinate u_j, and
        lr = STEP_FACTOR / (L(B) + 2 l2 max_j s_j),      STEP_FACTOR = 1.5.
    Not modelled: the last batch of an epoch may be smaller than B (one noisier step).

Weights and the row count
    ``sample_weight`` (one per row of X, rows of weight 0 count as absent) enters as the
    distribution the statistics describe: m_j and L_max are maxima over the rows of positive
    weight, M the weighted second moment, and the row count is
        n = max(number of training rows, sum of their weights).
    For integer weights n counts the rows with multiplicity, so weight k and k copies of a
    row give the same step (to rounding: scikit-learn's weight-equivalence check, 15 rows with
    weights 0..4, is full batch either way). This needs the weights before they are
    normalised: weights of mean 1 give n = the number of rows, the same step unless n is
    within a few B. n is never below the kernel's row count and L(B) grows with n, so
    fractional weights err to the safe side. Not modelled: the kernel scales row n's gradient
    by its weight v_n, so under very uneven weights a batch can be v_n L_n-smooth; max_n v_n
    L_n would break the equivalence with repeated rows.

lambda_max(M) in one pass
    M ((d+1) x (d+1)) is never formed. One pass over the rows computes M V for V = (1, e_b)
    (the all-ones vector and the bias direction; M e_b is the mean of x~); the estimate is
        max_y ||M V y||^2 / (y^T V^T M V y),
    the Rayleigh quotient of M at M^{1/2} V y: a lower bound of lambda_max that weighs each
    eigenvalue by its square, so a dominant direction is found even from a poor start. Its
    ratio to lambda_max: 0.99 on MNIST, 0.998-1.0 on raw digits, breast_cancer, wine, iris,
    1.0 on standardised breast_cancer, wine, iris (the bias direction dominates), 0.97 on one
    factor shared with mixed signs by 500 standardised features, 0.47 on standardised digits
    (a covariance eigenvalue 2.1 against the bias's 1: L(B) 40% low there; it trains well).
    More passes (the same quotient on the block Krylov space of V and three fixed random
    vectors) reach 0.93 there with two and 0.995 with three, at about one more MNIST epoch's
    time each: hence one. The rows are read twice in all (max |x|, then this pass), a block of
    rows at a time, in increasing row order, so the result does not depend on the order of
    ``rows``, and X is never copied. Sparse X is read from its arrays X.data / X.indices /
    X.indptr, in blocks of at most ``_SPARSE_BLOCK`` stored entries (slices of them, or the
    used rows' entries gathered into a buffer when fewer than half the rows train; duplicates
    summed in a copy of the block only when X is not in canonical format): max |x| by
    np.maximum.at, x' = x inv_m in one reused float64 buffer, the row sums of x' and x'^2 by
    np.add.reduceat; the gathering, the scaling and the products X'^T (t, w) by scipy's
    compiled CSR loops (its private scipy.sparse._sparsetools; NumPy's fancy indexing and
    bincount, 2-3x slower, if those are gone).

Choice of STEP_FACTOR
    From fits with the estimator defaults (random_state=0): 1.0-1.75 keep all eight bundled
    cases (digits, breast_cancer, wine, iris; raw and standardised; split 75/25, stratified,
    seed 0) within 0.03 of scikit-learn's LogisticRegression() (2.0 loses a second of iris's
    38 test rows); MNIST 2 vs 3 reaches 98.0% with lr 0.10-0.12 at that seed (1.37-1.65 /
    L(32)); the ten digits reach 92.5% from 1.0 up. 1.5 lies in both ranges and below 2, the
    factor past which gradient descent on an L-smooth loss may stop descending (c is reached
    only at p = 1/2: the curvature near a fit is smaller still).

Cost
    On MNIST (60000 x 784, 54000 training rows): about two epochs of the compiled kernel
    (B = 32, K = 10), uint8 and float32 alike; NumPy reads uint8 rows as float32 where the
    epoch kernel reads the bytes (the max |x| pass alone is a quarter of an epoch). On the
    text-like CSR matrix of benchmarks/sparse_text.py (200,000 x 100,000, 12M stored float32
    entries): about 0.1 s on a shared 2-core machine, a third of it the max |x| pass.
"""
import numbers

import numpy as np

from .._validation import check_param

__all__ = ["STEP_FACTOR", "auto_step", "expected_smoothness"]

#: lr = STEP_FACTOR / L: inside (0, 2/L), where gradient descent on an L-smooth loss still
#: descends; chosen on the bundled data sets and MNIST (module docstring)
STEP_FACTOR = 1.5
#: the loss's curvature bound in the logits: sigmoid (K = 1), softmax (K >= 2)
_CURVATURE = {True: 0.25, False: 0.5}
#: float bytes per block of rows: bounds the temporary copy (rows gathered, uint8 converted),
#: and keeps OpenBLAS from threading the products (larger blocks ran 5x slower on 2 busy cores)
_CHUNK_BYTES = 1 << 20
#: stored entries per block of sparse rows: the block's float64 x' (1 MiB) and its slice of X
#: stay in cache across the sweeps of the pass (blocks of 2^20 entries ran 1.3x slower)
_SPARSE_BLOCK = 1 << 17


def auto_step(X, rows, sample_weight, n_classes, batch_size, l2, input_scale=1.0, *,
              dtype=None):
    """The base learning rate and per-feature step sizes of ``learning_rate="auto"``.

    Parameters
    ----------
    X : (N, d) C-contiguous float32/float64 or uint8 array (the model sees ``X *
        input_scale``), or a scipy.sparse CSR matrix/array of float32/float64. Not copied.
    rows : 1-d integer array, the training rows (indices into X; repeats count twice).
    sample_weight : None or (N,) real array, one weight >= 0 per row of X (class weights
        included); rows of weight 0 are ignored, the others must have a positive sum.
    n_classes : int >= 1, K, the rows of coef: 1 for the logistic (sigmoid) model, K >= 2
        for the softmax model (a 2-class softmax has K = 2).
    batch_size : int >= 1. l2 : float >= 0. input_scale : float > 0 or None (1).
    dtype : float dtype of ``step_scale``; default X's float type, float64 for uint8 X.

    Returns
    -------
    learning_rate : float, alpha0 = STEP_FACTOR / (L(B) + 2 l2 max_j s_j) (module docstring).
    step_scale : (d,) array of ``dtype``, s_j = 1 / (max|x_j|^2 + 2 l2 / c) (1 for an
        all-zero column when l2 = 0).
    """
    X, sparse = _check_X(X)
    n_rows_x = X.shape[0]
    rows = _check_rows(rows, n_rows_x)
    weights = _check_weights(sample_weight, n_rows_x)
    if weights is not None:  # weight 0 == absent row
        rows = rows[weights[rows] > 0]
        if rows.shape[0] == 0:
            raise ValueError("the sample weights of the training rows are all zero; give "
                             "some rows a positive weight")
    binary = _check_k(n_classes)
    batch_size = check_param("batch_size", batch_size)
    l2 = check_param("l2", l2)
    input_scale = check_param("input_scale", input_scale) or 1.0
    if dtype is None:
        dtype = np.float64 if X.dtype == np.uint8 else X.dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")

    data = (_CSRRows if sparse else _Rows)(X, rows, weights)
    maxabs = data.maxabs()  # in X's units: uint8 counts, not yet times input_scale
    if not np.isfinite(maxabs).all():
        raise ValueError("X holds values that are not finite (nan or inf) in its training "
                         "rows; the step size needs finite features")
    zero = maxabs == 0
    m_model = maxabs * float(input_scale)
    c = _CURVATURE[binary]
    with np.errstate(over="ignore", divide="ignore", under="ignore"):  # checked below
        curvature = np.where(zero & (l2 == 0), 1.0, m_model ** 2 + 2.0 * l2 / c)
        step_scale = (1.0 / curvature).astype(dtype)
    if not (np.isfinite(step_scale).all() and (step_scale > 0).all()):
        raise ValueError(f"a feature's largest |value| is so small or so large that "
                         f"1 / (max|x_j|^2 + 2 l2 / c) is not a positive finite {dtype}; "
                         "rescale X")

    # the rows as u-coordinates see them: x_j sqrt(s_j), in X's units (uint8 counts)
    data.precondition(float(input_scale) / np.sqrt(curvature))
    lam, row_max = data.lambda_max()
    n = max(float(rows.shape[0]), data.weight_sum)
    L = expected_smoothness(c * lam, c * (row_max + 1.0), n, batch_size)
    L += 2.0 * l2 * float(step_scale.max(initial=0.0))
    return STEP_FACTOR / L, step_scale


def expected_smoothness(l_full, l_max, n, batch_size):
    """L(B) of B rows drawn without replacement from n (Gower et al. 2019); L_full if B >= n."""
    B = float(batch_size)
    if B >= n:
        return float(l_full)
    return float(n * (B - 1) / (B * (n - 1)) * l_full + (n - B) / (B * (n - 1)) * l_max)


class _Rows:
    """The training rows of a dense X, read a bounded block of rows at a time in increasing
    index order, each with its weight (so every sum runs in one order, whatever the order of
    ``rows``, and a row listed k times weighs k times as much)."""

    def __init__(self, X, rows, weights):
        self.X = X
        n_x, d = X.shape
        rows = np.sort(rows)
        w = np.ones(rows.shape[0]) if weights is None else weights[rows]
        self.weight_sum = float(w.sum())
        # most rows used (a fit's hold-out leaves 90%): read X in place, block by block, with
        # weight 0 for the rows left out; else gather the rows (a copy of one block at a time)
        self.contiguous = rows.shape[0] >= n_x // 2
        if self.contiguous:
            self.row_weight = np.bincount(rows, weights=w, minlength=n_x)
        else:
            self.rows, self.w = rows, w
        # uint8 counts 0..255 are exact in float32; float X is used in its own type
        self.ftype = np.dtype(np.float32) if X.dtype == np.uint8 else X.dtype
        self.step = max(1, _CHUNK_BYTES // (max(1, d) * self.ftype.itemsize))
        self.inv_m = None

    def _blocks(self):
        """(block of rows as stored, their weights > 0 or 0)."""
        n = self.X.shape[0] if self.contiguous else self.rows.shape[0]
        for start in range(0, n, self.step):
            stop = min(n, start + self.step)
            if self.contiguous:
                w = self.row_weight[start:stop]
                if not w.any():
                    continue
                yield self.X[start:stop], w
            else:
                yield self.X[self.rows[start:stop]], self.w[start:stop]

    def maxabs(self):
        """max |x_nj| over the rows of positive weight (float64, X's units)."""
        out = np.zeros(self.X.shape[1], dtype=np.float64)
        for Xc, w in self._blocks():
            if not w.all():
                Xc = Xc[w > 0]
            np.maximum(out, Xc.max(axis=0), out=out)
            if self.X.dtype != np.uint8:  # max and -min: no |X| temporary
                np.maximum(out, -Xc.min(axis=0), out=out)
        return out

    def precondition(self, inv_m):
        """Read the rows as x' = x inv_m from now on."""
        self.inv_m = inv_m.astype(self.ftype)

    def _scaled(self):
        """(block of x' rows, weights): one dense buffer, the uint8 rows converted into it."""
        buf = None
        for Xc, w in self._blocks():
            if buf is None:
                buf = np.empty((self.step, self.X.shape[1]), dtype=self.ftype)
            Y = buf[:Xc.shape[0]]
            if Xc.dtype != Y.dtype:  # uint8: numpy's plain cast, then the product in float
                np.copyto(Y, Xc, casting="unsafe")
                Xc = Y
            np.multiply(Xc, self.inv_m, out=Y)
            if self.contiguous and not w.all():  # rows left out add exact zeros (0 inf = nan)
                Y[w == 0] = 0
            yield Y, w

    def lambda_max(self):
        """(estimate of lambda_max(M), max_n ||x'_n||^2), M = sum w x~ x~^T / sum w: one pass.

        It computes M V for the start block V = (1, e_b) of unit columns (the all-ones vector
        and the bias direction; M e_b is the mean of x~) and returns :func:`_half_ritz` of
        them, with the largest row norm measured on the way.
        """
        d = self.X.shape[1]
        V = _start_block(d)
        ones = np.full(d, V[0, 0], dtype=self.ftype)
        MV = np.zeros((2, d + 1))
        row_max = 0.0
        for Y, w in self._scaled():
            # row n contributes w_n x~_n (x~_n . v) for each v: one gemv each way (no gemm:
            # OpenBLAS threads even thin ones, slowly on busy cores)
            t = np.asarray(Y @ ones, dtype=np.float64)
            t += V[d, 0]
            t *= w
            for j, tj in enumerate((t, w)):
                MV[j, :d] += np.asarray(tj.astype(self.ftype) @ Y, dtype=np.float64).ravel()
                MV[j, d] += tj.sum()
            sq = np.einsum("ij,ij->i", Y, Y).astype(np.float64)[w > 0]
            if sq.shape[0]:
                row_max = max(row_max, float(sq.max()))
        return _half_ritz(V, MV.T / self.weight_sum), row_max


class _CSRRows:
    """The training rows of a CSR matrix X, the same statistics as :class:`_Rows`, read from
    X.data / X.indices / X.indptr a block of rows at a time (at most ``_SPARSE_BLOCK`` stored
    entries, or one row), in increasing row order, each row once with its summed weight.

    Most rows used: each block is a slice of X's arrays (no copy), the rows left out have
    weight 0 (masked out of max |x| and the row norms; their finite entries add exact zeros to
    the products, and a row holding inf or nan reads as zeros); else the entries of the used
    rows are gathered, block by block, into reused buffers. Duplicates are summed in a copy of
    each block when X is not in canonical format (scipy's flag: scipy checks it once and caches
    it on X; summed in X's type); the row sums and products are linear in the entries and
    would not need it, |x| and x^2 do. x' is float64, and so are the sums over its entries."""

    def __init__(self, X, rows, weights):
        self.X = X
        n_x = X.shape[0]
        if rows.shape[0] > 1 and not (rows[1:] >= rows[:-1]).all():
            rows = np.sort(rows)  # w.sum() in one order, whatever the order of rows
        if weights is None:
            self.weight_sum = float(rows.shape[0])
            self.row_weight = np.bincount(rows, minlength=n_x).astype(np.float64)
        else:
            w = weights[rows]
            self.weight_sum = float(w.sum())
            self.row_weight = np.bincount(rows, weights=w, minlength=n_x)
        self.canonical = bool(getattr(X, "has_canonical_format", False))
        self.inv_m = None
        itype = X.indices.dtype
        indptr = np.asarray(X.indptr)
        if indptr.dtype != itype and indptr[-1] <= np.iinfo(itype).max:
            indptr = indptr.astype(itype)  # scipy's loops take one index type
        self.indptr = indptr
        self.tools = _sparsetools()
        if not (self.tools is not None and itype in (np.int32, np.int64)
                and indptr.dtype == itype
                and all(a.flags.c_contiguous for a in (X.data, X.indices, indptr))):
            self.tools = None
        # the blocks: (start, stop) into the rows read, all of X's (``used`` None: X read in
        # place, block by block, with weight 0 for the rows left out) or the used rows
        if rows.shape[0] >= n_x // 2:
            self.used, bounds = None, indptr
        else:
            self.used = np.flatnonzero(self.row_weight).astype(indptr.dtype)
            bounds = np.zeros(self.used.shape[0] + 1, dtype=np.int64)
            np.cumsum(indptr[self.used + 1] - indptr[self.used], out=bounds[1:])
        self.step = step = max(1, int(_SPARSE_BLOCK))
        self.blocks, self.max_entries = [], 0
        n, start = bounds.shape[0] - 1, 0
        while start < n:
            stop = int(np.searchsorted(bounds, bounds[start] + step, side="right")) - 1
            stop = min(n, start + step, max(stop, start + 1))
            self.blocks.append((start, stop))
            self.max_entries = max(self.max_entries, int(bounds[stop] - bounds[start]))
            start = stop
        self._gathered = None

    def _blocks(self):
        """(data, indices, indptr from 0, weights) of each block of rows, duplicates summed;
        weight 0 only for the rows left out when X is read in place."""
        X, indptr, tools = self.X, self.indptr, self.tools
        itype = X.indices.dtype
        for start, stop in self.blocks:
            if self.used is None:
                w = self.row_weight[start:stop]
                if not w.any():
                    continue
                a, b = int(indptr[start]), int(indptr[stop])
                data, indices = X.data[a:b], X.indices[a:b]
                ptr = (indptr[start:stop + 1] - a).astype(itype, copy=False)
            else:
                sel = self.used[start:stop]
                w = self.row_weight[sel]
                first = indptr[sel]
                lens = indptr[sel + 1] - first
                ptr = np.zeros(sel.shape[0] + 1, dtype=itype)
                np.cumsum(lens, out=ptr[1:])
                k = int(ptr[-1])
                if self._gathered is None:
                    self._gathered = (np.empty(self.max_entries, dtype=X.data.dtype),
                                      np.empty(self.max_entries, dtype=itype))
                data, indices = self._gathered[0][:k], self._gathered[1][:k]
                if tools is not None:  # row by row copies
                    tools.csr_row_index(sel.shape[0], sel, indptr, X.indices, X.data,
                                        indices, data)
                else:
                    pos = np.repeat(first - ptr[:-1], lens)
                    pos += np.arange(k, dtype=pos.dtype)
                    np.take(X.data, pos, out=data)
                    np.take(X.indices, pos, out=indices)
            if not self.canonical:  # sum them in a copy (sum_duplicates works in place)
                import scipy.sparse as sp
                S = sp.csr_matrix((data, indices, ptr), shape=(w.shape[0], X.shape[1]),
                                  copy=True)
                S.sum_duplicates()
                data, indices, ptr = S.data, S.indices, S.indptr
            yield data, indices, ptr, w

    def maxabs(self):
        """max |x_nj| over the rows of positive weight (float64, X's units): np.maximum.at
        in X's type (a mixed one runs 20x slower)."""
        ftype = self.X.dtype
        out = np.zeros(self.X.shape[1], dtype=ftype)
        ubuf = ibuf = None
        for data, indices, ptr, w in self._blocks():
            k = data.shape[0]
            if ubuf is None or ubuf.shape[0] < k:
                ubuf = np.empty(max(k, self.step), dtype=ftype)
                ibuf = np.empty(ubuf.shape[0], dtype=np.intp)
            u = np.abs(data, out=ubuf[:k])
            if not w.all():  # the rows left out (nan in them too) read as 0
                np.copyto(u, 0, where=np.repeat(w == 0, np.diff(ptr)))
            if indices.dtype != np.intp:  # ufunc.at would convert them: into a buffer
                np.copyto(ibuf[:k], indices)
                indices = ibuf[:k]
            with np.errstate(invalid="ignore"):  # nan: the caller's error
                np.maximum.at(out, indices, u)
        return out.astype(np.float64)

    def precondition(self, inv_m):
        """Read the rows as x' = x inv_m from now on."""
        self.inv_m = np.ascontiguousarray(inv_m, dtype=np.float64)

    def lambda_max(self):
        """(estimate of lambda_max(M), max_n ||x'_n||^2): :meth:`_Rows.lambda_max` on the
        entries. A block's x' (its values times inv_m, one reused float64 buffer) gives the
        row sums (reduceat), then the two products X'^T t, then x'^2 the squared row norms."""
        d, tools = self.X.shape[1], self.tools
        V = _start_block(d)
        c0 = V[0, 0]
        MV = np.zeros((2, d + 1))
        XtT = np.zeros((d, 2))
        row_max = 0.0
        buf = None
        for data, indices, ptr, w in self._blocks():
            k, n = data.shape[0], w.shape[0]
            if buf is None or buf.shape[0] < k:
                buf = np.empty(max(k, self.step))
            v = buf[:k]
            np.copyto(v, data)
            starts, nonempty = ptr[:-1], ptr[1:] > ptr[:-1]
            if tools is not None:
                tools.csr_scale_columns(n, d, ptr, indices, v, self.inv_m)
            else:
                with np.errstate(over="ignore"):  # only in rows left out
                    v *= self.inv_m[indices]
            T = np.empty((n, 2))  # the rows' (t, w): MV[:, :d] += X'^T T
            t = T[:, 0]
            with np.errstate(over="ignore", invalid="ignore"):  # only in rows left out
                t[:] = _row_sums(v, starts, nonempty)
            left = None if w.all() else w == 0
            if left is not None:
                # a row left out adds t = 0 times its finite entries: exact zeros; one that
                # holds inf or nan (its sum is not finite) reads as zeros (0 inf = nan)
                bad = left & ~np.isfinite(t)
                if bad.any():
                    np.copyto(v, 0, where=np.repeat(bad, np.diff(ptr)))
                    t[bad] = 0
            t *= c0
            t += c0
            t *= w
            T[:, 1] = w
            if tools is not None:  # the CSR rows read as the CSC of the transpose
                tools.csc_matvecs(d, n, 2, ptr, indices, v, T.reshape(-1), XtT.reshape(-1))
            else:
                for j in range(2):
                    XtT[:, j] += np.bincount(indices, minlength=d,
                                             weights=v * np.repeat(T[:, j], np.diff(ptr)))
            MV[0, d] += t.sum()
            MV[1, d] += w.sum()
            with np.errstate(over="ignore"):  # only in rows left out
                np.square(v, out=v)
                sq = _row_sums(v, starts, nonempty)
            if left is not None:
                sq[left] = 0
            row_max = max(row_max, float(sq.max(initial=0.0)))
        MV[:, :d] = XtT.T
        return _half_ritz(V, MV.T / self.weight_sum), row_max


def _sparsetools():
    """scipy's compiled CSR loops (its private module ``scipy.sparse._sparsetools``: scaling
    the columns, X^T v, gathering rows; 2-3x faster than NumPy's fancy indexing, ufunc.at and
    bincount), or None when that is gone: NumPy does the same then."""
    try:
        from scipy.sparse import _sparsetools as tools
    except ImportError:
        return None
    names = ("csr_scale_columns", "csc_matvecs", "csr_row_index")
    return tools if all(hasattr(tools, f) for f in names) else None


def _row_sums(v, starts, nonempty):
    """Sum of each row's entries of v (rows starting at ``starts``; 0 for an empty row)."""
    if nonempty.all():
        return np.add.reduceat(v, starts)
    out = np.zeros(starts.shape[0])
    if nonempty.any():  # reduceat sums up to the next start: the empty rows in between add 0
        out[nonempty] = np.add.reduceat(v, starts[nonempty])
    return out


def _start_block(d):
    """V = (1 / sqrt(d + 1), e_b): the all-ones unit vector and the bias direction."""
    V = np.zeros((d + 1, 2))
    V[:, 0] = 1 / np.sqrt(d + 1)
    V[d, 1] = 1.0
    return V


def _half_ritz(B, MB):
    """max over y of y^T (MB)^T (MB) y / y^T B^T M B y: the Rayleigh quotient of M at
    M^{1/2} B y, maximised (a lower bound of lambda_max, from B and M B only)."""
    A = B.T @ MB
    A = (A + A.T) / 2
    G = MB.T @ MB
    evals, U = np.linalg.eigh(A)
    keep = evals > evals.max() * 1e-10
    W = U[:, keep] / np.sqrt(evals[keep])
    return float(np.linalg.eigvalsh(W.T @ G @ W)[-1])


# ------------------------------------------------------------------------------- checks
def _check_X(X):
    if getattr(X, "format", None) == "csr" and hasattr(X, "indptr"):
        if X.ndim != 2 or X.dtype not in (np.float32, np.float64):
            raise TypeError(f"sparse X must be a 2-d CSR matrix of float32 or float64, got "
                            f"dtype {X.dtype}")
        return X, True
    if not isinstance(X, np.ndarray):
        raise TypeError(f"X must be a NumPy array or a scipy.sparse CSR matrix, got "
                        f"{type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-d array, got shape {X.shape}")
    if X.dtype not in (np.float32, np.float64, np.uint8):
        raise TypeError(f"X must be float32, float64 or uint8, got dtype {X.dtype}")
    return X, False


def _check_rows(rows, n):
    if not isinstance(rows, np.ndarray) or rows.ndim != 1 or rows.dtype.kind not in "iu":
        raise TypeError("rows must be a 1-d integer array of row indices of X")
    if rows.shape[0] == 0:
        raise ValueError("rows is empty: the step size needs at least one training row")
    if rows.min() < 0 or rows.max() >= n:
        raise ValueError(f"rows holds indices outside 0..{n - 1} (the rows of X)")
    return rows.astype(np.intp, copy=False)


def _check_weights(sample_weight, n):
    if sample_weight is None:
        return None
    w = sample_weight
    if not isinstance(w, np.ndarray) or w.ndim != 1 or w.dtype.kind not in "iuf":
        raise TypeError("sample_weight must be None or a 1-d real array, one weight per row "
                        "of X")
    if w.shape[0] != n:
        raise ValueError(f"sample_weight has {w.shape[0]} entries but X has {n} rows: pass "
                         "one weight per row of X")
    w = w.astype(np.float64, copy=False)
    if not np.isfinite(w).all() or (w.size and w.min() < 0):
        raise ValueError("sample_weight must be finite and >= 0")
    return w


def _check_k(n_classes):
    if isinstance(n_classes, (bool, np.bool_)) or not isinstance(n_classes, numbers.Integral) \
            or n_classes < 1:
        raise ValueError(f"n_classes must be an int >= 1 (K, the rows of coef: 1 for the "
                         f"logistic model), got {n_classes!r}")
    return int(n_classes) == 1
