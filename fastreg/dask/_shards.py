"""Shards: which row blocks each local model trains on, and on which worker they live.

A shard is a run of consecutive row blocks of X (and y): with B blocks and S shards, shard s
holds blocks ``B * s // S`` up to ``B * (s + 1) // S``. The cut depends on the chunks and S
only, never on the cluster, which is why the same seed and the same partitioning give the
same weights on one worker or many. Each shard is then placed on one worker: its blocks are
computed there (a zarr or .frd block is read by that worker from the store; a block already
in a worker's memory stays where it is, and the worker that holds most of the shard's bytes
is chosen), and its local epochs run there every round. Training data never passes through
the client.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Shard", "cut", "place"]


@dataclass
class Shard:
    """One local model's data: ``blocks`` (indices of X's row blocks), ``rows`` (their total),
    ``block_rows`` (their sizes), ``worker`` (the address its epochs run on, a loose
    restriction: the scheduler may move the task when that worker dies) and ``futures``
    (X0, y0, X1, y1, ...)."""

    index: int
    blocks: range
    block_rows: tuple
    rows: int
    worker: str | None = None
    futures: list | None = None

    def __repr__(self) -> str:
        b = self.blocks
        where = f"on {self.worker}"
        return f"Shard({self.index}, blocks {b.start}-{b.stop - 1}, {self.rows} rows, {where})"


def cut(row_chunks, n_shards):
    """Split the row blocks (their sizes ``row_chunks``) into ``n_shards`` runs of consecutive
    blocks; fewer when there are fewer blocks (no empty shard)."""
    n_blocks = len(row_chunks)
    n_shards = min(int(n_shards), n_blocks)
    shards = []
    for s in range(n_shards):
        blocks = range(n_blocks * s // n_shards, n_blocks * (s + 1) // n_shards)
        sizes = tuple(int(row_chunks[b]) for b in blocks)
        shards.append(Shard(s, blocks, sizes, sum(sizes)))
    return shards


def place(client, shards, X_blocks, y_blocks, workers):
    """Compute the blocks on the workers and give every shard a worker (futures and worker set
    on each shard): each worker at most ceil(shards / workers) of them, and within that the
    worker that holds most of the shard's rows.

    The blocks are computed where the scheduler puts them (a store's blocks are read by the
    worker that computes them; blocks already in memory stay where they are), with no
    restriction: a restricted block whose worker dies could not be recomputed elsewhere
    (distributed 2026.8 keeps it in "no-worker"). Dask places neighbouring root tasks on
    the same worker, so a shard's consecutive blocks mostly land together; the rest are
    copied to the shard's worker once, worker to worker, by its first round.
    """
    from distributed import wait

    futures = client.compute([x for pair in zip(X_blocks, y_blocks) for x in pair])
    with client.as_current():  # wait() asks the current client, which may not be the default
        wait(futures)  # pulls nothing to the client
    for future in futures:
        if future.status != "finished":  # a block that failed to compute raises its error
            raise future.exception()
    held = client.who_has(futures[0::2])
    rows_on = []
    for shard in shards:
        on = dict.fromkeys(workers, 0)
        for b, n in zip(shard.blocks, shard.block_rows):
            for w in held.get(futures[2 * b].key, ()):
                if w in on:
                    on[w] += n
        rows_on.append(on)
    # Every worker takes at most its share of the shards (else all the shards of data computed
    # on one worker would train there, one after another); within that, a shard goes where
    # most of its rows are, the shards most attached to one worker choosing first.
    cap = -(-len(shards) // len(workers))
    taken = dict.fromkeys(workers, 0)
    load = dict.fromkeys(workers, 0)
    for i in sorted(range(len(shards)), key=lambda i: (-max(rows_on[i].values()), i)):
        shard, on = shards[i], rows_on[i]
        free = [w for w in workers if taken[w] < cap]
        shard.worker = min(free, key=lambda w: (-on[w], load[w], workers.index(w)))
        taken[shard.worker] += 1
        load[shard.worker] += shard.rows
        shard.futures = [futures[j] for b in shard.blocks for j in (2 * b, 2 * b + 1)]
    return shards


def rows_weights(shards):
    """The averaging weights: each shard's share of the rows (float64, summing to 1)."""
    rows = np.array([s.rows for s in shards], dtype=np.float64)
    return rows / rows.sum()
