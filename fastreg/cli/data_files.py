"""The user's own data for ``fastreg train --data FILE``: one whole file read into arrays.

The kind of file comes from its name (:data:`SUFFIXES`, case-insensitive):

``.frd``                      a dataset file of :func:`fastreg.datasets.write_dataset`: X as
                              stored (uint8 stays uint8, memory-mapped), y, and the image shape
                              when a sample is 2-D
``.npz``                      NumPy arrays ``X`` (rows x features, numbers) and ``y`` (one label
                              per row), optionally ``X_test`` and ``y_test`` (both or neither);
                              other members are ignored, never inflated
``.csv``, ``.csv.gz``          comma-separated text, one row per sample; the label column and the
                              header rule are those of :class:`fastreg.cli.csv_rows.CsvReader`
                              (default label column: the last; ``--target`` names another)
``.svm .svmlight .libsvm``    svmlight / libsvm text, read by scikit-learn's
                              ``load_svmlight_file`` (indices one-based unless an index 0
                              appears, as its ``zero_based="auto"``); X is a float64 CSR matrix
``.zarr`` (a folder holding   a zarr store of :func:`fastreg.datasets.write_zarr`, checked by
zarr.json, whatever its name) :func:`fastreg.datasets.open_zarr`, read whole chunk by chunk
                              (a store larger than memory is refused first); as .frd. Needs zarr

Labels are returned as read: integers stay integers, floats that are all whole numbers become
integers (``1.0`` -> ``1``), other floats stay floats, text stays text. Every file is a
stranger's: an .npz member is inflated only after its header passed the checks of
:mod:`fastreg._npz_reader` (never a pickle); an empty file, X holding NaN or infinity, labels
not one per row are refused. Every refusal is one line, ``<path>: <what is wrong>; expected
<what was expected>``, raised as :class:`~fastreg.cli.errors.CLIError`.
"""

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .arg_types import positive_int
from .errors import CLIError, UsageError, refuse

#: File-name endings and the kind of data file each names.
SUFFIXES = {
    ".frd": "frd",
    ".npz": "npz",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".svm": "svmlight",
    ".svmlight": "svmlight",
    ".libsvm": "svmlight",
    ".zarr": "zarr",
}
ZARR_EXPECTED = "a zarr store of fastreg.datasets.write_zarr"
NPZ_EXPECTED = (
    "an .npz holding X (rows x features, numbers) and y (one label per row), and "
    "optionally X_test and y_test"
)
_NPZ_MEMBERS = ("X", "y", "X_test", "y_test")
_CHECK_ROWS = 1 << 16  # rows per block when scanning X for NaN (bounded temporaries)


@dataclass
class DataFile:
    """A training file read whole. ``X`` is (N, d) (a CSR matrix for svmlight), ``y`` (N,);
    ``X_test``/``y_test`` only from an .npz that holds them; ``feature_names`` from a CSV
    header; ``target`` the label column's name (CSV with a header) or None; ``image_shape``
    (H, W) when the file says so (an .frd of images), else None."""

    path: str
    kind: str
    X: Any
    y: np.ndarray
    X_test: Any = None
    y_test: Any = None
    feature_names: list | None = None
    target: str | None = None
    image_shape: tuple | None = None


def data_kind(path, suffixes=SUFFIXES):
    """The kind of data file ``path`` is, from the end of its name (``suffixes``); a folder
    holding ``zarr.json`` is a zarr store whatever its name."""
    if "zarr" in suffixes.values() and Path(path, "zarr.json").is_file():
        return "zarr"
    name = Path(path).name.lower()
    for suffix in sorted(suffixes, key=len, reverse=True):  # ".csv.gz" before ".gz"
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffixes[suffix]
    return refuse(
        path,
        f"unknown kind of file (from its name {Path(path).name!r})",
        "a name ending in " + ", ".join(suffixes),
    )


def check_readable(path, kind=None):
    """CLIError unless ``path`` exists as a file (a folder for a zarr store), said first."""
    if kind == "zarr" and "://" in str(path):
        return
    path = Path(path)
    if not path.exists():
        raise CLIError(f"cannot read {path}: No such file; check the path")
    if kind == "zarr":
        if not path.is_dir():
            refuse(path, "not a folder", ZARR_EXPECTED + " (a folder holding zarr.json)")
    elif path.is_dir():
        raise CLIError(f"cannot read {path}: Is a directory; expected a data file")


def read_data_file(path, *, target=None):
    """Read the training file ``path`` whole (see the module docstring); a :class:`DataFile`.

    ``target`` (``--target``) names the label column of a CSV file: a header name, or a
    0-based column index; given for another kind of file, it is a usage error.
    """
    kind = data_kind(path)
    check_readable(path, kind)
    if target is not None and kind != "csv":
        raise UsageError(
            f"--target applies to CSV files only; {path} is a {kind} file", prog="fastreg train"
        )
    try:
        read = {"frd": _read_frd, "npz": _read_npz, "csv": _read_csv, "svmlight": _read_svm}
        data = {**read, "zarr": _read_zarr}[kind](path, target)
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from exc
    for X, part in ((data.X, "X"), (data.X_test, "X_test")):
        if X is not None:
            check_finite(X, path, part)
            if X.shape[0] == 0 or X.shape[1] == 0:
                refuse(path, f"{part} is empty ({X.shape[0]} x {X.shape[1]})", "rows and features")
    return data


def check_finite(X, path, name="X", offset=0):
    """CLIError naming the first NaN or infinity in ``X`` (dense, scanned in blocks; or CSR)
    by its position, rows counted from ``offset`` (where ``X`` starts in the file)."""
    if hasattr(X, "tocsr"):
        bad = np.flatnonzero(~np.isfinite(X.data))
        if bad.size:
            row = offset + int(np.searchsorted(X.indptr, bad[0], side="right") - 1)
            column, value = int(X.indices[bad[0]]), X.data[bad[0]]
            refuse(path, f"{name}[{row}, {column}] is {value}", "finite numbers")
        return
    if X.dtype.kind != "f":
        return
    for start in range(0, X.shape[0], _CHECK_ROWS):
        block = np.asarray(X[start : start + _CHECK_ROWS])
        bad = np.argwhere(~np.isfinite(block))
        if bad.size:
            i, j = bad[0]
            refuse(path, f"{name}[{offset + start + i}, {j}] is {block[i, j]}", "finite numbers")


def labels_as_read(values, path, name="y"):
    """Labels as the module docstring says: ints, whole floats as ints, floats, or text."""
    values = np.asarray(values)
    if values.dtype.kind == "b":
        return values.astype(np.int64)
    if values.dtype.kind == "U":
        numbers = _numbers(values)
        return values if numbers is None else labels_as_read(numbers, path, name)
    if values.dtype.kind == "f":
        if not np.isfinite(values).all():
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            refuse(path, f"{name}[{bad}] is {values[bad]}", "finite labels")
        if (values == np.round(values)).all() and (np.abs(values) < 2**53).all():
            return values.astype(np.int64)
    return values


def _numbers(texts):
    """``texts`` as numbers if every one is a number (then labels are numbers), else None:
    int64 when all are integers (exact, however many digits int64 holds), else float64."""
    texts = texts.tolist()
    try:
        return np.array([int(t) for t in texts], dtype=np.int64)
    except (ValueError, OverflowError):
        pass
    try:
        return np.array([float(t) for t in texts], dtype=np.float64)
    except ValueError:
        return None


# ------------------------------------------------------------------------------ the kinds
def open_frd(path):
    """The :class:`fastreg.datasets.DatasetFile` at ``path`` (its header checked), or CLIError."""
    from ..datasets import DatasetError, open_dataset

    try:
        return open_dataset(path)
    except DatasetError as exc:
        raise CLIError(
            f"{exc.reason}; expected a dataset file of fastreg.datasets.write_dataset"
        ) from exc


def _read_frd(path, target):
    data = open_frd(path)
    shape = tuple(data.sample_shape)
    return DataFile(
        str(path),
        "frd",
        data.X,
        data.y,
        image_shape=shape if len(shape) == 2 else None,
    )


def open_store(path):
    """The :class:`fastreg.datasets.ZarrDataset` at ``path`` (checked), or CLIError."""
    try:  # zarr is imported here, on the first .zarr read
        from ..datasets import DatasetError, open_zarr

        return open_zarr(path)
    except ImportError as exc:
        raise CLIError(f"{path}: reading zarr stores needs zarr; pip install 'zarr>=3'") from exc
    except FileNotFoundError as exc:
        raise CLIError(f"cannot read {path}: {exc}; expected {ZARR_EXPECTED}") from exc
    except DatasetError as exc:  # its reason is already "<path>: <what>; expected <what>"
        raise CLIError(exc.reason) from exc


def zarr_blocks(data, chunk_rows=None):
    """``data.chunks(chunk_rows)`` in order, a chunk that cannot be read as CLIError."""
    from ..datasets import DatasetError

    try:
        yield from data.chunks(chunk_rows)
    except DatasetError as exc:
        raise CLIError(exc.reason) from exc


def _memory_bytes():
    """This machine's physical memory in bytes (None when it cannot be told)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _read_zarr(path, target):
    data = open_store(path)
    n, d, memory = data.n_samples, data.n_features, _memory_bytes()
    if memory is not None and n * d * data.dtype.itemsize > memory:  # before allocating it
        what = f"X holds {n} x {d} {data.dtype.name} values, more than this machine's memory"
        refuse(path, what, "a store that fits (else train with open_zarr().chunks())")
    X, y = np.empty((n, d), dtype=data.dtype), np.empty(n, dtype=data.label_dtype)
    start = 0
    for X_block, y_block in zarr_blocks(data):
        X[start : start + len(y_block)], y[start : start + len(y_block)] = X_block, y_block
        start += len(y_block)
    image_shape = tuple(data.sample_shape) if len(data.sample_shape) == 2 else None
    return DataFile(str(path), "zarr", X, labels_as_read(y, path), image_shape=image_shape)


def _read_npz(path, target):
    from .._npz_reader import Entries

    def reject(why):
        return CLIError(f"{path}: {why}; expected {NPZ_EXPECTED}")

    with open(path, "rb") as fh:
        head = fh.read(8)
        if head.startswith(b"\x93NUMPY"):
            raise reject("a single .npy array, not an .npz archive")
        fh.seek(0)
        try:
            archive = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
            raise reject(f"not a zip archive, as .npz files are ({exc})") from exc
        with archive:
            entries = Entries(archive, os.fstat(fh.fileno()).st_size, _NPZ_MEMBERS, reject)
            present = set(entries.members)
            missing = [key for key in ("X", "y") if key not in present]
            if missing:
                raise reject(f"no member {' or '.join(missing)} (holds {_names(archive)})")
            if ("X_test" in present) != ("y_test" in present):
                raise reject("X_test without y_test, or y_test without X_test")
            arrays = {}
            for key in ("X", "X_test"):
                if key in present:
                    arrays[key] = entries.read(key, "biuf", (None, None))
                    arrays["y" + key[1:]] = entries.read("y" + key[1:], "biufU", (None,))
    X, y = arrays["X"], arrays["y"]
    X_test, y_test = arrays.get("X_test"), arrays.get("y_test")
    for X_part, y_part, suffix in ((X, y, ""), (X_test, y_test, "_test")):
        if X_part is not None and X_part.shape[0] != y_part.shape[0]:
            raise reject(f"X{suffix} has {X_part.shape[0]} rows but y{suffix} {y_part.shape[0]}")
    if X_test is not None and X_test.shape[1] != X.shape[1]:
        raise reject(f"X has {X.shape[1]} features but X_test {X_test.shape[1]}")
    return DataFile(
        str(path),
        "npz",
        X,
        labels_as_read(y, path),
        X_test,
        None if y_test is None else labels_as_read(y_test, path, "y_test"),
    )


def _names(archive):
    names = [info.filename for info in archive.infolist()[:8]]
    return ", ".join(names) + (", ..." if len(archive.infolist()) > 8 else "") or "nothing"


def _read_csv(path, target):
    from .csv_rows import CsvReader

    X_blocks, label_blocks = [], []
    with CsvReader(path, target=target) as reader:
        for X, labels in reader.blocks(_CHECK_ROWS):
            X_blocks.append(X)
            label_blocks.append(np.array(labels, dtype=str))
        names, label_column = reader.names, reader.label_column
    if not X_blocks:
        refuse(path, "no data rows", "one row per sample (after the header, if any)")
    features = None if names is None else [n for j, n in enumerate(names) if j != label_column]
    return DataFile(
        str(path),
        "csv",
        np.concatenate(X_blocks),
        labels_as_read(np.concatenate(label_blocks), path),
        feature_names=features,
        target=None if names is None else names[label_column],
    )


def _read_svm(path, target):
    load = svmlight_loader(path)
    with open(path, "rb") as fh:
        try:
            X, y = load(fh, dtype=np.float64)
        except (ValueError, UnicodeDecodeError) as exc:
            refuse(path, f"not svmlight/libsvm data ({exc})", SVM_EXPECTED)
    if X.shape[0] == 0:
        refuse(path, "no data rows", SVM_EXPECTED)
    return DataFile(str(path), "svmlight", X.tocsr(), labels_as_read(y, path))


SVM_EXPECTED = "lines 'label index:value index:value ...' (svmlight / libsvm format)"


def svmlight_loader(path):
    """scikit-learn's ``load_svmlight_file``, or CLIError saying how to install it."""
    try:
        from sklearn.datasets import load_svmlight_file
    except ImportError as exc:
        raise CLIError(
            f"{path}: reading svmlight/libsvm files needs scikit-learn; pip install scikit-learn"
        ) from exc
    return load_svmlight_file


# --------------------------------------------------------------------------- the options
def add_data_file_options(group):
    """Add ``--data FILE``, ``--target NAME`` and ``--image-shape H W`` to ``group``."""
    group.add_argument(
        "--data",
        metavar="FILE",
        default=None,
        help="train on your own file instead of --dataset: .frd (fastreg.datasets."
        "write_dataset), .npz (X, y, optionally X_test, y_test), .csv or .csv.gz (one row "
        "per sample, the label in the last column unless --target), svmlight "
        "(.svm, .svmlight, .libsvm), or a zarr store (a .zarr folder of fastreg.datasets."
        "write_zarr; needs zarr)",
    )
    group.add_argument(
        "--target",
        metavar="NAME",
        default=None,
        help="the label column of a CSV file: its header name, or its 0-based index "
        "(default: the last column)",
    )
    group.add_argument(
        "--image-shape",
        nargs=2,
        type=positive_int,
        metavar=("H", "W"),
        default=None,
        help="height and width of a sample drawn as an image (weights.png); H*W must equal "
        "the number of features (default: from an .frd file or .zarr store of images, else "
        "none)",
    )
    return group


def check_image_shape(shape, n_features, prog="fastreg train"):
    """``shape`` (H, W) as a tuple, or None; UsageError unless H*W equals ``n_features``."""
    if shape is None:
        return None
    height, width = (int(v) for v in shape)
    if height * width != n_features:
        raise UsageError(
            f"--image-shape {height} {width} makes {height * width} pixels but the data have "
            f"{n_features} features; pass H W with H*W = {n_features}, or leave it out",
            prog=prog,
        )
    return height, width
