"""Load MNIST or Fashion-MNIST as four checked uint8 arrays (one implementation for both).

``mmap=True`` returns arrays backed by files rather than RAM: uncompressed files are mapped where
they are, ``.gz`` files through a verified uncompressed copy in the cache (``_unpack``).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from ..exceptions import DatasetError
from . import _fetch, _registry
from ._idx import read_idx
from ._unpack import mappable


class DatasetArrays(NamedTuple):
    """A train/test data set as loaded from IDX files, untouched.

    ``X_train`` uint8 (n_train, 28, 28), ``y_train`` uint8 (n_train,), ``X_test`` uint8
    (n_test, 28, 28), ``y_test`` uint8 (n_test,); 60000 and 10000 for MNIST and Fashion-MNIST.
    The arrays are read-only; memory-mapped when the files are uncompressed or ``mmap=True``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mmap: bool = False,
    verify: bool = True,
    download_deadline: float | None = None,
) -> DatasetArrays:
    """The MNIST digits as :class:`DatasetArrays`: from the folder you name, else from
    ``$FASTREG_DATA``, the cache, or the copy shipped with fastreg (no network needed).

    ``data_dir`` given: that folder (or ``<data_dir>/mnist``) is the only place looked at; a
    file missing there is downloaded into it, or, with ``download=False``, raises
    :class:`~fastreg.exceptions.DataNotFoundError` (a ``FileNotFoundError``) naming the folder
    and the file. No ``data_dir``: ``$FASTREG_DATA`` (or ``$FASTREG_DATA/mnist``), then
    ``~/.cache/fastreg/mnist``, then the four files shipped inside the package; see
    :mod:`fastreg.datasets._fetch` for the rules.

    ``verify=True`` checks every file found on disk against MNIST's published digests (of the
    .gz, or of its uncompressed contents for recompressed copies), once per file (the verdict is
    remembered in the cache); a foreign or damaged file raises :class:`DatasetError` naming it.
    ``verify=False`` skips that check, for deliberate subsets or your own files under MNIST's
    names. ``download_deadline`` (seconds per file; default ``$FASTREG_DOWNLOAD_DEADLINE`` or
    300) bounds a download, besides a 30 s timeout per read. Corrupt files raise
    :class:`DatasetError`, a failed download :class:`DownloadError` (all with
    ``param="data_dir"`` or None, and a ``hint``).

    ``mmap=False`` reads ``.gz`` files into memory (uncompressed files are mapped anyway).
    ``mmap=True`` returns every array memory-mapped read-only from a file, so the data set
    costs no RAM and trains in place (``SoftmaxRegression(input_scale=1/255).fit(
    X.reshape(len(X), -1), y)`` copies nothing): each ``.gz`` file is decompressed once,
    streaming, into ``$XDG_CACHE_HOME/fastreg/mnist/uncompressed/`` (about 55 MB), checked
    against its IDX header and the published SHA-256 of MNIST's uncompressed files, and
    reused by later calls while the .gz is unchanged (see :mod:`fastreg.datasets._unpack`).
    Files of another size under MNIST's names (a subset, hand-made data) are checked by header
    and size only. An unwritable cache raises ``OSError`` saying what to do.
    """
    return load_dataset(
        "mnist",
        data_dir,
        download=download,
        mmap=mmap,
        verify=verify,
        download_deadline=download_deadline,
    )


def load_fashion_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mmap: bool = False,
    verify: bool = True,
    download_deadline: float | None = None,
) -> DatasetArrays:
    """Zalando's Fashion-MNIST, same format and rules as :func:`load_mnist`, but it does not
    ship with fastreg: it is downloaded (MD5-checked, as its authors publish) into the cache.

    Looks only in ``data_dir`` (or ``<data_dir>/fashion-mnist``) when given, else in
    ``$FASTREG_DATA/fashion-mnist``, then ``~/.cache/fastreg/fashion-mnist``. Files found on
    disk are verified by the MD5 of the published .gz or the SHA-256 of the uncompressed
    contents (so MNIST's files under the same names are refused).
    """
    return load_dataset(
        "fashion-mnist",
        data_dir,
        download=download,
        mmap=mmap,
        verify=verify,
        download_deadline=download_deadline,
    )


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mmap: bool = False,
    verify: bool = True,
    download_deadline: float | None = None,
) -> DatasetArrays:
    """Load the data set registered as ``name`` in ``_registry.DATASETS`` (arguments as in
    :func:`load_mnist`); an unknown name raises InvalidParameterError (``param="dataset"``).

    Errors name the files as found (the .gz), not their uncompressed copies.
    """
    spec = _registry.get_spec(name)
    paths = _fetch.locate(
        spec, data_dir, download=download, verify=verify, download_deadline=download_deadline
    )
    if mmap:
        readable = [mappable(path, remote, spec.subdir) for path, remote in zip(paths, spec.files)]
        arrays = [read_idx(path) for path in readable]
    else:  # .gz into memory: never more than the published size is inflated
        arrays = [
            read_idx(path, max_bytes=remote.raw_size or None)
            for path, remote in zip(paths, spec.files)
        ]
    for (images, labels), (image_path, label_path) in zip(
        (arrays[0:2], arrays[2:4]), (paths[0:2], paths[2:4])
    ):
        _check_images(images, image_path, spec)
        _check_labels(labels, label_path, spec)
        if len(images) != len(labels):
            raise DatasetError(
                f"{image_path} holds {len(images)} images but {label_path} holds "
                f"{len(labels)} labels",
                hint="the two files do not belong together: fetch both again from one source",
            )
    return DatasetArrays(*arrays)


def _check_images(images, path, spec):
    expected = "uint8 with shape (n, " + ", ".join(map(str, spec.image_shape)) + ")"
    if images.dtype != np.uint8 or images.shape[1:] != tuple(spec.image_shape):
        raise DatasetError(
            f"{path}: expected {spec.title} images, {expected}; the file holds "
            f"{images.dtype.name} with shape {images.shape}"
        )


def _check_labels(labels, path, spec):
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(
            f"{path}: expected {spec.title} labels, uint8 with shape (n,); the "
            f"file holds {labels.dtype.name} with shape {labels.shape}"
        )
    if labels.size and labels.max() >= spec.n_classes:
        bad = np.flatnonzero(labels >= spec.n_classes)
        raise DatasetError(
            f"{path}: label {labels[bad[0]]} at index {bad[0]} is out of range; "
            f"{spec.title} labels are 0..{spec.n_classes - 1} "
            f"({bad.size} labels out of range)"
        )
