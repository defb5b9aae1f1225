"""Find the IDX files of a data set on disk, or download and verify them into the cache.

Where a data set is looked for, first complete folder wins:

1. ``data_dir`` (the argument), then ``<data_dir>/<subdir>``;
2. the ``FASTREG_DATA`` environment variable: for MNIST the folder itself or
   ``<FASTREG_DATA>/mnist``; for Fashion-MNIST only ``<FASTREG_DATA>/fashion-mnist``, because its
   files carry the very same names as MNIST's and a flat folder cannot tell the two apart;
3. the per-user cache ``$XDG_CACHE_HOME/fastreg/<subdir>`` (``~/.cache/fastreg/<subdir>`` when
   XDG_CACHE_HOME is unset or not absolute, as the XDG spec says).

A folder is complete when it holds all four files, each either uncompressed
(``train-images-idx3-ubyte``, memory-mapped) or gzip'd (``train-images-idx3-ubyte.gz``). Files
found locally are not checksummed on load (the IDX reader still checks each header against the
file size): data placed by hand may be compressed differently from the canonical downloads.

Only when no folder is complete and ``download=True`` is the network touched: each file missing
from the cache is fetched from the data set's mirrors in order, streamed into a temporary file in
the cache folder, checked for its published size and digest, and only then renamed into place
(an atomic ``os.replace``). A file that fails on every mirror leaves nothing behind and raises
:class:`DownloadError`; files already verified stay in the cache for the next attempt.

The mirrors, file names, sizes and digests are the registry's (``_registry``).

Failures raise the exceptions of :mod:`fastreg.exceptions` with ``param="data_dir"`` and a
``hint``, so that a caller (the command line) can say what to do in its own words:
:class:`DataNotFoundError` (a ``FileNotFoundError``; ``searched`` lists the folders) and
:class:`DownloadError`.
"""
import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..exceptions import DataNotFoundError, DownloadError

ENV_DATA = "FASTREG_DATA"
TIMEOUT_SECONDS = 60
CHUNK_BYTES = 1 << 20
USER_AGENT = "fastreg-datasets (python urllib)"  # some mirrors refuse urllib's default agent

log = logging.getLogger(__name__)


def default_cache_dir(subdir="mnist"):
    """The per-user cache folder of a data set: ``$XDG_CACHE_HOME/fastreg/<subdir>``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "fastreg" / subdir


def search_places(spec, data_dir=None):
    """The folders searched for ``spec``, in order, as ``(where it came from, Path)`` pairs."""
    places = []
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        places += [("data_dir", root), ("data_dir", root / spec.subdir)]
    env = os.environ.get(ENV_DATA, "").strip()
    if env:
        root = Path(env).expanduser()
        if spec.flat_env_folder:
            places.append((ENV_DATA, root))
        places.append((ENV_DATA, root / spec.subdir))
    places.append(("cache", default_cache_dir(spec.subdir)))
    return places


def files_in(folder, spec):
    """The path of each of ``spec.files`` in ``folder`` (uncompressed preferred), or None."""
    found = []
    for remote in spec.files:
        raw, packed = folder / remote.local_name, folder / remote.name
        found.append(raw if raw.is_file() else packed if packed.is_file() else None)
    return found


def locate(spec, data_dir=None, *, download=True):
    """Paths of the four files of ``spec``: found on disk, else downloaded into the cache.

    Raises :class:`DataNotFoundError` (listing every place searched; a ``FileNotFoundError``)
    when they are nowhere and ``download`` is false, and :class:`DownloadError` when a download
    fails.
    """
    report, searched = [], []
    for origin, folder in search_places(spec, data_dir):
        found = files_in(folder, spec)
        if all(found):
            return found
        searched.append(folder)
        if not folder.is_dir():
            report.append(f"  {origin}: {folder} (no such folder)")
        else:
            missing = [r.name for r, p in zip(spec.files, found) if p is None]
            report.append(f"  {origin}: {folder} (missing {', '.join(missing)})")
    if not os.environ.get(ENV_DATA, "").strip():
        report.insert(len(report) - 1, f"  {ENV_DATA}: not set")  # before the cache line

    if not download:
        names = ", ".join(r.name for r in spec.files)
        raise DataNotFoundError(
            f"{spec.title} was not found. Looked for {names} (each .gz or uncompressed) in:\n"
            + "\n".join(report),
            searched=searched, param="data_dir",
            hint=f"to provide it, pass data_dir=<folder holding the four files>, set {ENV_DATA}"
                 f"=<that folder>, or call again with download=True to fetch it into "
                 f"{default_cache_dir(spec.subdir)}")
    cache = default_cache_dir(spec.subdir)
    cache.mkdir(parents=True, exist_ok=True)
    return [path or download_file(remote, spec, cache)
            for remote, path in zip(spec.files, files_in(cache, spec))]


class _AttemptFailed(Exception):
    """One mirror failed for one file; the message says how."""


def download_file(remote, spec, folder, *, timeout=TIMEOUT_SECONDS):
    """Fetch ``remote`` from the first of ``spec.mirrors`` that delivers it intact.

    The file is streamed into a temporary file inside ``folder`` (same file system, so the
    final ``os.replace`` is atomic), checked for size and digest, then renamed to
    ``folder/remote.name``. Returns that path; raises :class:`DownloadError` naming every
    mirror's failure, the expected digest and how to place the file by hand.
    """
    final = Path(folder) / remote.name
    failures = []
    for mirror in spec.mirrors:
        url = mirror.rstrip("/") + "/" + remote.name
        log.info("downloading %s", url)
        try:
            _fetch_verified(url, remote, final, timeout)
            return final
        except _AttemptFailed as exc:
            log.warning("%s failed: %s", url, exc)
            failures.append(f"  {url}: {exc}")
    kind, digest = remote.digest_kind()
    raise DownloadError(
        f"Could not download {remote.name} ({spec.title}; {remote.size} bytes, {kind} "
        f"{digest}) from any mirror; nothing was written for it in {folder}.\n"
        + "\n".join(failures),
        param="data_dir",
        hint=f"to place the files by hand, get them from a mirror you trust, check them with "
             f"`{kind}sum`, and put them (gzip'd or not) in {folder}, or in a folder you name "
             f"with data_dir= or the {ENV_DATA} environment variable")


def _fetch_verified(url, remote, final, timeout):
    kind, expected = remote.digest_kind()
    fd, partial = tempfile.mkstemp(dir=final.parent, prefix=f".{remote.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            # usedforsecurity=False: MD5 here checks integrity, and FIPS builds allow that
            hasher = hashlib.new(kind, usedforsecurity=False)
            received, actual = _stream(url, out, remote, hasher, timeout)
        if received != remote.size:
            raise _AttemptFailed(f"got {received} bytes, expected {remote.size} ({kind} of what "
                                 f"arrived: {actual}, expected {expected})")
        if actual != expected:
            raise _AttemptFailed(f"{kind} mismatch: expected {expected}, got {actual} "
                                 "(corrupt or tampered file)")
        os.replace(partial, final)
    finally:
        # after a successful replace the temporary name no longer exists
        if os.path.exists(partial):
            os.unlink(partial)


def _stream(url, out, remote, hasher, timeout):
    received = 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            while chunk := response.read(CHUNK_BYTES):
                received += len(chunk)
                if received > remote.size:
                    # a wrong file: stop before it fills the disk
                    raise _AttemptFailed(f"server sent more than the expected {remote.size} "
                                         "bytes (wrong or tampered file)")
                hasher.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise _AttemptFailed(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _AttemptFailed(f"cannot connect ({exc.reason})") from None
    except http.client.IncompleteRead as exc:
        got = received + len(exc.partial)
        raise _AttemptFailed(f"connection closed after {got} of {remote.size} bytes "
                             "(truncated download)") from None
    except (http.client.HTTPException, OSError) as exc:
        raise _AttemptFailed(f"{type(exc).__name__}: {exc}") from None
    return received, hasher.hexdigest()
