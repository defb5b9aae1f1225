"""fastreg is a typed package (PEP 561): the py.typed marker is installed with it.

Type checkers use a package's inline annotations only when the installed package carries
``py.typed``; it ships through ``[tool.setuptools.package-data]`` in pyproject.toml, so a
wheel built without it fails here (CI runs this against the installed wheel).
"""

from importlib.resources import files

import fastreg


def test_py_typed_marker_is_installed():
    marker = files("fastreg").joinpath("py.typed")
    assert marker.is_file(), f"py.typed is missing from the installed fastreg ({fastreg.__file__})"
    # PEP 561: an empty marker (or "partial\n") marks a complete, inline-typed package
    assert marker.read_text(encoding="utf-8").strip() == ""
