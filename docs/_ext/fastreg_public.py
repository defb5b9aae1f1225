"""The public names: each has an entry in the API reference, and each of its names links there.

Coverage: the public names are the ``__all__`` of each module in the
``fastreg_public_modules`` setting (conf.py). A name counts as documented when some Python
object documented anywhere in the manual (``autofunction``, ``autoclass``, ``py:data``, ...) is
that very object, under any name: ``fastreg.InvalidParameterError`` is documented by the entry
of ``fastreg.exceptions.InvalidParameterError``. A missing entry is a Sphinx warning, so a
build with ``-W`` (CI's) fails.

Aliases: a docstring may name a public object by any of its public names,
``fastreg.TrainingDivergedError`` or, inside :mod:`fastreg.datasets`, a bare ``DatasetError``;
such a reference resolves to the one entry of that object
(``fastreg.exceptions.TrainingDivergedError``).
"""

import importlib

from sphinx.util import logging

logger = logging.getLogger(__name__)
_MISSING = object()


def _resolve(dotted):
    """The object named ``dotted`` (module, then attributes), or _MISSING."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, _MISSING)
            if obj is _MISSING:
                return _MISSING
        return obj
    return _MISSING


def _check(app, env):
    documented = set(env.get_domain("py").objects)
    ids = {id(_resolve(name)) for name in documented}
    for module_name in app.config.fastreg_public_modules:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            full = f"{module_name}.{name}"
            if full in documented:
                continue
            obj = getattr(module, name)
            if id(obj) in ids and not isinstance(obj, (int, float, str, bool)):
                continue
            logger.warning(
                f"public name {full} has no entry in the API reference (docs/api/)",
                type="fastreg",
                subtype="coverage",
            )


def _aliases(app, env):
    """{public name, module-qualified or bare: the documented name of that object}."""
    cached = getattr(env, "_fastreg_aliases", None)
    if cached is not None:
        return cached
    by_id = {}
    for name in env.get_domain("py").objects:
        obj = _resolve(name)
        if obj is not _MISSING and not isinstance(obj, (int, float, str, bool)):
            by_id.setdefault(id(obj), name)
    aliases = {}
    for module_name in app.config.fastreg_public_modules:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            documented = by_id.get(id(getattr(module, name)))
            if documented:
                aliases.setdefault(f"{module_name}.{name}", documented)
                aliases.setdefault(name, documented)
    env._fastreg_aliases = aliases
    return aliases


def _missing_reference(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = _aliases(app, env).get(node["reftarget"])
    if target is None or target == node["reftarget"]:
        return None
    return env.get_domain("py").resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], target, node, contnode
    )


def setup(app):
    app.add_config_value("fastreg_public_modules", [], "env")
    app.connect("env-check-consistency", _check)
    app.connect("missing-reference", _missing_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
