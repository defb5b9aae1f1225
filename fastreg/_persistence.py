"""Save and load fitted models as .npz files, without pickle.

A model file is an uncompressed NumPy ``.npz`` archive read with ``allow_pickle=False``, so
loading never runs code from the file. It holds:

``__fastreg_model__``  the marker string ``"fastreg-model"`` (files without it are rejected)
``format_version``     1
``estimator``          "LogisticRegression" or "SoftmaxRegression"
``fastreg_version``    the version that wrote the file
``params``             the constructor parameters as JSON; values JSON cannot hold (a callable
                       ``lr_schedule``, a Generator ``random_state``) are listed in
                       ``unsaved_params`` and come back as their defaults, with a warning
``coef_``, ``intercept_``, ``classes_``, ``n_features_in_``, ``n_iter_``, ``best_epoch_``,
``t_``, ``backend_``   the fitted attributes (``classes_`` of strings as a unicode array;
                       ``classes_object`` records whether they were an object array)
``history/<key>``      the columns of ``history_``

This module imports no estimator: ``load`` is given the estimator classes a file may name
(``fastreg.load`` in :mod:`fastreg.linear_model` passes them), and ``save`` is called by the
estimator's own ``save`` once it has checked that the model is fitted.
"""
import json
import numbers
import os
import tempfile
import warnings
import zipfile

import numpy as np

from ._training.trainer import HISTORY_KEYS
from ._version import __version__

MAGIC = "fastreg-model"
FORMAT_VERSION = 1
_HISTORY_PREFIX = "history/"
_FITTED = ("coef_", "intercept_", "classes_", "n_features_in_", "n_iter_", "best_epoch_", "t_",
           "backend_")


def _json_value(name, value):
    """``(True, value)`` if JSON can hold ``value`` as it is, else ``(False, None)``."""
    if name == "dtype" and value is not None:
        try:
            return True, np.dtype(value).name
        except TypeError:
            return False, None
    if value is None or isinstance(value, (bool, str)):
        return True, value
    if isinstance(value, np.bool_):
        return True, bool(value)
    if isinstance(value, numbers.Integral):
        return True, int(value)
    if isinstance(value, numbers.Real):
        return True, float(value)
    return False, None


def _classes_array(classes):
    """``classes_`` as an array np.load can read without pickle, and whether it was object."""
    classes = np.asarray(classes)
    if classes.dtype != object:
        return classes, False
    plain = np.asarray(classes.tolist())
    if plain.dtype == object or plain.shape != classes.shape or \
            any(a != b for a, b in zip(plain.tolist(), classes.tolist())):
        raise ValueError(
            f"classes_ {classes.tolist()!r} mix types that a .npz file cannot hold without "
            "pickle; use labels of one type (all strings or all numbers)"
        )
    return plain, True


def save(model, path):
    """Write the fitted ``model`` to ``path`` (".npz" appended if missing); return the path.

    The file is written to a temporary name in the same folder and then renamed, so a crash
    never leaves a half-written model under ``path``. ``model`` must be fitted.
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
    }
    for key, column in model.history_.items():
        arrays[_HISTORY_PREFIX + key] = np.asarray(column, dtype=np.float64)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastreg-", suffix=".npz.tmp", dir=folder)
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
    return ValueError(f"{path} is not a fastreg model file ({why}); fastreg.load reads the .npz "
                      "files written by model.save(path)")


def load(path, estimators):
    """Read a model written by ``model.save(path)``; return a fitted estimator.

    ``estimators`` are the classes a file may name (matched by ``__name__``).

    Raises ValueError for files that are not fastreg models (other .npz archives, pickles,
    text), for a newer format version and for inconsistent contents; FileNotFoundError if
    ``path`` does not exist.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _reject(path, f"unreadable as .npz: {exc}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise _reject(path, "a single .npy array, not an .npz archive")
    with archive:
        try:
            data = {key: archive[key] for key in archive.files}
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise _reject(path, f"an array could not be read: {exc}") from exc
    if "__fastreg_model__" not in data or str(data["__fastreg_model__"]) != MAGIC:
        raise _reject(path, "no fastreg marker")
    version = int(data.get("format_version", -1))
    if version != FORMAT_VERSION:
        raise ValueError(f"{path} has model format version {version}; this fastreg reads "
                         f"version {FORMAT_VERSION} (upgrade fastreg to read it)")
    missing = [k for k in ("estimator", "params", "unsaved_params", "classes_object") + _FITTED
               if k not in data]
    if missing:
        raise _reject(path, f"missing entries {missing}")
    classes = {cls.__name__: cls for cls in estimators}
    name = str(data["estimator"])
    if name not in classes:
        raise _reject(path, f"unknown estimator {name!r}")
    cls = classes[name]
    try:
        params = json.loads(str(data["params"]))
        unsaved = json.loads(str(data["unsaved_params"]))
    except json.JSONDecodeError as exc:
        raise _reject(path, f"parameters are not valid JSON: {exc}") from exc
    if unsaved:
        warnings.warn(
            f"{path}: the parameters {unsaved} could not be stored in the file (callables or "
            "random generators) and are set to their defaults; set them again with "
            "set_params() before training further",
            UserWarning, stacklevel=2,
        )
    try:
        model = cls(**params)
    except TypeError as exc:
        raise _reject(path, f"parameters do not match {name}: {exc}") from exc
    _restore(model, data, path)
    return model


def _restore(model, data, path):
    coef, intercept = data["coef_"], data["intercept_"]
    classes = data["classes_"]
    if bool(data["classes_object"]):
        classes = np.array(classes.tolist(), dtype=object)
    d = int(data["n_features_in_"])
    rows = 1 if model._binary else len(classes)
    if coef.dtype not in (np.float32, np.float64) or coef.shape != (rows, d) \
            or intercept.dtype != coef.dtype or intercept.shape != (rows,) \
            or classes.ndim != 1 or len(classes) < 2 or (model._binary and len(classes) != 2):
        raise _reject(path, f"inconsistent weights: coef_ {coef.dtype}{coef.shape}, intercept_ "
                            f"{intercept.dtype}{intercept.shape}, {len(classes)} classes, {d} "
                            "features")
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise _reject(path, "non-finite weights")
    model.coef_ = np.ascontiguousarray(coef)
    model.intercept_ = np.ascontiguousarray(intercept)
    model.classes_ = classes
    model.n_features_in_ = d
    model.n_iter_ = int(data["n_iter_"])
    model.best_epoch_ = int(data["best_epoch_"])
    model.t_ = int(data["t_"])
    model.backend_ = str(data["backend_"])
    history = {}
    for key in data:
        if key.startswith(_HISTORY_PREFIX):
            column = data[key].tolist()
            name = key[len(_HISTORY_PREFIX):]
            history[name] = [int(v) for v in column] if name in ("step", "epoch") else column
    model.history_ = {key: history.get(key, []) for key in HISTORY_KEYS}
