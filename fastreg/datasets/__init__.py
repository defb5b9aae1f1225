"""MNIST and Fashion-MNIST: IDX files, a local cache, verified downloads, training splits.

Load::

    data = load_mnist()                      # DatasetArrays(X_train, y_train, X_test, y_test)
    ready = prepare(data, digits=(2, 3))     # 2 -> 1, 3 -> 0; flat float64 in [0, 1]
    data = load_mnist(mmap=True)             # file-backed: .gz decompressed once into the cache

A folder named by ``data_dir`` is the only place looked at (missing files are downloaded into
it, or are an error with ``download=False``). Otherwise files are looked for in
``$FASTREG_DATA`` (or ``$FASTREG_DATA/mnist``), then ``~/.cache/fastreg/mnist``, then, for MNIST,
the copy shipped with the package (so it loads with no network); only when they are nowhere is
anything downloaded, into the cache, verified against published sizes and checksums, within
``download_deadline`` seconds per file (``$FASTREG_DOWNLOAD_DEADLINE``; 300 by default). Files
found on disk are verified against the published digests once per file (``verify=False``
skips that, for deliberate subsets). Errors are the
structured exceptions of :mod:`fastreg.exceptions` (``DatasetError``, ``DownloadError``,
``DataNotFoundError``), re-exported here. Modules:

``_registry`` the data sets known: titles, class names, files, sizes, digests, mirrors
``_idx``      the IDX format: parse (with every header check), memory-map, write
``_cache``    the per-user cache folder
``_fetch``    where files are looked for (named folder, FASTREG_DATA, cache, shipped copy)
``_verify``   are local files what they are named? published digests, verdicts remembered
``_download`` the verified download: mirrors, per-file deadline, progress bar, one wording
``_load``     ``load_mnist`` / ``load_fashion_mnist``: four arrays, checked as a set
``_unpack``   ``mmap=True``: verified uncompressed copies of .gz files in the cache, to map
``data/mnist`` MNIST's four .gz files, shipped as package data
``_dataset_file``    ``open_dataset``: one uncompressed, memory-mappable file per data set, read
              in chunks of rows, each its own mapping (training larger than RAM); the format
``_dataset_writer``  ``write_dataset`` / ``DatasetWriter``: convert once, chunk by chunk
``_zarr_store``  ``write_zarr`` / ``open_zarr`` / ``ZarrDataset``: zarr (format 3) stores, local
              or behind an fsspec URL, chunked by rows; ``to_dask`` via ``dask.array.from_zarr``
``_zarr_checks``  what a zarr store may hold (checked before any chunk is read) and the codecs
              that decompress no more than a chunk's declared size
``_prepare``  ``binary_subset``, ``train_val_split``, ``flatten``, ``scale_pixels``,
              ``Standardizer`` and ``prepare``, which chains them (its defaults documented there)

Temporary files (downloads, uncompressed copies, records, dataset files being written) are
named, and those of killed processes removed, by the package's one rule: :mod:`fastreg._litter`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names
from ..exceptions import DataNotFoundError, DatasetError, DownloadError

if TYPE_CHECKING:  # imported on first use at run time (__getattr__); typed for checkers
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
    from ._zarr_store import ZarrDataset, open_zarr, write_zarr

# Each name is imported from its module on first use, so that `fastreg --help` (which needs
# only the registry of data sets) does not import the downloader, its HTTP client and the rest.
_LAZY = {
    "DatasetFile": "._dataset_file",
    "open_dataset": "._dataset_file",
    "DatasetWriter": "._dataset_writer",
    "write_dataset": "._dataset_writer",
    "default_cache_dir": "._fetch",
    "read_idx": "._idx",
    "write_idx": "._idx",
    "DatasetArrays": "._load",
    "load_dataset": "._load",
    "load_fashion_mnist": "._load",
    "load_mnist": "._load",
    "Prepared": "._prepare",
    "Split": "._prepare",
    "Standardizer": "._prepare",
    "binary_subset": "._prepare",
    "flatten": "._prepare",
    "prepare": "._prepare",
    "scale_pixels": "._prepare",
    "train_val_split": "._prepare",
    "ZarrDataset": "._zarr_store",
    "open_zarr": "._zarr_store",
    "write_zarr": "._zarr_store",
}

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
    "ZarrDataset",
    "binary_subset",
    "default_cache_dir",
    "flatten",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "open_dataset",
    "open_zarr",
    "prepare",
    "read_idx",
    "scale_pixels",
    "train_val_split",
    "write_dataset",
    "write_idx",
    "write_zarr",
]


__getattr__, __dir__ = lazy_names(globals(), _LAZY, __all__)
