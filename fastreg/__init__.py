"""fastreg: logistic and softmax regression by mini-batch gradient descent.

Typed Cython kernels do the arithmetic; a pure-NumPy twin of every kernel is the readable
specification and the fallback. ``get_backend`` is the one switch between them.
"""
from ._backend import available_backends, get_backend
from .objective import loss_and_grad, numerical_gradient
from .estimators import LogisticRegression, SoftmaxRegression
from ._io import load

__version__ = "0.1.0"

__all__ = [
    "LogisticRegression",
    "SoftmaxRegression",
    "load",
    "available_backends",
    "get_backend",
    "loss_and_grad",
    "numerical_gradient",
]
