"""How failures reach the user: exit statuses, the CLI's own errors, and the library calls
whose exceptions become messages in the command line's words.

The library raises the exceptions of :mod:`fastreg.exceptions`, each with ``reason`` (what
went wrong), ``param`` (the Python argument at fault) and ``hint`` (what to do, in Python
terms). A message here is composed from those fields: the reason as it is, the parameter as
its command-line option (:func:`option`), and advice written for the command line. No message
text is parsed or rewritten.
"""
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
        raise CLIError(f"{exc.reason}; build the compiled kernels with `pip install .` (or "
                       "`pip install -e .` in a checkout), or pass "
                       f"{option(exc.param or 'backend')} numpy", prog) from exc
    except InvalidParameterError as exc:  # FASTREG_BACKEND holds an unknown name
        raise CLIError(str(exc), prog) from exc


def load_data(spec, data_dir, no_download, prog="fastreg"):
    """The arrays of the registered data set ``spec``, or a CLIError that says where they
    were looked for and what to do, in command-line terms."""
    from ..datasets import DataNotFoundError, DatasetError, DownloadError, default_cache_dir
    from ..datasets import load_dataset

    try:
        return load_dataset(spec.name, data_dir, download=not no_download)
    except DataNotFoundError as exc:
        megabytes = max(1, round(spec.download_bytes / 1e6))
        raise CLIError(
            f"{exc.reason}\nTo provide it: pass {option(exc.param)} DIR (the folder holding the "
            "four files), or set FASTREG_DATA=DIR, or drop --no-download to download "
            f"{spec.title} into the cache (about {megabytes} MB).", prog) from exc
    except DownloadError as exc:
        kind = spec.files[0].digest_kind()[0]
        raise CLIError(
            f"{exc.reason}\nTo place the files by hand: get them from a mirror you trust, check "
            f"them with `{kind}sum`, and put them (gzip'd or not) in "
            f"{default_cache_dir(spec.subdir)}, or in a folder you pass with "
            f"{option(exc.param)} DIR.", prog) from exc
    except DatasetError as exc:  # a damaged or foreign file
        advice = f"; {exc.hint}" if exc.hint else ""
        where = f" (given by {option(exc.param)})" if exc.param else ""
        raise CLIError(f"{exc.reason}{where}{advice}", prog) from exc
    except OSError as exc:  # unreadable files, a cache folder that cannot be written
        raise CLIError(f"cannot read {spec.title}: {exc}", prog) from exc
