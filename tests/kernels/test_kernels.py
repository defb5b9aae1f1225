"""The kernels, each held to a plain-loop reference and to its NumPy twin.

Every kernel of ``fastreg._kernels`` is run on inputs of each dtype (float32, float64) and shape
(N in {1, 7, 256}, d in {1, 784}, K in {1, 2, 10}: K == 1 is the logistic model; dimensions a
kernel does not take are not varied), with moderate logits and with logits up to |z| = 1e4;
the forward pass also on batches up to 3000 rows, on every SIMD level and thread count (the end
of this file). ``epoch`` appears here as one gradient step (one batch holding every row, the
old ``*_sgd_step``); tests/kernels/test_epoch.py holds it to its twin over whole epochs.
Three answers must agree:

* ``helpers/naive.py``: per-row loops in float64 on the same inputs (the reference);
* the NumPy twin (``fastreg/_kernels/_*_numpy.py``, the specification);
* the compiled kernel (``fastreg._kernels._linear``/``_loss``), compared with the twin under
  ``requires_cython``.

``loss_grad`` and the one-step ``epoch`` are also run with sample weights (and step scales);
every bad ``sample_weight`` / ``step_scale`` sits in the table of refused inputs.

Tolerances are relative to the magnitude of the terms that make each result, the bound a
correctly rounded computation meets: ``|got - want| <= rtol * (|want| + scale)`` with rtol 1e-12
(float64) or 1e-5 (float32). ``scale`` is, for a dot product, sum_j |x_j w_j|; for a function of
logits, its sensitivity to a rounding of them. These bounds are many orders of magnitude below
the error of any wrong formula (a missing 1/N, a factor 2 in the penalty, an unshifted softmax).
"""

import os

import numpy as np
import pytest

from helpers import naive, refusals

DTYPES = (np.float32, np.float64)
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
L2 = 0.05
LEARNING_RATE = 0.5

KERNELS = (
    "linear_forward",
    "sigmoid",
    "softmax",
    "cross_entropy",
    "cross_entropy_grad",
    "loss_grad",
    "epoch",
)
#: the dimensions each kernel's arguments depend on (the others are not varied)
DIMS = {
    "linear_forward": "ndk",
    "sigmoid": "n",
    "softmax": "nk",
    "cross_entropy": "nk",
    "cross_entropy_grad": "nk",
    "loss_grad": "ndk",
    "epoch": "ndk",
}
#: kernels that take logits directly
ON_LOGITS = ("sigmoid", "softmax", "cross_entropy", "cross_entropy_grad")


# --------------------------------------------------------------------------- inputs
def labels(rng, n, k):
    return rng.integers(0, max(k, 2), n).astype(np.intc)


def make_args(name, dtype, n, d, k, *, extreme=False, seed=0):
    """The arguments of kernel ``name`` for one random problem.

    Moderate problems have logits of a few units; ``extreme`` ones have logits up to +-1e4,
    including the exact values +-1e4 where a kernel takes logits directly. ``epoch`` gets one
    batch holding every row, in reversed order, with one learning rate.
    """
    rng = np.random.default_rng([seed, n, d, k, int(extreme), len(name)])
    if name in ON_LOGITS:
        shape = (n,) if name == "sigmoid" else (n, k)
        z = rng.uniform(-1e4, 1e4, shape) if extreme else rng.normal(0.0, 3.0, shape)
        if extreme:
            z.reshape(-1)[:2] = [1e4, -1e4][: z.size]
        z = z.astype(dtype)
        if name in ("sigmoid", "softmax"):
            return (z,)
        return (z, labels(rng, n, k))
    logit = 3e3 if extreme else 2.0  # the standard deviation of the logits
    X = rng.standard_normal((n, d)).astype(dtype)
    coef = (rng.standard_normal((k, d)) * (logit / np.sqrt(d))).astype(dtype)
    intercept = rng.standard_normal(k).astype(dtype)
    if name == "linear_forward":
        return (X, coef, intercept)
    y = labels(rng, n, k)
    if name == "loss_grad":
        return (X, y, coef, intercept, L2)
    order = np.arange(n)[::-1].copy()
    return (X, y, coef, intercept, order, n, np.array([LEARNING_RATE]), L2)


def cases(extreme=False):
    """pytest params (name, dtype, n, d, k, extreme) over every kernel, dtype and relevant shape.

    The extreme problems use the largest shapes only (they test values, not loop bounds).
    """
    params = []
    for name in KERNELS:
        dims = DIMS[name]
        for dtype in DTYPES:
            for n in (1, 7, 256) if not extreme else (7, 256):
                for d in (1, 784) if "d" in dims and not extreme else (784,):
                    for k in ((1, 2, 10) if not extreme else (1, 10)) if "k" in dims else (10,):
                        shape = "-".join(f"{c}{v}" for c, v in zip("ndk", (n, d, k)) if c in dims)
                        tag = "extreme-" if extreme else ""
                        params.append(
                            pytest.param(
                                name,
                                dtype,
                                n,
                                d,
                                k,
                                extreme,
                                id=f"{tag}{name}-{np.dtype(dtype)}-{shape}",
                            )
                        )
    return params


# --------------------------------------------------------------------------- running
def run(kernels, name, args):
    """Call kernel ``name``; return its results as a list (with the updated weights for epoch).

    Only the arrays the kernel writes (the weights of an epoch) are copied, so read-only inputs
    reach the kernel as they are.
    """
    args = list(args)
    if name == "epoch":
        args[2], args[3] = args[2].copy(), args[3].copy()
    result = getattr(kernels, name)(*args)
    if name == "epoch":
        return [*result, args[2], args[3]]
    if isinstance(result, tuple):
        return list(result)
    return [result]


def _f64(args):
    return [
        np.asarray(a, dtype=np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
        for a in args
    ]


def _logit_scales(Z, y):
    """Scales of (row loss, gradient by the logits) at logits Z: their sensitivity to a
    relative rounding of Z."""
    P = naive.probabilities(Z)
    if Z.shape[1] == 1:
        return np.abs(Z[:, 0]), P * (1.0 - P) * (1.0 + np.abs(Z))
    return 2 * np.abs(Z).max(axis=1), P * (1.0 + np.abs(Z - Z.max(axis=1, keepdims=True)))


def reference(name, args):
    """The naive results of kernel ``name`` on ``args`` and the tolerance scale of each."""
    f64 = _f64(args)
    if name == "linear_forward":
        X, coef, b = f64
        return [naive.linear_forward(X, coef, b)], [np.abs(X) @ np.abs(coef).T + np.abs(b)]
    if name == "sigmoid":
        return [naive.sigmoid(f64[0])], [0.0]
    if name == "softmax":
        Z = f64[0]
        P = naive.softmax(Z)
        return [P], [P * (1.0 + np.abs(Z - Z.max(axis=1, keepdims=True)))]
    if name == "cross_entropy":
        Z, y = f64
        return [naive.cross_entropy(Z, y)], [_logit_scales(Z, y)[0]]
    if name == "cross_entropy_grad":
        Z, y = f64
        return list(naive.cross_entropy_grad(Z, y)), list(_logit_scales(Z, y))
    return _objective_reference(name, f64)


def _objective_reference(name, args):
    """Naive results and scales of loss_grad and of one epoch step.

    A rounding of relative size u in the logits moves them by u * fs_n (fs_n = sum_j |x_nj w_j|,
    the row's largest), the row's derivative G_n by u * (1 + 2 p(1-p) fs_n), and so the
    gradient by the average of that times |x_n|: these are the scales.
    """
    X, y, coef, b = args[:4]
    l2 = args[-1]
    n = X.shape[0]
    Z = naive.linear_forward(X, coef, b)
    P = naive.probabilities(Z)
    fs = (np.abs(X) @ np.abs(coef).T + np.abs(b)).max(axis=1)
    sens = 1.0 + 2.0 * (P * (1.0 - P)).max(axis=1) * fs
    data_scale = np.mean(np.abs(Z).max(axis=1) + 2 * fs)
    gc_scale = np.broadcast_to((sens[:, None] * np.abs(X)).sum(axis=0) / n, coef.shape)
    gc_scale = gc_scale + 2 * l2 * np.abs(coef)
    gb_scale = np.full(coef.shape[0], sens.mean())
    penalty = l2 * float(np.sum(coef * coef))
    if name == "loss_grad":
        want = naive.loss_grad(X, y, coef, b, l2)
        return list(want), [data_scale + penalty, gc_scale, gb_scale]
    lr = args[6][0]
    coef_after, b_after = coef.copy(), b.copy()
    mean_loss, hits = naive.sgd_step(X[args[4]], y[args[4]], coef_after, b_after, lr, l2)
    return (
        [mean_loss, hits / n, coef_after, b_after],
        [data_scale, 0.0, np.abs(coef) + lr * gc_scale, np.abs(b) + lr * gb_scale],
    )


def assert_close(got, want, scale, dtype, what=""):
    """|got - want| <= rtol * (|want| + scale) + tiny, elementwise, and every value finite."""
    rtol = RTOL[np.dtype(dtype)]
    got64 = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got64.shape == want.shape, f"{what}: shape {got64.shape} != {want.shape}"
    assert np.isfinite(got64).all(), f"{what}: non-finite values {got64}"
    bound = rtol * (np.abs(want) + scale) + np.finfo(dtype).tiny
    excess = np.abs(got64 - want) / bound
    worst = np.unravel_index(np.argmax(excess), excess.shape) if excess.ndim else ()
    assert excess.max() <= 1.0, (
        f"{what}: error {excess.max():.3g}x the tolerance at {worst}: got {got64[worst]!r}, "
        f"want {want[worst]!r}"
    )


def assert_results_close(name, got, want, scales, dtype):
    assert len(got) == len(want), f"{name}: {len(got)} results, want {len(want)}"
    for i, (g, w, s) in enumerate(zip(got, want, scales)):
        if np.ndim(w) == 0:  # a loss or an accuracy: a Python float
            assert type(g) is float, f"{name} result {i}: {type(g)}, not a Python float"
        else:
            assert g.dtype == np.dtype(dtype), f"{name} result {i}: dtype {g.dtype} != {dtype}"
        assert_close(g, w, s, dtype, what=f"{name} result {i}")


# --------------------------------------------------------------------------- agreement
CASES = cases() + cases(extreme=True)


@pytest.mark.parametrize("name, dtype, n, d, k, extreme", CASES)
def test_kernel_matches_naive_loops(backend, name, dtype, n, d, k, extreme):
    args = make_args(name, dtype, n, d, k, extreme=extreme)
    before = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    got = run(backend, name, args)
    want, scales = reference(name, args)
    assert_results_close(name, got, want, scales, dtype)
    for a, b in zip(args, before):  # inputs are never written (an epoch writes copies here)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)


@pytest.mark.requires_cython
@pytest.mark.parametrize("name, dtype, n, d, k, extreme", CASES)
def test_raw_compiled_kernel_matches_raw_numpy_twin(
    cython_backend, numpy_backend, name, dtype, n, d, k, extreme
):
    """The raw twins (no input checks in between) agree within twice the reference's bound."""
    args = make_args(name, dtype, n, d, k, extreme=extreme)
    got = run(cython_backend.raw, name, args)
    twin = run(numpy_backend.raw, name, args)
    want, scales = reference(name, args)
    assert_results_close(name, got, twin, [2 * s + np.abs(w) for s, w in zip(scales, want)], dtype)


# --------------------------------------------------------------------------- extreme logits
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_limits_at_extreme_logits(backend, dtype):
    z = np.array([1e4, 1e4, -1e4, -1e4, 0.0, 50.0], dtype=dtype)
    y = np.array([1, 0, 1, 0, 1, 1], dtype=np.intc)
    np.testing.assert_array_equal(backend.sigmoid(z), np.array([1, 1, 0, 0, 0.5, 1], dtype))
    loss, grad = backend.cross_entropy_grad(z[:, None].copy(), y)
    np.testing.assert_array_equal(backend.cross_entropy(z[:, None].copy(), y), loss)
    # confidently right: ~0 (e^-1e4, e^-50 = 1.9e-22, to full relative precision); confidently
    # wrong: ~|z|; undecided: log 2
    want = [0.0, 1e4, 1e4, 0.0, np.log(2.0), np.exp(-50.0)]
    assert_close(loss, want, 0.0, dtype, "binary cross-entropy")
    # s(z) - y without cancellation: -s(-50) = -e^-50 (1 - e^-50), not 0
    assert_close(
        grad[:, 0], [0.0, 1.0, -1.0, 0.0, -0.5, -np.exp(-50.0)], 0.0, dtype, "binary gradient"
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_limits_at_extreme_logits(backend, dtype):
    Z = np.array([[1e4, 0.0, -1e4]] * 3 + [[-1e4, -1e4, -1e4], [40.0, 0.0, 0.0]], dtype=dtype)
    y = np.array([0, 1, 2, 1, 0], dtype=np.intc)
    loss = backend.cross_entropy(Z, y)
    # the last row is confidently right: 2 e^-40 = 8.5e-18, kept to full relative precision
    assert_close(
        loss, [0.0, 1e4, 2e4, np.log(3.0), 2 * np.exp(-40.0)], 0.0, dtype, "cross-entropy"
    )
    P = backend.softmax(Z)
    np.testing.assert_array_equal(P[:3], np.array([[1.0, 0.0, 0.0]] * 3, dtype))
    assert_close(P[3], [1 / 3] * 3, 0.0, dtype, "softmax of a tie")
    _, G = backend.cross_entropy_grad(Z, y)
    e = np.exp(-40.0)
    assert_close(
        G[4],
        [-2 * e / (1 + 2 * e), e / (1 + 2 * e), e / (1 + 2 * e)],
        0.0,
        dtype,
        "p_y - 1 at p_y -> 1 (no cancellation)",
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_grad_at_extreme_logits(backend, dtype):
    """Two rows with logits +-1e4: one confidently right (loss 0), one wrong (loss 2e4)."""
    X = np.ones((2, 1), dtype)
    y = np.array([0, 1], dtype=np.intc)
    loss, g_coef, g_b = backend.loss_grad(
        X, y, np.array([[1e4], [-1e4]], dtype), np.zeros(2, dtype), 0.0
    )
    assert loss == pytest.approx(1e4, rel=RTOL[np.dtype(dtype)])
    # G = P - T is [0, 0] for the right row and [1, -1] for the wrong one; mean [0.5, -0.5]
    np.testing.assert_array_equal(g_coef, np.array([[0.5], [-0.5]], dtype))
    np.testing.assert_array_equal(g_b, np.array([0.5, -0.5], dtype))

    loss, g_coef, g_b = backend.loss_grad(
        X, y[::-1].copy(), np.array([[1e4]], dtype), np.zeros(1, dtype), 0.0
    )
    assert loss == pytest.approx(5e3, rel=RTOL[np.dtype(dtype)])  # (0 + 1e4) / 2
    np.testing.assert_array_equal(g_coef, np.array([[0.5]], dtype))  # (s - y) = 0 and 1
    np.testing.assert_array_equal(g_b, np.array([0.5], dtype))


# --------------------------------------------------------------------------- calling conventions
@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("k", (1, 10))
@pytest.mark.parametrize("dtype", DTYPES)
def test_read_only_inputs(backend, name, k, dtype):
    args = make_args(name, dtype, 7, 784, k)
    expected = run(backend, name, args)
    frozen = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    for i, a in enumerate(frozen):
        if isinstance(a, np.ndarray) and not (name == "epoch" and i in (2, 3)):
            a.setflags(write=False)  # an epoch writes coef and intercept (run copies them)
    got = run(backend, name, frozen)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


OUT_KERNELS = ("linear_forward", "sigmoid", "softmax", "cross_entropy")


@pytest.mark.parametrize("name", OUT_KERNELS)
@pytest.mark.parametrize("k", (1, 10))
@pytest.mark.parametrize("dtype", DTYPES)
def test_out_array_is_written_and_returned(backend, name, k, dtype):
    args = make_args(name, dtype, 7, 784, k)
    expected = getattr(backend, name)(*args)
    out = np.full_like(expected, np.nan)
    result = getattr(backend, name)(*args, out=out)
    assert result is out
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_in_place(backend, dtype):
    (Z,) = make_args("softmax", dtype, 7, 1, 10)
    expected = backend.softmax(Z)
    assert backend.softmax(Z, out=Z) is Z
    np.testing.assert_array_equal(Z, expected)


@pytest.mark.parametrize("k", (1, 2, 10))
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_grad_outputs_and_in_place(backend, k, dtype):
    Z, y = make_args("cross_entropy_grad", dtype, 7, 1, k)
    loss, grad = backend.cross_entropy_grad(Z, y)
    out_loss, out_grad = np.full_like(loss, np.nan), np.full_like(grad, np.nan)
    result = backend.cross_entropy_grad(Z, y, loss=out_loss, grad=out_grad)
    assert result[0] is out_loss and result[1] is out_grad
    np.testing.assert_array_equal(out_loss, loss)
    np.testing.assert_array_equal(out_grad, grad)
    Zw = Z.copy()
    in_place = backend.cross_entropy_grad(Zw, y, grad=Zw)  # the loss is taken before Z goes
    assert in_place[1] is Zw
    np.testing.assert_array_equal(in_place[0], loss)
    np.testing.assert_array_equal(Zw, grad)


@pytest.mark.parametrize("k", (1, 10))
@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_arrays_are_written_and_returned(backend, k, dtype):
    args = make_args("loss_grad", dtype, 7, 784, k)
    loss, g_coef, g_b = backend.loss_grad(*args)
    out_coef, out_b = np.full_like(g_coef, np.nan), np.full_like(g_b, np.nan)
    result = backend.loss_grad(*args, grad_coef=out_coef, grad_intercept=out_b)
    assert result[0] == loss
    assert result[1] is out_coef and result[2] is out_b
    np.testing.assert_array_equal(out_coef, g_coef)
    np.testing.assert_array_equal(out_b, g_b)


@pytest.mark.parametrize("k", (1, 10))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l2", (0.0, L2))
def test_one_batch_epoch_is_one_gradient_step(backend, k, dtype, l2):
    """An epoch of one batch moves the weights by -lr times the gradient of loss_grad, in place."""
    X, y, coef, b, order, _, lrs, _ = make_args("epoch", dtype, 256, 784, k)
    loss, g_coef, g_b = backend.loss_grad(X, y, coef, b, l2)
    new_coef, new_b = coef.copy(), b.copy()
    mean_loss, accuracy = backend.epoch(X, y, new_coef, new_b, order, 256, lrs, l2)
    assert type(mean_loss) is float and type(accuracy) is float
    assert new_coef.dtype == new_b.dtype == np.dtype(dtype)
    step = dtype(lrs[0])
    assert_close(new_coef, coef - step * g_coef, np.abs(coef), dtype, "coef after the step")
    assert_close(new_b, b - step * g_b, np.abs(b), dtype, "intercept after the step")
    # the epoch reports the data loss only: the objective without its penalty
    penalty = l2 * float(np.sum(coef.astype(np.float64) ** 2))
    assert_close(mean_loss, loss - penalty, penalty, dtype, "loss reported by the epoch")


@pytest.mark.parametrize("k", (1, 3))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pixels", (False, True), ids=("float", "uint8"))
def test_one_row_batches_match_naive_epoch(backend, k, dtype, pixels):
    """Batches of one row each (and uint8 rows scaled inside) follow the naive loop."""
    rng = np.random.default_rng(k)
    n, d = 9, 13
    if pixels:
        X, scale = rng.integers(0, 256, (n, d)).astype(np.uint8), 1 / 255
    else:
        X, scale = rng.standard_normal((n, d)).astype(dtype), 0.5
    y = labels(rng, n, k)
    coef = (rng.standard_normal((k, d)) * 0.3).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    order, lrs = rng.permutation(n), np.linspace(0.5, 0.1, n)
    coef_ref, b_ref = coef.astype(np.float64), b.astype(np.float64)
    seen = X.astype(dtype) * dtype(scale)  # the rows the model sees, rounded as the kernel does
    want = naive.epoch(seen, y, coef_ref, b_ref, order, 1, lrs, L2)
    got = backend.epoch(X, y, coef, b, order, 1, lrs, L2, input_scale=scale)
    rtol = 1e-4 if dtype == np.float32 else 1e-11
    assert got[1] == want[1]
    np.testing.assert_allclose(got[0], want[0], rtol=rtol)
    np.testing.assert_allclose(coef, coef_ref, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(b, b_ref, rtol=rtol, atol=rtol)


def _row_weights(n, seed=0):
    """Weights in [0, 2], every third 0 (not all: row 1 weighs 1.5)."""
    w = np.random.default_rng([seed, n]).uniform(0.0, 2.0, n)
    w[::3] = 0.0
    w[min(1, n - 1)] = 1.5
    return w


@pytest.mark.parametrize(
    "name, dtype, n, d, k, extreme", [c for c in CASES if c.values[0] == "loss_grad"]
)
def test_weighted_loss_grad_matches_naive_loops(backend, name, dtype, n, d, k, extreme):
    """J = sum w E / sum w + l2 ||coef||^2 and its gradient against the weighted loops."""
    X, y, coef, b, l2 = make_args(name, dtype, n, d, k, extreme=extreme)
    w = _row_weights(n).astype(dtype)
    got = run(backend, name, (X, y, coef, b, l2, None, None, w))
    want = naive.loss_grad(*_f64([X, y, coef, b]), l2, sample_weight=w)
    _, scales = reference(name, (X, y, coef, b, l2))
    # the unweighted scales, times the largest weight over the mean one
    factor = float(w.max() / w.mean())
    assert_results_close(name, got, want, [factor * np.asarray(s) for s in scales], dtype)


@pytest.mark.parametrize("k", (1, 10))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l2", (0.0, L2))
def test_one_batch_weighted_epoch_is_one_weighted_gradient_step(backend, k, dtype, l2):
    """With v of mean 1 over the batch, a one-batch epoch steps by -lr P times the gradient of
    the weighted objective (loss_grad with the same weights), and reports its data loss."""
    X, y, coef, b, order, _, lrs, _ = make_args("epoch", dtype, 256, 784, k)
    v = _row_weights(256)
    v = (v / v.mean()).astype(dtype)
    p = np.random.default_rng(1).uniform(0.2, 2.0, 784).astype(dtype)
    loss, g_coef, g_b = backend.loss_grad(X, y, coef, b, l2, sample_weight=v)
    new_coef, new_b = coef.copy(), b.copy()
    mean_loss, accuracy = backend.epoch(
        X, y, new_coef, new_b, order, 256, lrs, l2, sample_weight=v, step_scale=p
    )
    assert type(mean_loss) is float and type(accuracy) is float
    step = dtype(lrs[0])
    # the unweighted step's scales, times the largest weight and step scale
    _, scales = reference("epoch", (X, y, coef, b, order, 256, lrs, l2))
    factor = float(v.max()) * float(p.max())
    assert_close(
        new_coef, coef - step * p * g_coef, factor * scales[2], dtype, "coef after the step"
    )
    assert_close(new_b, b - step * g_b, factor * scales[3], dtype, "intercept after the step")
    penalty = l2 * float(np.sum(coef.astype(np.float64) ** 2))
    assert_close(mean_loss, loss - penalty, penalty, dtype, "loss reported by the epoch")
    Z = naive.linear_forward(X, coef, b)
    assert accuracy == pytest.approx(
        naive.correct(Z, y, v) / float(v.sum(dtype=np.float64)), rel=1e-6
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_without_some_classes(backend, dtype):
    """Classes 3..9 are absent: their gradient is the mean probability mass sent to them."""
    X, _, coef, b, l2 = make_args("loss_grad", dtype, 64, 784, 10)
    y = (np.arange(64) % 3).astype(np.intc)
    loss, g_coef, g_b = backend.loss_grad(X, y, coef, b, l2)
    want, scales = reference("loss_grad", (X, y, coef, b, l2))
    assert_results_close("loss_grad", [loss, g_coef, g_b], want, scales, dtype)
    P = naive.softmax(naive.linear_forward(X, coef, b))
    assert (g_b[3:] > 0).all()
    assert_close(g_b[3:], P[:, 3:].mean(axis=0), scales[2][3:], dtype, "absent-class intercepts")


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_takes_any_shape(backend, dtype):
    """sigmoid is elementwise on an array of any shape (here (3, 4), and a transposed view)."""
    z = np.linspace(-30, 30, 12, dtype=dtype).reshape(3, 4)
    for arg in (z, z.T):
        s = backend.sigmoid(arg)
        assert s.shape == arg.shape and s.dtype == np.dtype(dtype)
        assert_close(s, naive.sigmoid(arg), 0.0, dtype, "sigmoid of a 2-d array")


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_sees_x_times_input_scale(backend, dtype):
    """uint8 pixels and float rows alike: the model sees dtype(x) * dtype(input_scale)."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (50, 31)).astype(np.uint8)
    coef = rng.standard_normal((4, 31)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    for X, scale in ((pixels, 1 / 255), (pixels.astype(dtype), 1 / 255), (pixels, 1.0)):
        seen = X.astype(dtype) * dtype(scale)
        got = backend.linear_forward(X, coef, b, scale)
        want, scales = reference("linear_forward", (seen, coef, b))
        assert_results_close("linear_forward", [got], want, scales, dtype)


# --------------------------------------------------------------------------- large batches
# The compiled forward pass runs the fused epoch's blocked SIMD kernel on packed weights, in
# blocks of 16 rows and tasks of 128 rows shared by OpenMP threads (N <= 2: plain dot products).
# Batches up to a validation set's size, feature counts that are and are not a multiple of the
# vector width, class counts that do and do not fill its class blocks.
FORWARD_SHAPES = [(n, d, k) for n in (3, 1000, 3000) for d in (13, 784) for k in (1, 2, 10)]


def forward_args(dtype, n, d, k, seed=0):
    """(X, coef, intercept) of one forward problem; k == 1 is the logistic model."""
    rng = np.random.default_rng([seed, n, d, k])
    X = rng.standard_normal((n, d)).astype(dtype)
    coef = (rng.standard_normal((k, d)) * (2.0 / np.sqrt(d))).astype(dtype)
    intercept = rng.standard_normal(k).astype(dtype)
    return X, coef, intercept


@pytest.mark.parametrize("n, d, k", FORWARD_SHAPES, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_large_batches(backend, dtype, n, d, k):
    args = forward_args(dtype, n, d, k)
    got = backend.linear_forward(*args)
    want, scales = reference("linear_forward", args)
    assert_results_close("linear_forward", [got], want, scales, dtype)


@pytest.mark.requires_cython
@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_forward_every_simd_level_and_thread_count(cython_backend, linear_module, dtype):
    """Each instruction-set variant, threads on and off: within the bound of the naive loops,
    and the same bits whatever the thread count (each row is one thread's, in one order)."""
    m = linear_module
    threads = m._forward_max_threads()
    for level in m._simd_levels():
        m._set_simd_level(level)
        for n, d, k in (
            (3, 1, 1),
            (17, 16, 3),
            (300, 17, 11),
            (1000, 785, 10),
            (1000, 33, 1),
            (257, 100, 5),
            (129, 64, 2),
        ):
            args = forward_args(dtype, n, d, k, seed=1)
            want, scales = reference("linear_forward", args)
            results = []
            for min_ns in (10**15, 0):  # one thread; threads at every size above one task
                m._forward_tuning(min_ns=min_ns)
                results.append(cython_backend.linear_forward(*args))
                expected_threads = 1 if min_ns else min(threads, -(-n // 128))
                assert m._forward_last_threads() == expected_threads, (level, n, d, k)
                assert_results_close("linear_forward", results[-1:], want, scales, dtype)
            np.testing.assert_array_equal(results[0], results[1], err_msg=f"{level} {n, d, k}")


@pytest.mark.requires_cython
def test_compiled_forward_thread_count_is_a_function_of_the_shape(cython_backend, linear_module):
    """(Was: the back-off to one thread after contention, now gone.) Repeated calls on one
    shape run on the same number of threads and give the same bits, whatever the load."""
    m = linear_module
    args = forward_args(np.float32, 1000, 784, 10)
    m._forward_tuning(min_ns=0)
    first = cython_backend.linear_forward(*args)
    threads = m._forward_last_threads()
    assert threads == min(m._forward_max_threads(), 8)  # 8 tasks of 128 rows
    for _ in range(3):
        np.testing.assert_array_equal(cython_backend.linear_forward(*args), first)
        assert m._forward_last_threads() == threads


def _forward_in_child(conn):
    from fastreg._kernels import _linear

    args = forward_args(np.float64, 3000, 784, 10)
    z = _linear.linear_forward(*args)
    conn.send((z, _linear._forward_last_threads(), _linear._forward_max_threads()))
    conn.close()


@pytest.mark.requires_cython
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")
def test_compiled_forward_in_forked_child(cython_backend, linear_module):
    """A child forked after threaded forward calls runs its own on one thread (GNU libgomp's
    threads do not survive fork: a parallel region in the child would hang)."""
    import multiprocessing

    m = linear_module
    args = forward_args(np.float64, 3000, 784, 10)
    m._forward_tuning(min_ns=0)
    want = cython_backend.linear_forward(*args)  # the parent's OpenMP threads now exist
    parent, child = multiprocessing.get_context("fork").Pipe()
    proc = multiprocessing.get_context("fork").Process(target=_forward_in_child, args=(child,))
    proc.start()
    try:
        assert parent.poll(60), "the forked child did not answer within 60 s (hung?)"
        z, last_threads, max_threads = parent.recv()
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    assert (last_threads, max_threads) == (1, 1)
    np.testing.assert_array_equal(z, want)


# --------------------------------------------------------------------------- the input checks
def _good(name, k=3):
    """Valid arguments (as a dict) of kernel ``name``: 6 rows, 5 features, float64."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((6, 5))
    coef, b = rng.standard_normal((k, 5)), np.zeros(k)
    y = labels(rng, 6, k)
    Z = rng.standard_normal((6, k))
    return {
        "linear_forward": dict(X=X, coef=coef, intercept=b),
        "epoch": dict(
            X=X,
            y=y,
            coef=coef,
            intercept=b,
            order=np.arange(6),
            batch_size=4,
            learning_rates=np.full(2, 0.125),
            l2=0.0,
        ),
        "loss_grad": dict(X=X, y=y, coef=coef, intercept=b, l2=0.0),
        "sigmoid": dict(z=Z[:, 0].copy()),
        "softmax": dict(Z=Z),
        "cross_entropy": dict(Z=Z, y=y),
        "cross_entropy_grad": dict(Z=Z, y=y),
    }[name]


def _read_only(a):
    a = a.copy()
    a.setflags(write=False)
    return a


def _fortran(a):
    return np.asfortranarray(a)


#: (id, kernel, K, change of the valid arguments, exception, message pattern)
BAD_INPUTS = [
    # X
    ("X-fortran", "epoch", 3, dict(X=lambda a: _fortran(a["X"])), ValueError, "C-contiguous"),
    (
        "X-fortran",
        "linear_forward",
        1,
        dict(X=lambda a: _fortran(a["X"])),
        ValueError,
        "C-contiguous",
    ),
    (
        "X-strided",
        "loss_grad",
        3,
        dict(X=lambda a: np.repeat(a["X"], 2, axis=1)[:, ::2]),
        ValueError,
        "C-contiguous",
    ),
    ("X-1d", "epoch", 3, dict(X=lambda a: a["X"][0]), TypeError, "2-d"),
    ("X-dtype", "epoch", 3, dict(X=lambda a: a["X"].astype(np.float32)), TypeError, "float64"),
    ("X-int", "linear_forward", 3, dict(X=lambda a: a["X"].astype(np.int64)), TypeError, "uint8"),
    ("X-uint8", "loss_grad", 3, dict(X=lambda a: a["X"].astype(np.uint8)), TypeError, "float64"),
    ("X-list", "linear_forward", 3, dict(X=lambda a: a["X"].tolist()), TypeError, "NumPy array"),
    ("X-features", "epoch", 3, dict(X=lambda a: a["X"][:, :4].copy()), ValueError, "features"),
    (
        "X-features",
        "linear_forward",
        1,
        dict(X=lambda a: a["X"][:, :4].copy()),
        ValueError,
        "features",
    ),
    (
        "X-no-rows",
        "loss_grad",
        3,
        dict(X=lambda a: a["X"][:0], y=lambda a: a["y"][:0]),
        ValueError,
        "no rows",
    ),
    # weights
    (
        "coef-int",
        "epoch",
        3,
        dict(coef=lambda a: a["coef"].astype(int)),
        TypeError,
        "float32 or float64",
    ),
    (
        "coef-float16",
        "linear_forward",
        3,
        dict(coef=lambda a: a["coef"].astype(np.float16)),
        TypeError,
        "float32 or float64",
    ),
    ("coef-1d", "linear_forward", 1, dict(coef=lambda a: a["coef"][0]), ValueError, "2-d"),
    (
        "coef-fortran",
        "loss_grad",
        3,
        dict(coef=lambda a: _fortran(a["coef"])),
        ValueError,
        "C-contiguous",
    ),
    (
        "coef-fortran",
        "epoch",
        3,
        dict(coef=lambda a: _fortran(a["coef"])),
        ValueError,
        "C-contiguous",
    ),
    (
        "intercept-shape",
        "epoch",
        1,
        dict(intercept=lambda a: np.zeros(2)),
        ValueError,
        r"intercept \(1,\)",
    ),
    (
        "coef-read-only",
        "epoch",
        3,
        dict(coef=lambda a: _read_only(a["coef"])),
        ValueError,
        "writeable",
    ),
    (
        "intercept-read-only",
        "epoch",
        1,
        dict(intercept=lambda a: _read_only(a["intercept"])),
        ValueError,
        "writeable",
    ),
    (
        "intercept-dtype",
        "epoch",
        3,
        dict(intercept=lambda a: a["intercept"].astype(np.float32)),
        TypeError,
        "intercept must be a float64",
    ),
    (
        "intercept-scalar",
        "linear_forward",
        1,
        dict(intercept=lambda a: 0.5),
        TypeError,
        "intercept must be a float64",
    ),
    (
        "intercept-shape",
        "loss_grad",
        3,
        dict(intercept=lambda a: a["intercept"][:2].copy()),
        ValueError,
        r"intercept \(3,\)",
    ),
    # labels
    ("y-length", "epoch", 3, dict(y=lambda a: a["y"][:5].copy()), ValueError, "one label per row"),
    ("y-label-2-for-K-1", "epoch", 1, dict(y=lambda a: np.full(6, 2, np.intc)), ValueError, "0/1"),
    (
        "y-label-K",
        "loss_grad",
        3,
        dict(y=lambda a: np.full(6, 3, np.intc)),
        ValueError,
        r"outside 0\.\.2",
    ),
    (
        "y-negative",
        "cross_entropy",
        3,
        dict(y=lambda a: np.full(6, -1, np.intc)),
        ValueError,
        "outside",
    ),
    (
        "y-negative",
        "cross_entropy_grad",
        1,
        dict(y=lambda a: np.full(6, -1, np.intc)),
        ValueError,
        "outside",
    ),
    ("y-float", "epoch", 3, dict(y=lambda a: a["y"].astype(float)), TypeError, "integer"),
    # order, batches, learning rates, scalars
    (
        "order-out-of-range",
        "epoch",
        3,
        dict(order=lambda a: np.arange(1, 7)),
        ValueError,
        "order holds row indices outside 0..5",
    ),
    (
        "order-negative",
        "epoch",
        1,
        dict(order=lambda a: np.array([0, -1])),
        ValueError,
        "order holds row indices outside",
    ),
    ("order-empty", "epoch", 3, dict(order=lambda a: np.arange(0)), ValueError, "empty"),
    ("order-float", "epoch", 3, dict(order=lambda a: np.arange(6.0)), TypeError, "order"),
    (
        "too-few-learning-rates",
        "epoch",
        3,
        dict(learning_rates=lambda a: np.full(1, 0.1)),
        ValueError,
        "learning_rates has 1 entries but the epoch has 2 batches",
    ),
    (
        "learning-rates-2d",
        "epoch",
        3,
        dict(learning_rates=lambda a: np.full((2, 1), 0.1)),
        TypeError,
        "learning_rates",
    ),
    ("batch-size-0", "epoch", 3, dict(batch_size=lambda a: 0), ValueError, "batch_size"),
    ("batch-size-float", "epoch", 3, dict(batch_size=lambda a: 2.5), TypeError, "batch_size"),
    ("n-threads-0", "epoch", 3, dict(n_threads=lambda a: 0), ValueError, "n_threads"),
    ("l2-nan", "loss_grad", 3, dict(l2=lambda a: float("nan")), ValueError, "l2"),
    ("l2-string", "epoch", 3, dict(l2=lambda a: "0.1"), TypeError, "l2"),
    (
        "input-scale-inf",
        "linear_forward",
        3,
        dict(input_scale=lambda a: np.inf),
        ValueError,
        "input_scale",
    ),
    # sample weights (one per row of X) and step scales (one per feature)
    (
        "sample-weight-length",
        "epoch",
        3,
        dict(sample_weight=lambda a: np.ones(5)),
        ValueError,
        "sample_weight has 5 entries but there are 6 row of Xs",
    ),
    (
        "sample-weight-length",
        "loss_grad",
        1,
        dict(sample_weight=lambda a: np.ones(7)),
        ValueError,
        "sample_weight has 7 entries",
    ),
    (
        "sample-weight-2d",
        "epoch",
        3,
        dict(sample_weight=lambda a: np.ones((6, 1))),
        TypeError,
        "sample_weight must be None or a 1-d array of reals",
    ),
    (
        "sample-weight-list",
        "loss_grad",
        3,
        dict(sample_weight=lambda a: [1.0] * 6),
        TypeError,
        "sample_weight must be a NumPy array",
    ),
    (
        "sample-weight-strings",
        "epoch",
        1,
        dict(sample_weight=lambda a: np.array(["1"] * 6)),
        TypeError,
        "1-d array of reals",
    ),
    (
        "sample-weight-negative",
        "epoch",
        3,
        dict(sample_weight=lambda a: np.array([1, 1, -0.5, 1, 1, 1])),
        ValueError,
        r"sample_weight holds negative values \(min -0\.5\); pass weights >= 0",
    ),
    (
        "sample-weight-nan",
        "loss_grad",
        3,
        dict(sample_weight=lambda a: np.array([1, np.nan, 1, 1, 1, 1])),
        ValueError,
        "sample_weight holds values that are not finite",
    ),
    (
        "sample-weight-inf",
        "epoch",
        1,
        dict(sample_weight=lambda a: np.array([1, 1, 1, 1, 1, np.inf])),
        ValueError,
        "not finite",
    ),
    (
        "sample-weight-float32-overflow",
        "epoch",
        3,
        dict(
            X=lambda a: a["X"].astype(np.float32),
            coef=lambda a: a["coef"].astype(np.float32),
            intercept=lambda a: a["intercept"].astype(np.float32),
            sample_weight=lambda a: np.full(6, 1e300),
        ),
        ValueError,
        "not finite in float32",
    ),
    (
        "sample-weight-all-zero",
        "loss_grad",
        3,
        dict(sample_weight=lambda a: np.zeros(6)),
        ValueError,
        "sample weights are all zero",
    ),
    (
        "sample-weight-zero-over-order",
        "epoch",
        3,
        dict(order=lambda a: np.array([0, 2, 4]), sample_weight=lambda a: np.array([0, 1.0] * 3)),
        ValueError,
        "the sample weights of the rows in order are all zero",
    ),
    (
        "step-scale-length",
        "epoch",
        3,
        dict(step_scale=lambda a: np.ones(6)),
        ValueError,
        "step_scale has 6 entries but there are 5 features",
    ),
    (
        "step-scale-2d",
        "epoch",
        1,
        dict(step_scale=lambda a: np.ones((1, 5))),
        TypeError,
        "step_scale must be None or a 1-d array",
    ),
    (
        "step-scale-zero",
        "epoch",
        3,
        dict(step_scale=lambda a: np.array([1, 1, 0, 1, 1.0])),
        ValueError,
        r"step_scale holds values <= 0 \(min 0\.0\); pass factors > 0",
    ),
    (
        "step-scale-negative",
        "epoch",
        1,
        dict(step_scale=lambda a: -np.ones(5)),
        ValueError,
        "values <= 0",
    ),
    (
        "step-scale-nan",
        "epoch",
        3,
        dict(step_scale=lambda a: np.full(5, np.nan)),
        ValueError,
        "step_scale holds values that are not finite",
    ),
    # outputs and logits
    (
        "out-shape",
        "linear_forward",
        3,
        dict(out=lambda a: np.empty((5, 3))),
        ValueError,
        r"out must have shape \(6, 3\)",
    ),
    (
        "out-dtype",
        "softmax",
        3,
        dict(out=lambda a: np.empty((6, 3), np.float32)),
        TypeError,
        "out must have dtype float64",
    ),
    (
        "out-read-only",
        "cross_entropy",
        3,
        dict(out=lambda a: _read_only(np.empty(6))),
        ValueError,
        "read-only",
    ),
    (
        "out-not-contiguous",
        "sigmoid",
        3,
        dict(z=lambda a: np.zeros((3, 4)), out=lambda a: np.empty((4, 3)).T),
        ValueError,
        "out must be C-contiguous",
    ),
    (
        "grad-read-only",
        "cross_entropy_grad",
        3,
        dict(grad=lambda a: _read_only(a["Z"])),
        ValueError,
        "read-only",
    ),
    (
        "loss-shape",
        "cross_entropy_grad",
        1,
        dict(loss=lambda a: np.empty(5)),
        ValueError,
        r"loss must have shape \(6,\)",
    ),
    (
        "grad-coef-shape",
        "loss_grad",
        3,
        dict(grad_coef=lambda a: np.empty((3, 4))),
        ValueError,
        r"grad_coef must have shape \(3, 5\)",
    ),
    ("Z-1d", "softmax", 3, dict(Z=lambda a: a["Z"][:, 0].copy()), ValueError, "2-d"),
    (
        "Z-no-columns",
        "cross_entropy",
        3,
        dict(Z=lambda a: a["Z"][:, :0].copy()),
        ValueError,
        "at least one column",
    ),
    (
        "Z-int",
        "cross_entropy_grad",
        3,
        dict(Z=lambda a: a["Z"].astype(int)),
        TypeError,
        "float32 or float64",
    ),
    (
        "Z-fortran",
        "cross_entropy",
        3,
        dict(Z=lambda a: _fortran(a["Z"])),
        ValueError,
        "C-contiguous",
    ),
    ("z-int", "sigmoid", 3, dict(z=lambda a: np.arange(4)), TypeError, "float32 or float64"),
]


@pytest.mark.parametrize(
    "case, name, k, change, error, match", BAD_INPUTS, ids=[f"{c[1]}-{c[0]}" for c in BAD_INPUTS]
)
def test_every_backend_refuses_the_same_inputs(case, name, k, change, error, match):
    """Each bad input raises the same exception with the same message on every backend that
    loads (the shared check of _checks.py runs before the raw kernel), and the valid
    arguments it was made from pass."""
    refusals.assert_every_backend_refuses(name, lambda: _good(name, k), change, error, match)


@pytest.mark.parametrize("k", (1, 3))
def test_checks_pass_converted_arguments_to_the_raw_kernel(backend, k):
    """Labels of another integer type, order of int32 and learning rates as float32 train as
    their converted forms do (np.intc, np.intp, float64)."""
    good = _good("epoch", k)
    want_coef, want_b = good["coef"].copy(), good["intercept"].copy()
    want = backend.epoch(**dict(good, coef=want_coef, intercept=want_b))
    coef, b = good["coef"].copy(), good["intercept"].copy()
    got = backend.epoch(
        **dict(
            good,
            coef=coef,
            intercept=b,
            y=good["y"].astype(np.int64),
            order=good["order"].astype(np.int32),
            learning_rates=good["learning_rates"].astype(np.float32),
        )
    )
    assert got == want
    np.testing.assert_array_equal(coef, want_coef)
    np.testing.assert_array_equal(b, want_b)
    # integer weights and float32 step scales train as their float64 (coef's dtype) forms
    weights = dict(sample_weight=np.array([1, 0, 2, 3, 1, 1]), step_scale=np.full(5, 0.5))
    runs = []
    for sw, ss in (
        (weights["sample_weight"], weights["step_scale"].astype(np.float32)),
        (weights["sample_weight"].astype(np.float64), weights["step_scale"]),
    ):
        coef, b = good["coef"].copy(), good["intercept"].copy()
        runs.append(
            (
                backend.epoch(
                    **dict(good, coef=coef, intercept=b, sample_weight=sw, step_scale=ss)
                ),
                coef,
                b,
            )
        )
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_array_equal(runs[0][2], runs[1][2])


# --------------------------------------------------------------------------- the public edge
@pytest.mark.parametrize("k", (1, 4))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ("fortran", "strided"))
def test_non_contiguous_inputs_are_converted_at_the_edge(backend, k, dtype, layout):
    """fastreg.loss_and_grad copies X (and coef) to C order: the answer equals the C-ordered
    one."""
    rng = np.random.default_rng(7)
    n, d = 9, 20
    X = rng.standard_normal((n, 2 * d)).astype(dtype)
    y = rng.integers(0, max(k, 2), n)
    coef = rng.standard_normal((k, d)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    if layout == "fortran":
        X_odd, coef_odd = np.asfortranarray(X[:, :d]), np.asfortranarray(coef)
    else:
        X_odd, coef_odd = X[:, ::2], np.repeat(coef, 2, axis=1)[:, ::2]
    assert not X_odd.flags.c_contiguous
    from fastreg import loss_and_grad

    expected = loss_and_grad(
        np.ascontiguousarray(X_odd),
        y,
        np.ascontiguousarray(coef_odd),
        b,
        l2=L2,
        backend=backend.name,
    )
    got = loss_and_grad(X_odd, y, coef_odd, b, l2=L2, backend=backend.name)
    assert got[0] == expected[0]
    for g, e in zip(got[1:], expected[1:]):
        assert np.asarray(g).dtype == np.dtype(dtype)
        np.testing.assert_array_equal(g, e)
