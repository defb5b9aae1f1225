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
    time each: hence one. The rows are read twice in all (max |x|, then M V and max_n
    ||x'_n||^2), by :mod:`.row_moments`: a bounded block of rows at a time, in increasing row
    order (the result does not depend on the order of ``rows``), X never copied, sparse X read
    from its CSR arrays; its docstring has the reading order.

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
from .row_moments import training_rows

__all__ = ["STEP_FACTOR", "auto_step", "expected_smoothness"]

#: lr = STEP_FACTOR / L: inside (0, 2/L), where gradient descent on an L-smooth loss still
#: descends; chosen on the bundled data sets and MNIST (module docstring)
STEP_FACTOR = 1.5
#: the loss's curvature bound in the logits: sigmoid (K = 1), softmax (K >= 2)
_CURVATURE = {True: 0.25, False: 0.5}


def auto_step(X, rows, sample_weight, n_classes, batch_size, l2, input_scale=1.0, *, dtype=None):
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
            raise ValueError(
                "the sample weights of the training rows are all zero; give "
                "some rows a positive weight"
            )
    binary = _check_k(n_classes)
    batch_size = check_param("batch_size", batch_size)
    l2 = check_param("l2", l2)
    input_scale = check_param("input_scale", input_scale) or 1.0
    if dtype is None:
        dtype = np.float64 if X.dtype == np.uint8 else X.dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")

    data = training_rows(X, rows, weights, sparse)
    maxabs = data.maxabs()  # in X's units: uint8 counts, not yet times input_scale
    if not np.isfinite(maxabs).all():
        raise ValueError(
            "X holds values that are not finite (nan or inf) in its training "
            "rows; the step size needs finite features"
        )
    zero = maxabs == 0
    m_model = maxabs * float(input_scale)
    c = _CURVATURE[binary]
    with np.errstate(over="ignore", divide="ignore", under="ignore"):  # checked below
        curvature = np.where(zero & (l2 == 0), 1.0, m_model**2 + 2.0 * l2 / c)
        step_scale = (1.0 / curvature).astype(dtype)
    if not (np.isfinite(step_scale).all() and (step_scale > 0).all()):
        raise ValueError(
            f"a feature's largest |value| is so small or so large that "
            f"1 / (max|x_j|^2 + 2 l2 / c) is not a positive finite {dtype}; "
            "rescale X"
        )

    # the rows as u-coordinates see them: x_j sqrt(s_j), in X's units (uint8 counts)
    data.precondition(float(input_scale) / np.sqrt(curvature))
    V, MV, row_max = data.moments()  # M V, M the weighted second moment of x~
    lam = _half_ritz(V, MV)
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
            raise TypeError(
                f"sparse X must be a 2-d CSR matrix of float32 or float64, got dtype {X.dtype}"
            )
        return X, True
    if not isinstance(X, np.ndarray):
        raise TypeError(
            f"X must be a NumPy array or a scipy.sparse CSR matrix, got {type(X).__name__}"
        )
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
        raise TypeError("sample_weight must be None or a 1-d real array, one weight per row of X")
    if w.shape[0] != n:
        raise ValueError(
            f"sample_weight has {w.shape[0]} entries but X has {n} rows: pass "
            "one weight per row of X"
        )
    w = w.astype(np.float64, copy=False)
    if not np.isfinite(w).all() or (w.size and w.min() < 0):
        raise ValueError("sample_weight must be finite and >= 0")
    return w


def _check_k(n_classes):
    if (
        isinstance(n_classes, (bool, np.bool_))
        or not isinstance(n_classes, numbers.Integral)
        or n_classes < 1
    ):
        raise ValueError(
            f"n_classes must be an int >= 1 (K, the rows of coef: 1 for the "
            f"logistic model), got {n_classes!r}"
        )
    return int(n_classes) == 1
