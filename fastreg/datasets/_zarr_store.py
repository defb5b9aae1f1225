"""zarr stores: the standard chunked-array format, read by Dask workers themselves.

:func:`write_zarr` converts arrays (memory-mapped ones included) or a dataset file (.frd) into
a zarr (format 3) group, one chunk of rows at a time; :func:`open_zarr` opens one, on disk or
behind an fsspec URL, and checks it before reading any data::

    write_zarr("mnist.zarr", X, y)                        # chunks of about 16 MiB of X
    data = open_zarr("mnist.zarr")                        # or "s3://bucket/mnist.zarr"
    for X_chunk, y_chunk in data.chunks(shuffle=True, random_state=0):
        model.partial_fit(X_chunk, y_chunk, classes=data.classes)
    X, y = data.to_dask()                                 # dask.array.from_zarr, row chunks

Layout: the group's attributes hold ``{"fastreg": {...}}`` (:mod:`._zarr_checks` lists the
fields); array ``X`` (n_samples, n_features), C order, uint8 / float32 / float64 as given,
chunked by rows only; array ``y`` (n_samples,), the labels, chunked by the same rows. A store
is written into a temporary sibling folder (named by :mod:`fastreg._litter`'s rule), synced,
and renamed into place, so nothing is at ``path`` until it is complete. Stores from
strangers are checked as :mod:`._zarr_checks` says (bounded metadata, whitelisted codecs,
bounded chunks and decompression); values are not checked for NaN on open (as dataset
files): training checks them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from .. import _litter
from ..exceptions import DatasetError, InvalidParameterError
from . import _zarr_checks as checks
from ._dataset_file import X_DTYPES, DatasetFile
from ._dataset_writer import _checked_block

if TYPE_CHECKING:
    import dask.array
    from numpy.typing import NDArray

TEMP_SUFFIXES = (".zarrpart", ".zarrold")  # a store being written; a replaced one on its way out
_REWRITE = "re-create it with fastreg.datasets.write_zarr"


def _refuse(path: str, refusal: checks.Refusal, hint: str | None = _REWRITE) -> NoReturn:
    raise DatasetError(f"{path}: {refusal.what}; expected {refusal.expected}", hint=hint)


# ------------------------------------------------------------------------------ writing
def _source(X, y, image_shape):
    """``(read, n, d, dtype, y, sample_shape)`` of what write_zarr was given; ``read(a, b)``
    returns rows a:b as an (rows, d) array, freshly mapped for a dataset file (so the pages
    of converted chunks leave memory) and sliced from a (memory-mapped) array otherwise."""
    if isinstance(X, DatasetFile):
        data = X

        def read(start, stop):
            return data.rows(start, stop)[0]

        shape = image_shape if image_shape is not None else data.sample_shape
        labels = data.y if y is None else y
        return read, data.n_samples, data.n_features, data.dtype, labels, tuple(shape)
    X = np.asarray(X)  # a memmap stays a memmap: nothing is read here
    if X.ndim < 2 or X.shape[0] == 0 or X[0].size == 0:
        raise InvalidParameterError(
            f"X must have shape (n_samples, n_features, ...) with at least one sample and one "
            f"feature, got {X.shape}",
            param="X",
        )
    rows = X.reshape(X.shape[0], -1)

    def read(start, stop):
        return rows[start:stop]

    shape = image_shape if image_shape is not None else X.shape[1:]
    return read, rows.shape[0], rows.shape[1], X.dtype, y, tuple(int(s) for s in shape)


def write_zarr(
    path: str | os.PathLike[str],
    X: Any,
    y: Any = None,
    *,
    chunk_rows: int | None = None,
    image_shape: tuple[int, ...] | None = None,
    provenance: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> str:
    """Write ``X`` (n, d) or (n, *sample_shape) and labels ``y`` to a zarr store at ``path``.

    ``X``: a NumPy array, a memmap, or a :class:`DatasetFile` (then ``y`` may be None: the
    file's labels), read and written one chunk of ``chunk_rows`` rows at a time (default:
    about 16 MiB of X), so converting a file larger than RAM needs memory for one chunk.
    uint8, float32 and float64 are stored as given; other integers as uint8 when every value
    is 0..255, other floats as float64; NaN, infinity and complex values are refused, as by
    :func:`write_dataset`. ``y``: numeric labels (whole floats become int64, other floats are
    kept). ``image_shape`` is recorded as ``sample_shape`` (default: X's shape per sample).
    ``provenance``: a flat dict recorded in the attributes. The store appears at ``path`` only
    when complete; an existing store is replaced only with ``overwrite=True`` and only once
    the new one is complete. Returns the path.
    """
    import zarr

    path = os.path.abspath(os.fspath(path))
    read, n, d, dtype, y, sample_shape = _source(X, y, image_shape)
    if y is None:
        raise InvalidParameterError("y is required (one label per sample of X)", param="y")
    labels = checks.labels(y, n)
    if int(np.prod(sample_shape)) != d or min(sample_shape) < 1:
        raise InvalidParameterError(
            f"image_shape {sample_shape} does not hold {d} features", param="image_shape"
        )
    dtype = dtype.newbyteorder("=")
    if dtype not in X_DTYPES:
        dtype = np.dtype(np.uint8 if dtype.kind in "biu" else np.float64)
    step = checks.chunk_rows(chunk_rows, d, dtype.itemsize)
    attrs = {"provenance": checks.provenance(provenance)}
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    if os.path.lexists(path) and not os.path.isfile(os.path.join(path, "zarr.json")):
        raise FileExistsError(f"{path} exists and is not a zarr store; not replacing it")
    folder, name = os.path.split(path)
    _litter.remove_stale(folder, TEMP_SUFFIXES)
    temp = os.path.join(folder, _litter.temp_name(name, ".zarrpart"))
    os.mkdir(temp)
    try:
        group = zarr.create_group(store=temp, zarr_format=3)
        # every chunk on disk, even all-zero ones: a copy's completeness shows in its files
        config: Any = {"write_empty_chunks": True}
        zX = group.create_array("X", shape=(n, d), chunks=(step, d), dtype=dtype, config=config)
        zy = group.create_array("y", shape=(n,), chunks=(step,), dtype=labels.dtype, config=config)
        classes = np.empty(0, labels.dtype)
        for start in range(0, n, step):
            zX[start : start + step] = _checked_block(read(start, start + step), dtype)
            zy[start : start + step] = labels[start : start + step]
            classes = np.union1d(classes, labels[start : start + step])
        if classes.size > checks.MAX_CLASSES:
            raise InvalidParameterError(
                f"y holds {classes.size} distinct labels; a store records at most "
                f"{checks.MAX_CLASSES} classes",
                param="y",
            )
        attrs.update(
            format=checks.FORMAT,
            version=checks.VERSION,
            n_samples=n,
            n_features=d,
            sample_shape=list(sample_shape),
            classes=classes.tolist(),
        )
        group.attrs["fastreg"] = attrs
        _sync_tree(temp)
        _into_place(temp, path, folder, name)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return path


def _sync_tree(top):
    """fsync every file and folder under ``top``, so the rename publishes complete data."""
    for here, _, files in os.walk(top, topdown=False):
        for entry in [*(os.path.join(here, f) for f in files), here]:
            fd = os.open(entry, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _into_place(temp, path, folder, name):
    """Rename the finished store ``temp`` to ``path``; an old store there goes last."""
    old = None
    if os.path.lexists(path):  # a folder cannot be replaced in one rename: move it aside
        old = os.path.join(folder, _litter.temp_name(name, ".zarrold"))
        os.rename(path, old)
    try:
        os.rename(temp, path)
    except BaseException:
        if old is not None:
            os.rename(old, path)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------------------ reading
def open_zarr(
    store: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None
) -> ZarrDataset:
    """Open the zarr store of :func:`write_zarr` at a local path or an fsspec URL.

    ``open_zarr("s3://bucket/mnist.zarr", storage_options={"anon": True})`` reads from an
    object store (needs s3fs). The metadata are read (at most 1 MiB a document) and checked
    before any data; raises :class:`DatasetError` for anything but a fastreg store, and
    FileNotFoundError when there is no store.
    """
    return ZarrDataset(store, storage_options=storage_options)


class ZarrDataset:
    """A read-only view of a fastreg zarr store; nothing is read until rows are asked for.

    Attributes, as :class:`DatasetFile`: ``path``, ``n_samples``, ``n_features``,
    ``sample_shape``, ``dtype`` (of X), ``label_dtype``, ``classes``, ``chunk_rows`` (the
    store's rows a chunk), ``provenance``; ``X`` and ``y`` are the zarr arrays (slicing reads).
    """

    def __init__(
        self, store: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None
    ) -> None:
        from zarr.storage import FsspecStore, LocalStore

        text = os.fspath(store)
        if "://" in text:
            self.path = text
            self._store: Any = FsspecStore.from_url(
                text, storage_options=storage_options, read_only=True
            )
        else:
            # absolute: a Dask worker started elsewhere must find the same store
            self.path = os.path.abspath(text)
            if not os.path.isdir(self.path):
                raise FileNotFoundError(f"{self.path}: no such zarr store (a folder)")
            self._store = LocalStore(self.path, read_only=True)
        try:
            attrs = checks.check_group(self._document("zarr.json"))
            n, d = attrs["n_samples"], attrs["n_features"]
            x_doc, y_doc = self._document("X/zarr.json"), self._document("y/zarr.json")
            self.chunk_rows = checks.check_array(x_doc, "X", n, d)
            checks.check_array(y_doc, "y", n, d)
            checks.check_size(n, d, x_doc["data_type"])
        except checks.Refusal as refusal:
            _refuse(self.path, refusal)
        self.n_samples, self.n_features = n, d
        self.sample_shape = tuple(attrs["sample_shape"])
        self.provenance = dict(attrs.get("provenance", {}))
        self.X = self._array("X", x_doc)
        self.y = self._array("y", y_doc)
        self.dtype, self.label_dtype = np.dtype(self.X.dtype), np.dtype(self.y.dtype)
        try:
            self.classes = np.asarray(attrs["classes"], dtype=self.label_dtype)
            exact = self.classes.tolist() == attrs["classes"]
        except (OverflowError, ValueError):
            exact = False
        if not exact:
            _refuse(
                self.path,
                checks.Refusal(f"classes that y's {self.label_dtype} cannot hold", "labels of y"),
            )

    def _document(self, key):
        """The JSON document ``key`` of the store, read with a size limit."""
        from zarr.abc.store import RangeByteRequest
        from zarr.core.buffer import default_buffer_prototype
        from zarr.core.sync import sync

        limit = checks.MAX_JSON_BYTES
        got = sync(
            self._store.get(
                key, default_buffer_prototype(), byte_range=RangeByteRequest(0, limit + 1)
            )
        )
        if got is None:
            if key == "zarr.json":
                raise FileNotFoundError(f"{self.path}: no zarr store here (no zarr.json)")
            raise checks.Refusal(f"no {key}", "arrays X and y in the group")
        raw = got.to_bytes()
        if len(raw) > limit:
            raise checks.Refusal(f"{key} larger than {limit} bytes", "metadata under 1 MiB")
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise checks.Refusal(
                f"{key} is not JSON ({type(exc).__name__})", "zarr metadata"
            ) from exc

    def _array(self, name, doc):
        """The zarr array ``name`` built from its checked ``doc``, reading with bounded codecs."""
        from zarr import Array, AsyncArray
        from zarr.storage import StorePath

        try:
            codecs = checks.reading_codecs(doc["codecs"])
        except (ValueError, KeyError) as exc:
            _refuse(self.path, checks.Refusal(f"{name} has {exc}", checks.CODECS_EXPECTED))
        try:
            return Array(
                AsyncArray(
                    metadata={**doc, "codecs": codecs}, store_path=StorePath(self._store, name)
                )
            )
        except (ValueError, TypeError, KeyError) as exc:
            _refuse(
                self.path,
                checks.Refusal(f"{name} metadata zarr refuses ({exc})", "zarr v3 metadata"),
            )

    def __len__(self) -> int:
        return self.n_samples

    def __repr__(self) -> str:
        return (
            f"ZarrDataset({self.path!r}, n_samples={self.n_samples}, "
            f"n_features={self.n_features}, dtype={self.dtype.name}, "
            f"classes={self.classes.tolist()})"
        )

    def rows(self, start: int, stop: int) -> tuple[NDArray[Any], NDArray[Any]]:
        """``(X[start:stop], y[start:stop])`` as NumPy arrays (reads the chunks they touch)."""
        start, stop, _ = slice(start, stop).indices(self.n_samples)
        stop = max(start, stop)
        try:
            return np.asarray(self.X[start:stop]), np.asarray(self.y[start:stop])
        except ValueError as exc:  # a chunk that does not decode to its declared size
            raise DatasetError(
                f"{self.path}: rows {start}:{stop} cannot be read ({exc}); expected chunks "
                "that decode to their declared size",
                hint=_REWRITE,
            ) from exc

    def chunks(
        self,
        chunk_rows: int | None = None,
        *,
        shuffle: bool = False,
        random_state: int | np.random.Generator | None = None,
    ) -> Iterator[tuple[NDArray[Any], NDArray[Any]]]:
        """Yield ``(X_chunk, y_chunk)`` NumPy blocks of ``chunk_rows`` rows (default: the
        store's chunks, each read once). With ``shuffle`` the blocks come in a random order
        drawn from ``random_state``; rows inside a block keep their order. Memory: one block."""
        chunk_rows = (
            self.chunk_rows if chunk_rows is None else checks.positive_chunk_rows(chunk_rows)
        )
        starts = np.arange(0, self.n_samples, int(chunk_rows))
        if shuffle:
            starts = np.random.default_rng(random_state).permutation(starts)
        for start in starts:
            yield self.rows(int(start), int(start) + int(chunk_rows))

    def to_dask(self) -> tuple[dask.array.Array, dask.array.Array]:
        """``(X, y)`` as Dask arrays (``dask.array.from_zarr``) with the store's row chunks.

        The graph holds the store's address and checked metadata, never data: each worker
        opens and decodes its own chunks (with the bounded codecs), so every worker must
        reach the store (a shared file system, or an object-store URL). Needs dask.
        """
        import dask.array as da

        return da.from_zarr(self.X), da.from_zarr(self.y)
