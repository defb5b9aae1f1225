"""The training rows of ``learning_rate="auto"``, read for :mod:`.step_size`: their moments.

:func:`training_rows` wraps X (dense: :class:`DenseRows`; CSR: :class:`CSRRows`) with the
training rows and their weights (auto_step drops the rows of weight 0 first; a row listed k
times weighs k times as much) and computes, over the rows of positive weight, in two passes:

``maxabs()``
    m_j = max_n |x_nj| per feature, in X's units (uint8 counts, sparse X from its stored
    entries, duplicates summed), as float64.
``precondition(inv_m)`` then ``moments()``
    with x' = x inv_m and x~ = (x', 1) (the bias column), in one more pass: M V for the start
    block V = (1 / sqrt(d + 1), e_b) (the all-ones unit vector and the bias direction; M e_b is
    the mean of x~), M = sum_n w_n x~_n x~_n^T / sum_n w_n, and max_n ||x'_n||^2. M is never
    formed; step_size turns M V into its estimate of lambda_max(M).

Reading order
    The rows are read twice in all (max |x|, then M V), a bounded block of rows at a time, in
    increasing row order, so the result does not depend on the order of ``rows``, and X is
    never copied. Dense X: blocks of ``_CHUNK_BYTES`` of floats, read in place with weight 0
    for the rows left out when at least half the rows train, else gathered a block at a time;
    uint8 rows are converted to float32 into one reused buffer, float rows used in their own
    type; the products are one gemv each way per block.
    Sparse X is read from its arrays X.data / X.indices / X.indptr, in blocks of at most
    ``_SPARSE_BLOCK`` stored entries (slices of them, or the used rows' entries gathered into
    a buffer when fewer than half the rows train; duplicates summed in a copy of the block
    only when X is not in canonical format): max |x| by np.maximum.at, x' = x inv_m in one
    reused float64 buffer, the row sums of x' and x'^2 by np.add.reduceat; the gathering, the
    scaling and the products X'^T (t, w) by scipy's compiled CSR loops (its private
    scipy.sparse._sparsetools; NumPy's fancy indexing and bincount, 2-3x slower, if those are
    gone).
"""

import numpy as np

__all__ = ["CSRRows", "DenseRows", "training_rows"]

#: float bytes per block of rows: bounds the temporary copy (rows gathered, uint8 converted),
#: and keeps OpenBLAS from threading the products (larger blocks ran 5x slower on 2 busy cores)
_CHUNK_BYTES = 1 << 20
#: stored entries per block of sparse rows: the block's float64 x' (1 MiB) and its slice of X
#: stay in cache across the sweeps of the pass (blocks of 2^20 entries ran 1.3x slower)
_SPARSE_BLOCK = 1 << 17


def training_rows(X, rows, weights, sparse):
    """The reader of X's training ``rows`` (any order) with their ``weights`` (None: 1):
    :class:`CSRRows` if ``sparse`` (X a CSR matrix), else :class:`DenseRows`."""
    return (CSRRows if sparse else DenseRows)(X, rows, weights)


class DenseRows:
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
            Y = buf[: Xc.shape[0]]
            if Xc.dtype != Y.dtype:  # uint8: numpy's plain cast, then the product in float
                np.copyto(Y, Xc, casting="unsafe")
                Xc = Y
            np.multiply(Xc, self.inv_m, out=Y)
            if self.contiguous and not w.all():  # rows left out add exact zeros (0 inf = nan)
                Y[w == 0] = 0
            yield Y, w

    def moments(self):
        """(V, M V, max_n ||x'_n||^2), M = sum w x~ x~^T / sum w, x~ = (x', 1): one pass.

        V ((d+1) x 2) is the start block (1, e_b) of unit columns (the all-ones vector and
        the bias direction; M e_b is the mean of x~), M V is read from the rows, and the
        largest squared row norm is measured on the way.
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
        return V, MV.T / self.weight_sum, row_max


class CSRRows:
    """The training rows of a CSR matrix X, the same statistics as :class:`DenseRows`, read from
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
        if not (
            self.tools is not None
            and itype in (np.int32, np.int64)
            and indptr.dtype == itype
            and all(a.flags.c_contiguous for a in (X.data, X.indices, indptr))
        ):
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
                ptr = (indptr[start : stop + 1] - a).astype(itype, copy=False)
            else:
                sel = self.used[start:stop]
                w = self.row_weight[sel]
                first = indptr[sel]
                lens = indptr[sel + 1] - first
                ptr = np.zeros(sel.shape[0] + 1, dtype=itype)
                np.cumsum(lens, out=ptr[1:])
                k = int(ptr[-1])
                if self._gathered is None:
                    self._gathered = (
                        np.empty(self.max_entries, dtype=X.data.dtype),
                        np.empty(self.max_entries, dtype=itype),
                    )
                data, indices = self._gathered[0][:k], self._gathered[1][:k]
                if tools is not None:  # row by row copies
                    tools.csr_row_index(
                        sel.shape[0], sel, indptr, X.indices, X.data, indices, data
                    )
                else:
                    pos = np.repeat(first - ptr[:-1], lens)
                    pos += np.arange(k, dtype=pos.dtype)
                    np.take(X.data, pos, out=data)
                    np.take(X.indices, pos, out=indices)
            if not self.canonical:  # sum them in a copy (sum_duplicates works in place)
                import scipy.sparse as sp

                S = sp.csr_matrix((data, indices, ptr), shape=(w.shape[0], X.shape[1]), copy=True)
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

    def moments(self):
        """(V, M V, max_n ||x'_n||^2): :meth:`DenseRows.moments` on the
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
                    XtT[:, j] += np.bincount(
                        indices, minlength=d, weights=v * np.repeat(T[:, j], np.diff(ptr))
                    )
            MV[0, d] += t.sum()
            MV[1, d] += w.sum()
            with np.errstate(over="ignore"):  # only in rows left out
                np.square(v, out=v)
                sq = _row_sums(v, starts, nonempty)
            if left is not None:
                sq[left] = 0
            row_max = max(row_max, float(sq.max(initial=0.0)))
        MV[:, :d] = XtT.T
        return V, MV.T / self.weight_sum, row_max


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
