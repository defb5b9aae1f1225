"""fastreg: logistic and softmax regression by mini-batch gradient descent.

Typed Cython kernels do the arithmetic; a pure-NumPy twin of every kernel is the readable
specification and the fallback. ``get_backend`` is the one switch between them.

Layers (data flows one way): ``fastreg.cli`` -> ``fastreg.linear_model`` (the estimators) ->
``fastreg._training`` (split, schedule, epoch loop) -> ``fastreg._kernels`` (the switch and
the kernels). ``fastreg._validation`` checks every input once; ``fastreg.exceptions`` holds the
public exceptions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_names
from ._version import __version__  # noqa: F401  (written once, in _version.py)
from .exceptions import (
    InvalidParameterError,
    ModelFileError,
    NotFittedError,
    TrainingDivergedError,
)

if TYPE_CHECKING:  # imported on first use at run time (__getattr__); typed for checkers
    from ._kernels import available_backends, get_backend
    from .linear_model import LogisticRegression, SoftmaxRegression, load
    from .objective import loss_and_grad, numerical_gradient

# Loaded on first use: the estimators import scikit-learn's base classes when it is installed
# (about a second), the kernels NumPy; `import fastreg.cli` for `fastreg --version` needs
# neither.
_LAZY = {
    "LogisticRegression": ".linear_model",
    "SoftmaxRegression": ".linear_model",
    "load": ".linear_model",
    "available_backends": "._kernels",
    "get_backend": "._kernels",
    "loss_and_grad": ".objective",
    "numerical_gradient": ".objective",
}

__all__ = [
    "InvalidParameterError",
    "LogisticRegression",
    "ModelFileError",
    "NotFittedError",
    "SoftmaxRegression",
    "TrainingDivergedError",
    "available_backends",
    "get_backend",
    "load",
    "loss_and_grad",
    "numerical_gradient",
]


__getattr__, __dir__ = lazy_names(globals(), _LAZY, __all__)
