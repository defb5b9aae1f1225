"""Entries of an .npz archive from a stranger, each checked before it is inflated.

An .npz file is a zip of .npy files. :class:`Entries` opens only the members it is told to
know (others are never inflated), and reads one only after its .npy header passed the
caller's expectations (dtype kinds, shape) and the archive's bounds: the member must be
stored or deflated and not encrypted; its declared size must equal the header's shape times
the item size, and be no more than its compressed bytes can yield (1:1 stored, at most
``MAX_RATIO``:1 deflated); and all entries read together may not exceed what the file can
hold inflated nor the machine's memory. So a small file can neither make the reader inflate
gigabytes nor allocate what a header merely claims. Every failure is raised as the caller's
``reject(why)`` error: parsers' ValueError, TypeError, OverflowError, zlib and zip errors
are turned into it too.
"""

import math
import os
import zipfile

import numpy as np

MAX_ENTRIES = 10_000  # members of the zip (a model file has 25 or 26)
MAX_TEXT = 1 << 20  # characters of a text entry (the parameters' JSON is < 1 kB)
MAX_RATIO = 1100  # deflate inflates at most ~1032:1; stored members 1:1
TOTAL_RATIO = 16  # all entries read: at most 16 x the file's size + TOTAL_SLACK
TOTAL_SLACK = 16 << 20


class _Malformed(Exception):
    """Why an entry is refused (turned into the caller's error by :meth:`Entries.read`)."""


def _memory_bytes():
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 1 << 62


class Entries:
    """The ``known`` members of an open zip ``archive`` (names without ".npy"), each read only
    after its header was checked. ``disk_bytes`` is the file's size, ``reject(why)`` makes
    the error to raise."""

    def __init__(self, archive, disk_bytes, known, reject):
        self.archive, self.reject = archive, reject
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise reject(f"{len(infos)} entries")
        self.members = {}
        for info in infos:
            key = info.filename[:-4] if info.filename.endswith(".npy") else None
            if key in known:
                if key in self.members:
                    raise reject(f"the entry {key!r} appears twice")
                self.members[key] = info
        # what may be inflated in all: a model file is stored (uncompressed), so its arrays
        # take about its size; deflated ones get some room, and never more than the RAM
        self.budget = min(TOTAL_RATIO * disk_bytes + TOTAL_SLACK, _memory_bytes())

    def read(self, key, kinds, shape):
        """The array of entry ``key`` (which must be present), read only if its dtype's kind is
        in ``kinds`` (native byte order, no objects or fields) and its shape is ``shape`` (a
        tuple; a None in it accepts any length)."""
        info = self.members[key]
        try:
            if info.flag_bits & 0x1:
                raise _Malformed("encrypted")
            ratio = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: MAX_RATIO}.get(
                info.compress_type
            )
            if ratio is None:
                raise _Malformed(
                    f"compression method {info.compress_type} (model files are stored or deflated)"
                )
            if info.file_size > ratio * info.compress_size + 1024:
                raise _Malformed(
                    f"declares {info.file_size} bytes from {info.compress_size} "
                    "compressed bytes, more than its compression can yield"
                )
            with self.archive.open(info) as fp:
                return self._read(info, fp, kinds, shape)
        except _Malformed as exc:
            raise self.reject(f"entry {key!r}: {exc}") from None
        except (
            ValueError,
            TypeError,
            SyntaxError,
            OverflowError,
            EOFError,
            OSError,
            zipfile.BadZipFile,
            NotImplementedError,
            RuntimeError,
        ) as exc:
            raise self.reject(f"entry {key!r}: unreadable: {exc}") from exc

    def _read(self, info, fp, kinds, shape):
        version = np.lib.format.read_magic(fp)
        if version not in ((1, 0), (2, 0)):
            raise _Malformed(f".npy format version {version}")
        header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        dims, fortran, dtype = header(fp)
        _check(dims, dtype, kinds, shape)
        count = math.prod(dims)
        size = count * dtype.itemsize  # Python integers: no overflow
        if fp.tell() + size != info.file_size:
            raise _Malformed(
                f"declares a {dtype} array of shape {dims}, but the entry holds "
                f"{info.file_size - fp.tell()} bytes"
            )
        self.budget -= size
        if self.budget < 0:
            raise _Malformed(
                f"declares {size} bytes, more than the file (or this machine's memory) can hold"
            )
        out = np.empty(count, dtype=dtype)
        buf, done = memoryview(out.view(np.uint8)).cast("B") if size else b"", 0
        while done < size:
            got = fp.readinto(buf[done:])
            if not got:
                raise _Malformed("truncated")
            done += got
        fp.read(1)  # at the end of the entry: zipfile checks its CRC
        return out.reshape(dims, order="F" if fortran else "C")

    def text(self, key, missing=None):
        if key not in self.members and missing is not None:
            return missing
        return str(self.read(key, "U", ())[()])

    def integer(self, key, missing=None, low=0):
        if key not in self.members and missing is not None:
            return missing
        value = int(self.read(key, "iu", ())[()])
        if value < low:
            raise self.reject(f"entry {key!r}: {value} is below {low}")
        return value


def _check(dims, dtype, kinds, shape):
    if (
        dtype.hasobject
        or dtype.fields is not None
        or dtype.subdtype is not None
        or dtype.kind not in kinds
        or not dtype.isnative
    ):
        raise _Malformed(f"dtype {dtype} (expected one of the kinds {kinds!r}, native byte order)")
    if any(n < 0 for n in dims):
        raise _Malformed(f"shape {dims}")
    if len(dims) != len(shape) or any(w is not None and n != w for n, w in zip(dims, shape)):
        raise _Malformed(f"shape {dims}, expected {shape}".replace("None", "any"))
    if dtype.kind == "U" and dtype.itemsize > 4 * MAX_TEXT:
        raise _Malformed(f"a text of {dtype.itemsize // 4} characters")
