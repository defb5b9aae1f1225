"""``DataParallel``: every Dask worker trains on the rows it holds; the weights are averaged.

Iterative parameter mixing (McDonald et al. 2010; Zinkevich et al. 2010, "Parallelized
stochastic gradient descent"). X's row blocks are cut into S shards of consecutive blocks
(:mod:`fastreg.dask._shards`), each kept on one worker. A round starts every shard's local
model from the same averaged state (W, b, step count t, step sizes) and runs ``sync_every``
local epochs on its worker (:func:`fastreg.dask._local.local_epochs`: fastreg's own epoch
kernel, one ``partial_fit`` per block); then the client averages, weighted by the shards'
rows n_s,

    W <- sum_s n_s W_s / sum_s n_s,   b <- sum_s n_s b_s / sum_s n_s,   t <- the same mean,

and sends W back with the next round. For a convex loss such as the cross-entropy the
average of SGD runs converges (Zinkevich et al., Theorem 1). Only weights (K x d numbers)
travel between the client and the workers; the data stays where it was computed.

With a validation set the averaged weights are measured after every round on the workers
(loss without the L2 term, as ``fit``), the best are kept, and training stops after
``patience`` rounds without an improvement of ``min_delta`` (both the wrapped estimator's).

Determinism: shard s of round r shuffles from the seed (root, r, s), root from the wrapped
estimator's ``random_state``; the cut into shards depends on the chunks and ``n_shards``
only, and the average is summed in shard order. So the same seed, chunks and ``n_shards``
give the same bits on any cluster, with any worker placement or failure and retry.
"""

from __future__ import annotations

import math
import time
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np

from .._estimator_base import BASES, NotFittedError
from .._validation import check_params
from ..exceptions import InvalidParameterError
from . import _local, _shards
from ._dask_input import as_dask_pair, blockwise, classes_of, refuse_non_dask_inputs
from ._faults import gather_round

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from typing_extensions import Self

    from ..linear_model import LogisticRegression, SoftmaxRegression

__all__ = ["DataParallel"]

HISTORY_KEYS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "round_seconds",
    "compute_seconds",
    "sync_seconds",
)


class DataParallel(*BASES):  # type: ignore[misc]  # scikit-learn's bases, chosen at import
    """Train a fastreg estimator with every Dask worker running epochs on its own rows.

    Parameters
    ----------
    estimator : an unfitted :class:`fastreg.LogisticRegression` or
        :class:`fastreg.SoftmaxRegression`; its parameters (batch size, step sizes, schedule,
        ``l2``, ``dtype``, ``input_scale``, ``backend``, ``n_threads`` per worker,
        ``random_state``, ``patience``, ``min_delta``, ``early_stopping``) apply on every worker;
        its ``max_epochs`` and ``validation_fraction`` do not (the validation set is passed
        to :meth:`fit`, never cut from the Dask arrays).
    max_epochs : int >= 1, passes over the data (each shard passes over its rows once an
        epoch).
    sync_every : int >= 1, local epochs between two averagings.
    n_shards : int >= 1 or None, local models (each on one worker); None: one per worker of
        the client at ``fit``. Give it to make results independent of the cluster's size.
    client : a ``distributed.Client`` or None (the current client, ``distributed.get_client``).

    Attributes
    ----------
    estimator_ : the trained estimator (plain fastreg; save it, pickle it, predict in memory)
    coef_, intercept_, classes_, n_features_in_ : those of ``estimator_``
    n_iter_ : epochs run; best_epoch_ : the epoch of the kept weights
    history_ : per round: epoch, train loss and accuracy (the shards' last local epoch, row
        weighted), validation loss and accuracy (NaN without a validation set), and the
        round's wall time split into the slowest shard's compute and the rest
        (``sync_seconds``: sending weights, scheduling, averaging; in the first round also
        waiting for the step sizes read from block 0).
    shards_ : the shards (blocks, rows, worker) of the last fit
    """

    def __init__(
        self,
        estimator: LogisticRegression | SoftmaxRegression,
        *,
        max_epochs: int = 10,
        sync_every: int = 1,
        n_shards: int | None = None,
        client: Any = None,
    ) -> None:
        self.estimator = estimator
        self.max_epochs = max_epochs
        self.sync_every = sync_every
        self.n_shards = n_shards
        self.client = client

    # ------------------------------------------------------------------ training
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        classes: ArrayLike | None = None,
        X_val: Any = None,
        y_val: Any = None,
    ) -> Self:
        """Train on the Dask arrays (X, y); return self.

        Parameters
        ----------
        X : (n, d) Dask array of uint8, float32 or float64 (rows in blocks, one block of
            columns), for instance ``open_zarr(path).to_dask()[0]``, a persisted array, or a
            zarr array (``open_zarr(path).X``).
        y : (n,) Dask (or zarr) array of labels.
        classes : all labels; None reads them from y on the workers.
        X_val, y_val : an optional held-out set (Dask arrays) for early stopping.

        Transactional: on any error (bad data in one block, a worker lost beyond the
        scheduler's retries) it raises and the fitted attributes stay as they were; no round
        is ever averaged without all of its shards.
        """
        client = self._client()
        estimator = self._template()
        max_epochs, sync_every = self._positive("max_epochs"), self._positive("sync_every")
        X, y = as_dask_pair(X, y, "X", "y")
        validation = None
        if X_val is not None or y_val is not None:
            if X_val is None or y_val is None:
                raise InvalidParameterError(
                    "pass both X_val and y_val for a validation set, or neither", param="X_val"
                )
            validation = as_dask_pair(X_val, y_val, "X_val", "y_val", n_features=X.shape[1])
        classes = classes_of(client, y, classes)
        # nthreads() asks the scheduler; scheduler_info() can return a cached copy without
        # the workers (distributed 2026.8 refreshes it from another thread)
        workers = sorted(client.nthreads())
        if not workers:
            raise RuntimeError("the Dask client has no workers; start some, then fit again")
        n_shards = len(workers) if self.n_shards is None else self._positive("n_shards")
        shards = _shards.cut(X.chunks[0], n_shards)
        _shards.place(client, shards, X.to_delayed().ravel(), y.to_delayed().ravel(), workers)
        val_blocks = _place_validation(client, validation, workers)

        first = shards[0]
        state = client.submit(
            _local.first_state,
            estimator,
            first.futures[0],
            first.futures[1],
            classes,
            workers=[first.worker],
            allow_other_workers=True,
            pure=False,
        )
        # not gathered: round 1's tasks take the future itself (a failure in block 0 then
        # fails them, reported as shard 0's), saving a round trip through the client
        root = _root_seed(estimator.get_params()["random_state"])
        weights = _shards.rows_weights(shards)
        watch = validation is not None and estimator.get_params()["early_stopping"]
        patience = estimator.get_params()["patience"]
        min_delta = estimator.get_params()["min_delta"]
        history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}
        best = dict(loss=math.inf, state=state, epoch=0)
        since, epoch, r = 0, 0, 0
        while epoch < max_epochs:
            epochs = min(sync_every, max_epochs - epoch)
            t0 = time.perf_counter()
            futures = [
                client.submit(
                    _local.local_epochs,
                    estimator,
                    state,
                    epoch,
                    epochs,
                    [root, r, shard.index],
                    *shard.futures,
                    workers=[shard.worker],
                    allow_other_workers=True,
                    pure=False,
                )
                for shard in shards
            ]
            results = gather_round(client, futures, shards, f"epochs {epoch + 1}-{epoch + epochs}")
            state = _average([res[0] for res in results], weights)
            t1 = time.perf_counter()
            epoch += epochs
            r += 1
            compute = max(res[4] for res in results)
            history["epoch"].append(epoch)
            history["train_loss"].append(float(np.dot(weights, [res[2] for res in results])))
            history["train_accuracy"].append(float(np.dot(weights, [res[3] for res in results])))
            history["round_seconds"].append(t1 - t0)
            history["compute_seconds"].append(compute)
            history["sync_seconds"].append(max(0.0, t1 - t0 - compute))
            val_loss = val_accuracy = math.nan
            if val_blocks:
                val_loss, val_accuracy = _validate(client, estimator, state, val_blocks)
            history["val_loss"].append(val_loss)
            history["val_accuracy"].append(val_accuracy)
            if not watch:
                best = dict(loss=val_loss, state=state, epoch=epoch)
                continue
            if val_loss < best["loss"] - min_delta:
                best, since = dict(loss=val_loss, state=state, epoch=epoch), 0
            else:
                since += 1
                if since >= patience:
                    break
        self._commit(estimator, best, epoch, history, shards)
        return self

    def _commit(self, estimator, best, epochs_run, history, shards):
        """Adopt a finished fit: every fitted attribute in one update. The shards keep no
        futures: the blocks computed for training are released on the workers, and the
        fitted model pickles without a client."""
        for shard in shards:
            shard.futures = None
        model = _local.local_model(estimator, best["state"], epochs_run)
        model.best_epoch_ = best["epoch"]
        model.history_["epoch"] = list(history["epoch"])
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            model.history_[key] = list(history[key])
        vars(self).update(
            estimator_=model,
            coef_=model.coef_,
            intercept_=model.intercept_,
            classes_=model.classes_,
            n_features_in_=model.n_features_in_,
            n_iter_=epochs_run,
            best_epoch_=best["epoch"],
            history_=history,
            shards_=shards,
        )

    # ------------------------------------------------------------------ prediction
    def predict(self, X: Any) -> Any:
        """Labels of X's rows: a Dask array computed blockwise on the workers (NumPy in,
        NumPy out)."""
        return blockwise(self._fitted(), "predict", X)

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities of X's rows (n, n_classes), blockwise on Dask arrays."""
        return blockwise(self._fitted(), "predict_proba", X)

    def decision_function(self, X: Any) -> Any:
        """The logits z (n,) for one sigmoid row, else (n, K), blockwise on Dask arrays."""
        return blockwise(self._fitted(), "decision_function", X)

    def score(self, X: Any, y: Any, sample_weight: ArrayLike | None = None) -> float:
        """Mean accuracy on (X, y), computed on the workers for Dask arrays (a float)."""
        model = self._fitted()
        if not hasattr(X, "dask"):
            return model.score(X, y, sample_weight)
        if sample_weight is not None:
            raise InvalidParameterError(
                "sample_weight is not supported for Dask arrays", param="sample_weight"
            )
        refuse_non_dask_inputs(y, "y")
        right = blockwise(model, "predict", X) == y
        return float(right.mean().compute())

    # ------------------------------------------------------------------ checks
    def _fitted(self):
        if not hasattr(self, "estimator_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call fit first"
            )
        return self.estimator_

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "estimator_")

    def _client(self):
        if self.client is not None:
            return self.client
        from distributed import get_client

        try:
            return get_client()
        except ValueError as exc:
            raise RuntimeError(
                "DataParallel needs a Dask cluster: create a distributed.Client (for "
                "instance Client(LocalCluster()) or Client('tcp://scheduler:8786')) or pass "
                "client=..."
            ) from exc

    def _template(self):
        from ..linear_model import LogisticRegression, SoftmaxRegression

        est = self.estimator
        if not isinstance(est, (LogisticRegression, SoftmaxRegression)):
            raise InvalidParameterError(
                f"estimator must be a fastreg LogisticRegression or SoftmaxRegression, got "
                f"{type(est).__name__}",
                param="estimator",
            )
        check_params(est.get_params(deep=False))  # bad settings refused here, not on a worker
        if est.get_params()["class_weight"] == "balanced":
            raise InvalidParameterError(
                "class_weight 'balanced' is not supported: the shards do not know the class "
                "frequencies of the whole data",
                param="class_weight",
                hint="pass the weights as a dict, e.g. n / (n_classes * counts)",
            )
        if est.get_params()["warm_start"]:
            raise InvalidParameterError(
                "warm_start is not supported by DataParallel", param="warm_start"
            )
        from sklearn.base import clone

        return clone(est)

    def _positive(self, name):
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise InvalidParameterError(
                f"{name} must be an integer >= 1, got {value!r}", param=name
            )
        return int(value)


def _average(states, weights):
    """The rows-weighted mean of the shards' states, summed in shard order (float64, then
    the weights' dtype); the step count rounded to the nearest integer."""
    out = dict(states[0])
    for key in ("coef_", "intercept_"):
        acc = np.zeros(states[0][key].shape, dtype=np.float64)
        for w, s in zip(weights, states):
            acc += w * s[key]
        out[key] = acc.astype(states[0][key].dtype)
    out["t_"] = round(float(np.dot(weights, [s["t_"] for s in states])))
    return out


def _root_seed(random_state):
    """The root of every round's seeds: an int ``random_state`` itself, a Generator's or
    RandomState's next draw, or fresh entropy for None."""
    if isinstance(random_state, Integral):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63 - 1))
    return int(np.random.SeedSequence(random_state).generate_state(1, np.uint64)[0])


def _place_validation(client, validation, workers):
    """The validation blocks computed on the workers in turn: a list of (X, y) futures."""
    if validation is None:
        return []
    X, y = validation
    X_blocks, y_blocks = X.to_delayed().ravel(), y.to_delayed().ravel()
    return [
        client.compute([X_blocks[i], y_blocks[i]], workers=[workers[i % len(workers)]])
        for i in range(len(X_blocks))
    ]


def _validate(client, estimator, state, val_blocks):
    """Validation loss and accuracy of ``state``, each block measured where it lives."""
    futures = [
        client.submit(_local.block_metrics, estimator, state, Xf, yf, pure=False)
        for Xf, yf in val_blocks
    ]
    parts = np.array(client.gather(futures), dtype=np.float64)
    loss, right, rows = parts.sum(axis=0)
    return float(loss / rows), float(right / rows)
