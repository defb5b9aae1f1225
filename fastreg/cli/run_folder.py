"""The output folder of ``fastreg train``, written all at once or not at all.

A run is written into a temporary sibling of ``--out`` (same parent, so the same file system)
and renamed to ``--out`` only when every file is complete. ``--overwrite`` replaces an earlier
run only then: the old folder is renamed aside, the new one renamed in, and the old one removed,
so ``--out`` is never a mix: it holds the old run or the new one (and, for the instant between
the two renames, nothing). SIGINT or any failure while
the results are written removes the temporary folder and leaves ``--out`` as it was (Ctrl-C is
held back during the two renames of a replacement and delivered right after them).

Temporary names follow the package's one rule for temporary files (:mod:`fastreg._litter`):
``.<out name>.frw-<host>-<pid>-<random>.run`` (the folder being written) and
``.<out name>.frw-<host>-<pid>-<random>.old`` (a replaced run on its way out). A process killed
while writing leaves one behind; the next ``fastreg train`` writing into the same parent folder
removes every such name whose process is gone: written on this host by a pid that no longer
runs (at once), or written on another host sharing the folder once older than
:data:`fastreg._litter.STALE_SECONDS` (a day). Nothing else is touched, never a folder whose pid
runs here.
"""

import contextlib
import datetime
import os
import shutil
import signal
import threading
import warnings
from pathlib import Path

from .. import _litter
from .errors import CLIError

#: Everything ``train`` writes; an --out folder holding only these is an earlier run.
RUN_FILES = (
    "history.csv",
    "metrics.json",
    "model.npz",
    "loss.png",
    "accuracy.png",
    "weights.png",
    "report.html",
)
#: The suffixes of the temporary folders: a run being written, a replaced run on its way out.
TEMP_SUFFIXES = (".run", ".old")


def _temp_name(final, suffix):
    return final.parent / _litter.temp_name(final.name, suffix)


class RunFolder:
    """Where a run goes: ``path`` (the final folder, ``--out``) and :meth:`writing`.

    Made by :func:`prepare_out_dir`, which checks ``--out`` before any work is done.
    ``replace`` says that ``path`` holds an earlier run that ``--overwrite`` replaces;
    ``unique`` (the default ``runs/<task>-<timestamp>``) that another free name is taken if
    ``path`` appears meanwhile.
    """

    def __init__(self, path, *, replace=False, unique=False, made_parents=()):
        self.path = Path(path)
        self.replace = replace
        self.unique = unique
        self.made_parents = list(made_parents)

    @contextlib.contextmanager
    def writing(self):
        """Yield a fresh temporary folder to write the run into; rename it to :attr:`path`
        when the block completes. On any exception (KeyboardInterrupt included) the temporary
        folder is removed, ``path`` is left as it was, and the exception propagates."""
        temp = _temp_name(self.path, ".run")
        try:
            temp.mkdir()
        except OSError as exc:
            raise _write_error(self.path, exc) from exc
        try:
            yield temp
            self._commit(temp)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise

    def abandon(self):
        """Remove the parent folders made for this run (when nothing was written)."""
        for parent in reversed(self.made_parents):
            with contextlib.suppress(OSError):
                parent.rmdir()

    def _commit(self, temp):
        if self.unique:
            self.path = _free_name(self.path)
        if not self.replace:
            try:
                with _sigint_deferred():
                    os.rename(temp, self.path)  # onto a missing or an empty folder
            except OSError as exc:
                raise _write_error(self.path, exc, "the folder appeared meanwhile; ") from exc
            return
        aside = _temp_name(self.path, ".old")
        old = None
        try:
            with _sigint_deferred():  # a Ctrl-C now is raised after both renames
                try:
                    os.rename(self.path, aside)
                    old = aside
                except FileNotFoundError:
                    pass  # removed meanwhile: nothing to replace
                except OSError as exc:
                    raise _write_error(
                        self.path, exc, "cannot move the earlier run aside; "
                    ) from exc
                try:
                    os.rename(temp, self.path)
                except OSError as exc:
                    if old is not None:
                        os.rename(old, self.path)  # put the earlier run back
                        old = None
                    raise _write_error(self.path, exc) from exc
        finally:
            if old is not None:
                _remove(old)


def _remove(old):
    if old.is_symlink():  # --out was a link to a folder: drop the link, not its target
        old.unlink()
    shutil.rmtree(old, ignore_errors=True)
    if old.exists():
        warnings.warn(f"the replaced run could not be removed completely: {old}", stacklevel=3)


def _free_name(path):
    base, n = path, 1
    while path.exists() and (not path.is_dir() or any(path.iterdir())):
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def _write_error(path, exc, what=""):
    reason = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename else ""
    return CLIError(
        f"cannot write the run folder {path}: {what}{reason}{where}; choose a "
        "writable folder with --out DIR"
    )


@contextlib.contextmanager
def _sigint_deferred():
    """Hold back SIGINT during a few renames; deliver it (KeyboardInterrupt) afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def prepare_out_dir(out, task, *, overwrite=False, now=None, holds=None):
    """Check ``--out`` and prove its parent writable, before any work is done; return a
    :class:`RunFolder`. Nothing is created but missing parent folders.

    ``out`` None means ``runs/<task>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``... appended when that
    exists). A given folder may exist empty; one holding an earlier run (only the files
    ``train`` writes, or the entries ``holds(name)`` accepts: a sweep's) is replaced with
    ``overwrite``; a folder holding anything else, a file,
    the current folder or one of its parents, and an empty or blank name, are refused.
    """
    unique = out is None
    if unique:
        stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
        path = _free_name(Path("runs") / f"{task}-{stamp}")
    else:
        if not str(out).strip():
            raise CLIError("--out is empty: name the output folder, e.g. --out runs/first")
        path = Path(out).expanduser()
    replace = _check_existing(path, overwrite, holds or RUN_FILES.__contains__)
    parent = path.absolute().parent
    missing = [p for p in [parent, *parent.parents] if not p.exists()]
    blocker = next((p for p in [parent, *parent.parents] if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise CLIError(
            f"cannot write to the output folder {path}: Not a directory ({blocker} "
            "is a file); choose a writable folder with --out DIR"
        )
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _litter.remove_stale(parent, TEMP_SUFFIXES)
        probe = parent / _litter.temp_name(path.name, ".run")
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        for p in missing:  # innermost first
            with contextlib.suppress(OSError):
                p.rmdir()
        reason = exc.strerror or str(exc)
        raise CLIError(
            f"cannot write to the output folder {path}: {reason}"
            f"{f' ({exc.filename})' if exc.filename else ''}; choose a writable "
            "folder with --out DIR"
        ) from exc
    return RunFolder(path, replace=replace, unique=unique, made_parents=reversed(missing))


def _check_existing(path, overwrite, holds):
    """Whether ``path`` holds an earlier run to replace; CLIError when it cannot be used."""
    cwd = Path.cwd().resolve()
    if path.exists() and (path.resolve() == cwd or path.resolve() in cwd.parents):
        raise CLIError(
            f"cannot use --out {path}: it is the current folder or holds it; name "
            "a new folder, e.g. --out runs/first"
        )
    if path.exists() and not path.is_dir():
        raise CLIError(
            f"cannot use --out {path}: it is a file, not a folder; choose another --out DIR"
        )
    if not path.is_dir():
        return False
    names = sorted(os.listdir(path))
    if not names:
        return False
    others = [n for n in names if not holds(n)]
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise CLIError(
            f"--out {path} holds files that are not a run's ({shown}); choose a new "
            "or empty --out DIR"
        )
    if not overwrite:
        raise CLIError(
            f"--out {path} already holds a run ({', '.join(names)}); choose "
            "another --out DIR or pass --overwrite"
        )
    return True
