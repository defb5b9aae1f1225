"""Data-parallel training on a Dask cluster: every worker trains on the rows it holds.

What it shows: MNIST written once to a zarr store (``fastreg.datasets.write_zarr``), opened
as Dask arrays whose blocks the workers read themselves (``open_zarr(path).to_dask()``), and
``fastreg.dask.DataParallel`` training ``SoftmaxRegression`` on them: each of the two workers
runs the compiled epoch over its shard of the rows, and the weights are averaged (weighted
by rows) after every epoch. The last 6000 training images are the validation set: the
averaged weights are measured on the workers after every round and the best are kept.
``history_`` splits each round's time into the slowest shard's compute and the rest
(sending weights, scheduling, averaging).

The cluster is a ``distributed.LocalCluster`` of two single-threaded workers in this process
(``processes=False``): it starts in a second and needs no network. For a real cluster,
connect ``Client("tcp://scheduler-host:8786")`` and put the store where every worker reads it
(a shared file system, or ``open_zarr("s3://bucket/mnist.zarr")`` with s3fs installed).

Needs ``pip install "fastreg-sgd[dask]"`` (dask[array], distributed, dask-ml, zarr).

Run it::

    python examples/data_parallel.py

Expected output (full data; about 2 s of training with the Cython backend)::

    cluster: 2 in-process workers, 1 thread each
    X: dask array (54000, 784) uint8 in 6 blocks, read from mnist-train.zarr by the workers
    shards: 2 of 27000 rows
    epoch 1: validation accuracy 0.9158
    ...
    epoch 10: validation accuracy 0.9297
    kept epoch 9; per round 0.07 s, of which 0.04 s synchronising
    test accuracy 0.9191

``FASTREG_EXAMPLE_SMALL=1`` uses the first 6000 training images (blocks of 1000) for 3
epochs and the first 2000 test images (a few seconds; test accuracy about 0.84).
"""

import os
import tempfile

import numpy as np

SMALL = os.environ.get("FASTREG_EXAMPLE_SMALL", "") not in ("", "0")


def main():
    from distributed import Client, LocalCluster

    from fastreg import SoftmaxRegression
    from fastreg.dask import DataParallel
    from fastreg.datasets import flatten, load_mnist, open_zarr, write_zarr

    data = load_mnist()
    X, y = flatten(data.X_train), data.y_train
    X_test, y_test = flatten(data.X_test), data.y_test
    n_val, block, epochs = 6000, 9000, 10
    if SMALL:
        X, y, X_test, y_test = X[:6000], y[:6000], X_test[:2000], y_test[:2000]
        n_val, block, epochs = 1000, 1000, 3

    with (
        tempfile.TemporaryDirectory() as folder,
        LocalCluster(
            processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        print(f"cluster: {len(cluster.workers)} in-process workers, 1 thread each")
        train = write_zarr(
            os.path.join(folder, "mnist-train.zarr"), X[:-n_val], y[:-n_val], chunk_rows=block
        )
        val = write_zarr(os.path.join(folder, "mnist-val.zarr"), X[-n_val:], y[-n_val:])
        dX, dy = open_zarr(train).to_dask()  # the graph holds the path; workers read chunks
        dX_val, dy_val = open_zarr(val).to_dask()
        print(
            f"X: dask array {dX.shape} {dX.dtype} in {dX.numblocks[0]} blocks, "
            f"read from {os.path.basename(train)} by the workers"
        )

        model = DataParallel(
            SoftmaxRegression(input_scale=1 / 255, random_state=0, dtype=np.float32),
            max_epochs=epochs,
        )
        model.fit(dX, dy, classes=np.arange(10), X_val=dX_val, y_val=dy_val)
        rows = {s.rows for s in model.shards_}
        print(f"shards: {len(model.shards_)} of {'/'.join(map(str, sorted(rows)))} rows")
        h = model.history_
        for epoch, accuracy in zip(h["epoch"], h["val_accuracy"]):
            print(f"epoch {epoch}: validation accuracy {accuracy:.4f}")
        print(
            f"kept epoch {model.best_epoch_}; per round {np.median(h['round_seconds']):.2f} s, "
            f"of which {np.median(h['sync_seconds']):.2f} s synchronising"
        )
        print(f"test accuracy {model.score(X_test, y_test):.4f}")  # estimator_ in memory


if __name__ == "__main__":  # needed when the workers are processes: guard the script's body
    main()
