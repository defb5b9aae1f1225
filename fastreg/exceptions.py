"""The public exceptions of fastreg, each with structured fields.

Every exception fastreg raises on purpose derives from :class:`FastregError` and from the
built-in class a Python user would catch (``ValueError``, ``FileNotFoundError``, ...). Besides
the message it carries two fields that programs can read instead of parsing text:

``param``  the name of the parameter or argument at fault (``"learning_rate"``, ``"data_dir"``),
           as the Python API spells it, or None;
``hint``   what to do about it, in one sentence, or None.

The command line maps ``param`` to its own option name (``learning_rate`` -> ``--lr``) through
the parameter table of :mod:`fastreg._validation`, and never parses a message.
"""

from __future__ import annotations

import os
from collections.abc import Iterable


class FastregError(Exception):
    """Base of fastreg's exceptions: ``str(err)`` is the whole message (reason, then hint)."""

    def __init__(self, message: str, *, param: str | None = None, hint: str | None = None) -> None:
        self.reason = message
        self.param = param
        self.hint = hint
        super().__init__(message if not hint else f"{message}; {hint}")


class InvalidParameterError(FastregError, ValueError):
    """A hyper-parameter or argument has the wrong type or lies outside its range.

    A ``ValueError`` (also for wrong types, as scikit-learn's own ``InvalidParameterError``),
    so code written against scikit-learn catches it.
    """


class InvalidParameterTypeError(InvalidParameterError, TypeError):
    """A hyper-parameter or argument of the wrong type (a string where a number belongs).

    Both a ``ValueError`` (as every :class:`InvalidParameterError`) and a ``TypeError``, the
    class Python code conventionally catches for wrong types.
    """


class NotFittedError(FastregError, ValueError, AttributeError):
    """The estimator is used before ``fit`` (scikit-learn's ``NotFittedError`` bases)."""


class TrainingDivergedError(FastregError, FloatingPointError):
    """Training diverged: a non-finite loss or weights, or a loss that blew up (see
    :mod:`fastreg._training.trainer`). The estimator is left as it was before the call.

    ``result`` holds the failed run for inspection (a ``TrainResult``: ``coef``,
    ``intercept``, ``history`` up to the last good check, ``step``, ``epochs_run``): the best
    validation weights under early stopping, else the weights of the last good check;
    ``learning_rate`` is the largest learning rate of the failed steps.
    """

    def __init__(
        self,
        message: str,
        result: object | None = None,
        *,
        learning_rate: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, param="learning_rate", hint=hint)
        self.result = result
        self.learning_rate = learning_rate


class ModelFileError(FastregError, ValueError):
    """A file given to ``fastreg.load`` is not a readable fastreg model file (malformed,
    hostile, another kind of file, or a newer format); ``param`` is ``"path"``."""


class BackendUnavailableError(FastregError, ImportError):
    """The compiled backend was asked for but is not built."""


class DatasetError(FastregError, ValueError):
    """A data file is malformed, damaged, or not the data set it claims to be."""


class DownloadError(DatasetError):
    """A data set could not be downloaded (every mirror failed, or a checksum differed)."""


class DataNotFoundError(FastregError, FileNotFoundError):
    """A data set's files were not found where they were looked for.

    ``searched`` lists the folders looked in.
    """

    def __init__(
        self,
        message: str,
        *,
        searched: Iterable[str | os.PathLike[str]] = (),
        param: str | None = "data_dir",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, param=param, hint=hint)
        self.searched = list(searched)


__all__ = [
    "BackendUnavailableError",
    "DataNotFoundError",
    "DatasetError",
    "DownloadError",
    "FastregError",
    "InvalidParameterError",
    "InvalidParameterTypeError",
    "ModelFileError",
    "NotFittedError",
    "TrainingDivergedError",
]
