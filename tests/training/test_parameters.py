"""The one table of hyper-parameters (fastreg._validation.PARAMETERS) and what is built on it.

Every parameter of the estimators has exactly one entry; the estimators, make_schedule and the
command line's argument types all check through it, so a bound is written once.
"""

import argparse
import inspect

import numpy as np
import pytest

from fastreg import LogisticRegression, SoftmaxRegression
from fastreg._validation import (
    BACKEND_NAMES,
    PARAMETERS,
    SCHEDULE_NAMES,
    argparse_type,
    check_param,
    check_params,
    cli_flag,
)
from fastreg.exceptions import InvalidParameterError, InvalidParameterTypeError


@pytest.mark.parametrize("cls", [LogisticRegression, SoftmaxRegression])
def test_every_estimator_parameter_is_in_the_table_and_vice_versa(cls):
    names = [n for n in inspect.signature(cls.__init__).parameters if n != "self"]
    assert set(names) == set(PARAMETERS)
    # and every default passes its own check
    defaults = {
        n: p.default for n, p in inspect.signature(cls.__init__).parameters.items() if n != "self"
    }
    assert set(check_params(defaults)) == set(PARAMETERS)


def test_backend_and_schedule_names_come_from_one_place():
    assert PARAMETERS["backend"].choices is BACKEND_NAMES
    assert PARAMETERS["lr_schedule"].choices is SCHEDULE_NAMES


# (name, value, normalised)  - at the bounds and inside
GOOD = [
    ("learning_rate", 1e-9, 1e-9),
    ("learning_rate", 3, 3.0),
    ("batch_size", 1, 1),
    ("batch_size", np.int64(7), 7),
    ("max_epochs", 1, 1),
    ("l2", 0, 0.0),
    ("lr_decay", -2.5, -2.5),
    ("lr_decay_steps", None, None),
    ("lr_decay_steps", 1, 1),
    ("validation_fraction", 1e-6, 1e-6),
    ("validation_fraction", 0.999, 0.999),
    ("patience", 1, 1),
    ("min_delta", 0.0, 0.0),
    ("validation_interval", 1, 1),
    ("early_stopping", np.bool_(False), False),
    ("shuffle", True, True),
    ("random_state", None, None),
    ("random_state", 0, 0),
    ("backend", "numpy", "numpy"),
    ("dtype", None, None),
    ("dtype", "float32", np.dtype(np.float32)),
    ("dtype", np.float64, np.dtype(np.float64)),
    ("input_scale", None, None),
    ("input_scale", 1 / 255, 1 / 255),
    ("n_threads", 1, 1),
    ("verbose", 0, 0),
    ("verbose", True, 1),
    ("lr_schedule", "cosine", "cosine"),
    ("learning_rate", "auto", "auto"),
    ("class_weight", None, None),
    ("class_weight", "balanced", "balanced"),
    ("class_weight", {0: 2, "b": np.float32(0.5), 3: 0}, {0: 2.0, "b": 0.5, 3: 0.0}),
]


@pytest.mark.parametrize("name, value, expected", GOOD)
def test_check_param_accepts_and_normalises(name, value, expected):
    got = check_param(name, value)
    assert got == expected and type(got) is type(expected)


# (name, value, wrong type?, message)  - just outside each bound, and wrong types
BAD = [
    ("learning_rate", 0.0, False, "learning_rate must be a real number > 0 or 'auto', got 0.0"),
    ("learning_rate", float("inf"), False, "learning_rate must be a real number > 0"),
    ("learning_rate", "0.1", True, "learning_rate must be a real number > 0 or 'auto', got '0.1'"),
    ("learning_rate", "AUTO", True, "learning_rate must be a real number > 0 or 'auto', got 'AU"),
    ("learning_rate", None, True, "learning_rate must be a real number > 0 or 'auto', got None"),
    ("batch_size", 0, False, "batch_size must be an integer >= 1, got 0"),
    ("batch_size", 3.5, True, "batch_size must be an integer >= 1, got 3.5"),
    ("batch_size", True, True, "batch_size must be an integer"),
    ("max_epochs", 0, False, "max_epochs must be an integer >= 1"),
    ("l2", -1e-12, False, "l2 must be a real number >= 0"),
    ("lr_decay", float("nan"), False, "lr_decay must be a finite real number, got nan"),
    ("lr_decay_steps", 0, False, "lr_decay_steps must be None or an integer >= 1"),
    ("validation_fraction", 0.0, False, r"validation_fraction must be a real number in \(0, 1\)"),
    ("validation_fraction", 1.0, False, r"validation_fraction must be a real number in \(0, 1\)"),
    ("patience", 0, False, "patience must be an integer >= 1"),
    ("min_delta", -1e-3, False, "min_delta must be a real number >= 0"),
    ("validation_interval", 0, False, "validation_interval must be an integer >= 1"),
    ("early_stopping", "yes", True, "early_stopping must be True or False, got 'yes'"),
    ("shuffle", 1, True, "shuffle must be True or False"),
    ("warm_start", None, True, "warm_start must be True or False"),
    ("random_state", -1, False, "random_state must be None, an int >= 0, or a numpy"),
    ("random_state", "seed", False, "random_state must be None, an int >= 0"),
    ("backend", "gpu", False, "backend must be one of 'auto', 'cython', 'numpy', got 'gpu'"),
    ("backend", None, False, "backend must be one of"),
    ("dtype", "float16", False, "dtype must be None, 'float32' or 'float64', got 'float16'"),
    ("input_scale", 0.0, False, "input_scale must be None or a real number > 0"),
    ("n_threads", 0, False, "n_threads must be an integer >= 1"),
    ("verbose", -1, False, "verbose must be an integer >= 0"),
    ("lr_schedule", "warmup", False, "lr_schedule must be one of 'constant', .* or a callable"),
    (
        "class_weight",
        "auto",
        False,
        "class_weight must be None, 'balanced' or a dict "
        r"\{class label: weight >= 0\}, got 'auto'",
    ),
    ("class_weight", [1, 2], True, "class_weight must be None, 'balanced' or a dict"),
    ("class_weight", {0: -1.0}, False, "got the weight -1.0 for the class 0"),
    ("class_weight", {0: float("nan")}, False, "got the weight nan for the class 0"),
    ("class_weight", {"a": "heavy"}, False, "got the weight 'heavy' for the class 'a'"),
]


@pytest.mark.parametrize("name, value, wrong_type, match", BAD)
def test_check_param_refuses_outside_the_range(name, value, wrong_type, match):
    with pytest.raises(InvalidParameterError, match=match) as info:
        check_param(name, value)
    assert info.value.param == name and isinstance(info.value, ValueError)
    assert isinstance(info.value, InvalidParameterTypeError) == wrong_type
    assert isinstance(info.value, TypeError) == wrong_type


def test_callable_schedule_is_allowed():
    f = lambda t: 0.1  # noqa: E731
    assert check_param("lr_schedule", f) is f


@pytest.mark.parametrize("name, value", [(n, v) for n, v, *_ in BAD])
def test_estimators_refuse_through_the_table_at_fit(name, value):
    """__init__ and set_params store; fit checks with the table's own message."""
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression(**{name: value})
    with pytest.raises(InvalidParameterError) as fit_err:
        model.fit(X, y)
    with pytest.raises(InvalidParameterError) as table_err:
        check_param(name, value)
    assert str(fit_err.value) == str(table_err.value) and fit_err.value.param == name


def test_cli_flags():
    expected = {
        "learning_rate": "--lr",
        "max_epochs": "--epochs",
        "n_threads": "--threads",
        "random_state": "--seed",
        "validation_fraction": "--val-fraction",
        "batch_size": "--batch-size",
        "backend": "--backend",
        "dtype": "--dtype",
        "early_stopping": "--no-early-stopping",
        "warm_start": None,
    }
    for name, flag in expected.items():
        assert cli_flag(name) == flag
    flags = [PARAMETERS[n].flag for n in PARAMETERS if PARAMETERS[n].flag]
    assert len(flags) == len(set(flags)) and all(f.startswith("--") for f in flags)
    with pytest.raises(KeyError):
        cli_flag("data_dir")


@pytest.mark.parametrize(
    "name, text, value",
    [
        ("learning_rate", "0.5", 0.5),
        ("learning_rate", "auto", "auto"),
        ("max_epochs", "3", 3),
        ("random_state", "0", 0),
        ("validation_fraction", "0.2", 0.2),
        ("lr_decay_steps", "4", 4),
        ("backend", "numpy", "numpy"),
        ("dtype", "float32", np.dtype(np.float32)),
        ("lr_schedule", "step", "step"),
    ],
)
def test_argparse_type_parses_with_the_table(name, text, value):
    assert argparse_type(name)(text) == value


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("learning_rate", "-1", "must be a real number > 0 or 'auto', got '-1'"),
        ("learning_rate", "fast", "must be a real number > 0 or 'auto', got 'fast'"),
        ("learning_rate", "nan", "must be a real number > 0 or 'auto', got 'nan'"),
        ("max_epochs", "2.5", "must be an integer >= 1, got '2.5'"),
        ("random_state", "-3", "must be an int >= 0, got '-3'"),
        ("validation_fraction", "1", r"must be a real number in \(0, 1\), got '1'"),
        ("dtype", "float16", "must be 'float32' or 'float64', got 'float16'"),
    ],
)
def test_argparse_type_refuses_in_the_tables_words(name, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        argparse_type(name)(text)


def test_argparse_type_in_a_parser(capsys):
    parser = argparse.ArgumentParser(prog="p")
    parser.add_argument(cli_flag("learning_rate"), type=argparse_type("learning_rate"))
    assert parser.parse_args(["--lr", "0.25"]).lr == 0.25
    with pytest.raises(SystemExit):
        parser.parse_args(["--lr", "0"])
    assert "argument --lr: must be a real number > 0 or 'auto', got '0'" in capsys.readouterr().err
    assert parser.parse_args(["--lr", "auto"]).lr == "auto"
