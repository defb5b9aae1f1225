"""Training on a Dask cluster: :class:`DataParallel`, every worker on the rows it holds.

``DataParallel(estimator, max_epochs=..., sync_every=...)`` wraps a fastreg estimator and
trains it on Dask arrays by iterative parameter mixing (local epochs on each worker's shards,
weights averaged by rows at every synchronisation). Needs the ``dask`` extra.

``_data_parallel`` the meta-estimator: rounds, averaging, validation, early stopping
``_shards``        the cut of the row blocks into shards, and their placement on workers
``_local``         what runs on a worker: a shard's local epochs, a block's metrics
``_faults``        a round's results, or one error naming the failed shard
``_dask_input``    the Dask arrays accepted, and blockwise prediction
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names

if TYPE_CHECKING:
    from ._data_parallel import DataParallel

__all__ = ["DataParallel"]

__getattr__, __dir__ = lazy_names(globals(), {"DataParallel": "._data_parallel"}, __all__)
