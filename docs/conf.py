"""Sphinx configuration of the fastreg reference manual.

Build (the ``docs`` extra installs what it needs; CI runs ``.ci/docs``)::

    pip install ".[docs]"
    python -m sphinx -W --keep-going -b html docs build/docs/html

The API pages document the *installed* ``fastreg`` (autodoc imports it), so build from an
environment where the package, compiled or not, is installed.
"""

import os
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ext"))

import fastreg

project = "fastreg"
author = "the fastreg authors"
copyright = "the fastreg authors"
version = release = fastreg.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",  # the Markdown pages: docs/ARCHITECTURE.md, the README's Speed section
    "fastreg_docstrings",  # the house docstring style -> numpydoc sections (docs/_ext)
    "fastreg_argparse",  # the CLI reference, rendered from fastreg.cli.build_parser()
    "fastreg_public",  # every public name documented; its aliases link to its entry
]

# The modules whose __all__ is the public API (docs/_ext/fastreg_public.py checks each name).
fastreg_public_modules = ["fastreg", "fastreg.datasets", "fastreg.exceptions", "fastreg.cli"]

# Nitpicky (-n, as CI builds): a reference to a public fastreg name that does not resolve is an
# error. Not checked: names outside fastreg (NumPy's, the standard library's: no intersphinx,
# the build needs no network) and the private modules (fastreg._training, ...), which the
# docstrings name for readers of the source and this manual does not document.
nitpick_ignore_regex = [
    (r"py:.*", r"(?!fastreg\b)[\w.]+"),
    (r"py:.*", r"fastreg(\.\w+)*\._\w+(\.\w+)*"),
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "ARCHITECTURE.md", "THREADS.md"]  # included by guide/
templates_path = []

# autodoc: document what the package exports, in source order, with the signatures it has.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "class"

# numpydoc: the sections of our docstrings, no autosummary tables of members (the API pages
# list the members they document), no docstring validation (that is a linter's job).
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# numpydoc also reads each class docstring for a signature, before the docstring extension
# has fitted "Parameters (checked at fit time by ...)" to its underline: that read only warns.
warnings.filterwarnings(
    "ignore", message="potentially wrong underline length", category=UserWarning, module="numpydoc"
)

myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"fastreg {release}"
html_static_path = []
html_theme_options = {
    "description": "Logistic and softmax regression by mini-batch gradient descent",
    "fixed_sidebar": False,
}
html_show_sourcelink = False

# The formulas render with MathJax (loaded by the browser; the build itself needs no network).
