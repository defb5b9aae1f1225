"""The fit driver: from checked inputs to trained weights, for ``fit`` and ``partial_fit``.

The estimators (:mod:`fastreg.linear_model`) check parameters, encode labels and own the
fitted attributes; this module owns everything between them and the epoch loop:

* the random generator (:func:`draw_rng`: one ``np.random.Generator`` seeds the hold-out and
  every shuffle, so both backends see identical inputs; training draws from a private copy);
* the validation set: an explicit one (checked here), or THE stratified hold-out of
  :mod:`.split`;
* the learning-rate schedule (the decay period P defaults to one epoch of training rows,
  the cosine horizon T to ``max_epochs`` epochs);
* progress: an :class:`fastreg._progress.EpochProgress` when ``verbose``, handed to the
  trainer as a callback (the trainer itself prints nothing);
* the transaction: training works on copies (the weights the estimator passes, the history,
  the generator of :func:`draw_rng`) and ``commit(result)`` is called only when training
  completed. Any exception (:class:`~fastreg.exceptions.TrainingDivergedError`, a
  KeyboardInterrupt from the epoch kernel or the callback, MemoryError ...) propagates with
  nothing committed, so the estimator keeps every attribute it had; a divergence's
  ``err.result`` holds the failed run's weights and history for inspection.

``params`` is the dict of checked hyper-parameters of :func:`fastreg._validation.check_params`.
"""
import copy

import numpy as np

from .._progress import EpochProgress
from .._validation import check_array, check_targets
from ..exceptions import InvalidParameterError, TrainingDivergedError
from .schedules import make_schedule
from .split import stratified_holdout
from .trainer import Trainer, new_history

__all__ = ["draw_rng", "explicit_validation", "fit", "make_rng", "model_input", "partial_fit",
           "weights_dtype"]


def make_rng(random_state):
    """A Generator from a checked ``random_state``: None, an int, a SeedSequence, a Generator
    (used as it is) or a legacy RandomState (seeds a new Generator)."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    return np.random.default_rng(random_state)


def draw_rng(random_state, current=None):
    """``(rng, keep)``: a private Generator to train with, and ``keep()`` for the commit.

    ``current`` is the generator an estimator kept from its last training call (None: start
    from ``random_state``). Training draws from ``rng``, a copy, so a failed call advances
    nothing. ``keep()`` makes the draws count and returns the generator to keep: the
    caller's own Generator or RandomState passed as ``random_state`` is moved to where it
    would be had training drawn from it directly (scikit-learn's convention), and is kept
    when it was ``current``; otherwise the copy itself is kept.
    """
    legacy = None
    if current is None and isinstance(random_state, np.random.RandomState):
        legacy = copy.deepcopy(random_state)
        current = np.random.default_rng(legacy.randint(0, 2**31 - 1))
    elif current is None:
        current = make_rng(random_state)
    rng = copy.deepcopy(current)

    def keep():
        if legacy is not None:
            random_state.set_state(legacy.get_state())
        if current is random_state:
            current.bit_generator.state = rng.bit_generator.state
            return current
        return rng

    return rng, keep


def weights_dtype(dtype, X):
    """The weights' dtype: the ``dtype`` parameter, else X's float type, else float64."""
    return dtype or (X.dtype if X.dtype.kind == "f" else np.dtype(np.float64))


def model_input(X, dtype):
    """``X`` as the kernels take it with weights of ``dtype``: uint8 and float of ``dtype`` as
    they are, another float type converted (never scaled: the kernels apply input_scale)."""
    if X.dtype == np.uint8 or X.dtype == dtype:
        return X
    return np.ascontiguousarray(X, dtype=dtype)


def explicit_validation(X_val, y_val, n_features, classes, dtype):
    """The validation set passed to ``fit``, checked: ``(X_val, codes_val)`` for the trainer
    (X_val uint8 or float of ``dtype``, unscaled; labels encoded by ``classes``)."""
    if X_val is None or y_val is None:
        raise InvalidParameterError(
            "pass both X_val and y_val for an explicit validation set, or neither",
            param="X_val" if X_val is None else "y_val")
    X_val = check_array(X_val, "X_val")
    if X_val.shape[1] != n_features:
        raise InvalidParameterError(
            f"X_val has {X_val.shape[1]} features, but X has {n_features}; they must match",
            param="X_val")
    _, codes = check_targets(y_val, X_val.shape[0], classes, name="y_val")
    return model_input(X_val, dtype), codes


def fit(kernels, params, X, codes, n_classes, coef, intercept, rng, *, validation, desc,
        commit):
    """Train ``coef`` (K, d) / ``intercept`` (K,) in place for up to ``max_epochs`` epochs.

    ``validation`` is ``(X_val, codes_val)`` or None; with ``early_stopping`` and no
    validation set, the stratified hold-out of ``validation_fraction`` is drawn from ``rng``
    and those rows are left out of training. Returns the trainer's TrainResult.
    """
    rows = np.arange(X.shape[0], dtype=np.intp)
    if validation is None and params["early_stopping"]:
        val_rows, rows = stratified_holdout(codes, n_classes, params["validation_fraction"], rng)
        validation = (np.ascontiguousarray(X[val_rows]), codes[val_rows])
    return _run(kernels, params, X, codes, coef, intercept, rows, rng,
                max_epochs=params["max_epochs"], step=0, validation=validation,
                history=new_history(), epoch_offset=0,
                early_stopping=params["early_stopping"], desc=desc, commit=commit)


def partial_fit(kernels, params, X, codes, coef, intercept, rng, *, step, history,
                epoch_offset, desc, commit):
    """One epoch over all rows of (X, codes), continuing at gradient step ``step`` and
    appending to ``history``; no validation set, no early stopping."""
    rows = np.arange(X.shape[0], dtype=np.intp)
    return _run(kernels, params, X, codes, coef, intercept, rows, rng, max_epochs=1,
                step=step, validation=None, history=history, epoch_offset=epoch_offset,
                early_stopping=False, desc=desc, commit=commit)


def _run(kernels, p, X, codes, coef, intercept, rows, rng, *, max_epochs, step, validation,
         history, epoch_offset, early_stopping, desc, commit):
    steps = -(-rows.shape[0] // p["batch_size"])
    schedule = make_schedule(p["lr_schedule"], p["learning_rate"], decay=p["lr_decay"],
                             decay_steps=p["lr_decay_steps"] or steps,
                             total_steps=p["max_epochs"] * steps)
    scale = 1.0 if p["input_scale"] is None else p["input_scale"]
    progress = None
    if p["verbose"]:
        progress = EpochProgress(max_epochs, verbose=min(p["verbose"], 2), desc=desc)
    trainer = Trainer(kernels, batch_size=p["batch_size"], l2=p["l2"], schedule=schedule,
                      validation_interval=p["validation_interval"], shuffle=p["shuffle"],
                      early_stopping=early_stopping, patience=p["patience"],
                      min_delta=p["min_delta"], input_scale=scale, n_threads=p["n_threads"],
                      callback=None if progress is None else progress.epoch_end)
    try:
        result = trainer.run(X, codes, coef, intercept, rows, rng, max_epochs=max_epochs,
                             step=step, validation=validation, history=history,
                             epoch_offset=epoch_offset)
    except TrainingDivergedError as err:
        if progress is not None:
            progress.close(f"diverged in epoch {epoch_offset + err.result.epochs_run}; "
                           "the model is unchanged")
        raise
    except BaseException:
        if progress is not None:
            progress.close("stopped; the model is unchanged")
        raise
    if progress is not None:
        progress.close(f"early stop after epoch {epoch_offset + result.epochs_run}, best epoch "
                       f"{result.best_epoch}" if result.stopped_early else None)
    commit(result)
    return result
