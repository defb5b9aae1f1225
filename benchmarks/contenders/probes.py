"""``machine`` and ``floor``: not contenders, the probes of ``benchmarks/_machine.py``.

``machine`` measures streaming read bandwidth and sgemm/dgemm rates (with ``--threads`` threads
and with one) and names the machine; ``floor`` measures the epoch lower bound of one MNIST
configuration on its own X: the time to read it once, and the GEMM rate of its dtype.
"""

from ._common import load_task, machine_module

NAMES = ("machine", "floor")


def work_machine(args):
    _machine = machine_module()
    info = _machine.describe()
    rates = _machine.probe(args.threads, n_bytes=args.probe_mb << 20)
    return {
        "info": info,
        "line": _machine.machine_line(info),
        "bandwidth": {str(k): v for k, v in rates["bandwidth"].items()},
        "gemm": {dt: {str(k): v for k, v in r.items()} for dt, r in rates["gemm"].items()},
    }


def work_floor(args):
    """The epoch lower bound of this configuration: read time of its own X, and GEMM rate."""
    _machine = machine_module()
    X, _, _, _, K = load_task(args.task, args.dtype, args.rows, args.download)
    counts = sorted({1, args.threads})
    return {
        "n_train": X.shape[0],
        "n_features": X.shape[1],
        "n_outputs": K,
        "bytes": X.nbytes,
        "read_s": {str(t): _machine.read_time(X, t) for t in counts},
        "gemm": {str(t): r for t, r in _machine.gemm_rates(X.dtype, counts).items()},
    }
