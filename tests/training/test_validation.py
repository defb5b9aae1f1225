"""Bad input through the public API: a clear ValueError/TypeError that names the argument.

Kernels trust their inputs; ``fastreg.loss_and_grad`` checks them once, at the edge
(``fastreg/objective.py``, ``fastreg/_validation.py``). Each case below breaks one argument of
an otherwise valid call and expects an error whose message starts from that argument's name.
"""
import numpy as np
import pytest

import fastreg

N, D, K = 4, 3, 3


def valid(model):
    """A valid (X, y, W, b) for the logistic or the softmax model."""
    X = np.arange(N * D, dtype=np.float64).reshape(N, D) / 10
    if model == "logistic":
        return X, np.array([0, 1, 0, 1]), np.full(D, 0.1), 0.2
    return X, np.array([0, 1, 2, 1]), np.full((D, K), 0.1), np.zeros(K)


def replace(model, **changes):
    X, y, W, b = valid(model)
    args = dict(X=X, y=y, W=W, b=b)
    args.update(changes)
    return args


def with_nan(a, value=np.nan):
    a = np.array(a, dtype=np.float64)
    a.reshape(-1)[0] = value
    return a


X0, y0, W0, b0 = valid("softmax")
w0 = valid("logistic")[2]

# (id, model, changed arguments, exception, message pattern)
BAD = [
    # shapes
    ("X-1d", "softmax", dict(X=X0[0]), ValueError, r"X must be 2-d .*got shape \(3,\)"),
    ("X-3d", "softmax", dict(X=X0[:, :, None]), ValueError, r"X must be 2-d"),
    ("X-no-rows", "softmax", dict(X=X0[:0], y=y0[:0]), ValueError, r"X is empty"),
    ("X-no-features", "softmax", dict(X=X0[:, :0], W=W0[:0]), ValueError, r"X is empty"),
    ("W-features", "softmax", dict(W=np.ones((D + 1, K))), ValueError, r"W has shape \(4, 3\) but X has 3 features"),
    ("w-features", "logistic", dict(W=np.ones(D + 1)), ValueError, r"W has 4 weights but X has 3 features"),
    ("W-3d", "softmax", dict(W=W0[:, :, None]), ValueError, r"W must be 1-d .* or 2-d"),
    ("b-shape", "softmax", dict(b=np.zeros(K + 1)), ValueError, r"b must have shape \(3,\)"),
    ("b-not-scalar", "logistic", dict(b=np.zeros(2)), ValueError, r"b must be a scalar"),
    ("y-length", "softmax", dict(y=y0[:-1]), ValueError, r"y has 3 labels but X has 4 samples"),
    ("y-2d", "softmax", dict(y=np.ones((2, 2), dtype=int)), ValueError, r"y must be 1-d"),
    # non-finite values
    ("X-nan", "softmax", dict(X=with_nan(X0)), ValueError, r"X contains 1 NaN or infinite"),
    ("X-inf", "logistic", dict(X=with_nan(X0, -np.inf)), ValueError, r"X contains 1 NaN or infinite"),
    ("W-nan", "softmax", dict(W=with_nan(W0)), ValueError, r"W contains 1 NaN or infinite"),
    ("w-inf", "logistic", dict(W=with_nan(w0, np.inf)), ValueError, r"W contains 1 NaN or infinite"),
    ("b-inf", "softmax", dict(b=with_nan(b0, np.inf)), ValueError, r"b contains 1 NaN or infinite"),
    ("b-nan-scalar", "logistic", dict(b=np.nan), ValueError, r"b contains 1 NaN or infinite"),
    ("y-nan", "softmax", dict(y=with_nan(y0)), ValueError, r"y contains 1 NaN or infinite"),
    # labels
    ("y-too-large", "softmax", dict(y=np.array([0, 1, 3, 1])), ValueError, r"y holds labels in \[0, 3\] but must lie in 0\.\.2"),
    ("y-negative", "softmax", dict(y=np.array([0, -1, 2, 1])), ValueError, r"y holds labels in \[-1, 2\]"),
    ("y-logistic-2", "logistic", dict(y=np.array([0, 2, 0, 1])), ValueError, r"y holds labels .*labels 0 and 1"),
    ("y-non-integer", "softmax", dict(y=np.array([0, 0.5, 2, 1])), ValueError, r"y must hold integer class labels"),
    # dtypes
    ("X-object", "softmax", dict(X=X0.astype(object)), TypeError, r"X has dtype object"),
    ("X-complex", "softmax", dict(X=X0 + 1j), TypeError, r"X has dtype complex128"),
    ("X-str", "softmax", dict(X=X0.astype(str)), TypeError, r"X has dtype <U"),
    ("X-ragged-list", "softmax", dict(X=[[1.0, 2.0, 3.0], [1.0, 2.0]]), ValueError, r"^X could not be converted"),
    ("b-complex", "softmax", dict(b=b0 + 1j), TypeError, r"^b has dtype complex128"),
    ("b-str", "softmax", dict(b=b0.astype(str)), TypeError, r"^b has dtype <U"),
    ("b-str-scalar", "logistic", dict(b="0.5"), TypeError, r"^b has dtype <U"),
    ("W-object", "softmax", dict(W=W0.astype(object)), TypeError, r"W has dtype object"),
    ("W-complex", "logistic", dict(W=w0 + 1j), TypeError, r"W has dtype complex128"),
    ("W-str", "softmax", dict(W=W0.astype(str)), TypeError, r"W has dtype <U"),
    ("y-str", "softmax", dict(y=y0.astype(str)), TypeError, r"y has dtype <U"),
    ("y-complex", "softmax", dict(y=y0 + 0j), TypeError, r"y has dtype complex128"),
    ("y-object", "softmax", dict(y=np.array([0, 1, 2, None])), TypeError, r"y has dtype object"),
]


@pytest.mark.filterwarnings("error")  # a warning (complex b cast to real, say) is no answer
@pytest.mark.parametrize("model, changes, exc, match",
                         [pytest.param(*case[1:], id=case[0]) for case in BAD])
def test_bad_argument_is_named(backend, model, changes, exc, match):
    args = replace(model, **changes)
    with pytest.raises(exc, match=match):
        fastreg.loss_and_grad(args["X"], args["y"], args["W"], args["b"], backend=backend)


@pytest.mark.parametrize("l2, exc, match", [
    (-0.1, ValueError, r"l2 must lie in \[0.0, inf\]"),
    (np.nan, ValueError, r"l2 must be finite"),
    (np.inf, ValueError, r"l2 must be finite"),
    ("0.1", TypeError, r"l2 must be a real number"),
    (None, TypeError, r"l2 must be a real number"),
])
def test_bad_penalty_is_named(backend, l2, exc, match):
    X, y, W, b = valid("softmax")
    with pytest.raises(exc, match=match):
        fastreg.loss_and_grad(X, y, W, b, l2=l2, backend=backend)


@pytest.mark.parametrize("model", ("logistic", "softmax"))
def test_valid_variants_are_accepted(backend, model):
    """Integer-valued float labels, int X and lists are converted, not rejected."""
    X, y, W, b = valid(model)
    expected = fastreg.loss_and_grad(X, y, W, b, backend=backend)
    for X_, y_ in ((X, y.astype(np.float64)), (X.tolist(), y.tolist()), (X, y.astype(np.uint8))):
        got = fastreg.loss_and_grad(X_, y_, W, b, backend=backend)
        assert got[0] == expected[0]
        np.testing.assert_array_equal(got[1], expected[1])
