"""A data set in one uncompressed, memory-mappable file: convert once, then stream it.

Write with :func:`write_dataset` (from arrays, memory-mapped ones included) or chunk by chunk
with :class:`DatasetWriter` (the number of rows need not be known in advance); read with
:func:`open_dataset`, whose :meth:`DatasetFile.chunks` maps one block of rows at a time, so
training over a file larger than RAM keeps resident memory at about one chunk::

    with DatasetWriter("big.frd", n_features=784, dtype=np.uint8) as out:
        for X_part, y_part in source:              # any number of rows per part
            out.append(X_part, y_part)

    data = open_dataset("big.frd")
    model = SoftmaxRegression(input_scale=1 / 255, dtype="float32")
    for X_chunk, y_chunk in data.chunks(chunk_bytes=64 << 20, shuffle=True, random_state=0):
        model.partial_fit(X_chunk, y_chunk, classes=data.classes)

Format (little-endian)::

    bytes 0-7      magic b"\\x93FASTREG"
    bytes 8-11     uint32 format version (1)
    bytes 12-15    uint32 length L of the JSON header
    bytes 16..     L bytes of UTF-8 JSON, then spaces up to DATA_OFFSET (4096)
    DATA_OFFSET    X: n_samples x n_features elements, C order (uint8, float32 or float64)
    then           y: n_samples integer labels, at the next multiple of 64
    then           classes: the sorted distinct labels (y's dtype), at the next multiple of 64

The JSON header holds ``n_samples``, ``n_features``, ``sample_shape`` (the shape of one sample
as written, e.g. [28, 28]), ``n_classes``, for each of X, y and classes its ``dtype``,
``offset``, ``nbytes`` and ``sha256``, and ``header_sha256``, the digest of the rest of the
header (its JSON with sorted keys), so an edited or damaged header is refused. ``classes`` lets
``partial_fit`` be given every class before the first chunk without a pass over the labels.
A file is written under a temporary name in the destination folder and renamed into place
when complete, so a reader never sees a half-written file and a failed
conversion leaves any previous file untouched. Opening checks the magic, the header and that
the file size is exactly what the header declares (a truncated copy is rejected before any
page is read) and reads the classes; :meth:`DatasetFile.verify` also checks the digests of X
and y, reading the file once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import mmap
import numbers
import os
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import DatasetError, InvalidParameterError

if TYPE_CHECKING:
    import dask.array
    from numpy.typing import NDArray
    from typing_extensions import Self

MAGIC = b"\x93FASTREG"
FORMAT_VERSION = 1
DATA_OFFSET = 4096  # X starts page-aligned, so its chunks map without a slack page
LABEL_ALIGN = 64
DEFAULT_CHUNK_BYTES = 64 << 20
X_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64))
_PREAMBLE = struct.Struct("<8sII")
_IO_BLOCK = 16 << 20  # bytes per read/write when copying or hashing


def _fail(path, problem, hint="re-create it with fastreg.datasets.write_dataset"):
    raise DatasetError(f"{os.fspath(path)}: {problem}", hint=hint)


def header_digest(meta):
    """SHA-256 (hex) of a header's fields, ``header_sha256`` left out, as sorted-key JSON."""
    rest = {key: value for key, value in meta.items() if key != "header_sha256"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def _count(value):
    """A JSON number that must be a non-negative integer (not a float, not a bool)."""
    if type(value) is not int or value < 0:
        raise TypeError(f"expected a non-negative integer, got {value!r}")
    return value


def open_dataset(path: str | os.PathLike[str]) -> DatasetFile:
    """Open a dataset file written by :func:`write_dataset` / :class:`DatasetWriter`.

    Reads and checks the 4 KiB header only; the rows stay on disk until used. Raises
    :class:`DatasetError` for a file that is not a dataset file, has a damaged header, or whose
    size differs from what the header declares (truncated or padded), FileNotFoundError if
    there is no file.
    """
    return DatasetFile(path)


class DatasetFile:
    """A read-only view of a dataset file; nothing is read until rows are asked for.

    Attributes: ``path``, ``n_samples``, ``n_features``, ``sample_shape``, ``dtype`` (of X),
    ``label_dtype``, ``classes`` (sorted distinct labels), ``nbytes`` (of the file). ``X`` and
    ``y`` map the whole file (random access; the pages read stay resident while the array
    lives); :meth:`chunks` maps one block of rows at a time, for streaming.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        # absolute: a Dask worker started elsewhere must find the same file
        self.path = os.path.abspath(os.fspath(path))
        with open(self.path, "rb") as f:
            stat = os.fstat(f.fileno())
            head = f.read(DATA_OFFSET)
            self._identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
            self.nbytes = stat.st_size
            meta = self._parse(head)
            f.seek(meta["classes"]["offset"])
            raw = f.read(meta["classes"]["nbytes"])
        if hashlib.sha256(raw).hexdigest() != meta["classes"]["sha256"]:
            _fail(
                self.path,
                "the classes section does not match its SHA-256 in the header: "
                "the file is corrupt",
            )
        self.n_samples = meta["n_samples"]
        self.n_features = meta["n_features"]
        self.sample_shape = tuple(meta["sample_shape"])
        self.dtype = np.dtype(meta["X"]["dtype"])
        self.label_dtype = np.dtype(meta["y"]["dtype"])
        self.classes = np.frombuffer(raw, dtype=self.label_dtype)
        self._x = meta["X"]
        self._y = meta["y"]
        self.row_bytes = self.n_features * self.dtype.itemsize

    def _parse(self, head):
        path = self.path
        again = "copy it again or re-create it with fastreg.datasets.write_dataset"
        if len(head) < len(MAGIC) and MAGIC.startswith(head):
            _fail(path, f"file truncated: {len(head)} bytes, not even a header", again)
        if head[: len(MAGIC)] != MAGIC:
            _fail(
                path,
                "not a fastreg dataset file (bad magic number)",
                "write dataset files with fastreg.datasets.write_dataset",
            )
        if len(head) < DATA_OFFSET:
            _fail(
                path,
                f"file truncated inside its {DATA_OFFSET}-byte header ({len(head)} bytes)",
                again,
            )
        _, version, length = _PREAMBLE.unpack_from(head)
        if version != FORMAT_VERSION:
            _fail(
                path,
                f"dataset format version {version}; this fastreg reads version {FORMAT_VERSION}",
                "upgrade fastreg, or re-create the file",
            )
        try:
            if _PREAMBLE.size + length > DATA_OFFSET:
                raise ValueError(f"header length {length} exceeds the header block")
            meta = json.loads(head[_PREAMBLE.size : _PREAMBLE.size + length])
            digest_ok = meta["header_sha256"] == header_digest(meta)
            n, d, k = (_count(meta[key]) for key in ("n_samples", "n_features", "n_classes"))
            shape = [_count(size) for size in meta["sample_shape"]]
            x, y, c = meta["X"], meta["y"], meta["classes"]
            for section in (x, y, c):
                _count(section["offset"]), _count(section["nbytes"]), str(section["sha256"])
            x_dtype, y_dtype = np.dtype(x["dtype"]), np.dtype(y["dtype"])
            consistent = (
                n >= 1
                and d >= 1
                and 1 <= k <= n
                and min(shape, default=0) >= 1
                and math.prod(shape) == d  # Python integers: no wrap-around
                and x_dtype.newbyteorder("=") in X_DTYPES
                and y_dtype.kind in "biu"
                and np.dtype(c["dtype"]) == y_dtype
                and x["offset"] == DATA_OFFSET
                and x["nbytes"] == n * d * x_dtype.itemsize
                and y["offset"] >= x["offset"] + x["nbytes"]
                and y["nbytes"] == n * y_dtype.itemsize
                and c["offset"] >= y["offset"] + y["nbytes"]
                and c["nbytes"] == k * y_dtype.itemsize
            )
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            _fail(path, f"damaged header ({type(exc).__name__}: {exc})")
        if not digest_ok:
            _fail(path, "damaged header: it does not match its own SHA-256 (edited or corrupt)")
        if not consistent:
            _fail(path, "damaged header: its sizes and offsets do not agree")
        expected = c["offset"] + c["nbytes"]
        if self.nbytes != expected:
            what = "truncated" if self.nbytes < expected else "has trailing bytes"
            _fail(
                path,
                f"file {what}: the header declares {n} samples x {d} features of "
                f"{x_dtype.name} plus labels and classes, {expected} bytes in all, but "
                f"the file has {self.nbytes}",
                again,
            )
        return meta

    def __len__(self) -> int:
        return self.n_samples

    def __repr__(self) -> str:
        return (
            f"DatasetFile({self.path!r}, n_samples={self.n_samples}, "
            f"n_features={self.n_features}, dtype={self.dtype.name}, "
            f"classes={self.classes.tolist()})"
        )

    # ------------------------------------------------------------------ mapping
    def _map(self, offset, count, dtype, f):
        """A read-only array of ``count`` elements at byte ``offset``, backed by a new mapping.

        The mapping is released when the array (and every view of it) is gone, so its pages
        leave the process's resident set: that is what bounds memory when streaming.
        """
        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        length = offset - start + count * dtype.itemsize
        mapped = mmap.mmap(f.fileno(), length, access=mmap.ACCESS_READ, offset=start)
        if hasattr(mapped, "madvise"):  # read ahead: a chunk is read front to back
            mapped.madvise(mmap.MADV_WILLNEED)
        return np.frombuffer(mapped, dtype=dtype, count=count, offset=offset - start)

    def _checked_file(self):
        """Open the file and make sure it is still the one that was opened (same size)."""
        f = open(self.path, "rb")
        stat = os.fstat(f.fileno())
        if (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns) != self._identity:
            f.close()
            _fail(
                self.path,
                f"the file changed since it was opened (now {stat.st_size} bytes, "
                f"was {self._identity[2]}); a truncated or rewritten file cannot "
                "be read safely",
                "open it again with open_dataset",
            )
        return f

    def rows(self, start: int, stop: int) -> tuple[NDArray[Any], NDArray[Any]]:
        """``(X[start:stop], y[start:stop])``, freshly mapped (X as (rows, n_features))."""
        start, stop, _ = slice(start, stop).indices(self.n_samples)
        count = max(0, stop - start)
        if count == 0:
            return (np.empty((0, self.n_features), self.dtype), np.empty(0, self.label_dtype))
        with self._checked_file() as f:
            X = self._map(
                self._x["offset"] + start * self.row_bytes, count * self.n_features, self.dtype, f
            ).reshape(count, self.n_features)
            y = self._map(
                self._y["offset"] + start * self.label_dtype.itemsize, count, self.label_dtype, f
            )
        return X, y

    @functools.cached_property
    def X(self) -> NDArray[Any]:
        """All rows, (n_samples, n_features), read-only, memory-mapped."""
        return self.rows(0, self.n_samples)[0]

    @functools.cached_property
    def y(self) -> NDArray[Any]:
        """All labels, (n_samples,), read-only, memory-mapped."""
        with self._checked_file() as f:
            return self._map(self._y["offset"], self.n_samples, self.label_dtype, f)

    def chunk_rows_for(self, chunk_bytes: int) -> int:
        """Rows per chunk so that one chunk of X takes at most ``chunk_bytes`` (at least 1)."""
        return max(1, int(chunk_bytes) // self.row_bytes)

    def _chunk_rows(self, chunk_rows, chunk_bytes):
        if chunk_rows is not None and chunk_bytes is not None:
            raise InvalidParameterError(
                "give chunk_rows or chunk_bytes, not both", param="chunk_rows"
            )
        for name, value in (("chunk_rows", chunk_rows), ("chunk_bytes", chunk_bytes)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1
            ):
                raise InvalidParameterError(
                    f"{name} must be a positive integer, got {value!r}", param=name
                )
        if chunk_rows is None:
            chunk_rows = self.chunk_rows_for(
                DEFAULT_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
            )
        return int(chunk_rows)

    def chunks(
        self,
        chunk_rows: int | None = None,
        *,
        chunk_bytes: int | None = None,
        shuffle: bool = False,
        random_state: int | np.random.Generator | None = None,
    ) -> Iterator[tuple[NDArray[Any], NDArray[Any]]]:
        """Yield ``(X_chunk, y_chunk)`` over the file, each chunk its own read-only mapping.

        Give ``chunk_rows`` or ``chunk_bytes`` (default 64 MiB of X). With ``shuffle`` the
        chunks come in a random order drawn from ``random_state`` (rows inside a chunk keep
        their order: ``partial_fit`` shuffles those itself). Memory: the chunk being used and
        the next one while it is mapped (drop references to old chunks to release them).

        The file is checked before each chunk: if it was truncated or replaced meanwhile,
        :class:`DatasetError` is raised instead of reading beyond its end. What no check can
        catch is a file truncated in place while a chunk is being read: the operating system
        then kills the process with SIGBUS. Never shorten a file that is being trained on;
        replacing it is safe (``DatasetWriter`` writes a new file and renames it, and a
        mapping keeps the old contents).
        """
        chunk_rows = self._chunk_rows(chunk_rows, chunk_bytes)
        starts = np.arange(0, self.n_samples, chunk_rows)
        if shuffle:
            starts = np.random.default_rng(random_state).permutation(starts)
        for start in starts:
            chunk = self.rows(int(start), int(start) + chunk_rows)
            yield chunk
            del chunk  # this generator no longer holds the mapping

    def to_dask(
        self, chunk_rows: int | None = None, *, chunk_bytes: int | None = None
    ) -> tuple[dask.array.Array, dask.array.Array]:
        """``(X, y)`` as Dask arrays whose blocks are mapped from the file by the workers.

        Each block is a task that opens the file by its path and maps its rows, so the task
        graph carries a path and two row numbers, never data, and a worker reads only the
        blocks it computes. The file must be readable at the same path by every worker (a
        local cluster, or a shared file system). A worker that finds a different file there
        (other contents by the header's digests, or another size) raises
        :class:`DatasetError`. Blocks as in :meth:`chunks` (default 64 MiB of X); needs dask.
        """
        import dask
        import dask.array as da

        rows = self._chunk_rows(chunk_rows, chunk_bytes)
        expect = self._fingerprint()
        load = dask.delayed(_mapped_block, pure=True)
        blocks = []
        for which, dtype, shape in (
            ("X", self.dtype, (self.n_features,)),
            ("y", self.label_dtype, ()),
        ):
            blocks.append(
                da.concatenate(
                    [
                        da.from_delayed(
                            load(self.path, expect, lo, min(lo + rows, self.n_samples), which),
                            shape=(min(lo + rows, self.n_samples) - lo, *shape),
                            dtype=dtype,
                        )
                        for lo in range(0, self.n_samples, rows)
                    ]
                )
            )
        return tuple(blocks)

    def _fingerprint(self):
        """What identifies the file's contents anywhere: its size and the header's digests."""
        return (self.nbytes, self._x["sha256"], self._y["sha256"])

    # ------------------------------------------------------------------ integrity
    def verify(self) -> Self:
        """Check the SHA-256 of X and y against the header (reads the file once, in 16 MB
        blocks, without mapping it). Raises :class:`DatasetError` on a mismatch; returns self."""
        with self._checked_file() as f:
            for name, section in (("X", self._x), ("y", self._y)):
                f.seek(section["offset"])
                digest = hashlib.sha256()
                left = section["nbytes"]
                while left:
                    block = f.read(min(left, _IO_BLOCK))
                    if not block:
                        break
                    digest.update(block)
                    left -= len(block)
                if digest.hexdigest() != section["sha256"]:
                    _fail(
                        self.path,
                        f"the {name} section does not match its SHA-256 in the "
                        "header: the file is corrupt",
                    )
        return self


def _mapped_block(path, fingerprint, start, stop, which):
    """Task of :meth:`DatasetFile.to_dask`: rows ``start:stop`` of X or y, mapped on the worker."""
    try:
        data = DatasetFile(path)
    except FileNotFoundError:
        _fail(
            path,
            "no such file on this Dask worker",
            "every worker must see the file at "
            "this path: a local cluster, or a file system they all mount there",
        )
    if data._fingerprint() != fingerprint:
        _fail(
            path,
            "this is not the file the Dask array was made from (its size or checksums differ)",
            "make the array again with open_dataset(path).to_dask()",
        )
    return data.rows(start, stop)[0 if which == "X" else 1]
