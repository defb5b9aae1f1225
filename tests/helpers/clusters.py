"""Local Dask clusters for the tests: worker processes of one thread on 127.0.0.1 only."""

import contextlib


@contextlib.contextmanager
def loopback_cluster(n_workers, *, default=True):
    """A ``LocalCluster`` of ``n_workers`` nanny-managed worker processes bound to 127.0.0.1
    (no dashboard) and a Client to it (the default client unless ``default=False``), with
    every worker up; both closed on exit."""
    import distributed

    with (
        distributed.LocalCluster(
            host="127.0.0.1",
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster, set_as_default=default) as client,
    ):
        client.wait_for_workers(n_workers)
        yield client
