"""Every example script is listed in examples/README.md and shown in the docs; cheap checks only.

The examples themselves run in CI (``.ci/examples``, on small data), not here. These tests read
files beside ``tests/`` (as tests/benchmarks/ reads ``benchmarks/``): the CI run copies
``examples/`` and ``docs/`` next to its copy of ``tests/``.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DOCS = ROOT / "docs"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))

# The six the project promises (issue: binary 2 vs 3, ten digits with early stopping, a lambda
# sweep, sparse text, out-of-core, Dask); more may be added.
PROMISED = {
    "binary_2v3.py",
    "digits_early_stopping.py",
    "l2_sweep.py",
    "sparse_text.py",
    "out_of_core.py",
    "dask_cluster.py",
}


def test_the_promised_examples_exist():
    assert EXAMPLES.is_dir(), (
        f"{EXAMPLES} is missing: the examples live beside tests/ (CI must "
        "copy examples/ and docs/ next to its copy of tests/)"
    )
    assert PROMISED <= set(SCRIPTS), f"missing examples: {sorted(PROMISED - set(SCRIPTS))}"


def test_examples_readme_lists_every_example_and_nothing_else():
    text = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^- `([\w.-]+\.py)`", text, re.M))
    assert listed == set(SCRIPTS), (
        f"not in examples/README.md: {sorted(set(SCRIPTS) - listed)}; "
        f"listed but absent: {sorted(listed - set(SCRIPTS))}"
    )


def _included_in_docs():
    """The example files that some docs page pulls in with ``literalinclude``."""
    found = set()
    for page in DOCS.rglob("*.rst"):
        for target in re.findall(
            r"^\s*\.\.\s+literalinclude::\s*(\S+)", page.read_text(encoding="utf-8"), re.M
        ):
            path = (page.parent / target).resolve()
            if path.parent == EXAMPLES.resolve():
                found.add(path.name)
    return found


def test_docs_include_every_example():
    assert DOCS.is_dir(), f"{DOCS} is missing (CI must copy docs/ beside its copy of tests/)"
    missing = sorted(set(SCRIPTS) - _included_in_docs())
    assert not missing, f"no docs page literalincludes {missing} (docs/examples.rst)"


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_documents_itself_and_has_a_small_mode(name):
    source = (EXAMPLES / name).read_text(encoding="utf-8")
    tree = ast.parse(source, filename=name)
    doc = ast.get_docstring(tree)
    assert doc, f"{name} has no module docstring saying what it shows"
    assert "Expected output" in doc, f"{name}'s docstring does not show its expected output"
    assert "FASTREG_EXAMPLE_SMALL" in doc and 'os.environ.get("FASTREG_EXAMPLE_SMALL"' in source, (
        f"{name} does not honour (and document) FASTREG_EXAMPLE_SMALL=1"
    )
    assert 'if __name__ == "__main__":' in source, f"{name} runs on import: guard its body"
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "benchmarks" not in imported, f"{name} imports from benchmarks/, which is not installed"
