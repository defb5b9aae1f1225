"""Are the files found on disk the data set they are named after? Checked once per file.

A file found locally for a registered data set passes when it is

* the published download: its size and digest (``RemoteFile.size`` and ``sha256`` or ``md5``);
* or, for a copy compressed by someone else (the shared MNIST files, Debian's packages) or
  gunzipped, its uncompressed contents: ``raw_size`` bytes with SHA-256 ``raw_sha256``. The .gz
  is streamed, never beyond ``raw_size`` + 1 bytes (a bomb costs one pass over its first
  ``raw_size`` bytes).

Anything else (another data set under the same names, a damaged or hand-made file) raises
:class:`DatasetError` naming the file and what to do. ``verify=False`` (the loaders' argument)
skips the check for deliberate subsets and home-made files under these names.

The verdict is remembered: ``<cache root>/verified.json`` maps each passing file (data set, name,
resolved path) to its size, modification time (ns) and the digest it was checked against;
while those hold, the file is not read again. The record is replaced atomically
(:func:`fastreg._litter.write_json`); when the cache cannot be written, files are simply checked
on every load.
"""

import hashlib
import json
import logging
import os
from pathlib import Path

from .._litter import write_json
from ..exceptions import DatasetError
from ._cache import default_cache_dir
from ._idx import CHUNK_BYTES, _Inflating

RECORD = "verified.json"

log = logging.getLogger(__name__)


def record_path():
    return default_cache_dir(RECORD)


def _key(spec, remote, path):
    return f"{spec.name}:{remote.name}:{Path(path).resolve()}"


def _identity(path, remote):
    stat = os.stat(path)
    return {
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "expected": remote.raw_sha256 or remote.digest_kind()[1],
    }


def _load_record():
    try:
        record = json.loads(record_path().read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def remember(spec, pairs):
    """Record ``(remote, path)`` pairs as verified (best effort)."""
    if not pairs:
        return
    try:
        record = _load_record()
        for remote, path in pairs:
            record[_key(spec, remote, path)] = _identity(path, remote)
        record = {
            key: value for key, value in record.items() if os.path.exists(key.split(":", 2)[2])
        }  # forget files that are gone
        target = record_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        write_json(target, record)
    except OSError as exc:
        log.debug("cannot remember verified files (%s); they are checked again next time", exc)


def verify_files(spec, remotes, paths):
    """Check each of ``paths`` (None: skipped) as the file ``remotes[i]`` of ``spec``."""
    record = _load_record()
    passed = []
    for remote, path in zip(remotes, paths):
        if path is None:
            continue
        if record.get(_key(spec, remote, path)) == _identity(path, remote):
            continue
        problem = _problem(path, remote)
        if problem is not None:
            raise DatasetError(
                f"{path}: this is not {spec.title}'s {remote.local_name}: {problem}",
                param="data_dir",
                hint=f"replace it with the published file ({remote.describe()}), or delete it "
                "and load with download=True to fetch it; if you meant to use your own "
                "files under these names (a deliberate subset, say), pass verify=False",
            )
        passed.append((remote, path))
    remember(spec, passed)


def _hash(path, kind):
    hasher = hashlib.new(kind, usedforsecurity=False)
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            hasher.update(chunk)
    return hasher.hexdigest()


def _inflated(path, limit):
    """(size, sha256) of the uncompressed contents of the .gz ``path``, reading at most
    ``limit`` + 1 bytes of them (size ``limit + 1`` then means "more than ``limit``")."""
    hasher, size = hashlib.sha256(), 0
    with _Inflating(path) as stream:
        while size <= limit:
            chunk = stream.read(min(CHUNK_BYTES, limit + 1 - size))
            if not chunk:
                break
            size += len(chunk)
            hasher.update(chunk)
    return size, hasher.hexdigest()


def _problem(path, remote):
    """None when ``path`` holds the published file or its contents, else what differs."""
    path = Path(path)
    size = path.stat().st_size
    kind, digest = remote.digest_kind()
    if path.name.endswith(".gz"):
        if size == remote.size and _hash(path, kind) == digest:
            return None  # the published download itself
        if not remote.raw_sha256:
            return (
                f"it has {size} bytes and differs from the published {remote.name} "
                f"({remote.size} bytes, {kind} {digest})"
            )
        raw_size, raw_digest = _inflated(path, remote.raw_size)
    else:
        raw_size = size
        raw_digest = _hash(path, "sha256") if size == remote.raw_size else None
    if raw_size == remote.raw_size and raw_digest == remote.raw_sha256:
        return None
    if raw_size > remote.raw_size:
        found = f"more than {remote.raw_size} bytes"
    else:
        found = f"{raw_size} bytes" + (f", sha256 {raw_digest}" if raw_digest else "")
    return (
        f"its contents are {found}, the published ones {remote.raw_size} bytes with "
        f"sha256 {remote.raw_sha256}"
    )
