"""The fused training epoch: Cython against its NumPy twin, and both against a plain loop.

``binary_epoch`` / ``multinomial_epoch`` run mini-batch gradient descent over ``X[order]`` in
place. Checked here: same weights, mean loss and accuracy as the NumPy twin after several
epochs (float64 rtol 1e-9, float32 rtol 1e-4) for batch sizes 1, ones that do not divide N and
one larger than N; uint8 pixels with ``input_scale`` equal to float X/255; read-only and
memory-mapped inputs; the stop with (nan, nan) before a non-finite step; L2; two threads.
"""
import numpy as np
import pytest

RTOL = {np.float32: 1e-4, np.float64: 1e-9}
MODELS = ("binary", "multinomial")


def _problem(model, dtype, n=203, d=40, k=4, seed=0, uint8=False):
    """Pixels in [0, 255] (uint8 or float/255), labels, small random weights."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, d)).astype(np.uint8)
    X = pixels if uint8 else (pixels.astype(dtype) / dtype(255)).astype(dtype)
    if model == "binary":
        y = rng.integers(0, 2, size=n).astype(np.intc)
        coef = (0.1 * rng.standard_normal(d)).astype(dtype)
        intercept = np.array([0.05], dtype=dtype)
    else:
        y = rng.integers(0, k, size=n).astype(np.intc)
        coef = (0.1 * rng.standard_normal((k, d))).astype(dtype)
        intercept = (0.1 * rng.standard_normal(k)).astype(dtype)
    return X, y, coef, intercept


def _run_epochs(kernels, model, X, y, coef, intercept, batch_size, l2, n_epochs=3, lr=0.2,
                input_scale=1.0, seed=1, **kw):
    """Several epochs with a fresh shuffle and a decaying learning rate per batch."""
    coef, intercept = coef.copy(), intercept.copy()
    epoch = getattr(kernels, f"{model}_epoch")
    rng = np.random.default_rng(seed)
    n_batches = -(-X.shape[0] // batch_size)
    history = []
    for e in range(n_epochs):
        order = rng.permutation(X.shape[0])
        lrs = lr / (1.0 + 0.01 * (e * n_batches + np.arange(n_batches)))
        history.append(epoch(X, y, coef, intercept, order, batch_size, lrs, l2,
                             input_scale=input_scale, **kw))
    return np.array(history), coef, intercept


def _assert_close(actual, expected, dtype):
    rtol = RTOL[dtype]
    scale = max(float(np.max(np.abs(expected))), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def _assert_runs_close(run_a, run_b, dtype):
    (hist_a, coef_a, int_a), (hist_b, coef_b, int_b) = run_a, run_b
    _assert_close(coef_a, coef_b, dtype)
    _assert_close(int_a, int_b, dtype)
    _assert_close(hist_a[:, 0], hist_b[:, 0], dtype)  # mean loss
    # accuracy counts whole samples: a logit within rounding of a tie may flip one of them
    np.testing.assert_allclose(hist_a[:, 1], hist_b[:, 1], atol=1.5 / 203)


# --------------------------------------------------------------------------- plain-loop reference
def _naive_epoch(model, X, y, coef, intercept, order, batch_size, lrs, l2, input_scale=1.0):
    """One sample and one weight at a time, in float64, straight from the formulas."""
    W = np.array(coef, dtype=np.float64, ndmin=2)  # binary: one row
    b = np.array(intercept, dtype=np.float64)
    loss_sum = correct = 0.0
    n = len(order)
    for t, start in enumerate(range(0, n, batch_size)):
        rows = order[start:start + batch_size]
        gW, gb, batch_loss, batch_correct = np.zeros_like(W), np.zeros_like(b), 0.0, 0
        for i in rows:
            x = [float(v) * input_scale for v in X[i]]
            z = [sum(x[j] * W[c, j] for j in range(len(x))) + b[c] for c in range(W.shape[0])]
            if model == "binary":
                zi = z[0]
                batch_loss += max(zi, 0.0) + np.log1p(np.exp(-abs(zi))) - y[i] * zi
                batch_correct += int((zi >= 0) == (y[i] == 1))
                resid = [1.0 / (1.0 + np.exp(-zi)) - y[i]]
            else:
                m = max(z)
                s = sum(np.exp(zc - m) for zc in z)
                batch_loss += m + np.log(s) - z[y[i]]
                batch_correct += int(int(np.argmax(z)) == y[i])
                resid = [np.exp(zc - m) / s - (c == y[i]) for c, zc in enumerate(z)]
            for c, r in enumerate(resid):
                gb[c] += r
                for j in range(len(x)):
                    gW[c, j] += r * x[j]
        if not np.isfinite(batch_loss):
            return (float("nan"), float("nan")), W.reshape(np.shape(coef)), b
        loss_sum += batch_loss
        correct += batch_correct
        W -= lrs[t] * (gW / len(rows) + 2 * l2 * W)
        b -= lrs[t] * (gb / len(rows))
    return (loss_sum / n, correct / n), W.reshape(np.shape(coef)), b


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_size", [1, 4, 7])
@pytest.mark.parametrize("uint8", [False, True])
def test_epoch_matches_plain_loop(backend, model, dtype, batch_size, uint8):
    X, y, coef, intercept = _problem(model, dtype, n=23, d=6, k=3, uint8=uint8)
    scale = 1 / 255 if uint8 else 1.0
    # float X is pixels/255 rounded to dtype: the loop must see the same numbers
    Xref = X.astype(np.float64) if not uint8 else X
    order = np.random.default_rng(5).permutation(23)
    lrs = np.linspace(0.5, 0.2, -(-23 // batch_size))
    expected = _naive_epoch(model, Xref, y, coef, intercept, order, batch_size, lrs, 0.03, scale)
    c, b = coef.copy(), intercept.copy()
    got = getattr(backend, f"{model}_epoch")(X, y, c, b, order, batch_size, lrs, 0.03,
                                             input_scale=scale)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got, expected[0], rtol=tol)
    np.testing.assert_allclose(c, expected[1], rtol=tol, atol=tol)
    np.testing.assert_allclose(b, expected[2], rtol=tol, atol=tol)
    assert c.dtype == dtype and b.dtype == dtype


# --------------------------------------------------------------------------- Cython == NumPy
@pytest.mark.requires_cython
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_size", [1, 8, 32, 50, 203, 1000])
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_cython_epoch_matches_numpy(cython_backend, numpy_backend, model, dtype, batch_size, l2):
    X, y, coef, intercept = _problem(model, dtype)
    ours = _run_epochs(cython_backend, model, X, y, coef, intercept, batch_size, l2)
    spec = _run_epochs(numpy_backend, model, X, y, coef, intercept, batch_size, l2)
    _assert_runs_close(ours, spec, dtype)
    assert not np.allclose(ours[1], coef)  # the weights did move


@pytest.mark.requires_cython
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_size", [1, 32, 203])
def test_cython_uint8_matches_numpy_uint8(cython_backend, numpy_backend, model, dtype,
                                          batch_size):
    X, y, coef, intercept = _problem(model, dtype, uint8=True)
    kw = dict(input_scale=1 / 255)
    ours = _run_epochs(cython_backend, model, X, y, coef, intercept, batch_size, 0.01, **kw)
    spec = _run_epochs(numpy_backend, model, X, y, coef, intercept, batch_size, 0.01, **kw)
    _assert_runs_close(ours, spec, dtype)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_size", [1, 16, 64])
def test_uint8_with_scale_equals_float_over_255(backend, model, dtype, batch_size):
    Xu, y, coef, intercept = _problem(model, dtype, uint8=True)
    Xf = (Xu.astype(dtype) / dtype(255)).astype(dtype)
    from_pixels = _run_epochs(backend, model, Xu, y, coef, intercept, batch_size, 0.01,
                              input_scale=1 / 255)
    from_floats = _run_epochs(backend, model, Xf, y, coef, intercept, batch_size, 0.01)
    _assert_runs_close(from_pixels, from_floats, dtype)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_input_scale_is_applied(backend, model, dtype):
    X, y, coef, intercept = _problem(model, dtype)
    scaled = _run_epochs(backend, model, X, y, coef, intercept, 16, 0.0, input_scale=0.5)
    halved = _run_epochs(backend, model, (X * dtype(0.5)).astype(dtype), y, coef, intercept,
                         16, 0.0)
    _assert_runs_close(scaled, halved, dtype)


# --------------------------------------------------------------------------- inputs and threads
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_read_only_and_memory_mapped_inputs(backend, model, dtype, tmp_path):
    wdtype = np.float64 if dtype == np.uint8 else dtype
    X, y, coef, intercept = _problem(model, wdtype, uint8=dtype == np.uint8)
    scale = 1 / 255 if dtype == np.uint8 else 1.0
    expected = _run_epochs(backend, model, X, y, coef, intercept, 10, 0.01, input_scale=scale)
    path = tmp_path / "X.npy"
    np.save(path, X)
    X_map = np.load(path, mmap_mode="r")
    y_ro = y.copy()
    y_ro.flags.writeable = False
    assert not X_map.flags.writeable
    got = _run_epochs(backend, model, X_map, y_ro, coef, intercept, 10, 0.01, input_scale=scale)
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(got[0], expected[0])

    c, b = coef.copy(), intercept.copy()
    order = np.random.default_rng(0).permutation(X.shape[0])
    lrs = np.full(-(-X.shape[0] // 10), 0.1)
    for a in (order, lrs):
        a.flags.writeable = False
    getattr(backend, f"{model}_epoch")(X_map, y_ro, c, b, order, 10, lrs, 0.0, input_scale=scale)
    assert np.all(np.isfinite(c)) and not np.array_equal(c, coef)


@pytest.fixture
def epoch_module():
    """The compiled epoch module, with its tuning restored after the test."""
    from fastreg import _epoch

    # threads stay on even where a busy machine would make them hand over, and no one-thread
    # epochs are left over from contention before the test
    saved = _epoch._tuning(adaptive=False, backoff_left=0)
    level = _epoch.simd_level()
    yield _epoch
    _epoch._tuning(**saved)
    _epoch.set_simd_level(level)


def _epoch_in_forked_child(conn, cython_backend, problem):
    from fastreg import _epoch

    X, y, coef, intercept = problem
    run = _run_epochs(cython_backend, "multinomial", X, y, coef, intercept, 32, 0.01,
                      n_threads=2, n_epochs=1)
    conn.send((run, _epoch._last_thread_count()))
    conn.close()


@pytest.mark.requires_cython
def test_threaded_epoch_in_a_forked_child(cython_backend, epoch_module):
    """A child forked after the parent ran threaded epochs runs its own on one thread (GNU
    libgomp's threads do not survive fork: a parallel region in the child would hang) and
    gets the one-thread result."""
    import multiprocessing

    epoch_module._tuning(min_ns_per_barrier=0)
    problem = _problem("multinomial", np.float32, n=300, d=200)
    _run_epochs(cython_backend, "multinomial", *problem, 32, 0.01, n_threads=2, n_epochs=1)
    one = _run_epochs(cython_backend, "multinomial", *problem, 32, 0.01, n_threads=1,
                      n_epochs=1)
    fork = multiprocessing.get_context("fork")
    parent, child = fork.Pipe()
    proc = fork.Process(target=_epoch_in_forked_child, args=(child, cython_backend, problem))
    proc.start()
    try:
        assert parent.poll(60), "the forked child did not answer within 60 s (hung?)"
        run, threads = parent.recv()
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    assert threads == 1
    _assert_runs_close(run, one, np.float32)


@pytest.mark.requires_cython
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_size", [1, 5, 32, 128])
@pytest.mark.parametrize("uint8", [False, True])
def test_two_threads_match_one(cython_backend, numpy_backend, epoch_module, model, dtype,
                               batch_size, uint8):
    """Two threads split the features; forced on at every batch size (normally only where
    the work per barrier pays for it)."""
    epoch_module._tuning(min_ns_per_barrier=0)
    X, y, coef, intercept = _problem(model, dtype, n=300, d=200, uint8=uint8)
    kw = dict(input_scale=1 / 255 if uint8 else 1.0, lr=0.05)
    one = _run_epochs(cython_backend, model, X, y, coef, intercept, batch_size, 0.01,
                      n_threads=1, **kw)
    two = _run_epochs(cython_backend, model, X, y, coef, intercept, batch_size, 0.01,
                      n_threads=2, **kw)
    assert epoch_module._last_thread_count() == (2 if epoch_module.openmp_enabled() else 1)
    spec = _run_epochs(numpy_backend, model, X, y, coef, intercept, batch_size, 0.01, **kw)
    _assert_runs_close(two, one, dtype)
    _assert_runs_close(two, spec, dtype)


@pytest.mark.requires_cython
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_threads_hand_over_to_one(cython_backend, numpy_backend, epoch_module, model, dtype,
                                  batch_size):
    """When the threads wait for each other too much (another program holds a core), the
    first thread finishes the epoch alone; forced here after 3 batches."""
    epoch_module._tuning(min_ns_per_barrier=0, solo_after_batches=3)
    X, y, coef, intercept = _problem(model, dtype, n=300, d=200)
    kw = dict(lr=0.05, n_epochs=2)
    ours = _run_epochs(cython_backend, model, X, y, coef, intercept, batch_size, 0.01,
                       n_threads=2, **kw)
    if epoch_module.openmp_enabled():
        assert epoch_module._last_thread_count() == 2
        assert epoch_module._last_solo_batch_index() == 4
    spec = _run_epochs(numpy_backend, model, X, y, coef, intercept, batch_size, 0.01, **kw)
    _assert_runs_close(ours, spec, dtype)
    epoch_module._tuning(solo_after_batches=-1)
    _run_epochs(cython_backend, model, X, y, coef, intercept, batch_size, 0.01, n_threads=2,
                **kw)
    assert epoch_module._last_solo_batch_index() == -1


@pytest.mark.requires_cython
def test_contention_makes_the_next_epochs_single_threaded(cython_backend, epoch_module):
    """A pending back-off (set as contention would) runs that many epochs on one thread."""
    if not epoch_module.openmp_enabled():
        pytest.skip("built without OpenMP: every epoch runs on one thread")
    epoch_module._tuning(min_ns_per_barrier=0, backoff_left=2)
    X, y, coef, intercept = _problem("multinomial", np.float32, n=300, d=200)
    threads = []
    for _ in range(4):
        _run_epochs(cython_backend, "multinomial", X, y, coef, intercept, 32, 0.0, n_epochs=1,
                    n_threads=2)
        threads.append(epoch_module._last_thread_count())
    assert threads[:2] == [1, 1] and threads[2] == 2


@pytest.mark.requires_cython
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("uint8", [False, True])
def test_batches_split_in_sub_blocks(cython_backend, numpy_backend, epoch_module, model,
                                     dtype, n_threads, uint8):
    """Batches larger than a sub-block accumulate the gradient over sub-blocks (forced small)."""
    epoch_module._tuning(subblock_bytes=3 * 200 * (1 if uint8 else np.dtype(dtype).itemsize),
                         min_ns_per_barrier=0)
    X, y, coef, intercept = _problem(model, dtype, n=203, d=200, uint8=uint8)
    kw = dict(input_scale=1 / 255 if uint8 else 1.0, lr=0.05, n_epochs=2)
    for batch_size in (3, 4, 10, 64, 203):
        ours = _run_epochs(cython_backend, model, X, y, coef, intercept, batch_size, 0.01,
                           n_threads=n_threads, **kw)
        spec = _run_epochs(numpy_backend, model, X, y, coef, intercept, batch_size, 0.01, **kw)
        _assert_runs_close(ours, spec, dtype)


@pytest.mark.requires_cython
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("uint8", [False, True])
def test_every_simd_level_matches_numpy(cython_backend, numpy_backend, epoch_module, model,
                                        uint8):
    """Each compiled instruction-set variant (AVX-512, AVX2, baseline: what this CPU runs)."""
    assert epoch_module.simd_level() == epoch_module.simd_levels()[0]
    for level in epoch_module.simd_levels():
        epoch_module.set_simd_level(level)
        assert epoch_module.simd_level() == level
        for dtype in (np.float32, np.float64):
            for d, k in ((37, 3), (64, 10), (19, 7)):
                X, y, coef, intercept = _problem(model, dtype, n=101, d=d, k=k, uint8=uint8)
                kw = dict(input_scale=1 / 255 if uint8 else 1.0)
                for batch_size in (1, 6, 101):
                    ours = _run_epochs(cython_backend, model, X, y, coef, intercept,
                                       batch_size, 0.01, **kw)
                    spec = _run_epochs(numpy_backend, model, X, y, coef, intercept,
                                       batch_size, 0.01, **kw)
                    _assert_runs_close(ours, spec, dtype)
    with pytest.raises(ValueError, match="SIMD"):
        epoch_module.set_simd_level("sse9")


@pytest.mark.requires_cython
@pytest.mark.parametrize("d", [1, 3, 15, 16, 17, 33, 100])
@pytest.mark.parametrize("k", [2, 3, 5, 7, 9, 10, 11, 17, 23])
def test_odd_shapes(cython_backend, numpy_backend, d, k):
    """Feature and class counts around the vector widths and tile edges."""
    for dtype in (np.float32, np.float64):
        X, y, coef, intercept = _problem("multinomial", dtype, n=61, d=d, k=k)
        ours = _run_epochs(cython_backend, "multinomial", X, y, coef, intercept, 9, 0.01)
        spec = _run_epochs(numpy_backend, "multinomial", X, y, coef, intercept, 9, 0.01)
        _assert_runs_close(ours, spec, dtype)
        X, y, coef, intercept = _problem("binary", dtype, n=61, d=d)
        ours = _run_epochs(cython_backend, "binary", X, y, coef, intercept, 9, 0.01)
        spec = _run_epochs(numpy_backend, "binary", X, y, coef, intercept, 9, 0.01)
        _assert_runs_close(ours, spec, dtype)


# --------------------------------------------------------------------------- non-finite stop
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_non_finite_batch_stops_before_its_step(request, backend, model, dtype, n_threads):
    """A batch whose loss overflows returns (nan, nan) and leaves the weights as they were."""
    X, y, coef, intercept = _problem(model, dtype, n=40, d=8 if n_threads == 1 else 300)
    coef = np.abs(coef) + dtype(1)  # positive weights: a huge row overflows every logit
    intercept = np.abs(intercept)
    order = np.random.default_rng(2).permutation(40)
    B, bad_batch = 5, 3
    X = X.copy()
    X[order[bad_batch * B + 2]] = np.finfo(dtype).max
    lrs = np.full(8, 1e-3)
    epoch = getattr(backend, f"{model}_epoch")

    if backend.name == "cython":  # run the threaded path even on these small batches
        from fastreg import _epoch

        saved = _epoch._tuning(min_ns_per_barrier=0, adaptive=False, backoff_left=0)
        request.addfinalizer(lambda: _epoch._tuning(**saved))
    c_before, b_before = coef.copy(), intercept.copy()
    epoch(X, y, c_before, b_before, order[:bad_batch * B], B, lrs, 0.01, n_threads=n_threads)
    c, b = coef.copy(), intercept.copy()
    result = epoch(X, y, c, b, order, B, lrs, 0.01, n_threads=n_threads)
    assert np.isnan(result[0]) and np.isnan(result[1])
    np.testing.assert_array_equal(c, c_before)
    np.testing.assert_array_equal(b, b_before)
    assert np.all(np.isfinite(c))

    # a non-finite first batch leaves the weights exactly as given
    order0 = np.concatenate([order[bad_batch * B:], order[:bad_batch * B]])
    c, b = coef.copy(), intercept.copy()
    result = epoch(X, y, c, b, order0, B, lrs, 0.01, n_threads=n_threads)
    assert np.isnan(result[0]) and np.isnan(result[1])
    np.testing.assert_array_equal(c, coef)
    np.testing.assert_array_equal(b, intercept)


@pytest.mark.requires_cython
@pytest.mark.parametrize("model", MODELS)
def test_extreme_logits_stay_finite(cython_backend, numpy_backend, model):
    """|z| up to ~1e4: stable log-sum-exp and log1pexp keep loss and update finite."""
    X, y, coef, intercept = _problem(model, np.float64, n=30, d=5)
    coef = coef * 4e3
    ours = _run_epochs(cython_backend, model, X, y, coef, intercept, 4, 0.0, n_epochs=1)
    spec = _run_epochs(numpy_backend, model, X, y, coef, intercept, 4, 0.0, n_epochs=1)
    assert np.all(np.isfinite(ours[0])) and ours[0][0, 0] > 100
    _assert_runs_close(ours, spec, np.float64)


# --------------------------------------------------------------------------- bad input
@pytest.mark.requires_cython
def test_bad_input_gets_a_clear_error(cython_backend):
    X, y, coef, intercept = _problem("multinomial", np.float32, n=20, d=4, k=3)
    order = np.arange(20)
    lrs = np.full(20, 0.1)
    ep = cython_backend.multinomial_epoch
    with pytest.raises(TypeError, match="dtype"):
        ep(X.astype(np.float64), y, coef, intercept, order, 4, lrs, 0.0)
    with pytest.raises(ValueError, match="learning_rates"):
        ep(X, y, coef, intercept, order, 4, lrs[:2], 0.0)
    with pytest.raises(ValueError, match="batch_size"):
        ep(X, y, coef, intercept, order, 0, lrs, 0.0)
    with pytest.raises(IndexError, match="order"):
        ep(X, y, coef, intercept, order + 1, 4, lrs, 0.0)
    with pytest.raises(ValueError, match="labels"):
        ep(X, y + 3, coef, intercept, order, 4, lrs, 0.0)
    with pytest.raises(ValueError, match="n_threads"):
        ep(X, y, coef, intercept, order, 4, lrs, 0.0, n_threads=0)
    with pytest.raises(ValueError, match="features"):
        ep(X[:, :3].copy(), y, coef, intercept, order, 4, lrs, 0.0)


@pytest.mark.parametrize("uint8", [False, True])
def test_epoch_allocates_nothing_like_x(backend, uint8):
    """No copy of X: the traced peak of an epoch over 62 MB of float32 rows (or 16 MB of
    pixels) stays within the index-sized arrays (order, labels) plus a few small buffers."""
    import tracemalloc

    rng = np.random.default_rng(0)
    n, d = 20000, 784
    X = rng.integers(0, 256, size=(n, d), dtype=np.uint8)
    if not uint8:
        X = X.astype(np.float32) / np.float32(255)
    y = rng.integers(0, 10, n).astype(np.intc)
    coef, intercept = np.zeros((10, d), np.float32), np.zeros(10, np.float32)
    order = rng.permutation(n)
    lrs = np.full(-(-n // 32), 0.1)
    tracemalloc.start()
    try:
        backend.multinomial_epoch(X, y, coef, intercept, order, 32, lrs, 0.0,
                                  input_scale=1 / 255 if uint8 else 1.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20, f"an epoch allocated {peak / 2**20:.1f} MiB (X is {X.nbytes / 2**20:.0f})"


@pytest.mark.requires_cython
@pytest.mark.real_data
def test_mnist_epoch_matches_numpy(mnist, cython_backend, numpy_backend):
    """One full epoch on the real pixels (uint8, scale 1/255), float32, batch 128."""
    X = np.ascontiguousarray(mnist.X_train.reshape(len(mnist.X_train), -1))
    y = np.ascontiguousarray(mnist.y_train, dtype=np.intc)
    assert X.dtype == np.uint8
    coef0 = np.zeros((10, X.shape[1]), np.float32)
    b0 = np.zeros(10, np.float32)
    order = np.random.default_rng(0).permutation(len(X))
    lrs = np.full(-(-len(X) // 128), 0.5)
    runs = []
    for kernels in (cython_backend, numpy_backend):
        c, b = coef0.copy(), b0.copy()
        res = kernels.multinomial_epoch(X, y, c, b, order, 128, lrs, 0.0, input_scale=1 / 255)
        runs.append((res, c, b))
    (r1, c1, b1), (r2, c2, b2) = runs
    _assert_close(c1, c2, np.float32)
    _assert_close(b1, b2, np.float32)
    np.testing.assert_allclose(r1, r2, rtol=1e-4)
    assert r1[1] > 0.85
