"""fastreg: logistic and softmax regression by mini-batch gradient descent.

Typed Cython kernels do the arithmetic; a pure-NumPy twin of every kernel is the readable
specification and the fallback. ``get_backend`` is the one switch between them.
"""
import importlib

from ._backend import available_backends, get_backend
from .objective import loss_and_grad, numerical_gradient

from ._version import __version__  # noqa: F401  (written once, in _version.py)

# The estimators import scikit-learn's base classes when it is installed (about a second):
# load them on first use, so that `import fastreg` for the kernels alone stays quick.
_LAZY = {
    "LogisticRegression": ".estimators",
    "SoftmaxRegression": ".estimators",
    "TrainingDivergedError": ".estimators",
    "load": "._io",
}

__all__ = [
    "LogisticRegression",
    "SoftmaxRegression",
    "TrainingDivergedError",
    "load",
    "available_backends",
    "get_backend",
    "loss_and_grad",
    "numerical_gradient",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fastreg' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
