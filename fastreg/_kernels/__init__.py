"""THE backend switch: the one place that decides which kernels run, and the only module that
imports the kernel modules.

Every compiled kernel module has one NumPy twin that defines the same public functions with
the same signatures and meaning (``TWINS``); the twin is the readable specification and the
test oracle, the compiled module (built from ``src_pyx/``) the fast path:

======================  ========================  =======================================
compiled module         NumPy twin                kernels
======================  ========================  =======================================
``_linear``             ``_linear_numpy``         linear_forward, epoch
``_loss``               ``_loss_numpy``           sigmoid, softmax, cross_entropy,
                                                  cross_entropy_grad, loss_grad
``_sparse``             ``_sparse_numpy``         sparse_linear_forward, sparse_epoch
                                                  (X a scipy.sparse CSR matrix or array)
======================  ========================  =======================================

A backend is a namespace with ``.name`` (``"cython"`` or ``"numpy"``), each kernel wrapped by
its input check (``_checks.py``, shared by both backends, so both accept and refuse the same
inputs), ``.raw``, the unchecked kernels (for tests and measurements), and ``.batches_done``
(``.epoch()`` / ``.sparse_epoch()``: the steps the last call took, all or those before a
signal handler raised; ``.reset()`` sets both to 0 before a call).

Backend names (``BACKEND_NAMES``): ``"cython"``, ``"numpy"`` and ``"auto"``, which means one
thing everywhere: the ``FASTREG_BACKEND`` environment variable if set, else ``"cython"`` if it
is built, else ``"numpy"`` with one RuntimeWarning. None is the same as ``"auto"``. Asking for
``"cython"`` when it is not built raises :class:`fastreg.exceptions.BackendUnavailableError`.
"""

from __future__ import annotations

import functools
import importlib
import os
import types
import warnings

from .._validation import BACKEND_NAMES
from ..exceptions import BackendUnavailableError, InvalidParameterError
from . import _checks

ENV_VAR = "FASTREG_BACKEND"

#: compiled module -> its NumPy twin (both inside fastreg._kernels)
TWINS = {"_linear": "_linear_numpy", "_loss": "_loss_numpy", "_sparse": "_sparse_numpy"}
#: compiled module -> the kernels it and its twin define
KERNELS = {
    "_linear": ("linear_forward", "epoch"),
    "_loss": ("sigmoid", "softmax", "cross_entropy", "cross_entropy_grad", "loss_grad"),
    "_sparse": ("sparse_linear_forward", "sparse_epoch"),
}
KERNEL_NAMES = tuple(name for names in KERNELS.values() for name in names)

_BUILD_HINT = (
    "build it with `pip install .` (or `pip install -e .` in a checkout; a C compiler, "
    "Cython>=3 and NumPy>=2 are needed), or choose the pure-NumPy backend with "
    "backend='numpy' / FASTREG_BACKEND=numpy"
)

_cache: dict[str, types.SimpleNamespace | ImportError] = {}
_warned_fallback = False


def _modules(name):
    """The kernel modules of backend ``name``: the compiled ones or their twins, TWINS' order."""
    names = TWINS if name == "cython" else TWINS.values()
    return [importlib.import_module(f"{__name__}.{module}") for module in names]


def _assemble(name, modules):
    """The namespace of backend ``name`` from its kernel modules (ImportError: a kernel lacks)."""
    raw = {}
    for module, kernels in zip(modules, KERNELS.values()):
        for kernel in kernels:
            func = getattr(module, kernel, None)
            if not callable(func):
                raise ImportError(
                    f"backend {name!r} lacks the kernel {kernel!r} (module {module.__name__})"
                )
            raw[kernel] = func
    checked = {
        kernel: _checked(func, getattr(_checks, kernel), compiled=name == "cython")
        for kernel, func in raw.items()
    }
    # steps the last epoch call took: all its batches, or those before a raising signal handler
    batches_done = types.SimpleNamespace(
        epoch=modules[0]._last_batches_done,
        sparse_epoch=modules[2]._last_batches_done,
        reset=lambda: (modules[0]._reset_batches_done(), modules[2]._reset_batches_done()),
    )
    return types.SimpleNamespace(
        name=name,
        raw=types.SimpleNamespace(name=name, **raw),
        batches_done=batches_done,
        **checked,
    )


def _checked(raw, check, *, compiled):
    """``raw`` preceded by its input check (and the compiled kernels' C int size limit)."""
    coef_at = (
        {"linear_forward": 1, "epoch": 2, "sparse_linear_forward": 1, "sparse_epoch": 2}.get(
            raw.__name__
        )
        if compiled
        else None
    )

    @functools.wraps(raw)
    def kernel(*args, **kwargs):
        args = check(*args, **kwargs)
        if coef_at is not None:
            _checks.check_c_int_range(args[coef_at])
        return raw(*args)

    return kernel


def _load(name):
    if name not in _cache:
        try:
            _cache[name] = _assemble(name, _modules(name))
        except ImportError as exc:
            _cache[name] = exc
    result = _cache[name]
    if isinstance(result, ImportError):
        raise result
    return result


def available_backends() -> list[str]:
    """Names of the backends that load on this machine, preferred first."""
    names = []
    for name in BACKEND_NAMES[1:]:
        try:
            _load(name)
        except ImportError:
            continue
        names.append(name)
    return names


def _normalise(name, source=None):
    if isinstance(name, str) and name.strip().lower() in BACKEND_NAMES:
        return name.strip().lower()
    where = source or repr(name)
    raise InvalidParameterError(
        f"unknown backend {where}",
        param="backend",
        hint="choose one of " + ", ".join(repr(n) for n in BACKEND_NAMES),
    )


def resolve_backend(name: str | None = "auto") -> str:
    """The concrete backend (``"cython"`` or ``"numpy"``) that ``name`` selects here.

    None and ``"auto"`` read ``FASTREG_BACKEND`` and else prefer the compiled backend (one
    RuntimeWarning when it is not built); an explicit name is returned as it is.
    """
    global _warned_fallback
    name = "auto" if name is None else _normalise(name)
    if name != "auto":
        return name
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        name = _normalise(env, f"{ENV_VAR}={env!r}")
        if name != "auto":
            return name
    try:
        _load("cython")
        return "cython"
    except ImportError as exc:
        if not _warned_fallback:
            _warned_fallback = True
            warnings.warn(
                f"fastreg falls back to its NumPy backend: the compiled kernels do "
                f"not load ({exc}); {_BUILD_HINT}",
                RuntimeWarning,
                stacklevel=3,
            )
        return "numpy"


def get_backend(name: str | types.SimpleNamespace | None = "auto") -> types.SimpleNamespace:
    """The kernels of backend ``name``: a namespace with ``.name``, each checked kernel, ``.raw``.

    Parameters
    ----------
    name : {"auto", "cython", "numpy"} or None
        See the module docstring; a namespace returned earlier is returned as it is.
    """
    if isinstance(name, types.SimpleNamespace):
        return name
    name = resolve_backend(name)
    try:
        return _load(name)
    except ImportError as exc:
        raise BackendUnavailableError(
            f"the {name} backend is not available: {exc}", param="backend", hint=_BUILD_HINT
        ) from exc


def raw_backend(name: str | None) -> types.SimpleNamespace:
    """The unchecked kernels of backend ``name`` (``get_backend(name).raw``), for tests."""
    return get_backend(name).raw
