"""fit and partial_fit are transactions: they complete, or leave the estimator exactly as it
was (``pickle.dumps`` identical), whatever interrupts them; a blow-up is a divergence."""

import math
import pickle

import numpy as np
import pytest

from fastreg import LogisticRegression, SoftmaxRegression
from fastreg.exceptions import TrainingDivergedError

ESTIMATORS = [LogisticRegression, SoftmaxRegression]


def _data(cls, n=300, d=6, seed=0):
    rng = np.random.default_rng(seed)
    k = 2 if cls is LogisticRegression else 3
    centers = rng.normal(scale=2.0, size=(k, d))
    y = rng.integers(0, k, size=n)
    return centers[y] + rng.normal(size=(n, d)), y


class _Interrupt:
    """The backend's epoch kernel, raising KeyboardInterrupt at its ``at``-th call (after the
    real kernel has already moved the weights it was given), as a Ctrl-C between batches."""

    def __init__(self, epoch, at):
        self.epoch, self.at, self.calls = epoch, at, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        out = self.epoch(*args, **kwargs)
        if self.calls == self.at:
            raise KeyboardInterrupt
        return out


def _calls(model, method, X, y):
    if method == "fit":
        return lambda: model.fit(X, y)
    if method == "warm fit":
        model.set_params(warm_start=True)
        return lambda: model.fit(X, y)
    return lambda: model.partial_fit(X, y, classes=np.unique(y))


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("method", ["fit", "warm fit", "partial_fit"])
@pytest.mark.parametrize("random_state", [0, "generator"])
def test_keyboard_interrupt_mid_fit_leaves_the_model_unchanged(
    backend, monkeypatch, cls, method, random_state
):
    """Ctrl-C in the middle of training (the epoch kernel raises KeyboardInterrupt at its
    second or third call): every attribute, the kept random generator and a Generator passed
    as random_state are as before the call (fastreg at bd4b8e0 advanced the generators)."""
    X, y = _data(cls)
    rng = np.random.default_rng(5) if random_state == "generator" else random_state
    model = cls(backend=backend.name, random_state=rng, max_epochs=4, validation_interval=2)
    model.partial_fit(X, y, classes=np.unique(y))
    call = _calls(model, method, X, y)
    before = pickle.dumps(model)
    user_state = rng.bit_generator.state if random_state == "generator" else None
    at = 2 if method == "partial_fit" else 3  # partial_fit: one epoch of two checks
    interrupt = _Interrupt(backend.epoch, at=at)
    monkeypatch.setattr(backend, "epoch", interrupt)
    with pytest.raises(KeyboardInterrupt):
        call()
    assert interrupt.calls == at
    assert pickle.dumps(model) == before
    if user_state is not None:
        assert rng.bit_generator.state == user_state
    # and the same call, uninterrupted, completes and commits
    monkeypatch.undo()
    call()
    assert pickle.dumps(model) != before


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_interrupted_at_its_only_check(backend, monkeypatch, cls):
    X, y = _data(cls)
    model = cls(backend=backend.name, random_state=0)
    before = pickle.dumps(model)
    monkeypatch.setattr(backend, "epoch", _Interrupt(backend.epoch, at=1))
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X, y, classes=np.unique(y))
    assert pickle.dumps(model) == before and not hasattr(model, "coef_")


def test_any_exception_in_the_callback_leaves_the_model_unchanged(monkeypatch):
    """The progress callback is code too: a failure there rolls the fit back as well."""
    from fastreg import _progress

    X, y = _data(SoftmaxRegression)
    model = SoftmaxRegression(backend="numpy", random_state=0, max_epochs=3).fit(X, y)
    before = pickle.dumps(model)

    def boom(self, *args):
        raise MemoryError("out of memory in the progress bar")

    monkeypatch.setattr(_progress.EpochProgress, "epoch_end", boom)
    model.set_params(verbose=2)
    with pytest.raises(MemoryError):
        model.fit(X, y)
    model.set_params(verbose=0)
    assert pickle.dumps(model) == before


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_diverging_refit_does_not_replace_a_good_model(backend, cls):
    """fastreg at bd4b8e0 replaced a good model (0.98 accuracy) by the diverged run's last
    finite weights (0.665); now the good model stays, bit for bit."""
    X, y = _data(cls)
    model = cls(backend=backend.name, random_state=0, max_epochs=10).fit(X, y)
    score = model.score(X, y)
    assert score > 0.9
    before = pickle.dumps(model)
    model.set_params(learning_rate=1e9)
    with pytest.raises(TrainingDivergedError) as info:
        model.fit(X, y)
    model.set_params(learning_rate="auto")
    assert pickle.dumps(model) == before and model.score(X, y) == score
    err = info.value
    assert err.result.coef.shape == model.coef_.shape and err.result.history["train_loss"] == []


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lr", [1e9, 1e300])
def test_a_huge_learning_rate_raises_before_anything_overflows(backend, cls, dtype, lr):
    """Learning rates of 1e9 to 1e300 trained silently at bd4b8e0 (weights near 1e300, a
    loss of 1e29); the blow-up rule stops them at the first check, with advice."""
    X, y = _data(cls)
    X = (X / np.abs(X).max()).astype(dtype)
    model = cls(backend=backend.name, learning_rate=lr, random_state=0, max_epochs=5)
    why = r"the training loss grew to .*, over 1e\+06 times its starting level"
    if lr > float(np.finfo(dtype).max):  # the step itself overflows
        why = "the training loss became NaN or infinite"
    with pytest.raises(TrainingDivergedError, match=f"in epoch 1, .*{why}") as info:
        model.fit(X, y)
    err = info.value
    assert err.learning_rate == lr and "lower learning_rate (e.g. learning_rate=" in str(err)
    assert err.hint.startswith("lower learning_rate") and err.param == "learning_rate"
    assert "left as it was" in err.hint and not hasattr(model, "coef_")
    res = err.result
    assert res.history["train_loss"] == [] and res.step == 0
    assert np.isfinite(res.coef).all() and not res.coef.any()  # the weights it started from


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_with_a_huge_learning_rate_raises_and_keeps_the_model(backend, cls):
    X, y = _data(cls)
    model = cls(backend=backend.name, random_state=0)
    for _ in range(3):
        model.partial_fit(X, y, classes=np.unique(y))
    before = pickle.dumps(model)
    model.set_params(learning_rate=1e12)
    with pytest.raises(TrainingDivergedError, match="grew to"):
        model.partial_fit(X, y)
    model.set_params(learning_rate="auto")
    assert pickle.dumps(model) == before


@pytest.mark.parametrize(
    "lr, schedule", [(0.1, "constant"), (0.5, "constant"), (0.5, "cosine"), (2.0, "constant")]
)
def test_noisy_training_never_trips_the_blow_up_rule(backend, lr, schedule):
    """Unscaled features (~100, as scikit-learn's estimator checks use) at ordinary learning
    rates give perceptron-like runs with losses up to ~1e4 log 2: finite and kept, not a
    divergence; nor does noisy SGD with one check per batch."""
    for seed in range(4):
        rng = np.random.default_rng(seed)
        X = rng.normal(loc=100, size=(100, 2))
        y = rng.integers(0, 2, size=100)
        for cls in ESTIMATORS:
            model = cls(
                backend=backend.name,
                learning_rate=lr,
                lr_schedule=schedule,
                random_state=seed,
                max_epochs=60,
                patience=60,
            ).fit(X, y)
            assert np.isfinite(model.coef_).all()
        X, y = _data(SoftmaxRegression, seed=seed)
        model = SoftmaxRegression(
            backend=backend.name,
            learning_rate=lr,
            lr_schedule=schedule,
            batch_size=1,
            validation_interval=100,
            random_state=seed,
            max_epochs=3,
        ).fit(X, y)
        assert all(math.isfinite(v) for v in model.history_["train_loss"])


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_interrupted_sparse_weighted_training_leaves_the_model_unchanged(
    backend, monkeypatch, cls, method
):
    """The new paths (sparse kernels, sample and class weights, learning_rate="auto" and
    feature names) commit nothing when interrupted either."""
    sparse = pytest.importorskip("scipy.sparse")
    pd = pytest.importorskip("pandas")
    X, y = _data(cls)
    w = np.random.default_rng(1).uniform(0, 2, size=len(y))
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    model = cls(
        backend=backend.name,
        random_state=0,
        max_epochs=3,
        validation_interval=2,
        class_weight={0: 2.0},
    )
    model.fit(frame, y, sample_weight=w)
    before = pickle.dumps(model)
    Xs = sparse.csr_matrix(X * (np.abs(X) > 0.5))
    interrupt = _Interrupt(backend.sparse_epoch, at=2)
    monkeypatch.setattr(backend, "sparse_epoch", interrupt)
    with pytest.raises(KeyboardInterrupt):
        if method == "fit":
            model.fit(Xs, y, sample_weight=w)
        else:
            model.partial_fit(Xs, y, sample_weight=w)
    assert interrupt.calls == 2 and pickle.dumps(model) == before
    assert model.feature_names_in_.tolist() == list(frame.columns)
