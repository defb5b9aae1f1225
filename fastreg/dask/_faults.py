"""A round's results, or one clear error: never an average of fewer shards than there are.

The scheduler already reruns a task whose worker died (on another worker, recomputing lost
blocks from the store they were read from) up to ``distributed.scheduler.allowed-failures``
times; the functions of :mod:`fastreg.dask._local` are pure, so a rerun gives the same
bits. What is left to say here is which shard failed and why, once every task has ended.
"""

from __future__ import annotations

__all__ = ["gather_round"]


def gather_round(client, futures, shards, what):
    """The results of ``futures`` (one per shard, in order), or the first failure raised
    with the shard, its worker and the round named; the other tasks are cancelled."""
    from distributed import wait

    with client.as_current():  # wait() asks the current client, which may not be the default
        wait(futures)
    for future, shard in zip(futures, shards):
        if future.status == "finished":
            continue
        try:
            exc = future.exception()
        except Exception as lost:  # noqa: BLE001  cancelled: the client or scheduler went away
            exc = lost
        client.cancel(futures)
        where = (
            f"shard {shard.index} (row blocks {shard.blocks.start}-{shard.blocks.stop - 1}, "
            f"{shard.rows} rows, placed on {shard.worker}) failed in {what}; nothing was "
            "averaged and the model is unchanged"
        )
        if exc is None:
            raise RuntimeError(f"{where}: its task was {future.status}")
        if type(exc).__name__ == "KilledWorker":
            raise RuntimeError(
                f"{where}: {_allowed_failures() + 1} workers died running it, more than "
                "distributed.scheduler.allowed-failures allows; look at the workers' logs "
                f"(memory limit, crash), then fit again ({exc})"
            ) from exc
        exc.add_note(where)
        raise exc
    return client.gather(futures)


def _allowed_failures():
    import dask

    return dask.config.get("distributed.scheduler.allowed-failures")
