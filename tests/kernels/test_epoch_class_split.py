"""The threaded epoch's class split (issue 14, point 4): compiled against the NumPy twin.

With many classes (``_thread_policy.epoch_by_class``: at least ``class_split_min`` classes a
thread, 50 by default) the threads of an epoch split the classes instead of the features: each
computes whole logits of its classes over every feature, so no partial logits are joined and
the weights do not depend on the number of threads, bit for bit. Here the split is forced on
small shapes (``_tuning(class_split_min=1, min_ns_per_barrier=0)``) and checked against the
NumPy twin and against one thread, for both dtypes, uint8 pixels, sample weights, step scales,
batches cut into sub-blocks and every SIMD level; and the policy's choice is checked.
"""

import numpy as np
import pytest

pytestmark = pytest.mark.requires_cython

RTOL = {np.float32: 1e-4, np.float64: 1e-9}
SHAPES = ((7, 37), (10, 200), (13, 1000), (64, 33), (3, 16))  # (K, d)


@pytest.fixture
def split(linear_module):
    """The class split forced at any size (the fixture restores the tuning)."""
    if not linear_module._openmp_enabled():
        pytest.skip("built without OpenMP: every epoch runs on one thread")
    linear_module._tuning(class_split_min=1, min_ns_per_barrier=0)
    return linear_module


def _problem(k, d, dtype, n=203, uint8=False, seed=0):
    rng = np.random.default_rng([seed, k, d, int(uint8)])
    pixels = rng.integers(0, 256, size=(n, d)).astype(np.uint8)
    X = pixels if uint8 else (pixels / 255.0).astype(dtype)
    y = rng.integers(0, k, size=n).astype(np.intc)
    coef = (0.1 * rng.standard_normal((k, d))).astype(dtype)
    intercept = (0.1 * rng.standard_normal(k)).astype(dtype)
    weights = rng.uniform(0.2, 2.0, size=n).astype(dtype)
    scales = rng.uniform(0.5, 1.5, size=d).astype(dtype)
    return X, y, coef, intercept, weights, scales


def _epochs(epoch, X, y, coef, intercept, batch, n_epochs=2, **kw):
    coef, intercept = coef.copy(), intercept.copy()
    rng = np.random.default_rng(1)
    n_batches = -(-X.shape[0] // batch)
    out = []
    for _ in range(n_epochs):
        order = rng.permutation(X.shape[0])
        lrs = np.full(n_batches, 2.0 / X.shape[1])  # |x|^2 ~ d / 3: steps that converge
        out.append(epoch(X, y, coef, intercept, order, batch, lrs, 0.01, **kw))
    return np.array(out, dtype=np.float64), coef, intercept


@pytest.mark.parametrize("k, d", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_class_split_matches_the_twin_and_one_thread_bit_for_bit(
    split, cython_backend, numpy_backend, k, d, dtype, weighted
):
    X, y, coef, intercept, weights, scales = _problem(k, d, dtype)
    kw = dict(sample_weight=weights, step_scale=scales) if weighted else {}
    for batch in (1, 16, 203):
        runs = {}
        for nt in (1, 2, 3):
            runs[nt] = _epochs(
                cython_backend.epoch, X, y, coef, intercept, batch, n_threads=nt, **kw
            )
            assert split._last_thread_count() == nt and split._last_split() == (
                "classes" if nt > 1 else "features"
            )
        for nt in (2, 3):  # whole logits per thread: the thread count changes no bit
            for a, b in zip(runs[1], runs[nt]):
                np.testing.assert_array_equal(a, b)
        spec = _epochs(numpy_backend.epoch, X, y, coef, intercept, batch, **kw)
        for a, b in zip(runs[2], spec):
            np.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_class_split_with_sub_blocks_pixels_and_every_simd_level(
    split, cython_backend, numpy_backend, dtype
):
    """Batches cut into sub-blocks of 3 rows (the gradient buffer, split by class too) and
    uint8 pixels scaled inside, on each SIMD variant."""
    split._tuning(subblock_bytes=3 * 100, subblock_w_factor=0)
    X, y, coef, intercept, _, _ = _problem(12, 100, dtype, uint8=True)
    kw = dict(input_scale=1 / 255)
    for level in split._simd_levels():
        split._set_simd_level(level)
        one = _epochs(cython_backend.epoch, X, y, coef, intercept, 10, n_threads=1, **kw)
        two = _epochs(cython_backend.epoch, X, y, coef, intercept, 10, n_threads=2, **kw)
        assert split._last_split() == "classes"
        for a, b in zip(one, two):
            np.testing.assert_array_equal(a, b)
        spec = _epochs(numpy_backend.epoch, X, y, coef, intercept, 10, **kw)
        for a, b in zip(two, spec):
            np.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=RTOL[dtype])


def test_the_policy_splits_classes_only_when_each_thread_gets_enough(
    linear_module, cython_backend
):
    """Default rule: classes when K >= 50 per thread, else features; K = 1 never."""
    if not linear_module._openmp_enabled():
        pytest.skip("built without OpenMP: every epoch runs on one thread")
    linear_module._tuning(min_ns_per_barrier=0)
    assert linear_module._tuning()["class_split_min"] == 50
    for k, d, expected in ((100, 64, "classes"), (99, 64, "features"), (10, 64, "features")):
        X, y, coef, intercept, _, _ = _problem(k, d, np.float32, n=40)
        _epochs(cython_backend.epoch, X, y, coef, intercept, 8, n_epochs=1, n_threads=2)
        assert linear_module._last_thread_count() == 2
        assert linear_module._last_split() == expected, (k, expected)
    # few features: the feature split has no two 16-feature blocks a thread; the class split
    # still starts two threads when there are classes enough
    X, y, coef, intercept, _, _ = _problem(120, 20, np.float32, n=40)
    _epochs(cython_backend.epoch, X, y, coef, intercept, 8, n_epochs=1, n_threads=2)
    assert (linear_module._last_thread_count(), linear_module._last_split()) == (2, "classes")
    linear_module._tuning(class_split_min=0)  # 0: never
    _epochs(cython_backend.epoch, X, y, coef, intercept, 8, n_epochs=1, n_threads=2)
    assert linear_module._last_thread_count() == 1
