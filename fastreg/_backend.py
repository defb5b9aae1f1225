"""THE backend switch: the one place that decides which kernels run.

Two backends provide the same functions with the same signatures and meaning:

``"cython"``  the compiled kernels (``fastreg._kernels`` and ``fastreg._epoch``, built from
              ``src_pyx/``), typed, running without the GIL.
``"numpy"``   ``fastreg._numpy_kernels``: the readable specification and the test oracle.

``name`` (or the ``FASTREG_BACKEND`` environment variable when ``name`` is None) is one of
``"cython"``, ``"numpy"`` or ``"auto"``. ``"auto"`` prefers Cython and falls back to NumPy with
one warning when the extension is not built; asking for ``"cython"`` explicitly then raises an
ImportError that says how to build it.
"""
import os
import types
import warnings

BACKEND_NAMES = ("cython", "numpy")
_ENV_VAR = "FASTREG_BACKEND"

#: The functions every backend provides (see fastreg/_numpy_kernels.py for their meaning).
KERNEL_NAMES = (
    "linear_forward",
    "linear_forward_binary",
    "sigmoid",
    "softmax",
    "binary_cross_entropy",
    "multinomial_cross_entropy",
    "binary_loss_grad",
    "multinomial_loss_grad",
    "binary_sgd_step",
    "multinomial_sgd_step",
    "binary_epoch",
    "multinomial_epoch",
)

_BUILD_HINT = (
    "The compiled extension of fastreg is not built. Build it with `pip install .` "
    "(or `pip install -e .` in a checkout; a C compiler, Cython>=3 and NumPy>=2 are needed), "
    "or choose the pure-NumPy backend with backend='numpy' / FASTREG_BACKEND=numpy."
)

_cache = {}
_warned_fallback = False


def _load_numpy():
    from . import _numpy_kernels as mod

    return _as_backend("numpy", [mod])


def _load_cython():
    from . import _epoch, _kernels  # noqa: F401  (ImportError when not built)

    return _as_backend("cython", [_kernels, _epoch])


def _as_backend(name, modules):
    funcs = {}
    for kernel in KERNEL_NAMES:
        for mod in modules:
            if hasattr(mod, kernel):
                funcs[kernel] = getattr(mod, kernel)
                break
        else:
            raise ImportError(f"backend {name!r} lacks the kernel {kernel!r}")
    return types.SimpleNamespace(name=name, **funcs)


def _load(name):
    if name not in _cache:
        loader = _load_cython if name == "cython" else _load_numpy
        try:
            _cache[name] = loader()
        except ImportError as exc:
            _cache[name] = exc
    result = _cache[name]
    if isinstance(result, ImportError):
        raise result
    return result


def available_backends():
    """Names of the backends that load on this machine, preferred first."""
    names = []
    for name in BACKEND_NAMES:
        try:
            _load(name)
        except ImportError:
            continue
        names.append(name)
    return names


def resolve_backend_name(name=None):
    """Normalise ``name`` (None reads FASTREG_BACKEND, default "auto"); raise ValueError if unknown."""
    if name is None:
        name = os.environ.get(_ENV_VAR, "").strip() or "auto"
    if not isinstance(name, str) or name.lower() not in BACKEND_NAMES + ("auto",):
        source = f"{_ENV_VAR}={name!r}" if name is not None else repr(name)
        raise ValueError(
            f"unknown backend {source}: choose one of 'auto', 'cython', 'numpy'"
        )
    return name.lower()


def get_backend(name=None):
    """Return the kernels of the backend ``name`` as a namespace with ``.name`` and the functions.

    Parameters
    ----------
    name : {"auto", "cython", "numpy"} or None
        None reads the ``FASTREG_BACKEND`` environment variable (default ``"auto"``).
        A backend namespace returned earlier may also be passed and is returned as is.
    """
    global _warned_fallback
    if isinstance(name, types.SimpleNamespace):
        return name
    name = resolve_backend_name(name)
    if name == "numpy":
        return _load("numpy")
    if name == "cython":
        try:
            return _load("cython")
        except ImportError as exc:
            raise ImportError(f"{_BUILD_HINT} (import error: {exc})") from exc
    try:
        return _load("cython")
    except ImportError as exc:
        if not _warned_fallback:
            _warned_fallback = True
            warnings.warn(
                f"fastreg falls back to its NumPy backend: {_BUILD_HINT} (import error: {exc})",
                RuntimeWarning,
                stacklevel=2,
            )
        return _load("numpy")
