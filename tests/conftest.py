"""Shared fixtures: the backend every test runs on, and the real MNIST data.

The suite runs once per selected backend: every backend that loads here, or only the one named
by FASTREG_BACKEND (``cython``/``numpy``; ``auto`` or unset: every one that loads). Tests that
compare the compiled kernels with their NumPy twins carry the ``requires_cython`` marker and
are deselected (not skipped) when Cython is not selected; FASTREG_REQUIRE_CYTHON=1 turns a
missing extension into a failure (tests/kernels/test_backend.py).

Real-data tests take the ``mnist`` fixture. It reads the files through the project's own
data-directory setting, FASTREG_DATA. Without it they skip, except under FASTREG_REQUIRE_DATA=1
(CI), where a missing data set fails the run instead.
"""

import os

import pytest

from fastreg import available_backends, get_backend
from helpers.data import missing_data


def selected_backends():
    env = os.environ.get("FASTREG_BACKEND", "").strip().lower()
    if env in ("cython", "numpy"):
        return [env]
    return available_backends()


def pytest_collection_modifyitems(config, items):
    if "cython" in selected_backends():
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("requires_cython") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=selected_backends())
def backend(request):
    """The kernels of one backend: a namespace with ``.name``, every kernel (behind its input
    check) and ``.raw`` (the unchecked kernels)."""
    return get_backend(request.param)


@pytest.fixture(scope="session")
def numpy_backend():
    return get_backend("numpy")


@pytest.fixture(scope="session")
def cython_backend():
    return get_backend("cython")


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST arrays, loaded through FASTREG_DATA (never downloaded in tests)."""
    if not os.environ.get("FASTREG_DATA"):
        missing_data("FASTREG_DATA is not set: point it at the folder that holds the MNIST files")
    from fastreg.datasets import load_mnist

    try:
        return load_mnist(download=False)
    except FileNotFoundError as exc:
        missing_data(f"MNIST not found through FASTREG_DATA: {exc}")
