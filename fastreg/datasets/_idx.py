"""Read and write IDX files, the container format of MNIST and Fashion-MNIST.

Format (LeCun et al.; every integer big-endian)::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions, d >= 1
    4*d bytes   the size of each dimension, uint32
    then        prod(sizes) elements in C order

MNIST images are ``0x00000803`` (uint8, 3 dimensions: count x 28 x 28), labels ``0x00000801``.

``read_idx`` gzip-decompresses a file whose name ends in ``.gz`` into memory (MNIST's training
images are 47 MB) and memory-maps any other file read-only, so opening it costs no RAM and no read
of the body. A ``.gz`` file is read header first and streamed: no more than the size its header
declares is ever inflated (a longer body stops at the first byte too many), and a declared size
is refused before anything is allocated when it exceeds ``max_bytes`` (the loader passes the
published size of a known data set) or what a gzip file of that size could hold (deflate inflates
at most about 1032 bytes per compressed byte). Sizes are computed with Python integers, so no
header overflows them. Either way the returned array is read-only: copy it to modify it.
Multi-byte types come back with a big-endian dtype, exactly as stored. ``decompress_idx`` turns
a ``.gz`` file into an uncompressed one that can be mapped, streaming (never the whole file in
memory), verified and renamed into place atomically; ``load_mnist(mmap=True)`` uses it (see
``_unpack``).

Every check failure raises :class:`fastreg.exceptions.DatasetError` naming the file and what is
wrong, with what to do in its ``hint``.
"""

import gzip
import hashlib
import math
import os
import struct
import tempfile
import zlib

import numpy as np

from .. import _litter
from ..exceptions import DatasetError, InvalidParameterError

# element type code -> dtype as stored (IDX is big-endian)
IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_KIND = {(dt.kind, dt.itemsize): code for code, dt in IDX_TYPES.items()}

# Real IDX files have 1-4 dimensions; a larger count means the magic is garbage, and rejecting
# it early keeps a corrupt byte from turning into a 1 GB header read.
MAX_DIMS = 16
HEAD_BYTES = 4 + 4 * MAX_DIMS  # enough leading bytes for any valid header
CHUNK_BYTES = 1 << 20
# deflate's best ratio is 1032:1 (258-byte matches coded in 2 bits); a body that claims more per
# compressed byte cannot be in the file, whatever its header says
MAX_DEFLATE_RATIO = 1032


def _fail(path, problem, hint=None):
    raise DatasetError(f"{os.fspath(path)}: {problem}", hint=hint)


def parse_header(head, path, file_size):
    """Decode an IDX header from the leading bytes ``head`` of a file of ``file_size`` bytes.

    Returns ``(dtype, shape, header_length)`` after checking the magic number, the element
    type, the number of dimensions, and that ``file_size`` is exactly header plus body.
    """
    dtype, shape, header_length, expected = _layout(head, path, file_size)
    if file_size != expected:
        what = "truncated" if file_size < expected else "has trailing bytes"
        _fail(
            path,
            f"file {what}: header declares shape {shape} of {dtype.name}, which needs "
            f"{expected} bytes, but the file has {file_size}",
            "fetch the file again",
        )
    return dtype, shape, header_length


def _layout(head, path, file_size):
    """Every check of :func:`parse_header` but the size; also returns the size the header
    implies. ``file_size`` only appears in the messages about a too-short ``head``."""
    if len(head) < 4:
        _fail(
            path,
            f"file is {file_size} bytes, too short to hold an IDX magic number",
            "the file is empty or truncated: fetch it again",
        )
    if head[:2] == b"\x1f\x8b":
        _fail(
            path,
            "file is gzip-compressed but its name does not end in .gz",
            "rename it to end in .gz or decompress it",
        )
    if head[0] != 0 or head[1] != 0:
        _fail(
            path,
            f"bad magic number 0x{head[:4].hex()}: an IDX file starts with two zero bytes",
            "this is not an IDX file, or it is corrupt",
        )
    code, ndim = head[2], head[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        _fail(
            path,
            f"unknown element type 0x{code:02X} in magic number 0x{head[:4].hex()} "
            f"(known: {known})",
        )
    if not 1 <= ndim <= MAX_DIMS:
        _fail(
            path,
            f"magic number 0x{head[:4].hex()} declares {ndim} dimensions; expected "
            f"1 to {MAX_DIMS}",
        )
    header_length = 4 + 4 * ndim
    if len(head) < header_length:
        _fail(
            path,
            f"file is {file_size} bytes, shorter than its {header_length}-byte header",
            "the file is truncated: fetch it again",
        )
    shape = struct.unpack(f">{ndim}I", head[4:header_length])
    dtype = IDX_TYPES[code]
    # Python integers: (2**31, 2**31, 4) must not wrap around to a small size
    expected = header_length + math.prod(shape) * dtype.itemsize
    return dtype, shape, header_length, expected


def _check_declared(path, dtype, shape, expected, max_bytes, packed_size):
    """Refuse a declared size above ``max_bytes`` or beyond what ``packed_size`` gzip'd bytes
    can inflate to, before anything of that size is allocated or written."""
    if max_bytes is not None and expected > max_bytes:
        _fail(
            path,
            f"header declares shape {shape} of {dtype.name}, {expected} bytes, more than "
            f"the {max_bytes} bytes allowed for this file",
            "this is not the file it is named after, or it is corrupt: fetch it again",
        )
    limit = MAX_DEFLATE_RATIO * packed_size + 1024
    if expected > limit:
        _fail(
            path,
            f"header declares shape {shape} of {dtype.name}, {expected} bytes, but a "
            f"gzip file of {packed_size} bytes cannot hold more than {limit}",
            "the file is corrupt or forged: fetch it again",
        )


class _Inflating:
    """A gzip stream whose read errors are DatasetErrors naming ``path`` (write errors of the
    caller stay OSErrors)."""

    def __init__(self, path):
        self.path = path
        self.stream = gzip.open(path, "rb")  # FileNotFoundError before anything else

    def _call(self, method, arg):
        try:
            return method(arg)
        except (OSError, EOFError, zlib.error) as exc:
            # BadGzipFile is an OSError; a cut-off stream is EOFError; a corrupt one zlib.error
            _fail(
                self.path,
                f"not a readable gzip file ({type(exc).__name__}: {exc})",
                "the file is corrupt or truncated: delete it and fetch it again",
            )

    def read(self, size):
        return self._call(self.stream.read, size)

    def readinto(self, view):
        return self._call(self.stream.readinto, view)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stream.close()
        return False


def _read_exactly(stream, view):
    """Fill ``view`` from ``stream`` (fewer bytes only at the end); return the count."""
    done = 0
    while done < len(view):
        got = stream.readinto(view[done : done + CHUNK_BYTES])
        if not got:
            break
        done += got
    return done


def _open_idx_gz(path, stream, max_bytes):
    """Read the header from the gzip ``stream``; return (head, layout) with the declared size
    checked, or, for a stream shorter than any header, fail as parse_header does."""
    head = stream.read(HEAD_BYTES)
    if len(head) < HEAD_BYTES:  # the whole file: check it as such (truncated, too short, ...)
        layout = parse_header(head, path, len(head))
        return head, (*layout, len(head))
    dtype, shape, offset, expected = _layout(head, path, HEAD_BYTES)
    _check_declared(path, dtype, shape, expected, max_bytes, os.path.getsize(path))
    return head, (dtype, shape, offset, expected)


def _trailing(path, dtype, shape, expected):
    _fail(
        path,
        f"file has trailing bytes: header declares shape {shape} of {dtype.name}, which "
        f"needs {expected} bytes, but it decompresses to more",
        "fetch the file again",
    )


def _read_gzip(path, max_bytes):
    with _Inflating(path) as stream:
        head, (dtype, shape, offset, expected) = _open_idx_gz(path, stream, max_bytes)
        try:
            data = np.empty(expected, dtype=np.uint8)
        except MemoryError:
            _fail(
                path,
                f"header declares {expected} bytes, more than this machine can hold in memory",
                "load it with mmap=True, or check that it is the right file",
            )
        data[: len(head)] = np.frombuffer(head, dtype=np.uint8)
        size = len(head) + _read_exactly(stream, memoryview(data)[len(head) :])
        if size < expected:
            parse_header(head, path, size)  # says "truncated"
        if stream.read(1):
            _trailing(path, dtype, shape, expected)
    return data, dtype, shape, offset


def read_idx(path, *, max_bytes=None):
    """Read the IDX file at ``path`` (``.gz`` or uncompressed) into a read-only array.

    Uncompressed files are memory-mapped (``np.memmap``, mode ``'r'``), not read into RAM;
    ``.gz`` files are decompressed into memory, streaming, never beyond the size the header
    declares, and only when that size is at most ``max_bytes`` (None: no limit but the file's
    own) and what the .gz can hold (:func:`decompress_idx` makes a file that can be mapped
    instead). Raises :class:`DatasetError` when the header or the size is wrong (never
    ``MemoryError``), ``FileNotFoundError`` when there is no file.
    """
    path = os.fspath(path)
    if path.endswith(".gz"):
        data, dtype, shape, offset = _read_gzip(path, max_bytes)
        array = np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)
        array.flags.writeable = False
        return array

    file_size = os.path.getsize(path)
    with open(path, "rb") as stream:
        head = stream.read(HEAD_BYTES)
    dtype, shape, offset = parse_header(head, path, file_size)
    if file_size == offset:
        # mmap cannot map zero bytes; an empty body needs no mapping anyway
        empty = np.empty(shape, dtype=dtype)
        empty.flags.writeable = False
        return empty
    mapped = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    # a plain ndarray view of the mapping: still backed by the file, without np.memmap's
    # habit of wrapping every derived array in the subclass
    return mapped.view(np.ndarray)


def decompress_idx(src, dst, *, published=None, max_bytes=None, chunk_bytes=CHUNK_BYTES):
    """Decompress the gzip'd IDX file ``src`` into ``dst``, verified; return (size, sha256).

    The stream is inflated ``chunk_bytes`` at a time into a temporary file beside ``dst``
    (a unique name per call, on the same file system), so neither file is ever held in memory
    and concurrent calls do not collide. The header is checked against the decompressed size
    (:func:`parse_header`; a body longer than the header declares stops the stream at once), and
    a header declaring more than ``max_bytes`` (the published size of a known data set) or more
    than the .gz can hold is refused before anything is written.
    ``published = (size, sha256)``, the canonical file's uncompressed size and SHA-256: a file
    of exactly that size must have that digest; one of another size is a different data set
    under the same name (a subset, a hand-made file) and is checked by header and size only.
    Only then is the temporary file renamed to ``dst`` (``os.replace``, atomic): a reader sees
    the old file or the complete new one. Returns the size in bytes and the SHA-256 (hex) of
    the uncompressed data.

    A corrupt ``src`` raises :class:`DatasetError` naming it, and leaves nothing behind;
    trouble writing (no space, no permission) raises the ``OSError`` unchanged.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    with _Inflating(src) as stream:  # FileNotFoundError before any file is created
        head, layout = _open_idx_gz(src, stream, max_bytes)
        fd, partial = tempfile.mkstemp(
            dir=os.path.dirname(dst) or ".",
            prefix=_litter.temp_prefix(os.path.basename(dst)),
            suffix=".part",
        )
        try:
            with os.fdopen(fd, "wb") as out:
                size, digest = _inflate(stream, out, src, chunk_bytes, head, layout)
            parse_header(head, src, size)
            if published is not None and size == published[0] and digest != published[1]:
                _fail(
                    src,
                    f"decompresses to {size} bytes, the size of the published file, but "
                    f"its SHA-256 is {digest}, not the published {published[1]}",
                    "the file is corrupt or altered: fetch it again",
                )
            os.replace(partial, dst)
        finally:
            # after a successful replace the temporary name no longer exists
            if os.path.exists(partial):
                os.unlink(partial)
    return size, digest


def _inflate(stream, out, src, chunk_bytes, head, layout):
    """Write ``head`` and the rest of the gzip ``stream``, at most the declared size, to
    ``out``; return (size, sha256 hex). ``layout`` is ``(dtype, shape, offset, expected)``."""
    dtype, shape, _, expected = layout
    hasher = hashlib.sha256(head)
    out.write(head)
    size = len(head)
    while size < expected:
        chunk = stream.read(min(chunk_bytes, expected - size))
        if not chunk:
            break
        size += len(chunk)
        hasher.update(chunk)
        out.write(chunk)
    if size == expected and stream.read(1):
        # a wrong or corrupt file: stopped before it fills the disk
        _trailing(src, dtype, shape, expected)
    return size, hasher.hexdigest()


def idx_header(array):
    """The IDX header bytes (magic number and sizes) that describe ``array``."""
    kind = (array.dtype.kind, array.dtype.itemsize)
    if kind not in _CODE_OF_KIND:
        supported = ", ".join(dt.name for dt in IDX_TYPES.values())
        raise InvalidParameterError(
            f"IDX cannot store dtype {array.dtype}",
            param="array",
            hint=f"convert to one of {supported}",
        )
    if array.ndim < 1:
        raise InvalidParameterError(
            "IDX needs an array with at least one dimension; got a scalar", param="array"
        )
    code = _CODE_OF_KIND[kind]
    return struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)


def idx_bytes(array):
    """The complete IDX encoding of ``array``: header, then the elements big-endian, C order."""
    array = np.asarray(array)
    header = idx_header(array)
    body = np.ascontiguousarray(array, dtype=IDX_TYPES[header[2]]).tobytes()
    return header + body


def write_idx(path, array):
    """Write ``array`` as an IDX file; gzip-compress it when ``path`` ends in ``.gz``.

    The gzip header carries no timestamp or name, so equal arrays give byte-equal files.
    """
    data = idx_bytes(array)
    path = os.fspath(path)
    if path.endswith(".gz"):
        with (
            open(path, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as stream,
        ):
            stream.write(data)
    else:
        with open(path, "wb") as stream:
            stream.write(data)
