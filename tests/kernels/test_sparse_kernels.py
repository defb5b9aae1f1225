"""The sparse kernels: ``sparse_linear_forward`` and ``sparse_epoch`` on a SciPy CSR X.

``sparse_epoch(X, y, coef, intercept, order, batch_size, learning_rates, l2, n_threads,
sample_weight, step_scale)`` takes the dense epoch's steps at O(nnz K) a step (a transposed
working copy, lazy L2 shrinks: one scale factor, or one per feature with a step_scale).
Held here, on both dtypes, int32 and int64 indices, K = 1 (logistic) and K = 4 (softmax):

* to the plain loops of ``helpers/naive_sparse.py`` (float64, every weight shrunk every step);
* to the dense NumPy ``epoch`` on ``X.toarray()``: 1e-10 in float64, for l2 with uniform and
  per-feature step scales under constant, piecewise-constant and varying learning rates (the
  lazy shrinks' three ways to form a product: one power, the series, piece by piece), with
  sample weights, and where the scale factor is folded into the weights (2 lr l2 >= 1, or a
  factor below 1e-9);
* compiled against its NumPy twin (``requires_cython``); the compiled forward pass gives the
  same bits whether it transposes coef or reads it in place (rows cut into calls);
* one full-batch step against centred finite differences of the objective (the weighted one
  from the NumPy ``loss_grad``), and integer weights against repeated rows;
* the stop with (nan, nan) before a non-finite batch, ``_last_batches_done()``, an exception
  from a signal handler landing at a batch boundary, read-only inputs, empty rows, repeated
  and unsorted indices, extreme logits, ``n_threads`` (accepted, no effect);
* malformed CSR objects and bad arguments, refused with the same error by every backend.
"""

import signal

import numpy as np
import pytest

from fastreg import get_backend
from fastreg.objective import numerical_gradient
from helpers import interrupts, naive, naive_sparse, refusals

sp = pytest.importorskip("scipy.sparse")

DTYPES = (np.float32, np.float64)
INDEX_DTYPES = (np.int32, np.int64)
MODELS = [pytest.param(1, id="K=1"), pytest.param(4, id="K=4")]
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-9}


# --------------------------------------------------------------------------- inputs
def make_csr(n, d, dtype, index_dtype=np.int32, seed=0, density=0.25, array=False):
    """A CSR X (n, d) as text gives it: some rows empty, indices unsorted within a row and some
    repeated (they add up); values in (0, 2), some rows scaled up."""
    rng = np.random.default_rng(seed)
    lengths = rng.poisson(density * d, n)
    lengths[rng.random(n) < 0.15] = 0
    indices = rng.integers(0, d, lengths.sum())
    data = rng.uniform(0.05, 2.0, lengths.sum())
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    first = np.flatnonzero(lengths >= 2)[0]  # one sure repeat, in unsorted order
    indices[indptr[first] : indptr[first] + 2] = [d - 1, d - 1]
    indices[indptr[first] + 2 : indptr[first] + 3] = 0
    kind = sp.csr_array if array else sp.csr_matrix
    X = kind((data.astype(dtype), indices, indptr), shape=(n, d))
    X.indices, X.indptr = indices.astype(index_dtype), indptr.astype(index_dtype)
    return X


def problem(k, dtype, index_dtype=np.int32, n=40, d=30, seed=0, **kw):
    """(X, y, coef, intercept): labels 0/1 for K = 1, 0..K-1 else; small weights."""
    rng = np.random.default_rng([seed, 1])
    X = make_csr(n, d, dtype, index_dtype, seed=seed, **kw)
    y = rng.integers(0, max(k, 2), n).astype(np.intc)
    coef = (0.3 * rng.standard_normal((k, d))).astype(dtype)
    intercept = (0.3 * rng.standard_normal(k)).astype(dtype)
    return X, y, coef, intercept


def schedule(kind, n_batches, lr=0.3):
    """Learning rates of one call: one rate, three pieces of one rate, or a new rate a step."""
    t = np.arange(n_batches)
    if kind == "constant":
        return np.full(n_batches, lr)
    if kind == "piecewise":
        return lr * 0.5 ** (3 * t // n_batches)
    return lr / (1.0 + 0.05 * t)


def options(dtype, n, d, weights, scales, seed=3):
    """sample_weight (mean 1, some 0) and step_scale (per feature, in [0.2, 3]) or None."""
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.0, 2.0, n) * (rng.random(n) > 0.1) if weights else None
    s = rng.uniform(0.2, 3.0, d) if scales else None
    as_dtype = lambda a: None if a is None else a.astype(dtype)  # noqa: E731
    return dict(sample_weight=as_dtype(v), step_scale=as_dtype(s))


def run(epoch, X, y, coef, intercept, batch_size, lrs, l2, n_epochs=2, seed=1, **kw):
    """Epochs from copies of the weights, a fresh shuffle each: (results, coef, intercept)."""
    coef, intercept = coef.copy(), intercept.copy()
    rng = np.random.default_rng(seed)
    results = [
        epoch(X, y, coef, intercept, rng.permutation(X.shape[0]), batch_size, lrs, l2, **kw)
        for _ in range(n_epochs)
    ]
    return np.array(results), coef, intercept


def assert_runs_close(got, want, rtol, n_rows=40):
    (res_a, coef_a, b_a), (res_b, coef_b, b_b) = got, want
    for a, b in ((coef_a, coef_b), (b_a, b_b), (res_a[:, 0], res_b[:, 0])):
        scale = max(float(np.max(np.abs(b))), 1.0)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)
    # accuracy counts rows: a logit within rounding of a tie may flip one of them
    np.testing.assert_allclose(res_a[:, 1], res_b[:, 1], atol=1.5 / n_rows + rtol)


def dense_spec(X, y, coef, intercept, batch_size, lrs, l2, **kw):
    """The dense NumPy epoch on X.toarray(): the specification the sparse steps must meet."""
    return run(
        get_backend("numpy").epoch, X.toarray(), y, coef, intercept, batch_size, lrs, l2, **kw
    )


def last_batches_done(backend):
    from fastreg._kernels import _sparse_numpy

    if backend.name == "numpy":
        return _sparse_numpy._last_batches_done()
    from fastreg._kernels import _sparse

    return _sparse._last_batches_done()


# --------------------------------------------------------------------------- the forward pass
@pytest.mark.parametrize("k", MODELS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
def test_forward_matches_plain_loop_and_dense_product(backend, k, dtype, index_dtype):
    """All rows (the compiled kernel transposes coef) and two rows (it reads coef in place)."""
    X, _, coef, intercept = problem(k, dtype, index_dtype)
    for rows in (X, X[:2], X[:0]):
        got = backend.sparse_linear_forward(rows, coef, intercept)
        assert got.dtype == np.dtype(dtype) and got.shape == (rows.shape[0], k)
        want = naive_sparse.linear_forward(rows, coef, intercept)
        np.testing.assert_allclose(got, want, rtol=RTOL[np.dtype(dtype)] / 10, atol=1e-5)
        dense = rows.toarray() @ coef.T + intercept
        np.testing.assert_allclose(got, dense, rtol=RTOL[np.dtype(dtype)] / 10, atol=1e-5)
        out = np.full((rows.shape[0], k), np.nan, dtype=dtype)
        assert backend.sparse_linear_forward(rows, coef, intercept, out=out) is out
        np.testing.assert_array_equal(out, got)


@pytest.mark.requires_cython
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", (1, 3, 20))
def test_compiled_forward_does_not_depend_on_how_rows_are_cut(
    cython_backend, numpy_backend, dtype, k
):
    """Rows in calls of 1, 3 and 17 (coef read in place) give the bits of one call over all
    rows (coef transposed): both sum each logit in the order of the row's nonzeros."""
    X, _, coef, intercept = problem(k, dtype, n=60, d=40)
    whole = cython_backend.sparse_linear_forward(X, coef, intercept)
    for size in (1, 3, 17):
        parts = [
            cython_backend.sparse_linear_forward(X[i : i + size], coef, intercept)
            for i in range(0, 60, size)
        ]
        np.testing.assert_array_equal(np.concatenate(parts), whole)
    twin = numpy_backend.sparse_linear_forward(X, coef, intercept)
    np.testing.assert_allclose(whole, twin, rtol=RTOL[np.dtype(dtype)] / 10, atol=1e-6)


# --------------------------------------------------------------------------- the plain loops
CASES = [  # (l2, sample weights, step scales, schedule)
    pytest.param(0.0, False, False, "constant", id="plain"),
    pytest.param(0.02, False, False, "varying", id="l2"),
    pytest.param(0.02, True, True, "constant", id="l2-weights-scales"),
    pytest.param(0.02, True, True, "varying", id="l2-weights-scales-varying"),
]


@pytest.mark.parametrize("k", MODELS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("batch_size", (1, 7, 40))
@pytest.mark.parametrize("l2, weights, scales, kind", CASES)
def test_epoch_matches_plain_loop(
    backend, k, dtype, index_dtype, batch_size, l2, weights, scales, kind
):
    X, y, coef, intercept = problem(k, dtype, index_dtype)
    kw = options(dtype, 40, 30, weights, scales)
    lrs = schedule(kind, -(-40 // batch_size))
    order = np.random.default_rng(5).permutation(40)
    c_ref, b_ref = coef.astype(np.float64), intercept.astype(np.float64)
    want = naive_sparse.epoch(X, y, c_ref, b_ref, order, batch_size, lrs, l2, **kw)
    c, b = coef.copy(), intercept.copy()
    got = backend.sparse_epoch(X, y, c, b, order, batch_size, lrs, l2, **kw)
    assert type(got[0]) is float and type(got[1]) is float
    assert c.dtype == np.dtype(dtype) and b.dtype == np.dtype(dtype)
    tol = 1e-11 if dtype == np.float64 else 3e-5
    np.testing.assert_allclose(got[0], want[0], rtol=tol)
    np.testing.assert_allclose(got[1], want[1], atol=1.5 / 40 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(c, c_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(b, b_ref, rtol=tol, atol=tol)
    assert last_batches_done(backend) == len(lrs)


# --------------------------------------------------------------------------- the dense epoch
DENSE_CASES = [  # (l2, step scales, schedule, learning rate)
    pytest.param(0.0, False, "constant", 0.3, id="no-l2"),
    pytest.param(0.0, True, "varying", 0.3, id="no-l2-scales"),
    pytest.param(0.02, False, "constant", 0.3, id="wscale"),
    pytest.param(0.02, False, "varying", 0.3, id="wscale-varying"),
    pytest.param(0.02, True, "constant", 0.3, id="lazy-one-rate"),
    pytest.param(0.02, True, "piecewise", 0.3, id="lazy-piecewise"),
    pytest.param(0.02, True, "varying", 0.3, id="lazy-series"),
    pytest.param(0.4, True, "varying", 0.3, id="lazy-pieces"),
    pytest.param(0.25, False, "constant", 2.0, id="wscale-fold-at-zero"),
    pytest.param(0.3, False, "constant", 2.0, id="wscale-fold-negative"),
    pytest.param(0.25, False, "constant", 1.0, id="wscale-fold-tiny"),
    pytest.param(0.1, True, "constant", 2.0, id="lazy-fold"),  # 1 - 0.4 s_j: to -0.2
]


@pytest.mark.parametrize("k", MODELS)
@pytest.mark.parametrize("batch_size", (1, 6, 40))
@pytest.mark.parametrize("weights", (False, True), ids=("unweighted", "weighted"))
@pytest.mark.parametrize("l2, scales, kind, lr", DENSE_CASES)
def test_epoch_equals_dense_numpy_epoch_on_toarray(
    backend, k, batch_size, weights, l2, scales, kind, lr
):
    """float64, 1e-10: each lazy shrink is the dense step's shrink of every weight."""
    X, y, coef, intercept = problem(k, np.float64)
    kw = options(np.float64, 40, 30, weights, scales)
    lrs = schedule(kind, -(-40 // batch_size), lr)
    got = run(backend.sparse_epoch, X, y, coef, intercept, batch_size, lrs, l2, **kw)
    want = dense_spec(X, y, coef, intercept, batch_size, lrs, l2, **kw)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    assert not np.allclose(got[1], coef)  # the weights did move


@pytest.mark.parametrize("k", MODELS)
@pytest.mark.parametrize(
    "kind, l2, series",
    [("varying", 1e-3, True), ("varying", 0.2, False), ("piecewise", 1e-3, True)],
)
def test_lazy_shrinks_over_long_gaps(backend, k, kind, l2, series):
    """Rare features (d = 400, a few nonzeros a row) wait hundreds of steps between reads; a
    rate that changes at every step makes their product the series (small shrinks) or the
    piece-by-piece product (large ones). Both equal the dense epoch's shrinks."""
    from fastreg._kernels import _sparse_numpy

    X, y, coef, intercept = problem(k, np.float64, n=300, d=400, density=0.01)
    kw = options(np.float64, 300, 400, True, True)
    lrs = schedule(kind, 300, 0.5)
    c = 2 * l2 * kw["step_scale"].max()
    assert (_sparse_numpy._series_terms(np.array([0.5 * c]), np.array([299]))[0] > 0) == series
    got = run(backend.sparse_epoch, X, y, coef, intercept, 1, lrs, l2, n_epochs=1, **kw)
    want = dense_spec(X, y, coef, intercept, 1, lrs, l2, n_epochs=1, **kw)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------- compiled == twin
@pytest.mark.requires_cython
@pytest.mark.parametrize("k", MODELS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("batch_size", (1, 32, 100))
@pytest.mark.parametrize("weights", (False, True), ids=("unweighted", "weighted"))
@pytest.mark.parametrize("l2, scales, kind, lr", DENSE_CASES)
def test_compiled_epoch_matches_numpy_twin(
    cython_backend, numpy_backend, k, dtype, index_dtype, batch_size, weights, l2, scales, kind, lr
):
    X, y, coef, intercept = problem(k, dtype, index_dtype, n=90, d=50)
    kw = options(dtype, 90, 50, weights, scales)
    lrs = schedule(kind, -(-90 // batch_size), lr)
    ours = run(cython_backend.raw.sparse_epoch, X, y, coef, intercept, batch_size, lrs, l2, **kw)
    spec = run(numpy_backend.raw.sparse_epoch, X, y, coef, intercept, batch_size, lrs, l2, **kw)
    assert_runs_close(ours, spec, RTOL[np.dtype(dtype)], n_rows=90)


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("k", (1, 3))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights", (False, True), ids=("unweighted", "weighted"))
@pytest.mark.parametrize("scales", (False, True), ids=("uniform", "step-scale"))
def test_one_full_batch_step_is_minus_lr_times_the_gradient(backend, k, dtype, weights, scales):
    """One batch of every row: coef moves by -lr P dJ/dcoef, intercept by -lr dJ/db, with J the
    (weighted) mean cross-entropy plus l2 ||coef||^2 differentiated numerically (weights of
    mean 1, as the estimators pass them)."""
    X, y, coef, intercept = problem(k, dtype, n=25, d=8)
    l2, lr = 0.05, 0.4
    kw = options(dtype, 25, 8, weights, scales)
    v = kw["sample_weight"]
    if weights:
        kw["sample_weight"] = v = (v / v.mean()).astype(dtype)
    c, b = coef.copy(), intercept.copy()
    backend.sparse_epoch(X, y, c, b, np.arange(25), 25, np.array([lr]), l2, **kw)
    Xd = X.toarray().astype(np.float64)
    c64, b64 = coef.astype(np.float64), intercept.astype(np.float64)
    g_coef, g_b = numerical_gradient(
        Xd,
        y,
        c64,
        b64,
        l2=l2,
        backend="numpy",
        sample_weight=v.astype(np.float64) if weights else None,
    )
    s = np.ones(8) if kw["step_scale"] is None else kw["step_scale"].astype(np.float64)
    tol = 1e-6 if dtype == np.float64 else 2e-3
    np.testing.assert_allclose((c64 - c) / (lr * s), g_coef, rtol=tol, atol=tol)
    np.testing.assert_allclose((b64 - b) / lr, g_b, rtol=tol, atol=tol)


@pytest.mark.parametrize("k", MODELS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scales", (False, True), ids=("uniform", "step-scale"))
def test_integer_weights_are_repeated_rows(backend, k, dtype, scales):
    """A full-batch epoch with integer weights w (normalised to mean 1) is the epoch on the
    rows repeated w times (a weight of 0 drops its row), loss and accuracy included."""
    X, y, coef, intercept = problem(k, dtype)
    w = np.random.default_rng(4).integers(0, 4, 40)
    step_scale = options(dtype, 40, 30, False, scales)["step_scale"]
    lrs = np.array([0.5])
    c, b = coef.copy(), intercept.copy()
    got = backend.sparse_epoch(
        X,
        y,
        c,
        b,
        np.arange(40),
        40,
        lrs,
        0.03,
        sample_weight=(w / w.mean()).astype(dtype),
        step_scale=step_scale,
    )
    rows = np.repeat(np.arange(40), w)
    c_rep, b_rep = coef.copy(), intercept.copy()
    want = backend.sparse_epoch(
        X[rows],
        y[rows],
        c_rep,
        b_rep,
        np.arange(rows.size),
        rows.size,
        lrs,
        0.03,
        step_scale=step_scale,
    )
    rtol = RTOL[np.dtype(dtype)]
    np.testing.assert_allclose(got, want, rtol=rtol)
    np.testing.assert_allclose(c, c_rep, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(b, b_rep, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("k", MODELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_unit_weights_and_scales_are_none(backend, k, dtype):
    """sample_weight of ones and step_scale of ones (the per-feature path, l2 > 0) step as None
    does (the weighted sums and the lazy scales round differently: to rounding)."""
    X, y, coef, intercept = problem(k, dtype)
    lrs = schedule("varying", 5)
    plain = run(backend.sparse_epoch, X, y, coef, intercept, 8, lrs, 0.05)
    ones = run(
        backend.sparse_epoch,
        X,
        y,
        coef,
        intercept,
        8,
        lrs,
        0.05,
        sample_weight=np.ones(40, dtype),
        step_scale=np.ones(30, dtype),
    )
    assert_runs_close(ones, plain, RTOL[np.dtype(dtype)])


# --------------------------------------------------------------------------- inputs
@pytest.mark.parametrize("k", MODELS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lazy", (False, True), ids=("wscale", "lazy"))
def test_read_only_inputs(backend, k, dtype, lazy):
    X, y, coef, intercept = problem(k, dtype)
    kw = options(dtype, 40, 30, True, lazy)
    lrs = schedule("varying", 4)
    want = run(backend.sparse_epoch, X, y, coef, intercept, 10, lrs, 0.02, **kw)
    X_ro, y_ro, lrs_ro = X.copy(), y.copy(), lrs.copy()
    kw_ro = {key: None if v is None else v.copy() for key, v in kw.items()}
    for a in (X_ro.data, X_ro.indices, X_ro.indptr, y_ro, lrs_ro, *kw_ro.values()):
        if a is not None:
            a.setflags(write=False)
    got = run(backend.sparse_epoch, X_ro, y_ro, coef, intercept, 10, lrs_ro, 0.02, **kw_ro)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        backend.sparse_linear_forward(X_ro, coef, intercept),
        backend.sparse_linear_forward(X, coef, intercept),
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("array", (False, True), ids=("csr_matrix", "csr_array"))
def test_repeated_and_unsorted_indices_add_up(backend, dtype, array):
    """X as stored (repeats, any order) trains as its canonical form (sorted, summed)."""
    X, y, coef, intercept = problem(4, dtype, array=array)
    assert not X.has_canonical_format
    canonical = X.copy()
    canonical.sum_duplicates()
    assert canonical.has_canonical_format and canonical.nnz < X.nnz
    lrs = schedule("constant", 5)
    kw = options(dtype, 40, 30, True, True)
    got = run(backend.sparse_epoch, X, y, coef, intercept, 8, lrs, 0.02, **kw)
    want = run(backend.sparse_epoch, canonical, y, coef, intercept, 8, lrs, 0.02, **kw)
    assert_runs_close(got, want, RTOL[np.dtype(dtype)])


@pytest.mark.parametrize("k", MODELS)
def test_empty_rows_move_only_the_intercept(backend, k):
    """Rows without a nonzero: the logits are the intercept, the step moves the intercept and
    shrinks coef by the L2 term alone (per feature with a step_scale)."""
    _X, y, coef, intercept = problem(k, np.float64)
    empty = sp.csr_matrix((40, 30))
    for scales in (False, True):
        kw = options(np.float64, 40, 30, False, scales)
        got = run(backend.sparse_epoch, empty, y, coef, intercept, 8, np.full(5, 0.3), 0.1, **kw)
        want = dense_spec(empty, y, coef, intercept, 8, np.full(5, 0.3), 0.1, **kw)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        s = 1.0 if kw["step_scale"] is None else kw["step_scale"]
        np.testing.assert_allclose(got[1], coef * (1 - 2 * 0.3 * 0.1 * s) ** 10, rtol=1e-12)


@pytest.mark.parametrize("k", MODELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_logits_stay_finite(backend, k, dtype):
    """Logits of |z| ~ 1e3..1e4: stable log-sum-exp and log1pexp keep loss and steps finite;
    with every learning rate 0 the epoch reports the loss of the plain loops."""
    X, y, coef, intercept = problem(k, dtype)
    coef = (coef * 3e3).astype(dtype)
    Z = naive_sparse.linear_forward(X, coef, intercept)
    assert np.abs(Z).max() > 1e3
    c, b = coef.copy(), intercept.copy()
    loss, _ = backend.sparse_epoch(X, y, c, b, np.arange(40), 8, np.zeros(5), 0.0)
    np.testing.assert_allclose(loss, naive.cross_entropy(Z, y).mean(), rtol=1e-4)
    np.testing.assert_array_equal(c, coef)
    got = run(backend.sparse_epoch, X, y, coef, intercept, 4, np.full(10, 1e-4), 0.0)
    assert np.isfinite(got[0]).all() and got[0][0, 0] > 100
    assert np.isfinite(got[1]).all() and np.isfinite(got[2]).all()


@pytest.mark.parametrize("lazy", (False, True), ids=("wscale", "lazy"))
def test_n_threads_is_accepted_and_changes_nothing(backend, lazy):
    X, y, coef, intercept = problem(4, np.float32)
    kw = options(np.float32, 40, 30, True, lazy)
    one = run(
        backend.sparse_epoch, X, y, coef, intercept, 8, np.full(5, 0.3), 0.02, n_threads=1, **kw
    )
    two = run(
        backend.sparse_epoch, X, y, coef, intercept, 8, np.full(5, 0.3), 0.02, n_threads=2, **kw
    )
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_indices_and_indptr_of_two_int_types_are_converted(backend):
    X, y, coef, intercept = problem(3, np.float64)
    mixed = X.copy()
    mixed.indptr = mixed.indptr.astype(np.int64)
    assert mixed.indices.dtype == np.int32
    want = run(backend.sparse_epoch, X, y, coef, intercept, 8, np.full(5, 0.3), 0.02)
    got = run(backend.sparse_epoch, mixed, y, coef, intercept, 8, np.full(5, 0.3), 0.02)
    assert_runs_close(got, want, 1e-12)
    assert mixed.indptr.dtype == np.int64  # the caller's matrix is left as it was


# --------------------------------------------------------------------------- non-finite stop
@pytest.mark.parametrize("k", MODELS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lazy", (False, True), ids=("wscale", "lazy"))
def test_non_finite_batch_stops_before_its_step(backend, k, dtype, lazy):
    """A batch whose loss overflows returns (nan, nan) and leaves the weights as that batch
    found them: those after the batches before it (``_last_batches_done()`` of them)."""
    X, y, coef, intercept = problem(k, dtype)
    coef, intercept = np.abs(coef) + dtype(1), np.abs(intercept)  # a huge row: huge logits
    order = np.random.default_rng(2).permutation(40)
    B, bad = 5, 3
    X = X.copy()
    row = order[bad * B + 2]
    X.data[X.indptr[row] : X.indptr[row + 1]] = np.finfo(dtype).max
    assert X.indptr[row + 1] > X.indptr[row]
    kw = options(dtype, 40, 30, False, lazy)
    lrs = np.full(8, 1e-3)
    c, _ = interrupts.assert_stops_before_batch(
        backend.sparse_epoch,
        X,
        y,
        coef,
        intercept,
        order,
        B,
        bad,
        lrs,
        0.01,
        lambda: last_batches_done(backend),
        **kw,
    )
    assert np.isfinite(c).all()
    first = np.concatenate([order[bad * B :], order[: bad * B]])  # the bad batch first
    interrupts.assert_stops_before_batch(
        backend.sparse_epoch,
        X,
        y,
        coef,
        intercept,
        first,
        B,
        0,
        lrs,
        0.01,
        lambda: last_batches_done(backend),
        **kw,
    )


# --------------------------------------------------------------------------- signals
@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer")
@pytest.mark.parametrize("lazy", (False, True), ids=("wscale", "lazy"))
def test_an_exception_from_a_signal_handler_leaves_whole_batches(backend, lazy):
    """Whatever a signal handler raises propagates from the epoch, and wherever it lands coef
    and intercept are bitwise those after the batches the kernel reports done (the compiled
    epoch runs the handlers between batches; the twin commits a step, and writes the working
    copy back, with no call in between)."""
    if backend.name == "cython":
        n, d, k, B, reps, want = 4000, 3000, 10, 32, 20, 4  # ~100 ms: several 10 ms checks
    else:
        n, d, k, B, reps, want = 64, 50, 4, 1, 1, 30
    X, y, coef, intercept = problem(k, np.float32, n=n, d=d, density=60 / d)
    kw = options(np.float32, n, d, True, lazy)
    order = np.tile(np.random.default_rng(1).permutation(n), reps)
    lrs = 0.05 / (1.0 + 0.01 * np.arange(-(-order.size // B)))
    interrupts.assert_cuts_leave_whole_batches(
        lambda c, b, rows: backend.sparse_epoch(X, y, c, b, rows, B, lrs, 0.01, **kw),
        lambda: last_batches_done(backend),
        coef,
        intercept,
        order,
        B,
        want,
    )


# --------------------------------------------------------------------------- refused inputs
def _good(name):
    """Valid arguments of ``name`` (K = 3, 6 rows, 5 features, float64, int32 indices)."""
    X, y, coef, intercept = problem(3, np.float64, n=6, d=5, density=0.6)
    if name == "sparse_linear_forward":
        return dict(X=X, coef=coef, intercept=intercept)
    return dict(
        X=X,
        y=y % 3,
        coef=coef,
        intercept=intercept,
        order=np.arange(6),
        batch_size=4,
        learning_rates=np.full(2, 0.1),
        l2=0.01,
        n_threads=1,
        sample_weight=np.ones(6),
        step_scale=np.ones(5),
    )


def _with(X, **parts):
    """A copy of the CSR matrix X with some of its arrays (or its shape) replaced, unchecked:
    what a caller can build by hand."""
    X = X.copy()
    for name, value in parts.items():
        if name == "shape":
            X._shape = value
        else:
            setattr(X, name, value)
    return X


def _bad_index(a):
    X = a["X"].copy()
    X.indices[0] = 5
    return X


def _negative_index(a):
    X = a["X"].copy()
    X.indices[-1] = -1
    return X


#: (id, kernel, change of the valid arguments, exception, message pattern)
BAD_INPUTS = [
    (
        "dense-X",
        "sparse_epoch",
        dict(X=lambda a: a["X"].toarray()),
        TypeError,
        "CSR matrix or array",
    ),
    (
        "csc-X",
        "sparse_linear_forward",
        dict(X=lambda a: a["X"].tocsc()),
        TypeError,
        r"X\.tocsr\(\)",
    ),
    ("coo-X", "sparse_epoch", dict(X=lambda a: a["X"].tocoo()), TypeError, "CSR"),
    ("list-X", "sparse_linear_forward", dict(X=lambda a: [[1.0]]), TypeError, "CSR"),
    (
        "X-float32",
        "sparse_epoch",
        dict(X=lambda a: a["X"].astype(np.float32)),
        TypeError,
        "float64",
    ),
    (
        "X-features",
        "sparse_linear_forward",
        dict(X=lambda a: a["X"][:, :4]),
        ValueError,
        "4 features but coef has 5",
    ),
    (
        "index-out-of-range",
        "sparse_epoch",
        dict(X=_bad_index),
        ValueError,
        r"column indices outside 0\.\.4",
    ),
    (
        "negative-index",
        "sparse_linear_forward",
        dict(X=_negative_index),
        ValueError,
        "column indices outside",
    ),
    (
        "indptr-length",
        "sparse_epoch",
        dict(X=lambda a: _with(a["X"], indptr=a["X"].indptr[:-1])),
        ValueError,
        "indptr has 6 entries for 6 rows",
    ),
    (
        "indptr-start",
        "sparse_linear_forward",
        dict(X=lambda a: _with(a["X"], indptr=a["X"].indptr + 1)),
        ValueError,
        "rise from 0",
    ),
    (
        "indptr-beyond",
        "sparse_epoch",
        dict(X=lambda a: _with(a["X"], indptr=np.append(a["X"].indptr[:-1], 10**6))),
        ValueError,
        "not a valid CSR",
    ),
    (
        "indptr-decreasing",
        "sparse_epoch",
        dict(X=lambda a: _with(a["X"], indptr=np.array([0, 3, 1, 4, 4, 6, a["X"].nnz], np.int32))),
        ValueError,
        "never decreasing",
    ),
    (
        "indices-float",
        "sparse_linear_forward",
        dict(X=lambda a: _with(a["X"], indices=a["X"].indices.astype(float))),
        TypeError,
        "int32 or int64",
    ),
    (
        "indptr-int16",
        "sparse_epoch",
        dict(X=lambda a: _with(a["X"], indptr=a["X"].indptr.astype(np.int16))),
        TypeError,
        "int32 or int64",
    ),
    (
        "data-strided",
        "sparse_epoch",
        dict(X=lambda a: _with(a["X"], data=np.repeat(a["X"].data, 2)[::2])),
        ValueError,
        "C-contiguous",
    ),
    (
        "data-2d",
        "sparse_linear_forward",
        dict(X=lambda a: _with(a["X"], data=a["X"].data[:, None])),
        ValueError,
        "1-d",
    ),
    (
        "coef-read-only",
        "sparse_epoch",
        dict(coef=lambda a: _read_only(a["coef"])),
        ValueError,
        "writeable",
    ),
    (
        "intercept-shape",
        "sparse_linear_forward",
        dict(intercept=lambda a: np.zeros(2)),
        ValueError,
        r"intercept \(3,\)",
    ),
    (
        "out-shape",
        "sparse_linear_forward",
        dict(out=lambda a: np.empty((5, 3))),
        ValueError,
        r"out must have shape \(6, 3\)",
    ),
    (
        "y-length",
        "sparse_epoch",
        dict(y=lambda a: a["y"][:5].copy()),
        ValueError,
        "one label per row",
    ),
    (
        "y-label",
        "sparse_epoch",
        dict(y=lambda a: np.full(6, 3, np.intc)),
        ValueError,
        r"outside 0\.\.2",
    ),
    (
        "order-out-of-range",
        "sparse_epoch",
        dict(order=lambda a: np.arange(1, 7)),
        ValueError,
        r"order holds row indices outside 0\.\.5",
    ),
    ("order-empty", "sparse_epoch", dict(order=lambda a: np.arange(0)), ValueError, "empty"),
    (
        "too-few-learning-rates",
        "sparse_epoch",
        dict(learning_rates=lambda a: np.full(1, 0.1)),
        ValueError,
        "learning_rates has 1 entries but the epoch has 2 batches",
    ),
    ("batch-size-0", "sparse_epoch", dict(batch_size=lambda a: 0), ValueError, "batch_size"),
    ("n-threads-0", "sparse_epoch", dict(n_threads=lambda a: 0), ValueError, "n_threads"),
    ("l2-negative", "sparse_epoch", dict(l2=lambda a: -1.0), ValueError, "l2"),
    (
        "sample-weight-negative",
        "sparse_epoch",
        dict(sample_weight=lambda a: -np.ones(6)),
        ValueError,
        "negative",
    ),
    (
        "sample-weight-zero",
        "sparse_epoch",
        dict(sample_weight=lambda a: np.zeros(6)),
        ValueError,
        "zero",
    ),
    (
        "sample-weight-length",
        "sparse_epoch",
        dict(sample_weight=lambda a: np.ones(5)),
        ValueError,
        "sample_weight has 5 entries",
    ),
    (
        "step-scale-zero",
        "sparse_epoch",
        dict(step_scale=lambda a: np.zeros(5)),
        ValueError,
        "step_scale",
    ),
    (
        "step-scale-length",
        "sparse_epoch",
        dict(step_scale=lambda a: np.ones(6)),
        ValueError,
        "step_scale has 6 entries",
    ),
]


def _read_only(a):
    a = a.copy()
    a.setflags(write=False)
    return a


@pytest.mark.parametrize(
    "case, name, change, error, match", BAD_INPUTS, ids=[f"{c[1]}-{c[0]}" for c in BAD_INPUTS]
)
def test_every_backend_refuses_the_same_inputs(case, name, change, error, match):
    """Each malformed CSR object or bad argument raises the same exception with the same
    message on every backend that loads (the check of _checks.py runs before the raw kernel:
    what keeps the compiled kernel from reading out of bounds), and the valid arguments it was
    made from pass."""
    refusals.assert_every_backend_refuses(name, lambda: _good(name), change, error, match)
