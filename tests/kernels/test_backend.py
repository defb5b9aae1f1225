"""The backend switch: the twins table, selection by name and environment, fallback, CI guard."""

import importlib
import inspect
import os
import subprocess
import sys
import types

import pytest

import fastreg
from fastreg import _kernels
from fastreg._kernels import _checks
from fastreg.exceptions import BackendUnavailableError, InvalidParameterError


def test_compiled_extension_present_when_required():
    """CI sets FASTREG_REQUIRE_CYTHON=1: a missing extension must fail the run, not fall back."""
    if os.environ.get("FASTREG_REQUIRE_CYTHON", "") != "1":
        # Outside CI the check still runs: the answer must at least be consistent.
        assert ("cython" in fastreg.available_backends()) == _cython_imports()
        return
    assert "cython" in fastreg.available_backends(), (
        "FASTREG_REQUIRE_CYTHON=1 but the compiled extension did not load: build it with "
        "`pip install -e .`"
    )
    assert fastreg.get_backend("cython").name == "cython"


def _cython_imports():
    try:
        for module in _kernels.TWINS:
            importlib.import_module(f"fastreg._kernels.{module}")
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- the twins table
def public_functions(module):
    """The public functions a kernel module defines: callables not starting with "_" (classes
    and imported modules excluded)."""
    return {
        name: obj
        for name, obj in vars(module).items()
        if not name.startswith("_") and callable(obj) and not isinstance(obj, type)
    }


def twin_mismatches(compiled, twin):
    """What breaks the pairing of two kernel modules: a function without its twin, or a pair
    whose signatures (parameter names, kinds, defaults) differ."""
    a, b = public_functions(compiled), public_functions(twin)
    problems = [f"{name}: no twin in {twin.__name__}" for name in sorted(a.keys() - b.keys())]
    problems += [f"{name}: no twin in {compiled.__name__}" for name in sorted(b.keys() - a.keys())]
    for name in sorted(a.keys() & b.keys()):
        sa, sb = inspect.signature(a[name]), inspect.signature(b[name])
        if sa != sb:
            problems.append(f"{name}: {sa} != {sb}")
    return problems


def test_twins_table_names_every_kernel_once():
    assert _kernels.BACKEND_NAMES == ("auto", "cython", "numpy")
    assert set(_kernels.TWINS) == set(_kernels.KERNELS)
    assert all(twin == f"{compiled}_numpy" for compiled, twin in _kernels.TWINS.items())
    assert len(set(_kernels.KERNEL_NAMES)) == len(_kernels.KERNEL_NAMES)


@pytest.mark.parametrize("compiled", sorted(_kernels.TWINS))
def test_numpy_twin_defines_exactly_the_listed_kernels(compiled):
    twin = importlib.import_module(f"fastreg._kernels.{_kernels.TWINS[compiled]}")
    assert sorted(public_functions(twin)) == sorted(_kernels.KERNELS[compiled])


@pytest.mark.requires_cython
@pytest.mark.parametrize("compiled", sorted(_kernels.TWINS))
def test_every_compiled_function_has_a_twin_with_its_signature(compiled):
    module = importlib.import_module(f"fastreg._kernels.{compiled}")
    twin = importlib.import_module(f"fastreg._kernels.{_kernels.TWINS[compiled]}")
    assert twin_mismatches(module, twin) == []
    assert sorted(public_functions(module)) == sorted(_kernels.KERNELS[compiled])


def test_twin_check_finds_a_missing_twin_and_a_changed_signature():
    """The comparison above is not vacuous: it reports both kinds of drift."""

    def forward(X, coef, intercept, input_scale=1.0, out=None):
        pass

    def forward_other_default(X, coef, intercept, input_scale=2.0, out=None):
        pass

    compiled = types.ModuleType("compiled")
    compiled.linear_forward, compiled.extra = forward, forward
    twin = types.ModuleType("twin")
    twin.linear_forward = forward_other_default
    problems = twin_mismatches(compiled, twin)
    assert len(problems) == 2
    assert problems[0].startswith("extra: no twin")
    assert "input_scale=2.0" in problems[1]


@pytest.mark.parametrize("kernel", _kernels.KERNEL_NAMES)
def test_each_check_has_its_kernels_signature(kernel):
    """get_backend calls kernel(*check(*args, **kwargs)): the check takes what the kernel takes."""
    twin = next(
        importlib.import_module(f"fastreg._kernels.{_kernels.TWINS[m]}")
        for m, names in _kernels.KERNELS.items()
        if kernel in names
    )
    assert inspect.signature(getattr(_checks, kernel)) == inspect.signature(getattr(twin, kernel))


def test_every_backend_has_every_kernel_checked_and_raw():
    for name in fastreg.available_backends():
        kernels = fastreg.get_backend(name)
        assert kernels.name == kernels.raw.name == name
        assert _kernels.raw_backend(name) is kernels.raw
        for kernel in _kernels.KERNEL_NAMES:
            checked, raw = getattr(kernels, kernel), getattr(kernels.raw, kernel)
            assert checked is not raw and checked.__wrapped__ is raw, (name, kernel)
            assert inspect.signature(checked) == inspect.signature(raw)


# --------------------------------------------------------------------------- selection
def test_numpy_always_available():
    assert "numpy" in fastreg.available_backends()
    assert fastreg.get_backend("numpy").name == "numpy"


@pytest.mark.parametrize("bad", ["fortran", "", "CUDA", 3])
def test_unknown_backend_name_is_rejected(bad):
    expected = r"unknown backend.*auto.*cython.*numpy"
    with pytest.raises(InvalidParameterError, match=expected) as err:
        fastreg.get_backend(bad)
    assert err.value.param == "backend"
    with pytest.raises(ValueError, match="unknown backend"):
        _kernels.resolve_backend(bad)


def test_environment_variable_selects_backend(monkeypatch):
    monkeypatch.setenv("FASTREG_BACKEND", "numpy")
    assert fastreg.get_backend().name == "numpy"
    monkeypatch.setenv("FASTREG_BACKEND", "NumPy")
    assert fastreg.get_backend(None).name == "numpy"
    monkeypatch.setenv("FASTREG_BACKEND", "bogus")
    with pytest.raises(ValueError, match="FASTREG_BACKEND='bogus'"):
        fastreg.get_backend()


def test_auto_and_none_mean_the_same_thing(monkeypatch):
    """ "auto" reads FASTREG_BACKEND exactly as None does (one meaning everywhere)."""
    monkeypatch.setenv("FASTREG_BACKEND", "numpy")
    assert fastreg.get_backend("auto").name == fastreg.get_backend(None).name == "numpy"
    assert _kernels.resolve_backend("auto") == _kernels.resolve_backend(None) == "numpy"
    monkeypatch.setenv("FASTREG_BACKEND", "auto")
    assert fastreg.get_backend("auto") is fastreg.get_backend(None)


def test_explicit_name_beats_environment(monkeypatch):
    monkeypatch.setenv("FASTREG_BACKEND", "cython")
    assert fastreg.get_backend("numpy").name == "numpy"


def test_auto_prefers_cython_when_built(monkeypatch):
    monkeypatch.delenv("FASTREG_BACKEND", raising=False)
    expected = "cython" if "cython" in fastreg.available_backends() else "numpy"
    assert fastreg.get_backend("auto").name == expected
    assert _kernels.resolve_backend() == expected


def test_backend_namespace_passes_through():
    kernels = fastreg.get_backend("numpy")
    assert fastreg.get_backend(kernels) is kernels


def test_missing_extension_falls_back_with_one_warning_and_explicit_request_raises():
    """Simulate a machine without the compiled extension, in a child interpreter."""
    code = """
import sys, warnings
sys.modules['fastreg._kernels._loss'] = None   # makes importing the compiled module fail
import fastreg
from fastreg.exceptions import BackendUnavailableError
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    first = fastreg.get_backend('auto').name
    second = fastreg.get_backend(None).name
assert first == second == 'numpy', (first, second)
messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
assert len(messages) == 1, messages
assert 'pip install' in messages[0]
assert fastreg.available_backends() == ['numpy']
try:
    fastreg.get_backend('cython')
except BackendUnavailableError as exc:
    assert isinstance(exc, ImportError) and exc.param == 'backend'
    assert 'pip install' in str(exc) and "backend='numpy'" in str(exc), str(exc)
else:
    raise AssertionError('asking for cython without the extension must raise')
print('ok')
"""
    env = dict(os.environ)
    env.pop("FASTREG_BACKEND", None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_environment_asking_for_a_missing_backend_raises():
    """FASTREG_BACKEND=cython on a machine without the extension: an error, not a fallback."""
    code = """
import sys
sys.modules['fastreg._kernels._linear'] = None
import fastreg
from fastreg.exceptions import BackendUnavailableError
try:
    fastreg.get_backend()
except BackendUnavailableError as exc:
    print('raised')
"""
    env = dict(os.environ, FASTREG_BACKEND="cython")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "raised"


def test_incomplete_backend_module_is_reported():
    linear = types.SimpleNamespace(linear_forward=lambda: None, __name__="fake_linear")
    loss = types.SimpleNamespace(__name__="fake_loss")
    with pytest.raises(ImportError, match="lacks the kernel 'epoch'"):
        _kernels._assemble("broken", [linear, loss])


def test_backend_unavailable_is_an_import_error():
    assert issubclass(BackendUnavailableError, ImportError)


def test_compiled_size_limit_is_checked_for_the_compiled_kernels_only(monkeypatch):
    """The compiled micro-kernels index features with C ints: larger d is refused there (as if
    the limit were 4 features here), while the NumPy backend has no such limit."""
    import numpy as np

    huge = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(1, 2**31), strides=(0, 0))
    with pytest.raises(ValueError, match=r"beyond the compiled kernels.*backend='numpy'"):
        _checks.check_c_int_range(huge)
    monkeypatch.setattr(_checks, "_C_INT_MAX_D", 4)
    X, coef, b = np.ones((2, 5)), np.ones((1, 5)), np.zeros(1)
    assert fastreg.get_backend("numpy").linear_forward(X, coef, b).shape == (2, 1)
    if "cython" in fastreg.available_backends():
        cython = fastreg.get_backend("cython")
        with pytest.raises(ValueError, match="5 features x 1 classes"):
            cython.linear_forward(X, coef, b)
        with pytest.raises(ValueError, match="5 features x 1 classes"):
            cython.epoch(X, np.zeros(2, np.intc), coef, b, np.arange(2), 1, np.ones(2), 0.0)
        cython.loss_grad(X, np.zeros(2, np.intc), coef, b, 0.0)  # Py_ssize_t loops: no limit
