"""The verified download of one file, in bounded time, with a progress bar.

A file is fetched from the data set's mirrors in order, streamed into a temporary file in the
destination folder (named as :mod:`fastreg._litter` says, so a killed download's leftover is
removed by the next one), checked for its published size and digest, and only then renamed into
place (an atomic ``os.replace``). A file that fails on every mirror leaves nothing behind and
raises :class:`DownloadError`, worded once here for every cause, with the size and digest of
every file still missing and where to put them by hand.

Time is bounded twice: each read waits at most ``TIMEOUT_SECONDS`` (30 s) for data, and each
file has an overall deadline, ``download_deadline`` seconds (the loaders' argument; else the
``FASTREG_DOWNLOAD_DEADLINE`` environment variable; else ``DEFAULT_DEADLINE``, 300 s) across
all its mirrors. When the deadline passes, a watchdog shuts the connection's socket, so even a
server that drips a byte at a time (in its headers or its body) ends the attempt on time.

While a file downloads, a tqdm bar on stderr shows its progress when tqdm is installed and
stderr is a terminal.
"""

import hashlib
import http.client
import logging
import math
import os
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from .. import _litter
from .._progress import _tqdm
from ..exceptions import DownloadError, InvalidParameterError

ENV_DEADLINE = "FASTREG_DOWNLOAD_DEADLINE"
DEFAULT_DEADLINE = 300.0
TIMEOUT_SECONDS = 30
CHUNK_BYTES = 64 << 10
USER_AGENT = "fastreg-datasets (python urllib)"  # some mirrors refuse urllib's default agent

#: How 0.1.0 named a download's temporary file (``.<name>.<8 random characters>.part``).
LEGACY_TEMPS = (_litter.mkstemp_glob(".*.", ".part"),)

log = logging.getLogger(__name__)


def resolve_deadline(download_deadline=None):
    """Seconds allowed per file: the argument, else $FASTREG_DOWNLOAD_DEADLINE, else 300."""
    source, value = "download_deadline", download_deadline
    if value is None:
        source, value = ENV_DEADLINE, os.environ.get(ENV_DEADLINE, "").strip() or None
    if value is None:
        return DEFAULT_DEADLINE
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not seconds > 0 or math.isinf(seconds) or isinstance(value, bool):
        raise InvalidParameterError(
            f"{source} must be a positive number of seconds, got {value!r}",
            param="download_deadline",
        )
    return seconds


class _Watchdog:
    """Shuts every socket the attempt opened once ``seconds`` have passed."""

    def __init__(self, seconds):
        self.sockets, self.expired = [], False
        self.lock = threading.Lock()
        self.timer = threading.Timer(seconds, self.fire)
        self.timer.daemon = True

    def add(self, sock):
        with self.lock:
            self.sockets.append(sock)
            if self.expired:
                self._shut(sock)

    def fire(self):
        with self.lock:
            self.expired = True
            for sock in self.sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        return False


def _opener(watchdog):
    """A urllib opener whose connections register their sockets with ``watchdog``."""

    class Connection(http.client.HTTPConnection):
        def connect(self):
            super().connect()
            watchdog.add(self.sock)

    class SecureConnection(http.client.HTTPSConnection):
        def connect(self):
            super().connect()
            watchdog.add(self.sock)

    class Handler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(Connection, req)

    class SecureHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(SecureConnection, req, context=self._context)

    return urllib.request.build_opener(Handler, SecureHandler)


def _urlopen(request, timeout, watchdog):
    """Open ``request`` (the one place the network is touched; tests replace it)."""
    return _opener(watchdog).open(request, timeout=timeout)


def download_advice(spec, folder, missing):
    """How to place the ``missing`` files of ``spec`` by hand, with their sizes and digests."""
    lines = "\n".join(f"  {remote.describe()}" for remote in missing)
    return (
        f"to place the files by hand, get them from a mirror you trust, check their size and "
        f"digest, and put them (gzip'd or not) in {folder}:\n{lines}"
    )


class _AttemptFailed(Exception):
    """One mirror failed for one file; the message says how."""


def download_file(
    remote, spec, folder, *, missing=None, download_deadline=None, timeout=TIMEOUT_SECONDS
):
    """Fetch ``remote`` into ``folder`` from the first of ``spec.mirrors`` that delivers it
    intact within the deadline; return its path. ``missing`` lists the files still to fetch
    (for the advice of the error); :class:`DownloadError` names every mirror's failure."""
    deadline = resolve_deadline(download_deadline)
    final = Path(folder) / remote.name
    _litter.remove_stale(final.parent, (".part",), legacy=LEGACY_TEMPS)
    failures = []
    ends = time.monotonic() + deadline
    for mirror in spec.mirrors:
        url = mirror.rstrip("/") + "/" + remote.name
        left = ends - time.monotonic()
        if left <= 0:
            failures.append(f"  {url}: not tried, the deadline had passed")
            continue
        log.info("downloading %s", url)
        try:
            _fetch_verified(url, remote, final, timeout, left)
            return final
        except _AttemptFailed as exc:
            log.warning("%s failed: %s", url, exc)
            failures.append(f"  {url}: {exc}")
    kind, digest = remote.digest_kind()
    raise DownloadError(
        f"Could not download {remote.name} ({spec.title}; {remote.size} bytes, {kind} "
        f"{digest}) within {deadline:g} s from any mirror; nothing was written for it in "
        f"{folder}.\n" + "\n".join(failures),
        param="data_dir",
        hint=download_advice(spec, folder, missing or [remote])
        + f"\n(or allow more time: download_deadline= or {ENV_DEADLINE}, in seconds per file)",
    )


def _fetch_verified(url, remote, final, timeout, seconds):
    kind, expected = remote.digest_kind()
    fd, partial = tempfile.mkstemp(
        dir=final.parent, prefix=_litter.temp_prefix(remote.name), suffix=".part"
    )
    try:
        with os.fdopen(fd, "wb") as out:
            # usedforsecurity=False: MD5 here checks integrity, and FIPS builds allow that
            hasher = hashlib.new(kind, usedforsecurity=False)
            received, actual = _stream(url, out, remote, hasher, timeout, seconds)
        if received != remote.size:
            raise _AttemptFailed(
                f"got {received} bytes, expected {remote.size} ({kind} of what "
                f"arrived: {actual}, expected {expected})"
            )
        if actual != expected:
            raise _AttemptFailed(
                f"{kind} mismatch: expected {expected}, got {actual} (corrupt or tampered file)"
            )
        os.replace(partial, final)
    finally:
        # after a successful replace the temporary name no longer exists
        if os.path.exists(partial):
            os.unlink(partial)


def _stream(url, out, remote, hasher, timeout, seconds):
    received = 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    tqdm = _tqdm()
    bar = (
        None
        if tqdm is None
        else tqdm(
            total=remote.size,
            desc=remote.name,
            unit="B",
            unit_scale=True,
            file=sys.stderr,
            disable=None,
            leave=False,
        )
    )  # disable=None: no bar when stderr is not a terminal
    with _Watchdog(seconds) as watchdog:
        try:
            with _urlopen(request, min(timeout, seconds), watchdog) as response:
                while chunk := response.read1(CHUNK_BYTES):
                    received += len(chunk)
                    if received > remote.size:
                        # a wrong file: stop before it fills the disk
                        raise _AttemptFailed(
                            f"server sent more than the expected {remote.size}"
                            " bytes (wrong or tampered file)"
                        )
                    hasher.update(chunk)
                    out.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                    if watchdog.expired:
                        break
        except urllib.error.HTTPError as exc:
            raise _AttemptFailed(f"HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            if watchdog.expired:
                raise _AttemptFailed(
                    f"no complete file within the deadline of {seconds:.3g} s "
                    f"({received} of {remote.size} bytes arrived)"
                ) from None
            if isinstance(exc, http.client.IncompleteRead):
                got = received + len(exc.partial)
                raise _AttemptFailed(
                    f"connection closed after {got} of {remote.size} bytes (truncated download)"
                ) from None
            if isinstance(exc, urllib.error.URLError):
                raise _AttemptFailed(f"cannot connect ({exc.reason})") from None
            raise _AttemptFailed(f"{type(exc).__name__}: {exc}") from None
        finally:
            if bar is not None:
                bar.close()
    if watchdog.expired and received < remote.size:
        raise _AttemptFailed(
            f"no complete file within the deadline of {seconds:.3g} s "
            f"({received} of {remote.size} bytes arrived)"
        )
    return received, hasher.hexdigest()
