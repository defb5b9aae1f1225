"""Save and load fitted models as .npz files, without pickle.

A model file is an uncompressed NumPy ``.npz`` archive (a zip of .npy files, never a pickle,
so loading runs no code from the file). It holds:

``__fastreg_model__``  the marker string ``"fastreg-model"`` (files without it are rejected)
``format_version``     2 (version 1 files, of fastreg before issue 13, load too)
``estimator``          "LogisticRegression" or "SoftmaxRegression"
``fastreg_version``    the version that wrote the file
``params``             the constructor parameters as JSON; a ``class_weight`` dict as a list
                       of [label, weight] pairs (JSON keys would turn labels into strings);
                       values JSON cannot hold (a callable ``lr_schedule``, a Generator
                       ``random_state``) are listed in ``unsaved_params`` and come back as
                       their defaults, with a warning
``coef_``, ``intercept_``, ``classes_``, ``n_features_in_``, ``n_iter_``, ``best_epoch_``,
``t_``, ``backend_``   the fitted attributes (``classes_`` of strings as a unicode array;
                       ``classes_object`` records whether they were an object array);
                       ``coef_`` has one row for a LogisticRegression of two classes, one per
                       class otherwise
``learning_rate_``     the base step used (float; version 1 files: the ``learning_rate``
                       parameter), ``step_scale_`` the per-feature step scales, an empty array
                       for None (absent from version 1 files: None)
``feature_names_in_``  a unicode array, present only when the model has feature names
``history/<key>``      the columns of ``history_``

Loading trusts nothing in the file (``load`` is meant for files from strangers): the archive
is read with :mod:`zipfile`, only the entries above are opened (unknown ones are never
inflated), and each entry's .npy header is checked (dtype, shape, the member's declared
size, compression, against the model and a total bound) before a byte of its data is
inflated (:mod:`fastreg._npz_reader`). Every malformed file raises ValueError naming the
path.

``save`` writes to ``.<file name>.frw-<host>-<pid>-<random>.tmp`` beside the target and renames
it. A killed process leaves that file behind; the next ``save`` into the same folder removes it
by the package's one rule for such files (:mod:`fastreg._litter`): at once when its process no
longer runs on this machine, after a day when it was written on another machine. Files named
the way 0.1.0 named them (``.fastreg-<8 random characters>.npz.tmp``) go after a day.

This module imports no estimator: ``load`` is given the estimator classes a file may name
(``fastreg.load`` in :mod:`fastreg.linear_model` passes them), and ``save`` is called by the
estimator's own ``save`` once it has checked that the model is fitted.
"""

import json
import math
import numbers
import os
import tempfile
import warnings
import zipfile

import numpy as np

from . import _litter
from ._npz_reader import Entries
from ._training.trainer import HISTORY_KEYS
from ._validation import BACKEND_NAMES, check_params
from ._version import __version__
from .exceptions import ModelFileError

MAGIC = "fastreg-model"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
_HISTORY_PREFIX = "history/"
_FITTED = (
    "coef_",
    "intercept_",
    "classes_",
    "n_features_in_",
    "n_iter_",
    "best_epoch_",
    "t_",
    "backend_",
)
_REQUIRED = (
    ("estimator", "params", "unsaved_params", "classes_object")
    + _FITTED
    + tuple(_HISTORY_PREFIX + key for key in HISTORY_KEYS)
)
#: entries that version 2 writes (feature_names_in_ only when there are names)
_OPTIONAL = ("learning_rate_", "step_scale_", "feature_names_in_")
_KNOWN = ("__fastreg_model__", "format_version", "fastreg_version") + _REQUIRED + _OPTIONAL

TEMP_SUFFIXES = (".tmp",)  # save's temporary files (named as fastreg._litter says)
#: How 0.1.0's save named its temporary files (removed after a day).
LEGACY_TEMPS = (_litter.mkstemp_glob(".fastreg-", ".npz.tmp"),)


def _json_scalar(value):
    """``(True, value)`` for None, bool, str, int and float (NumPy's too), else ``(False,
    None)``."""
    if value is None or isinstance(value, (bool, str)):
        return True, value
    if isinstance(value, np.bool_):
        return True, bool(value)
    if isinstance(value, numbers.Integral):
        return True, int(value)
    if isinstance(value, numbers.Real):
        return True, float(value)
    if isinstance(value, np.str_):
        return True, str(value)
    return False, None


def _json_value(name, value):
    """``(True, value)`` if JSON can hold ``value`` (a class_weight dict as [label, weight]
    pairs), else ``(False, None)``."""
    if name == "class_weight" and isinstance(value, dict):
        pairs = [(_json_scalar(k), _json_scalar(v)) for k, v in value.items()]
        if all(k[0] and v[0] for k, v in pairs):
            return True, [[k[1], v[1]] for k, v in pairs]
        return False, None
    if name == "dtype" and value is not None:
        try:
            return True, np.dtype(value).name
        except TypeError:
            return False, None
    return _json_scalar(value)


def _classes_array(classes):
    """``classes_`` as an array np.load can read without pickle, and whether it was object."""
    classes = np.asarray(classes)
    if classes.dtype != object:
        return classes, False
    plain = np.asarray(classes.tolist())
    if (
        plain.dtype == object
        or plain.shape != classes.shape
        or any(a != b for a, b in zip(plain.tolist(), classes.tolist()))
    ):
        raise ValueError(
            f"classes_ {classes.tolist()!r} mix types that a .npz file cannot hold without "
            "pickle; use labels of one type (all strings or all numbers)"
        )
    return plain, True


def _steps_entries(model):
    """learning_rate_ and step_scale_ (an empty array for None) as entries; a model unpickled
    from a fastreg without them is stored as a version 1 file loads (the parameter, None)."""
    rate, scale = getattr(model, "learning_rate_", None), getattr(model, "step_scale_", None)
    if rate is None:
        rate = model.learning_rate if isinstance(model.learning_rate, numbers.Real) else math.nan
    empty = np.asarray(model.coef_)[:0, 0]
    return {
        "learning_rate_": np.array(rate, dtype=np.float64),
        "step_scale_": empty if scale is None else np.asarray(scale),
    }


def save(model, path):
    """Write the fitted ``model`` to ``path`` (".npz" appended if missing); return the path.

    The file is written to a temporary name in the same folder and then renamed, so a crash
    never leaves a half-written model under ``path``; temporary files that killed processes
    left in that folder are removed first (see the module docstring). ``model`` must be
    fitted.
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    params, unsaved = {}, []
    for name, value in model.get_params(deep=False).items():
        ok, stored = _json_value(name, value)
        if ok:
            params[name] = stored
        else:
            unsaved.append(name)
    classes, classes_object = _classes_array(model.classes_)
    arrays = {
        "__fastreg_model__": np.array(MAGIC),
        "format_version": np.array(FORMAT_VERSION),
        "estimator": np.array(type(model).__name__),
        "fastreg_version": np.array(__version__),
        "params": np.array(json.dumps(params)),
        "unsaved_params": np.array(json.dumps(unsaved)),
        "coef_": np.asarray(model.coef_),
        "intercept_": np.asarray(model.intercept_),
        "classes_": classes,
        "classes_object": np.array(classes_object),
        "n_features_in_": np.array(model.n_features_in_),
        "n_iter_": np.array(model.n_iter_),
        "best_epoch_": np.array(model.best_epoch_),
        "t_": np.array(model.t_),
        "backend_": np.array(model.backend_),
        **_steps_entries(model),
    }
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        arrays["feature_names_in_"] = np.array([str(v) for v in names], dtype=str)
    for key, column in model.history_.items():
        arrays[_HISTORY_PREFIX + key] = np.asarray(column, dtype=np.float64)
    folder = os.path.dirname(os.path.abspath(path))
    _litter.remove_stale(folder, TEMP_SUFFIXES, legacy=LEGACY_TEMPS)
    fd, tmp = tempfile.mkstemp(
        prefix=_litter.temp_prefix(os.path.basename(path)), suffix=TEMP_SUFFIXES[0], dir=folder
    )
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        # mkstemp creates the file 0600; give the model the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _reject(path, why):
    return ModelFileError(
        f"{path} is not a fastreg model file ({why})",
        param="path",
        hint="fastreg.load reads the .npz files written by model.save(path)",
    )


def load(path, estimators):
    """Read a model written by ``model.save(path)``; return a fitted estimator.

    ``estimators`` are the classes a file may name (matched by ``__name__``).

    Safe for files from strangers (see the module docstring): raises
    :class:`~fastreg.exceptions.ModelFileError` (a ValueError) naming
    ``path`` for files that are not fastreg models (other archives, pickles, text), for a
    newer format version and for any malformed or inconsistent contents, without inflating
    more than the model's declared arrays; FileNotFoundError if ``path`` does not exist.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path}")
    if not os.path.isfile(path):
        raise _reject(path, "not a regular file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            if head.startswith(b"\x93NUMPY"):
                raise _reject(path, "a single .npy array, not an .npz archive")
            if head[:1] == b"\x80":
                raise _reject(
                    path,
                    "unreadable: a Python pickle, not an .npz archive; "
                    "fastreg never unpickles, as a pickle can run code",
                )
            fh.seek(0)
            try:
                archive = zipfile.ZipFile(fh)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
                raise _reject(
                    path, f"unreadable: not a zip archive, as .npz files are ({exc})"
                ) from exc
            with archive:
                entries = Entries(
                    archive, os.fstat(fh.fileno()).st_size, _KNOWN, lambda why: _reject(path, why)
                )
                return _load(entries, path, estimators)
    except OSError as exc:
        raise _reject(path, f"unreadable: {exc}") from exc


def _load(entries, path, estimators):
    marker = entries.text("__fastreg_model__", missing="")
    if marker != MAGIC:
        raise _reject(path, "no fastreg marker")
    version = entries.integer("format_version", missing=-1)
    if version not in READABLE_VERSIONS:
        raise ModelFileError(
            f"{path} has model format version {version}; this fastreg reads "
            f"version {FORMAT_VERSION}",
            param="path",
            hint="upgrade fastreg (pip install -U fastreg-sgd) to read it",
        )
    missing = [k for k in _REQUIRED if k not in entries.members]
    if missing:
        raise _reject(path, f"missing entries {missing}")
    classes = {cls.__name__: cls for cls in estimators}
    name = entries.text("estimator")
    if name not in classes:
        raise _reject(path, f"unknown estimator {name!r}")
    cls = classes[name]
    try:
        params = json.loads(entries.text("params"))
        unsaved = json.loads(entries.text("unsaved_params"))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise _reject(path, f"parameters are not valid JSON: {exc}") from exc
    if (
        not isinstance(params, dict)
        or not isinstance(unsaved, list)
        or not all(isinstance(v, str) for v in unsaved)
    ):
        raise _reject(path, "parameters are not a JSON object and a list of names")
    pairs = params.get("class_weight")
    if isinstance(pairs, list):
        if not all(
            isinstance(p, list) and len(p) == 2 and not isinstance(p[0], (list, dict))
            for p in pairs
        ):
            raise _reject(path, "class_weight is not a list of [label, weight] pairs")
        params["class_weight"] = {label: weight for label, weight in pairs}
    try:
        model = cls(**params)
        check_params(model.get_params(deep=False))
    except (TypeError, ValueError) as exc:
        raise _reject(path, f"invalid parameters for {name}: {exc}") from exc
    _restore(model, entries, path)
    if unsaved:
        warnings.warn(
            f"{path}: the parameters {unsaved} could not be stored in the file (callables or "
            "random generators) and are set to their defaults; set them again with "
            "set_params() before training further",
            UserWarning,
            stacklevel=4,
        )
    return model


def _restore(model, entries, path):
    classes_object = bool(entries.read("classes_object", "b", ())[()])
    d = entries.integer("n_features_in_", low=1)
    n_iter = entries.integer("n_iter_")
    best_epoch = entries.integer("best_epoch_")
    t = entries.integer("t_")
    backend = entries.text("backend_")
    if backend not in BACKEND_NAMES[1:] or best_epoch > n_iter:  # a concrete backend
        raise _reject(
            path,
            f"inconsistent attributes: backend_ {backend!r}, best_epoch_ "
            f"{best_epoch} of n_iter_ {n_iter}",
        )
    classes = entries.read("classes_", "biufUS", (None,))
    if len(classes) < 2 or not bool(np.all(classes[1:] > classes[:-1])):
        raise _reject(
            path,
            f"classes_ {classes.tolist()[:10]} are not at least two unique labels in sorted order",
        )
    if classes_object:
        classes = np.array(classes.tolist(), dtype=object)
    rows = model._weight_rows(len(classes))
    coef = entries.read("coef_", "f", (rows, d))
    intercept = entries.read("intercept_", "f", (rows,))
    if coef.dtype not in (np.float32, np.float64) or intercept.dtype != coef.dtype:
        raise _reject(
            path, f"inconsistent weights: coef_ {coef.dtype}, intercept_ {intercept.dtype}"
        )
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise _reject(path, "non-finite weights")
    history, length = {}, None
    for key in HISTORY_KEYS:
        column = entries.read(_HISTORY_PREFIX + key, "fiu", (length,))
        length = column.shape[0]
        history[key] = _history_column(key, column.astype(np.float64), path)
    state = dict(
        coef_=np.ascontiguousarray(coef),
        intercept_=np.ascontiguousarray(intercept),
        classes_=classes,
        n_features_in_=d,
        n_iter_=n_iter,
        best_epoch_=best_epoch,
        t_=t,
        backend_=backend,
        history_=history,
    )
    state.update(_step_sizes(model, entries, path, d, coef.dtype))
    if "feature_names_in_" in entries.members:
        names = entries.read("feature_names_in_", "U", (d,))
        state["feature_names_in_"] = np.array(names.tolist(), dtype=object)
    vars(model).update(state)


def _step_sizes(model, entries, path, d, dtype):
    """learning_rate_ and step_scale_ from the file; a version 1 file has neither: the
    ``learning_rate`` parameter, when it is a number, and no step scales."""
    if "learning_rate_" not in entries.members:
        rate = model.learning_rate
        return dict(
            learning_rate_=float(rate) if isinstance(rate, numbers.Real) else math.nan,
            step_scale_=None,
        )
    rate = float(entries.read("learning_rate_", "f", ())[()])
    if not (math.isnan(rate) or (math.isfinite(rate) and rate > 0)):
        raise _reject(path, f"learning_rate_ is {rate!r}")
    scale = None
    if "step_scale_" in entries.members:
        scale = entries.read("step_scale_", "f", (None,))
        if scale.shape[0] == 0:
            scale = None
        elif (
            scale.shape != (d,)
            or scale.dtype != dtype
            or not (np.isfinite(scale).all() and (scale > 0).all())
        ):
            raise _reject(
                path,
                f"step_scale_ of shape {scale.shape} and dtype {scale.dtype} "
                f"does not fit coef_ (d = {d}, {dtype}) or is not finite and > 0",
            )
    return dict(learning_rate_=rate, step_scale_=scale)


def _history_column(key, column, path):
    """The history column ``key`` as the trainer records it, or ValueError: step and epoch
    are whole numbers >= 0, learning rates finite, losses NaN or >= 0, accuracies NaN or in
    [0, 1]."""
    if key in ("step", "epoch", "learning_rate"):
        bad = ~np.isfinite(column)
        if key != "learning_rate":
            bad |= (column < 0) | (column > 2**53) | (column != np.round(column))
    else:
        high = 1.0 if key.endswith("accuracy") else np.inf
        bad = ~(np.isnan(column) | ((column >= 0) & (column <= high)))
    if bad.any():
        raise _reject(path, f"history/{key} holds {float(column[bad][0])!r}")
    return [int(v) for v in column] if key in ("step", "epoch") else column.tolist()
