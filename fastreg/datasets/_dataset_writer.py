"""Write dataset files (the format is described in :mod:`fastreg.datasets._dataset_file`).

:class:`DatasetWriter` streams rows chunk by chunk into a temporary file beside the destination
(labels into a second one), checks each chunk before any of it counts, and on ``close`` puts the
labels after X, writes the header, syncs and renames the file into place; :func:`write_dataset`
does that for whole arrays, memory-mapped ones included, 16 MB at a time.
"""
import hashlib
import json
import os
import tempfile

import numpy as np

from ._dataset_file import (
    _IO_BLOCK,
    _PREAMBLE,
    DATA_OFFSET,
    FORMAT_VERSION,
    LABEL_ALIGN,
    MAGIC,
    X_DTYPES,
)


def _umask():
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
            os.fchmod(self._x_file.fileno(), 0o666 & ~_umask())  # as open() would create it
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
