"""``DataParallel`` under faults: a worker that dies mid-round, one that keeps dying, and bad
data in one block. The scheduler reruns the lost work; a rerun gives the same bits, and a
round is never averaged without all of its shards.

The deaths are injected from inside the training task, at a known gradient step of a known
shard: the estimator's ``lr_schedule`` is a :class:`helpers.worker_faults.DieAt`, called by
``partial_fit`` on the worker at every step, which ends the worker process (``os._exit``)
at step t. The cluster has worker processes under nannies (which restart them) and
``allowed-failures`` set to 1: a task survives one death of its worker, not two.
"""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from fastreg import SoftmaxRegression  # noqa: E402
from fastreg.dask import DataParallel  # noqa: E402
from helpers.clusters import loopback_cluster  # noqa: E402
from helpers.worker_faults import DieAt  # noqa: E402

ROWS, BLOCK, STEPS_PER_EPOCH = 2400, 400, 2400 // 2 // 32 + 3  # 2 shards of 3 blocks


@pytest.fixture(scope="module")
def fragile():
    """Two nanny-managed worker processes; a task may lose its worker once."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with loopback_cluster(2, default=False) as client:
            yield client


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, ROWS)
    X = (rng.normal(size=(3, 8))[y] + rng.normal(size=(ROWS, 8))).astype(np.float32)
    return X, y


def _fit(client, X, y, schedule, **kw):
    est = SoftmaxRegression(learning_rate=0.1, lr_schedule=schedule, random_state=0)
    dX, dy = da.from_array(X, chunks=(BLOCK, 8)), da.from_array(y, chunks=BLOCK)
    return DataParallel(est, max_epochs=3, n_shards=2, client=client, **kw).fit(dX, dy)


def test_a_worker_lost_mid_round_is_replaced_and_changes_nothing(fragile, data, tmp_path):
    """A worker dies in epoch 2 (step 1.5 epochs in); the scheduler reruns the round's lost
    task, and its lost blocks, on a worker: the model equals the run without the death."""
    marker = tmp_path / "died"
    died = DieAt(0.1, t=STEPS_PER_EPOCH * 3 // 2, marker=str(marker))
    after = _fit(fragile, *data, died)
    assert marker.exists()  # a worker really died
    marker.unlink()
    marker.touch()  # the same schedule, now never dying
    clean = _fit(fragile, *data, DieAt(0.1, t=-1, marker=str(marker)))
    np.testing.assert_array_equal(after.coef_, clean.coef_)
    np.testing.assert_array_equal(after.intercept_, clean.intercept_)
    assert after.history_["train_loss"] == clean.history_["train_loss"]
    fragile.wait_for_workers(2)


def test_a_worker_that_keeps_dying_fails_the_fit_with_the_shard_named(fragile, data, tmp_path):
    dp = _fit(fragile, *data, "constant")  # a first, good fit
    coef, history = dp.coef_.copy(), dp.history_
    dying = DieAt(0.1, t=STEPS_PER_EPOCH + 2, marker=str(tmp_path / "never"), once=False)
    est = SoftmaxRegression(
        learning_rate=0.1,
        lr_schedule=dying,
        random_state=0,
    )
    dp.set_params(estimator=est)
    dX, dy = da.from_array(data[0], chunks=(BLOCK, 8)), da.from_array(data[1], chunks=BLOCK)
    with pytest.raises(
        RuntimeError, match=r"shard \d \(row blocks .*: 2 workers died running it"
    ) as info:
        dp.fit(dX, dy)
    assert "nothing was averaged and the model is unchanged" in str(info.value)
    np.testing.assert_array_equal(dp.coef_, coef)  # the earlier fit's model, untouched
    assert dp.history_ is history
    fragile.wait_for_workers(2)


def test_bad_data_in_one_block_raises_before_the_weights_change(fragile, data):
    X, y = data
    dp = _fit(fragile, X, y, "constant")
    coef = dp.coef_.copy()
    bad = X.copy()
    bad[2 * BLOCK + 17, 3] = np.nan  # block 2: shard 0's last block
    with pytest.raises(ValueError, match=r"NaN|finite") as info:
        _fit(fragile, bad, y, "constant").coef_  # noqa: B018
    notes = "".join(getattr(info.value, "__notes__", []))
    assert "shard 0 (row blocks 0-2" in notes and "model is unchanged" in notes
    dX, dy = da.from_array(bad, chunks=(BLOCK, 8)), da.from_array(y, chunks=BLOCK)
    with pytest.raises(ValueError):
        dp.fit(dX, dy)
    np.testing.assert_array_equal(dp.coef_, coef)


def test_a_bad_label_in_the_first_block_names_shard_0(fragile, data):
    """Block 0 also gives the step sizes: a label outside ``classes`` there fails the first
    round with the labels' error, attributed to shard 0."""
    X, y = data
    bad = y.copy()
    bad[3] = 7
    dX, dy = da.from_array(X, chunks=(BLOCK, 8)), da.from_array(bad, chunks=BLOCK)
    dp = DataParallel(SoftmaxRegression(random_state=0), max_epochs=1, client=fragile)
    with pytest.raises(ValueError, match="7") as info:
        dp.fit(dX, dy, classes=[0, 1, 2])
    assert "shard 0 (row blocks 0-2" in "".join(getattr(info.value, "__notes__", []))
    assert not hasattr(dp, "coef_")
