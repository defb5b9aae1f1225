"""The data of a training run: a built-in data set or the user's own file, split once.

:func:`load_training_data` reads what ``--dataset`` / ``--data FILE`` name, picks the two
classes of a binary task (``--digits`` on a built-in data set), carves the stratified
validation split off the training rows (``--val-fraction``; 0 keeps every row for training)
and returns a :class:`TrainingData`. ``fastreg sweep`` calls it once and trains every value on
the same arrays. The test set is never split or looked at before the final model.

The task: ``--task`` when given; otherwise binary for a built-in data set (the course's 2 vs
3) and, for a file, binary when its labels hold two classes, softmax when more.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..datasets._registry import DEFAULT_DATASET, get_spec
from .errors import CLIError, UsageError, load_data
from .parser import DEFAULT_DIGITS

PROG = "fastreg train"


@dataclass
class TrainingData:
    """What one run trains, validates and tests on, and how to name it."""

    task: str  # "binary" or "softmax"
    X_fit: object
    y_fit: np.ndarray
    X_val: object  # None with --val-fraction 0
    y_val: np.ndarray
    X_test: object  # None when the data has no test set (a file without one)
    y_test: np.ndarray
    source: dict  # metrics.json's "data": {"source", "kind", "title"}
    dataset: str | None = None  # the registry's name of a built-in data set
    digits: tuple | None = None  # (positive, negative) of a built-in binary task
    image_shape: tuple | None = None  # (H, W) when a row is an image
    input_scale: float = 1.0  # 1/255 for the built-in pixels
    feature_names: list = field(default_factory=list)

    @property
    def title(self):
        return self.source["title"]

    def sizes(self):
        return tuple(0 if y is None else len(y) for y in (self.y_fit, self.y_val, self.y_test))


def load_training_data(args):
    """Read, select and split the data ``args`` name; CLIError / UsageError when it cannot."""
    if args.val_fraction == 0 and getattr(args, "early_stopping", True):
        raise UsageError(
            "--val-fraction 0 leaves no validation set for early stopping; add "
            "--no-early-stopping to train on every training row",
            prog=PROG,
        )
    if getattr(args, "data", None) is not None:
        data = _from_file(args)
    else:
        data = _from_registry(args)
    data.X_fit, data.X_val, data.y_fit, data.y_val = _split(
        data.X_fit, data.y_fit, args.val_fraction, args.random_state
    )
    return data


def _from_registry(args):
    spec = get_spec(args.dataset or DEFAULT_DATASET)
    task = args.task or "binary"
    digits = _check_digits(args, spec, task)
    X_train, y_train, X_test, y_test = load_data(
        spec, args.data_dir, args.no_download, no_verify=args.no_verify
    )
    from ..datasets import binary_subset, flatten

    if digits is not None:
        X_train, y_train = binary_subset(X_train, y_train, *digits)
        X_test, y_test = binary_subset(X_test, y_test, *digits)
    return TrainingData(
        task=task,
        X_fit=flatten(X_train),
        y_fit=y_train,
        X_val=None,
        y_val=None,
        X_test=flatten(X_test),
        y_test=y_test,
        source={"source": spec.name, "kind": "idx", "title": spec.title},
        dataset=spec.name,
        digits=digits,
        image_shape=tuple(X_train.shape[1:3]),
        input_scale=1 / 255,
    )


def _check_digits(args, spec, task):
    """The (positive, negative) classes of a binary task (None for softmax), checked."""
    if task == "softmax":
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


def _from_file(args):
    """The user's file (:mod:`.data_files`): its rows train, its X_test/y_test (if any) test."""
    from .data_files import check_image_shape, read_data_file

    if args.dataset is not None or args.digits is not None:
        given = "--dataset" if args.dataset is not None else "--digits"
        raise UsageError(
            f"{given} applies to the built-in data sets; with --data FILE the file's own "
            "classes are used (keep only the rows of the classes to separate)",
            prog=PROG,
        )
    f = read_data_file(args.data, target=args.target)
    n_features = f.X.shape[1]
    image_shape = tuple(args.image_shape) if args.image_shape else f.image_shape
    check_image_shape(image_shape, n_features)
    classes = np.unique(f.y)
    if len(classes) < 2:
        raise CLIError(
            f"{args.data}: the labels hold {len(classes)} class ({_listed(classes)}); "
            "a classifier needs at least two"
        )
    task = args.task or ("binary" if len(classes) == 2 else "softmax")
    if task == "binary" and len(classes) != 2:
        raise UsageError(
            f"--task binary needs two classes; {args.data} has {len(classes)} "
            f"({_listed(classes)}): pass --task softmax",
            prog=PROG,
        )
    if f.X_test is not None:
        unknown = np.setdiff1d(np.unique(f.y_test), classes)
        if unknown.size:
            raise CLIError(
                f"{args.data}: y_test holds classes the training labels lack "
                f"({_listed(unknown)}); the test set must use the training set's classes"
            )
    return TrainingData(
        task=task,
        X_fit=f.X,
        y_fit=f.y,
        X_val=None,
        y_val=None,
        X_test=f.X_test,
        y_test=f.y_test,
        source={"source": str(args.data), "kind": f.kind, "title": Path(args.data).name},
        image_shape=image_shape,
        feature_names=list(f.feature_names or []),
    )


def _listed(values, most=10):
    shown = ", ".join(str(v) for v in values[:most])
    return shown + (", ..." if len(values) > most else "")


def _split(X, y, val_fraction, random_state):
    """(X_fit, X_val, y_fit, y_val): THE stratified hold-out of the estimators (seeded by
    --seed), or every row for training when ``val_fraction`` is 0. The rows are split by
    index, so dense, memory-mapped and sparse X are cut alike."""
    if val_fraction == 0:
        return X, None, y, None
    from ..datasets import train_val_split

    rows = np.arange(len(y)).reshape(-1, 1)
    try:
        fit, val, y_fit, y_val = train_val_split(
            rows, y, val_fraction, stratify=True, random_state=random_state
        )
    except ValueError as exc:  # fewer than two rows, say
        raise CLIError(
            f"cannot hold out a validation set: {exc}; pass --val-fraction 0 "
            "with --no-early-stopping"
        ) from exc
    return X[fit[:, 0]], X[val[:, 0]], y_fit, y_val
