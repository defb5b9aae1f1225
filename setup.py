"""Build the compiled kernels of fastreg (metadata lives in pyproject.toml, the version in
fastreg/_version.py).

Extensions, each the compiled twin of a NumPy module in fastreg/_kernels/ (see EXTENSIONS):
``fastreg._kernels._linear`` (the forward pass and the fused training epoch),
``fastreg._kernels._loss`` (sigmoid, softmax, cross-entropy and its gradient) and
``fastreg._kernels._sparse`` (the forward pass and the epoch on sparse CSR X). Their Cython
sources live in ``src_pyx/``; the generated C goes to ``build/``, never next to the sources.
A missing source is an error, not a quietly smaller build.

Environment switches, all optional:

FASTREG_BOUNDSCHECK=1   turn Cython's bounds and wraparound checks back on (debugging).
FASTREG_NATIVE=1        compile with -march=native (wider vector units; the wheel is then not
                        portable). The default build runs on any x86-64 / aarch64 machine.
FASTREG_NO_OPENMP=1     do not try OpenMP even where the probe compile succeeds.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

SRC = "src_pyx"

#: the C of the linear kernels (src_pyx/simd/, included by _linear.pyx through _simd_api.pxd)
SIMD_HEADERS = [
    f"{SRC}/simd/{name}"
    for name in (
        "dispatch.h",
        "isa_template.h",
        "kernels_template.h",
        "rows_template.h",
        "pack.h",
        "runtime.h",
    )
]

#: module name -> (Cython source, files it cimports or includes: a change recompiles it)
EXTENSIONS = {
    "fastreg._kernels._linear": (
        f"{SRC}/_linear.pyx",
        [
            f"{SRC}/_linear_forward.pxi",
            f"{SRC}/_thread_policy.pxd",
            f"{SRC}/_simd_api.pxd",
            f"{SRC}/_epoch_ctx.pxd",
            *SIMD_HEADERS,
        ],
    ),
    "fastreg._kernels._loss": (f"{SRC}/_loss.pyx", [f"{SRC}/_common.pxd"]),
    "fastreg._kernels._sparse": (
        f"{SRC}/_sparse.pyx",
        [
            f"{SRC}/_common.pxd",
            f"{SRC}/_sparse_runtime.pxd",
            f"{SRC}/simd/runtime.h",
            f"{SRC}/_sparse_rows.pxd",
            f"{SRC}/simd/sparse_rows.h",
        ],
    ),
}


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def openmp_flags():
    """Return the compile/link flag lists for OpenMP, or ([], []) when the compiler lacks it.

    OpenMP is never a hard requirement (POT's openmp_helpers does the same probe): a tiny
    program is compiled and linked with -fopenmp, and only if that succeeds is it used.
    """
    if _flag("FASTREG_NO_OPENMP") or sys.platform == "win32":
        return [], []
    compiler = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    compiler = compiler.split()[0]
    if shutil.which(compiler) is None:
        return [], []
    code = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as fh:
            fh.write(code)
        result = subprocess.run(
            [compiler, "-fopenmp", src, "-o", os.path.join(tmp, "probe")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    if result.returncode != 0:
        return [], []
    return ["-fopenmp"], ["-fopenmp"]


def _check_sources():
    """Every expected source is there, or the build stops naming what is missing."""
    missing = [
        path
        for source, depends in EXTENSIONS.values()
        for path in [source, *depends]
        if not os.path.exists(path)
    ]
    if missing:
        raise SystemExit(
            f"setup.py: missing source file(s) {', '.join(missing)}: every extension in "
            "setup.py's EXTENSIONS needs its .pyx and the headers it includes. Restore the "
            "file(s), or remove the extension from EXTENSIONS together with its NumPy twin."
        )


def extensions():
    _check_sources()
    omp_compile, omp_link = openmp_flags()
    compile_args = ["-O3"] + omp_compile
    if _flag("FASTREG_NATIVE"):
        compile_args.append("-march=native")
    exts = [
        Extension(
            name,
            [source],
            depends=depends,
            # the .pyx includes "simd/dispatch.h" etc. relative to src_pyx/
            include_dirs=[np.get_include(), SRC],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=compile_args,
            extra_link_args=omp_link,
        )
        for name, (source, depends) in EXTENSIONS.items()
    ]
    checks = _flag("FASTREG_BOUNDSCHECK")
    directives = {
        "language_level": 3,
        "boundscheck": checks,
        "wraparound": checks,
        "cdivision": True,
        "initializedcheck": False,
        "nonecheck": False,
    }
    return cythonize(exts, compiler_directives=directives, include_path=[SRC], build_dir="build")


setup(ext_modules=extensions())
