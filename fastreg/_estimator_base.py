"""The estimators' base classes: scikit-learn's when it is installed, a small twin otherwise.

With scikit-learn installed the estimators derive from its ``ClassifierMixin`` and
``BaseEstimator`` and raise a ``NotFittedError`` that is both its and fastreg's; without it
(scikit-learn is optional: the ``test`` extra) :class:`_ParamsBase` provides the parameter
protocol (``get_params``, ``set_params``, ``repr``) and fastreg's own ``NotFittedError``.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from .exceptions import NotFittedError as _NotFittedError

try:  # scikit-learn is an optional dependency (the ``test`` extra), never required
    from sklearn.base import BaseEstimator as _SkBaseEstimator
    from sklearn.base import ClassifierMixin as _SkClassifierMixin
    from sklearn.exceptions import NotFittedError as _SkNotFittedError
except ImportError:  # pragma: no cover - exercised by a subprocess test without sklearn
    _SkBaseEstimator = None

__all__ = ["BASES", "HAVE_SKLEARN", "NotFittedError"]

HAVE_SKLEARN = _SkBaseEstimator is not None

if TYPE_CHECKING:
    from typing_extensions import Self

if HAVE_SKLEARN:

    class NotFittedError(_NotFittedError, _SkNotFittedError):
        """Used before ``fit``: both fastreg's and scikit-learn's ``NotFittedError``."""

    BASES: tuple[type, ...] = (_SkClassifierMixin, _SkBaseEstimator)
else:  # pragma: no cover - see tests/estimators/test_sklearn_compat.py::test_works_without_sklearn
    NotFittedError = _NotFittedError  # type: ignore[misc, assignment]  # the other branch's

    class _ParamsBase:
        """The scikit-learn parameter protocol, for when scikit-learn is not installed."""

        @classmethod
        def _get_param_names(cls) -> list[str]:
            sig = inspect.signature(cls.__init__)
            return sorted(
                p.name
                for p in sig.parameters.values()
                if p.name != "self" and p.kind == p.KEYWORD_ONLY
            )

        def get_params(self, deep: bool = True) -> dict[str, Any]:
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params: Any) -> Self:
            valid = self._get_param_names()
            for name, value in params.items():
                if name not in valid:
                    raise ValueError(
                        f"Invalid parameter {name!r} for estimator "
                        f"{type(self).__name__}. Valid parameters are: {valid!r}."
                    )
                setattr(self, name, value)
            return self

        def __repr__(self) -> str:
            sig = inspect.signature(type(self).__init__)
            changed = [
                f"{n}={v!r}"
                for n, v in self.get_params().items()
                if not (
                    v is sig.parameters[n].default
                    or (
                        type(v) is type(sig.parameters[n].default)
                        and v == sig.parameters[n].default
                    )
                )
            ]
            return f"{type(self).__name__}({', '.join(changed)})"

    BASES = (_ParamsBase,)
