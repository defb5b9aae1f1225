"""What this machine can do at best: streaming bandwidth, GEMM rate, and the epoch lower bound.

One epoch of mini-batch gradient descent on (N, d) data with K outputs must at least

* read every row of X once: ``N * d * itemsize`` bytes at the streaming read bandwidth, and
* do two matrix products per batch, the logits ``X_b W^T`` and the gradient ``G^T X_b``:
  ``2 * (2 * N * d * K)`` floating-point operations at the GEMM rate of the dtype,

so ``max(time to read X once, flops / gemm rate)`` is a floor no implementation can beat (the
softmax, the loss and the update are O(N K + K d) and ignored; GEMM on square matrices is faster
than any product with K = 10 columns can be, so the bound stays a lower bound). Everything is
measured with NumPy as the best of a few runs: reading as ``np.maximum.reduce`` over the array
(NumPy's fastest reduction, 2-4x faster than its pairwise sum, which is compute-bound even on
data in cache; one thread per chunk when several threads are asked for: NumPy releases the GIL
inside the reduction), GEMM as ``np.matmul`` of two 2048 x 2048 matrices through NumPy's BLAS.
The read time is best measured on X itself (:func:`read_time`): server CPUs have last-level
caches of up to hundreds of MB, and a data set that stays there between epochs reads faster than
DRAM streams (:func:`stream_bandwidth`, over a fresh 256 MB array, is the machine-level figure).

``describe()`` names the machine: CPU model and vector extensions from /proc/cpuinfo, logical
and physical cores, NumPy version and the BLAS libraries threadpoolctl sees (when installed).
"""

import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: vector extensions worth naming when reading a benchmark table
_SIMD_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "amx_tile",
    "asimd",
    "sve",
)


def epoch_bytes(n_samples, n_features, itemsize):
    """Bytes of X one epoch must read: every row once."""
    return n_samples * n_features * itemsize


def epoch_flops(n_samples, n_features, n_outputs):
    """Floating-point operations of one epoch's two products (logits and gradient)."""
    return 2 * 2 * n_samples * n_features * n_outputs


def epoch_lower_bound(read_seconds, n_samples, n_features, n_outputs, gemm_rate):
    """Seconds an epoch takes at least: ``max(read_seconds, flops / gemm_rate)``.

    ``read_seconds`` is the time to read X once (:func:`read_time`, or bytes / bandwidth),
    ``gemm_rate`` in flop per second (of the dtype).
    """
    return max(read_seconds, epoch_flops(n_samples, n_features, n_outputs) / gemm_rate)


def read_time(array, threads=1, repeats=5):
    """Best time in seconds to read the C-contiguous ``array`` once: its maximum.

    With ``threads > 1`` the flat array is cut into that many contiguous chunks summed at once
    on a thread pool (each reduction runs without the GIL). Timing the very data an epoch
    reads, at its own size, credits whatever part of it the caches keep between passes.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if not array.flags.c_contiguous:
        raise ValueError("read_time needs a C-contiguous array (it times one sequential pass)")
    chunks = np.array_split(array.reshape(-1), threads)
    best = float("inf")
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in range(repeats):
            t0 = time.perf_counter()
            list(pool.map(np.maximum.reduce, chunks))
            best = min(best, time.perf_counter() - t0)
    return best


def stream_bandwidth(n_bytes=256 << 20, threads=1, repeats=5):
    """Best streaming read bandwidth in bytes per second: the maximum of ``n_bytes`` of float32."""
    a = np.ones(max(n_bytes // 4, threads), dtype=np.float32)  # written once: pages mapped
    return a.nbytes / read_time(a, threads, repeats)


def gemm_rate(dtype=np.float32, n=2048, repeats=3):
    """Best rate in flop per second of an ``n x n`` by ``n x n`` matmul (2 n^3 flops)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    C = np.empty((n, n), dtype=dtype)
    np.matmul(A, B, out=C)  # warm-up: BLAS thread pool start, page faults of C
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(A, B, out=C)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best


def _blas_limits(threads):
    """A context that caps the BLAS threads at ``threads`` when threadpoolctl is installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def gemm_rates(dtype, thread_counts, n=2048):
    """``{threads: flop/s}`` of :func:`gemm_rate` for each count in ``thread_counts``.

    Without threadpoolctl the BLAS keeps the threads it started with (the caller sets
    OPENBLAS_NUM_THREADS / OMP_NUM_THREADS), so only the largest count is measured.
    """
    counts = sorted(set(thread_counts))
    if not _threadpoolctl_available():
        counts = counts[-1:]
    rates = {}
    for t in counts:
        with _blas_limits(t):
            rates[t] = gemm_rate(np.dtype(dtype), n=n)
    return rates


def probe(threads, n_bytes=256 << 20, gemm_n=2048):
    """Measure the machine with ``threads`` threads (and with one, when that differs).

    Returns a dict: ``bandwidth`` {threads: bytes/s}, ``gemm`` {dtype name: {threads: flop/s}}.
    """
    counts = sorted({1, threads})
    return {
        "bandwidth": {t: stream_bandwidth(n_bytes, threads=t) for t in counts},
        "gemm": {name: gemm_rates(name, counts, n=gemm_n) for name in ("float32", "float64")},
    }


def _threadpoolctl_available():
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return False
    return True


def _cpuinfo():
    try:
        with open("/proc/cpuinfo") as fh:
            text = fh.read()
    except OSError:
        return []
    blocks = []
    for block in text.strip().split("\n\n"):
        entry = {}
        for line in block.splitlines():
            key, _, value = line.partition(":")
            entry[key.strip()] = value.strip()
        blocks.append(entry)
    return blocks


def describe():
    """A dict naming the machine: cpu, simd, logical/physical cores, numpy, blas (a list)."""
    blocks = _cpuinfo()
    first = blocks[0] if blocks else {}
    model = first.get("model name") or first.get("Model") or platform.processor() or "unknown"
    flags = set((first.get("flags") or first.get("Features") or "").split())
    physical = {(b.get("physical id"), b.get("core id")) for b in blocks if "core id" in b}
    info = {
        "cpu": model,
        "mhz": first.get("cpu MHz", ""),
        "cache": first.get("cache size", ""),
        "simd": [f for f in _SIMD_FLAGS if f in flags],
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "physical_cores": len(physical) or None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": [],
    }
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        config = np.show_config(mode="dicts") if _accepts_mode() else {}
        blas = config.get("Build Dependencies", {}).get("blas", {})
        if blas:
            info["blas"].append(
                {
                    "name": blas.get("name", "?"),
                    "version": blas.get("version", "?"),
                    "threads": None,
                    "architecture": None,
                }
            )
        return info
    for lib in threadpool_info():
        if lib.get("user_api") != "blas":
            continue
        info["blas"].append(
            {
                "name": lib.get("internal_api"),
                "version": lib.get("version"),
                "threads": lib.get("num_threads"),
                "architecture": lib.get("architecture"),
            }
        )
    return info


def _accepts_mode():
    import inspect

    try:
        return "mode" in inspect.signature(np.show_config).parameters
    except (TypeError, ValueError):
        return False


def machine_line(info):
    """One line naming the machine, for a table caption."""
    cores = f"{info['logical_cpus']} logical CPUs"
    if info.get("physical_cores"):
        cores += f" ({info['physical_cores']} physical cores in /proc/cpuinfo)"
    simd = "/".join(info["simd"]) or "no SIMD flags read"
    blas = (
        ", ".join(
            f"{b['name']} {b['version']}"
            + (f" ({b['architecture']})" if b.get("architecture") else "")
            for b in info["blas"]
        )
        or "BLAS unknown"
    )
    mhz = f" @ {float(info['mhz']) / 1000:.2f} GHz" if info.get("mhz") else ""
    return (
        f"{info['cpu']}{mhz}, {simd}, {cores}; Python {info['python']}, "
        f"NumPy {info['numpy']} with {blas}"
    )
