"""The input of ``fastreg predict``, streamed: blocks of at most ``chunk_rows`` rows, never the
whole file in memory.

By the end of the file's name (case-insensitive):

``.npy``        memory-mapped (``np.load(mmap_mode="r")``, never a pickle); rows x features
``.npz``        the member ``X``, else the only 2-D member; an .npz member cannot be mapped,
                so its .npy header is checked (numbers, C order, a size the member can hold,
                stored or deflated, not encrypted) and its rows are read from the zip stream
``.frd``        a dataset file: :meth:`fastreg.datasets.DatasetFile.chunks`
``.zarr``       a zarr store (a folder; any folder holding zarr.json is one), checked by
                :func:`fastreg.datasets.open_zarr`: :meth:`~fastreg.datasets.ZarrDataset.chunks`
``.csv[.gz]``   :class:`fastreg.cli.csv_rows.CsvReader` (its rules are there); the label
                column is dropped when present
``.svm .svmlight .libsvm``  svmlight text, read by scikit-learn's ``load_svmlight_file`` a
                block of whole lines at a time; indices are one-based unless an index 0
                appears anywhere in the file (scikit-learn's ``zero_based="auto"`` rule, which
                it cannot apply to a part of a file), found by one streaming pass first

The number of features must equal the model's; X must hold finite numbers. A NaN is reported
by position (``X[row, column]``, 0-based; CSV: line and column).

"""

import contextlib
import io
import re
import zipfile
import zlib

import numpy as np

from .csv_rows import MAX_LINE_CHARS, CsvReader
from .data_files import (
    SUFFIXES,
    SVM_EXPECTED,
    check_finite,
    check_readable,
    data_kind,
    open_frd,
    open_store,
    svmlight_loader,
    zarr_blocks,
)
from .errors import CLIError, UsageError, check_feature_count
from .errors import refuse as _fail

#: What ``fastreg predict`` reads: the training kinds and a single .npy array.
INPUT_SUFFIXES = {".npy": "npy", **SUFFIXES}
_SVM_BLOCK = 1 << 18  # bytes of svmlight lines parsed per call (a few MB of arrays)
_MAX_RATIO = 1100  # deflate inflates at most ~1032:1 (as fastreg._npz_reader)


def iter_input_chunks(path, n_features, *, chunk_rows, target=None):
    """Check the file ``path`` and return an iterator of its rows in blocks of at most
    ``chunk_rows`` (dense arrays, or CSR matrices for svmlight), checked finite. The header,
    the kind and the number of features (``n_features``, the model's) are checked now,
    before the first block is asked for."""
    kind = data_kind(path, INPUT_SUFFIXES)
    check_readable(path, kind)
    if target is not None and kind != "csv":
        raise UsageError(
            f"--target applies to CSV input only; {path} is a {kind} file", prog="fastreg predict"
        )
    try:
        opened = {"npy": _npy, "npz": _npz, "frd": _frd, "svmlight": _svmlight, "csv": _csv}
        opened["zarr"] = _zarr
        return _checked(opened[kind](path, n_features, chunk_rows, target), path)
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _checked(blocks, path):
    """The blocks, checked finite (NaN named by its row in the file); OSError as CLIError."""
    start = 0
    try:
        for X in blocks:
            check_finite(X, path, offset=start)
            start += X.shape[0]
            yield X
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from exc


# ---------------------------------------------------------------------------- .npy, .npz
def _npy(path, n_features, chunk_rows, target):
    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError) as exc:  # object arrays, damaged headers, not an .npy file
        _fail(path, f"not a numeric .npy array ({exc})", "an .npy array of numbers")
    if not isinstance(X, np.ndarray):  # an .npz archive under an .npy name
        X.close()
        _fail(path, "an .npz archive, not an .npy array", "an .npy array (or name it .npz)")
    _check_array(path, X.shape, X.dtype, n_features)
    return _slices(X, chunk_rows)


def _slices(X, chunk_rows):
    for start in range(0, X.shape[0], chunk_rows):
        yield np.asarray(X[start : start + chunk_rows])


def _check_array(path, shape, dtype, n_features, what="the array"):
    if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biuf":
        _fail(path, f"{what} has dtype {dtype}", "numbers (bool, integer or float)")
    if len(shape) != 2 or min(shape) < 0:
        _fail(path, f"{what} has shape {shape}", "rows x features (2-D)")
    check_feature_count(path, shape[1], n_features)


def _npz(path, n_features, chunk_rows, target):
    with _npz_open(path) as archive:  # checked now; the rows are read by a second opening
        member, shape, dtype = _npz_member(path, archive)
        _check_array(path, shape, dtype, n_features, f"member {member.filename!r}")
    return _npz_rows(path, member.filename, chunk_rows)


@contextlib.contextmanager
def _npz_open(path):
    try:
        with open(path, "rb") as fh, zipfile.ZipFile(fh) as archive:
            yield archive
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, zlib.error) as exc:
        _fail(path, f"unreadable .npz archive ({exc})", "an .npz holding X (rows x features)")


def _npz_member(path, archive, name="X.npy"):
    """The member to read (``X``, else the only 2-D one), its shape and dtype, from headers."""
    headers = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            continue
        header = _npy_header(path, archive, info)
        if info.filename == name:
            return (info, *header)
        headers[info] = header
    two_d = [info for info, (shape, _) in headers.items() if len(shape) == 2]
    if len(two_d) != 1:
        names = ", ".join(info.filename[:-4] for info in headers) or "no arrays"
        _fail(path, f"no member X and {len(two_d)} 2-D members ({names})", "a member X")
    return (two_d[0], *headers[two_d[0]])


def _npy_header(path, archive, info):
    """(shape, dtype) of the .npy member ``info``, its size checked against what it holds."""
    if info.flag_bits & 0x1:
        _fail(path, f"member {info.filename!r} is encrypted", "a plain .npz")
    ratio = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: _MAX_RATIO}.get(info.compress_type)
    if ratio is None or info.file_size > ratio * info.compress_size + 1024:
        _fail(path, f"member {info.filename!r} has an impossible size", "a plain .npz")
    with archive.open(info) as fp:
        shape, dtype, offset = _read_header(fp)
    if offset + int(np.prod(shape, dtype=object)) * dtype.itemsize != info.file_size:
        _fail(path, f"member {info.filename!r} does not hold its header's {shape}", "a whole .npz")
    return shape, dtype


def _read_header(fp):
    version = np.lib.format.read_magic(fp)
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f".npy format version {version}")
    read = np.lib.format.read_array_header_1_0
    if version == (2, 0):
        read = np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(fp)
    if fortran and len(shape) == 2 and shape[0] > 1 and shape[1] > 1:
        raise ValueError("an array in Fortran order cannot be read a row at a time")
    return shape, dtype, fp.tell()


def _npz_rows(path, name, chunk_rows):
    """Rows of the member ``name``, ``chunk_rows`` at a time, read from the inflating stream
    (the member is found and its header checked again: the file may have been replaced)."""
    with _npz_open(path) as archive:
        member, (n, d), dtype = _npz_member(path, archive, name)
        with archive.open(member) as fp:
            _read_header(fp)
            for start in range(0, n, chunk_rows):
                block = np.empty((min(chunk_rows, n - start), d), dtype=dtype)
                view = memoryview(block.reshape(-1).view(np.uint8))
                done = 0
                while done < block.nbytes:
                    got = fp.readinto(view[done:])
                    if not got:
                        _fail(path, f"member {member.filename!r} is truncated", "a whole .npz")
                    done += got
                yield block if dtype.isnative else block.astype(dtype.newbyteorder("="))
            fp.read(1)  # at the member's end: zipfile checks its CRC here


# ------------------------------------------------------------------------------ .frd
def _frd(path, n_features, chunk_rows, target):
    data = open_frd(path)
    check_feature_count(path, data.n_features, n_features)
    return (X for X, _ in data.chunks(chunk_rows))


# ------------------------------------------------------------------------------ .zarr
def _zarr(path, n_features, chunk_rows, target):
    data = open_store(path)
    check_feature_count(path, data.n_features, n_features)
    return (X for X, _ in zarr_blocks(data, chunk_rows))


# ------------------------------------------------------------------------------ svmlight
_INDEX_ZERO = re.compile(rb"(?:^|[ \t\r\f\v])0+:", re.MULTILINE)  # as bytes.split() splits
_COMMENT = re.compile(rb"#[^\n]*")


def _svm_lines(path):
    """Blocks of whole lines of the file (about _SVM_BLOCK bytes each) and their first line."""
    with open(path, "rb") as fh:
        rest, line = b"", 1
        while True:
            data = fh.read(_SVM_BLOCK)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if not cut and len(data) > MAX_LINE_CHARS:
                _fail(path, f"line {line} is longer than {MAX_LINE_CHARS} bytes", SVM_EXPECTED)
            block, rest = data[:cut], data[cut:]
            if block:
                yield line, block
                line += block.count(b"\n")
        if rest:
            yield line, rest


def _zero_based(path):
    """Whether the file's indices count from 0: an index 0 appears somewhere in it."""
    return any(_INDEX_ZERO.search(_COMMENT.sub(b"", block)) for _, block in _svm_lines(path))


def _svmlight(path, n_features, chunk_rows, target):
    load = svmlight_loader(path)
    zero_based = _zero_based(path)
    return _svm_chunks(path, load, zero_based, n_features, chunk_rows)


def _svm_chunks(path, load, zero_based, n_features, chunk_rows):
    import scipy.sparse as sp

    pending, held = [], 0
    for line, block in _svm_lines(path):
        try:
            X, _ = load(io.BytesIO(block), n_features=n_features, zero_based=zero_based)
        except (ValueError, UnicodeDecodeError) as exc:
            last = line + block.count(b"\n") - 1
            _fail(
                path,
                f"lines {line}-{max(line, last)}: {exc}",
                f"{SVM_EXPECTED} with at most {n_features} features (the model's)",
            )
        pending.append(sp.csr_matrix(X))
        held += X.shape[0]
        while held >= chunk_rows:
            rows = sp.vstack(pending, format="csr") if len(pending) > 1 else pending[0]
            yield rows[:chunk_rows]
            rest = rows[chunk_rows:]
            pending, held = ([rest], rest.shape[0]) if rest.shape[0] else ([], 0)
    if held:
        yield sp.vstack(pending, format="csr") if len(pending) > 1 else pending[0]


# ------------------------------------------------------------------------------ CSV
def _csv(path, n_features, chunk_rows, target):
    CsvReader(path, target=target, n_features=n_features).close()  # the layout, checked now
    return _csv_rows(path, n_features, chunk_rows, target)


def _csv_rows(path, n_features, chunk_rows, target):
    with CsvReader(path, target=target, n_features=n_features) as reader:
        for X, _ in reader.blocks(chunk_rows):
            yield X
