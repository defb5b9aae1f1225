"""Names of a package imported from their modules on first use (PEP 562), so that importing
the package costs only what is used: ``fastreg`` (the estimators import scikit-learn) and
``fastreg.datasets`` (the downloader imports an HTTP client)."""

import importlib


def lazy_names(package, where, names):
    """``(__getattr__, __dir__)`` for the package module ``package`` (its ``globals()``):
    ``where`` maps each lazy name to its module, relative to the package; ``names`` is the
    package's ``__all__``. A name, once imported, is kept in ``package`` (no second lookup)."""

    def __getattr__(name):
        if name in where:
            value = getattr(importlib.import_module(where[name], package["__name__"]), name)
            package[name] = value
            return value
        raise AttributeError(f"module {package['__name__']!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(package) | set(names))

    return __getattr__, __dir__
