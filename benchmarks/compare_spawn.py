"""The parent side of ``benchmarks/compare.py``: one process per worker, and the machine's load.

:func:`spawn` runs ``compare.py --worker NAME ...`` with the BLAS thread variables set, reads
the one JSON line tagged ``RESULT_TAG`` it prints, and notes how many CPUs other processes kept
busy meanwhile (:class:`OtherLoad`, from /proc/stat); ``--retry-busy`` reruns a disturbed worker
and ``--wait-idle`` waits for a quiet machine first.
"""

import json
import os
import subprocess
import sys
import time

RESULT_TAG = "FASTREG_COMPARE_RESULT "
BUSY_CPUS = 0.1  # other processes' CPU use above which a run counts as disturbed
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compare.py")


def progress(message):
    print(message, file=sys.stderr, flush=True)


def default_threads():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_env(threads):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    return env


def mnist_command(args, name, config):
    """The worker command line of contender ``name`` on ``config`` (task, dtype, batch size)."""
    task, dtype, batch = config
    target = args.target_accuracy
    cmd = [
        sys.executable,
        SCRIPT,
        "--worker",
        name,
        "--task",
        task,
        "--dtype",
        dtype,
        "--batch-size",
        str(batch),
        "--epochs",
        str(args.epochs),
        "--repeats",
        str(args.repeats),
        "--fit-repeats",
        str(args.fit_repeats),
        "--lr",
        repr(args.lr),
        "--l2",
        repr(args.l2),
        "--seed",
        str(args.seed),
        "--threads",
        str(args.threads),
        "--probe-mb",
        str(args.probe_mb),
        "--max-fit-epochs",
        str(args.max_fit_epochs),
        "--fit-schedule",
        args.fit_schedule,
    ]
    if target is not None:
        cmd += ["--target-accuracy", repr(target)]
    if args.rows is not None:
        cmd += ["--rows", str(args.rows)]
    if args.download:
        cmd.append("--download")
    return cmd


def shapes_command(args, shape, dtype, threads):
    """The command line of the ``shapes`` worker: one shape, one dtype, one thread count."""
    return [
        sys.executable,
        SCRIPT,
        "--worker",
        "shapes",
        "--shape",
        shape,
        "--dtype",
        dtype,
        "--batch-size",
        *map(str, args.batch_size),
        "--threads",
        str(threads),
        "--repeats",
        str(args.repeats),
        "--lr",
        repr(args.lr),
        "--seed",
        str(args.seed),
        "--rows-scale",
        repr(args.rows_scale),
        "--probe-mb",
        str(args.probe_mb),
        "--shape-contenders",
        ",".join(args.shape_contenders),
    ]


def spawn(args, name, cmd, threads):
    """Run the worker ``cmd``; rerun it up to ``--retry-busy`` times while other processes
    disturbed the run, and keep the least disturbed result."""
    best = None
    for attempt in range(1 + args.retry_busy):
        result = spawn_once(args, cmd, threads)
        other = result.get("other_cpus")
        if best is None or (other is not None and other < best.get("other_cpus", other + 1)):
            best = result
        if result["status"] != "ok" or other is None or other <= BUSY_CPUS:
            break
        if attempt < args.retry_busy:
            progress(f"  other processes used {other:.2f} CPUs meanwhile: running {name} again")
    return best


def spawn_once(args, cmd, threads):
    """Run the worker ``cmd`` in a fresh process with ``threads`` BLAS threads."""
    if args.wait_idle:
        wait_idle(args.wait_idle)
    meter = OtherLoad()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=worker_env(threads))
    other = meter.stop()
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            result = json.loads(line[len(RESULT_TAG) :])
            result["other_cpus"] = other
            return result
    lines = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
    return {"status": "failed", "reason": f"exit code {proc.returncode}: {lines[-1]}"}


def run_worker(args, workers, errors):
    """Body of ``--worker NAME``: one JSON line tagged RESULT_TAG on stdout.

    ``errors`` maps exception classes to the status they report (``not available``, ...).
    """
    try:
        result = workers[args.worker](args)
        result["status"] = "ok"
    except tuple(errors) as exc:
        status = next(s for cls, s in errors.items() if isinstance(exc, cls))
        result = {"status": status, "reason": str(exc)}
    sys.stdout.write("\n" + RESULT_TAG + json.dumps(result) + "\n")
    sys.stdout.flush()


def _busy_cpu_seconds():
    """CPU-seconds the whole machine has spent busy (or stolen by the hypervisor), or None.

    From the first line of /proc/stat: user + nice + system + irq + softirq + steal.
    """
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
        ticks = [int(v) for v in fields[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds():
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class OtherLoad:
    """How many CPUs processes other than the worker kept busy while it ran (Linux only).

    Machine busy time from /proc/stat minus the CPU time of the (waited-for) worker, per
    second of wall time: 0 on a quiet machine, about 1 when another process ran flat out.
    """

    def __init__(self):
        self.busy, self.ours = _busy_cpu_seconds(), _children_cpu_seconds()
        self.t0 = time.perf_counter()

    def stop(self):
        busy = _busy_cpu_seconds()
        if busy is None or self.busy is None:
            return None
        wall = time.perf_counter() - self.t0
        ours = _children_cpu_seconds() - self.ours
        return max(0.0, (busy - self.busy - ours) / wall) if wall > 0 else None


def wait_idle(limit_s, threshold=0.25, window_s=2.0):
    """Wait up to ``limit_s`` seconds until other processes use less than ``threshold`` CPUs."""
    deadline = time.monotonic() + limit_s
    while True:
        start = _busy_cpu_seconds()
        if start is None:
            return
        time.sleep(window_s)
        load = (_busy_cpu_seconds() - start) / window_s
        if load < threshold or time.monotonic() >= deadline:
            if load >= threshold:
                progress(f"  the machine is still busy ({load:.2f} CPUs); running anyway")
            return
        progress(f"  waiting for the machine to be idle ({load:.2f} CPUs busy) ...")
