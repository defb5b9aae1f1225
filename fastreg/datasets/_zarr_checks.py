"""What fastreg accepts in a zarr store, written or read: checked before any data moves.

Reading. A store from a stranger must neither exhaust memory or disk nor run code. Its three
metadata documents (``zarr.json`` of the group, of ``X`` and of ``y``) are read with a size
limit (``MAX_JSON_BYTES``) and parsed by fastreg, not by zarr; only when every field passes
are the arrays opened, from these checked dictionaries, with the bounded codecs below.

The group's ``attributes["fastreg"]``: ``format`` "fastreg-zarr", ``version`` 1,
``n_samples`` and ``n_features`` (positive integers), ``sample_shape`` (positive integers
whose product is ``n_features``), ``classes`` (the sorted distinct labels, at most
``MAX_CLASSES`` finite numbers), optionally ``provenance`` (strings to JSON scalars).
Each array: zarr format 3, a regular grid chunked by rows only (X's chunks span every
feature), at most ``MAX_CHUNK_BYTES`` a chunk uncompressed, X (n_samples, n_features) of
uint8 / float32 / float64 (at most ``MAX_X_BYTES`` in all), y (n_samples,) of an integer or
float type, no storage transformers, no other fields, and the codecs, in this order:
``bytes`` (either byte order), at most one of ``zstd`` / ``gzip`` / ``blosc``, optionally
``crc32c`` (what zarr 3 writes by default is ``bytes`` + ``zstd``). Any other codec
(``transpose``, ``sharding_indexed``, every ``numcodecs.*`` one such as ``numcodecs.pickle``,
variable-length strings) is refused before a chunk is read: no codec can run code.

Decompression. A chunk is a compressed blob whose decompressed size only the blob states.
zarr 3.1's own codecs inflate it whole and only then compare it with the chunk's shape (the
``bytes`` codec's reshape): a 10 kB zstd chunk that inflates to 1 GiB is allocated in full
before that check refuses it (measured with zarr 3.1.6: a (30, 7) uint8 chunk took the process
to 1 GiB resident). So stores are read through the subclasses here, which never produce more
than the chunk's declared size (chunk shape x itemsize, itself bounded above): zstd checks the
frame's declared content size and inflates into a buffer of exactly that size, gzip inflates
with a limit, and blosc's header (which sets its output size) is compared before
decompressing. The decoded bytes then meet zarr's own shape check.

Writing. The input checks of :func:`fastreg.datasets.write_zarr` that are its own (labels,
chunk rows, provenance); X is checked block by block by the dataset writer's rule.
"""

import asyncio
import itertools
import math
import numbers
import zlib

import numpy as np
from numcodecs import zstd as _zstd  # type: ignore[import-untyped]
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, GzipCodec, ZstdCodec

from ..exceptions import InvalidParameterError

FORMAT = "fastreg-zarr"
VERSION = 1
DEFAULT_CHUNK_BYTES = 16 << 20  # write_zarr's default chunk: about 16 MiB of X
MAX_JSON_BYTES = 1 << 20  # a metadata document (attributes included)
MAX_CHUNK_BYTES = 256 << 20  # one chunk, uncompressed
MAX_CLASSES = 10_000
MAX_X_BYTES = 1 << 50  # what a declared shape may add up to (1 PiB): no int64 overflow
X_TYPES = ("uint8", "float32", "float64")
Y_TYPES = (
    *("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
    *("float32", "float64"),
)
ITEMSIZE = {"uint8": 1, "int8": 1, "int16": 2, "uint16": 2, "float32": 4, "float64": 8}
ITEMSIZE.update({"int32": 4, "uint32": 4, "int64": 8, "uint64": 8})
_ARRAY_KEYS = {
    *("zarr_format", "node_type", "shape", "data_type", "chunk_grid", "chunk_key_encoding"),
    *("fill_value", "codecs", "attributes", "dimension_names", "storage_transformers"),
}
_ATTR_KEYS = {"format", "version", "n_samples", "n_features", "sample_shape", "classes"}


class Refusal(ValueError):
    """What is wrong with a store and what was expected (the caller adds the path)."""

    def __init__(self, what, expected):
        super().__init__(f"{what}; expected {expected}")
        self.what, self.expected = what, expected


def _count(value):
    return type(value) is int and value >= 1


def _number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_group(doc):
    """The checked ``attributes["fastreg"]`` of the group document ``doc`` (a parsed dict)."""
    if not isinstance(doc, dict) or doc.get("zarr_format") != 3 or doc.get("node_type") != "group":
        raise Refusal("the root zarr.json is not a zarr format 3 group", "a zarr v3 group")
    attrs = doc.get("attributes")
    meta = attrs.get("fastreg") if isinstance(attrs, dict) else None
    expected = "a store written by fastreg.datasets.write_zarr (attributes['fastreg'])"
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise Refusal("no fastreg attributes (format 'fastreg-zarr')", expected)
    if meta.get("version") != VERSION:
        raise Refusal(f"fastreg-zarr version {meta.get('version')!r}", f"version {VERSION}")
    missing = _ATTR_KEYS - set(meta)
    unknown = set(meta) - _ATTR_KEYS - {"provenance"}
    if missing or unknown:
        what = f"missing {sorted(missing)}" if missing else f"unknown {sorted(unknown)}"
        raise Refusal(f"fastreg attributes {what}", "exactly " + ", ".join(sorted(_ATTR_KEYS)))
    n, d, shape = meta["n_samples"], meta["n_features"], meta["sample_shape"]
    if not (_count(n) and _count(d)):
        raise Refusal(f"n_samples {n!r}, n_features {d!r}", "positive integers")
    if not (
        isinstance(shape, list)
        and 1 <= len(shape) <= 8
        and all(_count(s) for s in shape)
        and math.prod(shape) == d
    ):
        raise Refusal(f"sample_shape {shape!r}", f"positive integers whose product is {d}")
    classes = meta["classes"]
    if not (
        isinstance(classes, list)
        and 1 <= len(classes) <= min(MAX_CLASSES, n)
        and all(_number(c) for c in classes)
        and all(a < b for a, b in itertools.pairwise(classes))
    ):
        raise Refusal(
            "classes that are not a sorted list of distinct numbers",
            f"1 to {MAX_CLASSES} sorted distinct finite labels",
        )
    provenance = meta.get("provenance", {})
    if not isinstance(provenance, dict) or not all(
        isinstance(v, str | int | float | bool | None) for v in provenance.values()
    ):
        raise Refusal("provenance that is not flat", "a dict of names to JSON scalars")
    return meta


def check_array(doc, name, n, d):
    """The checked metadata document of array ``name`` ("X" or "y") for ``n`` rows of ``d``
    features; returns ``(doc, chunk_rows)``. Codecs are checked by the caller."""
    if not isinstance(doc, dict) or doc.get("zarr_format") != 3 or doc.get("node_type") != "array":
        raise Refusal(f"{name}/zarr.json is not a zarr format 3 array", f"array {name}")
    unknown = set(doc) - _ARRAY_KEYS
    if unknown:
        raise Refusal(f"{name} has unknown metadata {sorted(unknown)}", "standard zarr v3 fields")
    expected_shape = [n, d] if name == "X" else [n]
    types = X_TYPES if name == "X" else Y_TYPES
    data_type = doc.get("data_type")
    if not isinstance(data_type, str) or data_type not in types:
        raise Refusal(f"{name} of data type {str(data_type)[:40]!r}", f"one of {', '.join(types)}")
    if doc.get("shape") != expected_shape:
        raise Refusal(
            f"{name} of shape {str(doc.get('shape'))[:60]}",
            f"{expected_shape}, as the attributes n_samples and n_features say",
        )
    grid = doc.get("chunk_grid")
    chunk = grid.get("configuration", {}) if isinstance(grid, dict) else {}
    chunk = chunk.get("chunk_shape") if isinstance(chunk, dict) else None
    if not (
        isinstance(grid, dict)
        and grid.get("name") == "regular"
        and isinstance(chunk, list)
        and len(chunk) == len(expected_shape)
        and _count(chunk[0])
        and chunk[1:] == expected_shape[1:]
    ):
        raise Refusal(f"{name} chunked as {str(grid)[:80]}", "a regular grid chunked by rows only")
    rows = chunk[0]
    if rows * math.prod(chunk[1:]) * ITEMSIZE[data_type] > MAX_CHUNK_BYTES:
        raise Refusal(
            f"{name} chunks of {rows} rows ({rows * math.prod(chunk[1:]) * ITEMSIZE[data_type]} "
            "bytes uncompressed)",
            f"at most {MAX_CHUNK_BYTES >> 20} MiB a chunk",
        )
    if doc.get("storage_transformers", []) != []:
        raise Refusal(f"{name} has storage transformers", "none")
    return rows


def check_size(n, d, dtype_name):
    """Refuse a declared X beyond ``MAX_X_BYTES`` (before anything sizes a buffer by it)."""
    if n * d * ITEMSIZE[dtype_name] > MAX_X_BYTES:
        raise Refusal(
            f"a declared shape of {n} x {d} ({n * d * ITEMSIZE[dtype_name]} bytes)",
            f"at most {MAX_X_BYTES} bytes of X",
        )


# ---------------------------------------------------------------------- codecs
CODECS_EXPECTED = "codecs bytes, then at most one of zstd, gzip or blosc, then optionally crc32c"
_COMPRESSORS = ("zstd", "gzip", "blosc")
_ZSTD_MAGIC = 0xFD2FB528


def declared_nbytes(chunk_spec):
    """Bytes of one chunk as its metadata declares it: shape x itemsize."""
    return (
        int(np.prod(chunk_spec.shape, dtype=np.int64))
        * chunk_spec.dtype.to_native_dtype().itemsize
    )


def _refuse(codec, got, expected):
    raise ValueError(
        f"a {codec} chunk decompresses to {got} bytes, not the {expected} its shape declares"
    )


def zstd_content_size(data):
    """The decompressed size the first zstd frame of ``data`` declares, or None (not stated)."""
    if len(data) < 6 or int.from_bytes(data[:4], "little") != _ZSTD_MAGIC:
        raise ValueError("a zstd chunk does not start with a zstd frame")
    descriptor = data[4]
    single_segment = (descriptor >> 5) & 1
    size_bytes = (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]
    if size_bytes == 0:
        return None
    at = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 3]
    if len(data) < at + size_bytes:
        raise ValueError("a zstd chunk ends inside its frame header")
    return int.from_bytes(data[at : at + size_bytes], "little") + (256 if size_bytes == 2 else 0)


def inflate(data, limit):
    """gzip or zlib streams (concatenated members too) inflated to at most ``limit`` bytes."""
    out = bytearray()
    rest = bytes(data)
    while rest:
        inflater = zlib.decompressobj(47)  # 32 + 15: a gzip or zlib header, detected
        out += inflater.decompress(rest, limit + 1 - len(out))
        if len(out) > limit or inflater.unconsumed_tail:
            _refuse("gzip", f"more than {limit}", limit)
        if not inflater.eof:
            raise ValueError("a gzip chunk is truncated")
        rest = inflater.unused_data
    return out


class _Bounded:
    """Mixin: the async decode runs the bounded synchronous one (in a thread, as zarr's)."""

    async def _decode_single(self, chunk_bytes, chunk_spec):
        return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)


class BoundedZstd(_Bounded, ZstdCodec):
    """zarr's zstd codec, inflating into a buffer of exactly the chunk's declared size."""

    def _decode_sync(self, chunk_bytes, chunk_spec):
        expected = declared_nbytes(chunk_spec)
        data = chunk_bytes.as_numpy_array()
        stated = zstd_content_size(bytes(data[:18]))
        if stated is not None and stated != expected:
            _refuse("zstd", stated, expected)
        out = np.empty(expected, dtype=np.uint8)
        try:  # into `out`: longer output (other frames, unstated sizes) is an error, not memory
            _zstd.decompress(data, out)
        except (RuntimeError, ValueError) as exc:
            raise ValueError(
                f"a zstd chunk does not decompress to {expected} bytes: {exc}"
            ) from exc
        return chunk_spec.prototype.buffer.from_array_like(out)


class BoundedGzip(_Bounded, GzipCodec):
    """zarr's gzip codec, inflating no more than the chunk's declared size."""

    def _decode_sync(self, chunk_bytes, chunk_spec):
        expected = declared_nbytes(chunk_spec)
        out = inflate(chunk_bytes.as_numpy_array(), expected)
        if len(out) != expected:
            _refuse("gzip", len(out), expected)
        return chunk_spec.prototype.buffer.from_array_like(np.frombuffer(out, dtype=np.uint8))


class BoundedBlosc(_Bounded, BloscCodec):
    """zarr's blosc codec; the header's output size must be the chunk's declared size."""

    def _decode_sync(self, chunk_bytes, chunk_spec):
        expected = declared_nbytes(chunk_spec)
        head = bytes(chunk_bytes.as_numpy_array()[:16])
        if len(head) < 16:
            raise ValueError("a blosc chunk is shorter than its 16-byte header")
        nbytes = int.from_bytes(head[4:8], "little")  # what blosc allocates and fills
        if nbytes != expected:
            _refuse("blosc", nbytes, expected)
        if int.from_bytes(head[12:16], "little") != len(chunk_bytes):
            raise ValueError("a blosc chunk's size differs from the one in its header")
        return super()._decode_sync(chunk_bytes, chunk_spec)


_READERS = {
    "bytes": BytesCodec,
    "zstd": BoundedZstd,
    "gzip": BoundedGzip,
    "blosc": BoundedBlosc,
    "crc32c": Crc32cCodec,
}


def reading_codecs(codecs):
    """Codec objects for the ``codecs`` list of an array's metadata (bounded ones), or
    ValueError saying what is not allowed (see the module docstring for the whitelist)."""
    if not isinstance(codecs, list) or not 1 <= len(codecs) <= 3:
        raise ValueError(f"codecs {_short(codecs)}")
    names = []
    for codec in codecs:
        if not isinstance(codec, dict) or not set(codec) <= {"name", "configuration"}:
            raise ValueError(f"codec {_short(codec)}")
        name = codec.get("name")
        if name not in _READERS:
            raise ValueError(f"codec {_short(name)} (not one fastreg reads)")
        if not isinstance(codec.get("configuration", {}), dict):
            raise ValueError(f"codec {name} with configuration {_short(codec['configuration'])}")
        names.append(name)
    rest = names[1:]
    if rest and rest[-1] == "crc32c":
        rest = rest[:-1]
    if names[0] != "bytes" or len(rest) > 1 or (rest and rest[0] not in _COMPRESSORS):
        raise ValueError(f"the codec chain {' -> '.join(names)}")
    try:
        return [_READERS[c["name"]].from_dict(c) for c in codecs]
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"a codec configuration zarr refuses ({exc})") from exc


def _short(value, most=80):
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "..."


# ---------------------------------------------------------------------- writing
def labels(y, n):
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise InvalidParameterError(
            f"y must be 1-d with one label per sample of X ({n}), got shape {y.shape}", param="y"
        )
    if y.dtype.kind == "b":
        return y.astype(np.uint8)
    if y.dtype.kind not in "iuf":
        raise InvalidParameterError(
            f"a zarr store holds numeric labels, got dtype {y.dtype}",
            param="y",
            hint="map other labels to integers first: classes, y_int = np.unique(y, "
            "return_inverse=True)",
        )
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise InvalidParameterError("y contains NaN or infinite labels", param="y")
        if (y == np.round(y)).all() and (np.abs(y) < 2**53).all():
            return y.astype(np.int64)  # whole numbers are class labels, as write_dataset
        if y.dtype != np.float32:
            return y.astype(np.float64)
    return y.astype(y.dtype.newbyteorder("="), copy=False)


def positive_chunk_rows(chunk_rows):
    """``chunk_rows`` as an int, or InvalidParameterError unless it is an integer >= 1."""
    if (
        isinstance(chunk_rows, bool)
        or not isinstance(chunk_rows, int | np.integer)
        or chunk_rows < 1
    ):
        raise InvalidParameterError(
            f"chunk_rows must be a positive integer, got {chunk_rows!r}", param="chunk_rows"
        )
    return int(chunk_rows)


def chunk_rows(chunk_rows, d, itemsize):
    if chunk_rows is None:
        return max(1, DEFAULT_CHUNK_BYTES // (d * itemsize))
    chunk_rows = positive_chunk_rows(chunk_rows)
    if int(chunk_rows) * d * itemsize > MAX_CHUNK_BYTES:
        raise InvalidParameterError(
            f"chunk_rows={chunk_rows} makes chunks of {int(chunk_rows) * d * itemsize} bytes, "
            f"more than readers accept ({MAX_CHUNK_BYTES >> 20} MiB)",
            param="chunk_rows",
        )
    return int(chunk_rows)


def provenance(provenance):
    provenance = dict(provenance or {})
    for key, value in provenance.items():
        if not isinstance(key, str) or not isinstance(value, str | int | float | bool | None):
            raise InvalidParameterError(
                f"provenance maps names to JSON scalars (str, int, float, bool, None); got "
                f"{key!r}: {type(value).__name__}",
                param="provenance",
            )
    return provenance
