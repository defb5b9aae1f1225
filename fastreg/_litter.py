"""Temporary files of killed processes: how every writer of this package names its temporary
files and folders, and when the next writer in a folder removes them. The one rule, for the
dataset writer, the downloader, the unpacked (uncompressed) cache copies and the cache's JSON
records, ``save``'s model files, and the command line's run folders.

A writer names each temporary file or folder

    .<final name>.frw-<host>-<pid>-<random><suffix>

(``<host>`` the machine's name, letters and digits only; ``<pid>`` the writing process;
``<suffix>`` says what it is: ``.partial`` / ``.labels`` the dataset writer's rows and labels,
``.part`` a download, an uncompressed copy or a JSON record, ``.tmp`` a model file, ``.run`` /
``.old`` a run folder being written / a replaced run on its way out), and deletes it itself on
success, failure and garbage collection. Only a killed process (SIGKILL, a power cut) leaves
one behind. Before it starts, the next writer in that folder removes (:func:`remove_stale`)
files and folders that match this pattern, end in its own suffixes, and are stale:

* written on this machine by a process that no longer runs (its pid is gone): at once;
* written on another machine sharing the folder, or named the way a released version named
  them (no pid; each caller lists those names, see :func:`mkstemp_glob`): once untouched for
  ``STALE_SECONDS`` (a day), far longer than any write takes.

Nothing else is ever removed: not files of other programs, never a file whose pid runs on this
machine, however old (should the pid be in use again by another program, the file stays).
A file that cannot be removed (another process took it first, no permission) is left alone.

This module imports nothing from fastreg (only the standard library), so any layer may use it.
"""

import fnmatch
import json
import os
import re
import secrets
import shutil
import socket
import tempfile
import time

STALE_SECONDS = 24 * 3600
HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"
_OURS = re.compile(
    r"^\..+\.frw-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[A-Za-z0-9_]+(?P<suffix>\.\w+)$"
)
_MKSTEMP_RANDOM = "[a-z0-9_]" * 8  # the eight characters tempfile.mkstemp puts in a name


def temp_prefix(final_name):
    """The prefix of this process's temporary files for ``final_name`` (pass to tempfile)."""
    return f".{final_name}.frw-{HOST}-{os.getpid()}-"


def temp_name(final_name, suffix):
    """A fresh temporary name for ``final_name`` (for a folder: ``os.mkdir`` it)."""
    return f"{temp_prefix(final_name)}{secrets.token_hex(4)}{suffix}"


def mkstemp_glob(prefix, suffix):
    """The glob of the names ``tempfile.mkstemp(prefix=..., suffix=...)`` gave: how a released
    version (0.1.0) named its temporary files. ``prefix`` and ``suffix`` are globs themselves
    (``".*."`` for ``.<any final name>.``)."""
    return prefix + _MKSTEMP_RANDOM + suffix


def pid_running(pid):
    """Whether the process ``pid`` may run on this machine (True when that cannot be told)."""
    if os.name != "posix" or pid <= 0:
        return True  # no cheap, safe probe: rely on age
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):  # EPERM: it runs, as another user
        return True
    return True


def is_stale(name, mtime, suffixes, legacy=(), now=None):
    """Whether ``name`` (last modified at ``mtime``) is a dead writer's leftover: one of our
    names ending in one of ``suffixes``, or a name matching one of the ``legacy`` globs."""
    now = time.time() if now is None else now
    ours = _OURS.match(name)
    if ours is not None:
        if ours["suffix"] not in tuple(suffixes):
            return False
        if ours["host"] == HOST:
            return not pid_running(int(ours["pid"]))
        return now - mtime > STALE_SECONDS
    return (
        any(fnmatch.fnmatchcase(name, pattern) for pattern in legacy)
        and now - mtime > STALE_SECONDS
    )


def remove_stale(folder, suffixes, *, legacy=(), now=None):
    """Remove the stale temporary files and folders in ``folder`` (see the module docstring):
    ours ending in one of ``suffixes``, and those matching a ``legacy`` glob; return the names
    removed. Never raises: cleaning up is a courtesy."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time() if now is None else now
    for entry in entries:
        if not entry.name.startswith("."):
            continue
        try:
            if not is_stale(
                entry.name, entry.stat(follow_symlinks=False).st_mtime, suffixes, legacy, now
            ):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
                if os.path.lexists(entry.path):
                    continue
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
        except OSError:
            pass  # gone already, or not ours to remove
    return removed


def write_json(path, value):
    """Write ``value`` as JSON to ``path`` atomically: into ``.<name>.frw-...part`` beside it,
    then ``os.replace``. Stale ``.part`` files of killed writers in that folder go first."""
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale(folder, (".part",))
    fd, partial = tempfile.mkstemp(
        dir=folder, prefix=temp_prefix(os.path.basename(path)), suffix=".part"
    )
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(value, out, indent=1)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):  # after a successful replace the name no longer exists
            os.unlink(partial)
