"""Build the compiled kernels of fastreg (metadata lives in pyproject.toml).

Extensions: ``fastreg._kernels`` (forward, losses, gradients, one step) and
``fastreg._epoch`` (the fused training epoch), both from ``src_pyx/``.

Environment switches, all optional:

FASTREG_BOUNDSCHECK=1   turn Cython's bounds and wraparound checks back on (debugging).
FASTREG_NATIVE=1        compile with -march=native (wider vector units; the wheel is then not
                        portable). The default build runs on any x86-64 / aarch64 machine.
FASTREG_NO_OPENMP=1     do not try OpenMP even where the probe compile succeeds.
"""
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

EXTENSION_NAMES = ["_kernels", "_epoch"]


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
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    if result.returncode != 0:
        return [], []
    return ["-fopenmp"], ["-fopenmp"]


def extensions():
    omp_compile, omp_link = openmp_flags()
    compile_args = ["-O3"] + omp_compile
    if _flag("FASTREG_NATIVE"):
        compile_args.append("-march=native")
    exts = [
        Extension(
            f"fastreg.{name}",
            [f"src_pyx/{name}.pyx"],
            # C headers the .pyx includes: a change to one recompiles the extension
            depends=sorted(glob.glob(f"src_pyx/{name}_*.h")),
            include_dirs=[np.get_include(), "src_pyx"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=compile_args,
            extra_link_args=omp_link,
        )
        for name in EXTENSION_NAMES
        if os.path.exists(f"src_pyx/{name}.pyx")
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
    return cythonize(exts, compiler_directives=directives, include_path=["src_pyx"])


setup(ext_modules=extensions())
