"""The training loop: epochs of the fused kernel, validation checks, early stopping, history.

One epoch is one call of the backend's fused kernel ``epoch`` (``sparse_epoch`` for a CSR X:
the only difference, in :meth:`Trainer._epoch`) per validation check: the kernel runs the
mini-batch loop (compiled code on the Cython backend, Python on the NumPy one) over a slice of
the epoch's row order, and the trainer decides everything else. Every random draw (the
shuffle) and every learning rate is computed here, in Python, from one
``np.random.Generator``, so both backends see identical inputs and end with the same weights
for the same seed. Per-row weights v (mean 1 over the training rows) and per-feature step
scales (``learning_rate="auto"``) are passed to the kernel as they are.

Validation checks
    ``validation_interval`` c splits each epoch's batches into c consecutive runs of (nearly)
    equal length, at batch boundaries, so the batches themselves do not depend on c. After each
    run the trainer records one row of history: the step count, the epoch, the learning rate of
    the last step, the running train loss/accuracy the kernel measured on the rows of that run
    (each batch at the weights before its step; weighted means with sample weights), and, when
    a validation set is given, the mean cross-entropy and accuracy on it (weighted by the
    validation rows' weights when it has them: sum w E / sum w). The validation loss carries
    no L2 term: it measures the fit to unseen data, the quantity early stopping should watch.

Early stopping
    A check improves when its validation loss is lower than the best so far by more than
    ``min_delta``; after ``patience`` checks in a row without improvement training stops. The
    weights at the lowest validation loss seen are kept (a copy of coef and intercept, d*K
    numbers) and are the ones returned, so the model's validation loss is the minimum of the
    history.

Input that is not finite, divergence
    Each check's result goes through :mod:`.divergence`: a NaN or infinity in X raises the
    input checks' own error; a non-finite or blown-up loss restores the last good weights
    (the best validation weights under early stopping) and raises
    :class:`fastreg.exceptions.TrainingDivergedError`. The rules, and why their factors are
    wide, are written there.

A stop asked for (Ctrl-C on the command line)
    When a :class:`~.interrupt.GracefulStop` is current (:mod:`.interrupt`), a request stops
    training after the current batch: the steps taken count, no history row is added for the
    unfinished check, and the weights returned are those early stopping would keep (the best
    validation weights under early stopping, else the weights after the last batch);
    ``TrainResult.interrupted`` says so.

Progress
    The trainer prints nothing: after each epoch it calls ``callback(epoch, train_loss,
    history)`` when one is given (the fit driver passes a progress bar's method).
"""

import contextlib
import math
from dataclasses import dataclass, field

import numpy as np

from .._sparse_input import is_sparse
from ..exceptions import TrainingDivergedError
from .divergence import blown_up, non_finite, refuse_non_finite
from .evaluator import Evaluator
from .interrupt import StopRequested, current

HISTORY_KEYS = (
    "step",
    "epoch",
    "learning_rate",
    "train_loss",
    "val_loss",
    "train_accuracy",
    "val_accuracy",
)


def new_history():
    """An empty history: one list per key of :data:`HISTORY_KEYS`."""
    return {key: [] for key in HISTORY_KEYS}


@dataclass
class TrainResult:
    """Where training ended. ``coef`` (K, d) / ``intercept`` (K,) are the returned weights."""

    coef: np.ndarray
    intercept: np.ndarray
    step: int  # gradient steps taken in total (t after the last step)
    epochs_run: int  # epochs started in this run (a stopped epoch counts)
    best_epoch: int  # epoch (1-based, counted across runs) of the returned weights
    best_val_loss: float = math.nan
    stopped_early: bool = False
    interrupted: bool = False  # a GracefulStop ended training (see the module docstring)
    history: dict = field(default_factory=new_history)
    learning_rate: float = math.nan  # the base step alpha0 (set by the fit driver)
    step_scale: np.ndarray = None  # the per-feature step scales, or None (all ones)


class Trainer:
    """Mini-batch gradient descent driven through a backend's fused epoch kernel.

    Parameters
    ----------
    kernels : backend namespace from :func:`fastreg.get_backend`; the weights are coef (K, d)
        and intercept (K,), K = 1 for the logistic model (the kernels pick the link by K).
    batch_size : int >= 1.
    l2 : float >= 0, lambda in J = E + lambda ||W||^2 (bias not penalised).
    schedule : :class:`fastreg._training.schedules.Schedule`, learning rate of each global step.
    validation_interval : int >= 1, validation checks (history rows) per epoch.
    shuffle : bool, draw a new row order every epoch (else the rows in the given order).
    early_stopping : bool, stop on the validation loss and return the best weights.
    patience : int >= 1, checks without improvement before stopping.
    min_delta : float >= 0, the least decrease of the validation loss that counts.
    input_scale : float, features are ``X * input_scale`` (1/255 for raw uint8 pixels); dense
        X only (sparse X is used as given).
    n_threads : int, passed to the kernel.
    step_scale : None or (d,) array of the weights' dtype, > 0: column j of coef steps by
        lr_t * step_scale[j] times its gradient (``learning_rate="auto"``); None: all ones.
    callback : ``callback(epoch, train_loss, history)`` after each epoch, or None.
    """

    def __init__(
        self,
        kernels,
        *,
        batch_size,
        l2,
        schedule,
        validation_interval=1,
        shuffle=True,
        early_stopping=False,
        patience=5,
        min_delta=0.0,
        input_scale=1.0,
        n_threads=1,
        step_scale=None,
        callback=None,
    ):
        self.kernels = kernels
        self.batch_size = int(batch_size)
        self.l2 = float(l2)
        self.schedule = schedule
        self.validation_interval = int(validation_interval)
        self.shuffle = bool(shuffle)
        self.early_stopping = bool(early_stopping)
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.input_scale = float(input_scale)
        self.n_threads = int(n_threads)
        self.step_scale = step_scale
        self.callback = callback

    def steps_per_epoch(self, n_rows):
        return -(-n_rows // self.batch_size)

    def run(
        self,
        X,
        y,
        coef,
        intercept,
        rows,
        rng,
        *,
        max_epochs,
        step=0,
        validation=None,
        history=None,
        epoch_offset=0,
        sample_weight=None,
    ):
        """Train ``coef``/``intercept`` in place on the rows ``X[rows]``; return a TrainResult.

        ``X`` is the whole data set: C-contiguous (float of the weights' dtype, or uint8) or a
        CSR matrix of the weights' dtype; ``y`` its ``np.intc`` class indices, ``rows`` the
        training rows (np.intp; the validation rows are simply not in it, so X is never
        copied). ``sample_weight`` is None or the kernels' per-row weights (N,) of the
        weights' dtype, indexed by row of X. ``step`` is the global step count the
        schedule starts from; ``epoch_offset`` the epochs run before (for the history).
        ``validation`` is ``(X_val, y_val)`` or ``(X_val, y_val, w_val)``: X_val float of the
        weights' dtype or uint8, unscaled (the kernels apply ``input_scale``), or CSR; y_val
        np.intc; w_val None or the rows' weights (float64, > 0); or None.
        ``history`` (a dict from :func:`new_history`) is appended to, or a new one started.
        """
        history = new_history() if history is None else history
        rows = np.ascontiguousarray(rows, dtype=np.intp)
        B = self.batch_size
        n_rows = rows.shape[0]
        n_batches = self.steps_per_epoch(n_rows)
        n_checks = min(self.validation_interval, n_batches)
        bounds = [round(i * n_batches / n_checks) for i in range(n_checks + 1)]
        watch = self.early_stopping and validation is not None
        evaluator = Evaluator(self.kernels, validation, coef, self.input_scale)
        start = [v for v in history["train_loss"][:1] if math.isfinite(v)]
        level = max([math.log(max(coef.shape[0], 2))] + start)

        best = {"loss": math.inf, "coef": None, "intercept": None, "epoch": epoch_offset}
        since_improvement = 0
        stopped = interrupted = False
        graceful = current()
        in_kernel = contextlib.nullcontext if graceful is None else graceful.kernel
        epochs_run = 0
        for epoch in range(epoch_offset + 1, epoch_offset + max_epochs + 1):
            epochs_run += 1
            order = rng.permutation(rows) if self.shuffle else rows
            lrs = np.ascontiguousarray(
                self.schedule.rates(np.arange(step, step + n_batches)), dtype=np.float64
            )
            epoch_loss, rows_done = 0.0, 0
            for c in range(n_checks):
                b0, b1 = bounds[c], bounds[c + 1]
                part = order[b0 * B : min(b1 * B, n_rows)]
                saved = (coef.copy(), intercept.copy())
                # overflow is detected below and reported once, with advice: silence NumPy's
                # own RuntimeWarnings about it (the NumPy backend would emit them mid-epoch)
                with np.errstate(over="ignore", invalid="ignore"):
                    try:
                        if graceful is not None:  # a stop before the kernel starts: 0 steps
                            self.kernels.batches_done.reset()
                        with in_kernel():
                            loss, acc = self._epoch(
                                X, y, coef, intercept, part, lrs[b0:b1], sample_weight
                            )
                    except StopRequested:  # the weights are at a batch boundary
                        step += self._batches_done(X)
                        interrupted = True
                        break
                    loss, acc = float(loss), float(acc)
                    problem = non_finite(loss, coef, intercept) or blown_up(
                        loss, level, history["train_loss"]
                    )
                    val_loss, val_acc = (math.nan, math.nan)
                    if problem is None and validation is not None:
                        val_loss, val_acc = evaluator(coef, intercept)
                        if not math.isfinite(val_loss):
                            problem = "the validation loss became NaN or infinite"
                if problem is not None:
                    # the input checks left the finiteness of X to the kernels (check_array's
                    # finite=False): a non-finite X, not the steps, may be what stopped them
                    refuse_non_finite(X)
                    if validation is not None:
                        refuse_non_finite(validation[0])
                    self._diverged(
                        problem,
                        epoch,
                        step,
                        lrs[b0:b1],
                        coef,
                        intercept,
                        saved,
                        best if watch else None,
                        history,
                        epochs_run,
                    )
                step += b1 - b0
                epoch_loss += loss * part.shape[0]
                rows_done += part.shape[0]
                _append(
                    history,
                    step=step,
                    epoch=epoch,
                    learning_rate=float(lrs[b1 - 1]),
                    train_loss=loss,
                    val_loss=val_loss,
                    train_accuracy=acc,
                    val_accuracy=val_acc,
                )
                if validation is not None and val_loss < best["loss"]:
                    improved = val_loss < best["loss"] - self.min_delta
                    best.update(loss=val_loss, epoch=epoch)
                    if watch:
                        best.update(coef=coef.copy(), intercept=intercept.copy())
                    since_improvement = 0 if improved else since_improvement + 1
                elif validation is not None:
                    since_improvement += 1
                if watch and since_improvement >= self.patience:
                    stopped = True
                    break
                if graceful is not None and graceful.requested:
                    interrupted = True
                    break
            if interrupted:
                graceful.stopped = stopped = True
                break
            if self.callback is not None:
                self.callback(epoch, epoch_loss / rows_done, history)
            if stopped:
                break

        if stopped and epochs_run == 1 and not interrupted:
            refuse_non_finite(X, order[rows_done:])  # rows no kernel read before the stop
        best_epoch = epoch_offset + epochs_run
        if watch and best["coef"] is not None:
            coef[...] = best["coef"]
            intercept[...] = best["intercept"]
            best_epoch = best["epoch"]
        return TrainResult(
            coef=coef,
            intercept=intercept,
            step=step,
            epochs_run=epochs_run,
            best_epoch=best_epoch,
            best_val_loss=best["loss"],
            stopped_early=stopped,
            interrupted=interrupted,
            history=history,
        )

    def _batches_done(self, X):
        """Steps the last kernel call took before it was stopped."""
        raw = self.kernels.batches_done
        return raw.sparse_epoch() if is_sparse(X) else raw.epoch()

    def _epoch(self, X, y, coef, intercept, part, lrs, sample_weight):
        """One kernel call: ``sparse_epoch`` for CSR X (no input_scale), else ``epoch``; the
        weights and step scales are passed only when there are some (None is the default)."""
        extra = {
            name: value
            for name, value in (("sample_weight", sample_weight), ("step_scale", self.step_scale))
            if value is not None
        }
        if is_sparse(X):
            return self.kernels.sparse_epoch(
                X, y, coef, intercept, part, self.batch_size, lrs, self.l2, self.n_threads, **extra
            )
        return self.kernels.epoch(
            X,
            y,
            coef,
            intercept,
            part,
            self.batch_size,
            lrs,
            self.l2,
            self.input_scale,
            self.n_threads,
            **extra,
        )

    def _diverged(
        self, problem, epoch, step, lrs, coef, intercept, saved, best, history, epochs_run
    ):
        """Restore the last good weights and raise TrainingDivergedError."""
        if best is not None and best["coef"] is not None:
            coef[...] = best["coef"]
            intercept[...] = best["intercept"]
            kept, best_epoch = (
                f"the best validation weights (epoch {best['epoch']})",
                best["epoch"],
            )
        else:
            coef[...] = saved[0]
            intercept[...] = saved[1]
            kept, best_epoch = f"the weights of step {step}, the last good check", epoch - 1
        lr_max = float(np.max(lrs)) if len(lrs) else math.nan
        result = TrainResult(
            coef=coef,
            intercept=intercept,
            step=step,
            epochs_run=epochs_run,
            best_epoch=max(best_epoch, 0),
            best_val_loss=best["loss"] if best is not None else math.nan,
            stopped_early=True,
            history=history,
        )
        rates, explicit = f"learning rates up to {lr_max:.3g}", lr_max
        if self.step_scale is not None:  # learning_rate="auto": steps differ by feature
            low, high = float(np.min(self.step_scale)), float(np.max(self.step_scale))
            rates += f" times per-feature step scales {low:.3g} to {high:.3g}"
            explicit = lr_max * low
        raise TrainingDivergedError(
            f"Training diverged in epoch {epoch}, within steps {step + 1}-{step + len(lrs)}: "
            f"{problem} with {rates}",
            result,
            learning_rate=explicit,
            hint=f"lower learning_rate (e.g. learning_rate={explicit / 10:.3g}) or scale the "
            f"features (e.g. input_scale=1/255 for raw pixels); the estimator is left as "
            f"it was, and the error's .result holds this run's history and {kept}",
        )


def _append(history, **row):
    for key in HISTORY_KEYS:
        history[key].append(row[key])
