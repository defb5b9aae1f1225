"""The argument parser of ``fastreg``: the subcommands (:data:`COMMANDS`), and the options
of ``train``, which ``sweep`` shares (:func:`add_train_options`).

Every option that sets an estimator parameter is declared from the parameter table of
:mod:`fastreg._parameters`: its name is the table's flag (``cli_flag``), its type the table's
check (``argparse_type``) or its choices, and its ``dest`` the parameter's Python name, so
that ``train`` hands the given ones to the estimator as they are. An option left out is not
set at all (``argparse.SUPPRESS``): the estimator's own default applies, and ``--help`` shows
it (read from the estimators' source when help is printed). Each other command's options are
declared by its own module, imported only when that command is parsed, so ``fastreg --help``
and ``--version`` import no NumPy. The data sets offered, and their titles, come from the
dataset registry.
"""

import argparse
import contextlib

from .._parameters import DTYPE_NAMES, PARAMETERS, cli_flag
from .._parameters import argparse_type as _table_type
from .._version import __version__
from ..datasets._registry import DATASETS, DEFAULT_DATASET
from .arg_types import class_index, folder_name, on_off
from .errors import UsageError

#: The binary task of the course: digit 2 (label 1) against digit 3 (label 0).
DEFAULT_DIGITS = (2, 3)
#: What ``--task`` selects, and how the summary names it.
TASKS = {"binary": "logistic regression", "softmax": "softmax regression"}
#: Options that differ from the estimator's default, because a run on images wants them.
CLI_DEFAULTS = {"random_state": 0, "dtype": "float32"}
#: The options ``fastreg sweep`` runs over, by parameter: each takes several values there.
SWEEPABLE = {
    "l2": "--l2",
    "learning_rate": "--lr",
    "batch_size": "--batch-size",
    "lr_schedule": "--lr-schedule",
    "shuffle": "--shuffle",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but an error raises UsageError (one line) instead of printing usage and exit."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)", prog=self.prog)


class HelpFormatter(argparse.HelpFormatter):
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


def argparse_type(name):
    """The option type of parameter ``name``: the table's check (NumPy is imported when a
    value is parsed, not when the parser is built, so ``--help`` stays quick)."""
    return _table_type(name, _check_param)


def _check_param(name, value):
    from .._validation import check_param

    return check_param(name, value)


def estimator_defaults():
    """The constructor defaults of the estimators (both share them), for ``--help``.

    Read from the source of :mod:`fastreg.linear_model` (its ``__init__`` keywords, literals
    all), not by importing it: the estimators import scikit-learn (about a second), which
    ``fastreg train --help`` does not need. A test holds them equal to the signature's."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec(f"{__package__.rpartition('.')[0]}.linear_model")
    with open(spec.origin, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    init = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "__init__"
    )
    defaults = {}
    for arg, default in zip(init.args.kwonlyargs, init.args.kw_defaults):
        with contextlib.suppress(ValueError, TypeError):
            defaults[arg.arg] = ast.literal_eval(default)
    return defaults


def _param(group, name, *, metavar=None, help, sweep=False, **kwargs):
    """Add the option of estimator parameter ``name``, typed by the parameter table. With
    ``sweep`` (``fastreg sweep``, and ``name`` in :data:`SWEEPABLE`) it takes several values."""
    spec = PARAMETERS[name]
    flag = cli_flag(name)
    many = sweep and name in SWEEPABLE
    if spec.kind == "bool" and many:  # swept switches name both settings: --shuffle on off
        return group.add_argument(
            SWEEPABLE[name],
            dest=name,
            nargs="+",
            type=on_off,
            metavar="{on,off}",
            default=argparse.SUPPRESS,
            help=help + " (sweep: on, off or both)",
        )
    if spec.kind == "bool":  # the table names the switch that turns it off
        return group.add_argument(
            flag, dest=name, action="store_false", default=argparse.SUPPRESS, help=help
        )
    if spec.kind == "choice":
        kwargs["choices"] = spec.choices
    elif spec.kind == "dtype":
        kwargs.update(type=argparse_type(name), metavar="{" + ",".join(DTYPE_NAMES) + "}")
    else:
        kwargs.update(type=argparse_type(name), metavar=metavar)
    if many:
        kwargs["nargs"] = "+"
        help += " (sweep: one or more values)"
    kwargs.setdefault("default", CLI_DEFAULTS.get(name, argparse.SUPPRESS))
    return group.add_argument(flag, dest=name, help=help, **kwargs)


def _val_fraction(text):
    """--val-fraction: the estimator's (0, 1), or 0 (train on every row, no validation)."""
    try:
        if float(text) == 0:
            return 0.0
    except ValueError:
        pass
    return argparse_type("validation_fraction")(text)


def add_data_options(parser, dataset_help):
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
        formatter_class=HelpFormatter,
        help="train a model and write its history, metrics, weights, plots and report",
        description="Load the data, carve a stratified validation split off the training set, "
        "train with a progress bar, print a summary, and write history.csv, "
        "metrics.json, model.npz, report.html and (with matplotlib) loss.png, accuracy.png "
        "and weights.png into --out. The test set is used once, by the final model. The "
        "first Ctrl-C stops after the current batch and keeps the best weights so far; a "
        "second one aborts and writes nothing.",
    )
    add_train_options(train)
    return train


def add_train_options(parser, *, sweep=False):
    """Every option of ``fastreg train`` on ``parser``. ``sweep``: the options of
    :data:`SWEEPABLE` take several values, and the output options are left to the caller."""
    train = parser
    task = train.add_argument_group("task")
    task.add_argument(
        "--task",
        choices=tuple(TASKS),
        default=None,
        help="binary: logistic regression on two classes; softmax: all classes (default: "
        "binary for a built-in data set; for --data FILE, binary when it has two classes)",
    )
    task.add_argument(
        "--digits",
        nargs=2,
        type=class_index,
        metavar=("POS", "NEG"),
        default=None,
        help="the two classes of --task binary: POS becomes label 1, NEG label 0 "
        f"(default: {DEFAULT_DIGITS[0]} {DEFAULT_DIGITS[1]})",
    )
    data = add_data_options(
        train, f"a built-in data set (default: {DEFAULT_DATASET}, unless --data is given)"
    )
    from .data_files import add_data_file_options  # the user's own files

    add_data_file_options(data)
    data.add_argument(
        cli_flag("validation_fraction"),
        dest="val_fraction",
        default=0.1,
        type=_val_fraction,
        metavar="F",
        help="share of the training set held out for validation (stratified); 0 trains on "
        "every row (with --no-early-stopping)",
    )

    est = train.add_argument_group("training (estimator parameters)")

    def param(name, **kwargs):
        return _param(est, name, sweep=sweep, **kwargs)

    param("max_epochs", metavar="N", help="maximum number of epochs (max_epochs)")
    param("batch_size", metavar="B", help="samples per gradient step")
    param(
        "learning_rate",
        metavar="ALPHA",
        help="base learning rate (learning_rate), a number > 0 or 'auto' (from the data: "
        "per-feature steps 1/(max|x_j|^2 + 2 l2/c) and a base step from the loss's "
        "smoothness)",
    )
    param("lr_schedule", help="learning-rate schedule over steps")
    param(
        "lr_decay",
        metavar="R",
        help="decay factor/rate of the step, exponential and inverse schedules",
    )
    param("lr_decay_steps", metavar="P", help="decay period in steps (default: one epoch)")
    param("l2", metavar="LAMBDA", help="L2 penalty lambda in J = E + lambda ||W||^2")
    param("patience", metavar="N", help="validation checks without improvement before stopping")
    param("min_delta", metavar="D", help="least decrease of the validation loss that counts")
    param("early_stopping", help="run all --epochs and keep the last weights")
    param("validation_interval", metavar="C", help="validation checks (history rows) per epoch")
    param("shuffle", help="visit the training rows in the same order every epoch")
    param(
        "backend",
        default="auto",
        help="kernels to train with (auto: FASTREG_BACKEND if set, else Cython when built, "
        "else NumPy)",
    )
    param("dtype", help="precision of the weights and the arithmetic")
    param("n_threads", metavar="T", help="threads of the compiled epoch kernel (n_threads)")
    param(
        "random_state",
        metavar="SEED",
        help="seeds the validation split and the shuffles (random_state)",
    )

    out = train.add_argument_group("output")
    if not sweep:
        _add_out_options(out)
    out.add_argument("--no-plots", action="store_true", help="do not draw the PNG pictures")
    out.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (when stderr is not a terminal, progress is one line per epoch)",
    )
    return train


def _add_out_options(out):
    out.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        type=folder_name,
        help="output folder, written as a temporary sibling (.<name>.frw-*.run) "
        "and renamed when complete (default: runs/<task>-<timestamp>/)",
    )
    out.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run in --out, once the new one is complete",
    )


#: The subcommands: name -> (module of fastreg.cli, its one-line help). Each module has
#: ``add_parser(sub, common)`` (its options) and a function that runs it (:data:`RUNNERS`);
#: both are imported only for the command being run, so ``fastreg --help`` stays quick.
COMMANDS = {
    "train": ("parser", "train a model and write its history, metrics, pictures and report"),
    "sweep": ("sweep", "train one option over several values; summary and overlay pictures"),
    "compare": ("compare", "summary and overlay pictures of runs that already exist"),
    "evaluate": ("evaluate", "report the test accuracy and confusion matrix of a saved model"),
    "predict": ("predict", "write the predicted labels (and probabilities) of a file as CSV"),
}
#: The function of each command's module that runs it (returns the exit status).
RUNNERS = {
    "train": ("train", "run_train"),
    "sweep": ("sweep", "run"),
    "compare": ("compare", "run"),
    "evaluate": ("evaluate", "run_evaluate"),
    "predict": ("predict", "run"),
}


def build_parser(command=None, *, full=True):
    """The argument parser of ``fastreg``. ``full``: every subcommand with its options (the
    manual's reference); else only ``command``'s options, the others named with their help
    (what :func:`parse_args` needs to parse one command line)."""
    import importlib

    parser = _Parser(
        prog="fastreg",
        description="Train, compare and use logistic / softmax regression models on the image "
        "data sets of fastreg.datasets or on your own data files.",
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
    for name, (module, help_text) in COMMANDS.items():
        if not full and name != command:
            sub.add_parser(name, help=help_text, add_help=False)
        elif name == "train":  # its options are shared with sweep: they live here
            _add_train(sub, common)
        else:
            importlib.import_module(f"{__package__}.{module}").add_parser(sub, common)
    return parser


def command_of(argv):
    """The subcommand named in ``argv`` (the first word that is one), or None."""
    return next((word for word in argv if word in COMMANDS), None)


def parse_args(argv, parser=None):
    """Parse ``argv``; an unknown option is reported by the subcommand it was given to
    (``fastreg train: error: unrecognized arguments: ...``), as argparse itself reports it at
    the top level only."""
    parser = parser or build_parser(command_of(argv), full=False)
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
