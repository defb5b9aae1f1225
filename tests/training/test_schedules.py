"""Learning-rate schedules: each formula against a hand-written loop, validation, use in fit."""

import math

import numpy as np
import pytest

from fastreg import LogisticRegression, SoftmaxRegression
from fastreg._training.schedules import SCHEDULE_NAMES, make_schedule
from fastreg.exceptions import InvalidParameterError


def reference_rate(kind, t, a0, r, P, T):
    """The formulas of fastreg/_training/schedules.py, one step at a time, in plain Python."""
    if kind == "constant":
        return a0
    if kind == "step":
        return a0 * r ** (t // P)
    if kind == "exponential":
        return a0 * r ** (t / P)
    if kind == "inverse":
        return a0 / (1 + r * t / P)
    if kind == "cosine":
        return a0 * 0.5 * (1 + math.cos(math.pi * min(t, T) / T))
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", SCHEDULE_NAMES)
@pytest.mark.parametrize("P", [1, 7])
def test_schedule_matches_formula(kind, P):
    a0, r, T = 0.3, 0.5, 40
    sched = make_schedule(kind, a0, decay=r, decay_steps=P, total_steps=T)
    steps = np.arange(0, 60)
    expected = [reference_rate(kind, int(t), a0, r, P, T) for t in steps]
    np.testing.assert_allclose(sched.rates(steps), expected, rtol=1e-15)
    assert sched.rates(steps).dtype == np.float64
    assert sched(13) == pytest.approx(expected[13], rel=1e-15)


def test_inverse_per_step_form():
    """With decay_steps=1 the inverse schedule is alpha0 / (1 + decay * t), t in steps."""
    sched = make_schedule("inverse", 0.2, decay=0.01, decay_steps=1, total_steps=1)
    assert sched(0) == 0.2
    assert sched(100) == pytest.approx(0.2 / 2)
    assert sched(300) == pytest.approx(0.2 / 4)


def test_step_and_cosine_landmarks():
    step = make_schedule("step", 1.0, decay=0.1, decay_steps=10, total_steps=1)
    assert step.rates([0, 9, 10, 19, 20]).tolist() == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    cos = make_schedule("cosine", 1.0, decay=0.9, decay_steps=1, total_steps=100)
    assert cos(0) == 1.0 and cos(50) == pytest.approx(0.5) and cos(100) == pytest.approx(0.0)
    assert cos(150) == pytest.approx(0.0)  # stays at the end value past T


def test_callable_schedule_gets_the_step_count():
    seen = []

    def f(t):
        seen.append(t)
        return 0.1 / (1 + t)

    sched = make_schedule(f, 0.5, decay=None, decay_steps=1, total_steps=1)
    np.testing.assert_allclose(sched.rates(np.arange(5, 9)), [0.1 / 6, 0.1 / 7, 0.1 / 8, 0.1 / 9])
    assert seen == [5, 6, 7, 8] and all(type(t) is int for t in seen)


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda t: float("nan"), "finite"),
        (lambda t: -1.0, ">= 0"),
        (lambda t: "fast", "real number"),
    ],
)
def test_callable_schedule_bad_values(bad, match):
    sched = make_schedule(bad, 0.1, decay=1.0, decay_steps=1, total_steps=1)
    with pytest.raises((ValueError, TypeError), match=match):
        sched.rates(np.arange(3))


@pytest.mark.parametrize(
    "kwargs, param, match",
    [
        (dict(lr_schedule="linear"), "lr_schedule", "lr_schedule must be one of"),
        (dict(lr_schedule="step", decay=1.5), "lr_decay", r"\(0, 1\]"),
        (dict(lr_schedule="exponential", decay=0.0), "lr_decay", r"\(0, 1\]"),
        (dict(lr_schedule="inverse", decay=-0.1), "lr_decay", ">= 0"),
        (dict(lr_schedule="step", decay=float("nan")), "lr_decay", "finite real number"),
        (dict(lr_schedule="step", decay_steps=0), "lr_decay_steps", "lr_decay_steps"),
        (dict(learning_rate=0.0), "learning_rate", "learning_rate"),
        (dict(learning_rate=float("inf")), "learning_rate", "learning_rate"),
    ],
)
def test_make_schedule_rejects_bad_settings(kwargs, param, match):
    """Each setting is checked by the parameter table; the decay range by the schedule."""
    args = dict(
        lr_schedule="constant", learning_rate=0.1, decay=0.5, decay_steps=1, total_steps=10
    )
    args.update(kwargs)
    kind, lr = args.pop("lr_schedule"), args.pop("learning_rate")
    with pytest.raises(InvalidParameterError, match=match) as info:
        make_schedule(kind, lr, **args)
    assert info.value.param == param


def test_decay_is_ignored_where_the_schedule_does_not_use_it():
    for kind in ("constant", "cosine"):
        assert make_schedule(kind, 0.1, decay=5.0, decay_steps=1, total_steps=10).decay == 1.0


def _data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    return X, y


@pytest.mark.parametrize("kind", SCHEDULE_NAMES)
def test_fit_uses_the_schedule(kind, backend):
    """history_ records, per check, the rate of the last step: it must follow the formula with
    P = one epoch of training rows (the default) and T = max_epochs epochs."""
    X, y = _data()
    model = LogisticRegression(
        learning_rate=0.2,
        batch_size=10,
        max_epochs=4,
        lr_schedule=kind,
        lr_decay=0.5,
        early_stopping=False,
        validation_interval=3,
        random_state=0,
        backend=backend.name,
    )
    model.fit(X, y)
    steps_per_epoch = 9
    h = model.history_
    assert model.t_ == 4 * steps_per_epoch == h["step"][-1]
    expected = [
        reference_rate(kind, s - 1, 0.2, 0.5, steps_per_epoch, 4 * steps_per_epoch)
        for s in h["step"]
    ]
    np.testing.assert_allclose(h["learning_rate"], expected, rtol=1e-15)


def test_callable_schedule_in_fit_and_decay_steps(backend):
    X, y = _data()
    model = SoftmaxRegression(
        lr_schedule=lambda t: 0.05 if t < 12 else 0.01,
        batch_size=10,
        max_epochs=3,
        early_stopping=False,
        validation_interval=9,
        backend=backend.name,
        random_state=1,
    ).fit(X, y)
    rates = dict(zip(model.history_["step"], model.history_["learning_rate"]))
    assert rates[12] == 0.05 and rates[13] == 0.01 and rates[27] == 0.01
    model = LogisticRegression(
        lr_schedule="step",
        lr_decay=0.5,
        lr_decay_steps=5,
        batch_size=10,
        max_epochs=2,
        early_stopping=False,
        validation_interval=9,
        backend=backend.name,
        random_state=1,
    ).fit(X, y)
    rates = dict(zip(model.history_["step"], model.history_["learning_rate"]))
    # the schedule decays the base rate, here learning_rate="auto"'s learning_rate_
    a0 = model.learning_rate_
    assert rates[5] == pytest.approx(a0) and rates[6] == pytest.approx(a0 / 2)
    assert rates[11] == pytest.approx(a0 / 4)


def test_schedule_changes_the_weights(backend):
    """A schedule is not only recorded: a decaying one moves the weights less."""
    X, y = _data()
    common = dict(
        learning_rate=0.5,
        batch_size=10,
        max_epochs=5,
        early_stopping=False,
        random_state=3,
        backend=backend.name,
    )
    const = LogisticRegression(**common).fit(X, y)
    decayed = LogisticRegression(lr_schedule="exponential", lr_decay=0.1, **common).fit(X, y)
    assert np.linalg.norm(decayed.coef_) < np.linalg.norm(const.coef_)
