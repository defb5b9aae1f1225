"""MNIST and Fashion-MNIST: IDX files, a local cache, verified downloads, training splits.

Load::

    data = load_mnist()                      # DatasetArrays(X_train, y_train, X_test, y_test)
    ready = prepare(data, digits=(2, 3))     # 2 -> 1, 3 -> 0; flat float64 in [0, 1]
    data = load_mnist(mmap=True)             # file-backed: .gz decompressed once into the cache

Files are looked for in ``data_dir``, then ``$FASTREG_DATA`` (or ``$FASTREG_DATA/mnist``),
then ``~/.cache/fastreg/mnist``; only when they are nowhere is anything downloaded, and then
only into the cache, verified against published sizes and checksums. Errors are the
structured exceptions of :mod:`fastreg.exceptions` (``DatasetError``, ``DownloadError``,
``DataNotFoundError``), re-exported here. Modules:

``_registry`` the data sets known: titles, class names, files, sizes, digests, mirrors
``_idx``      the IDX format: parse (with every header check), memory-map, write
``_fetch``    where files are looked for, the verified download
``_load``     ``load_mnist`` / ``load_fashion_mnist``: four arrays, checked as a set
``_unpack``   ``mmap=True``: verified uncompressed copies of .gz files in the cache, to map
``_dataset_file``    ``open_dataset``: one uncompressed, memory-mappable file per data set, read
              in chunks of rows, each its own mapping (training larger than RAM); the format
``_dataset_writer``  ``write_dataset`` / ``DatasetWriter``: convert once, chunk by chunk
``_prepare``  ``binary_subset``, ``train_val_split``, ``flatten``, ``scale_pixels``,
              ``Standardizer`` and ``prepare``, which chains them (its defaults documented there)
"""
from ..exceptions import DataNotFoundError, DatasetError, DownloadError
from ._dataset_file import DatasetFile, open_dataset
from ._dataset_writer import DatasetWriter, write_dataset
from ._fetch import default_cache_dir
from ._idx import read_idx, write_idx
from ._load import DatasetArrays, load_dataset, load_fashion_mnist, load_mnist
from ._prepare import (
    Prepared,
    Split,
    Standardizer,
    binary_subset,
    flatten,
    prepare,
    scale_pixels,
    train_val_split,
)

__all__ = [
    "DataNotFoundError",
    "DatasetArrays",
    "DatasetError",
    "DatasetFile",
    "DatasetWriter",
    "DownloadError",
    "Prepared",
    "Split",
    "Standardizer",
    "binary_subset",
    "default_cache_dir",
    "flatten",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "open_dataset",
    "prepare",
    "read_idx",
    "scale_pixels",
    "train_val_split",
    "write_dataset",
    "write_idx",
]
