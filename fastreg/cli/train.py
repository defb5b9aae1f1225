"""``fastreg train``: load, split, train, score, write the run folder, print the summary.

The order is what makes a failed run cheap and a finished run honest: cross-argument checks,
the backend and the output folder come first (before any data is read); the validation split
is carved off the training set by :func:`fastreg.datasets.train_val_split` (the estimator's
stratified hold-out, seeded by ``--seed``); the test set is scored once, by the final model;
the run folder appears complete or not at all (:mod:`fastreg.cli.run_folder`).
scikit-learn and the estimators are imported here, when the command runs, not when the
command line is parsed.
"""

import contextlib
import datetime
import os
import platform
import time

import numpy as np

from .._version import __version__
from . import names, report, run_folder
from .errors import EXIT_OK, CLIError, UsageError, check_backend, option
from .evaluate import confusion, scores
from .parser import TASKS, estimator_params
from .training_data import load_training_data

PROG = "fastreg train"


def run_train(args, argv=()):
    """The ``train`` subcommand; returns the exit status."""
    started = time.perf_counter()
    check_model_options(args)
    folder = run_folder.prepare_out_dir(args.out, args.task or "train", overwrite=args.overwrite)
    try:
        data = load_training_data(args)
        metrics, written = train_one(
            args, argv, data, folder, started=started, show_progress=not args.no_progress
        )
    except BaseException:
        folder.abandon()
        raise
    report.print_summary(metrics, folder.path, written)
    return EXIT_OK


def check_model_options(args):
    """The options checked before any data is read: the schedule and the backend."""
    model = make_model(args, task=args.task or "binary")
    _check_schedule(model)
    check_backend(model.backend)


def train_one(args, argv, data, folder, *, started=None, show_progress=True):
    """Train one model on ``data`` (a :class:`.training_data.TrainingData`) with the options
    ``args``, write its complete run into ``folder`` (a :class:`.run_folder.RunFolder`, or a
    path: a new folder), and return ``(metrics, written)``.

    The first Ctrl-C stops training after the current batch and the run is written with the
    best weights so far, marked ``"interrupted": true``; a second one aborts and nothing is
    written (:mod:`.interrupt`). CLIError when training diverged or the folder cannot be
    written (nothing is left).
    """
    from .interrupt import graceful_interrupts

    started = time.perf_counter() if started is None else started
    if not isinstance(folder, run_folder.RunFolder):
        folder = run_folder.prepare_out_dir(folder, data.task)
    model = make_model(args, task=data.task, input_scale=data.input_scale, verbose=show_progress)
    if show_progress:  # import the progress bar before the clock starts
        with contextlib.suppress(ImportError):
            import tqdm.auto  # noqa: F401
    n_fit, n_val, _ = data.sizes()
    validation = f"{n_val} validation" if n_val else "no validation (--val-fraction 0)"
    print(
        f"training {TASKS[data.task]} on {names.data_label(data)}: "
        f"{n_fit} train / {validation} rows",
        flush=True,
    )
    with graceful_interrupts() as stop:
        fit_start = time.perf_counter()
        _fit(model, data)
        fit_seconds = time.perf_counter() - fit_start
        part_scores = {
            "train": scores(model, data.X_fit, data.y_fit),
            "validation": None if data.X_val is None else scores(model, data.X_val, data.y_val),
            # the only use of the test set
            "test": None if data.X_test is None else scores(model, data.X_test, data.y_test),
        }
        cm = None if data.X_test is None else confusion(model, data.X_test, data.y_test)
        metrics = metrics_record(
            args,
            argv,
            data,
            model,
            part_scores,
            cm,
            fit_seconds=fit_seconds,
            total_seconds=time.perf_counter() - started,
            interrupted=stop.stopped,
        )
        with folder.writing() as temp:  # renamed to --out when complete, else removed
            written = report.write_run(
                temp,
                model,
                metrics,
                plots=not args.no_plots,
                class_names=metrics["class_names"],
                weights_title=names.weights_title(data),
                image_shape=data.image_shape,
                shown_as=folder.path,
            )
    return metrics, written


def make_model(args, *, task, input_scale=1 / 255, verbose=False):
    """The estimator of ``task`` with the parameters given on the command line (the
    estimator's defaults for the others); ``input_scale`` 1/255 scales the built-in data
    sets' pixels to [0, 1] in the kernels."""
    from ..linear_model import LogisticRegression, SoftmaxRegression

    cls = LogisticRegression if task == "binary" else SoftmaxRegression
    return cls(**estimator_params(args), input_scale=input_scale, verbose=int(verbose))


def _check_schedule(model):
    """The schedule settings depend on each other (the decay's range on the schedule): check
    them as training will, before any work is done."""
    from .._training.schedules import make_schedule
    from ..exceptions import InvalidParameterError

    rate = model.learning_rate  # "auto" is resolved from the data at fit time
    try:
        make_schedule(
            model.lr_schedule,
            1.0 if rate == "auto" else rate,
            decay=model.lr_decay,
            decay_steps=model.lr_decay_steps or 1,
            total_steps=1,
        )
    except InvalidParameterError as exc:
        where = f"argument {option(exc.param)}: " if exc.param else ""
        raise UsageError(f"{where}{exc.reason}", prog=PROG) from exc


def _fit(model, data):
    from ..exceptions import TrainingDivergedError

    try:
        if data.X_val is None:
            model.fit(data.X_fit, data.y_fit)
        else:
            model.fit(data.X_fit, data.y_fit, X_val=data.X_val, y_val=data.y_val)
    except TrainingDivergedError as exc:
        # the error's learning_rate is an explicit rate to compare with, also under "auto"
        rate = exc.learning_rate if exc.learning_rate is not None else model.learning_rate
        flag = option(exc.param or "learning_rate")
        example = f" (e.g. {flag} {rate / 10:g})" if not isinstance(rate, str) else ""
        raise CLIError(
            f"{exc.reason.rstrip('. ')}. Pass a smaller {flag}{example}; nothing was written."
        ) from exc


def metrics_record(
    args, argv, data, model, scores, cm, *, fit_seconds, total_seconds, interrupted=False
):
    """Everything metrics.json records about a run: command, data, parameters, results,
    timing and machine. ``validation`` / ``test`` (and the confusion matrix) are null when
    the run had no validation set (--val-fraction 0) or its data no test set."""
    epochs = int(model.n_iter_)
    params = {
        k: v
        for k, v in model.get_params(deep=False).items()
        if v is None or isinstance(v, (bool, int, float, str, np.dtype))
    }
    n_fit, n_val, n_test = data.sizes()
    digits = data.digits
    return {
        "fastreg_version": __version__,
        "command": "fastreg " + " ".join(argv),
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "task": data.task,
        "estimator": type(model).__name__,
        "dataset": data.dataset,
        "data": data.source,
        "digits": None if digits is None else {"positive": digits[0], "negative": digits[1]},
        "class_names": names.class_names(data, model.classes_),
        "image_shape": None if data.image_shape is None else list(data.image_shape),
        "n_train": n_fit,
        "n_validation": n_val,
        "n_test": n_test,
        "n_features": int(model.n_features_in_),
        "val_fraction": args.val_fraction,
        "seed": args.random_state,
        "backend": model.backend_,
        "dtype": np.dtype(model.coef_.dtype).name,
        "params": params,
        "learning_rate_used": float(model.learning_rate_),
        "epochs_run": epochs,
        "best_epoch": int(model.best_epoch_),
        "stopped_early": bool(model.early_stopping and epochs < model.max_epochs),
        "interrupted": bool(interrupted),
        "steps": int(model.t_),
        "weight_norm_sq": float(np.sum(np.square(model.coef_, dtype=np.float64))),
        "wall_time_s": fit_seconds,
        "seconds_per_epoch": fit_seconds / max(epochs, 1),
        "total_time_s": total_seconds,
        "train": scores["train"],
        "validation": scores["validation"],
        "test": scores["test"],
        "test_confusion_matrix": None if cm is None else cm.tolist(),
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
