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
of the body. Either way the returned array is read-only: copy it to modify it. Multi-byte types
come back with a big-endian dtype, exactly as stored. ``decompress_idx`` turns a ``.gz`` file into
an uncompressed one that can be mapped, streaming (never the whole file in memory), verified and
renamed into place atomically; ``load_mnist(mmap=True)`` uses it (see ``_unpack``).

Every check failure raises :class:`fastreg.exceptions.DatasetError` naming the file and what is
wrong, with what to do in its ``hint``.
"""
import gzip
import hashlib
import os
import struct
import tempfile
import zlib

import numpy as np

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
        _fail(path, f"file {what}: header declares shape {shape} of {dtype.name}, which needs "
                    f"{expected} bytes, but the file has {file_size}",
              "fetch the file again")
    return dtype, shape, header_length


def _layout(head, path, file_size):
    """Every check of :func:`parse_header` but the size; also returns the size the header
    implies. ``file_size`` only appears in the messages about a too-short ``head``."""
    if len(head) < 4:
        _fail(path, f"file is {file_size} bytes, too short to hold an IDX magic number",
              "the file is empty or truncated: fetch it again")
    if head[:2] == b"\x1f\x8b":
        _fail(path, "file is gzip-compressed but its name does not end in .gz",
              "rename it to end in .gz or decompress it")
    if head[0] != 0 or head[1] != 0:
        _fail(path, f"bad magic number 0x{head[:4].hex()}: an IDX file starts with two zero "
                    "bytes", "this is not an IDX file, or it is corrupt")
    code, ndim = head[2], head[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        _fail(path, f"unknown element type 0x{code:02X} in magic number 0x{head[:4].hex()} "
                    f"(known: {known})")
    if not 1 <= ndim <= MAX_DIMS:
        _fail(path, f"magic number 0x{head[:4].hex()} declares {ndim} dimensions; expected "
                    f"1 to {MAX_DIMS}")
    header_length = 4 + 4 * ndim
    if len(head) < header_length:
        _fail(path, f"file is {file_size} bytes, shorter than its {header_length}-byte header",
              "the file is truncated: fetch it again")
    shape = struct.unpack(f">{ndim}I", head[4:header_length])
    dtype = IDX_TYPES[code]
    expected = header_length + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    return dtype, shape, header_length, expected


def _read_gzip(path):
    try:
        with gzip.open(path, "rb") as stream:
            return stream.read()
    except (OSError, EOFError, zlib.error) as exc:
        # BadGzipFile is an OSError; a cut-off stream is EOFError; a corrupt one zlib.error.
        _fail(path, f"not a readable gzip file ({type(exc).__name__}: {exc})",
              "the download is corrupt or truncated: delete it and fetch it again")


def read_idx(path):
    """Read the IDX file at ``path`` (``.gz`` or uncompressed) into a read-only array.

    Uncompressed files are memory-mapped (``np.memmap``, mode ``'r'``), not read into RAM;
    ``.gz`` files are decompressed into memory (:func:`decompress_idx` makes a file that can be
    mapped instead). Raises :class:`DatasetError` when the header
    or the size is wrong, ``FileNotFoundError`` when there is no file.
    """
    path = os.fspath(path)
    if path.endswith(".gz"):
        data = _read_gzip(path)
        dtype, shape, offset = parse_header(data[:HEAD_BYTES], path, len(data))
        return np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)

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


def decompress_idx(src, dst, *, published=None, chunk_bytes=CHUNK_BYTES):
    """Decompress the gzip'd IDX file ``src`` into ``dst``, verified; return (size, sha256).

    The stream is inflated ``chunk_bytes`` at a time into a temporary file beside ``dst``
    (a unique name per call, on the same file system), so neither file is ever held in memory
    and concurrent calls do not collide. The header is checked against the decompressed size
    (:func:`parse_header`; a body longer than the header declares stops the stream at once).
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
    with gzip.open(src, "rb") as stream:  # FileNotFoundError before any file is created
        fd, partial = tempfile.mkstemp(dir=os.path.dirname(dst) or ".",
                                       prefix=f".{os.path.basename(dst)}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                size, digest, head = _inflate(stream, out, src, chunk_bytes)
            parse_header(head, src, size)
            if published is not None and size == published[0] and digest != published[1]:
                _fail(src, f"decompresses to {size} bytes, the size of the published file, but "
                           f"its SHA-256 is {digest}, not the published {published[1]}",
                      "the file is corrupt or altered: fetch it again")
            os.replace(partial, dst)
        finally:
            # after a successful replace the temporary name no longer exists
            if os.path.exists(partial):
                os.unlink(partial)
    return size, digest


def _inflate(stream, out, src, chunk_bytes):
    """Copy the gzip ``stream`` into ``out``; return (size, sha256 hex, leading bytes)."""
    hasher = hashlib.sha256()
    head, size, expected = b"", 0, None
    while True:
        try:
            chunk = stream.read(chunk_bytes)
        except (OSError, EOFError, zlib.error) as exc:
            _fail(src, f"not a readable gzip file ({type(exc).__name__}: {exc})",
                  "the file is corrupt or truncated: delete it and fetch it again")
        if not chunk:
            return size, hasher.hexdigest(), head
        if len(head) < HEAD_BYTES:
            head += chunk[:HEAD_BYTES - len(head)]
            if len(head) == HEAD_BYTES:
                dtype, shape, _, expected = _layout(head, src, HEAD_BYTES)
        size += len(chunk)
        if expected is not None and size > expected:
            # a wrong or corrupt file: stop before it fills the disk
            _fail(src, f"file has trailing bytes: header declares shape {shape} of "
                       f"{dtype.name}, which needs {expected} bytes, but it decompresses to more",
                  "fetch the file again")
        hasher.update(chunk)
        out.write(chunk)


def idx_header(array):
    """The IDX header bytes (magic number and sizes) that describe ``array``."""
    kind = (array.dtype.kind, array.dtype.itemsize)
    if kind not in _CODE_OF_KIND:
        supported = ", ".join(dt.name for dt in IDX_TYPES.values())
        raise InvalidParameterError(f"IDX cannot store dtype {array.dtype}", param="array",
                                    hint=f"convert to one of {supported}")
    if array.ndim < 1:
        raise InvalidParameterError("IDX needs an array with at least one dimension; got a scalar",
                                    param="array")
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
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", filename="",
                                                    mtime=0) as stream:
            stream.write(data)
    else:
        with open(path, "wb") as stream:
            stream.write(data)
