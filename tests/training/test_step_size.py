"""learning_rate="auto" (fastreg/_training/step_size.py, reading rows by row_moments.py): the step
from the data.

lr = STEP_FACTOR / (L(B) + 2 l2 max_j s_j), s_j = 1 / (max|x_j|^2 + 2 l2 / c) (1 for all-zero
columns when l2 = 0), L(B) the mini-batch expected smoothness of the loss in the preconditioned
features x_j sqrt(s_j).
Checked here: the formula on a hand-computed example, the invariances the estimators rely on
(row order, integer weights == repeated rows, zero weight == absent row, the block size), that
uint8 + input_scale, sparse, float32 and float64 describe the same data, and the bad inputs.
"""

import inspect

import numpy as np
import pytest

from fastreg._training import row_moments, step_size
from fastreg._training.step_size import STEP_FACTOR, auto_step, expected_smoothness

RNG = np.random.default_rng(0)


def dense(n=60, d=7, seed=0, signed=True):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.01, 50, d)  # features of unlike scales
    return X if signed else np.abs(X)


def rows_of(n):
    return np.arange(n, dtype=np.intp)


def exact_lambda(X, rows, weights=None):
    """lambda_max of M = sum w x~ x~^T / sum w, x~ = (x / maxabs, 1), by eigvalsh."""
    Xr = np.asarray(X[rows], dtype=np.float64)
    w = np.ones(len(rows)) if weights is None else weights[rows]
    Xr, w = Xr[w > 0], w[w > 0]
    m = np.abs(Xr).max(axis=0)
    m[m == 0] = 1
    Xt = np.hstack([Xr / m, np.ones((len(Xr), 1))])
    return np.linalg.eigvalsh(Xt.T @ (w[:, None] * Xt) / w.sum())[-1]


# ----------------------------------------------------------------------------- the formula
def test_hand_computed_example():
    # x_0 in {2, -1, 0}, x_1 all zero: m = (2, 0), s = (1/4, 1), x' = (1, -1/2, 0)
    X = np.array([[2.0, 0.0], [-1.0, 0.0], [0.0, 0.0]])
    # M over (x'_0, x'_1, 1) = [[5/12, 0, 1/6], [0, 0, 0], [1/6, 0, 1]]
    a, b, e = 5 / 12, 1 / 6, 1.0
    lam = (a + e) / 2 + np.sqrt(((a - e) / 2) ** 2 + b**2)  # 1.04426...
    assert lam == pytest.approx(1.0442600, abs=1e-6)
    c = 0.25  # sigmoid
    l_full, l_max = c * lam, c * (1.0 + 1.0)  # max ||x'||^2 = 1, plus the bias
    n, B = 3, 2
    L = n * (B - 1) / (B * (n - 1)) * l_full + (n - B) / (B * (n - 1)) * l_max
    lr, s = auto_step(X, rows_of(3), None, 1, B, 0.0, 1.0)
    assert s.tolist() == [0.25, 1.0]
    assert lr == pytest.approx(STEP_FACTOR / L, rel=1e-12)
    assert STEP_FACTOR == 1.5  # the documented constant; change the docs with it
    # l2 = 0.1: s_j = 1 / (m_j^2 + 2 l2 / c) = (1/4.8, 1/0.8), x'_0 = x_0 / sqrt(4.8), and the
    # L2 term adds its curvature 2 l2 s_j in those coordinates, at most 2 l2 max s = 0.25
    s2_expected = [1 / 4.8, 1 / 0.8]
    q = np.array([2.0, -1.0, 0.0]) / np.sqrt(4.8)
    a2, b2 = float(np.mean(q**2)), float(np.mean(q))
    lam2 = (a2 + e) / 2 + np.sqrt(((a2 - e) / 2) ** 2 + b2**2)
    L2 = n * (B - 1) / (B * (n - 1)) * c * lam2 + (n - B) / (B * (n - 1)) * c * (
        float(np.max(q**2)) + 1.0
    )
    lr2, s2 = auto_step(X, rows_of(3), None, 1, B, 0.1, 1.0)
    assert s2.tolist() == pytest.approx(s2_expected, rel=1e-15)
    assert lr2 == pytest.approx(STEP_FACTOR / (L2 + 2 * 0.1 * 1.25), rel=1e-12)
    # softmax: c = 1/2, half the step
    lr3, _ = auto_step(X, rows_of(3), None, 3, B, 0.0, 1.0)
    assert lr3 == pytest.approx(lr / 2, rel=1e-12)


def test_expected_smoothness_ends():
    assert expected_smoothness(2.0, 10.0, 100, 1) == pytest.approx(10.0)  # B = 1: L_max
    assert expected_smoothness(2.0, 10.0, 100, 100) == 2.0  # full batch
    assert expected_smoothness(2.0, 10.0, 100, 500) == 2.0
    assert expected_smoothness(2.0, 10.0, 1, 1) == 2.0  # one row
    # between the two, growing with n for a fixed batch (more rows: noisier batches)
    values = [expected_smoothness(2.0, 10.0, n, 32) for n in (33, 64, 1000, 10**9)]
    assert all(2.0 < v < 10.0 for v in values) and values == sorted(values)
    assert values[-1] == pytest.approx(2.0 * 31 / 32 + 10.0 / 32)


@pytest.mark.parametrize("B", [1, 7, 32, 10**6])
def test_batch_ends_against_direct_statistics(B):
    # one feature: (x', 1) spans a plane that the start block (ones, e_b) spans too, so the
    # power pass finds lambda_max exactly
    X = dense(40, 1)
    lr, s = auto_step(X, rows_of(40), None, 2, B, 0.0, 1.0)
    xp = X * np.sqrt(s)
    l_max = 0.5 * ((xp**2).sum(axis=1).max() + 1)
    l_full = 0.5 * exact_lambda(X, rows_of(40))
    assert lr == pytest.approx(STEP_FACTOR / expected_smoothness(l_full, l_max, 40, B), rel=1e-6)


def test_lambda_estimate_is_a_lower_bound_close_for_uncentred_data():
    # one power pass from (ones, e_b): Rayleigh quotients, never above lambda_max, and close
    # to it when the features' mean dominates (raw measurements, pixels)
    X = dense(300, 20, seed=3, signed=False) + 5.0
    d = row_moments.DenseRows(X, rows_of(300), None)
    m = d.maxabs()
    d.precondition(1 / m)
    lam = step_size._half_ritz(*d.moments()[:2])
    exact = exact_lambda(X, rows_of(300))
    assert 0.99 * exact <= lam <= exact * (1 + 1e-12)
    # centred data: still a lower bound (the bias direction gives at least ~1)
    Z = dense(300, 20, seed=4)
    Z -= Z.mean(axis=0)
    d = row_moments.DenseRows(Z, rows_of(300), None)
    d.precondition(1 / d.maxabs())
    lam = step_size._half_ritz(*d.moments()[:2])
    assert 0.99 <= lam <= exact_lambda(Z, rows_of(300)) * (1 + 1e-12)


# ----------------------------------------------------------------------------- invariances
@pytest.mark.parametrize("used", [1700, 800])  # X read in place, or the rows gathered
def test_row_order_is_irrelevant(used, monkeypatch):
    # float32 sums in blocks of 16 rows: another grouping of the rows rounds differently
    monkeypatch.setattr(row_moments, "_CHUNK_BYTES", 4 * 9 * 16)
    X = dense(2000, 9).astype(np.float32)
    rows = np.random.default_rng(1).permutation(2000)[:used].astype(np.intp)
    a = auto_step(X, rows, None, 3, 32, 0.01, 1.0)
    b = auto_step(X, rows[::-1].copy(), None, 3, 32, 0.01, 1.0)
    c = auto_step(X, np.sort(rows), None, 3, 32, 0.01, 1.0)
    assert a[0] == b[0] == c[0]  # the rows are read in index order: bit for bit
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("n, B", [(15, 32), (300, 32), (300, 4)])
def test_integer_weights_equal_repeated_rows(n, B):
    # scikit-learn's check_sample_weight_equivalence: 15 rows x 30 features, weights 0..4
    rng = np.random.default_rng(42)
    X = rng.random((n, 30))
    w = rng.integers(0, 5, n).astype(np.float64)
    w[0] = 0
    X[0] = 1e6  # a row of weight 0 is absent: its huge values change nothing
    rep = np.repeat(np.arange(n), w.astype(int))
    X_rep = X[rng.permutation(rep)]
    weighted = auto_step(X, rows_of(n), w, 3, B, 0.0, 1.0)
    repeated = auto_step(X_rep, rows_of(len(X_rep)), None, 3, B, 0.0, 1.0)
    assert weighted[0] == pytest.approx(repeated[0], rel=1e-12)
    np.testing.assert_allclose(weighted[1], repeated[1], rtol=1e-15)
    # listing a row twice in ``rows`` is the same as weight 2
    twice = np.concatenate([rows_of(n), [3, 3]]).astype(np.intp)
    w2 = np.ones(n)
    w2[3] = 3
    assert auto_step(X, twice, None, 1, B, 0.0, 1.0)[0] == pytest.approx(
        auto_step(X, rows_of(n), w2, 1, B, 0.0, 1.0)[0], rel=1e-12
    )


def test_weight_scale_changes_only_the_row_count():
    # n = max(rows, sum w): scaling the weights up can only lower the step (a larger n)
    X = dense(100, 6)
    w = np.random.default_rng(2).uniform(0.5, 2.0, 100)
    base = auto_step(X, rows_of(100), w / w.mean(), 2, 32, 0.0, 1.0)[0]
    small = auto_step(X, rows_of(100), w * 1e-3, 2, 32, 0.0, 1.0)[0]
    large = auto_step(X, rows_of(100), w * 1e3, 2, 32, 0.0, 1.0)[0]
    assert small == pytest.approx(base, rel=1e-12)  # n = 100 rows either way
    assert large < base and large == pytest.approx(base, rel=0.1)


def test_rows_left_out_and_zero_weights_are_absent():
    X = dense(120, 5)
    X[7] = 1e30  # huge, finite, and not a training row
    keep = np.setdiff1d(np.arange(120), [7]).astype(np.intp)
    a = auto_step(X, keep, None, 2, 16, 0.0, 1.0)
    b = auto_step(np.delete(X, 7, axis=0), rows_of(119), None, 2, 16, 0.0, 1.0)
    w = np.ones(120)
    w[7] = 0
    c = auto_step(X, rows_of(120), w, 2, 16, 0.0, 1.0)
    for other in (b, c):
        assert a[0] == pytest.approx(other[0], rel=1e-12)
        np.testing.assert_array_equal(a[1], other[1])


@pytest.mark.parametrize("fraction", [0.2, 0.9])  # rows gathered, or X read in place
def test_subset_equals_the_materialised_rows(fraction, monkeypatch):
    X = dense(500, 8, seed=5)
    rows = np.random.default_rng(3).permutation(500)[: int(500 * fraction)].astype(np.intp)
    monkeypatch.setattr(row_moments, "_CHUNK_BYTES", 8 * 8 * 13)  # blocks of 13 rows
    a = auto_step(X, rows, None, 4, 32, 0.0, 1.0)
    b = auto_step(
        np.ascontiguousarray(X[np.sort(rows)]), rows_of(len(rows)), None, 4, 32, 0.0, 1.0
    )
    assert a[0] == pytest.approx(b[0], rel=1e-12)
    np.testing.assert_array_equal(a[1], b[1])


def test_block_size_and_threads_do_not_matter(monkeypatch):
    X = dense(257, 11)
    ref = auto_step(X, rows_of(257), None, 1, 32, 0.0, 1.0)
    for size in (8 * 11, 8 * 11 * 10, 1 << 24):
        monkeypatch.setattr(row_moments, "_CHUNK_BYTES", size)
        lr, s = auto_step(X, rows_of(257), None, 1, 32, 0.0, 1.0)
        assert lr == pytest.approx(ref[0], rel=1e-12)
        np.testing.assert_array_equal(s, ref[1])
    # no thread setting to depend on: the step is a function of the data and B, K, l2 alone
    assert not any("thread" in p for p in inspect.signature(auto_step).parameters)


# ----------------------------------------------------------------------------- input kinds
def test_uint8_with_input_scale_equals_the_float_features():
    Xu = np.random.default_rng(4).integers(0, 256, (300, 40), dtype=np.uint8)
    Xu[:, 3] = 0  # an all-zero column
    Xu[:, 5] = Xu[:, 5] // 16  # a column of small counts (max < 255)
    rows = np.random.default_rng(5).permutation(300)[:270].astype(np.intp)
    lr_u, s_u = auto_step(Xu, rows, None, 10, 32, 1e-4, 1 / 255)
    lr_f, s_f = auto_step(Xu / 255.0, rows, None, 10, 32, 1e-4, 1.0)
    assert s_u.dtype == np.float64  # uint8: the weights' default float64
    assert lr_u == pytest.approx(lr_f, rel=1e-5)  # uint8 computes in float32
    np.testing.assert_allclose(s_u, s_f, rtol=1e-12)
    assert s_u[3] == 0.5 / (2 * 1e-4) and s_u[5] > 1.0  # zero column: L2 alone
    # the preconditioned features do not depend on input_scale, only the step scales do
    lr_2, s_2 = auto_step(Xu, rows, None, 10, 32, 0.0, 1 / 255)
    lr_3, s_3 = auto_step(Xu, rows, None, 10, 32, 0.0, 1.0)
    assert lr_2 == lr_3
    nz = np.arange(40) != 3  # s_j = 1 / (input_scale m_j)^2, and 1 for the zero column
    np.testing.assert_allclose(s_3[nz] * 255.0**2, s_2[nz], rtol=1e-12)
    assert s_2[3] == s_3[3] == 1.0
    assert auto_step(Xu, rows, None, 10, 32, 0.0, 1 / 255, dtype=np.float32)[1].dtype == np.float32


def test_float32_and_float64_agree():
    X = dense(400, 12, seed=6)
    lr64, s64 = auto_step(X, rows_of(400), None, 3, 32, 0.0, 1.0)
    lr32, s32 = auto_step(X.astype(np.float32), rows_of(400), None, 3, 32, 0.0, 1.0)
    assert (s64.dtype, s32.dtype) == (np.float64, np.float32)
    assert lr32 == pytest.approx(lr64, rel=1e-5)
    np.testing.assert_allclose(s32, s64, rtol=1e-6)


def test_sparse_equals_dense():
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(7)
    X = dense(250, 30, seed=7)
    X[rng.random(X.shape) < 0.8] = 0.0
    X[:, 4] = 0.0
    rows = rng.permutation(250)[:200].astype(np.intp)
    ref = auto_step(X, rows, None, 1, 32, 0.0, 1.0)
    S = sparse.csr_matrix(X)
    data_before = S.data.copy()
    for M in (S, sparse.csr_array(X).astype(np.float64)):
        lr, s = auto_step(M, rows, None, 1, 32, 0.0, 1.0)
        assert lr == pytest.approx(ref[0], rel=1e-10)
        np.testing.assert_allclose(s, ref[1], rtol=1e-15)
    np.testing.assert_array_equal(S.data, data_before)  # X is read, never written
    # duplicates are summed, the index order and index dtype do not matter: every stored
    # entry split in two halves, each row's entries reversed, int64 indices
    data, indices, indptr = [], [], [0]
    for r in range(X.shape[0]):
        a, b = S.indptr[r], S.indptr[r + 1]
        data += list(S.data[a:b][::-1] / 2) + list(S.data[a:b] / 2)
        indices += list(S.indices[a:b][::-1]) + list(S.indices[a:b])
        indptr.append(len(data))
    dup = sparse.csr_matrix(
        (np.array(data), np.array(indices, dtype=np.int64), np.array(indptr, dtype=np.int64)),
        shape=X.shape,
    )
    assert not dup.has_canonical_format and dup.nnz == 2 * S.nnz
    lr, s = auto_step(dup, rows, None, 1, 32, 0.0, 1.0)
    assert dup.nnz == 2 * S.nnz  # not summed in place
    assert lr == pytest.approx(ref[0], rel=1e-10)
    np.testing.assert_allclose(s, ref[1], rtol=1e-15)


def test_all_zero_columns():
    X = dense(80, 4)
    Xz = np.hstack([X, np.zeros((80, 2))])
    lr, _ = auto_step(X, rows_of(80), None, 2, 32, 0.0, 1.0)
    lrz, sz = auto_step(Xz, rows_of(80), None, 2, 32, 0.0, 1.0)
    assert lrz == pytest.approx(lr, rel=1e-12)  # no data curvature in those columns
    assert sz[4:].tolist() == [1.0, 1.0]
    # with L2 their curvature is the L2 term's alone: s_j = 1 / (2 l2 / c) = c / (2 l2)
    # (all-zero X: M = e_b e_b^T, every row norm 0, so L(B) = c = 1/2 for any B)
    lr_l2, s_l2 = auto_step(np.zeros((80, 6)), rows_of(80), None, 2, 32, 0.5, 1.0)
    assert s_l2.tolist() == [0.5] * 6
    assert lr_l2 == pytest.approx(STEP_FACTOR / (0.5 + 2 * 0.5 * 0.5), rel=1e-12)


def test_l2_damps_the_step_scale_and_adds_at_most_c():
    X = dense(90, 5)
    X[:, 0] *= 1e-4  # a feature of tiny scale: without damping s_0 would be ~1e8 times s_1
    m = np.abs(X).max(axis=0)
    lr0, s0 = auto_step(X, rows_of(90), None, 2, 32, 0.0, 1.0)
    assert s0 == pytest.approx(1 / m**2, rel=1e-12)
    for l2 in (1e-4, 0.3):
        lr, s = auto_step(X, rows_of(90), None, 2, 32, l2, 1.0)
        assert s == pytest.approx(1 / (m**2 + 2 * l2 / 0.5), rel=1e-12)
        assert 2 * l2 * s.max() <= 0.5  # the L2 curvature stays below c
        # so L2 costs the step at most c / L of its size, never the factor s_0 / s_1
        assert lr0 / (1 + 0.5 * lr0 / STEP_FACTOR) <= lr * (1 + 1e-12)


def test_read_only_and_memory_mapped_X(tmp_path):
    X = dense(64, 6).astype(np.float32)
    ref = auto_step(X, rows_of(64), None, 2, 8, 0.0, 1.0)
    X.flags.writeable = False
    assert auto_step(X, rows_of(64), None, 2, 8, 0.0, 1.0)[0] == ref[0]
    path = tmp_path / "x.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    assert auto_step(mm, rows_of(64), None, 2, 8, 0.0, 1.0)[0] == ref[0]


def test_nothing_is_too_large_or_too_small():
    # features of any scale give the same step (the preconditioner takes the scale out)
    X = dense(50, 3)
    lr, s = auto_step(X, rows_of(50), None, 2, 32, 0.0, 1.0)
    lr_big, s_big = auto_step(X * 1e6, rows_of(50), None, 2, 32, 0.0, 1.0)
    assert lr_big == pytest.approx(lr, rel=1e-12)
    np.testing.assert_allclose(s_big, s * 1e-12, rtol=1e-12)
    assert np.isfinite(lr) and lr > 0
    with pytest.raises(ValueError, match="rescale X"):
        auto_step(X * 1e200, rows_of(50), None, 2, 32, 0.0, 1.0)  # 1/m^2 underflows
    with pytest.raises(ValueError, match="rescale X"):
        auto_step(X * 1e-30, rows_of(50), None, 2, 32, 0.0, 1.0, dtype=np.float32)


# ----------------------------------------------------------------------------- bad inputs
GOOD = {
    "rows": rows_of(10),
    "sample_weight": None,
    "n_classes": 2,
    "batch_size": 4,
    "l2": 0.0,
    "input_scale": 1.0,
}


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"X": [[1.0, 2.0]] * 10}, TypeError, "NumPy array"),
        ({"X": np.ones((10, 2), dtype=np.int32)}, TypeError, "float32, float64 or uint8"),
        ({"X": np.ones(10)}, ValueError, "2-d"),
        ({"X": np.full((10, 2), np.nan)}, ValueError, "not finite"),
        ({"rows": np.arange(10.0)}, TypeError, "integer"),
        ({"rows": np.arange(0, dtype=np.intp)}, ValueError, "empty"),
        ({"rows": np.array([0, 10])}, ValueError, "outside"),
        ({"rows": np.array([-1, 2])}, ValueError, "outside"),
        ({"sample_weight": np.ones(9)}, ValueError, "one weight per row"),
        ({"sample_weight": -np.ones(10)}, ValueError, ">= 0"),
        ({"sample_weight": np.full(10, np.inf)}, ValueError, "finite"),
        ({"sample_weight": np.zeros(10)}, ValueError, "all zero"),
        ({"sample_weight": [1.0] * 10}, TypeError, "1-d real array"),
        ({"n_classes": 0}, ValueError, "n_classes"),
        ({"n_classes": True}, ValueError, "n_classes"),
        ({"n_classes": 2.0}, ValueError, "n_classes"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"l2": -1.0}, ValueError, "l2"),
        ({"l2": float("nan")}, ValueError, "l2"),
        ({"input_scale": 0.0}, ValueError, "input_scale"),
        ({"dtype": np.int64}, TypeError, "dtype"),
    ],
)
def test_bad_inputs(change, error, match):
    args = dict(X=dense(10, 2), **GOOD) | change
    with pytest.raises(error, match=match):
        auto_step(**args)


def test_nan_outside_the_training_rows_is_ignored():
    X = dense(10, 2)
    X[9] = np.nan
    w = np.ones(10)
    w[9] = 0
    lr, _ = auto_step(X, rows_of(10), w, 2, 4, 0.0, 1.0)
    assert lr == pytest.approx(
        auto_step(X[:9].copy(), rows_of(9), None, 2, 4, 0.0, 1.0)[0], rel=1e-12
    )


def test_bad_sparse_inputs():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="float32 or float64"):
        auto_step(
            sparse.csr_matrix(np.ones((4, 2), dtype=np.int64)), rows_of(4), None, 2, 4, 0.0, 1.0
        )
    with pytest.raises(TypeError, match="CSR"):
        auto_step(sparse.csc_matrix(np.ones((4, 2))), rows_of(4), None, 2, 4, 0.0, 1.0)


def test_no_features():
    # only the bias: M = 1, every row norm 0, L(B) = c for any B
    lr, s = auto_step(np.zeros((5, 0)), rows_of(5), None, 1, 2, 0.0, 1.0)
    assert s.shape == (0,) and lr == pytest.approx(STEP_FACTOR / 0.25)
    sparse = pytest.importorskip("scipy.sparse")
    lr, s = auto_step(sparse.csr_matrix((5, 3)), rows_of(5), None, 3, 2, 0.0, 1.0)
    assert s.tolist() == [1.0] * 3 and lr == pytest.approx(STEP_FACTOR / 0.5)


# ----------------------------------------------------------------------------- sparse paths
# The CSR path (row_moments.CSRRows) reads X.data / X.indices / X.indptr in blocks of at most
# _SPARSE_BLOCK stored entries: slices when most rows train (rows left out masked), gathered
# entries otherwise; scipy's compiled loops, or NumPy's when row_moments._sparsetools() is None.
def sparse_case(n=240, d=30, seed=11):
    """Dense float64 X with the shapes the CSR path must handle: empty rows (the first, the
    last, a run of them), a row with one entry, an all-zero column, signed values of unlike
    scales, dyadic values (sums of them are exact)."""
    rng = np.random.default_rng(seed)
    X = np.round(rng.standard_normal((n, d)) * rng.uniform(1, 40, d) * 4) / 4
    X[rng.random((n, d)) < 0.8] = 0.0
    X[:, 3] = 0.0
    X[[0, 1, 60, 61, 62, n - 1]] = 0.0
    X[9] = 0.0
    X[9, 5] = 300.0
    return X


def with_index_dtype(S, kind):
    sparse = pytest.importorskip("scipy.sparse")
    if kind == "int32":
        return S
    indices = S.indices.astype(np.int64)
    indptr = S.indptr.astype(np.int64)
    if kind == "int64":
        out = sparse.csr_matrix((S.data, indices, indptr), shape=S.shape)
        assert out.indices.dtype == np.int32  # scipy downcasts: set them after construction
        out.indices, out.indptr = indices, indptr
    else:  # mixed: int32 indices, int64 indptr
        out = sparse.csr_matrix((S.data, S.indices, S.indptr), shape=S.shape)
        out.indptr = indptr
    assert (out.indices.dtype, out.indptr.dtype) == {
        "int64": (np.int64, np.int64),
        "mixed": (np.int32, np.int64),
    }[kind]
    return out


def selections(n, seed=12):
    """(rows, sample_weight): every path through the row selection."""
    rng = np.random.default_rng(seed)
    all_rows = np.arange(n, dtype=np.intp)
    most = np.sort(rng.permutation(n)[: int(0.9 * n)]).astype(np.intp)  # X read in place
    few = rng.permutation(n)[: int(0.2 * n)].astype(np.intp)  # rows gathered
    w = rng.integers(0, 4, n).astype(np.float64)  # zeros: masked
    repeats = np.concatenate([few, few[:7], [9, 9]]).astype(np.intp)  # gathered, summed
    return {
        "all": (all_rows, None),
        "most": (most, None),
        "few": (few, None),
        "weights": (all_rows, w),
        "few+repeats+weights": (repeats, w + 0.5),
    }


def sparse_path(monkeypatch, tools, block):
    """scipy.sparse (or a skip), with the CSR path of row_moments set up as a test case asks:
    ``tools`` "numpy" for NumPy's loops instead of scipy's compiled ones (else scipy's must
    load, or the case would cover NumPy's twice), ``block`` an entry count for
    _SPARSE_BLOCK (None: its default)."""
    sparse = pytest.importorskip("scipy.sparse")
    if tools == "numpy":
        monkeypatch.setattr(row_moments, "_sparsetools", lambda: None)
    else:
        assert row_moments._sparsetools() is not None
    if block is not None:
        monkeypatch.setattr(row_moments, "_SPARSE_BLOCK", block)
    return sparse


@pytest.mark.parametrize("tools", ["scipy", "numpy"])
@pytest.mark.parametrize("block", [None, 5, 64])
@pytest.mark.parametrize("index", ["int32", "int64", "mixed"])
def test_sparse_paths_equal_dense(tools, block, index, monkeypatch):
    sparse = sparse_path(monkeypatch, tools, block)  # blocks of 5: the longer rows alone
    X = sparse_case()
    S = with_index_dtype(sparse.csr_matrix(X), index)
    assert S.has_canonical_format and np.diff(S.indptr).min() == 0  # empty rows stored
    for name, (rows, w) in selections(X.shape[0]).items():
        for K, l2 in ((1, 0.0), (3, 0.05)):
            ref = auto_step(X, rows, w, K, 16, l2, 1.0)
            lr, s = auto_step(S, rows, w, K, 16, l2, 1.0)
            assert lr == pytest.approx(ref[0], rel=1e-12), name
            np.testing.assert_array_equal(s, ref[1])  # max |x| exact: the same s, bit for bit
    # float32: the same data, the CSR path sums in float64 where the dense one does not
    lr32, s32 = auto_step(S.astype(np.float32), np.arange(X.shape[0]), None, 2, 16, 0.0, 1.0)
    ref = auto_step(X, np.arange(X.shape[0]), None, 2, 16, 0.0, 1.0)
    assert s32.dtype == np.float32 and lr32 == pytest.approx(ref[0], rel=1e-6)


@pytest.mark.parametrize("tools", ["scipy", "numpy"])
def test_sparse_row_order_and_repeats(tools, monkeypatch):
    sparse = sparse_path(monkeypatch, tools, 50)
    X = sparse_case(seed=13)
    S = sparse.csr_matrix(X)
    rng = np.random.default_rng(14)
    uneven = rng.uniform(0.1, 3.0, X.shape[0])  # their sum rounds by the order of the rows
    for used in (230, 40):  # in place, gathered
        rows = rng.permutation(X.shape[0])[:used].astype(np.intp)
        for weights in (None, uneven):
            a = auto_step(S, rows, weights, 2, 16, 0.01, 1.0)
            b = auto_step(S, np.sort(rows), weights, 2, 16, 0.01, 1.0)
            assert a[0] == b[0]  # read in index order: bit for bit
            np.testing.assert_array_equal(a[1], b[1])
        # listing a row twice is weight 2 (the kernels' n counts both)
        twice = np.concatenate([rows, rows[:3]]).astype(np.intp)
        w = np.zeros(X.shape[0])
        w[rows] = 1.0
        w[rows[:3]] = 2.0
        c = auto_step(S, twice, None, 2, 16, 0.01, 1.0)
        e = auto_step(S, np.arange(X.shape[0], dtype=np.intp), w, 2, 16, 0.01, 1.0)
        assert c[0] == pytest.approx(e[0], rel=1e-12)
        np.testing.assert_array_equal(c[1], e[1])


@pytest.mark.parametrize("tools", ["scipy", "numpy"])
@pytest.mark.parametrize("block", [None, 7])
def test_sparse_duplicates_are_summed(tools, block, monkeypatch):
    # every stored entry x split into x + c and -c, c = 3 |x| + 1 (exact in float64), the
    # parts of each row in reverse order: max |part| > |x|, so max |x| and the row norms are
    # right only if the duplicates are summed first
    sparse = sparse_path(monkeypatch, tools, block)
    X = sparse_case(seed=15)
    S = sparse.csr_matrix(X)
    data, indices, indptr = [], [], [0]
    for r in range(X.shape[0]):
        a, b = S.indptr[r], S.indptr[r + 1]
        x, j = S.data[a:b], S.indices[a:b]
        c = 3 * np.abs(x) + 1
        data += list((x + c)[::-1]) + list(-c)
        indices += list(j[::-1]) + list(j)
        indptr.append(len(data))
    dup = sparse.csr_matrix(
        (np.array(data), np.array(indices, dtype=np.int32), np.array(indptr, dtype=np.int32)),
        shape=X.shape,
    )
    before = [dup.data.copy(), dup.indices.copy(), dup.indptr.copy()]
    assert not dup.has_canonical_format and dup.nnz == 2 * S.nnz
    for name, (rows, w) in selections(X.shape[0]).items():
        ref = auto_step(X, rows, w, 3, 16, 0.0, 1.0)
        lr, s = auto_step(dup, rows, w, 3, 16, 0.0, 1.0)
        assert lr == pytest.approx(ref[0], rel=1e-12), name
        np.testing.assert_array_equal(s, ref[1])
    for arr, old in zip((dup.data, dup.indices, dup.indptr), before):  # summed in a copy
        np.testing.assert_array_equal(arr, old)
    assert not dup.has_canonical_format


@pytest.mark.parametrize("tools", ["scipy", "numpy"])
@pytest.mark.parametrize("block", [None, 4])
def test_sparse_rows_left_out_are_absent_whatever_they_hold(tools, block, monkeypatch):
    # rows not trained on (not in ``rows``, or weight 0) hold nan, inf, and values that
    # overflow once scaled by the other rows' tiny max |x_j|: nothing of them may leak
    sparse = sparse_path(monkeypatch, tools, block)
    X = sparse_case(seed=16)
    X[:, 7] = np.where(X[:, 7] != 0, 1e-100, 0.0)  # column 7: tiny on the training rows
    out = [20, 21, 22, 23, 24, 25, 130, 200]  # a run of rows: whole blocks left out
    X[20, 2], X[21, 4], X[22, 7], X[23, 7] = np.nan, -np.inf, 1e300, 5.0  # x' = inf, 5e100
    X[24] = 1e300  # x' finite (column 7 aside), ||x'||^2 is not
    X[24, 7] = 0.0
    X[130, :] = 0.0  # empty and left out
    X[200, 6] = 1e300
    keep = np.setdiff1d(np.arange(X.shape[0]), out).astype(np.intp)
    ref = auto_step(
        np.ascontiguousarray(X[keep]),
        np.arange(keep.shape[0], dtype=np.intp),
        None,
        2,
        16,
        0.0,
        1.0,
    )
    w = np.ones(X.shape[0])
    w[out] = 0.0
    S = sparse.csr_matrix(X)
    for rows, weights in (
        (keep, None),
        (np.arange(X.shape[0], dtype=np.intp), w),
        (keep[::5].copy(), None),
    ):
        lr, s = auto_step(S, rows, weights, 2, 16, 0.0, 1.0)
        if rows.shape[0] < 100:  # gathered: compare with those rows alone
            ref_few = auto_step(
                np.ascontiguousarray(X[np.sort(rows)]),
                np.arange(rows.shape[0], dtype=np.intp),
                None,
                2,
                16,
                0.0,
                1.0,
            )
            assert lr == pytest.approx(ref_few[0], rel=1e-12)
            continue
        assert np.isfinite(lr) and lr == pytest.approx(ref[0], rel=1e-12)
        np.testing.assert_array_equal(s, ref[1])
    with pytest.raises(ValueError, match="not finite"):  # a training row with nan: an error
        auto_step(S, np.array([0, 20, 30], dtype=np.intp), None, 2, 16, 0.0, 1.0)


def test_sparse_reads_x_in_place_and_blocks_only(monkeypatch):
    # X's arrays read-only (nothing writes them) and a memory peak far below one copy of X
    sparse = pytest.importorskip("scipy.sparse")
    tracemalloc = pytest.importorskip("tracemalloc")
    rng = np.random.default_rng(17)
    n, d, per_row = 20000, 400, 40
    indices = np.arange(per_row) * (d // per_row) + rng.integers(0, d // per_row, (n, per_row))
    S = sparse.csr_matrix(
        (
            rng.standard_normal(n * per_row),
            indices.ravel().astype(np.int32),
            np.arange(0, n * per_row + 1, per_row, dtype=np.int32),
        ),
        shape=(n, d),
    )
    assert S.has_canonical_format
    for a in (S.data, S.indices, S.indptr):
        a.flags.writeable = False
    monkeypatch.setattr(row_moments, "_SPARSE_BLOCK", 1 << 12)
    for rows in (np.arange(n, dtype=np.intp), np.arange(0, n, 7, dtype=np.intp)):
        auto_step(S, rows, None, 2, 32, 0.0, 1.0)  # warm: imports, caches
        tracemalloc.start()
        try:
            auto_step(S, rows, None, 2, 32, 0.0, 1.0)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < S.data.nbytes / 4, peak  # row-length arrays and blocks, no copy of X
