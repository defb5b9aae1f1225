"""The argparse types of the command line's own options (the estimator parameters' types
come from the parameter table, :func:`fastreg.cli.parser.argparse_type`). Each turns the text
into a value or raises ``argparse.ArgumentTypeError`` saying what was expected."""

import argparse

from ..datasets._registry import DATASETS


def positive_int(text):
    """An integer >= 1 (--jobs, --chunk-rows, --image-shape)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def class_index(text):
    """A class of the data set: an integer 0..K-1 (K the most classes a data set has)."""
    high = max(spec.n_classes for spec in DATASETS.values()) - 1
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value <= high:
        raise argparse.ArgumentTypeError(f"must be a class 0..{high}, got {text}")
    return value


def folder_name(text):
    """A folder name for --out: not empty or blank (that would mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must name a folder, got {text!r}")
    return text


def on_off(text):
    """``on`` / ``off`` (also true/false, yes/no, 1/0) as a bool, for ``--shuffle``."""
    value = {"on": True, "true": True, "yes": True, "1": True}.get(text.lower())
    if value is None:
        value = {"off": False, "false": False, "no": False, "0": False}.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")
    return value
