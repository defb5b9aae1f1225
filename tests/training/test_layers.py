"""The layers stay clean: no module imports the package root, no import cycles.

Read from the source with ``ast`` (no module is imported), over every module of fastreg.
Every import statement counts, those inside functions too: a late import hides a cycle (as
``_io.py`` and ``estimators.py`` once imported each other) but does not remove it.
"""

import ast
import pathlib

import pytest

import fastreg

ROOT = pathlib.Path(fastreg.__file__).parent


def modules():
    """{dotted name: path} of every module of the package."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = modules()


def _package(name, path):
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports(name, path):
    """[(target module, imported names)] of module ``name``, relative imports resolved.

    Imports under ``if TYPE_CHECKING:`` are left out: they name types for the type checker
    and never run, so they load nothing and can make no cycle."""
    tree = ast.parse(path.read_text(), filename=str(path))
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if _is_type_checking_block(block)
        for stmt in block.body
        for n in ast.walk(stmt)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package(name, path).split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.append((target, tuple(alias.name for alias in node.names)))
    return found


def _is_type_checking_block(node):
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def test_type_checking_imports_are_left_out(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "from typing import TYPE_CHECKING\nimport os\nif TYPE_CHECKING:\n    from .a import B\n"
    )
    assert imports("fastreg.m", path) == [("typing", ("TYPE_CHECKING",)), ("os", ())]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_the_package_root(name):
    """``from . import __version__`` and the like: use ``from ._version import __version__``
    (the root imports everything below it, so importing it from below makes a cycle)."""
    for target, names in imports(name, MODULES[name]):
        if target != "fastreg":
            continue
        not_modules = [n for n in names if f"fastreg.{n}" not in MODULES]
        assert names and not not_modules, (
            f"{name} imports {not_modules or 'the package'} from the package root fastreg"
        )


def graph():
    edges = {}
    for name, path in MODULES.items():
        deps = set()
        for target, names in imports(name, path):
            if not target or not target.startswith("fastreg"):
                continue
            parts = target.split(".")
            # a module import loads each package on its way (the root is always loaded first)
            deps |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)}
            deps |= {f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES}
        # a module's own packages are loaded before it: importing from them is no cycle
        ancestors = {name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)}
        edges[name] = sorted(d for d in deps if d in MODULES and d != name and d not in ancestors)
    return edges


def test_graph_sees_the_known_edges():
    edges = graph()
    assert "fastreg._training.fit" in edges["fastreg.linear_model"]
    assert "fastreg._validation" in edges["fastreg._kernels._check_args"]
    assert "fastreg._training.split" in edges["fastreg.datasets._prepare"]


def find_cycle(edges):
    """One import cycle of the graph ``edges`` as a list of modules, or None."""
    state, path = {}, []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for dep in edges.get(node, ()):
            if state.get(dep) == "open":
                return path[path.index(dep) :] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": []}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None


def test_no_import_cycles():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_persistence_imports_no_estimator():
    targets = [t for t, _ in imports("fastreg._persistence", MODULES["fastreg._persistence"])]
    assert not any(t.startswith("fastreg.linear_model") for t in targets)


#: The dialect layer (docs/ARCHITECTURE.md): checks every layer above may use; they import
#: nothing of fastreg but each other.
DIALECT = {
    "fastreg._parameters",
    "fastreg._lazy",
    "fastreg._validation",
    "fastreg.exceptions",
    "fastreg._version",
    "fastreg._litter",
    "fastreg._sparse_input",
    "fastreg._sample_weight",
    "fastreg._feature_names",
    "fastreg._targets",
}


@pytest.mark.parametrize("name", sorted(DIALECT))
def test_the_dialect_imports_only_the_dialect(name):
    above = [d for d in graph()[name] if d not in DIALECT and d != "fastreg"]
    assert not above, f"{name} (dialect layer) imports {above}"


def test_the_estimators_helpers_are_not_imported_from_below():
    """_prediction, _estimator_base and _params_doc serve the estimators only: linear_model,
    and the meta-estimator of fastreg.dask (which takes its base classes)."""
    helpers = {"fastreg._prediction", "fastreg._estimator_base", "fastreg._params_doc"}
    estimators = {"fastreg.linear_model", "fastreg.dask._data_parallel"}
    for name, deps in graph().items():
        if name not in estimators and name not in helpers:
            assert not helpers & set(deps), f"{name} imports {helpers & set(deps)}"
