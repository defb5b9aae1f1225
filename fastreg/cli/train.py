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
from ..datasets._registry import DEFAULT_DATASET, get_spec
from . import report, run_folder
from .errors import EXIT_OK, CLIError, UsageError, check_backend, load_data, option
from .evaluate import confusion, scores
from .parser import DEFAULT_DIGITS, TASKS, estimator_params

PROG = "fastreg train"


def run_train(args, argv=()):
    """The ``train`` subcommand; returns the exit status."""
    started = time.perf_counter()
    spec = get_spec(args.dataset or DEFAULT_DATASET)
    digits = _check_digits(args, spec)
    model = make_model(args)
    _check_schedule(model)
    check_backend(model.backend)
    folder = run_folder.prepare_out_dir(args.out, args.task, overwrite=args.overwrite)
    try:
        X_train, y_train, X_test, y_test = load_data(
            spec, args.data_dir, args.no_download, no_verify=args.no_verify
        )
        from ..datasets import binary_subset, flatten, train_val_split

        if digits is not None:
            X_train, y_train = binary_subset(X_train, y_train, *digits)
            X_test, y_test = binary_subset(X_test, y_test, *digits)
        X_fit, X_val, y_fit, y_val = train_val_split(
            flatten(X_train),
            y_train,
            args.val_fraction,
            stratify=True,
            random_state=args.random_state,
        )
        X_test = flatten(X_test)

        if not args.no_progress:  # import the progress bar before the clock starts
            with contextlib.suppress(ImportError):
                import tqdm.auto  # noqa: F401
        print(
            f"training {TASKS[args.task]} on {report.task_label(spec.name, digits)}: "
            f"{len(y_fit)} train / {len(y_val)} validation images",
            flush=True,
        )
        fit_start = time.perf_counter()
        _fit(model, X_fit, y_fit, X_val, y_val)
        fit_seconds = time.perf_counter() - fit_start

        part_scores = {
            "train": scores(model, X_fit, y_fit),
            "validation": scores(model, X_val, y_val),
            "test": scores(model, X_test, y_test),  # the only use of the test set
        }
        cm = confusion(model, X_test, y_test)
        metrics = metrics_record(
            args,
            argv,
            spec.name,
            digits,
            model,
            part_scores,
            cm,
            sizes=(len(y_fit), len(y_val), len(y_test)),
            fit_seconds=fit_seconds,
            total_seconds=time.perf_counter() - started,
        )
        with folder.writing() as temp:  # renamed to --out when complete, else removed
            written = report.write_run(
                temp,
                model,
                metrics,
                plots=not args.no_plots,
                class_names=report.class_names(spec.name, digits),
                weights_title=report.weights_title(spec.name, digits),
                shown_as=folder.path,
            )
    except BaseException:
        folder.abandon()
        raise
    report.print_summary(metrics, folder.path, written)
    return EXIT_OK


def _check_digits(args, spec):
    """The (positive, negative) classes of --task binary (None for softmax), checked."""
    if args.task == "softmax":
        if args.digits is not None:
            raise UsageError(
                "--digits applies to --task binary only (softmax regression uses all classes)",
                prog=PROG,
            )
        return None
    digits = tuple(args.digits) if args.digits is not None else DEFAULT_DIGITS
    if digits[0] == digits[1]:
        raise UsageError(f"--digits needs two different classes, got {digits[0]} twice", prog=PROG)
    if max(digits) >= spec.n_classes:
        raise UsageError(
            f"--digits: {spec.title} has the classes 0..{spec.n_classes - 1}, got {max(digits)}",
            prog=PROG,
        )
    return digits


def make_model(args):
    """The estimator of ``--task`` with the parameters given on the command line (the
    estimator's defaults for the others); pixels are scaled to [0, 1] by the kernels."""
    from ..linear_model import LogisticRegression, SoftmaxRegression

    cls = LogisticRegression if args.task == "binary" else SoftmaxRegression
    return cls(**estimator_params(args), input_scale=1 / 255, verbose=0 if args.no_progress else 1)


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


def _fit(model, X_fit, y_fit, X_val, y_val):
    from ..exceptions import TrainingDivergedError

    try:
        model.fit(X_fit, y_fit, X_val=X_val, y_val=y_val)
    except TrainingDivergedError as exc:
        # the error's learning_rate is an explicit rate to compare with, also under "auto"
        rate = exc.learning_rate if exc.learning_rate is not None else model.learning_rate
        flag = option(exc.param or "learning_rate")
        example = f" (e.g. {flag} {rate / 10:g})" if not isinstance(rate, str) else ""
        raise CLIError(
            f"{exc.reason.rstrip('. ')}. Pass a smaller {flag}{example}; nothing was written."
        ) from exc


def metrics_record(
    args, argv, dataset, digits, model, scores, cm, *, sizes, fit_seconds, total_seconds
):
    """Everything metrics.json records about a run: command, data, parameters, results,
    timing and machine."""
    epochs = int(model.n_iter_)
    params = {
        k: v
        for k, v in model.get_params(deep=False).items()
        if v is None or isinstance(v, (bool, int, float, str, np.dtype))
    }
    return {
        "fastreg_version": __version__,
        "command": "fastreg " + " ".join(argv),
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "task": args.task,
        "estimator": type(model).__name__,
        "dataset": dataset,
        "digits": None if digits is None else {"positive": digits[0], "negative": digits[1]},
        "class_names": report.class_names(dataset, digits),
        "n_train": sizes[0],
        "n_validation": sizes[1],
        "n_test": sizes[2],
        "val_fraction": args.val_fraction,
        "seed": args.random_state,
        "backend": model.backend_,
        "dtype": np.dtype(model.coef_.dtype).name,
        "params": params,
        "learning_rate_used": float(model.learning_rate_),
        "epochs_run": epochs,
        "best_epoch": int(model.best_epoch_),
        "stopped_early": bool(model.early_stopping and epochs < model.max_epochs),
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
