"""A stop asked for during training (the command line's first Ctrl-C): fastreg._training.interrupt.

The request interrupts a running epoch kernel after its current batch (both backends run
Python's signal handlers between batches), the trainer counts the steps taken, and the
weights are exactly those of that many steps: replayed here batch for batch. Under early
stopping the best validation weights are returned instead, as early stopping would.
"""

import signal

import numpy as np
import pytest

from fastreg._training.interrupt import GracefulStop, StopRequested, watching
from fastreg._training.schedules import make_schedule
from fastreg._training.trainer import Trainer


def _data(n=6000, d=40, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n).astype(np.intc)
    X = rng.normal(size=(n, d)) + 2.0 * np.eye(k, d)[y]
    return X, y


def _trainer(backend, **kw):
    return Trainer(
        backend,
        batch_size=4,
        l2=1e-3,
        schedule=make_schedule("constant", 0.01, decay=1.0, decay_steps=1, total_steps=1),
        shuffle=False,
        n_threads=1,
        **kw,
    )


def _alarm_requests(stop, seconds):
    """SIGALRM after ``seconds`` asks ``stop`` to stop, as the CLI's SIGINT handler does."""
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: stop.request())
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return previous


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_stop_during_a_kernel_keeps_exactly_the_steps_taken(backend, dtype):
    # epochs of 10000 batches (over 10 ms compiled: the compiled kernel runs the handlers
    # about every 10 ms), so the stop usually lands inside a kernel call, mid-epoch
    X, y = _data(n=40_000, d=64)
    X = X.astype(dtype)
    rows = np.arange(len(y))
    coef, intercept = np.zeros((3, X.shape[1]), dtype), np.zeros(3, dtype)
    trainer = _trainer(backend)
    stop = GracefulStop()
    previous = _alarm_requests(stop, 0.15)
    try:
        with watching(stop):
            result = trainer.run(X, y, coef, intercept, rows, None, max_epochs=100_000)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert result.interrupted and stop.stopped and result.stopped_early
    per_epoch = trainer.steps_per_epoch(len(rows))
    assert 0 < result.step < 100_000 * per_epoch
    # the replay: the same batches, in the same kernel calls, up to the step it stopped at
    ref_coef, ref_intercept = np.zeros_like(coef), np.zeros_like(intercept)
    full, rest = divmod(result.step, per_epoch)
    for _ in range(full):
        backend.epoch(X, y, ref_coef, ref_intercept, rows, 4, np.full(per_epoch, 0.01), 1e-3)
    if rest:
        backend.epoch(
            X, y, ref_coef, ref_intercept, rows[: rest * 4], 4, np.full(rest, 0.01), 1e-3
        )
    np.testing.assert_array_equal(coef, ref_coef)
    np.testing.assert_array_equal(intercept, ref_intercept)
    # an epoch stopped at its start counts as run (it was started)
    assert result.epochs_run == full + 1 if rest else result.epochs_run in (full, full + 1)


def test_a_stop_asked_before_training_takes_no_step(backend):
    X, y = _data(n=400)
    coef, intercept = np.zeros((3, X.shape[1])), np.zeros(3)
    stop = GracefulStop()
    stop.request()  # outside a kernel: recorded, nothing raised
    with watching(stop):
        result = _trainer(backend).run(X, y, coef, intercept, np.arange(400), None, max_epochs=5)
    assert result.interrupted and result.step == 0
    assert not coef.any() and not intercept.any()


def test_under_early_stopping_the_best_weights_are_kept(backend):
    """Checks every few batches, a stop after several checks: the returned weights are the
    ones of the lowest validation loss, and no history row is added for the cut check."""
    X, y = _data(n=3000)
    Xv, yv = _data(n=500, seed=1)
    coef, intercept = np.zeros((3, X.shape[1])), np.zeros(3)
    trainer = _trainer(backend, early_stopping=True, patience=10**6, validation_interval=50)
    stop = GracefulStop()
    calls = []
    real_epoch = backend.epoch

    class Kernels:  # the real kernels; the 7th epoch call asks for the stop mid-way
        name = backend.name
        batches_done = backend.batches_done
        linear_forward = staticmethod(backend.linear_forward)
        cross_entropy = staticmethod(backend.cross_entropy)

        @staticmethod
        def epoch(*args, **kwargs):
            calls.append(1)
            if len(calls) == 7:
                stop.request()  # raises StopRequested: a kernel is "running"
            return real_epoch(*args, **kwargs)

    trainer.kernels = Kernels
    with watching(stop):
        result = trainer.run(
            X, y, coef, intercept, np.arange(3000), None, max_epochs=3, validation=(Xv, yv)
        )
    assert result.interrupted
    history = result.history
    assert len(history["val_loss"]) == 6  # six checks completed, the seventh was cut
    best = int(np.argmin(history["val_loss"]))
    assert result.best_val_loss == history["val_loss"][best]
    Z = backend.linear_forward(Xv, coef, intercept)
    loss = float(backend.cross_entropy(Z, yv).mean(dtype=np.float64))
    assert loss == pytest.approx(history["val_loss"][best], rel=1e-12)


def test_the_request_raises_only_inside_a_kernel():
    stop = GracefulStop()
    with stop.kernel():
        with pytest.raises(StopRequested):
            stop.request()
    stop.request()  # outside: recorded only
    assert stop.requested
    with pytest.raises(StopRequested), stop.kernel():  # asked for before the call
        pass
