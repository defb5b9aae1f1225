"""Load MNIST or Fashion-MNIST as four checked uint8 arrays (one implementation for both)."""
from typing import NamedTuple

import numpy as np

from . import _fetch
from ._idx import DatasetError, read_idx


class DatasetArrays(NamedTuple):
    """A train/test data set as loaded from IDX files, untouched.

    ``X_train`` uint8 (n_train, 28, 28), ``y_train`` uint8 (n_train,), ``X_test`` uint8
    (n_test, 28, 28), ``y_test`` uint8 (n_test,); 60000 and 10000 for MNIST and Fashion-MNIST.
    The arrays are read-only (memory-mapped when the files are uncompressed).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def load_mnist(data_dir=None, *, download=True):
    """The MNIST digits as :class:`DatasetArrays`, from disk or downloaded once into the cache.

    Looks in ``data_dir``, then ``$FASTREG_DATA`` (or ``$FASTREG_DATA/mnist``), then
    ``~/.cache/fastreg/mnist``; see :mod:`fastreg.datasets._fetch` for the rules. With
    ``download=False`` a missing data set raises ``FileNotFoundError``; corrupt files raise
    :class:`DatasetError`, a failed download :class:`DownloadError`.
    """
    return load_dataset("mnist", data_dir, download=download)


def load_fashion_mnist(data_dir=None, *, download=True):
    """Zalando's Fashion-MNIST, same format and rules as :func:`load_mnist`.

    Looks in ``data_dir``, then ``$FASTREG_DATA/fashion-mnist``, then
    ``~/.cache/fastreg/fashion-mnist``.
    """
    return load_dataset("fashion-mnist", data_dir, download=download)


def load_dataset(name, data_dir=None, *, download=True):
    """Load the data set registered as ``name`` in ``_fetch.DATASETS``."""
    if name not in _fetch.DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(_fetch.DATASETS)}")
    spec = _fetch.DATASETS[name]
    paths = _fetch.locate(spec, data_dir, download=download)
    arrays = [read_idx(path) for path in paths]
    for (images, labels), (image_path, label_path) in zip(
        (arrays[0:2], arrays[2:4]), (paths[0:2], paths[2:4])
    ):
        _check_images(images, image_path, spec)
        _check_labels(labels, label_path, spec)
        if len(images) != len(labels):
            raise DatasetError(
                f"{image_path} holds {len(images)} images but {label_path} holds "
                f"{len(labels)} labels; the two files do not belong together"
            )
    return DatasetArrays(*arrays)


def _check_images(images, path, spec):
    expected = "uint8 with shape (n, " + ", ".join(map(str, spec.image_shape)) + ")"
    if images.dtype != np.uint8 or images.shape[1:] != tuple(spec.image_shape):
        raise DatasetError(f"{path}: expected {spec.title} images, {expected}; the file holds "
                           f"{images.dtype.name} with shape {images.shape}")


def _check_labels(labels, path, spec):
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(f"{path}: expected {spec.title} labels, uint8 with shape (n,); the "
                           f"file holds {labels.dtype.name} with shape {labels.shape}")
    if labels.size and labels.max() >= spec.n_classes:
        bad = np.flatnonzero(labels >= spec.n_classes)
        raise DatasetError(f"{path}: label {labels[bad[0]]} at index {bad[0]} is out of range; "
                           f"{spec.title} labels are 0..{spec.n_classes - 1} "
                           f"({bad.size} labels out of range)")
