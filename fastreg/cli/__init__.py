"""The command line: train, sweep, compare, evaluate and predict.

::

    fastreg train --task binary                 # the digits 2 (label 1) vs 3 (label 0)
    fastreg train --task softmax --epochs 20    # all ten classes
    fastreg train --data my.csv --target label  # your own data
    fastreg sweep --l2 0 0.01 0.1 --task softmax --out runs/l2
    fastreg compare runs/a runs/b
    fastreg evaluate runs/softmax-<timestamp>/model.npz
    fastreg predict runs/softmax-<timestamp>/model.npz new.npy --proba

Modules: ``parser`` (the commands and their options, typed by the parameter table of
:mod:`fastreg._parameters`; a command's module is imported only when it runs, so ``--help``
and ``--version`` import no NumPy), one module per command (``train``, ``sweep``, ``compare``,
``evaluate``, ``predict``), ``training_data`` (the data of a run: a built-in data set or a
file of ``data_files`` / ``csv_rows``, split once), ``input_chunks`` (``predict``'s input, in
blocks), ``report`` (the run folder's files, the printed summary), ``html_report`` and
``html_parts`` (``report.html``), ``summary`` and ``overlays`` (a sweep's or comparison's
summary and pictures), ``run_folder`` (the output folder, written as a temporary sibling and
renamed when complete), ``interrupt`` (Ctrl-C), ``names`` (titles and class names, from the
dataset registry), ``errors`` (exit statuses, and library exceptions turned into messages from
their structured fields).

Errors never end in a traceback: a bad argument prints one line and exits with status 2, a
runtime failure (data not found, output folder not writable, training diverged, not a model
file) prints what went wrong and what to do, and exits with status 1. ``--debug`` re-raises
the exception instead, for bug reports. Warnings are shown as one ``fastreg: warning:`` line.
A closed stdout (``fastreg evaluate RUN | head -1``) ends the command quietly, with status 1.
With :mod:`fastreg._progress` (the progress bar) this package is the only code that prints.
"""

import contextlib
import importlib
import logging
import sys
import warnings

from .errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CLIError, UsageError
from .parser import RUNNERS, build_parser, parse_args

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CLIError",
    "UsageError",
    "build_parser",
    "main",
]


def main(argv=None):
    """Run ``fastreg`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    with warnings.catch_warnings(), _library_log():
        warnings.showwarning = _show_warning
        try:
            args = parse_args(argv)
            # imported for the command run (the others stay unloaded), and looked up at call
            # time, so that a test can replace a command
            module, function = RUNNERS[args.command]
            command = getattr(importlib.import_module(f"{__name__}.{module}"), function)
            status = command(args, argv)
            sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
            return status
        except SystemExit as exc:  # --help and --version
            try:
                sys.stdout.flush()
            except BrokenPipeError:
                _silence_stdout()
                return EXIT_FAILURE
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        except BrokenPipeError as exc:  # `fastreg evaluate RUN | head -1`: the reader is gone
            if not _stdout_is_pipe():  # some other pipe: an error like any other
                if debug:
                    raise
                _error(
                    f"unexpected BrokenPipeError: {exc} (rerun with --debug to see where; "
                    "please report it)"
                )
                return EXIT_FAILURE
            _silence_stdout()
            return EXIT_FAILURE
        except KeyboardInterrupt:
            _error("interrupted")
            return EXIT_INTERRUPTED
        except CLIError as exc:
            if debug:
                raise
            _error(str(exc), exc.prog)
            return exc.exit_code
        except Exception as exc:  # the CLI never ends in a traceback
            if debug:
                raise
            _error(
                f"unexpected {type(exc).__name__}: {exc} (rerun with --debug to see where; "
                "please report it)"
            )
            return EXIT_FAILURE


class _LogFormatter(logging.Formatter):
    def format(self, record):
        return f"fastreg: {record.levelname.lower()}: {record.getMessage()}"


@contextlib.contextmanager
def _library_log():
    """Show the library's log records (a failed download mirror, say) as ``fastreg:`` lines
    on stderr while a command runs; the handler is removed afterwards."""
    logger = logging.getLogger("fastreg")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LogFormatter())
    handler.setLevel(logging.INFO)
    logger.addHandler(handler)
    old_level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def _stdout_is_pipe():
    import os
    import stat

    try:
        return stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode) or stat.S_ISSOCK(
            os.fstat(sys.stdout.fileno()).st_mode
        )
    except (AttributeError, OSError, ValueError):  # a replaced stdout (a test's capture)
        return True


def _silence_stdout():
    """Python's recipe for a closed pipe (the ``signal`` module's documentation, "Note on
    SIGPIPE"): point stdout at devnull, so that the interpreter's final flush of what is still
    buffered does not raise again at exit; then exit quietly."""
    import os

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced stdout (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _error(message, prog="fastreg"):
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"fastreg: warning: {message}", file=sys.stderr, flush=True)
