"""Integer labels over a short range are encoded without a sort (``_targets._integer_codes``):
the result must be exactly the general path's, for every integer dtype, gaps between the
labels, negative labels, given classes that include absent ones, and the same errors."""

import numpy as np
import pytest

from fastreg import _targets
from fastreg._targets import check_targets

INT_DTYPES = [np.int8, np.uint8, np.int16, np.int32, np.intc, np.int64, np.uint64]


def general_path(labels, classes=None):
    if classes is None:
        classes, codes = np.unique(labels, return_inverse=True)
        return classes, codes.astype(np.intc)
    classes = np.asarray(classes)
    return classes, np.searchsorted(classes, labels).astype(np.intc)


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_same_classes_and_codes_as_a_sort(dtype):
    rng = np.random.default_rng(0)
    signed = np.dtype(dtype).kind == "i"
    for _ in range(300):
        n, k = int(rng.integers(1, 60)), int(rng.integers(1, 7))
        base = int(rng.integers(-4, 4)) if signed else int(rng.integers(0, 4))
        values = base + rng.choice(np.arange(9), k, replace=False)  # gaps between labels
        y = rng.choice(values, n).astype(dtype)
        classes, codes = check_targets(y, n)
        ref_classes, ref_codes = general_path(y)
        assert classes.dtype == ref_classes.dtype and codes.dtype == np.intc
        np.testing.assert_array_equal(classes, ref_classes)
        np.testing.assert_array_equal(codes, ref_codes)
        given = np.union1d(values, base + rng.choice(np.arange(9), 2)).astype(dtype)
        classes, codes = check_targets(y, n, given)
        np.testing.assert_array_equal(classes, given)
        np.testing.assert_array_equal(codes, general_path(y, given)[1])


def test_the_fast_path_is_taken_and_left_where_it_must(monkeypatch):
    y = np.array([3, 1, 3, 2])
    assert _targets._integer_codes(y, None) is not None
    assert _targets._integer_codes(y, np.array([1, 2, 3, 4])) is not None
    assert _targets._integer_codes(y.astype(float), None) is None  # floats: the sort
    assert _targets._integer_codes(y, np.array([1.0, 2.0, 3.0])) is None
    assert _targets._integer_codes(y, np.array([1, 2])) is None  # unknown label: general
    wide = np.array([0, _targets.LOOKUP_SPAN])
    assert _targets._integer_codes(wide, None) is None
    extreme = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0])
    classes, codes = check_targets(extreme, 3)  # a span beyond the table: the sort
    np.testing.assert_array_equal(classes[codes], extreme)


def test_unknown_labels_keep_their_message():
    with pytest.raises(
        ValueError,
        match=r"y holds labels \[5\] that are not among the "
        r"classes \[0, 1\]",
    ):
        check_targets(np.array([0, 1, 5]), 3, np.array([0, 1]))
