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

The JSON header holds ``n_samples``, ``n_features``, ``sample_shape`` (the shape of one sample
as written, e.g. [28, 28]), ``classes`` (the sorted distinct labels, so ``partial_fit`` can be
given every class before the first chunk), and for each of X and y its ``dtype``, ``offset``,
``nbytes`` and ``sha256``. A file is written under a temporary name in the destination folder
and renamed into place when complete, so a reader never sees a half-written file and a failed
conversion leaves any previous file untouched. Opening checks the magic, the header and that
the file size is exactly what the header declares (a truncated copy is rejected before any
page is read); :meth:`DatasetFile.verify` also checks the digests, reading the file once.
"""
import functools
import hashlib
import json
import mmap
import os
import struct
import tempfile

import numpy as np

from ._idx import DatasetError

MAGIC = b"\x93FASTREG"
FORMAT_VERSION = 1
DATA_OFFSET = 4096            # X starts page-aligned, so its chunks map without a slack page
LABEL_ALIGN = 64
DEFAULT_CHUNK_BYTES = 64 << 20
X_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64))
_PREAMBLE = struct.Struct("<8sII")
_IO_BLOCK = 16 << 20          # bytes per read/write when copying or hashing


def _fail(path, problem, hint="Re-create it with fastreg.datasets.write_dataset"):
    raise DatasetError(f"{os.fspath(path)}: {problem}. {hint}")


def _little(dtype):
    """``dtype`` stored little-endian (the file's byte order)."""
    dtype = np.dtype(dtype)
    return dtype.newbyteorder("<") if dtype.itemsize > 1 else dtype


def _x_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in X_DTYPES:
        raise ValueError(
            f"a dataset file stores X as uint8, float32 or float64 (what the kernels train on "
            f"without converting), got {dtype}; convert first, e.g. X.astype(np.float32)"
        )
    return _little(dtype)


def _label_array(y, n_rows, label_dtype):
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n_rows:
        raise ValueError(f"y must be 1-d with one label per row of X ({n_rows}), got shape "
                         f"{y.shape}")
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "biu":
        raise ValueError(
            f"dataset files store integer class labels, got dtype {y.dtype}; map other labels "
            "to integers first: classes, y_int = np.unique(y, return_inverse=True)"
        )
    if label_dtype is None:
        return y
    stored = y.astype(label_dtype)
    if not np.array_equal(stored, y):
        raise ValueError(
            f"labels {np.unique(y[stored != y])[:5].tolist()} do not fit the file's label dtype "
            f"{label_dtype}; create the DatasetWriter with label_dtype=np.int64"
        )
    return stored


class DatasetWriter:
    """Write a dataset file chunk by chunk: ``append(X, y)`` any number of times, then ``close``.

    Parameters
    ----------
    path : destination file (conventionally ``.frd``).
    n_features : int, features per row (for image stacks, the pixels per image).
    dtype : uint8, float32 or float64, the stored type of X. Appended rows are converted to it
        when that loses nothing (checked), else rejected.
    label_dtype : integer dtype of the stored labels; None takes that of the first ``y``.
    sample_shape : shape of one sample, recorded for readers (default ``(n_features,)``).
    overwrite : replace an existing file at ``path`` (only once the new one is complete).

    Used as a context manager, the file is completed on a normal exit and abandoned (no file
    written, an existing one kept) when the block raises. Rows are streamed to a temporary file
    beside ``path``; memory use is one appended chunk.
    """

    def __init__(self, path, n_features, dtype=np.uint8, *, label_dtype=None,
                 sample_shape=None, overwrite=False):
        self.path = os.fspath(path)
        self.n_features = int(n_features)
        if self.n_features < 1:
            raise ValueError(f"n_features must be >= 1, got {n_features}")
        self.dtype = _x_dtype(dtype)
        self.label_dtype = None if label_dtype is None else np.dtype(label_dtype)
        self.sample_shape = tuple(int(s) for s in (sample_shape or (self.n_features,)))
        if int(np.prod(self.sample_shape)) != self.n_features:
            raise ValueError(f"sample_shape {self.sample_shape} does not hold {self.n_features} "
                             "features")
        if os.path.exists(self.path) and not overwrite:
            raise FileExistsError(f"{self.path} exists; pass overwrite=True to replace it")
        folder = os.path.dirname(os.path.abspath(self.path))
        base = os.path.basename(self.path)
        self._x_file = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{base}.",
                                                   suffix=".partial", delete=False)
        self._y_file = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{base}.",
                                                   suffix=".labels", delete=False)
        self._x_file.write(b"\0" * DATA_OFFSET)
        self._x_hash, self._y_hash = hashlib.sha256(), hashlib.sha256()
        self._classes = None
        self.n_samples = 0
        self._open = True

    def append(self, X, y):
        """Add the rows ``X`` (n, n_features), or (n, *sample_shape), and their labels ``y``.

        A chunk with the wrong number of features, non-finite values, values that the stored
        dtype cannot hold, or non-integer labels raises ValueError and is not written: the
        writer stays usable.
        """
        if not self._open:
            raise ValueError(f"{self.path}: the writer is closed")
        X = np.asarray(X)
        if X.ndim < 2 or int(np.prod(X.shape[1:])) != self.n_features:
            raise ValueError(f"X must have shape (n, {self.n_features}) (or (n, "
                             f"*{self.sample_shape})), got {X.shape}; every chunk needs the "
                             "same features")
        n = X.shape[0]
        labels = _label_array(y, n, self.label_dtype)
        rows = X.reshape(n, self.n_features)
        step = max(1, _IO_BLOCK // (self.n_features * self.dtype.itemsize))
        position, label_position = self._x_file.tell(), self._y_file.tell()
        x_hash = self._x_hash.copy()
        try:  # convert, check and write block by block: memory stays at one block
            for start in range(0, n, step):
                source = rows[start:start + step]
                block = np.ascontiguousarray(source, dtype=self.dtype)
                if self.dtype.kind == "u" and source.dtype != self.dtype and not np.array_equal(
                        block, source):
                    raise ValueError(f"X holds values that {self.dtype} cannot store exactly "
                                     "(uint8 takes integers 0..255); nothing of this chunk "
                                     "was written")
                if block.dtype.kind == "f" and not np.isfinite(block).all():
                    raise ValueError("X contains NaN or infinite values; remove or impute them "
                                     "before writing (nothing of this chunk was written)")
                self._x_file.write(block.data)
                x_hash.update(block.data)
            stored = np.ascontiguousarray(labels, dtype=_little(labels.dtype if self.label_dtype
                                                                is None else self.label_dtype))
            self._y_file.write(stored.data)
        except BaseException:
            # a bad block or a failed write (disk full) leaves no rows of this chunk behind
            for f, at in ((self._x_file, position), (self._y_file, label_position)):
                f.seek(at)
                f.truncate(at)
            raise
        self.label_dtype = stored.dtype
        self._x_hash = x_hash
        self._y_hash.update(stored.data)
        present = np.unique(labels)
        self._classes = present if self._classes is None else np.union1d(self._classes, present)
        self.n_samples += n

    def close(self):
        """Finish the file: labels after X, the header, fsync, rename into place. Returns path."""
        if not self._open:
            return self.path
        if self.n_samples == 0:
            self.abort()
            raise ValueError(f"{self.path}: no rows were appended; a dataset file needs at "
                             "least one sample")
        try:
            x_end = self._x_file.tell()
            y_offset = -(-x_end // LABEL_ALIGN) * LABEL_ALIGN
            self._x_file.write(b"\0" * (y_offset - x_end))
            self._y_file.flush()
            self._y_file.seek(0)
            while block := self._y_file.read(_IO_BLOCK):
                self._x_file.write(block)
            y_nbytes = self._x_file.tell() - y_offset
            header = self._header(x_end - DATA_OFFSET, y_offset, y_nbytes)
            self._x_file.seek(0)
            self._x_file.write(header)
            self._x_file.flush()
            os.fsync(self._x_file.fileno())
            self._x_file.close()
            os.replace(self._x_file.name, self.path)
        except BaseException:
            self.abort()
            raise
        self._y_file.close()
        os.unlink(self._y_file.name)
        self._open = False
        return self.path

    def _header(self, x_nbytes, y_offset, y_nbytes):
        meta = {
            "format": "fastreg-dataset",
            "n_samples": self.n_samples,
            "n_features": self.n_features,
            "sample_shape": list(self.sample_shape),
            "classes": self._classes.tolist(),
            "X": {"dtype": self.dtype.str, "offset": DATA_OFFSET, "nbytes": x_nbytes,
                  "sha256": self._x_hash.hexdigest()},
            "y": {"dtype": self.label_dtype.str,
                  "offset": y_offset, "nbytes": y_nbytes, "sha256": self._y_hash.hexdigest()},
        }
        text = json.dumps(meta).encode()
        if _PREAMBLE.size + len(text) > DATA_OFFSET:
            raise ValueError(f"{len(meta['classes'])} classes do not fit the {DATA_OFFSET}-byte "
                             "header; map the labels to 0..K-1 first")
        head = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(text)) + text
        return head + b" " * (DATA_OFFSET - len(head))

    def abort(self):
        """Drop everything written so far; an existing file at ``path`` is left as it was."""
        for f in (self._x_file, self._y_file):
            f.close()
            if os.path.exists(f.name):
                os.unlink(f.name)
        self._open = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


def write_dataset(path, X, y, *, overwrite=False, label_dtype=None):
    """Write ``X`` (n, ...) and labels ``y`` (n,) to a dataset file; return the path.

    ``X`` may be memory-mapped (an IDX file from :func:`fastreg.datasets.read_idx`, say): it
    is copied in blocks of 16 MB, so converting a file larger than RAM needs no more memory
    than that. uint8, float32 and float64 are stored as they are; other integer types as uint8
    when every value is 0..255, other floats as float64. Image stacks are flattened per sample,
    their shape kept as ``sample_shape``.
    """
    X = np.asarray(X)
    if X.ndim < 2 or X.shape[0] == 0 or X[0].size == 0:
        raise ValueError(f"X must have shape (n_samples, n_features, ...) with at least one "
                         f"sample and one feature, got {X.shape}")
    dtype = X.dtype
    if dtype not in X_DTYPES:
        dtype = np.uint8 if dtype.kind in "biu" else np.float64
    step = max(1, _IO_BLOCK // max(1, X[0].nbytes))
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must be 1-d with one label per sample of X ({X.shape[0]}), got "
                         f"shape {y.shape}")
    with DatasetWriter(path, int(np.prod(X.shape[1:])), dtype, label_dtype=label_dtype,
                       sample_shape=X.shape[1:], overwrite=overwrite) as out:
        for start in range(0, X.shape[0], step):
            out.append(X[start:start + step], y[start:start + step])
    return out.path


def open_dataset(path):
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

    def __init__(self, path):
        self.path = os.fspath(path)
        with open(self.path, "rb") as f:
            stat = os.fstat(f.fileno())
            head = f.read(DATA_OFFSET)
        self._identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        self.nbytes = stat.st_size
        meta = self._parse(head)
        self.n_samples = meta["n_samples"]
        self.n_features = meta["n_features"]
        self.sample_shape = tuple(meta["sample_shape"])
        self.dtype = np.dtype(meta["X"]["dtype"])
        self.label_dtype = np.dtype(meta["y"]["dtype"])
        self.classes = meta["classes"]
        self._x = meta["X"]
        self._y = meta["y"]
        self.row_bytes = self.n_features * self.dtype.itemsize

    def _parse(self, head):
        path = self.path
        again = "Copy it again or re-create it with fastreg.datasets.write_dataset"
        if len(head) < len(MAGIC) and MAGIC.startswith(head):
            _fail(path, f"file truncated: {len(head)} bytes, not even a header", again)
        if head[:len(MAGIC)] != MAGIC:
            _fail(path, "not a fastreg dataset file (bad magic number)",
                  "Write dataset files with fastreg.datasets.write_dataset")
        if len(head) < DATA_OFFSET:
            _fail(path, f"file truncated inside its {DATA_OFFSET}-byte header ({len(head)} "
                        "bytes)", again)
        _, version, length = _PREAMBLE.unpack_from(head)
        if version != FORMAT_VERSION:
            _fail(path, f"dataset format version {version}; this fastreg reads version "
                        f"{FORMAT_VERSION}", "Upgrade fastreg, or re-create the file")
        try:
            if _PREAMBLE.size + length > DATA_OFFSET:
                raise ValueError(f"header length {length} exceeds the header block")
            meta = json.loads(head[_PREAMBLE.size:_PREAMBLE.size + length])
            n, d = int(meta["n_samples"]), int(meta["n_features"])
            x, y = meta["X"], meta["y"]
            x_dtype, y_dtype = np.dtype(x["dtype"]), np.dtype(y["dtype"])
            meta["classes"] = np.asarray(meta["classes"], dtype=y_dtype)
            consistent = (
                n >= 1 and d >= 1 and x_dtype in X_DTYPES and y_dtype.kind in "biu"
                and x["offset"] == DATA_OFFSET and x["nbytes"] == n * d * x_dtype.itemsize
                and y["offset"] >= x["offset"] + x["nbytes"]
                and y["nbytes"] == n * y_dtype.itemsize
                and int(np.prod(meta["sample_shape"])) == d and meta["classes"].ndim == 1
            )
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            _fail(path, f"damaged header ({type(exc).__name__}: {exc})")
        if not consistent:
            _fail(path, "damaged header: its sizes and offsets do not agree")
        expected = y["offset"] + y["nbytes"]
        if self.nbytes != expected:
            what = "truncated" if self.nbytes < expected else "has trailing bytes"
            _fail(path, f"file {what}: the header declares {n} samples x {d} features of "
                        f"{x_dtype.name} plus labels, {expected} bytes in all, but the file has "
                        f"{self.nbytes}", again)
        return meta

    def __len__(self):
        return self.n_samples

    def __repr__(self):
        return (f"DatasetFile({self.path!r}, n_samples={self.n_samples}, "
                f"n_features={self.n_features}, dtype={self.dtype.name}, "
                f"classes={self.classes.tolist()})")

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
            _fail(self.path, f"the file changed since it was opened (now {stat.st_size} bytes, "
                             f"was {self._identity[2]}); a truncated or rewritten file cannot "
                             "be read safely", "Open it again with open_dataset")
        return f

    def rows(self, start, stop):
        """``(X[start:stop], y[start:stop])``, freshly mapped (X as (rows, n_features))."""
        start, stop, _ = slice(start, stop).indices(self.n_samples)
        count = max(0, stop - start)
        if count == 0:
            return (np.empty((0, self.n_features), self.dtype), np.empty(0, self.label_dtype))
        with self._checked_file() as f:
            X = self._map(self._x["offset"] + start * self.row_bytes, count * self.n_features,
                          self.dtype, f).reshape(count, self.n_features)
            y = self._map(self._y["offset"] + start * self.label_dtype.itemsize, count,
                          self.label_dtype, f)
        return X, y

    @functools.cached_property
    def X(self):
        """All rows, (n_samples, n_features), read-only, memory-mapped."""
        return self.rows(0, self.n_samples)[0]

    @functools.cached_property
    def y(self):
        """All labels, (n_samples,), read-only, memory-mapped."""
        with self._checked_file() as f:
            return self._map(self._y["offset"], self.n_samples, self.label_dtype, f)

    def chunk_rows_for(self, chunk_bytes):
        """Rows per chunk so that one chunk of X takes at most ``chunk_bytes`` (at least 1)."""
        return max(1, int(chunk_bytes) // self.row_bytes)

    def chunks(self, chunk_rows=None, *, chunk_bytes=None, shuffle=False, random_state=None):
        """Yield ``(X_chunk, y_chunk)`` over the file, each chunk its own read-only mapping.

        Give ``chunk_rows`` or ``chunk_bytes`` (default 64 MiB of X). With ``shuffle`` the
        chunks come in a random order drawn from ``random_state`` (rows inside a chunk keep
        their order: ``partial_fit`` shuffles those itself). Memory: the chunk being used and
        the next one while it is mapped (drop references to old chunks to release them). The
        file is checked before each chunk: if it was truncated or replaced meanwhile,
        :class:`DatasetError` is raised instead of reading beyond its end (which would kill
        the process with SIGBUS).
        """
        if chunk_rows is not None and chunk_bytes is not None:
            raise ValueError("give chunk_rows or chunk_bytes, not both")
        if chunk_rows is None:
            chunk_rows = self.chunk_rows_for(DEFAULT_CHUNK_BYTES if chunk_bytes is None
                                             else chunk_bytes)
        chunk_rows = int(chunk_rows)
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
        starts = np.arange(0, self.n_samples, chunk_rows)
        if shuffle:
            starts = np.random.default_rng(random_state).permutation(starts)
        for start in starts:
            chunk = self.rows(int(start), int(start) + chunk_rows)
            yield chunk
            del chunk  # this generator no longer holds the mapping

    # ------------------------------------------------------------------ integrity
    def verify(self):
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
                    _fail(self.path, f"the {name} section does not match its SHA-256 in the "
                                     "header: the file is corrupt")
        return self
