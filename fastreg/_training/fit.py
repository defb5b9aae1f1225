"""The fit driver: from checked inputs to trained weights, for ``fit`` and ``partial_fit``.

The estimators (:mod:`fastreg.linear_model`) check parameters, encode labels and own the
fitted attributes; this module owns everything between them and the epoch loop:

* the random generator (:func:`draw_rng`: one ``np.random.Generator`` seeds the hold-out and
  every shuffle, so both backends see identical inputs; training draws from a private copy);
* the rows that train: rows of weight zero are dropped first (:mod:`fastreg._sample_weight`:
  a zero weight is a dropped row), then the validation set is an explicit one (checked here)
  or THE stratified hold-out of :mod:`.split` over the remaining rows; the training rows'
  weights are passed to the kernels normalised to mean 1, the held-out rows' weights weigh
  the validation loss and accuracy;
* the step size: an explicit ``learning_rate``, or ``"auto"``: ``(learning_rate_,
  step_scale_)`` from :func:`fastreg._training.step_size.auto_step` on the training rows
  (:func:`step_sizes`);
* the learning-rate schedule, based on ``learning_rate_`` (the decay period P defaults to one
  epoch of training rows, the cosine horizon T to ``max_epochs`` epochs);
* progress: an :class:`fastreg._progress.EpochProgress` when ``verbose``, handed to the
  trainer as a callback (the trainer itself prints nothing);
* the transaction: training works on copies (the weights the estimator passes, the history,
  the generator of :func:`draw_rng`) and ``commit(result)`` is called only when training
  completed. Any exception (:class:`~fastreg.exceptions.TrainingDivergedError`, a
  KeyboardInterrupt from the epoch kernel or the callback, MemoryError ...) propagates with
  nothing committed, so the estimator keeps every attribute it had; a divergence's
  ``err.result`` holds the failed run's weights and history for inspection.

``params`` is the dict of checked hyper-parameters of :func:`fastreg._validation.check_params`.
``X`` is dense (C-contiguous float of the weights' dtype, or uint8) or a CSR matrix of the
weights' dtype (:mod:`fastreg._sparse_input`); ``weights`` the per-row weights w_n of
:func:`fastreg._sample_weight.row_weights` (float64) or None.
"""

import copy
import math

import numpy as np

from .._progress import EpochProgress
from .._sample_weight import kernel_weights, positive_rows
from .._sparse_input import as_csr, is_sparse
from .._targets import check_targets
from .._validation import check_array
from ..exceptions import InvalidParameterError, TrainingDivergedError
from .divergence import refuse_non_finite
from .schedules import make_schedule
from .split import stratified_holdout
from .step_size import auto_step
from .trainer import Trainer, new_history

__all__ = [
    "draw_rng",
    "explicit_validation",
    "fit",
    "make_rng",
    "model_input",
    "partial_fit",
    "step_sizes",
    "weights_dtype",
]


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
    they are, another float type converted (never scaled: the kernels apply input_scale); a
    CSR matrix with its values converted to ``dtype`` if need be."""
    if is_sparse(X):
        return as_csr(X, dtype)
    if X.dtype == np.uint8 or X.dtype == dtype:
        return X
    return np.ascontiguousarray(X, dtype=dtype)


def explicit_validation(X_val, y_val, n_features, classes, dtype, per_class=None):
    """The validation set passed to ``fit``, checked: ``(X_val, codes_val, weights_val)`` for
    the trainer (X_val uint8 or float of ``dtype``, unscaled, or CSR; labels encoded by
    ``classes``; weights ``per_class[codes_val]``, or None without class weights)."""
    if X_val is None or y_val is None:
        raise InvalidParameterError(
            "pass both X_val and y_val for an explicit validation set, or neither",
            param="X_val" if X_val is None else "y_val",
        )
    X_val = check_array(X_val, "X_val", accept_sparse=True)
    if X_val.shape[1] != n_features:
        raise InvalidParameterError(
            f"X_val has {X_val.shape[1]} features, but X has {n_features}; they must match",
            param="X_val",
        )
    _, codes = check_targets(y_val, X_val.shape[0], classes, name="y_val")
    weights = None if per_class is None else per_class[codes]
    return model_input(X_val, dtype), codes, weights


def step_sizes(params, X, rows, sample_weight, n_outputs, dtype, kept=None):
    """``(learning_rate_, step_scale_)``: the base step alpha0 of the schedule and the
    per-feature step scales (None: all ones; else C-contiguous of the weights' ``dtype``).

    An explicit ``learning_rate`` is used as it is (step_scale_ None, today's steps exactly).
    ``"auto"`` takes ``kept`` when given (a ``partial_fit`` chain or ``warm_start`` keeps its
    steps), else :func:`fastreg._training.step_size.auto_step` on the training ``rows``
    (``sample_weight`` the kernels' weights, mean 1 over them; ``n_outputs`` K, the rows of
    coef). A callable ``lr_schedule`` gives the rates f(t) as they are: no base step
    (learning_rate_ NaN), no scales.
    """
    if params["learning_rate"] != "auto":
        return params["learning_rate"], None
    if callable(params["lr_schedule"]):
        return math.nan, None
    if kept is not None:
        return kept
    try:
        learning_rate, step_scale = auto_step(
            X,
            rows,
            sample_weight,
            n_outputs,
            params["batch_size"],
            params["l2"],
            params["input_scale"],
            dtype=dtype,
        )
    except ValueError:
        refuse_non_finite(X, rows)  # X not finite: the input checks' error, not auto_step's
        raise
    return float(learning_rate), step_scale


def fit(
    kernels,
    params,
    X,
    codes,
    n_classes,
    coef,
    intercept,
    rng,
    *,
    weights,
    validation,
    step_size,
    desc,
    commit,
):
    """Train ``coef`` (K, d) / ``intercept`` (K,) in place for up to ``max_epochs`` epochs.

    Rows of zero ``weights`` are dropped. ``validation`` is ``(X_val, codes_val, w_val)`` or
    None; with ``early_stopping`` and no validation set, the stratified hold-out of
    ``validation_fraction`` of the remaining rows is drawn from ``rng`` and left out of
    training. ``step_size`` is the ``kept`` of :func:`step_sizes`. Returns the trainer's
    TrainResult, with ``learning_rate`` and ``step_scale`` set.
    """
    rows = positive_rows(weights, X.shape[0])
    refuse_unread_non_finite(X, rows)
    if validation is None and params["early_stopping"]:
        held, kept = stratified_holdout(codes[rows], n_classes, params["validation_fraction"], rng)
        val_rows, rows = rows[held], rows[kept]
        X_val = X[val_rows] if is_sparse(X) else np.ascontiguousarray(X[val_rows])
        w_val = None if weights is None else weights[val_rows]
        if w_val is not None and np.all(w_val == w_val[0]):
            w_val = None  # equal weights: the unweighted means, exactly
        validation = (X_val, codes[val_rows], w_val)
    return _run(
        kernels,
        params,
        X,
        codes,
        coef,
        intercept,
        rows,
        rng,
        weights,
        step_size,
        max_epochs=params["max_epochs"],
        step=0,
        validation=validation,
        history=new_history(),
        epoch_offset=0,
        early_stopping=params["early_stopping"],
        desc=desc,
        commit=commit,
    )


def partial_fit(
    kernels,
    params,
    X,
    codes,
    coef,
    intercept,
    rng,
    *,
    weights,
    step_size,
    step,
    history,
    epoch_offset,
    desc,
    commit,
):
    """One epoch over the rows of (X, codes) of positive ``weights``, continuing at gradient
    step ``step`` and appending to ``history``; no validation set, no early stopping."""
    rows = positive_rows(weights, X.shape[0])
    refuse_unread_non_finite(X, rows)
    return _run(
        kernels,
        params,
        X,
        codes,
        coef,
        intercept,
        rows,
        rng,
        weights,
        step_size,
        max_epochs=1,
        step=step,
        validation=None,
        history=history,
        epoch_offset=epoch_offset,
        early_stopping=False,
        desc=desc,
        commit=commit,
    )


def refuse_unread_non_finite(X, rows):
    """The finiteness check of the rows of weight 0, which no kernel reads (the trainer's
    kernels check the others: :func:`fastreg._training.divergence.refuse_non_finite`)."""
    if rows.shape[0] < X.shape[0]:
        unread = np.ones(X.shape[0], dtype=bool)
        unread[rows] = False
        refuse_non_finite(X, np.flatnonzero(unread))


def _run(
    kernels,
    p,
    X,
    codes,
    coef,
    intercept,
    rows,
    rng,
    weights,
    step_size,
    *,
    max_epochs,
    step,
    validation,
    history,
    epoch_offset,
    early_stopping,
    desc,
    commit,
):
    sample_weight = kernel_weights(weights, rows, coef.dtype)
    learning_rate, step_scale = step_sizes(
        p, X, rows, sample_weight, coef.shape[0], coef.dtype, step_size
    )
    steps = -(-rows.shape[0] // p["batch_size"])
    # a callable schedule ignores the base rate (learning_rate_ is NaN then)
    base = learning_rate if math.isfinite(learning_rate) else 1.0
    schedule = make_schedule(
        p["lr_schedule"],
        base,
        decay=p["lr_decay"],
        decay_steps=p["lr_decay_steps"] or steps,
        total_steps=p["max_epochs"] * steps,
    )
    scale = 1.0 if p["input_scale"] is None else p["input_scale"]
    progress = None
    if p["verbose"]:
        progress = EpochProgress(max_epochs, verbose=min(p["verbose"], 2), desc=desc)
    trainer = Trainer(
        kernels,
        batch_size=p["batch_size"],
        l2=p["l2"],
        schedule=schedule,
        validation_interval=p["validation_interval"],
        shuffle=p["shuffle"],
        early_stopping=early_stopping,
        patience=p["patience"],
        min_delta=p["min_delta"],
        input_scale=scale,
        n_threads=p["n_threads"],
        step_scale=step_scale,
        callback=None if progress is None else progress.epoch_end,
    )
    try:
        result = trainer.run(
            X,
            codes,
            coef,
            intercept,
            rows,
            rng,
            max_epochs=max_epochs,
            step=step,
            validation=validation,
            history=history,
            epoch_offset=epoch_offset,
            sample_weight=sample_weight,
        )
    except TrainingDivergedError as err:
        if progress is not None:
            progress.close(
                f"diverged in epoch {epoch_offset + err.result.epochs_run}; the model is unchanged"
            )
        raise
    except BaseException:
        if progress is not None:
            progress.close("stopped; the model is unchanged")
        raise
    if progress is not None:
        ended = epoch_offset + result.epochs_run
        if result.interrupted:
            note = (
                f"stopped as asked in epoch {ended}; kept the weights of epoch {result.best_epoch}"
            )
        elif result.stopped_early:
            note = f"early stop after epoch {ended}, best epoch {result.best_epoch}"
        else:
            note = None
        progress.close(note)
    result.learning_rate, result.step_scale = learning_rate, step_scale
    commit(result)
    return result
