"""Training on a Dask cluster through dask-ml's ``Incremental`` wrapper, on the real MNIST digits.

What dask-ml does (dask_ml/wrappers.py and dask_ml/_partial.py, 2025.1):

* ``Incremental.fit(X, y, **kw)`` clones the wrapped estimator (``sklearn.base.clone``) and
  builds one task per row block of X: task i calls ``estimator.partial_fit(X_block, y_block,
  **kw)`` on the estimator returned by task i - 1. The chain runs on the workers, one block
  after another; when task i runs on another worker than task i - 1 the estimator is pickled
  and sent there. The last task's estimator comes back as ``estimator_`` and its learned
  attributes (``coef_``, ``n_iter_``, ...) are copied onto the wrapper. So ``fit`` is ONE pass
  over the blocks; ``kw`` (here ``classes``) goes to every ``partial_fit`` call.
* ``Incremental.partial_fit`` does the same starting from the current ``estimator_``, so
  several passes are several ``partial_fit`` calls.
* ``shuffle_blocks=True`` visits the blocks in an order drawn with
  ``sklearn.utils.check_random_state(random_state)``: an int gives the same order on every
  call; the rows inside a block are shuffled every epoch by fastreg's own generator.
* ``predict``/``score`` on a Dask array run blockwise on the workers (the fitted estimator is
  pickled into the graph); ``scoring="accuracy"`` keeps the score lazy instead of pulling the
  test set into one array.

Each fastreg ``partial_fit`` call is one epoch over its block, continuing the step count, the
weights and the shuffling generator; that state must survive pickling between worker
processes, which test_weights_equal_an_in_memory_partial_fit_loop checks bit for bit.

The cluster is the session's two worker processes bound to 127.0.0.1 (no dashboard). The six
training blocks of 10000 rows are placed on the two workers in turn, so the chain must hop
between processes.
"""

import math
import pickle
from urllib.parse import urlsplit

import numpy as np
import pytest

# Guards for local runs without the extra only: CI installs ".[test]", which holds dask, and
# fails on any skipped test.
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
Incremental = pytest.importorskip("dask_ml.wrappers").Incremental
from sklearn.base import clone  # noqa: E402  (scikit-learn comes with dask-ml)

from fastreg import SoftmaxRegression  # noqa: E402

pytestmark = pytest.mark.real_data

HOST = "127.0.0.1"
BLOCK_ROWS = 10_000
BATCH = 32  # SoftmaxRegression's default batch_size: t_ grows by ceil(rows / 32) per block
CLASSES = np.arange(10)
PASSES = 5


def _host(address):
    return urlsplit(address).hostname


@pytest.fixture(scope="module")
def client(cluster2):
    """The session's two worker processes (tests/cluster/conftest.py), checked to listen on the
    loopback interface only."""
    assert _host(cluster2.scheduler.address) == HOST
    workers = cluster2.nthreads()  # from the scheduler (scheduler_info() may be a cached copy)
    assert len(workers) == 2
    for address in workers:
        assert _host(address) == HOST
    return cluster2


@pytest.fixture(scope="module")
def data(mnist, client):
    """MNIST as flat uint8 (no float copy), and the training set as Dask arrays of 6 blocks.

    Block i is scattered to worker i % 2 and stays in its memory: the data travels once, one
    block per message, and no task graph carries it.
    """
    X = np.ascontiguousarray(mnist.X_train.reshape(len(mnist.X_train), -1))
    y = np.asarray(mnist.y_train)
    X_test = np.ascontiguousarray(mnist.X_test.reshape(len(mnist.X_test), -1))
    y_test = np.asarray(mnist.y_test)
    assert X.dtype == np.uint8 and X.shape == (60_000, 784)
    workers = sorted(client.scheduler_info()["workers"])
    blocks = [(X[i : i + BLOCK_ROWS], y[i : i + BLOCK_ROWS]) for i in range(0, len(X), BLOCK_ROWS)]
    futures, X_parts, y_parts = [], [], []
    for i, (X_block, y_block) in enumerate(blocks):
        where = workers[i % len(workers)]
        X_future, y_future = client.scatter([X_block, y_block], workers=[where])
        futures.append((where, X_future, y_future))
        X_parts.append(da.from_delayed(X_future, X_block.shape, dtype=X.dtype))
        y_parts.append(da.from_delayed(y_future, y_block.shape, dtype=y.dtype))
    held = client.who_has([f for _, *pair in futures for f in pair])
    for where, X_future, y_future in futures:
        assert set(held[X_future.key]) == set(held[y_future.key]) == {where}
    dX, dy = da.concatenate(X_parts), da.concatenate(y_parts)
    assert dX.chunks == ((BLOCK_ROWS,) * 6, (784,)) and dy.chunks == ((BLOCK_ROWS,) * 6,)
    return dict(
        X=X, y=y, X_test=X_test, y_test=y_test, dX=dX, dy=dy, blocks=blocks, workers=workers
    )


def _model(backend, **params):
    return SoftmaxRegression(input_scale=1 / 255, random_state=0, backend=backend.name, **params)


def _steps_per_pass(data):
    return sum(math.ceil(len(yb) / BATCH) for _, yb in data["blocks"])


@pytest.fixture(scope="module")
def in_memory_accuracy(data):
    """The in-memory defaults fit's test accuracy, once per module: both backends train the
    same model (tests/estimators), so the first selected backend's fit stands for both."""
    fitted = SoftmaxRegression(input_scale=1 / 255, random_state=0).fit(data["X"], data["y"])
    return fitted.score(data["X_test"], data["y_test"])


def test_accuracy_in_the_band_of_an_in_memory_fit(
    backend, data, in_memory_accuracy, record_property
):
    """Five shuffled passes over the blocks on the cluster land within 1 point of the in-memory
    defaults fit (92.72% test accuracy on both backends, 35 epochs with early stopping).

    Why the band is tight enough to catch a real bug: on these blocks five passes measured
    92.03-92.31% over 4 block orders x 3 seeds, but one pass gives only 91.1-91.5% and one
    epoch on a single block 88.1%. A chain that dropped the estimator between blocks or between
    ``partial_fit`` calls, or that mixed up the labels of a block, falls below
    in-memory - 1 point (about 91.7%), as does anything under the 90% floor.
    """
    inc = Incremental(_model(backend), scoring="accuracy", shuffle_blocks=True, random_state=0)
    for _ in range(PASSES):
        inc.partial_fit(data["dX"], data["dy"], classes=CLASSES)
    dX_test = da.from_array(data["X_test"], chunks=5_000)
    dy_test = da.from_array(data["y_test"], chunks=5_000)
    accuracy = inc.score(dX_test, dy_test)  # predicted blockwise on the workers
    assert accuracy == pytest.approx(
        inc.estimator_.score(data["X_test"], data["y_test"]), abs=1e-12
    )

    in_memory = in_memory_accuracy
    record_property("dask_accuracy", accuracy)
    record_property("in_memory_accuracy", in_memory)
    assert inc.estimator_.n_iter_ == PASSES * 6
    assert accuracy >= 0.90, accuracy
    assert abs(accuracy - in_memory) <= 0.01, (accuracy, in_memory)


def test_weights_equal_an_in_memory_partial_fit_loop(backend, data):
    """Blocks in order (shuffle_blocks=False), two passes: the weights trained on the cluster
    are exactly those of partial_fit over the same blocks in one process.

    The chain hops between the two worker processes (blocks alternate between them), so the
    estimator is pickled between consecutive blocks; equality means its whole state (weights,
    step count for the schedule, and the generator that shuffles each block) came through.
    """
    inc = Incremental(
        _model(backend, lr_schedule="inverse"), scoring="accuracy", shuffle_blocks=False
    )
    with distributed.get_task_stream() as stream:
        for _ in range(2):
            inc.partial_fit(data["dX"], data["dy"], classes=CLASSES)

    reference = _model(backend, lr_schedule="inverse")
    for _ in range(2):
        for X_block, y_block in data["blocks"]:
            reference.partial_fit(X_block, y_block, classes=CLASSES)

    fitted = inc.estimator_
    np.testing.assert_array_equal(fitted.coef_, reference.coef_)
    np.testing.assert_array_equal(fitted.intercept_, reference.intercept_)
    assert fitted.n_iter_ == reference.n_iter_ == 12
    assert fitted.t_ == reference.t_ == 2 * _steps_per_pass(data)
    np.testing.assert_equal(fitted.history_, reference.history_)

    # the partial_fit tasks (dask-ml names them "fit-<token>", index -1 is the input model) ran
    # on both workers, and the estimator was transferred between them
    fits = [
        task
        for task in stream.data
        if isinstance(task["key"], tuple)
        and str(task["key"][0]).startswith("fit-")
        and task["key"][1] >= 0
    ]
    assert len(fits) == 12
    assert {task["worker"] for task in fits} == set(data["workers"])
    assert any(s["action"] == "transfer" for task in fits for s in task["startstops"])


def test_incremental_clones_and_pickles(backend, data):
    """The wrapper trains a clone, restarts on fit, continues on partial_fit, clones and
    pickles; the fitted estimator is a fastreg model that ran one epoch per block."""
    template = _model(backend)
    inc = Incremental(template, scoring="accuracy", shuffle_blocks=False)
    inc.fit(data["dX"], data["dy"], classes=CLASSES)
    first = inc.estimator_
    assert isinstance(first, SoftmaxRegression) and first is not template
    assert not hasattr(template, "coef_")  # the user's estimator is left unfitted
    assert first.n_iter_ == inc.n_iter_ == 6 and first.t_ == _steps_per_pass(data)
    assert first.backend_ == backend.name and list(first.classes_) == list(CLASSES)
    assert inc.coef_ is first.coef_  # learned attributes are copied onto the wrapper
    coef = first.coef_.copy()

    inc.fit(data["dX"], data["dy"], classes=CLASSES)  # fit starts again from a fresh clone
    assert inc.n_iter_ == 6
    np.testing.assert_array_equal(inc.coef_, coef)
    inc.partial_fit(data["dX"], data["dy"], classes=CLASSES)  # partial_fit continues
    assert inc.n_iter_ == 12 and not np.array_equal(inc.coef_, coef)

    copy = clone(inc)
    assert not hasattr(copy, "estimator_") and not hasattr(copy.estimator, "coef_")
    assert copy.get_params(deep=False)["shuffle_blocks"] is False
    assert copy.estimator.get_params() == template.get_params()
    copy.fit(data["dX"], data["dy"], classes=CLASSES)
    np.testing.assert_array_equal(copy.coef_, coef)

    restored = pickle.loads(pickle.dumps(inc))
    X_test, y_test = data["X_test"], data["y_test"]
    np.testing.assert_array_equal(restored.estimator_.coef_, inc.estimator_.coef_)
    np.testing.assert_array_equal(restored.predict(X_test), inc.predict(X_test))
    assert restored.score(X_test, y_test) == inc.score(X_test, y_test)
    dX_test = da.from_array(X_test, chunks=5_000)
    predicted = restored.predict(dX_test)
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), inc.estimator_.predict(X_test))


# ------------------------------------------------------------------ dataset files on the workers
@pytest.fixture(scope="module")
def mnist_file(data, tmp_path_factory):
    from fastreg.datasets import open_dataset, write_dataset

    path = tmp_path_factory.mktemp("dask") / "mnist-train.frd"
    return open_dataset(write_dataset(path, data["X"], data["y"]))


def test_dataset_file_blocks_are_mapped_by_the_workers(backend, data, mnist_file):
    """``DatasetFile.to_dask``: the graph carries paths and row numbers, not pixels; the workers
    map their blocks from the file; training on it equals training on the in-memory blocks."""
    dX, dy = mnist_file.to_dask(chunk_rows=BLOCK_ROWS)
    assert dX.chunks == data["dX"].chunks and dX.dtype == np.uint8
    graph_bytes = len(pickle.dumps(dict(dX.__dask_graph__())))
    assert graph_bytes < 20_000, graph_bytes  # a block of X alone is 7.8 MB

    inc = Incremental(_model(backend), scoring="accuracy", shuffle_blocks=False)
    inc.partial_fit(dX, dy, classes=CLASSES)
    reference = _model(backend)
    for X_block, y_block in data["blocks"]:
        reference.partial_fit(X_block, y_block, classes=CLASSES)
    np.testing.assert_array_equal(inc.estimator_.coef_, reference.coef_)
    np.testing.assert_array_equal(inc.estimator_.intercept_, reference.intercept_)


def test_dataset_file_replaced_under_a_dask_array_is_refused(client, tmp_path):
    from fastreg.datasets import DatasetError, open_dataset, write_dataset

    path = tmp_path / "small.frd"
    X = np.arange(600, dtype=np.uint8).reshape(100, 6)
    dX, _dy = open_dataset(write_dataset(path, X, np.arange(100) % 2)).to_dask(chunk_rows=40)
    np.testing.assert_array_equal(dX.compute(), X)
    write_dataset(path, X[::-1], np.arange(100) % 2, overwrite=True)  # same size, new contents
    with pytest.raises(DatasetError, match="not the file the Dask array was made from"):
        dX.compute()
