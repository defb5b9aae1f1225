"""What runs on a Dask worker: a shard's local epochs, and the metrics of one block.

A *state* is the plain-data part of a fitted fastreg estimator that training moves between
the client and the workers: ``coef_`` (K, d), ``intercept_`` (K,), ``classes_``, the step
count ``t_`` and the step sizes (``learning_rate_``, ``step_scale_``). :func:`local_model`
turns (estimator, state) into a fitted estimator that ``partial_fit`` continues: every worker
then takes the same steps of the same size from the same weights, and the one epoch kernel
of :mod:`fastreg._training` does the work (compiled or NumPy, as the estimator's
``backend`` says). Nothing here touches Dask; the functions are pure given their arguments,
which is what lets the scheduler rerun them on another worker after a failure.
"""

from __future__ import annotations

import copy
import time

import numpy as np

from .._kernels import get_backend
from .._sample_weight import (
    check_sample_weight,
    class_weights,
    kernel_weights,
    positive_rows,
    row_weights,
)
from .._targets import check_targets
from .._training.evaluator import Evaluator
from .._training.fit import explicit_validation, step_sizes, weights_dtype
from .._training.trainer import new_history
from .._validation import check_array, check_params

__all__ = ["block_metrics", "first_state", "local_epochs", "local_model", "state_of"]

#: the attributes of a fitted estimator that a state carries
STATE_KEYS = ("coef_", "intercept_", "classes_", "t_", "learning_rate_", "step_scale_")


def state_of(model):
    """The state (a dict of :data:`STATE_KEYS`) of a fitted fastreg estimator."""
    return {key: getattr(model, key) for key in STATE_KEYS}


def local_model(estimator, state, epochs_done=0, seed=None):
    """A fitted copy of ``estimator`` (unfitted template) at ``state``: ``partial_fit`` on it
    continues from those weights, step count and step sizes, shuffling from ``seed``."""
    model = copy.deepcopy(estimator)
    coef = np.array(state["coef_"], order="C")
    backend = get_backend(estimator.get_params()["backend"]).name
    vars(model).update(
        coef_=coef,
        intercept_=np.array(state["intercept_"], dtype=coef.dtype),
        classes_=np.asarray(state["classes_"]),
        n_features_in_=coef.shape[1],
        n_iter_=int(epochs_done),
        best_epoch_=int(epochs_done),
        t_=int(state["t_"]),
        history_=new_history(),
        learning_rate_=float(state["learning_rate_"]),
        step_scale_=state["step_scale_"],
        backend_=backend,
        _rng=np.random.default_rng(seed),
    )
    return model


def first_state(estimator, X, y, classes):
    """The state training starts from: zero weights, no steps, and the step sizes that the
    first ``partial_fit`` call of ``estimator`` would read from (X, y) (``learning_rate=
    "auto"``: from this block, as a partial_fit chain takes them from its first chunk),
    computed as that call computes them, without its epoch."""
    p = check_params(estimator.get_params(deep=False))
    X = check_array(X, "X", dtype=p["dtype"], accept_sparse=True, finite=False)
    classes = np.asarray(classes)
    n = X.shape[0]
    _, codes = check_targets(y, n, classes)
    weights = row_weights(
        check_sample_weight(None, n), class_weights(p["class_weight"], classes, codes), codes
    )
    dtype = weights_dtype(p["dtype"], X)
    k = type(estimator)._weight_rows(len(classes))
    rows = positive_rows(weights, n)
    learning_rate, step_scale = step_sizes(
        p, X, rows, kernel_weights(weights, rows, dtype), k, dtype
    )
    return {
        "coef_": np.zeros((k, X.shape[1]), dtype=dtype),
        "intercept_": np.zeros(k, dtype=dtype),
        "classes_": classes,
        "t_": 0,
        "learning_rate_": float(learning_rate),
        "step_scale_": step_scale,
    }


def local_epochs(estimator, state, epochs_done, epochs, seed, *blocks):
    """``epochs`` passes over one shard's blocks from ``state``; return the new state and what
    the passes measured.

    ``blocks`` alternate X, y (the shard's row blocks, in order). Each pass visits them in an
    order drawn from ``seed`` and makes one ``partial_fit`` epoch over each (whose rows it
    shuffles from the same generator), so the result depends on the state, the blocks and the
    seed only. Returns ``(state, rows, train_loss, train_accuracy)``: the rows of one pass
    and the row-weighted means of the last pass's per-block training metrics.
    """
    start = time.perf_counter()
    model = local_model(estimator, state, epochs_done, seed)
    rng = model._rng
    pairs = list(zip(blocks[0::2], blocks[1::2]))
    rows = sum(len(y) for _, y in pairs)
    for _ in range(epochs):
        loss = right = 0.0
        for i in rng.permutation(len(pairs)):
            X, y = pairs[i]
            model.partial_fit(X, y)
            loss += model.history_["train_loss"][-1] * len(y)
            right += model.history_["train_accuracy"][-1] * len(y)
    seconds = time.perf_counter() - start
    return state_of(model), rows, loss / rows, right / rows, seconds


def block_metrics(estimator, state, X, y):
    """``(loss_sum, right, rows)`` of the model at ``state`` on one block: the summed
    cross-entropy (no L2 term, as the validation loss of ``fit``), the rows classified
    correctly, and the rows. Computed by the trainer's own :class:`Evaluator`."""
    model = local_model(estimator, state)
    coef = model.coef_
    # the checks and conversion of fit's own X_val (features, labels among classes_, dtype)
    validation = explicit_validation(X, y, coef.shape[1], model.classes_, coef.dtype)
    scale = model.get_params()["input_scale"]
    evaluate = Evaluator(
        get_backend(model.backend_), validation[:2], coef, 1.0 if scale is None else scale
    )
    loss, accuracy = evaluate(coef, model.intercept_)
    n = validation[0].shape[0]
    return loss * n, accuracy * n, n
