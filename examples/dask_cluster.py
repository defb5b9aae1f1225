"""Training on a Dask cluster: dask-ml's ``Incremental`` feeds Dask blocks to ``partial_fit``.

What it shows: ``dask_ml.wrappers.Incremental`` around ``fastreg.SoftmaxRegression``. Each
``Incremental.partial_fit`` call is one pass over the row blocks of a Dask array, one block
after another on the workers; each block is one fastreg ``partial_fit`` call (one epoch over
the block), continuing from the weights, the step count and the shuffling generator of the
previous one. ``classes`` is passed to every call. ``clf.score`` predicts blockwise on the
workers; the fitted model is ``clf.estimator_``, a plain ``SoftmaxRegression``.

The cluster here is a ``distributed.LocalCluster`` with ``processes=False``: the scheduler and
two single-threaded workers run in this process, so the example starts in a second and needs no
network. For a real cluster, connect a ``Client("tcp://scheduler-host:8786")`` instead (or a
``LocalCluster`` with processes, then the estimator is pickled from worker to worker with its
state); nothing else changes. Data that does not fit in the client's memory: write it once to a
dataset file (``examples/out_of_core.py``) readable by every worker, and build the arrays with
``X, y = open_dataset(path).to_dask(chunk_rows=10_000)``: then the workers map their own blocks.

Needs ``pip install "fastreg-sgd[dask]"`` (dask[array], distributed, dask-ml).

Run it::

    python examples/dask_cluster.py

Expected output (full data; about 2 s of training with the Cython backend, besides a warning
from distributed that the graph is large: that is the 45 MiB of pixels sent to the workers once)::

    cluster: 2 in-process workers, 1 thread each
    X: dask array (60000, 784) uint8 in 6 blocks
    pass 1: 6 blocks, estimator_.n_iter_ 6
    pass 2: 6 blocks, estimator_.n_iter_ 12
    pass 3: 6 blocks, estimator_.n_iter_ 18
    pass 4: 6 blocks, estimator_.n_iter_ 24
    pass 5: 6 blocks, estimator_.n_iter_ 30
    test accuracy 0.9213

``FASTREG_EXAMPLE_SMALL=1`` uses the first 6000 training images in blocks of 1000 for 2 passes
and the first 2000 test images (a few seconds, most of them spent importing dask-ml; test
accuracy about 0.84).
"""

import os

import numpy as np

SMALL = os.environ.get("FASTREG_EXAMPLE_SMALL", "") not in ("", "0")


def main():
    import dask.array as da
    from dask_ml.wrappers import Incremental
    from distributed import Client, LocalCluster

    from fastreg import SoftmaxRegression
    from fastreg.datasets import flatten, load_mnist

    data = load_mnist()
    X_train, y_train = flatten(data.X_train), data.y_train
    X_test, y_test = flatten(data.X_test), data.y_test
    passes, block = 5, 10_000
    if SMALL:
        X_train, y_train = X_train[:6000], y_train[:6000]
        X_test, y_test = X_test[:2000], y_test[:2000]
        passes, block = 2, 1_000

    with (
        LocalCluster(
            processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"cluster: {len(cluster.workers)} in-process workers, 1 thread each")
        X = da.from_array(X_train, chunks=(block, X_train.shape[1]))
        y = da.from_array(y_train, chunks=block)
        X, y = client.persist([X, y])  # the uint8 blocks sent once, kept on the workers
        print(f"X: dask array {X.shape} {X.dtype} in {X.numblocks[0]} blocks")

        clf = Incremental(
            SoftmaxRegression(input_scale=1 / 255, random_state=0),
            scoring="accuracy",
            shuffle_blocks=True,
            random_state=0,
        )
        for i in range(passes):  # each call: one pass over the blocks, one epoch per block
            clf.partial_fit(X, y, classes=np.arange(10))
            print(
                f"pass {i + 1}: {X.numblocks[0]} blocks, "
                f"estimator_.n_iter_ {clf.estimator_.n_iter_}"
            )

        X_test = da.from_array(X_test, chunks=(block, X_test.shape[1]))
        y_test = da.from_array(y_test, chunks=block)
        print(f"test accuracy {clf.score(X_test, y_test):.4f}")  # predicted on the workers


if __name__ == "__main__":  # needed when the workers are processes: guard the script's body
    main()
