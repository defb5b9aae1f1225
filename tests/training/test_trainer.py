"""The training loop: kernel slices, history, early stopping, best weights, divergence,
progress."""

import math

import numpy as np
import pytest

from fastreg import _progress
from fastreg._progress import EpochProgress
from fastreg._training.schedules import make_schedule
from fastreg._training.trainer import HISTORY_KEYS, Trainer
from fastreg.exceptions import TrainingDivergedError


def _problem(binary, n=200, d=6, k=3, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    if binary:
        y = (X @ rng.normal(size=d) + 0.5 * rng.normal(size=n) > 0).astype(np.intc)
        coef, intercept = np.zeros((1, d), dtype), np.zeros(1, dtype)
    else:
        y = np.argmax(X @ rng.normal(size=(d, k)) + rng.normal(size=(n, k)), axis=1)
        y = y.astype(np.intc)
        coef, intercept = np.zeros((k, d), dtype), np.zeros(k, dtype)
    return X, y, coef, intercept


def _trainer(kernels, binary, lr=0.1, **kw):
    """A trainer; the weights' K (1 or k) decides the model, ``binary`` only the data."""
    kw.setdefault("batch_size", 16)
    return Trainer(
        kernels,
        l2=kw.pop("l2", 0.0),
        schedule=make_schedule("constant", lr, decay=1.0, decay_steps=1, total_steps=1),
        **kw,
    )


def _val_loss(kernels, binary, X, y, coef, intercept):
    Z = kernels.linear_forward(X, coef, intercept)
    return float(kernels.cross_entropy(Z, y).mean(dtype=np.float64))


def _manual_epochs(kernels, binary, X, y, coef, intercept, rows, seed, epochs, B, lr):
    """The reference: the same shuffles and kernel calls, written out by hand."""
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(rows)
        nb = -(-len(rows) // B)
        kernels.epoch(X, y, coef, intercept, order, B, np.full(nb, lr), 0.0, 1.0, 1)


@pytest.mark.parametrize("binary", [True, False])
def test_run_matches_manual_kernel_calls(backend, binary):
    X, y, coef, intercept = _problem(binary)
    rows = np.arange(20, 200, dtype=np.intp)  # rows 0..19 play the validation set
    ref_c, ref_b = coef.copy(), intercept.copy()
    _manual_epochs(backend, binary, X, y, ref_c, ref_b, rows, 7, 3, 16, 0.1)
    result = _trainer(backend, binary).run(
        X,
        y,
        coef,
        intercept,
        rows,
        np.random.default_rng(7),
        max_epochs=3,
        validation=(X[:20], y[:20]),
    )
    np.testing.assert_array_equal(coef, ref_c)
    np.testing.assert_array_equal(intercept, ref_b)
    assert result.coef is coef and result.epochs_run == 3 and result.step == 3 * 12
    assert result.best_epoch == 3 and not result.stopped_early


@pytest.mark.parametrize("binary", [True, False])
def test_validation_interval_does_not_change_the_batches(backend, binary):
    """Checks split an epoch at batch boundaries: same weights for any number of checks."""
    X, y, c1, b1 = _problem(binary, n=203)
    c3, b3 = c1.copy(), b1.copy()
    rows = np.arange(203, dtype=np.intp)
    r1 = _trainer(backend, binary, validation_interval=1).run(
        X, y, c1, b1, rows, np.random.default_rng(1), max_epochs=2, validation=(X, y)
    )
    r3 = _trainer(backend, binary, validation_interval=5).run(
        X, y, c3, b3, rows, np.random.default_rng(1), max_epochs=2, validation=(X, y)
    )
    np.testing.assert_array_equal(c1, c3)
    np.testing.assert_array_equal(b1, b3)
    assert len(r1.history["step"]) == 2 and len(r3.history["step"]) == 10
    assert r3.history["step"][4] == r1.history["step"][0] == 13  # ceil(203 / 16) steps
    assert r3.history["epoch"] == [1] * 5 + [2] * 5
    # the epoch's running train loss is the row-weighted mean of its checks' losses
    sizes = np.diff([0] + [min(s * 16, 203) for s in r3.history["step"][:5]])
    assert np.average(r3.history["train_loss"][:5], weights=sizes) == pytest.approx(
        r1.history["train_loss"][0], rel=1e-12
    )


def test_more_checks_than_batches(backend):
    X, y, coef, intercept = _problem(True, n=40)
    res = _trainer(backend, True, validation_interval=10).run(
        X, y, coef, intercept, np.arange(40, dtype=np.intp), np.random.default_rng(0), max_epochs=1
    )
    assert res.history["step"] == [1, 2, 3]  # one check per batch at most


@pytest.mark.parametrize("binary", [True, False])
def test_history_rows(backend, binary):
    X, y, coef, intercept = _problem(binary)
    res = _trainer(backend, binary, validation_interval=2).run(
        X,
        y,
        coef,
        intercept,
        np.arange(40, 200, dtype=np.intp),
        np.random.default_rng(0),
        max_epochs=3,
        validation=(X[:40], y[:40]),
    )
    h = res.history
    assert set(h) == set(HISTORY_KEYS) and all(len(v) == 6 for v in h.values())
    assert h["epoch"] == [1, 1, 2, 2, 3, 3] and h["step"] == [5, 10, 15, 20, 25, 30]
    assert h["learning_rate"] == [0.1] * 6
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        assert all(math.isfinite(v) for v in h[key])
    assert all(0 <= a <= 1 for a in h["train_accuracy"] + h["val_accuracy"])
    # the last validation entry is the loss of the returned weights (no early stopping)
    assert h["val_loss"][-1] == pytest.approx(
        _val_loss(backend, binary, X[:40], y[:40], coef, intercept), rel=1e-12
    )
    assert h["val_loss"][-1] < h["val_loss"][0]  # it learns


def test_no_validation_gives_nan_entries(backend):
    X, y, coef, intercept = _problem(False)
    res = _trainer(backend, False).run(
        X,
        y,
        coef,
        intercept,
        np.arange(200, dtype=np.intp),
        np.random.default_rng(0),
        max_epochs=2,
    )
    assert all(math.isnan(v) for v in res.history["val_loss"] + res.history["val_accuracy"])
    assert res.best_epoch == 2


@pytest.mark.parametrize("binary", [True, False])
def test_early_stopping_returns_best_weights(backend, binary):
    """A learning rate high enough to make the validation loss wander: the returned weights
    are those of the lowest validation loss in the history, and training stopped exactly
    `patience` checks after it."""
    X, y, coef, intercept = _problem(binary, n=300)
    X_val, y_val = X[:60].copy(), y[:60].copy()
    X_val[:, 0] += 0.7  # shifted validation data: the best weights lie early in training
    patience = 3
    res = _trainer(
        backend,
        binary,
        lr=2.0,
        batch_size=8,
        validation_interval=4,
        early_stopping=True,
        patience=patience,
    ).run(
        X,
        y,
        coef,
        intercept,
        np.arange(60, 300, dtype=np.intp),
        np.random.default_rng(5),
        max_epochs=50,
        validation=(X_val, y_val),
    )
    h = res.history
    best = int(np.argmin(h["val_loss"]))
    assert res.stopped_early and len(h["val_loss"]) == best + 1 + patience
    assert best + 1 < len(h["val_loss"])  # the last weights were not the best ones
    got = _val_loss(backend, binary, X_val, y_val, coef, intercept)
    assert got == pytest.approx(min(h["val_loss"]), rel=1e-12, abs=0)
    assert res.best_val_loss == min(h["val_loss"])
    assert res.best_epoch == h["epoch"][best]


def test_min_delta_counts_only_large_improvements(backend):
    """With min_delta larger than any possible improvement, only the first check counts:
    training stops after 1 + patience checks, keeping the best weights seen even so."""
    X, y, coef, intercept = _problem(False)
    res = _trainer(backend, False, early_stopping=True, patience=4, min_delta=100.0).run(
        X,
        y,
        coef,
        intercept,
        np.arange(40, 200, dtype=np.intp),
        np.random.default_rng(0),
        max_epochs=50,
        validation=(X[:40], y[:40]),
    )
    assert len(res.history["val_loss"]) == 5 and res.epochs_run == 5 and res.stopped_early
    assert res.best_val_loss == min(res.history["val_loss"])
    assert _val_loss(backend, False, X[:40], y[:40], coef, intercept) == pytest.approx(
        res.best_val_loss, rel=1e-12
    )
    # and with min_delta 0 the same run keeps going while it improves
    X, y, coef, intercept = _problem(False)
    res = _trainer(backend, False, early_stopping=True, patience=4, min_delta=0.0).run(
        X,
        y,
        coef,
        intercept,
        np.arange(40, 200, dtype=np.intp),
        np.random.default_rng(0),
        max_epochs=8,
        validation=(X[:40], y[:40]),
    )
    assert res.epochs_run == 8 and not res.stopped_early


def test_patience_counts_checks_not_epochs(backend):
    X, y, coef, intercept = _problem(True)
    res = _trainer(
        backend,
        True,
        lr=5.0,
        batch_size=4,
        early_stopping=True,
        patience=2,
        validation_interval=10,
        min_delta=100.0,
    ).run(
        X,
        y,
        coef,
        intercept,
        np.arange(40, 200, dtype=np.intp),
        np.random.default_rng(0),
        max_epochs=10,
        validation=(X[:40], y[:40]),
    )
    assert len(res.history["step"]) == 3 and res.epochs_run == 1  # stopped inside epoch 1
    assert res.step == res.history["step"][-1]


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_divergence_restores_weights_and_raises(backend, binary, dtype):
    X, y, coef, intercept = _problem(binary, dtype=dtype)
    X *= 50
    trainer = _trainer(backend, binary, lr=1e6, l2=1.0, batch_size=8)
    with pytest.raises(FloatingPointError, match="lower learning_rate") as info:
        trainer.run(
            X,
            y,
            coef,
            intercept,
            np.arange(200, dtype=np.intp),
            np.random.default_rng(0),
            max_epochs=20,
        )
    err = info.value
    assert isinstance(err, TrainingDivergedError)
    assert "learning_rate=1e+05" in str(err)  # a tenth of the rate that diverged
    assert err.param == "learning_rate" and err.learning_rate == 1e6
    assert err.hint.startswith("lower learning_rate")
    res = err.result
    assert res.coef is coef and np.isfinite(coef).all() and np.isfinite(intercept).all()
    assert all(math.isfinite(v) for v in res.history["train_loss"])  # no bad row recorded
    assert res.step == (res.history["step"][-1] if res.history["step"] else 0)


def test_divergence_keeps_the_best_validation_weights(backend):
    """Under early stopping the weights kept after a divergence are the best checked ones."""
    X, y, coef, intercept = _problem(False)

    def rates(t):  # a sane first epoch, then an absurd rate with a huge l2 pull
        return 0.1 if t < 10 else 1e8

    trainer = Trainer(
        backend,
        batch_size=16,
        l2=1.0,
        schedule=make_schedule(rates, 1.0, decay=1.0, decay_steps=1, total_steps=1),
        early_stopping=True,
        patience=50,
    )
    with pytest.raises(TrainingDivergedError, match="best validation weights") as info:
        trainer.run(
            X,
            y,
            coef,
            intercept,
            np.arange(40, 200, dtype=np.intp),
            np.random.default_rng(0),
            max_epochs=30,
            validation=(X[:40], y[:40]),
        )
    res = info.value.result
    h = res.history
    # the blow-up rule stops the absurd epoch at its first check, before anything overflows
    assert h["step"] == [10] and "over 1e+06 times its starting level" in str(info.value)
    assert all(math.isfinite(v) for v in h["val_loss"])
    assert int(np.argmin(h["val_loss"])) == 0  # the sane epoch was the best one
    assert np.isfinite(coef).all()
    assert _val_loss(backend, False, X[:40], y[:40], coef, intercept) == pytest.approx(
        h["val_loss"][0], rel=1e-12
    )


def test_progress_reaches_the_trainer_only_as_a_callback(backend, capsys):
    """The trainer prints nothing; it calls back once per epoch with the history so far."""
    X, y, coef, intercept = _problem(True)
    calls = []
    res = _trainer(
        backend,
        True,
        callback=lambda *a: calls.append((a[0], a[1], len(a[2]["step"]))),
        validation_interval=2,
        early_stopping=True,
        patience=1,
        min_delta=100.0,
    ).run(
        X,
        y,
        coef,
        intercept,
        np.arange(40, 200, dtype=np.intp),
        np.random.default_rng(0),
        max_epochs=4,
        validation=(X[:40], y[:40]),
    )
    assert capsys.readouterr() == ("", "")
    assert [c[0] for c in calls] == list(range(1, res.epochs_run + 1))
    assert all(math.isfinite(c[1]) for c in calls) and calls[0][2] == 2


def test_progress_plain_lines(backend, capsys):
    """verbose=2 through the fit driver: one line per epoch, then the early-stop note."""
    from fastreg import LogisticRegression

    X, y, _, _ = _problem(True)
    LogisticRegression(
        backend=backend.name, verbose=2, max_epochs=4, patience=1, min_delta=100.0, random_state=0
    ).fit(X, y)
    out = capsys.readouterr().err.splitlines()
    assert out[0].startswith("LogisticRegression epoch 1/4: train loss ")
    assert "val loss" in out[0] and "val accuracy 0." in out[0]
    # check 2 lowers the loss by less than min_delta: no improvement for patience, but the
    # lower loss still makes epoch 2 the best (returned) weights
    assert len(out) == 3
    assert out[-1].startswith("LogisticRegression: early stop after epoch 2, best epoch ")


def test_progress_uses_tqdm_when_installed(monkeypatch, capsys):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(_progress, "_draws_in_place", lambda file: True)  # as on a terminal
    progress = EpochProgress(3, verbose=1, desc="Softmax")
    assert progress.bar is not None
    hist = {"val_loss": [0.5], "val_accuracy": [0.875], "learning_rate": [0.1]}
    for epoch in (1, 2, 3):
        progress.epoch_end(epoch, 0.25, hist)
    progress.close()
    err = capsys.readouterr().err
    assert "Softmax" in err and "3/3" in err and "val_acc=0.8750" in err and "loss=0.2500" in err


def test_progress_is_lines_when_stderr_is_not_a_terminal(capsys):
    """A log file or a pipe gets one line per epoch, never redraws joined by carriage returns,
    also with tqdm installed (capsys's stderr is not a terminal)."""
    pytest.importorskip("tqdm")
    progress = EpochProgress(2, verbose=1, desc="fit")
    assert progress.bar is None
    for epoch in (1, 2):
        progress.epoch_end(
            epoch, 0.3, {"val_loss": [], "val_accuracy": [], "learning_rate": [0.5]}
        )
    progress.close("early stop")
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines() == [
        "fit epoch 1/2: train loss 0.3000, val loss -, val accuracy -, lr 0.5",
        "fit epoch 2/2: train loss 0.3000, val loss -, val accuracy -, lr 0.5",
        "fit: early stop",
    ]


def test_progress_falls_back_to_lines_without_tqdm(monkeypatch, capsys):
    monkeypatch.setattr(_progress, "_tqdm", lambda: None)
    progress = EpochProgress(2, verbose=1, desc="fit")
    progress.epoch_end(1, 0.3, {"val_loss": [], "val_accuracy": [], "learning_rate": [0.5]})
    progress.close()
    assert capsys.readouterr().err == (
        "fit epoch 1/2: train loss 0.3000, val loss -, val accuracy -, lr 0.5\n"
    )


class _ScriptedLosses:
    """A backend whose epoch kernel reports the given train losses (and leaves the weights)."""

    def __init__(self, losses):
        self.losses = iter(losses)
        self.name = "scripted"

    def epoch(self, *args):
        return next(self.losses), 0.5


def _run_scripted(losses, k=3, history=None):
    from fastreg._training.trainer import new_history

    X = np.zeros((len(losses) * 4, 2))
    y = np.zeros(len(X), dtype=np.intc)
    trainer = _trainer(
        _ScriptedLosses(losses), False, batch_size=4, validation_interval=len(losses)
    )
    return trainer.run(
        X,
        y,
        np.zeros((k, 2)),
        np.zeros(k),
        np.arange(len(X), dtype=np.intp),
        np.random.default_rng(0),
        max_epochs=1,
        history=history if history is not None else new_history(),
    )


def test_sustained_growth_is_a_divergence():
    """Six checks rising by 10x or more in all, ending above 10 log K: diverged at the sixth
    check, before the loss gets anywhere near the blow-up level (1e6 log K) or overflow."""
    with pytest.raises(
        TrainingDivergedError, match=r"rose at 5 checks in a row, from 1 to 32"
    ) as info:
        _run_scripted([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
    assert info.value.result.history["train_loss"] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert info.value.result.step == 5


@pytest.mark.parametrize(
    "losses",
    [
        [0.3 + 0.01 * i for i in range(40)],  # slow steady rise: far from 10x
        [20.0 + i for i in range(40)],  # linear rise above 10 log K, under 10x
        [5.0, 8.0, 12.0, 20.0, 30.0, 45.0, 9.0] * 5,  # 9x in five rises, then a fall
        list(np.random.default_rng(0).lognormal(0, 1, 400)),  # wild noise around 1
        [1e5 * 1.0986] * 10,  # perceptron-like, steady: 1e5 log K
    ],
)
def test_noisy_or_slow_losses_are_not_divergences(losses):
    res = _run_scripted(losses)
    assert res.history["train_loss"] == [float(v) for v in losses]


def test_blow_up_at_the_first_check_and_the_partial_fit_reference():
    """1e6 x log K at the first check diverges; a partial_fit chain that began at a high loss
    measures against its first recorded loss instead."""
    with pytest.raises(
        TrainingDivergedError,
        match=r"grew to 1.1e\+06, over 1e\+06 times "
        r"its starting level 1.1",
    ):
        _run_scripted([1.1e6])
    from fastreg._training.trainer import new_history

    history = new_history()
    history["train_loss"].append(50.0)
    res = _run_scripted([1.1e6], history=history)  # 2.2e4 x the chain's start: not yet
    assert res.history["train_loss"] == [50.0, 1.1e6]
    with pytest.raises(TrainingDivergedError, match="over 1e\\+06 times its starting level 50"):
        _run_scripted([5.1e7], history=history)


# ------------------------------------------------------------------ weights, step scales, sparse
class _Recording:
    """A backend that records the keyword arguments of each epoch call (sparse or dense)."""

    def __init__(self, kernels):
        self.kernels, self.name, self.calls = kernels, kernels.name, []

    def __getattr__(self, name):
        return getattr(self.kernels, name)

    def epoch(self, *args, **kwargs):
        self.calls.append(("epoch", len(args), kwargs))
        return self.kernels.epoch(*args, **kwargs)

    def sparse_epoch(self, *args, **kwargs):
        self.calls.append(("sparse_epoch", len(args), kwargs))
        return self.kernels.sparse_epoch(*args, **kwargs)


@pytest.mark.parametrize("binary", [True, False])
def test_weights_and_step_scales_reach_the_kernel(backend, binary):
    """Passed as they are when given (the same call as by hand), and not at all when None:
    then the call is exactly the unweighted one of before."""
    X, y, coef, intercept = _problem(binary)
    rows = np.arange(20, 200, dtype=np.intp)
    w = np.random.default_rng(3).uniform(0.5, 1.5, size=len(y))
    scale = np.linspace(0.5, 2.0, X.shape[1])
    ref_c, ref_b = coef.copy(), intercept.copy()
    order = np.random.default_rng(7).permutation(rows)
    backend.epoch(
        X,
        y,
        ref_c,
        ref_b,
        order,
        16,
        np.full(12, 0.1),
        0.0,
        1.0,
        1,
        sample_weight=w,
        step_scale=scale,
    )
    rec = _Recording(backend)
    _trainer(rec, binary, step_scale=scale).run(
        X, y, coef, intercept, rows, np.random.default_rng(7), max_epochs=1, sample_weight=w
    )
    np.testing.assert_array_equal(coef, ref_c)
    np.testing.assert_array_equal(intercept, ref_b)
    ((kind, n_args, kwargs),) = rec.calls
    assert kind == "epoch" and n_args == 10 and set(kwargs) == {"sample_weight", "step_scale"}
    rec.calls.clear()
    _trainer(rec, binary).run(X, y, coef, intercept, rows, np.random.default_rng(7), max_epochs=1)
    assert rec.calls == [("epoch", 10, {})]


@pytest.mark.parametrize("binary", [True, False])
def test_sparse_X_goes_to_the_sparse_kernels(backend, binary):
    sparse = pytest.importorskip("scipy.sparse")
    X, y, coef, intercept = _problem(binary)
    X[np.abs(X) < 0.8] = 0
    Xs = sparse.csr_matrix(X)
    rows = np.arange(20, 200, dtype=np.intp)
    dense_c, dense_b = coef.copy(), intercept.copy()
    _trainer(backend, binary).run(
        X,
        y,
        dense_c,
        dense_b,
        rows,
        np.random.default_rng(7),
        max_epochs=2,
        validation=(X[:20], y[:20]),
    )
    rec = _Recording(backend)
    result = _trainer(rec, binary, input_scale=1.0).run(
        Xs,
        y,
        coef,
        intercept,
        rows,
        np.random.default_rng(7),
        max_epochs=2,
        validation=(Xs[:20], y[:20]),
    )
    assert [c[0] for c in rec.calls] == ["sparse_epoch"] * 2 and rec.calls[0][1] == 9
    np.testing.assert_allclose(coef, dense_c, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        result.history["val_loss"][-1],
        _val_loss(backend, binary, X[:20], y[:20], coef, intercept),
        rtol=1e-12,
    )


@pytest.mark.parametrize("binary", [True, False])
def test_validation_metrics_are_weighted(backend, binary):
    X, y, coef, intercept = _problem(binary)
    rows = np.arange(40, 200, dtype=np.intp)
    w = np.random.default_rng(0).uniform(0.1, 3.0, size=40)
    result = _trainer(backend, binary).run(
        X,
        y,
        coef,
        intercept,
        rows,
        np.random.default_rng(1),
        max_epochs=2,
        validation=(X[:40], y[:40], w),
    )
    Z = backend.linear_forward(X[:40], coef, intercept)
    losses = backend.cross_entropy(Z, y[:40])
    right = (
        (Z[:, 0] >= 0) == (y[:40] == 1)
        if binary and coef.shape[0] == 1
        else Z.argmax(axis=1) == y[:40]
    )
    assert result.history["val_loss"][-1] == pytest.approx(np.sum(w * losses) / w.sum(), rel=1e-12)
    assert result.history["val_accuracy"][-1] == pytest.approx(
        np.sum(w * right) / w.sum(), rel=1e-12
    )
    plain = _trainer(backend, binary).run(
        X,
        y,
        np.zeros_like(coef),
        np.zeros_like(intercept),
        rows,
        np.random.default_rng(1),
        max_epochs=2,
        validation=(X[:40], y[:40]),
    )
    assert plain.history["val_loss"][-1] == pytest.approx(float(losses.mean()), rel=1e-12)


def test_divergence_with_step_scales_reports_an_explicit_rate(backend):
    X, y, coef, intercept = _problem(False)
    scale = np.array([4.0, 1.0, 0.25, 2.0, 1.0, 1.0])
    trainer = _trainer(backend, False, lr=1e12, step_scale=scale, l2=1.0)
    with pytest.raises(
        TrainingDivergedError,
        match=r"learning rates up to 1e\+12 times "
        r"per-feature step scales 0.25 to 4",
    ) as info:
        trainer.run(
            X,
            y,
            coef,
            intercept,
            np.arange(200, dtype=np.intp),
            np.random.default_rng(0),
            max_epochs=2,
        )
    assert info.value.learning_rate == 0.25e12
    assert "learning_rate=2.5e+10" in info.value.hint
