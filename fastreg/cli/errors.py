"""How failures reach the user: exit statuses, the CLI's own errors, and the library calls
whose exceptions become messages in the command line's words.

The library raises the exceptions of :mod:`fastreg.exceptions`, each with ``reason`` (what
went wrong), ``param`` (the Python argument at fault) and ``hint`` (what to do, in Python
terms). A message here is composed from those fields: the reason as it is, the parameter as
its command-line option (:func:`option`), and advice written for the command line. No message
text is parsed or rewritten.
"""

import os
from pathlib import Path

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """A failure to report as a message (no traceback) with an exit status.

    ``prog`` is the command the message is about ("fastreg train"), shown as its prefix.
    """

    exit_code = EXIT_FAILURE

    def __init__(self, message, prog="fastreg"):
        super().__init__(message)
        self.prog = prog


class UsageError(CLIError):
    """A bad command line: one line, exit status 2."""

    exit_code = EXIT_USAGE


def option(param):
    """The command-line option of the Python parameter ``param``.

    Estimator parameters take their option from the parameter table (``learning_rate`` ->
    ``--lr``); other arguments (``data_dir``) follow the one convention of this command line,
    underscores become dashes (``--data-dir``).
    """
    from .._validation import cli_flag

    try:
        flag = cli_flag(param)
    except KeyError:
        flag = None
    return flag or "--" + param.replace("_", "-")


def check_backend(name, prog="fastreg"):
    """Load the backend the estimator will use (``"auto"`` as the estimator resolves it:
    FASTREG_BACKEND, else compiled, else NumPy), so a missing extension is reported before any
    work is done."""
    from .._kernels import get_backend
    from ..exceptions import BackendUnavailableError, InvalidParameterError

    try:
        get_backend(name or "auto")
    except BackendUnavailableError as exc:
        raise CLIError(
            f"{exc.reason}; build the compiled kernels with `pip install .` (or "
            "`pip install -e .` in a checkout), or pass "
            f"{option(exc.param or 'backend')} numpy",
            prog,
        ) from exc
    except InvalidParameterError as exc:  # FASTREG_BACKEND holds an unknown name
        raise CLIError(str(exc), prog) from exc


def load_data(spec, data_dir, no_download, prog="fastreg", *, no_verify=False):
    """The arrays of the registered data set ``spec``, or a CLIError that says where they
    were looked for and what to do, in command-line terms."""
    from ..datasets import (
        DataNotFoundError,
        DatasetError,
        DownloadError,
        default_cache_dir,
        load_dataset,
    )

    cache = default_cache_dir(spec.subdir)
    options = {"verify": False} if no_verify else {}
    try:
        return load_dataset(spec.name, data_dir, download=not no_download, **options)
    except DataNotFoundError as exc:
        target = _target(spec, data_dir)
        megabytes = max(1, round(spec.download_bytes / 1e6))
        if data_dir is None:
            ways = [
                f"pass {option(exc.param)} DIR (the folder holding the four files)",
                "set FASTREG_DATA=DIR",
            ]
        else:
            ways = [f"pass {option(exc.param)} DIR naming the folder that holds the four files"]
        if no_download:
            ways.append(
                f"drop --no-download to download {spec.title} into {target} (about {megabytes} MB)"
            )
        raise CLIError(
            f"{exc.reason}\nTo provide it: {', or '.join(ways)}.\n{_by_hand(spec, target)}", prog
        ) from exc
    except DownloadError as exc:
        from ..datasets._download import ENV_DEADLINE

        target = _target(spec, data_dir)
        raise CLIError(
            f"{exc.reason}\n{_by_hand(spec, target)}\nOr name another folder with "
            f"{option(exc.param)} DIR, or allow more time with {ENV_DEADLINE}=SECONDS (per "
            "file).",
            prog,
        ) from exc
    except DatasetError as exc:  # a damaged or foreign file
        if exc.param == "data_dir" and not no_verify:  # a file on disk is not the data set
            raise CLIError(
                f"{exc.reason}; replace it with the published file, or delete it and run "
                "again to download it; to use your own files under these names (a deliberate "
                "subset, say), pass --no-verify",
                prog,
            ) from exc
        advice = f"; {exc.hint}" if exc.hint else ""
        where = f" (given by {option(exc.param)})" if exc.param else ""
        raise CLIError(f"{exc.reason}{where}{advice}", prog) from exc
    except OSError as exc:  # unreadable files, a data or cache folder that cannot be made
        reason = exc.strerror or str(exc)
        if data_dir is None and _concerns(cache, exc.filename):
            raise CLIError(
                f"cannot create the cache folder {cache}: {reason} ({exc.filename}); choose "
                "another cache with XDG_CACHE_HOME=DIR (the data then go to "
                f"DIR/fastreg/{spec.subdir}), or pass --data-dir DIR to use a folder of your "
                "own",
                prog,
            ) from exc
        if data_dir is not None and _concerns(Path(data_dir).expanduser(), exc.filename):
            if isinstance(exc, FileExistsError):  # mkdir of a name that is a file
                reason = "it is a file, not a folder"
            raise CLIError(
                f"cannot use --data-dir {data_dir}: {reason} ({exc.filename}); "
                "pass a folder you can read and write",
                prog,
            ) from exc
        raise CLIError(f"cannot read {spec.title}: {exc}", prog) from exc


def _target(spec, data_dir):
    """The folder a download of ``spec`` goes to: the one --data-dir names, else the cache."""
    from ..datasets._fetch import default_cache_dir, named_folder

    return named_folder(spec, data_dir) if data_dir is not None else default_cache_dir(spec.subdir)


def _by_hand(spec, folder):
    """How to place the files still missing from ``folder`` by hand: sizes and digests."""
    from ..datasets._fetch import files_in

    missing = [
        remote for remote, path in zip(spec.files, files_in(folder, spec)) if path is None
    ] or list(spec.files)
    lines = "".join(f"\n  {remote.describe()}" for remote in missing)
    return (
        f"To place the files by hand: get them from a mirror you trust, check their size "
        f"and digest, and put them (gzip'd or not) in {folder}:{lines}"
    )


def _concerns(folder, filename):
    """Whether the failed path ``filename`` is ``folder``, one of its parents, or inside it."""
    if not filename:
        return False
    path, folder = Path(os.fsdecode(filename)).absolute(), Path(folder).absolute()
    return path == folder or path in folder.parents or folder in path.parents


def refuse(path, what, expected):
    """Raise the one-line error of a bad file: ``<path>: <what>; expected <expected>``."""
    raise CLIError(f"{path}: {what}; expected {expected}")


def check_feature_count(path, d, n_features):
    """Refuse input of ``d`` features for a model trained on ``n_features``."""
    if d != n_features:
        refuse(path, f"{d} features", f"{n_features}, the number the model was trained on")
