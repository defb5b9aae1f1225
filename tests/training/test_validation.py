"""Bad input through the public API: one dialect, an error that names the argument.

``fastreg.loss_and_grad`` checks its inputs once, at the edge, with the checks of
``fastreg/_validation.py`` that the estimators use too (``check_array``, ``check_targets``,
the parameter table). Each case below breaks one argument of an otherwise valid call and
expects an InvalidParameterError (a ValueError; also a TypeError for wrong types) whose
``param`` names that argument.
"""

import numpy as np
import pytest

import fastreg
from fastreg._targets import check_targets
from fastreg._validation import check_array
from fastreg.exceptions import InvalidParameterError, InvalidParameterTypeError

N, D, K = 4, 3, 3


def valid(model):
    """A valid (X, y, coef, intercept) for the logistic (K = 1) or the softmax model."""
    X = np.arange(N * D, dtype=np.float64).reshape(N, D) / 10
    if model == "logistic":
        return X, np.array([0, 1, 0, 1]), np.full((1, D), 0.1), np.array([0.2])
    return X, np.array([0, 1, 2, 1]), np.full((K, D), 0.1), np.zeros(K)


def replace(model, **changes):
    X, y, coef, intercept = valid(model)
    args = dict(X=X, y=y, coef=coef, intercept=intercept)
    args.update(changes)
    return args


def with_nan(a, value=np.nan):
    a = np.array(a, dtype=np.float64)
    a.reshape(-1)[0] = value
    return a


X0, y0, C0, b0 = valid("softmax")
w0 = valid("logistic")[2]

# (id, model, changed arguments, param, exception, message pattern)
BAD = [
    # shapes
    ("X-1d", "softmax", dict(X=X0[0]), "X", ValueError, r"Expected 2D array, got 1D array"),
    ("X-3d", "softmax", dict(X=X0[:, :, None]), "X", ValueError, r"must be 2-d"),
    ("X-no-rows", "softmax", dict(X=X0[:0], y=y0[:0]), "X", ValueError, r"0 sample\(s\)"),
    (
        "X-no-features",
        "softmax",
        dict(X=X0[:, :0], coef=C0[:, :0]),
        "X",
        ValueError,
        r"0 feature\(s\)",
    ),
    (
        "coef-features",
        "softmax",
        dict(coef=np.ones((K, D + 1))),
        "coef",
        ValueError,
        r"coef has shape \(3, 4\) but X has 3 features: coef must be \(n_classes, n_features\)",
    ),
    (
        "coef-old-layout",
        "softmax",
        dict(X=np.ones((N, 5)), coef=np.ones((5, K))),
        "coef",
        ValueError,
        r"coef has shape \(5, 3\) .*W \(n_features, n_classes\) of fastreg < 0.2: "
        r"pass W\.T",
    ),
    (
        "w-1d",
        "logistic",
        dict(coef=np.ones(D)),
        "coef",
        ValueError,
        r"coef must be 2-d .*reshape\(1, -1\)",
    ),
    ("coef-3d", "softmax", dict(coef=C0[:, :, None]), "coef", ValueError, r"coef must be 2-d"),
    (
        "intercept-shape",
        "softmax",
        dict(intercept=np.zeros(K + 1)),
        "intercept",
        ValueError,
        r"intercept must have shape \(3,\)",
    ),
    (
        "intercept-scalar",
        "logistic",
        dict(intercept=0.2),
        "intercept",
        ValueError,
        r"intercept must have shape \(1,\)",
    ),
    (
        "y-length",
        "softmax",
        dict(y=y0[:-1]),
        "y",
        ValueError,
        r"inconsistent numbers of samples: \[4, 3\]",
    ),
    (
        "y-2d",
        "softmax",
        dict(y=np.ones((2, 2), dtype=int)),
        "y",
        ValueError,
        r"y should be a 1d array",
    ),
    # non-finite values
    (
        "X-nan",
        "softmax",
        dict(X=with_nan(X0)),
        "X",
        ValueError,
        r"Input X contains NaN or infinity \(1 value",
    ),
    (
        "X-inf",
        "logistic",
        dict(X=with_nan(X0, -np.inf)),
        "X",
        ValueError,
        r"X contains NaN or inf",
    ),
    ("coef-nan", "softmax", dict(coef=with_nan(C0)), "coef", ValueError, r"coef contains NaN"),
    (
        "w-inf",
        "logistic",
        dict(coef=with_nan(w0, np.inf)),
        "coef",
        ValueError,
        r"coef contains NaN",
    ),
    (
        "intercept-inf",
        "softmax",
        dict(intercept=with_nan(b0, np.inf)),
        "intercept",
        ValueError,
        r"intercept contains NaN or infinity",
    ),
    ("y-nan", "softmax", dict(y=with_nan(y0)), "y", ValueError, r"Input y contains NaN"),
    # labels
    (
        "y-too-large",
        "softmax",
        dict(y=np.array([0, 1, 3, 1])),
        "y",
        ValueError,
        r"y holds labels \[3\] that are not among the classes \[0, 1, 2\]",
    ),
    (
        "y-negative",
        "softmax",
        dict(y=np.array([0, -1, 2, 1])),
        "y",
        ValueError,
        r"y holds labels \[-1\]",
    ),
    (
        "y-logistic-2",
        "logistic",
        dict(y=np.array([0, 2, 0, 1])),
        "y",
        ValueError,
        r"y holds labels \[2\] that are not among the classes \[0, 1\]",
    ),
    (
        "y-non-integer",
        "softmax",
        dict(y=np.array([0, 0.5, 2, 1])),
        "y",
        ValueError,
        r"Unknown label type: continuous",
    ),
    ("y-str", "softmax", dict(y=y0.astype(str)), "y", ValueError, r"not among the classes"),
    (
        "y-object",
        "softmax",
        dict(y=np.array([0, 1, 2, None])),
        "y",
        ValueError,
        r"Unknown label type",
    ),
    ("y-complex", "softmax", dict(y=y0 + 0j), "y", ValueError, r"Complex data not supported"),
    # dtypes
    ("X-complex", "softmax", dict(X=X0 + 1j), "X", ValueError, r"Complex data not supported"),
    ("X-str", "softmax", dict(X=X0.astype(str)), "X", TypeError, r"X has dtype <U"),
    (
        "X-ragged-list",
        "softmax",
        dict(X=[[1.0, 2.0, 3.0], [1.0, 2.0]]),
        "X",
        ValueError,
        r"^X could not be converted",
    ),
    (
        "intercept-complex",
        "softmax",
        dict(intercept=b0 + 1j),
        "intercept",
        ValueError,
        r"^Complex data not supported: intercept",
    ),
    (
        "intercept-str",
        "softmax",
        dict(intercept=b0.astype(str)),
        "intercept",
        TypeError,
        r"^intercept has dtype <U",
    ),
    ("coef-complex", "logistic", dict(coef=w0 + 1j), "coef", ValueError, r"Complex data"),
    ("coef-str", "softmax", dict(coef=C0.astype(str)), "coef", TypeError, r"coef has dtype <U"),
]


@pytest.mark.filterwarnings("error")  # a warning (complex cast to real, say) is no answer
@pytest.mark.parametrize(
    "model, changes, param, exc, match", [pytest.param(*case[1:], id=case[0]) for case in BAD]
)
def test_bad_argument_is_named(backend, model, changes, param, exc, match):
    args = replace(model, **changes)
    with pytest.raises(exc, match=match) as info:
        fastreg.loss_and_grad(
            args["X"], args["y"], args["coef"], args["intercept"], backend=backend.name
        )
    assert isinstance(info.value, InvalidParameterError) and info.value.param == param
    assert isinstance(info.value, TypeError) == (exc is TypeError)


@pytest.mark.parametrize(
    "l2, exc, match",
    [
        (-0.1, ValueError, r"l2 must be a real number >= 0, got -0.1"),
        (np.nan, ValueError, r"l2 must be a real number >= 0, got nan"),
        (np.inf, ValueError, r"l2 must be a real number >= 0, got inf"),
        ("0.1", TypeError, r"l2 must be a real number >= 0, got '0.1'"),
        (None, TypeError, r"l2 must be a real number"),
    ],
)
def test_bad_penalty_is_named(backend, l2, exc, match):
    X, y, coef, intercept = valid("softmax")
    with pytest.raises(exc, match=match) as info:
        fastreg.loss_and_grad(X, y, coef, intercept, l2=l2, backend=backend.name)
    assert info.value.param == "l2"


def test_bad_backend_and_eps_are_named():
    X, y, coef, intercept = valid("softmax")
    assert (
        fastreg.loss_and_grad(X, y, coef, intercept, backend=None)[0]
        == fastreg.loss_and_grad(X, y, coef, intercept, backend="auto")[0]
    )  # None means "auto"
    with pytest.raises(InvalidParameterError, match="backend must be one of 'auto'") as info:
        fastreg.loss_and_grad(X, y, coef, intercept, backend="gpu")
    assert info.value.param == "backend"
    with pytest.raises(InvalidParameterError, match=r"eps must be a real number > 0") as info:
        fastreg.numerical_gradient(X, y, coef, intercept, eps=0.0)
    assert info.value.param == "eps"


@pytest.mark.parametrize("model", ("logistic", "softmax"))
def test_valid_variants_are_accepted(backend, model):
    """Integer-valued float labels, object and int X and lists are converted, not rejected."""
    X, y, coef, intercept = valid(model)
    expected = fastreg.loss_and_grad(X, y, coef, intercept, backend=backend.name)
    for X_, y_ in (
        (X, y.astype(np.float64)),
        (X.tolist(), y.tolist()),
        (X, y.astype(np.uint8)),
        (X.astype(object), y),
        (np.asfortranarray(X), y),
    ):
        got = fastreg.loss_and_grad(X_, y_, coef, intercept, backend=backend.name)
        assert got[0] == expected[0]
        np.testing.assert_array_equal(got[1], expected[1])


def test_check_array_keeps_uint8_and_float_dtypes_without_copies():
    X8 = np.zeros((3, 2), np.uint8)
    assert check_array(X8, "X", dtype=np.float32) is X8  # the kernels scale uint8 themselves
    assert check_array(X8, "X", allow_uint8=False).dtype == np.float64
    X32 = np.zeros((3, 2), np.float32)
    assert check_array(X32, "X") is X32
    assert check_array(np.asfortranarray(X32), "X").flags.c_contiguous
    assert check_array(np.zeros((3, 2), np.int64), "X").dtype == np.float64
    with pytest.raises(InvalidParameterTypeError, match="sparse input is not supported here"):
        check_array(type("Sparse", (), {"tocsr": 0, "nnz": 0, "format": "csr"})(), "X")


# ----------------------------------------------------------------------------- sparse input
try:
    import scipy.sparse as sparse
except ImportError:  # pragma: no cover - scipy comes with the test extra
    sparse = None
needs_scipy = pytest.mark.skipif(sparse is None, reason="scipy is not installed")


def _csr(dtype=np.float64, index=np.int32):
    X = sparse.random(6, 4, density=0.5, format="csr", random_state=0, dtype=np.float64)
    X = sparse.csr_matrix(
        ((X.data * 10).astype(dtype), X.indices.astype(index), X.indptr.astype(index)),
        shape=X.shape,
    )
    return X


@needs_scipy
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index", [np.int32, np.int64])
def test_check_array_keeps_a_csr_matrix_without_a_copy(dtype, index):
    X = _csr(dtype, index)
    got = check_array(X, "X", accept_sparse=True)
    assert got is X and got.dtype == dtype and got.indices.dtype == got.indptr.dtype


@needs_scipy
@pytest.mark.parametrize("fmt", ["csc", "coo", "lil", "dok", "bsr", "dia"])
@pytest.mark.parametrize("container", ["matrix", "array"])
def test_check_array_converts_other_formats_to_csr_once(fmt, container):
    X = _csr()
    other = (X if container == "matrix" else sparse.csr_array(X)).asformat(fmt)
    got = check_array(other, "X", accept_sparse=True)
    assert got.format == "csr" and got.dtype == np.float64 and got.shape == X.shape
    np.testing.assert_array_equal(got.toarray(), X.toarray())
    assert got.indices.dtype in (np.int32, np.int64) and got.indices.dtype == got.indptr.dtype


@needs_scipy
@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.bool_, np.int32])
def test_check_array_turns_other_sparse_numbers_into_float64(dtype):
    X = _csr()
    Xi = X.astype(dtype)
    got = check_array(Xi, "X", accept_sparse=True)
    assert got.dtype == np.float64 and got.format == "csr"
    np.testing.assert_array_equal(got.toarray(), Xi.toarray().astype(np.float64))
    assert check_array(Xi, "X", accept_sparse=True, dtype=np.float32).dtype == np.float32


@needs_scipy
def test_check_array_unifies_sparse_index_types():
    X = _csr()
    mixed = sparse.csr_matrix(X.shape)
    mixed.data, mixed.indices, mixed.indptr = (
        X.data,
        X.indices.astype(np.int32),
        X.indptr.astype(np.int64),
    )
    got = check_array(mixed, "X", accept_sparse=True)
    assert got.indices.dtype == got.indptr.dtype
    np.testing.assert_array_equal(got.toarray(), X.toarray())


@needs_scipy
@pytest.mark.parametrize(
    "bad, exc, match",
    [
        ("nan", ValueError, r"Input X contains NaN or infinity \(1 value"),
        ("inf", ValueError, r"Input X contains NaN or infinity"),
        ("complex", ValueError, r"Complex data not supported"),
        ("no rows", ValueError, r"0 sample\(s\)"),
        ("no columns", ValueError, r"0 feature\(s\)"),
    ],
)
def test_check_array_refuses_bad_sparse_input(bad, exc, match):
    X = _csr()
    if bad in ("nan", "inf"):
        X.data[1] = np.nan if bad == "nan" else -np.inf
    elif bad == "complex":
        X = X.astype(np.complex128)
    elif bad == "no rows":
        X = sparse.csr_matrix((0, 4))
    else:
        X = sparse.csr_matrix((3, 0))
    with pytest.raises(exc, match=match) as info:
        check_array(X, "X", accept_sparse=True)
    assert info.value.param == "X"


@needs_scipy
def test_loss_and_grad_still_refuses_sparse():
    X, y, coef, intercept = valid("softmax")
    with pytest.raises(InvalidParameterTypeError, match="sparse"):
        fastreg.loss_and_grad(sparse.csr_matrix(X), y, coef, intercept)


def test_check_targets_returns_classes_and_intc_codes():
    classes, codes = check_targets(np.array(["b", "a", "b", "c"]), 4)
    assert classes.tolist() == ["a", "b", "c"] and codes.tolist() == [1, 0, 1, 2]
    assert codes.dtype == np.intc and codes.flags.c_contiguous
    classes, codes = check_targets([3, 1], 2, classes=np.array([1, 3, 5]))
    assert codes.tolist() == [1, 0] and classes.tolist() == [1, 3, 5]
    with pytest.raises(InvalidParameterError, match="requires y to be passed"):
        check_targets(None, 3)
