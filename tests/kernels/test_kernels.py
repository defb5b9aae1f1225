"""The ten non-epoch kernels, each held to a plain-loop reference and to its NumPy twin.

Every kernel is run on inputs of each dtype (float32, float64) and shape (N in {1, 7, 256},
d in {1, 784}, K in {2, 10}; dimensions a kernel does not take are not varied), with moderate
logits and with logits up to |z| = 1e4; the forward passes also on batches up to 3000 rows, on
every SIMD level and thread count (the end of this file). Three answers must agree:

* ``tests/naive.py``: per-sample loops in float64 on the same inputs (the reference);
* the NumPy twin (``fastreg/_numpy_kernels.py``, the specification);
* the compiled kernel (``fastreg._kernels``), compared with the twin under ``requires_cython``.

Tolerances are relative to the magnitude of the terms that make each result, the bound a
correctly rounded computation meets: ``|got - want| <= rtol * (|want| + scale)`` with rtol 1e-12
(float64) or 1e-5 (float32). ``scale`` is, for a dot product, sum_j |x_j w_j|; for a function of
logits, its sensitivity to a rounding of them. These bounds are many orders of magnitude below
the error of any wrong formula (a missing 1/N, a factor 2 in the penalty, an unshifted softmax).
"""
import os

import numpy as np
import pytest

import fastreg
from helpers import naive

DTYPES = (np.float32, np.float64)
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
L2 = 0.05
LEARNING_RATE = 0.5

BINARY = ("linear_forward_binary", "sigmoid", "binary_cross_entropy", "binary_loss_grad",
          "binary_sgd_step")
MULTINOMIAL = ("linear_forward", "softmax", "multinomial_cross_entropy",
               "multinomial_loss_grad", "multinomial_sgd_step")
ALL_KERNELS = BINARY + MULTINOMIAL
#: the dimensions each kernel's arguments depend on (the others are not varied)
DIMS = {
    "linear_forward": "ndk", "linear_forward_binary": "nd", "sigmoid": "n", "softmax": "nk",
    "binary_cross_entropy": "n", "multinomial_cross_entropy": "nk", "binary_loss_grad": "nd",
    "multinomial_loss_grad": "ndk", "binary_sgd_step": "nd", "multinomial_sgd_step": "ndk",
}
#: kernels whose 3rd and 4th arguments (coef, intercept) are updated in place
IN_PLACE = ("binary_sgd_step", "multinomial_sgd_step")


# --------------------------------------------------------------------------- inputs
def make_args(name, dtype, n, d, k, *, extreme=False, seed=0):
    """The arguments of kernel ``name`` for one random problem.

    Moderate problems have logits of a few units; ``extreme`` ones have logits up to +-1e4,
    including the exact values +-1e4 where a kernel takes logits directly.
    """
    rng = np.random.default_rng([seed, n, d, k, int(extreme), len(name)])
    binary = name in BINARY
    if name in ("sigmoid", "binary_cross_entropy", "softmax", "multinomial_cross_entropy"):
        shape = (n,) if binary else (n, k)
        z = rng.uniform(-1e4, 1e4, shape) if extreme else rng.normal(0.0, 3.0, shape)
        if extreme:
            z.reshape(-1)[: 2] = [1e4, -1e4][: z.size]
        z = z.astype(dtype)
        if name in ("sigmoid", "softmax"):
            return (z,)
        return (z, labels(rng, n, 2 if binary else k))
    logit = 3e3 if extreme else 2.0  # the standard deviation of the logits
    X = rng.standard_normal((n, d)).astype(dtype)
    coef = (rng.standard_normal(d if binary else (k, d)) * (logit / np.sqrt(d))).astype(dtype)
    intercept = rng.standard_normal(1 if binary else k).astype(dtype)
    if name.startswith("linear_forward"):
        return (X, coef, intercept)
    y = labels(rng, n, 2 if binary else k)
    if name.endswith("loss_grad"):
        return (X, y, coef, intercept, L2)
    return (X, y, coef, intercept, LEARNING_RATE, L2)


def labels(rng, n, k):
    return rng.integers(0, k, n).astype(np.intc)


def cases(extreme=False):
    """pytest params (name, dtype, n, d, k, extreme) over every kernel, dtype and relevant shape.

    The extreme problems use the largest shapes only (they test values, not loop bounds).
    """
    params = []
    for name in ALL_KERNELS:
        dims = DIMS[name]
        for dtype in DTYPES:
            for n in (1, 7, 256) if not extreme else (7, 256):
                for d in (1, 784) if "d" in dims and not extreme else (784,):
                    for k in (2, 10) if "k" in dims and not extreme else (10,):
                        shape = "-".join(f"{c}{v}" for c, v in zip("ndk", (n, d, k)) if c in dims)
                        tag = "extreme-" if extreme else ""
                        params.append(pytest.param(name, dtype, n, d, k, extreme,
                                                   id=f"{tag}{name}-{np.dtype(dtype)}-{shape}"))
    return params


# --------------------------------------------------------------------------- running
def run(kernels, name, args):
    """Call kernel ``name``; return its results as a list (the updated weights for a step).

    Only the arrays the kernel writes (the weights of a step) are copied, so read-only inputs
    reach the kernel as they are.
    """
    args = list(args)
    if name in IN_PLACE:
        args[2], args[3] = args[2].copy(), args[3].copy()
    result = getattr(kernels, name)(*args)
    if name in IN_PLACE:
        return [result, args[2], args[3]]
    if name.endswith("loss_grad"):
        return list(result)
    return [result]


def reference(name, args):
    """The naive results of kernel ``name`` on ``args`` and the tolerance scale of each."""
    f64 = [np.asarray(a, dtype=np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
           else a for a in args]
    if name == "linear_forward":
        X, coef, b = f64
        return [naive.linear_forward(X, coef, b)], [np.abs(X) @ np.abs(coef).T + np.abs(b)]
    if name == "linear_forward_binary":
        X, coef, b = f64
        return [naive.linear_forward_binary(X, coef, b)], [np.abs(X) @ np.abs(coef) + abs(b[0])]
    if name == "sigmoid":
        return [naive.sigmoid(f64[0])], [0.0]
    if name == "softmax":
        Z = f64[0]
        P = naive.softmax(Z)
        return [P], [P * (1.0 + np.abs(Z - Z.max(axis=1, keepdims=True)))]
    if name == "binary_cross_entropy":
        z, y = f64
        return [naive.binary_cross_entropy(z, y)], [np.abs(z)]
    if name == "multinomial_cross_entropy":
        Z, y = f64
        return [naive.multinomial_cross_entropy(Z, y)], [2 * np.abs(Z).max(axis=1)]
    return _objective_reference(name, f64)


def _objective_reference(name, args):
    """Naive results and scales of the loss+gradient and step kernels.

    A rounding of relative size u in the logits moves them by u * fs_n (fs_n = sum_j |x_nj w_j|,
    the row's largest), the per-sample derivative G_n by u * (1 + 2 p(1-p) fs_n), and so the
    gradient by the average of that times |x_n|: these are the scales.
    """
    X, y, coef, b = args[:4]
    l2 = args[-1]
    n = X.shape[0]
    binary = coef.ndim == 1
    if binary:
        z = naive.linear_forward_binary(X, coef, b)
        s = naive.sigmoid(z)
        fs = np.abs(X) @ np.abs(coef) + abs(b[0])
        sens = 1.0 + s * (1.0 - s) * fs
        data_scale = np.mean(np.abs(z) + fs)
        gc_scale = (sens[:, None] * np.abs(X)).sum(axis=0) / n + 2 * l2 * np.abs(coef)
        gb_scale = np.full(1, sens.mean())
    else:
        Z = naive.linear_forward(X, coef, b)
        P = naive.softmax(Z)
        fs = (np.abs(X) @ np.abs(coef).T + np.abs(b)).max(axis=1)
        sens = 1.0 + 2.0 * (P * (1.0 - P)).max(axis=1) * fs
        data_scale = np.mean(np.abs(Z).max(axis=1) + 2 * fs)
        gc_scale = np.broadcast_to((sens[:, None] * np.abs(X)).sum(axis=0) / n, coef.shape)
        gc_scale = gc_scale + 2 * l2 * np.abs(coef)
        gb_scale = np.full(coef.shape[0], sens.mean())
    penalty = l2 * float(np.sum(coef * coef))
    if name.endswith("loss_grad"):
        want = (naive.binary_loss_grad if binary else naive.multinomial_loss_grad)(X, y, coef, b, l2)
        return list(want), [data_scale + penalty, gc_scale, gb_scale]
    lr = args[4]
    coef_after, b_after = coef.copy(), b.copy()
    step = naive.binary_sgd_step if binary else naive.multinomial_sgd_step
    mean_loss = step(X, y, coef_after, b_after, lr, l2)
    return ([mean_loss, coef_after, b_after],
            [data_scale, np.abs(coef) + lr * gc_scale, np.abs(b) + lr * gb_scale])


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
    for i, (g, w, s) in enumerate(zip(got, want, scales)):
        if np.ndim(w) == 0:  # the loss of an objective or a step: a Python float
            assert type(g) is float, f"{name} result {i}: loss is {type(g)}, not a Python float"
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
    for a, b in zip(args, before):  # inputs are never written (a step writes copies here)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)


@pytest.mark.requires_cython
@pytest.mark.parametrize("name, dtype, n, d, k, extreme", CASES)
def test_cython_matches_numpy_twin(cython_backend, numpy_backend, name, dtype, n, d, k, extreme):
    args = make_args(name, dtype, n, d, k, extreme=extreme)
    got = run(cython_backend, name, args)
    twin = run(numpy_backend, name, args)
    want, scales = reference(name, args)
    # each is within the reference's bound of the naive result, hence within twice of each other
    assert_results_close(name, got, twin, [2 * s + np.abs(w) for s, w in zip(scales, want)], dtype)


# --------------------------------------------------------------------------- extreme logits
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_limits_at_extreme_logits(backend, dtype):
    z = np.array([1e4, 1e4, -1e4, -1e4, 0.0, 50.0], dtype=dtype)
    y = np.array([1, 0, 1, 0, 1, 1], dtype=np.intc)
    np.testing.assert_array_equal(backend.sigmoid(z), np.array([1, 1, 0, 0, 0.5, 1], dtype))
    loss = backend.binary_cross_entropy(z, y)
    # confidently right: ~0 (e^-1e4, e^-50 = 1.9e-22); confidently wrong: ~|z|; undecided: log 2
    want = [0.0, 1e4, 1e4, 0.0, np.log(2.0), np.exp(-50.0)]
    assert_close(loss, want, np.abs(z), dtype, "binary cross-entropy")


@pytest.mark.parametrize("dtype", DTYPES)
def test_multinomial_limits_at_extreme_logits(backend, dtype):
    Z = np.array([[1e4, 0.0, -1e4]] * 3 + [[-1e4, -1e4, -1e4]], dtype=dtype)
    y = np.array([0, 1, 2, 1], dtype=np.intc)
    loss = backend.multinomial_cross_entropy(Z, y)
    assert_close(loss, [0.0, 1e4, 2e4, np.log(3.0)], 2e4, dtype, "cross-entropy")
    P = backend.softmax(Z)
    np.testing.assert_array_equal(P[:3], np.array([[1.0, 0.0, 0.0]] * 3, dtype))
    assert_close(P[3], [1 / 3] * 3, 0.0, dtype, "softmax of a tie")


@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_grad_at_extreme_logits(backend, dtype):
    """Two samples with logits +-1e4: one confidently right (loss 0), one wrong (loss 2e4)."""
    X = np.ones((2, 1), dtype)
    y = np.array([0, 1], dtype=np.intc)
    loss, g_coef, g_b = backend.multinomial_loss_grad(
        X, y, np.array([[1e4], [-1e4]], dtype), np.zeros(2, dtype), 0.0)
    assert loss == pytest.approx(1e4, rel=RTOL[np.dtype(dtype)])
    # G = P - T is [0, 0] for the right sample and [1, -1] for the wrong one; mean [0.5, -0.5]
    np.testing.assert_array_equal(g_coef, np.array([[0.5], [-0.5]], dtype))
    np.testing.assert_array_equal(g_b, np.array([0.5, -0.5], dtype))

    loss, g_coef, g_b = backend.binary_loss_grad(
        X, y[::-1].copy(), np.array([1e4], dtype), np.zeros(1, dtype), 0.0)
    assert loss == pytest.approx(5e3, rel=RTOL[np.dtype(dtype)])  # (0 + 1e4) / 2
    np.testing.assert_array_equal(g_coef, np.array([0.5], dtype))  # (s - y) = 0 and 1
    np.testing.assert_array_equal(g_b, np.array([0.5], dtype))


# --------------------------------------------------------------------------- calling conventions
@pytest.mark.parametrize("name", ALL_KERNELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_read_only_inputs(backend, name, dtype):
    args = make_args(name, dtype, 7, 784, 10)
    expected = run(backend, name, args)
    frozen = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    for a in frozen[:2] if name in IN_PLACE else frozen:  # a step writes coef and intercept
        if isinstance(a, np.ndarray):
            a.setflags(write=False)
    got = run(backend, name, frozen)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


OUT_KERNELS = ("linear_forward", "linear_forward_binary", "sigmoid", "softmax",
               "binary_cross_entropy", "multinomial_cross_entropy")


@pytest.mark.parametrize("name", OUT_KERNELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_out_array_is_written_and_returned(backend, name, dtype):
    args = make_args(name, dtype, 7, 784, 10)
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


@pytest.mark.parametrize("name", ("binary_loss_grad", "multinomial_loss_grad"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_arrays_are_written_and_returned(backend, name, dtype):
    args = make_args(name, dtype, 7, 784, 10)
    loss, g_coef, g_b = getattr(backend, name)(*args)
    out_coef, out_b = np.full_like(g_coef, np.nan), np.full_like(g_b, np.nan)
    result = getattr(backend, name)(*args, grad_coef=out_coef, grad_intercept=out_b)
    assert result[0] == loss
    assert result[1] is out_coef and result[2] is out_b
    np.testing.assert_array_equal(out_coef, g_coef)
    np.testing.assert_array_equal(out_b, g_b)


@pytest.mark.parametrize("model", ("binary", "multinomial"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l2", (0.0, L2))
def test_sgd_step_is_one_gradient_step(backend, model, dtype, l2):
    """The step moves the weights by -lr times the gradient of its loss_grad twin, in place."""
    X, y, coef, b, lr, _ = make_args(f"{model}_sgd_step", dtype, 256, 784, 10)
    loss, g_coef, g_b = getattr(backend, f"{model}_loss_grad")(X, y, coef, b, l2)
    new_coef, new_b = coef.copy(), b.copy()
    mean_loss = getattr(backend, f"{model}_sgd_step")(X, y, new_coef, new_b, lr, l2)
    assert type(mean_loss) is float
    assert new_coef.dtype == new_b.dtype == np.dtype(dtype)
    step = dtype(lr)
    assert_close(new_coef, coef - step * g_coef, np.abs(coef), dtype, "coef after the step")
    assert_close(new_b, b - step * g_b, np.abs(b), dtype, "intercept after the step")
    # the step reports the data loss only: the objective without its penalty
    penalty = l2 * float(np.sum(coef.astype(np.float64) ** 2))
    assert_close(mean_loss, loss - penalty, penalty, dtype, "loss reported by the step")


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_without_some_classes(backend, dtype):
    """Classes 3..9 are absent: their gradient is the mean probability mass sent to them."""
    X, _, coef, b, l2 = make_args("multinomial_loss_grad", dtype, 64, 784, 10)
    y = (np.arange(64) % 3).astype(np.intc)
    loss, g_coef, g_b = backend.multinomial_loss_grad(X, y, coef, b, l2)
    want, scales = reference("multinomial_loss_grad", (X, y, coef, b, l2))
    assert_results_close("multinomial_loss_grad", [loss, g_coef, g_b], want, scales, dtype)
    P = naive.softmax(naive.linear_forward(X, coef, b))
    assert (g_b[3:] > 0).all()
    assert_close(g_b[3:], P[:, 3:].mean(axis=0), scales[2][3:], dtype, "absent-class intercepts")


# --------------------------------------------------------------------------- the public edge
@pytest.mark.parametrize("model", ("binary", "multinomial"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ("fortran", "strided"))
def test_non_contiguous_inputs_are_converted_at_the_edge(backend, model, dtype, layout):
    """fastreg.loss_and_grad copies X (and W) to C order; the answer equals the contiguous one."""
    rng = np.random.default_rng(7)
    n, d, k = 9, 20, 4
    X = rng.standard_normal((n, 2 * d)).astype(dtype)
    y = rng.integers(0, 2 if model == "binary" else k, n)
    W = rng.standard_normal(d if model == "binary" else (d, k)).astype(dtype)
    b = 0.5 if model == "binary" else rng.standard_normal(k).astype(dtype)
    if layout == "fortran":
        X_odd, W_odd = np.asfortranarray(X[:, :d]), np.asfortranarray(W)
    else:
        X_odd, W_odd = X[:, ::2], np.repeat(W, 2, axis=0)[::2]
    assert not X_odd.flags.c_contiguous
    expected = fastreg.loss_and_grad(np.ascontiguousarray(X_odd), y, np.ascontiguousarray(W_odd),
                                     b, l2=L2, backend=backend)
    got = fastreg.loss_and_grad(X_odd, y, W_odd, b, l2=L2, backend=backend)
    assert got[0] == expected[0]
    for g, e in zip(got[1:], expected[1:]):
        assert np.asarray(g).dtype == np.dtype(dtype)
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_takes_any_shape(backend, dtype):
    """As its NumPy twin, sigmoid is elementwise on an array of any shape (here (3, 4))."""
    z = np.linspace(-30, 30, 12, dtype=dtype).reshape(3, 4)
    s = backend.sigmoid(z)
    assert s.shape == z.shape and s.dtype == np.dtype(dtype)
    assert_close(s, naive.sigmoid(z), 0.0, dtype, "sigmoid of a 2-d array")


@pytest.mark.requires_cython
def test_compiled_sigmoid_refuses_an_out_it_cannot_fill(cython_backend):
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match="out must be C-contiguous"):
        cython_backend.sigmoid(z, out=np.empty((4, 3)).T)


# --------------------------------------------------------------------------- large batches
# The compiled forward passes run the fused epoch's blocked SIMD kernel on packed weights, in
# blocks of 16 rows and tasks of 128 rows shared by OpenMP threads (N <= 2: plain dot products).
# Batches up to a validation set's size, feature counts that are and are not a multiple of the
# vector width, class counts that do and do not fill its class blocks.
FORWARD_SHAPES = [(n, d, k) for n in (3, 1000, 3000) for d in (13, 784) for k in (1, 2, 10)]


def forward_args(dtype, n, d, k, seed=0):
    """(name, X, coef, intercept) of one forward problem; k == 1 is the binary model."""
    name = "linear_forward_binary" if k == 1 else "linear_forward"
    rng = np.random.default_rng([seed, n, d, k])
    X = rng.standard_normal((n, d)).astype(dtype)
    coef = (rng.standard_normal(d if k == 1 else (k, d)) * (2.0 / np.sqrt(d))).astype(dtype)
    intercept = rng.standard_normal(1 if k == 1 else k).astype(dtype)
    return name, X, coef, intercept


@pytest.mark.parametrize("n, d, k", FORWARD_SHAPES, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_large_batches(backend, dtype, n, d, k):
    name, *args = forward_args(dtype, n, d, k)
    got = getattr(backend, name)(*args)
    want, scales = reference(name, args)
    assert_results_close(name, [got], want, scales, dtype)


@pytest.fixture
def forward_module():
    """The compiled module of the forward passes, its tuning and SIMD level restored after."""
    from fastreg import _epoch

    saved = _epoch._forward_tuning(backoff_left=0)
    level = _epoch.simd_level()
    yield _epoch
    _epoch._forward_tuning(**saved)
    _epoch.set_simd_level(level)


@pytest.mark.requires_cython
@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_forward_every_simd_level_and_thread_count(cython_backend, forward_module,
                                                            dtype):
    """Each instruction-set variant, threads on and off: within the bound of the naive loops,
    and the same bits whatever the thread count (each row is one thread's, in one order)."""
    m = forward_module
    threads = m._forward_max_threads()
    for level in m.simd_levels():
        m.set_simd_level(level)
        for n, d, k in ((3, 1, 1), (17, 16, 3), (300, 17, 11), (1000, 785, 10), (1000, 33, 1),
                        (257, 100, 5), (129, 64, 2)):
            name, *args = forward_args(dtype, n, d, k, seed=1)
            want, scales = reference(name, args)
            results = []
            for min_ns in (10**15, 0):  # one thread; threads at every size above one task
                m._forward_tuning(min_ns=min_ns, backoff_left=0)
                results.append(getattr(cython_backend, name)(*args))
                expected_threads = 1 if min_ns else min(threads, -(-n // 128))
                assert m._forward_last_threads() == expected_threads, (level, n, d, k)
                assert_results_close(name, results[-1:], want, scales, dtype)
            np.testing.assert_array_equal(results[0], results[1], err_msg=f"{level} {n, d, k}")


@pytest.mark.requires_cython
def test_compiled_forward_backs_off_to_one_thread(cython_backend, forward_module):
    """After contention the next calls run on one thread (set here as if it had happened)."""
    m = forward_module
    name, *args = forward_args(np.float32, 1000, 784, 10)
    m._forward_tuning(min_ns=0, backoff_left=2)
    first = getattr(cython_backend, name)(*args)
    assert m._forward_last_threads() == 1
    getattr(cython_backend, name)(*args)
    assert m._forward_last_threads() == 1
    third = getattr(cython_backend, name)(*args)
    assert m._forward_last_threads() == min(m._forward_max_threads(), 8)  # 8 tasks of rows
    np.testing.assert_array_equal(first, third)


def _forward_in_child(conn):
    from fastreg import _epoch

    name, *args = forward_args(np.float64, 3000, 784, 10)
    z = getattr(_epoch, name)(*args)
    conn.send((z, _epoch._forward_last_threads(), _epoch._forward_max_threads()))
    conn.close()


@pytest.mark.requires_cython
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")
def test_compiled_forward_in_forked_child(cython_backend, forward_module):
    """A child forked after threaded forward calls runs its own on one thread (GNU libgomp's
    threads do not survive fork: a parallel region in the child would hang)."""
    import multiprocessing

    m = forward_module
    name, *args = forward_args(np.float64, 3000, 784, 10)
    m._forward_tuning(min_ns=0, backoff_left=0)
    want = getattr(cython_backend, name)(*args)  # the parent's OpenMP threads now exist
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


@pytest.mark.requires_cython
@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_forward_rejects_mismatched_shapes(cython_backend, dtype):
    """Wrong shapes get a ValueError, never a read or write past an array."""
    _, X, coef, b = forward_args(dtype, 7, 20, 3)
    with pytest.raises(ValueError, match=r"out must have shape \(7, 3\)"):
        cython_backend.linear_forward(X, coef, b, out=np.empty((6, 3), dtype))
    with pytest.raises(ValueError, match="do not fit"):
        cython_backend.linear_forward(X, coef[:, :19].copy(), b)
    with pytest.raises(ValueError, match="do not fit"):
        cython_backend.linear_forward(X, coef, b[:2].copy())
    with pytest.raises(ValueError, match=r"out must have shape \(7,\)"):
        cython_backend.linear_forward_binary(X, coef[0], b[:1], out=np.empty(8, dtype))
    with pytest.raises(ValueError, match=r"needs coef \(20,\)"):
        cython_backend.linear_forward_binary(X, coef[0, :19].copy(), b[:1])
