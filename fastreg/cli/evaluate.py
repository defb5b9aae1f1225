"""``fastreg evaluate``: the test accuracy and confusion matrix of a saved model.

The data set and, for a binary model, its two classes are taken from the command line, else
from the ``metrics.json`` that ``train`` wrote beside the model. The scores shared with
``train`` live here too: :func:`scores` (mean cross-entropy and accuracy) and
:func:`confusion`.
"""

import json
import warnings
from pathlib import Path

import numpy as np

from .._parameters import BACKEND_NAMES, cli_flag
from ..datasets._registry import DATASETS, DEFAULT_DATASET, get_spec
from . import names, report
from .arg_types import class_index
from .errors import EXIT_OK, CLIError, UsageError, check_backend, load_data
from .parser import add_data_options

PROG = "fastreg evaluate"


def add_parser(sub, common):
    """The ``evaluate`` subcommand and its options."""
    evaluate = sub.add_parser(
        "evaluate",
        parents=[common],
        help="report the test accuracy and confusion matrix of a saved model",
        description="Score a model saved by `fastreg train` (or model.save) on the test set "
        "and print its accuracy and confusion matrix. The data set and, for a "
        "binary model, its two classes are read from the metrics.json next to the "
        "model unless given here.",
    )
    evaluate.add_argument(
        "model", metavar="MODEL.npz", help="the model file, or a run folder holding model.npz"
    )
    evaluate.add_argument(
        "--digits",
        nargs=2,
        type=class_index,
        metavar=("POS", "NEG"),
        default=None,
        help="the two classes a binary model separates (POS is label 1)",
    )
    add_data_options(
        evaluate,
        "the test set to score on (default: the one in the run's "
        f"metrics.json, else {DEFAULT_DATASET})",
    )
    evaluate.add_argument(
        cli_flag("backend"),
        dest="backend",
        choices=BACKEND_NAMES,
        default=None,
        help="kernels to predict with (default: the model's setting)",
    )
    return evaluate


def run_evaluate(args, argv=()):
    """The ``evaluate`` subcommand; returns the exit status."""
    model, path = load_model(args.model)
    if args.backend is not None:
        model.set_params(backend=args.backend)
    check_backend(model.backend)

    record_path = path.parent / "metrics.json"
    record = read_run_metrics(record_path)
    read = []  # settings taken from the run's metrics.json, to say so
    dataset = args.dataset
    if dataset is None and "dataset" in record:
        dataset = record["dataset"]
        read.append("data set")
    spec = get_spec(dataset or DEFAULT_DATASET)
    digits = _digits(args, model, record, read)

    X_train, y_train, X_test, y_test = load_data(
        spec, args.data_dir, args.no_download, no_verify=args.no_verify
    )
    del X_train, y_train
    from ..datasets import binary_subset, flatten

    if digits is not None:
        X_test, y_test = binary_subset(X_test, y_test, *digits)
    X_test = flatten(X_test)
    if X_test.shape[1] != model.n_features_in_:
        raise CLIError(
            f"{path} expects {model.n_features_in_} features but "
            f"{spec.title} images have {X_test.shape[1]} pixels"
        )
    unknown = np.setdiff1d(np.unique(y_test), model.classes_)
    if unknown.size:
        raise CLIError(
            f"{path} knows the classes {model.classes_.tolist()} but the test labels "
            f"include {unknown.tolist()}; is --dataset/--digits right?"
        )
    note = f" ({' and '.join(read)} from {record_path})" if read else ""
    report.print_evaluation(
        path,
        model,
        spec.name,
        digits,
        scores(model, X_test, y_test),
        confusion(model, X_test, y_test),
        names.registry_class_names(spec.name, digits),
        note=note,
    )
    return EXIT_OK


def load_model(text):
    """The model of ``MODEL.npz`` (or of the run folder ``text``) and its path; CLIError with
    what to pass when it is not a model file (``evaluate`` and ``predict``)."""
    from ..linear_model import load

    path = Path(text).expanduser()
    if path.is_dir():
        path = path / "model.npz"
    try:
        return load(path), path
    except FileNotFoundError as exc:
        raise CLIError(
            f"{exc}; pass the model.npz written by `fastreg train` (or its run folder)"
        ) from exc
    except ValueError as exc:  # not a model file (InvalidParameterError, a ValueError)
        raise CLIError(str(exc)) from exc
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _digits(args, model, record, read):
    """The (positive, negative) classes of a binary model (None for a multi-class one)."""
    if model.coef_.shape[0] != 1:
        if args.digits is not None:
            raise UsageError(
                f"--digits applies to binary models only; this model has "
                f"{model.coef_.shape[0]} classes",
                prog=PROG,
            )
        return None
    digits = tuple(args.digits) if args.digits is not None else names.digits_of(record)
    if args.digits is None and digits is not None:
        read.append("classes")
    if digits is None:
        raise UsageError(
            "this is a binary model and no metrics.json beside it says which two classes "
            "it separates; pass --digits POS NEG (POS is label 1)",
            prog=PROG,
        )
    if digits[0] == digits[1]:
        raise UsageError(f"--digits needs two different classes, got {digits[0]} twice", prog=PROG)
    return digits


#: A run's metrics.json is a few kB; a larger one is not read (a stranger's file, say).
MAX_METRICS_BYTES = 1 << 20


def read_run_metrics(path):
    """What ``evaluate`` uses of a run's metrics.json: ``{"dataset": name}`` and
    ``{"digits": {"positive": int, "negative": int}}`` when present and valid.

    The file comes from wherever the model came from, so nothing in it is trusted: an absent
    file gives {}; an unreadable, oversized or malformed one, or a field of the wrong type or
    out of range, is ignored with one warning naming the file and the field (the command
    line's --dataset / --digits then apply, or are asked for).
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_METRICS_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        return _ignored(path, f"cannot read it ({exc.strerror or exc})")
    if len(data) > MAX_METRICS_BYTES:
        return _ignored(path, f"larger than {MAX_METRICS_BYTES >> 20} MiB")
    try:
        record = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        return _ignored(path, f"not valid JSON ({type(exc).__name__})")
    if not isinstance(record, dict):
        return _ignored(path, "not a JSON object")
    valid = {}
    dataset = record.get("dataset")
    if dataset is not None:
        if isinstance(dataset, str) and dataset in DATASETS:
            valid["dataset"] = dataset
        else:
            return _ignored(
                path, f'"dataset" is {_shown(dataset)}, not one of {", ".join(sorted(DATASETS))}'
            )
    digits = record.get("digits")
    if digits is not None:
        n_classes = get_spec(valid.get("dataset", DEFAULT_DATASET)).n_classes
        problem = _digits_problem(digits, n_classes)
        if problem:
            _ignored(path, f'"digits" {problem}', what="the field")
            return valid
        valid["digits"] = {"positive": digits["positive"], "negative": digits["negative"]}
    return valid


def _digits_problem(digits, n_classes):
    if not isinstance(digits, dict):
        return f"is {_shown(digits)}, not an object"
    for key in ("positive", "negative"):
        value = digits.get(key)
        if type(value) is not int or not 0 <= value < n_classes:
            return f'"{key}" is {_shown(value)}, not a class 0..{n_classes - 1}'
    if digits["positive"] == digits["negative"]:
        return "names one class twice"
    return None


def _shown(value):
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _ignored(path, why, what="it"):
    warnings.warn(
        f"{path} ignored: {why}" if what == "it" else f"{path}: {why}; the field is ignored",
        stacklevel=3,
    )
    return {}


def scores(model, X, y):
    """Mean cross-entropy (no L2 term) and accuracy of ``model`` on ``(X, y)``."""
    from ..metrics import mean_cross_entropy

    columns = np.searchsorted(model.classes_, y)
    loss = mean_cross_entropy(model.predict_log_proba(X), columns)
    return {"loss": loss, "accuracy": model.score(X, y), "n_samples": len(y)}


def confusion(model, X, y):
    """The confusion matrix of ``model`` on ``(X, y)``, rows and columns in ``classes_`` order."""
    from ..metrics import confusion_matrix

    return confusion_matrix(y, model.predict(X), labels=model.classes_)
