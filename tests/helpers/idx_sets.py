"""Small synthetic MNIST-shaped data sets written as the four IDX files, for the loader tests."""

import gzip
import urllib.request

import numpy as np

from fastreg.datasets import _download, write_idx
from fastreg.datasets._idx import idx_bytes

NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def synthetic(seed, n_train=20, n_test=10, levels=256):
    """(X_train, y_train, X_test, y_test) uint8, images 28 x 28, every digit present."""
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, levels, (n_train, 28, 28), dtype=np.uint8),
        (np.arange(n_train) % 10).astype(np.uint8),
        rng.integers(0, levels, (n_test, 28, 28), dtype=np.uint8),
        rng.permutation(np.arange(n_test) % 10).astype(np.uint8),
    )


def write_set(folder, arrays, gz=True, compresslevel=None):
    """The four files in ``folder`` (.gz or not); returns ``arrays``.

    ``compresslevel`` None writes them with :func:`fastreg.datasets.write_idx` (level 9);
    a level (1 keeps multi-MB sets quick) compresses the same IDX bytes at that level."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(NAMES, arrays):
        if not gz:
            write_idx(folder / name, array)
        elif compresslevel is None:
            write_idx(folder / (name + ".gz"), array)
        else:
            data = gzip.compress(idx_bytes(array), compresslevel=compresslevel, mtime=0)
            (folder / (name + ".gz")).write_bytes(data)
    return arrays


def offline_private_cache(tmp_path, monkeypatch):
    """No FASTREG_DATA from the caller, a private cache, and a network that must not be used."""
    monkeypatch.delenv("FASTREG_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def no_network(*args, **kwargs):
        raise AssertionError("the network was touched although no download was needed")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(_download, "_urlopen", no_network)  # the downloader's one door


def without_shipped_mnist(monkeypatch):
    """Make MNIST ship nothing (as Fashion-MNIST), for tests of "found nowhere"."""
    import dataclasses

    from fastreg.datasets import _registry

    monkeypatch.setitem(
        _registry.DATASETS, "mnist", dataclasses.replace(_registry.DATASETS["mnist"], shipped="")
    )


def unverified(loader):
    """``loader`` with ``verify=False``: synthetic sets under the published names are
    deliberate stand-ins (verification itself is tested in test_datasets_verify.py)."""
    import functools

    return functools.partial(loader, verify=False)
