"""Uncompressed copies of gzip'd IDX files in the per-user cache, for ``mmap=True`` to map.

A ``.gz`` file cannot be memory-mapped. :func:`mappable` returns a path that can be: the file
itself when it is uncompressed, else a verified uncompressed copy at

    <default_cache_dir(subdir)>/uncompressed/<source folder name>-<key>/<name without .gz>

never next to the source, which may be read-only (a shared folder). ``<key>`` is derived from
the source folder's resolved path, so copies of different sources (a hand-made subset under
MNIST's file names, a shared folder, the cache's own downloads) never replace one another, and
none of them lies where ``_fetch.locate`` looks for a data set.

Beside each copy, ``<name>.source`` (JSON) records what it was made from: the source's resolved
path, size and modification time (ns), and the copy's size and SHA-256. A copy is reused when that
record matches the source as it is now, and the copy's IDX header matches its size and the
recorded size. Otherwise (first use; the source replaced, rewritten or touched; the copy
truncated, damaged in its header, or missing its record) the copy is made again from the .gz by
:func:`decompress_idx`: streamed in chunks, never beyond the size the header declares nor the
published uncompressed size, checked (header against size; also the published SHA-256 of the
uncompressed bytes), written under a temporary name unique to the call
and renamed into place. The copy is renamed before its record is written, so an interrupted run
leaves a record that does not match, never a stale copy that looks current. Processes that
decompress the same file at once each rename a complete, identical file; the loser's rename
simply replaces the winner's. Temporary files abandoned by a killed process are removed by a
later decompression, by the package's one rule for them (:mod:`fastreg._litter`); those named
the way 0.1.0 named them (``.<name>.<8 random characters>.part``) after a day.

Reuse never reads the copy's body (not reading it is the point of mapping it): damage that keeps
the header and the size intact goes unnoticed until the source changes. Delete the
``uncompressed`` folder to force fresh copies.
"""

import hashlib
import json
import logging
import os
from pathlib import Path

from .. import _litter
from ._cache import default_cache_dir
from ._idx import HEAD_BYTES, decompress_idx, parse_header

COPIES = "uncompressed"
#: How 0.1.0 named the temporary files of copies and records (removed after a day).
LEGACY_TEMPS = (_litter.mkstemp_glob(".*.", ".part"),)

log = logging.getLogger(__name__)


def mappable(path, remote, subdir):
    """A path to an uncompressed, verified form of the IDX file ``path``, ready to map.

    ``remote`` is the file's ``_registry.RemoteFile`` (its published uncompressed size and
    SHA-256, if any, are checked), ``subdir`` the data set's cache folder name. Raises
    :class:`DatasetError` naming ``path`` when the .gz is corrupt, and an ``OSError`` that says
    what to do when the cache cannot be written.
    """
    if not os.fspath(path).endswith(".gz"):
        return Path(path)
    source = Path(path).resolve()
    stat = source.stat()
    folder = default_cache_dir(subdir) / COPIES / _folder_key(source.parent)
    copy = folder / source.name[:-3]
    record = {
        "source": str(source),
        "source_size": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns,
    }
    problem = _stale(copy, record)
    if problem is None:
        return copy
    published = (remote.raw_size, remote.raw_sha256) if remote.raw_sha256 else None
    log.info("decompressing %s into %s (%s)", source, copy, problem)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _litter.remove_stale(folder, (".part",), legacy=LEGACY_TEMPS)
        size, digest = decompress_idx(
            source, copy, published=published, max_bytes=remote.raw_size or None
        )
        _litter.write_json(_record_path(copy), dict(record, size=size, sha256=digest))
    except OSError as exc:
        if exc.filename == str(source):  # the source itself went missing or unreadable
            raise
        raise _unwritable(exc, source, folder) from exc
    return copy


def _folder_key(folder):
    digest = hashlib.sha256(os.fsencode(folder)).hexdigest()[:16]
    return f"{folder.name or 'root'}-{digest}"


def _record_path(copy):
    return copy.with_name(copy.name + ".source")


def _stale(copy, record):
    """None when ``copy`` may be reused for the source described by ``record``, else why not."""
    try:
        saved = json.loads(_record_path(copy).read_text())
        size = copy.stat().st_size
        with open(copy, "rb") as stream:
            parse_header(stream.read(HEAD_BYTES), copy, size)
    except FileNotFoundError:
        return "no copy, or no record of its source, yet"
    except (OSError, ValueError) as exc:  # DatasetError and bad JSON are ValueErrors
        return f"the copy or its record is unreadable or damaged: {exc}"
    if not isinstance(saved, dict) or any(saved.get(k) != v for k, v in record.items()):
        return "the source changed since the copy was made"
    if saved.get("size") != size:
        return f"the copy has {size} bytes, its record says {saved.get('size')}"
    return None


def _unwritable(exc, source, folder):
    message = (
        f"cannot write an uncompressed copy of {source} in {folder} "
        f"({exc.strerror or exc}). mmap=True needs a writable cache with room for the "
        "uncompressed file: set XDG_CACHE_HOME to a writable folder, or pass data_dir= a "
        "folder holding the uncompressed IDX files (gunzip them there; they are mapped "
        "in place), or load with mmap=False"
    )
    return OSError(exc.errno, message) if exc.errno else OSError(message)
