"""The command line: ``fastreg train`` runs an experiment, ``fastreg evaluate`` scores a model.

::

    fastreg train --task binary                 # MNIST 2 (label 1) vs 3 (label 0)
    fastreg train --task softmax --epochs 20    # the ten digits
    fastreg evaluate runs/softmax-<timestamp>/model.npz

``train`` loads the data set, carves a stratified validation split off the training set
(seeded by ``--seed``), trains with a progress bar on stderr, evaluates the returned model on
the train and validation parts and, only then, once on the test set, prints a summary, and
writes ``history.csv``, ``metrics.json``, ``model.npz`` and the pictures of
:mod:`fastreg.plots` into the output folder. ``evaluate`` prints the test accuracy and the
confusion matrix of a saved model.

Errors never end in a traceback: a bad argument prints one line and exits with status 2, a
runtime failure (data not found, output folder not writable, training diverged, not a model
file) prints what went wrong and what to do, and exits with status 1. ``--debug`` re-raises
the exception instead, for bug reports. Warnings are shown as one ``fastreg: warning:`` line.

With :mod:`fastreg.plots` this is the only module that prints; the estimators print only
their progress bar, when asked with ``verbose``.
"""
import argparse
import contextlib
import csv
import datetime
import inspect
import json
import logging
import math
import os
import platform
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

DATASET_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
CLASS_NAMES = {
    "mnist": [str(k) for k in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
}
DEFAULT_DIGITS = (2, 3)
TASK_TITLES = {"binary": "logistic regression", "softmax": "softmax regression"}

#: Everything ``train`` writes; an --out folder holding any of them is not overwritten silently.
RUN_FILES = ("history.csv", "metrics.json", "model.npz", "loss.png", "accuracy.png",
             "weights.png")
PICTURES = ("loss.png", "accuracy.png", "weights.png")


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


# --------------------------------------------------------------------------- argument parsing
class _Parser(argparse.ArgumentParser):
    """argparse, but an error raises UsageError (one line) instead of printing usage and exiting."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)", prog=self.prog)


def _number(kind, *, low=None, strict=False, high=None, high_strict=False, what=None):
    """An argparse type: ``kind`` (int or float) within bounds, with a message naming them."""

    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
            ) from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if low is not None and (value < low or (strict and value == low)):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low}, got {text}")
        if high is not None and (value > high or (high_strict and value == high)):
            raise argparse.ArgumentTypeError(
                f"must be {'<' if high_strict else '<='} {high}, got {text}"
            )
        return value

    convert.__name__ = what or kind.__name__  # argparse names the type in some messages
    return convert


def _class_index(text):
    return _number(int, low=0, high=9)(text)


def _estimator_defaults():
    """The constructor defaults of the estimators (both share them), shown in ``--help``."""
    from .estimators import SoftmaxRegression

    sig = inspect.signature(SoftmaxRegression.__init__)
    return {name: p.default for name, p in sig.parameters.items() if name != "self"}


def _add_data_options(parser, dataset_help):
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", choices=sorted(DATASET_TITLES), default=None,
                       help=dataset_help)
    group.add_argument("--data-dir", metavar="DIR", default=None,
                       help="folder holding the four IDX files (.gz or not); default: search "
                            "$FASTREG_DATA, then ~/.cache/fastreg/<dataset>")
    group.add_argument("--no-download", action="store_true",
                       help="fail instead of downloading when the files are not found")
    return group


def build_parser():
    """The argument parser of ``fastreg`` (subcommands ``train`` and ``evaluate``)."""
    from . import __version__
    from .schedules import SCHEDULE_NAMES

    defaults = _estimator_defaults()
    parser = _Parser(
        prog="fastreg",
        description="Train and evaluate logistic / softmax regression on MNIST-style data.",
    )
    parser.add_argument("--version", action="version", version=f"fastreg {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (for bug reports)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    train = sub.add_parser(
        "train", parents=[common],
        help="train a model and write its history, metrics, weights and plots",
        description="Load the data, carve a stratified validation split off the training set, "
                    "train with a progress bar, print a summary, and write history.csv, "
                    "metrics.json, model.npz and (with matplotlib) loss.png, accuracy.png and "
                    "weights.png into --out. The test set is used once, by the final model.",
    )
    task = train.add_argument_group("task")
    task.add_argument("--task", choices=("binary", "softmax"), default="binary",
                      help="binary: logistic regression on two classes; softmax: all ten"
                           " (default: %(default)s)")
    task.add_argument("--digits", nargs=2, type=_class_index, metavar=("POS", "NEG"),
                      default=None,
                      help="the two classes of --task binary: POS becomes label 1, NEG label 0 "
                           f"(default: {DEFAULT_DIGITS[0]} {DEFAULT_DIGITS[1]})")
    data = _add_data_options(train, "the data set (default: mnist)")
    data.add_argument("--val-fraction", type=_number(float, low=0, strict=True, high=1,
                                                     high_strict=True),
                      default=0.1, metavar="F",
                      help="share of the training set held out for validation (stratified)"
                           " (default: %(default)s)")

    est = train.add_argument_group("training (estimator parameters)")
    est.add_argument("--epochs", type=_number(int, low=1), default=defaults["max_epochs"],
                     metavar="N", help="maximum number of epochs (max_epochs)"
                                       " (default: %(default)s)")
    est.add_argument("--batch-size", type=_number(int, low=1), default=defaults["batch_size"],
                     metavar="B", help="samples per gradient step (default: %(default)s)")
    est.add_argument("--lr", type=_number(float, low=0, strict=True),
                     default=defaults["learning_rate"], metavar="ALPHA",
                     help="base learning rate (learning_rate) (default: %(default)s)")
    est.add_argument("--lr-schedule", choices=SCHEDULE_NAMES, default=defaults["lr_schedule"],
                     help="learning-rate schedule over steps (see fastreg.schedules)"
                          " (default: %(default)s)")
    est.add_argument("--lr-decay", type=_number(float), default=defaults["lr_decay"],
                     metavar="R", help="decay factor/rate of the step, exponential and "
                                       "inverse schedules (default: %(default)s)")
    est.add_argument("--lr-decay-steps", type=_number(int, low=1), default=None, metavar="P",
                     help="decay period in steps (default: one epoch)")
    est.add_argument("--l2", type=_number(float, low=0), default=defaults["l2"], metavar="LAMBDA",
                     help="L2 penalty lambda in J = E + lambda ||W||^2 (default: %(default)s)")
    est.add_argument("--patience", type=_number(int, low=1), default=defaults["patience"],
                     metavar="N", help="validation checks without improvement before stopping"
                                       " (default: %(default)s)")
    est.add_argument("--min-delta", type=_number(float, low=0), default=defaults["min_delta"],
                     metavar="D", help="least decrease of the validation loss that counts"
                                       " (default: %(default)s)")
    est.add_argument("--no-early-stopping", action="store_true",
                     help="run all --epochs and keep the last weights")
    est.add_argument("--validation-interval", type=_number(int, low=1),
                     default=defaults["validation_interval"], metavar="C",
                     help="validation checks (history rows) per epoch (default: %(default)s)")
    est.add_argument("--no-shuffle", action="store_true",
                     help="visit the training rows in the same order every epoch")
    est.add_argument("--backend", choices=("auto", "cython", "numpy"), default="auto",
                     help="kernels to train with (auto: Cython when built, else NumPy; "
                          "FASTREG_BACKEND applies) (default: %(default)s)")
    est.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                     help="precision of the weights and the arithmetic (default: %(default)s)")
    est.add_argument("--threads", type=_number(int, low=1), default=defaults["n_threads"],
                     metavar="T", help="threads of the compiled epoch kernel (n_threads)"
                                       " (default: %(default)s)")
    est.add_argument("--seed", type=_number(int, low=0), default=0,
                     help="seeds the validation split and the shuffles (random_state)"
                          " (default: %(default)s)")

    out = train.add_argument_group("output")
    out.add_argument("--out", metavar="DIR", default=None,
                     help="output folder (default: runs/<task>-<timestamp>/)")
    out.add_argument("--overwrite", action="store_true",
                     help="allow --out to be a folder that already holds a run")
    out.add_argument("--no-plots", action="store_true", help="do not draw the PNG pictures")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")

    evaluate = sub.add_parser(
        "evaluate", parents=[common],
        help="report the test accuracy and confusion matrix of a saved model",
        description="Score a model saved by `fastreg train` (or model.save) on the test set "
                    "and print its accuracy and confusion matrix. The data set and, for a "
                    "binary model, its two classes are read from the metrics.json next to the "
                    "model unless given here.",
    )
    evaluate.add_argument("model", metavar="MODEL.npz",
                          help="the model file, or a run folder holding model.npz")
    evaluate.add_argument("--digits", nargs=2, type=_class_index, metavar=("POS", "NEG"),
                          default=None,
                          help="the two classes a binary model separates (POS is label 1)")
    _add_data_options(evaluate, "the test set to score on (default: the one in the run's "
                                "metrics.json, else mnist)")
    evaluate.add_argument("--backend", choices=("auto", "cython", "numpy"), default=None,
                          help="kernels to predict with (default: the model's setting)")
    return parser


# --------------------------------------------------------------------------- entry point
def main(argv=None):
    """Run ``fastreg`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    with warnings.catch_warnings(), _library_log():
        warnings.showwarning = _show_warning
        try:
            args = build_parser().parse_args(argv)
            command = {"train": run_train, "evaluate": run_evaluate}[args.command]
            return command(args, argv)
        except SystemExit as exc:  # --help and --version
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        except KeyboardInterrupt:
            _error("interrupted")
            return EXIT_INTERRUPTED
        except CLIError as exc:
            if debug:
                raise
            _error(str(exc), exc.prog)
            return exc.exit_code
        except Exception as exc:  # noqa: BLE001 - the CLI never ends in a traceback
            if debug:
                raise
            _error(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug to see where; "
                   "please report it)")
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


def _error(message, prog="fastreg"):
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"fastreg: warning: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- train
def run_train(args, argv=()):
    """The ``train`` subcommand; returns the exit status."""
    started = time.perf_counter()
    dataset = args.dataset or "mnist"
    digits = _check_train_args(args)
    _check_backend(args.backend)
    out_dir, created = prepare_out_dir(args.out, args.task, overwrite=args.overwrite)
    try:
        data = _load(dataset, args.data_dir, args.no_download)
        from .datasets import binary_subset, flatten, train_val_split

        X_train, y_train, X_test, y_test = data
        if digits is not None:
            X_train, y_train = binary_subset(X_train, y_train, *digits)
            X_test, y_test = binary_subset(X_test, y_test, *digits)
        X_fit, X_val, y_fit, y_val = train_val_split(
            flatten(X_train), y_train, args.val_fraction, stratify=True, random_state=args.seed)
        X_test = flatten(X_test)

        model = _make_model(args)
        if not args.no_progress:  # import the progress bar before the clock starts
            with contextlib.suppress(ImportError):
                import tqdm.auto  # noqa: F401
        print(f"training {TASK_TITLES[args.task]} on {_task_label(dataset, digits)}: "
              f"{len(y_fit)} train / {len(y_val)} validation images", flush=True)
        fit_start = time.perf_counter()
        try:
            model.fit(X_fit, y_fit, X_val=X_val, y_val=y_val)
        except FloatingPointError as exc:  # TrainingDivergedError
            # its first sentence says where; its advice names Python arguments
            where = str(exc).split(". ", 1)[0]
            raise CLIError(f"{where}. Pass a smaller --lr (e.g. --lr {args.lr / 10:g}); nothing "
                           "was written.") from exc
        fit_seconds = time.perf_counter() - fit_start

        scores = {
            "train": _scores(model, X_fit, y_fit),
            "validation": _scores(model, X_val, y_val),
            "test": _scores(model, X_test, y_test),  # the only use of the test set
        }
        cm = _confusion(model, X_test, y_test)
        total_seconds = time.perf_counter() - started
        metrics = _metrics_record(args, argv, dataset, digits, model, scores, cm,
                                  sizes=(len(y_fit), len(y_val), len(y_test)),
                                  fit_seconds=fit_seconds, total_seconds=total_seconds)
        written = write_run(out_dir, model, metrics, plots=not args.no_plots,
                            class_names=_class_names(dataset, digits),
                            weights_title=_weights_title(dataset, digits))
    except BaseException:
        if created:
            _remove_if_empty(out_dir)
        raise
    print_summary(metrics, out_dir, written)
    return EXIT_OK


def _check_train_args(args):
    """Cross-argument checks argparse cannot do; return the (positive, negative) classes."""
    if args.task == "softmax":
        if args.digits is not None:
            raise UsageError("--digits applies to --task binary only (softmax regression uses "
                             "all ten classes)", prog="fastreg train")
        digits = None
    else:
        digits = tuple(args.digits) if args.digits is not None else DEFAULT_DIGITS
        if digits[0] == digits[1]:
            raise UsageError(f"--digits needs two different classes, got {digits[0]} twice",
                             prog="fastreg train")
    from .schedules import make_schedule

    try:  # the schedule settings depend on each other: check them before any work
        make_schedule(args.lr_schedule, args.lr, decay=args.lr_decay,
                      decay_steps=args.lr_decay_steps or 1, total_steps=1)
    except ValueError as exc:
        message = str(exc).replace("lr_decay_steps", "--lr-decay-steps") \
            .replace("lr_decay", "--lr-decay").replace("learning_rate", "--lr")
        raise UsageError(message, prog="fastreg train") from exc
    return digits


def _check_backend(name):
    """Load the backend the estimator will use (as it does: "auto" follows FASTREG_BACKEND),
    so that a missing extension is reported before any work."""
    from ._backend import get_backend

    try:
        get_backend(None if name in (None, "auto") else name)
    except ImportError as exc:
        raise CLIError(f"{exc} Or pass --backend numpy.") from exc
    except ValueError as exc:  # FASTREG_BACKEND holds an unknown name
        raise CLIError(str(exc)) from exc


def _make_model(args):
    from .estimators import LogisticRegression, SoftmaxRegression

    cls = LogisticRegression if args.task == "binary" else SoftmaxRegression
    return cls(
        learning_rate=args.lr, batch_size=args.batch_size, max_epochs=args.epochs, l2=args.l2,
        lr_schedule=args.lr_schedule, lr_decay=args.lr_decay, lr_decay_steps=args.lr_decay_steps,
        early_stopping=not args.no_early_stopping, patience=args.patience,
        min_delta=args.min_delta, validation_interval=args.validation_interval,
        shuffle=not args.no_shuffle, random_state=args.seed, backend=args.backend,
        dtype=args.dtype, input_scale=1 / 255, n_threads=args.threads,
        verbose=0 if args.no_progress else 1,
    )


def _scores(model, X, y):
    """Mean cross-entropy (no L2 term) and accuracy of ``model`` on ``(X, y)``."""
    from .metrics import mean_cross_entropy

    columns = np.searchsorted(model.classes_, y)
    loss = mean_cross_entropy(model.predict_log_proba(X), columns)
    return {"loss": loss, "accuracy": model.score(X, y), "n_samples": int(len(y))}


def _confusion(model, X, y):
    from .metrics import confusion_matrix

    return confusion_matrix(y, model.predict(X), labels=model.classes_)


def _metrics_record(args, argv, dataset, digits, model, scores, cm, *, sizes, fit_seconds,
                    total_seconds):
    from . import __version__

    epochs = int(model.n_iter_)
    params = {k: v for k, v in model.get_params(deep=False).items()
              if v is None or isinstance(v, (bool, int, float, str))}
    return {
        "fastreg_version": __version__,
        "command": "fastreg " + " ".join(argv),
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "task": args.task,
        "estimator": type(model).__name__,
        "dataset": dataset,
        "digits": None if digits is None else {"positive": digits[0], "negative": digits[1]},
        "class_names": _class_names(dataset, digits),
        "n_train": sizes[0],
        "n_validation": sizes[1],
        "n_test": sizes[2],
        "val_fraction": args.val_fraction,
        "seed": args.seed,
        "backend": model.backend_,
        "dtype": np.dtype(model.coef_.dtype).name,
        "params": params,
        "epochs_run": epochs,
        "best_epoch": int(model.best_epoch_),
        "stopped_early": bool(not args.no_early_stopping and epochs < args.epochs),
        "steps": int(model.t_),
        "wall_time_s": fit_seconds,
        "seconds_per_epoch": fit_seconds / max(epochs, 1),
        "total_time_s": total_seconds,
        "train": scores["train"],
        "validation": scores["validation"],
        "test": scores["test"],
        "test_confusion_matrix": cm.tolist(),
        "machine": {
            "platform": platform.platform(),
            "processor": _cpu_name(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
    }


def _cpu_name():
    """The CPU model (from /proc/cpuinfo on Linux), else what ``platform`` knows."""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _task_label(dataset, digits):
    title = DATASET_TITLES[dataset]
    if digits is None:
        return f"{title} (10 classes)"
    return f"{title} {_pair_label(dataset, digits)}"


def _pair_label(dataset, digits):
    names = CLASS_NAMES[dataset]
    return f"{names[digits[0]]} (label 1) vs {names[digits[1]]} (label 0)"


def _class_names(dataset, digits):
    """Names of the model's classes in ``classes_`` order (binary: label 0, then label 1)."""
    names = CLASS_NAMES[dataset]
    if digits is None:
        return list(names)
    return [names[digits[1]], names[digits[0]]]


def _weights_title(dataset, digits):
    if digits is None:
        return None
    names = CLASS_NAMES[dataset]
    return (f"Weights of {DATASET_TITLES[dataset]} {names[digits[0]]} vs {names[digits[1]]}\n"
            f"(red: evidence for {names[digits[0]]}, blue: for {names[digits[1]]})")


# --------------------------------------------------------------------------- data
def _load(dataset, data_dir, no_download):
    """The data set's arrays, or a CLIError that says where it looked and what to do."""
    from .datasets import DatasetError, load_fashion_mnist, load_mnist

    loader = load_mnist if dataset == "mnist" else load_fashion_mnist
    try:
        return loader(data_dir, download=not no_download)
    except FileNotFoundError as exc:
        # the library's advice names its Python arguments; give the command-line spelling
        lines = [ln for ln in str(exc).splitlines() if not ln.startswith("To provide it:")]
        raise CLIError(
            "\n".join(lines) + "\nTo provide it: pass --data-dir DIR (the folder holding the "
            "four files), or set FASTREG_DATA=DIR, or drop --no-download to download "
            f"{DATASET_TITLES[dataset]} into the cache (about 12 MB for MNIST, 30 MB for "
            "Fashion-MNIST)."
        ) from exc
    except DatasetError as exc:  # corrupt files, failed downloads
        raise CLIError(str(exc).replace("data_dir=", "--data-dir")) from exc
    except OSError as exc:  # unreadable files, cache folder not writable
        raise CLIError(f"cannot read {DATASET_TITLES[dataset]}: {exc}") from exc


# --------------------------------------------------------------------------- output folder
def prepare_out_dir(out, task, *, overwrite=False, now=None):
    """Create the output folder and prove it writable, before any work is done.

    ``out`` None means ``runs/<task>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``... appended when that
    exists). A given folder may exist, but not hold the files of an earlier run unless
    ``overwrite``. Returns ``(path, created)``; raises CLIError when the folder cannot be made
    or written to.
    """
    if out is None:
        stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
        base = Path("runs") / f"{task}-{stamp}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
    else:
        path = Path(out).expanduser()
        if path.exists() and not path.is_dir():
            raise CLIError(f"cannot use --out {path}: it is a file, not a folder; choose another "
                           "--out DIR")
        if path.is_dir() and not overwrite:
            earlier = [name for name in RUN_FILES if (path / name).exists()]
            if earlier:
                raise CLIError(f"--out {path} already holds a run ({', '.join(earlier)}); choose "
                               "another --out DIR or pass --overwrite")
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        if created:
            _remove_if_empty(path)
        reason = exc.strerror or str(exc)
        raise CLIError(f"cannot write to the output folder {path}: {reason}"
                       f"{f' ({exc.filename})' if exc.filename else ''}; choose a writable "
                       "folder with --out DIR") from exc
    return path, created


def _remove_if_empty(path):
    with contextlib.suppress(OSError):
        path.rmdir()


def write_run(out_dir, model, metrics, *, plots=True, class_names=None, weights_title=None):
    """Write history.csv, metrics.json, model.npz and the pictures; return the names written.

    ``class_names`` label the weight images of a multi-class model (a binary model's single
    image is described by ``weights_title``). Without matplotlib the pictures are skipped with
    one warning saying how to get them.
    """
    out_dir = Path(out_dir)
    written = []
    try:
        write_history_csv(model.history_, out_dir / "history.csv")
        written.append("history.csv")
        write_json(metrics, out_dir / "metrics.json")
        written.append("metrics.json")
        model.save(out_dir / "model.npz")
        written.append("model.npz")
        if plots:
            written += _draw(out_dir, model, metrics, class_names, weights_title)
    except OSError as exc:
        raise CLIError(f"cannot write the results into {out_dir}: {exc.strerror or exc}; "
                       f"written so far: {', '.join(written) or 'nothing'}") from exc
    return written


def _draw(out_dir, model, metrics, class_names, weights_title):
    from .plots import PlotsUnavailable, plot_accuracy, plot_loss, plot_weights

    try:
        label = f"{DATASET_TITLES[metrics['dataset']]}, {TASK_TITLES[metrics['task']]}"
        best = kept_step(model.history_, metrics["params"].get("early_stopping", False))
        plot_loss(model.history_, out_dir / "loss.png", title=f"Loss ({label})", best_step=best)
        plot_accuracy(model.history_, out_dir / "accuracy.png", title=f"Accuracy ({label})",
                      best_step=best)
        coef = model.coef_
        names = class_names if coef.shape[0] > 1 else None
        plot_weights(coef, out_dir / "weights.png", class_names=names, title=weights_title)
    except PlotsUnavailable as exc:
        warnings.warn(str(exc), stacklevel=2)
        return []
    return list(PICTURES)


def kept_step(history, early_stopping):
    """The step whose weights the model holds: the lowest validation loss under early
    stopping (the trainer keeps those), else the last check."""
    steps = history.get("step") or []
    if not steps:
        return None
    val = np.asarray(history.get("val_loss") or [], dtype=float)
    if early_stopping and val.size == len(steps) and not np.all(np.isnan(val)):
        return int(steps[int(np.nanargmin(val))])
    return int(steps[-1])


def write_history_csv(history, path):
    """One row per validation check, columns in the history's order; NaN as an empty field."""
    keys = list(history)
    rows = len(history[keys[0]]) if keys else 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(keys)
        for i in range(rows):
            writer.writerow([_csv_value(history[k][i]) for k in keys])
    return path


def _csv_value(value):
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    return value


def write_json(record, path):
    """``record`` as indented JSON; NaN and infinities become null (JSON has no NaN)."""
    with open(path, "w", encoding="utf-8") as fh:
        text = json.dumps(_json_safe(record), indent=2, allow_nan=False)
        fh.write(_INNER_LIST.sub(_one_line, text) + "\n")
    return path


# a list of numbers only (a row of the confusion matrix): one line instead of one per number
_INNER_LIST = re.compile(r"\[\s*((?:-?[\d.eE+-]+,\s*)*-?[\d.eE+-]+)\s*\]")


def _one_line(match):
    return "[" + ", ".join(v.strip() for v in match.group(1).split(",")) + "]"


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


# --------------------------------------------------------------------------- summary
def print_summary(metrics, out_dir, written):
    """The short report of a training run, on stdout."""
    m = metrics
    stop = (f"early stopping, patience {m['params'].get('patience')}" if m["params"].get(
        "early_stopping") else "no early stopping")
    lines = [
        "",
        f"{TASK_TITLES[m['task']]} on {_task_label(m['dataset'], _digits_of(m))}",
        f"  backend     {m['backend']}, {m['dtype']}",
        f"  epochs      {m['epochs_run']} run, best epoch {m['best_epoch']} ({stop})",
        f"  wall time   {m['wall_time_s']:.2f} s training ({m['seconds_per_epoch']:.3f} s per "
        f"epoch), {m['total_time_s']:.2f} s in all",
        f"  {'':<12}{'loss':>8}  {'accuracy':>9}",
    ]
    for part in ("train", "validation", "test"):
        s = m[part]
        lines.append(f"  {part:<12}{_loss_text(s['loss']):>8}  {100 * s['accuracy']:>8.2f}%")
    lines.append(f"  wrote       {out_dir}{os.sep}: {', '.join(written)}")
    print("\n".join(lines), flush=True)


def _loss_text(loss):
    return f"{loss:.4f}" if abs(loss) < 1000 else f"{loss:.3g}"


def _digits_of(metrics):
    d = metrics.get("digits")
    return None if d is None else (d["positive"], d["negative"])


# --------------------------------------------------------------------------- evaluate
def run_evaluate(args, argv=()):
    """The ``evaluate`` subcommand; returns the exit status."""
    from . import load

    path = Path(args.model).expanduser()
    if path.is_dir():
        path = path / "model.npz"
    try:
        model = load(path)
    except FileNotFoundError as exc:
        raise CLIError(f"{exc}; pass the model.npz written by `fastreg train` (or its run "
                       "folder)") from exc
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if args.backend is not None:
        model.set_params(backend=args.backend)
    _check_backend(model.backend)

    record_path = path.parent / "metrics.json"
    record = _read_run_metrics(record_path)
    read = []  # settings taken from the run's metrics.json, to say so
    dataset = args.dataset
    if dataset is None and record.get("dataset") in DATASET_TITLES:
        dataset = record["dataset"]
        read.append("data set")
    dataset = dataset or "mnist"
    binary = model.coef_.shape[0] == 1
    digits = None
    if binary:
        digits = tuple(args.digits) if args.digits is not None else _digits_of(record)
        if args.digits is None and digits is not None:
            read.append("classes")
        if digits is None:
            raise UsageError(
                "this is a binary model and no metrics.json beside it says which two classes "
                "it separates; pass --digits POS NEG (POS is label 1)", prog="fastreg evaluate")
        if digits[0] == digits[1]:
            raise UsageError(f"--digits needs two different classes, got {digits[0]} twice",
                             prog="fastreg evaluate")
    elif args.digits is not None:
        raise UsageError(f"--digits applies to binary models only; this model has "
                         f"{model.coef_.shape[0]} classes", prog="fastreg evaluate")

    X_train, y_train, X_test, y_test = _load(dataset, args.data_dir, args.no_download)
    del X_train, y_train
    from .datasets import binary_subset, flatten

    if digits is not None:
        X_test, y_test = binary_subset(X_test, y_test, *digits)
    X_test = flatten(X_test)
    if X_test.shape[1] != model.n_features_in_:
        raise CLIError(f"{path} expects {model.n_features_in_} features but "
                       f"{DATASET_TITLES[dataset]} images have {X_test.shape[1]} pixels")
    unknown = np.setdiff1d(np.unique(y_test), model.classes_)
    if unknown.size:
        raise CLIError(f"{path} knows the classes {model.classes_.tolist()} but the test labels "
                       f"include {unknown.tolist()}; is --dataset/--digits right?")
    scores = _scores(model, X_test, y_test)
    cm = _confusion(model, X_test, y_test)
    names = _class_names(dataset, digits)
    note = f" ({' and '.join(read)} from {record_path})" if read else ""
    print_evaluation(path, model, dataset, digits, scores, cm, names, note=note)
    return EXIT_OK


def _read_run_metrics(path):
    """The metrics.json of a run as a dict, or {} when absent or unreadable."""
    try:
        with open(path, encoding="utf-8") as fh:
            record = json.load(fh)
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def print_evaluation(path, model, dataset, digits, scores, cm, names, note=""):
    """The report of ``evaluate``, on stdout."""
    n = scores["n_samples"]
    correct = int(np.trace(cm))
    pair = "" if digits is None else ", " + _pair_label(dataset, digits)
    print(f"model      {path}: {type(model).__name__}, {len(model.classes_)} classes, "
          f"{np.dtype(model.coef_.dtype).name}, {model.n_iter_} epochs")
    print(f"data       {DATASET_TITLES[dataset]} test set{pair}: {n} images{note}")
    print(f"accuracy   {100 * scores['accuracy']:.2f}% ({correct} of {n} correct)")
    print(f"loss       {_loss_text(scores['loss'])} (mean cross-entropy)")
    print(format_confusion_matrix(cm, names))


def format_confusion_matrix(cm, names):
    """The matrix as text: rows true class, columns predicted class, labelled by ``names``.

    Long names (Fashion-MNIST) are replaced by their index in the grid and listed below it.
    """
    cm = np.asarray(cm)
    short = all(len(str(name)) <= 3 for name in names)
    labels = [str(name) for name in names] if short else [str(k) for k in range(len(names))]
    width = max(max(len(str(v)) for v in cm.ravel()), max(len(s) for s in labels), 3) + 1
    head = max(len(s) for s in labels) + 2
    lines = ["confusion matrix (rows: true class, columns: predicted class)",
             " " * (head + 2) + "".join(f"{s:>{width}}" for s in labels)]
    for label, row in zip(labels, cm):
        lines.append(f"  {label:>{head}}" + "".join(f"{v:>{width}}" for v in row))
    if not short:
        lines.append("  classes: " + ", ".join(f"{k} {name}" for k, name in enumerate(names)))
    return "\n".join(lines)
