"""One epoch of ``fastreg.dask.DataParallel`` beside one pass of dask-ml's ``Incremental``.

    pytest benchmarks/bench_data_parallel.py                      # timed rounds
    pytest benchmarks/bench_data_parallel.py --benchmark-disable  # each once: a smoke test (CI)

A two-process ``LocalCluster`` on 127.0.0.1 (one thread per worker, no dashboard) and the first
20000 MNIST training images as uint8 Dask arrays of 4 blocks, computed and persisted on the
workers, are shared by the module. Both tests fit
``SoftmaxRegression(input_scale=1/255, random_state=0, dtype="float32")`` on the same blocks:
``DataParallel(max_epochs=1)`` and ``Incremental(shuffle_blocks=True, random_state=0)``; they
share a ``benchmark.group``, so one run gives the ratio. Before each Incremental round the
scheduler must have released the previous round's tasks: dask-ml gives every round the same
task names, and would otherwise reuse results still held (a 6x too fast round). The
assertions are about correctness only (a fitted model, test accuracy well above chance); the
figures to quote come from ``benchmarks/data_parallel.py`` on 2 million rows
(docs/guide/cluster_scaling.md).
"""

import importlib.util
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
if importlib.util.find_spec("dask_ml") is None:  # imported later, beside the workers' imports
    pytest.skip("dask-ml is not installed (the dask extra)", allow_module_level=True)

from fastreg import SoftmaxRegression  # noqa: E402
from fastreg.dask import DataParallel  # noqa: E402

pytestmark = pytest.mark.real_data

ROWS, BLOCK_ROWS = 20_000, 5_000
CLASSES = np.arange(10)


@pytest.fixture(scope="module")
def mnist_test():
    from fastreg.datasets import flatten, load_mnist

    data = load_mnist(download=False)
    return flatten(data.X_test), np.asarray(data.y_test)


@pytest.fixture(scope="module")
def cluster():
    """The client, (X, y) and dask-ml's ``Incremental``: 4 blocks of 5000 rows made and
    persisted on the two workers.

    The blocks are read on the workers from a delayed ``load_mnist`` call through built-in
    operations only, so the workers need not import this module. Imports are most of this
    module's time on a 2-CPU machine (dask-ml with scikit-learn: seconds per process), so the
    workers start importing dask-ml while the client imports it and builds the data."""
    from dask.delayed import delayed

    from fastreg.datasets import load_mnist

    with (
        distributed.LocalCluster(
            host="127.0.0.1",
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as lc,
        distributed.Client(lc) as client,
    ):
        client.wait_for_workers(2)
        warm = [
            client.submit(exec, "import dask_ml.wrappers", workers=[w], pure=False)
            for w in client.nthreads()
        ]
        from dask_ml.wrappers import Incremental

        data = delayed(load_mnist)(download=False)
        X_blocks, y_blocks = [], []
        for start in range(0, ROWS, BLOCK_ROWS):
            rows = slice(start, start + BLOCK_ROWS)
            X_b = data.X_train[rows].reshape(BLOCK_ROWS, 784)
            X_blocks.append(da.from_delayed(X_b, shape=(BLOCK_ROWS, 784), dtype=np.uint8))
            y_blocks.append(da.from_delayed(data.y_train[rows], (BLOCK_ROWS,), np.uint8))
        X, y = client.persist([da.concatenate(X_blocks), da.concatenate(y_blocks)])
        distributed.wait([X, y, *warm])
        del warm
        yield client, X, y, Incremental


def _estimator():
    return SoftmaxRegression(input_scale=1 / 255, random_state=0, dtype="float32")


def _check(model, mnist_test):
    X_test, y_test = mnist_test
    assert model.coef_.shape == (10, 784) and np.isfinite(model.coef_).all()
    assert model.score(X_test, y_test) > 0.8  # one epoch on 20000 rows: about 0.88-0.90


def test_data_parallel_one_epoch(benchmark, cluster, mnist_test):
    client, X, y, _ = cluster
    benchmark.group = "dask-one-epoch"

    def fit():
        return DataParallel(_estimator(), max_epochs=1, client=client).fit(X, y, classes=CLASSES)

    model = benchmark.pedantic(fit, rounds=3, iterations=1, warmup_rounds=1)
    assert model.n_iter_ == 1 and len(model.shards_) == 2
    assert all(s >= 0 for s in model.history_["sync_seconds"])
    benchmark.extra_info["compute_seconds"] = model.history_["compute_seconds"][0]
    benchmark.extra_info["sync_seconds"] = model.history_["sync_seconds"][0]
    _check(model, mnist_test)


def _released(client, prefix="fit-", timeout=10.0):
    """Wait until the scheduler holds no task of a previous ``Incremental.fit``.

    dask-ml names the tasks of a fit from a token of (estimator, X, y, kwargs, block order):
    the same for every round here. Results the scheduler has not yet released (the client
    releases them asynchronously once ``fit`` returns) would be reused by the next round,
    which then takes about 10 ms instead of 60 (measured here, rounds run back to back)."""
    deadline = time.monotonic() + timeout
    while client.run_on_scheduler(
        lambda dask_scheduler: any(prefix in str(key) for key in dask_scheduler.tasks)
    ):
        if time.monotonic() > deadline:
            raise TimeoutError("the previous Incremental.fit's tasks were never released")
        time.sleep(0.01)


def test_incremental_one_pass(benchmark, cluster, mnist_test):
    client, X, y, Incremental = cluster
    benchmark.group = "dask-one-epoch"

    def fit():
        model = Incremental(_estimator(), shuffle_blocks=True, random_state=0)
        return model.fit(X, y, classes=CLASSES)

    model = benchmark.pedantic(
        fit, setup=lambda: _released(client), rounds=3, iterations=1, warmup_rounds=1
    )
    _check(model.estimator_, mnist_test)
