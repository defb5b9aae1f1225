"""``feature_names_in_``: the column names of a DataFrame, kept at fit and checked after.

scikit-learn's behaviour and wording (``sklearn.utils.validation._check_feature_names``,
followed here without importing it: it is private, and scikit-learn is optional):

* ``fit`` (and the first ``partial_fit``) on a data frame whose column names are all strings
  records them as ``feature_names_in_`` (an object array); any other input records none (and
  a refit forgets the old names). Names that mix strings with other types are a TypeError.
* Later calls (``predict*``, ``decision_function``, ``score``, a later ``partial_fit``) warn
  when one side has names and the other not, and raise a ValueError (an
  :class:`~fastreg.exceptions.InvalidParameterError`, ``param="X"``) listing the unseen and
  the missing names (at most five of each) when the names differ.

A data frame is recognised by duck typing (an object with ``columns`` and ``shape``: pandas,
polars, ...), so pandas is never imported.
"""

import warnings

import numpy as np

from .exceptions import InvalidParameterError, InvalidParameterTypeError

__all__ = ["check_feature_names", "feature_names"]


def feature_names(X):
    """The column names of the data frame ``X`` (object array) when all are strings, else
    None. Names of several types, strings among them, raise TypeError."""
    if not (hasattr(X, "columns") and hasattr(X, "shape")) or hasattr(X, "tocsr"):
        return None
    names = np.asarray(list(X.columns), dtype=object)
    if len(names) == 0:
        return None
    types = sorted(t.__qualname__ for t in {type(v) for v in names})
    if len(types) > 1 and "str" in types:
        raise InvalidParameterTypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {types} as feature name / column name types. "
            "If you want feature names to be stored and validated, you must convert "
            "them all to strings, by using X.columns = X.columns.astype(str) for "
            "example. Otherwise you can remove feature / column names from your input "
            "data, or convert them all to a non-string data type.",
            param="X",
        )
    return names if types == ["str"] else None


def check_feature_names(estimator, X):
    """Warn or raise when the names of ``X`` do not match the ``feature_names_in_`` that
    ``estimator`` was fitted with (see the module docstring)."""
    fitted = getattr(estimator, "feature_names_in_", None)
    given = feature_names(X)
    name = type(estimator).__name__
    if fitted is None and given is None:
        return
    if fitted is None:
        warnings.warn(
            f"X has feature names, but {name} was fitted without feature names",
            UserWarning,
            stacklevel=3,
        )
        return
    if given is None:
        warnings.warn(
            f"X does not have valid feature names, but {name} was fitted with feature names",
            UserWarning,
            stacklevel=3,
        )
        return
    if len(fitted) == len(given) and np.all(fitted == given):
        return
    unexpected = sorted(set(given) - set(fitted))
    missing = sorted(set(fitted) - set(given))
    message = "The feature names should match those that were passed during fit.\n"
    if unexpected:
        message += "Feature names unseen at fit time:\n" + _listing(unexpected)
    if missing:
        message += "Feature names seen at fit time, yet now missing:\n" + _listing(missing)
    if not unexpected and not missing:
        message += "Feature names must be in the same order as they were in fit.\n"
    raise InvalidParameterError(message, param="X")


def _listing(names, most=5):
    lines = [f"- {name}\n" for name in names[:most]]
    return "".join(lines) + ("- ...\n" if len(names) > most else "")
