"""THE table of hyper-parameters: how each is checked, its command-line option.

:data:`PARAMETERS` is read by the estimators' checks (:mod:`fastreg._validation`, which
re-exports everything here), the kernels' argument checks, the dataset helpers and the
command line (:func:`cli_flag`, :func:`argparse_type`). This module imports no NumPy, so that
``fastreg --help`` builds its parser quickly; the checks themselves live in
:mod:`fastreg._validation`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

DTYPE_NAMES = ("float32", "float64")
SCHEDULE_NAMES = ("constant", "step", "exponential", "inverse", "cosine")
#: The backend names, listed here once ("auto": FASTREG_BACKEND, else the compiled backend when
#: built, else NumPy; see fastreg._kernels).
BACKEND_NAMES = ("auto", "cython", "numpy")


# --------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Param:
    """How one hyper-parameter is checked.

    kind     "real", "int", "bool", "choice", "dtype", "random_state" or "class_weight"
             (None, "balanced" or a dict {label: weight >= 0}; the labels are checked
             against the classes at fit time, :mod:`fastreg._sample_weight`)
    low/high bounds of a real or int (None: unbounded); ``closed`` says which belong to the
             range: "both", "left", "right" or "neither" (scikit-learn's ``Interval``)
    choices  the allowed strings of a "choice"; of a "real" or "int", strings allowed besides
             the numbers (learning_rate's "auto")
    none     None is allowed; ``callable``: a callable is allowed (lr_schedule)
    flag     the command-line option that sets it, or None (for a bool: the switch that
             turns it off, e.g. "--no-shuffle")
    """

    kind: str
    low: float | None = None
    high: float | None = None
    closed: str = "both"
    choices: tuple = ()
    none: bool = False
    callable: bool = False
    flag: str | None = None
    allow_bool: bool = False  # an "int" that also takes True/False as 1/0 (verbose)

    def describe(self, with_none=True):
        """What a valid value is, in words ("a real number > 0")."""
        if self.kind in ("real", "int"):
            what = "a real number" if self.kind == "real" else "an integer"
            lo_in, hi_in = self.closed in ("both", "left"), self.closed in ("both", "right")
            if self.low is not None and self.high is not None:
                what += (
                    f" in {'[' if lo_in else '('}{_num(self.low)}, "
                    f"{_num(self.high)}{']' if hi_in else ')'}"
                )
            elif self.low is not None:
                what += f" {'>=' if lo_in else '>'} {_num(self.low)}"
            elif self.high is not None:
                what += f" {'<=' if hi_in else '<'} {_num(self.high)}"
            elif self.kind == "real":
                what = "a finite real number"
            what += "".join(f" or {c!r}" for c in self.choices)
        elif self.kind == "bool":
            what = "True or False"
        elif self.kind == "choice":
            what = "one of " + ", ".join(repr(c) for c in self.choices)
            if self.callable:
                what += ", or a callable of the step count"
        elif self.kind == "dtype":
            return "None, 'float32' or 'float64'" if with_none else "'float32' or 'float64'"
        elif self.kind == "class_weight":
            what = "'balanced' or a dict {class label: weight >= 0}"
            return f"None, {what}" if with_none else what
        else:  # random_state
            what = (
                "an int >= 0"
                if not with_none
                else "None, an int >= 0, or a numpy Generator/RandomState/SeedSequence"
            )
            return what
        return f"None or {what}" if self.none and with_none else what


def _num(value):
    return str(int(value)) if float(value).is_integer() else str(value)


PARAMETERS = {
    # "auto": per-feature steps from the data (fastreg._training.step_size)
    "learning_rate": Param("real", 0, None, "neither", choices=("auto",), flag="--lr"),
    "batch_size": Param("int", 1, flag="--batch-size"),
    "max_epochs": Param("int", 1, flag="--epochs"),
    "l2": Param("real", 0, flag="--l2"),
    "lr_schedule": Param("choice", choices=SCHEDULE_NAMES, callable=True, flag="--lr-schedule"),
    # decay's range depends on the schedule: make_schedule checks that cross-parameter rule
    "lr_decay": Param("real", flag="--lr-decay"),
    "lr_decay_steps": Param("int", 1, none=True, flag="--lr-decay-steps"),
    "early_stopping": Param("bool", flag="--no-early-stopping"),
    "validation_fraction": Param("real", 0, 1, "neither", flag="--val-fraction"),
    "patience": Param("int", 1, flag="--patience"),
    "min_delta": Param("real", 0, flag="--min-delta"),
    "validation_interval": Param("int", 1, flag="--validation-interval"),
    "shuffle": Param("bool", flag="--no-shuffle"),
    "random_state": Param("random_state", none=True, flag="--seed"),
    "warm_start": Param("bool"),
    "backend": Param("choice", choices=BACKEND_NAMES, flag="--backend"),
    "dtype": Param("dtype", none=True, flag="--dtype"),
    "input_scale": Param("real", 0, None, "neither", none=True),
    "n_threads": Param("int", 1, flag="--threads"),
    "verbose": Param("int", 0, allow_bool=True),
    "class_weight": Param("class_weight", none=True),
}


def cli_flag(name):
    """The command-line option of the parameter ``name`` ("--lr"), or None if it has none.

    A KeyError for names that are not parameters of the estimators."""
    return PARAMETERS[name].flag


def argparse_type(name, check):
    """An argparse ``type=`` callable for the parameter ``name``: parses the text and applies
    ``check(name, value)`` (:func:`fastreg._validation.check_param`, passed in: the checks
    need NumPy, this table does not); raises ``argparse.ArgumentTypeError`` in the table's
    words."""
    spec = PARAMETERS[name]
    parse = {"real": float, "int": int, "random_state": int}.get(spec.kind, str)

    def convert(text):
        try:
            value = text if text in spec.choices else parse(text)
            if spec.kind == "bool":
                value = {"true": True, "false": False}.get(text.strip().lower(), text)
            return check(name, value)
        except (ValueError, TypeError):  # InvalidParameterError is a ValueError
            raise argparse.ArgumentTypeError(
                f"must be {spec.describe(with_none=False)}, got {text!r}"
            ) from None

    convert.__name__ = name  # argparse names the type in some of its messages
    return convert
