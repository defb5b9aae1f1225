"""The argument parser of ``fastreg``: subcommands ``train`` and ``evaluate``.

Every option that sets an estimator parameter is declared from the parameter table of
:mod:`fastreg._validation`: its name is the table's flag (``cli_flag``), its type the table's
check (``argparse_type``) or its choices, and its ``dest`` the parameter's Python name, so
that ``train`` hands the given ones to the estimator as they are. An option left out is not
set at all (``argparse.SUPPRESS``): the estimator's own default applies, and ``--help`` shows
it (read from the estimator only when help is printed, so ``fastreg --version`` stays quick).
The data sets offered, and their titles, come from the dataset registry.
"""

import argparse

from .._validation import BACKEND_NAMES, FLOAT_DTYPES, PARAMETERS, argparse_type, cli_flag
from .._version import __version__
from ..datasets._registry import DATASETS, DEFAULT_DATASET
from .errors import UsageError

#: The binary task of the course: digit 2 (label 1) against digit 3 (label 0).
DEFAULT_DIGITS = (2, 3)
#: What ``--task`` selects, and how the summary names it.
TASKS = {"binary": "logistic regression", "softmax": "softmax regression"}
#: Options that differ from the estimator's default, because a run on images wants them.
CLI_DEFAULTS = {"random_state": 0, "dtype": "float32"}


class _Parser(argparse.ArgumentParser):
    """argparse, but an error raises UsageError (one line) instead of printing usage and exit."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)", prog=self.prog)


class _HelpFormatter(argparse.HelpFormatter):
    """Appends the estimator's default to the help of each option left to the estimator."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default is argparse.SUPPRESS and action.dest in PARAMETERS:
            default = estimator_defaults().get(action.dest)
            if default is not None and not isinstance(default, bool):
                text += f" (default: {default})"
        elif all(action.default is not v for v in (None, False, argparse.SUPPRESS)):
            text += " (default: %(default)s)"
        return text


def estimator_defaults():
    """The constructor defaults of the estimators (both share them), for ``--help``."""
    import inspect

    from ..linear_model import SoftmaxRegression

    sig = inspect.signature(SoftmaxRegression.__init__)
    return {name: p.default for name, p in sig.parameters.items() if name != "self"}


def _class_index(text):
    """A class of the data set: an integer 0..K-1 (K the most classes a data set has)."""
    high = max(spec.n_classes for spec in DATASETS.values()) - 1
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value <= high:
        raise argparse.ArgumentTypeError(f"must be a class 0..{high}, got {text}")
    return value


def _folder_name(text):
    """A folder name for --out: not empty or blank (that would mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must name a folder, got {text!r}")
    return text


def _param(group, name, *, metavar=None, help, **kwargs):
    """Add the option of estimator parameter ``name``, typed by the parameter table."""
    spec = PARAMETERS[name]
    flag = cli_flag(name)
    if spec.kind == "bool":  # the table names the switch that turns it off
        return group.add_argument(
            flag, dest=name, action="store_false", default=argparse.SUPPRESS, help=help
        )
    if spec.kind == "choice":
        kwargs["choices"] = spec.choices
    elif spec.kind == "dtype":
        kwargs.update(
            type=argparse_type(name), metavar="{" + ",".join(dt.name for dt in FLOAT_DTYPES) + "}"
        )
    else:
        kwargs.update(type=argparse_type(name), metavar=metavar)
    kwargs.setdefault("default", CLI_DEFAULTS.get(name, argparse.SUPPRESS))
    return group.add_argument(flag, dest=name, help=help, **kwargs)


def _add_data_options(parser, dataset_help):
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", choices=sorted(DATASETS), default=None, help=dataset_help)
    group.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="folder holding the four IDX files (.gz or not): the only place "
        "looked at, and where missing files are downloaded; default: "
        "$FASTREG_DATA, then ~/.cache/fastreg/<dataset>, then the data "
        "shipped with fastreg, if any",
    )
    group.add_argument(
        "--no-download",
        action="store_true",
        help="fail instead of downloading when the files are not found",
    )
    group.add_argument(
        "--no-verify",
        action="store_true",
        help="use local files that do not match the data set's published "
        "digests (a deliberate subset, say) instead of refusing them",
    )
    return group


def _add_train(sub, common):
    train = sub.add_parser(
        "train",
        parents=[common],
        formatter_class=_HelpFormatter,
        help="train a model and write its history, metrics, weights and plots",
        description="Load the data, carve a stratified validation split off the training set, "
        "train with a progress bar, print a summary, and write history.csv, "
        "metrics.json, model.npz and (with matplotlib) loss.png, accuracy.png and "
        "weights.png into --out. The test set is used once, by the final model.",
    )
    task = train.add_argument_group("task")
    task.add_argument(
        "--task",
        choices=tuple(TASKS),
        default="binary",
        help="binary: logistic regression on two classes; softmax: all classes",
    )
    task.add_argument(
        "--digits",
        nargs=2,
        type=_class_index,
        metavar=("POS", "NEG"),
        default=None,
        help="the two classes of --task binary: POS becomes label 1, NEG label 0 "
        f"(default: {DEFAULT_DIGITS[0]} {DEFAULT_DIGITS[1]})",
    )
    data = _add_data_options(train, f"the data set (default: {DEFAULT_DATASET})")
    data.add_argument(
        cli_flag("validation_fraction"),
        dest="val_fraction",
        default=0.1,
        type=argparse_type("validation_fraction"),
        metavar="F",
        help="share of the training set held out for validation (stratified)",
    )

    est = train.add_argument_group("training (estimator parameters)")
    _param(est, "max_epochs", metavar="N", help="maximum number of epochs (max_epochs)")
    _param(est, "batch_size", metavar="B", help="samples per gradient step")
    _param(
        est,
        "learning_rate",
        metavar="ALPHA",
        help="base learning rate (learning_rate), a number > 0 or 'auto' (from the data: "
        "per-feature steps 1/(max|x_j|^2 + 2 l2/c) and a base step from the loss's "
        "smoothness)",
    )
    _param(est, "lr_schedule", help="learning-rate schedule over steps")
    _param(
        est,
        "lr_decay",
        metavar="R",
        help="decay factor/rate of the step, exponential and inverse schedules",
    )
    _param(est, "lr_decay_steps", metavar="P", help="decay period in steps (default: one epoch)")
    _param(est, "l2", metavar="LAMBDA", help="L2 penalty lambda in J = E + lambda ||W||^2")
    _param(
        est, "patience", metavar="N", help="validation checks without improvement before stopping"
    )
    _param(est, "min_delta", metavar="D", help="least decrease of the validation loss that counts")
    _param(est, "early_stopping", help="run all --epochs and keep the last weights")
    _param(
        est, "validation_interval", metavar="C", help="validation checks (history rows) per epoch"
    )
    _param(est, "shuffle", help="visit the training rows in the same order every epoch")
    _param(
        est,
        "backend",
        default="auto",
        help="kernels to train with (auto: FASTREG_BACKEND if set, else Cython when built, "
        "else NumPy)",
    )
    _param(est, "dtype", help="precision of the weights and the arithmetic")
    _param(est, "n_threads", metavar="T", help="threads of the compiled epoch kernel (n_threads)")
    _param(
        est,
        "random_state",
        metavar="SEED",
        help="seeds the validation split and the shuffles (random_state)",
    )

    out = train.add_argument_group("output")
    out.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        type=_folder_name,
        help="output folder, written as a temporary sibling (.<name>.frw-*.run) "
        "and renamed when complete (default: runs/<task>-<timestamp>/)",
    )
    out.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run in --out, once the new one is complete",
    )
    out.add_argument("--no-plots", action="store_true", help="do not draw the PNG pictures")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    return train


def _add_evaluate(sub, common):
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
        type=_class_index,
        metavar=("POS", "NEG"),
        default=None,
        help="the two classes a binary model separates (POS is label 1)",
    )
    _add_data_options(
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


def build_parser():
    """The argument parser of ``fastreg`` (subcommands ``train`` and ``evaluate``)."""
    parser = _Parser(
        prog="fastreg",
        description="Train and evaluate logistic / softmax regression on the image data sets "
        "of fastreg.datasets.",
    )
    parser.add_argument("--version", action="version", version=f"fastreg {__version__}")
    common = _Parser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback of an error (for bug reports)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    _add_train(sub, common)
    _add_evaluate(sub, common)
    return parser


def parse_args(argv, parser=None):
    """Parse ``argv``; an unknown option is reported by the subcommand it was given to
    (``fastreg train: error: unrecognized arguments: ...``), as argparse itself reports it at
    the top level only."""
    parser = parser or build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        argv = list(argv)
        before = argv[: argv.index(args.command)] if args.command in argv else []
        if any(extra in before for extra in extras):
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        sub.choices[args.command].error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def estimator_params(args):
    """The estimator parameters given on the command line (and the CLI's own defaults), by
    their Python names, ready for the estimator's constructor."""
    return {name: getattr(args, name) for name in PARAMETERS if hasattr(args, name)}
