"""The NumPy twin of ``fastreg._kernels._sparse`` (``src_pyx/_sparse.pyx``): the forward pass and
the training epoch on a sparse CSR ``X``. This file is the specification; the compiled module
is held to it.

The model is the dense kernels' (``_linear_numpy``): coef (K, d), intercept (K,), the link
chosen by K, the step of batch t with rows R_t (n_t of them), lr_t, weights v_n and step
scales s_j (P = diag(s) on the feature axis)::

    coef      -= lr_t P ( (1/n_t) sum_{n in R_t} v_n G_n x_n^T + 2 l2 coef )
    intercept -= lr_t (1/n_t) sum_{n in R_t} v_n G_n

with G_n = dE_n/dz_n (``_loss_numpy.cross_entropy_grad``). On X.toarray() the dense NumPy
``epoch`` computes the same numbers; here a step costs O(nnz_t K) (nnz_t the nonzeros of the
batch), never O(d K):

* the weights live in a transposed working copy V (d, K), so a nonzero x_nj meets the K
  numbers of row j of V; it is copied from coef at the start of the call and back at its end
  (also when the epoch stops early or is interrupted): O(d K) per call, not per step;
* a row's logits are ``Xb @ V`` (SciPy's sparse product: O(nnz K)); the data part of the step
  touches only the batch's features j, through ``Xu.T @ G`` (Xu: the batch's rows with its
  distinct features numbered 0..u-1);
* the L2 shrink ``coef *= 1 - 2 lr_t l2 s_j`` of every step, which would touch all d rows, is
  applied lazily:

  - uniform steps (``step_scale`` None, or l2 == 0): W = wscale V with one scalar wscale
    (scikit-learn's SGD does the same). A step multiplies wscale by 1 - 2 lr_t l2 and
    subtracts the data part divided by the new wscale; when the new wscale falls below 1e-9
    (or to <= 0: 2 lr_t l2 >= 1) it is folded into V (O(d K), rare) and reset to 1;
  - per-feature steps (``step_scale`` given and l2 > 0): the factor 1 - 2 lr_t l2 s_j differs
    per feature, so each feature has its own scale: W[:, j] = scale_j V[j] as of step
    ``last[j]``. Before feature j is read or written at step t its scale is multiplied by
    prod_{u = last[j]}^{t-1} (1 - 2 lr_u l2 s_j) and ``last[j] = t`` (O(1): a scalar, not a
    row), and the step multiplies it by 1 - 2 lr_t l2 s_j and subtracts the data part divided
    by the new scale; a scale below 1e-9 (or <= 0) is folded into its row of V. At the end of
    the call every scale is brought up to date. The product (``_Runs.products``) is one power
    when one learning rate covers the gap (constant schedules, and most gaps of piecewise-
    constant ones), else the series log prod = -sum_m (c^m / m) sum_u lr_u^m over prefix sums
    of the rates' powers when it converges within 16 terms (shrinks below about 1 % a step:
    O(1) for any schedule), else one power per piece of equal rate: O(gap) for a rate that
    changes at every step with large shrinks.

``X`` is a SciPy CSR matrix or array (``X.format == "csr"``) with data of coef's dtype and
int32 or int64 indices, in any order within a row, duplicates summed; the checks of
``fastreg/_kernels/_checks.py`` run first on both backends, the functions here trust their
inputs. SciPy is not imported: X brings its own methods.
"""

import numpy as np

from . import _loss_numpy
from ._linear_numpy import _right

#: the scale factor below which (or at or below 0) it is folded into the stored weights
WSCALE_MIN = 1e-9
#: the series of the lazy shrinks (``_Runs.products``): at most this many terms, and the bound
#: on the remainder (in log(product), i.e. relative) that chooses how many
SERIES_TERMS = 16
SERIES_TOL = 1e-16
#: batches whose step the last epoch took (``_last_batches_done``)
_batches_done = 0


def _last_batches_done():
    """Batches whose step the last epoch took: all of them, or those before its stop."""
    return _batches_done


def _reset_batches_done():
    """Make ``_last_batches_done()`` 0 until the next epoch ends: a caller that may stop the
    next call before it starts (a signal handler) then reads 0, not the last call's count."""
    global _batches_done
    _batches_done = 0


def sparse_linear_forward(X, coef, intercept, out=None):
    """Logits ``out[n, k] = sum_j X[n, j] coef[k, j] + intercept[k]`` of a CSR X, shape (N, K).

    Duplicate entries of a row are summed (as ``X.toarray()`` does). ``out`` (N, K) of coef's
    dtype is written and returned (allocated when None).
    """
    out = np.empty((X.shape[0], coef.shape[0]), dtype=coef.dtype) if out is None else out
    out[...] = X @ coef.T
    out += intercept
    return out


class _Runs:
    """The learning rates of the epoch's T steps cut into pieces of equal rate, and the
    products of the lazy shrinks over ranges of steps (:meth:`products`)."""

    def __init__(self, rates):
        cut = np.flatnonzero(rates[1:] != rates[:-1]) + 1
        self.start = np.concatenate(([0], cut))
        self.stop = np.concatenate((cut, [rates.shape[0]]))
        self.rate = rates[self.start]
        self.of_step = np.repeat(np.arange(self.start.shape[0]), self.stop - self.start)
        self.one_rate = self.start.shape[0] == 1
        self.lr_max = float(np.abs(rates).max())
        # powsums[u, m] = sum_{v < u} lr_v^(m+1): the series' sums over any range of steps
        powers = np.cumprod(np.repeat(rates[:, None], SERIES_TERMS, axis=1), axis=1)
        self.powsums = np.concatenate((np.zeros((1, SERIES_TERMS)), np.cumsum(powers, axis=0)))

    def products(self, first, t, c):
        """prod_{u = first_j}^{t-1} (1 - lr_u c_j) for each j (first_j < t), float64.

        One rate over the gap: one power (exp(gap log(1 - lr c)) when the whole call has one
        rate and 1 - lr c > 0). Else, when it converges within SERIES_TERMS terms, the series
        log prod = -sum_m (c^m / m) sum_u lr_u^m, from the prefix sums of lr^m: O(1) whatever
        the schedule. Else one power per piece of equal rate: O(gap) for rates that change at
        every step and shrink by more than about 1 % a step.
        """
        gap = t - first
        prod = np.ones(first.shape[0])
        one = self.stop[self.of_step[first]] >= t
        x = self.rate[self.of_step[first[one]]] * c[one]
        if self.one_rate:
            log = np.log1p(-np.where(x < 1.0, x, 0.0))
            prod[one] = np.where(x < 1.0, np.exp(gap[one] * log), (1.0 - x) ** gap[one])
        else:
            prod[one] = (1.0 - x) ** gap[one]
        rest = np.flatnonzero(~one)
        terms = _series_terms(self.lr_max * c[rest], gap[rest])
        series, pieces = rest[terms > 0], rest[terms == 0]
        terms = terms[terms > 0]
        log, cm = np.zeros(series.shape[0]), np.ones(series.shape[0])
        for m in range(terms.max(initial=0)):
            cm *= c[series]
            sums = self.powsums[t, m] - self.powsums[first[series], m]
            log -= np.where(terms > m, cm / (m + 1) * sums, 0.0)
        prod[series] = np.exp(log)
        if pieces.size:
            a, cj = first[pieces], c[pieces]
            for r in range(self.of_step[a.min()], self.of_step[t - 1] + 1):
                steps = np.minimum(self.stop[r], t) - np.maximum(self.start[r], a)
                prod[pieces] *= (1.0 - self.rate[r] * cj) ** np.maximum(steps, 0)
        return prod


def _series_terms(x, gap):
    """The terms m of the series that bound its remainder, gap |x|^(m+1) / ((m+1)(1-|x|)), by
    SERIES_TOL (x = max_u |lr_u| c_j), 0 where SERIES_TERMS are not enough."""
    ax = np.abs(x)[:, None]
    m = np.arange(1, SERIES_TERMS + 1)
    powers = np.cumprod(np.repeat(ax, SERIES_TERMS + 1, axis=1), axis=1)[:, 1:]  # |x|^(m+1)
    enough = gap[:, None] * powers <= SERIES_TOL * (m + 1) * (1.0 - ax)
    return np.where(enough.any(axis=1), enough.argmax(axis=1) + 1, 0)


class _Weights:
    """The working copy: V (d, K) = coef^T up to the lazy shrinks, b = intercept, and the
    number of steps taken. A step's changes are committed by statements with no call between
    them (CPython runs signal handlers at calls and loop jumps only), so a KeyboardInterrupt
    always finds V, b and ``done`` at a batch boundary; ``write_back`` computes the weights
    first and then assigns coef, intercept and ``_batches_done`` the same way."""

    def __init__(self, coef, intercept):
        self.V = np.ascontiguousarray(coef.T)  # a copy, (d, K)
        self.b = intercept.copy()
        self.done = 0

    def write_back(self, coef, intercept):
        global _batches_done
        W = self.weights()
        # no call from here to the end
        coef[...] = W
        intercept[...] = self.b
        _batches_done = self.done


class _ScaledWeights(_Weights):
    """W = wscale V: the uniform L2 shrink of a step is one multiplication of wscale."""

    def __init__(self, coef, intercept, l2, step_scale):
        super().__init__(coef, intercept)
        self.wscale = 1.0
        self.l2 = l2
        self.step_scale = None if step_scale is None else step_scale[:, None]

    def logits(self, Xb, features, t):
        Z = Xb @ self.V
        if self.wscale != 1.0:
            Z *= Z.dtype.type(self.wscale)
        return Z

    def step(self, t, lr, features, data_part, step_b):
        """W = (1 - 2 lr l2) W - lr P data_part on the rows ``features`` (data_part (u, K) is
        (1/n_t) sum_n v_n x_nj G_n), and b -= step_b."""
        dtype = self.V.dtype
        wscale = self.wscale * (1.0 - 2.0 * lr * self.l2)
        fold = wscale < WSCALE_MIN
        delta = data_part * dtype.type(lr / (1.0 if fold else wscale))
        if self.step_scale is not None:
            delta *= self.step_scale[features]
        rows = self.V[features]
        if fold:
            rows *= dtype.type(wscale)
        rows -= delta
        folded = dtype.type(wscale)
        # no call from here to the end
        if fold:
            self.V *= folded
            wscale = 1.0
        self.V[features] = rows
        self.wscale = wscale
        self.b -= step_b
        self.done = t + 1

    def weights(self):
        return self.V.T * self.V.dtype.type(self.wscale)


class _LazyWeights(_Weights):
    """Per-feature L2 shrinks 1 - 2 lr_t l2 s_j: W[:, j] = scale_j V[j], each scale brought up
    to date (``last``) when its feature is read or written, folded into V below WSCALE_MIN."""

    def __init__(self, coef, intercept, l2, step_scale, learning_rates):
        super().__init__(coef, intercept)
        self.c = 2.0 * l2 * step_scale.astype(np.float64)  # lr_t c_j: feature j's shrink
        self.step_scale = step_scale
        self.scale = np.ones(coef.shape[1])
        self.last = np.zeros(coef.shape[1], dtype=np.intp)  # scale_j V[j]: before step last_j
        self.runs = _Runs(learning_rates)

    def rescaled(self, features, scale):
        """(rows of V, scales) of ``features`` for the new ``scale``: folded below WSCALE_MIN."""
        fold = scale < WSCALE_MIN
        rows = self.V[features]
        rows[fold] *= scale[fold].astype(self.V.dtype)[:, None]
        return rows, np.where(fold, 1.0, scale)

    def catch_up(self, features, t):
        """Bring the scales of ``features`` (distinct) to the weights before step t."""
        stale = features[self.last[features] < t]
        if stale.size:
            prod = self.runs.products(self.last[stale], t, self.c[stale])
            rows, scale = self.rescaled(stale, self.scale[stale] * prod)
            # no call from here to the end
            self.V[stale] = rows
            self.scale[stale] = scale
            self.last[stale] = t

    def logits(self, Xb, features, t):
        self.catch_up(features, t)
        dtype = self.V.dtype
        scaled = type(Xb)(
            (Xb.data * self.scale[Xb.indices].astype(dtype), Xb.indices, Xb.indptr), shape=Xb.shape
        )
        return scaled @ self.V

    def step(self, t, lr, features, data_part, step_b):
        dtype = self.V.dtype
        rows, scale = self.rescaled(features, self.scale[features] * (1.0 - lr * self.c[features]))
        factor = (self.step_scale[features] / scale).astype(dtype)
        rows -= data_part * dtype.type(lr) * factor[:, None]
        # no call from here to the end
        self.V[features] = rows
        self.scale[features] = scale
        self.last[features] = t + 1
        self.b -= step_b
        self.done = t + 1

    def weights(self):
        self.catch_up(np.arange(self.V.shape[0]), self.done)
        return self.V.T * self.scale.astype(self.V.dtype)


def sparse_epoch(
    X,
    y,
    coef,
    intercept,
    order,
    batch_size,
    learning_rates,
    l2,
    n_threads=1,
    sample_weight=None,
    step_scale=None,
):
    """Mini-batch gradient descent over the rows ``X[order]`` of a CSR X, in place on coef and
    intercept: the dense ``epoch``'s steps and results (module docstring), O(nnz_t K) a step.

    Batch t holds rows ``order[t*B:(t+1)*B]``; all of them see the weights before the batch's
    step (the logits of the batch first, then G, then the update). ``sample_weight`` (N,) is
    indexed by row of X like y, ``step_scale`` (d,) by feature; None means all ones.
    ``n_threads`` is accepted for parity with the dense epoch (the epoch is sequential).

    Returns ``(sum v_n E_n / sum v_n, sum v_n [row n right] / sum v_n)`` over the rows seen,
    each at the weights before its batch's step, summed in float64 (unweighted: the mean loss
    and the accuracy). If a batch loss is not finite (K == 1: also a logit) the epoch stops
    before that step with the weights as that batch found them and returns (nan, nan). If a
    signal handler raises (KeyboardInterrupt), coef and intercept are the weights after the
    batches before it (``_last_batches_done()`` of them) and the exception propagates.
    """
    global _batches_done
    _batches_done = 0
    n_batches = -(-order.shape[0] // batch_size)
    if step_scale is not None and l2 > 0:
        weights = _LazyWeights(coef, intercept, l2, step_scale, learning_rates[:n_batches])
    else:
        weights = _ScaledWeights(coef, intercept, l2, step_scale)
    # overflow is reported by the (nan, nan) result, as the compiled epoch does, not by warnings
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            return _epoch(X, y, order, batch_size, learning_rates, sample_weight, weights)
        finally:
            weights.write_back(coef, intercept)


def _epoch(X, y, order, batch_size, learning_rates, sample_weight, weights):
    dtype = weights.b.dtype
    loss_sum, correct, weight_sum = 0.0, 0.0, 0.0
    for t, start in enumerate(range(0, order.shape[0], batch_size)):
        idx = order[start : start + batch_size]
        nb = idx.shape[0]
        Xb, yb = X[idx], y[idx]
        features, column = np.unique(Xb.indices[: Xb.indptr[-1]], return_inverse=True)
        Z = weights.logits(Xb, features, t)
        Z += weights.b
        right = _right(Z, yb)
        # K == 1: an infinite logit has a finite loss limit but means an overflow (dense epoch)
        finite_logits = Z.shape[1] > 1 or bool(np.isfinite(Z).all())
        loss, G = _loss_numpy.cross_entropy_grad(Z, yb, grad=Z)
        if sample_weight is None:
            batch_loss = float(loss.sum(dtype=np.float64))
            batch_correct, batch_weight = int(np.count_nonzero(right)), nb
        else:
            vb = sample_weight[idx]
            # 0 * inf is nan: a row of weight 0 with a non-finite loss stops the epoch too
            batch_loss = float(np.dot(vb.astype(np.float64), loss.astype(np.float64)))
            batch_correct = float(vb.sum(where=right, dtype=np.float64))
            batch_weight = float(vb.sum(dtype=np.float64))
            G *= vb[:, None]
        if not (finite_logits and np.isfinite(batch_loss)):  # diverged: keep the weights
            return float("nan"), float("nan")
        # the batch's rows on its own features 0..u-1: Xu.T @ G sums x_nj G_n per feature
        Xu = type(Xb)((Xb.data, column, Xb.indptr), shape=(nb, features.shape[0]))
        data_part = Xu.T @ G
        data_part /= dtype.type(nb)
        step_b = dtype.type(learning_rates[t]) * (G.sum(axis=0) / nb)
        weights.step(t, learning_rates[t], features, data_part, step_b)
        loss_sum += batch_loss
        correct += batch_correct
        weight_sum += batch_weight
    return loss_sum / weight_sum, correct / weight_sum
