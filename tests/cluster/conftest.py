"""Clusters for the Dask tests: worker processes on 127.0.0.1, no dashboard."""

import pytest

distributed = pytest.importorskip("distributed")  # CI installs the test extra; fails on skips

from helpers.clusters import loopback_cluster  # noqa: E402


@pytest.fixture(scope="session")
def cluster2():
    """Two worker processes of one thread each on 127.0.0.1, and a Client to them."""
    with loopback_cluster(2) as client:
        yield client


@pytest.fixture(scope="session")
def cluster1():
    """One in-process worker thread (inproc transport, no socket): another cluster shape for
    the same computation."""
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client
