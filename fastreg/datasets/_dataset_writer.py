"""Write dataset files (the format is described in :mod:`fastreg.datasets._dataset_file`).

:class:`DatasetWriter` streams rows chunk by chunk into a temporary file beside the destination
(labels into a second one), checks each chunk before any of it counts, and on ``close`` puts the
labels after X, writes the header, syncs and renames the file into place; :func:`write_dataset`
does that for whole arrays, memory-mapped ones included, 16 MB at a time. Temporary files of a
killed writer are removed by the next writer in the folder (the package's one rule for them:
:mod:`fastreg._litter`).
"""

import hashlib
import json
import math
import os
import tempfile
import weakref

import numpy as np

from .. import _litter
from ..exceptions import InvalidParameterError
from ._dataset_file import (
    _IO_BLOCK,
    _PREAMBLE,
    DATA_OFFSET,
    FORMAT_VERSION,
    LABEL_ALIGN,
    MAGIC,
    X_DTYPES,
    header_digest,
)

TEMP_SUFFIXES = (".partial", ".labels")  # the rows' and the labels' temporary files
#: How 0.1.0 named them (``.<name>.<8 random characters>.partial``): removed after a day.
LEGACY_TEMPS = tuple(_litter.mkstemp_glob(".*.", suffix) for suffix in TEMP_SUFFIXES)


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
    if dtype.newbyteorder("=") not in X_DTYPES:
        raise InvalidParameterError(
            f"a dataset file stores X as uint8, float32 or float64 (what the kernels train on "
            f"without converting), got {dtype}",
            param="dtype",
            hint="convert first, e.g. X.astype(np.float32)",
        )
    return _little(dtype)


def _check_label_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind not in "biu":
        raise InvalidParameterError(
            f"label_dtype must be an integer (or bool) dtype, got {dtype}",
            param="label_dtype",
            hint="dataset files store integer class labels",
        )
    return _little(dtype)


def _label_array(y, n_rows, label_dtype):
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n_rows:
        raise InvalidParameterError(
            f"y must be 1-d with one label per row of X ({n_rows}), got shape {y.shape}", param="y"
        )
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "biu":
        raise InvalidParameterError(
            f"dataset files store integer class labels, got dtype {y.dtype}",
            param="y",
            hint="map other labels to integers first: classes, y_int = np.unique(y, "
            "return_inverse=True)",
        )
    if label_dtype is None:
        return np.ascontiguousarray(y, dtype=_little(y.dtype))
    stored = np.ascontiguousarray(y, dtype=label_dtype)
    if not np.array_equal(stored, y):
        raise InvalidParameterError(
            f"labels {np.unique(y[stored != y])[:5].tolist()} do not fit the file's label dtype "
            f"{label_dtype}",
            param="y",
            hint="create the DatasetWriter with label_dtype=np.int64",
        )
    return stored


def _checked_block(source, dtype):
    """``source`` rows as ``dtype``, C-contiguous; ValueError if that changes what they say."""
    if source.dtype.kind == "c":
        raise InvalidParameterError(
            f"X is complex ({source.dtype}); nothing of this chunk was written",
            param="X",
            hint="store the real part or the magnitude explicitly",
        )
    if source.dtype.kind == "f" and not np.isfinite(source).all():
        raise InvalidParameterError(
            "X contains NaN or infinite values; nothing of this chunk was written",
            param="X",
            hint="remove or impute them before writing",
        )
    with np.errstate(over="ignore", invalid="ignore"):  # both are detected just below
        block = np.ascontiguousarray(source, dtype=dtype)
    if dtype.kind == "u" and source.dtype != dtype and not np.array_equal(block, source):
        raise InvalidParameterError(
            f"X holds values that uint8 cannot store exactly (it takes "
            f"integers 0..255, X is {source.dtype}); nothing of this "
            "chunk was written",
            param="X",
            hint="convert to float32 first (X.astype(np.float32)) to keep them",
        )
    if dtype.kind == "f" and not np.isfinite(block).all():
        raise InvalidParameterError(
            f"X holds values beyond the range of {dtype.name}; nothing of this chunk was written",
            param="X",
            hint="store it as float64",
        )
    return block


def _discard(files):
    """Close and delete the temporary files (the finaliser of an unfinished writer)."""
    for f in files:
        f.close()
        if os.path.exists(f.name):
            os.unlink(f.name)


class DatasetWriter:
    """Write a dataset file chunk by chunk: ``append(X, y)`` any number of times, then ``close``.

    Parameters
    ----------
    path : destination file (conventionally ``.frd``).
    n_features : int, features per row (for image stacks, the pixels per image).
    dtype : uint8, float32 or float64, the stored type of X. Appended rows are converted to it:
        to uint8 only when the values are integers 0..255, to floats with rounding to the stored
        precision (a value beyond float32's range is refused); complex, NaN and inf are refused.
    label_dtype : integer dtype of the stored labels; None takes that of the first ``y``.
    sample_shape : shape of one sample, recorded for readers (default ``(n_features,)``).
    overwrite : replace an existing file at ``path`` (only once the new one is complete).

    Used as a context manager, the file is completed on a normal exit and abandoned (no file
    written, an existing one kept) when the block raises. Rows are streamed to a temporary file
    beside ``path``; memory use is one appended chunk. A writer dropped without ``close`` (or
    left by an interrupted program) deletes its temporary files when it is garbage-collected or
    at interpreter exit; those of a killed process (named ``.<name>.frw-<host>-<pid>-...``) are
    removed by the next writer in that folder once that process is gone (see
    :mod:`fastreg._litter` for the exact rule).
    """

    def __init__(
        self,
        path,
        n_features,
        dtype=np.uint8,
        *,
        label_dtype=None,
        sample_shape=None,
        overwrite=False,
    ):
        self.path = os.fspath(path)
        self.n_features = int(n_features)
        if self.n_features < 1:
            raise InvalidParameterError(
                f"n_features must be >= 1, got {n_features}", param="n_features"
            )
        self.dtype = _x_dtype(dtype)
        self.label_dtype = None if label_dtype is None else _check_label_dtype(label_dtype)
        self.sample_shape = tuple(int(s) for s in (sample_shape or (self.n_features,)))
        if math.prod(self.sample_shape) != self.n_features or min(self.sample_shape) < 1:
            raise InvalidParameterError(
                f"sample_shape {self.sample_shape} does not hold {self.n_features} features",
                param="sample_shape",
            )
        if os.path.exists(self.path) and not overwrite:
            raise FileExistsError(f"{self.path} exists; pass overwrite=True to replace it")
        folder = os.path.dirname(os.path.abspath(self.path))
        prefix = _litter.temp_prefix(os.path.basename(self.path))
        _litter.remove_stale(folder, TEMP_SUFFIXES, legacy=LEGACY_TEMPS)
        self._x_file = tempfile.NamedTemporaryFile(
            dir=folder, prefix=prefix, suffix=".partial", delete=False
        )
        self._y_file = tempfile.NamedTemporaryFile(
            dir=folder, prefix=prefix, suffix=".labels", delete=False
        )
        self._discard = weakref.finalize(self, _discard, (self._x_file, self._y_file))
        self._x_file.write(b"\0" * DATA_OFFSET)
        self._x_hash, self._y_hash = hashlib.sha256(), hashlib.sha256()
        self._classes = None
        self.n_samples = 0
        self._state = "open"

    def _require_open(self):
        if self._state == "aborted":
            raise ValueError(
                f"{self.path}: the writer was abandoned (after an error, or "
                "abort()); nothing was written: write the data set again"
            )
        if self._state == "closed":
            raise ValueError(f"{self.path}: the writer is closed; open a new DatasetWriter")

    def append(self, X, y):
        """Add the rows ``X`` (n, n_features), or (n, *sample_shape), and their labels ``y``.

        A chunk with the wrong number of features, non-finite or complex values, values that
        the stored dtype cannot hold, or non-integer labels raises ValueError and nothing of it
        is written (nor of a chunk whose write fails, a full disk say): the writer stays usable.
        """
        self._require_open()
        X = np.asarray(X)
        if X.ndim < 2 or int(np.prod(X.shape[1:])) != self.n_features:
            raise InvalidParameterError(
                f"X must have shape (n, {self.n_features}) (or (n, "
                f"*{self.sample_shape})), got {X.shape}",
                param="X",
                hint="every chunk needs the same features",
            )
        n = X.shape[0]
        labels = _label_array(y, n, self.label_dtype)
        rows = X.reshape(n, self.n_features)
        step = max(1, _IO_BLOCK // (self.n_features * self.dtype.itemsize))
        position, label_position = self._x_file.tell(), self._y_file.tell()
        x_hash = self._x_hash.copy()
        try:  # convert, check and write block by block: memory stays at one block
            for start in range(0, n, step):
                block = _checked_block(rows[start : start + step], self.dtype)
                self._x_file.write(block.data)
                x_hash.update(block.data)
            self._y_file.write(labels.data)
        except BaseException:
            # a bad block or a failed write leaves no rows of this chunk behind
            for f, at in ((self._x_file, position), (self._y_file, label_position)):
                f.seek(at)
                f.truncate(at)
            raise
        self.label_dtype = labels.dtype
        self._x_hash = x_hash
        self._y_hash.update(labels.data)
        present = np.unique(labels)
        self._classes = present if self._classes is None else np.union1d(self._classes, present)
        self.n_samples += n

    def close(self):
        """Finish the file: labels and classes after X, the header, fsync, rename into place.

        Returns the path. Closing a finished writer again returns the path; closing one that
        failed or was aborted raises (nothing was written)."""
        if self._state == "closed":
            return self.path
        self._require_open()
        if self.n_samples == 0:
            self.abort()
            raise ValueError(
                f"{self.path}: no rows were appended; a dataset file needs at least one sample"
            )
        out = self._x_file
        try:
            x_end = out.tell()
            y_offset = _pad(out, x_end)
            self._y_file.flush()
            self._y_file.seek(0)
            while block := self._y_file.read(_IO_BLOCK):
                out.write(block)
            y_end = out.tell()
            classes = np.ascontiguousarray(self._classes, dtype=self.label_dtype)
            c_offset = _pad(out, y_end)
            out.write(classes.data)
            header = self._header(
                {
                    "X": (DATA_OFFSET, x_end - DATA_OFFSET, self._x_hash.hexdigest()),
                    "y": (y_offset, y_end - y_offset, self._y_hash.hexdigest()),
                    "classes": (
                        c_offset,
                        classes.nbytes,
                        hashlib.sha256(classes.data).hexdigest(),
                    ),
                }
            )
            out.seek(0)
            out.write(header)
            out.flush()
            os.fchmod(out.fileno(), 0o666 & ~_umask())  # as open() would create it
            os.fsync(out.fileno())
            out.close()
            os.replace(out.name, self.path)
        except BaseException:
            self.abort()
            raise
        self._discard()  # the labels' temporary file; the rows' one is now self.path
        self._state = "closed"
        return self.path

    def _header(self, sections):
        meta = {
            "format": "fastreg-dataset",
            "n_samples": self.n_samples,
            "n_features": self.n_features,
            "sample_shape": list(self.sample_shape),
            "n_classes": int(self._classes.shape[0]),
        }
        for name, (offset, nbytes, digest) in sections.items():
            dtype = self.dtype if name == "X" else self.label_dtype
            meta[name] = {"dtype": dtype.str, "offset": offset, "nbytes": nbytes, "sha256": digest}
        meta["header_sha256"] = header_digest(meta)
        text = json.dumps(meta).encode()
        head = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(text)) + text
        return head + b" " * (DATA_OFFSET - len(head))  # a few hundred bytes: always fits

    def abort(self):
        """Drop everything written so far; an existing file at ``path`` is left as it was."""
        self._discard()
        self._state = "aborted"

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


def _pad(out, end):
    """Zero bytes up to the next multiple of LABEL_ALIGN after ``end``; returns that offset."""
    offset = -(-end // LABEL_ALIGN) * LABEL_ALIGN
    out.write(b"\0" * (offset - end))
    return offset


def write_dataset(path, X, y, *, overwrite=False, label_dtype=None):
    """Write ``X`` (n, ...) and labels ``y`` (n,) to a dataset file; return the path.

    ``X`` may be memory-mapped (an IDX file from :func:`fastreg.datasets.read_idx`, say): it
    is copied in blocks of 16 MB, so converting a file larger than RAM needs no more memory
    than that. uint8, float32 and float64 (either byte order) are stored as they are; other
    integer types as uint8 when every value is 0..255 (else convert to float32 first), other
    floats as float64. Image stacks are flattened per sample, their shape kept as
    ``sample_shape``.
    """
    X = np.asarray(X)
    if X.ndim < 2 or X.shape[0] == 0 or X[0].size == 0:
        raise InvalidParameterError(
            f"X must have shape (n_samples, n_features, ...) with at "
            f"least one sample and one feature, got {X.shape}",
            param="X",
        )
    dtype = X.dtype.newbyteorder("=")
    if dtype not in X_DTYPES:
        dtype = np.uint8 if dtype.kind in "biu" else np.float64
    step = max(1, _IO_BLOCK // max(1, X[0].nbytes))
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise InvalidParameterError(
            f"y must be 1-d with one label per sample of X ({X.shape[0]}), got shape {y.shape}",
            param="y",
        )
    with DatasetWriter(
        path,
        int(np.prod(X.shape[1:])),
        dtype,
        label_dtype=label_dtype,
        sample_shape=X.shape[1:],
        overwrite=overwrite,
    ) as out:
        for start in range(0, X.shape[0], step):
            out.append(X[start : start + step], y[start : start + step])
    return out.path
