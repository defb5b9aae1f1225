"""Compare fastreg with NumPy, scikit-learn and PyTorch on MNIST, beside the machine's floor.

    python benchmarks/compare.py                                  # softmax, float32, batch 32
    python benchmarks/compare.py --dtype float32 float64 --batch-size 32 128
    python benchmarks/compare.py --task binary                    # digits 2 vs 3, logistic
    python benchmarks/compare.py --rows 2000 --epochs 1 --contenders fastreg-numpy,sklearn-sgd
    python benchmarks/compare.py --sparse [--rows 20000 ...]       # text-like CSR data instead

Every contender runs in a process of its own (this script with ``--worker NAME``), on the same
data: MNIST through ``fastreg.datasets`` (``FASTREG_DATA``, then the cache, then the copy shipped
with fastreg; ``--download`` allows fetching it; ``FASTREG_COMPARE_VERIFY=0`` accepts files that
are not the published MNIST, e.g. a synthetic stand-in), flattened and scaled to [0, 1] in the chosen dtype; the binary task keeps
digits 2 (label 1) and 3 (label 0). Contenders:

``fastreg-cython``, ``fastreg-numpy``
    the backend's fused epoch kernel, called directly: ``get_backend(name).epoch`` (coef
    (K, d), K = 1 for the binary task) over a fresh seeded permutation, constant learning rate,
    zero start.
``sklearn-sgd``
    ``SGDClassifier(loss="log_loss")``, one epoch per ``partial_fit``: per-sample updates (it
    has no mini-batches), one-vs-rest for 10 classes, scikit-learn's default 'optimal' schedule.
``torch``
    only when ``import torch`` works (never a dependency): ``nn.Linear`` + cross-entropy +
    ``optim.SGD``, manual batching over ``torch.randperm`` (no DataLoader), zero start.
``sklearn-lbfgs``
    ``LogisticRegression(solver="lbfgs")`` with scikit-learn's defaults: one whole fit.
``fastreg-fit``
    the estimator (``fastreg.SoftmaxRegression``, or ``fastreg.LogisticRegression`` for the
    binary task) with ``--lr``, the first ``--batch-size``, a ``--fit-schedule`` (cosine)
    learning rate spanning the fit and no early stopping, fitted for 1, 2, 3, ... epochs until
    a fit reaches ``--target-accuracy`` on the test set: that fit's time is set against
    sklearn-lbfgs's ("time to accuracy"). The epoch budget is chosen by looking at the test
    set, which the table says; lbfgs runs with its defaults.
``fastreg-defaults``
    the same estimator with its defaults (early stopping on a held-out 10 %): one fit.

Epoch contenders run one warm-up epoch, then report the median (and range) of the next
``--repeats`` epochs, each timed with its shuffle, and the test accuracy after ``--epochs``
epochs. Threads: ``--threads`` (default: the CPUs this process may use) is the BLAS thread count
of every worker (OPENBLAS/OMP/MKL_NUM_THREADS), ``torch.set_num_threads`` and fastreg's
``n_threads``.

The machine is measured first (``benchmarks/_machine.py``): streaming read bandwidth and
sgemm/dgemm rate; each table carries the epoch lower bound max(time to read its X once,
4 N d K flops / GEMM rate), measured on the table's own X in a process of its own (X may stay in
a large last-level cache between epochs). Markdown goes to stdout (and ``--out FILE``);
progress to stderr. On a shared machine ``--wait-idle`` and ``--retry-busy`` keep other
processes out of the timings, and every row shows how many CPUs others used while it ran.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

EPOCH_CONTENDERS = ("fastreg-cython", "fastreg-numpy", "sklearn-sgd", "torch")
FIT_CONTENDERS = ("fastreg-fit", "fastreg-defaults", "sklearn-lbfgs")
CONTENDERS = EPOCH_CONTENDERS + FIT_CONTENDERS
TASKS = ("softmax", "binary")
DTYPES = ("float32", "float64")
REFERENCES = ("fastreg-cython", "fastreg-numpy")  # the ratio column divides by the first timed
BINARY_DIGITS = (2, 3)  # positive, negative: fastreg.datasets.prepare's reference binary task
DEFAULT_TARGET = {"softmax": 0.925, "binary": 0.975}
RESULT_TAG = "FASTREG_COMPARE_RESULT "
BUSY_CPUS = 0.1  # other processes' CPU use above which a run counts as disturbed
HERE = os.path.dirname(os.path.abspath(__file__))


class NotAvailable(Exception):
    """The contender cannot run here (a library is missing, the extension is not built)."""


class DataMissing(Exception):
    """MNIST could not be loaded; every contender would fail the same way."""


# =========================================================================== worker side
def load_task(task, dtype, rows=None, download=False):
    """``(X_train, y_train, X_test, y_test, n_outputs)`` for ``task``, labels ``np.intc``.

    X is (N, 784), C-contiguous, x / 255 in ``dtype``; ``rows`` keeps the first rows of the
    training set (after the binary subset), the test set is always whole.
    """
    import numpy as np

    try:
        from fastreg.datasets import DatasetError, load_mnist, prepare
    except ImportError as exc:
        raise DataMissing(f"fastreg.datasets is not importable: {exc}") from exc
    try:
        data = load_mnist(download=download,
                          verify=os.environ.get("FASTREG_COMPARE_VERIFY", "1") != "0")
    except (FileNotFoundError, DatasetError) as exc:
        raise DataMissing(f"{exc}\n(compare.py reads MNIST through FASTREG_DATA; pass "
                          "--download to let it fetch the files into the cache)") from exc
    digits = BINARY_DIGITS if task == "binary" else None
    ready = prepare(data, digits=digits, val_fraction=None, dtype=np.dtype(dtype))
    X, y = ready.X_train[:rows], ready.y_train[:rows]  # rows=None keeps them all
    n_outputs = 1 if task == "binary" else 10
    as_labels = lambda v: np.ascontiguousarray(v, dtype=np.intc)  # noqa: E731
    return (np.ascontiguousarray(X), as_labels(y), np.ascontiguousarray(ready.X_test),
            as_labels(ready.y_test), n_outputs)


def _timed_epochs(run_epoch, evaluate, args):
    """Run ``max(epochs, repeats + 1)`` epochs; time each, evaluate after epoch ``epochs``."""
    times, accuracy, status = [], None, None
    for epoch in range(1, max(args.epochs, args.repeats + 1) + 1):
        t0 = time.perf_counter()
        status = run_epoch(epoch)
        times.append(time.perf_counter() - t0)
        if status == "diverged":
            break
        if epoch == args.epochs:
            accuracy = evaluate()
    timed = times[1:1 + args.repeats]
    return {"epoch_ms": [1e3 * t for t in timed], "test_accuracy": accuracy,
            "epochs_run": len(times), "diverged": status == "diverged"}


def work_fastreg(args, backend_name):
    import numpy as np

    import fastreg

    try:
        backend = fastreg.get_backend(backend_name)
    except ImportError as exc:  # BackendUnavailableError: the compiled backend is not built
        raise NotAvailable(getattr(exc, "reason", str(exc))) from exc
    X, y, X_test, y_test, K = load_task(args.task, args.dtype, args.rows, args.download)
    n, d = X.shape
    dtype = X.dtype
    # one layout for both tasks: coef (K, d), intercept (K,); K = 1 is the logistic model
    coef, intercept = np.zeros((K, d), dtype), np.zeros(K, dtype)
    epoch_fn = backend.epoch
    B = args.batch_size
    lrs = np.full(-(-n // B), args.lr, dtype=np.float64)
    rng = np.random.default_rng(args.seed)

    def run_epoch(_):
        order = rng.permutation(n)
        loss, _acc = epoch_fn(X, y, coef, intercept, order, B, lrs, args.l2,
                              n_threads=args.threads)
        return "diverged" if not np.isfinite(loss) else None

    def evaluate():
        Z = X_test @ coef.T + intercept
        pred = (Z[:, 0] >= 0).astype(np.intc) if K == 1 else np.argmax(Z, axis=1)
        return float(np.mean(pred == y_test))

    result = _timed_epochs(run_epoch, evaluate, args)
    result.update(n_train=n, n_features=d, n_outputs=K,
                  notes=f"{backend.name} backend's {epoch_fn.__name__}, lr {args.lr:g}")
    return result


def work_sklearn_sgd(args):
    import numpy as np

    try:
        import sklearn
        from sklearn.linear_model import SGDClassifier
    except ImportError as exc:
        raise NotAvailable(f"scikit-learn is not installed ({exc})") from exc
    X, y, X_test, y_test, K = load_task(args.task, args.dtype, args.rows, args.download)
    clf = SGDClassifier(loss="log_loss", random_state=args.seed, n_jobs=args.threads)
    classes = np.unique(np.concatenate([y, y_test]))

    def run_epoch(_):
        clf.partial_fit(X, y, classes=classes)
        if not np.all(np.isfinite(clf.coef_)):
            return "diverged"
        return None

    result = _timed_epochs(run_epoch, lambda: float(clf.score(X_test, y_test)), args)
    ovr = ", one-vs-rest" if K > 1 else ""
    result.update(notes=f"scikit-learn {sklearn.__version__}: per-sample SGD (no mini-batches)"
                        f"{ovr}, alpha {clf.alpha:g}, '{clf.learning_rate}' schedule, "
                        f"n_jobs {args.threads}")
    return result


def work_torch(args):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as exc:
        raise NotAvailable(f"PyTorch is not installed ({exc}); it is optional: "
                           "`pip install torch` to include it") from exc
    import numpy as np

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    X, y, X_test, y_test, K = load_task(args.task, args.dtype, args.rows, args.download)
    n, d = X.shape
    tdtype = torch.float32 if args.dtype == "float32" else torch.float64
    Xt, Xt_test = torch.from_numpy(X), torch.from_numpy(X_test)
    if args.task == "binary":
        yt = torch.from_numpy(y).to(tdtype)
        loss_fn = lambda out, target: F.binary_cross_entropy_with_logits(  # noqa: E731
            out.squeeze(1), target)
    else:
        yt = torch.from_numpy(y).long()
        loss_fn = F.cross_entropy
    model = torch.nn.Linear(d, K, dtype=tdtype)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    # fastreg's l2 multiplies ||W||^2, so its gradient is 2 l2 W; the bias is not penalised
    opt = torch.optim.SGD([{"params": [model.weight], "weight_decay": 2 * args.l2},
                           {"params": [model.bias], "weight_decay": 0.0}], lr=args.lr)
    generator = torch.Generator().manual_seed(args.seed)
    B = args.batch_size

    def run_epoch(_):
        perm = torch.randperm(n, generator=generator)
        loss = None
        for start in range(0, n, B):
            idx = perm[start:start + B]
            loss = loss_fn(model(Xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return "diverged" if loss is not None and not torch.isfinite(loss) else None

    def evaluate():
        with torch.no_grad():
            out = model(Xt_test)
            pred = (out.squeeze(1) >= 0).long() if args.task == "binary" else out.argmax(1)
        return float(np.mean(pred.numpy() == y_test))

    result = _timed_epochs(run_epoch, evaluate, args)
    result.update(notes=f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, "
                        f"nn.Linear + cross-entropy + optim.SGD, lr {args.lr:g}")
    return result


def work_sklearn_lbfgs(args):
    import warnings

    try:
        import sklearn
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise NotAvailable(f"scikit-learn is not installed ({exc})") from exc
    X, y, X_test, y_test, _ = load_task(args.task, args.dtype, args.rows, args.download)
    times = []
    for _ in range(args.fit_repeats):
        clf = LogisticRegression(solver="lbfgs")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            t0 = time.perf_counter()
            clf.fit(X, y)
            times.append(time.perf_counter() - t0)
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    n_iter = int(clf.n_iter_.max())
    how = "converged" if converged else f"max_iter={clf.max_iter} reached"
    return {"fit_s": times, "test_accuracy": float(clf.score(X_test, y_test)),
            "notes": f"scikit-learn {sklearn.__version__} defaults (C={clf.C:g}): {n_iter} "
                     f"iterations, {how}"}


def _fastreg_estimator(task):
    """``fastreg.SoftmaxRegression`` (or ``LogisticRegression`` for the binary task)."""
    name = "LogisticRegression" if task == "binary" else "SoftmaxRegression"
    try:
        import fastreg
    except ImportError as exc:
        raise NotAvailable(f"fastreg is not importable ({exc})") from exc
    cls = getattr(fastreg, name, None)
    if cls is None:
        try:
            from fastreg import linear_model
        except ImportError as exc:
            raise NotAvailable(f"fastreg.{name} is not importable ({exc})") from exc
        cls = getattr(linear_model, name, None)
    if cls is None:
        raise NotAvailable(f"fastreg has no {name}")
    return cls


def _timed_fit(model, X, y):
    t0 = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - t0


def work_fastreg_fit(args):
    """Fits of 1, 2, 3, ... epochs (the schedule spans each fit) until one reaches the target."""
    import warnings

    import numpy as np

    cls = _fastreg_estimator(args.task)
    goal = target(args, args.task)
    X, y, X_test, y_test, _ = load_task(args.task, args.dtype, args.rows, args.download)

    def make(epochs):
        return cls(learning_rate=args.lr, batch_size=args.batch_size, max_epochs=epochs,
                   lr_schedule=args.fit_schedule, l2=args.l2, early_stopping=False,
                   random_state=args.seed, n_threads=args.threads)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "auto" falling back to NumPy
        tried = []
        for epochs in range(1, args.max_fit_epochs + 1):
            model = make(epochs)
            seconds = _timed_fit(model, X, y)
            accuracy = float(np.mean(model.predict(X_test) == y_test))
            tried.append((epochs, seconds, accuracy))
            if accuracy >= goal:
                break
        epochs, first, accuracy = tried[-1]
        times = [first] + [_timed_fit(make(epochs), X, y) for _ in range(args.fit_repeats - 1)]
    reached = accuracy >= goal
    how = (f"smallest max_epochs reaching the target: {epochs}" if reached else
           f"TARGET NOT REACHED within {args.max_fit_epochs} epochs")
    return {"fit_s": times, "test_accuracy": accuracy,
            "notes": f"{cls.__name__}(learning_rate={args.lr:g}, batch_size={args.batch_size}, "
                     f"lr_schedule='{args.fit_schedule}', early_stopping=False) on the "
                     f"{model.backend_} backend; {how} (fits of 1..{epochs} epochs tried, "
                     f"{sum(t[1] for t in tried):.1f} s in all)"}


def work_fastreg_defaults(args):
    """One fit with the estimator's defaults (early stopping on a 10 % validation split)."""
    import warnings

    cls = _fastreg_estimator(args.task)
    X, y, X_test, y_test, _ = load_task(args.task, args.dtype, args.rows, args.download)
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(args.fit_repeats):
            model = cls(random_state=args.seed, n_threads=args.threads)
            times.append(_timed_fit(model, X, y))
    return {"fit_s": times, "test_accuracy": float(model.score(X_test, y_test)),
            "notes": f"{cls.__name__}() defaults on the {model.backend_} backend: "
                     f"{model.n_iter_} epochs, weights of epoch {model.best_epoch_}"}


def work_machine(args):
    sys.path.insert(0, HERE)
    import _machine

    info = _machine.describe()
    rates = _machine.probe(args.threads, n_bytes=args.probe_mb << 20)
    return {"info": info, "line": _machine.machine_line(info),
            "bandwidth": {str(k): v for k, v in rates["bandwidth"].items()},
            "gemm": {dt: {str(k): v for k, v in r.items()} for dt, r in rates["gemm"].items()}}


def work_floor(args):
    """The epoch lower bound of this configuration: read time of its own X, and GEMM rate."""
    sys.path.insert(0, HERE)
    import _machine

    X, _, _, _, K = load_task(args.task, args.dtype, args.rows, args.download)
    counts = sorted({1, args.threads})
    return {"n_train": X.shape[0], "n_features": X.shape[1], "n_outputs": K,
            "bytes": X.nbytes, "read_s": {str(t): _machine.read_time(X, t) for t in counts},
            "gemm": {str(t): r for t, r in _machine.gemm_rates(X.dtype, counts).items()}}


WORKERS = {
    "fastreg-cython": lambda args: work_fastreg(args, "cython"),
    "fastreg-numpy": lambda args: work_fastreg(args, "numpy"),
    "sklearn-sgd": work_sklearn_sgd,
    "torch": work_torch,
    "sklearn-lbfgs": work_sklearn_lbfgs,
    "fastreg-fit": work_fastreg_fit,
    "fastreg-defaults": work_fastreg_defaults,
    # not contenders: the probes of _machine.py
    "machine": work_machine,
    "floor": work_floor,
}


def run_worker(args):
    """Body of ``--worker NAME``: one JSON line tagged RESULT_TAG on stdout."""
    try:
        result = WORKERS[args.worker](args)
        result["status"] = "ok"
    except NotAvailable as exc:
        result = {"status": "not available", "reason": str(exc)}
    except DataMissing as exc:
        result = {"status": "data missing", "reason": str(exc)}
    sys.stdout.write("\n" + RESULT_TAG + json.dumps(result) + "\n")
    sys.stdout.flush()


# =========================================================================== parent side
def worker_env(threads):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    return env


def spawn(args, name, config):
    """Run contender ``name`` on ``config``; rerun it up to ``--retry-busy`` times while other
    processes disturbed the run, and keep the least disturbed result."""
    best = None
    for attempt in range(1 + args.retry_busy):
        result = spawn_once(args, name, config)
        other = result.get("other_cpus")
        if best is None or (other is not None and other < best.get("other_cpus", other + 1)):
            best = result
        if result["status"] != "ok" or other is None or other <= BUSY_CPUS:
            break
        if attempt < args.retry_busy:
            _progress(f"  other processes used {other:.2f} CPUs meanwhile: running {name} again")
    return best


def spawn_once(args, name, config):
    """Run contender ``name`` on ``config`` (task, dtype, batch size) in a fresh process."""
    task, dtype, batch = config
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name,
           "--task", task, "--dtype", dtype, "--batch-size", str(batch),
           "--epochs", str(args.epochs), "--repeats", str(args.repeats),
           "--fit-repeats", str(args.fit_repeats), "--lr", repr(args.lr), "--l2", repr(args.l2),
           "--seed", str(args.seed), "--threads", str(args.threads),
           "--probe-mb", str(args.probe_mb), "--target-accuracy", repr(target(args, task)),
           "--max-fit-epochs", str(args.max_fit_epochs), "--fit-schedule", args.fit_schedule]
    if args.rows is not None:
        cmd += ["--rows", str(args.rows)]
    if args.download:
        cmd.append("--download")
    if args.wait_idle:
        wait_idle(args.wait_idle)
    meter = OtherLoad()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=worker_env(args.threads))
    other = meter.stop()
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            result = json.loads(line[len(RESULT_TAG):])
            result["other_cpus"] = other
            return result
    lines = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
    return {"status": "failed", "reason": f"exit code {proc.returncode}: {lines[-1]}"}


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
                _progress(f"  the machine is still busy ({load:.2f} CPUs); running anyway")
            return
        _progress(f"  waiting for the machine to be idle ({load:.2f} CPUs busy) ...")


def target(args, task):
    return args.target_accuracy if args.target_accuracy is not None else DEFAULT_TARGET[task]


def _sig3(value):
    """At least three significant digits, never an exponent: 1639, 45.6, 0.252, 0.00614."""
    if not math.isfinite(value) or value <= 0:
        return f"{value:g}"
    return f"{value:.{max(0, 2 - math.floor(math.log10(value)))}f}"


def _fmt_acc(value):
    return "—" if value is None else f"{100 * value:.2f} %"


def _fmt_ratio(value):
    return "—" if value is None else f"{_sig3(value)}x"


OTHER_CPU_NOTE = ("Other CPU: CPUs kept busy by other processes while the contender ran "
                  f"(from /proc/stat); above {BUSY_CPUS} its timings are not to be trusted.")


def _fmt_other(result):
    other = result.get("other_cpus")
    return "?" if other is None else f"{other:.2f}"


def _unavailable_row(name, result, columns):
    cells = [name] + ["—"] * (columns - 2) + [f"{result['status']}: {result['reason']}"]
    return "| " + " | ".join(cells) + " |"


def epoch_table(args, config, results, floor):
    """The markdown table of one (task, dtype, batch size): one row per epoch contender."""
    task, dtype, batch = config
    timed = {n: statistics.median(r["epoch_ms"]) for n, r in results.items()
             if r["status"] == "ok" and r["epoch_ms"]}
    reference = next((n for n in REFERENCES if n in timed), None)
    shape = next((r for r in results.values() if "n_train" in r), None)
    what = (f"MNIST {shape['n_train']} x {shape['n_features']}" if shape else "MNIST")
    what += ", 10 classes" if task == "softmax" else f", digits {BINARY_DIGITS[0]} vs " \
                                                     f"{BINARY_DIGITS[1]}"
    lines = [f"### {task}, {dtype}, batch {batch} ({what}; lr {args.lr:g}, l2 {args.l2:g})", "",
             f"| contender | ms / epoch | min–max | ÷ {reference or 'fastreg'} | test acc. "
             f"after {args.epochs} epochs | other CPU | notes |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name, r in results.items():
        if r["status"] != "ok":
            lines.append(_unavailable_row(name, r, 7))
            continue
        if not r["epoch_ms"]:
            lines.append(f"| {name} | — | — | — | — | {_fmt_other(r)} | diverged in the "
                         "warm-up epoch |")
            continue
        ms = timed[name]
        ratio = ms / timed[reference] if reference else None
        note = r["notes"] + ("; DIVERGED (non-finite loss)" if r["diverged"] else "")
        lines.append(f"| {name} | {_sig3(ms)} | {_sig3(min(r['epoch_ms']))}–"
                     f"{_sig3(max(r['epoch_ms']))} | {_fmt_ratio(ratio)} | "
                     f"{_fmt_acc(r['test_accuracy'])} | {_fmt_other(r)} | {note} |")
    if floor is not None:
        lines.append(floor_row(args, floor, timed.get(reference)))
    note = (f"Median of {args.repeats} epochs after one warm-up epoch, each with its shuffle; "
            f"{args.threads} thread(s). {OTHER_CPU_NOTE}")
    if reference is None:
        note += " No fastreg contender ran, so there are no ratios."
    elif reference != "fastreg-cython":
        note += f" fastreg-cython did not run: ratios are to {reference}."
    return "\n".join(lines + ["", note, ""])


def floor_row(args, floor, reference_ms):
    """The table row of the epoch lower bound measured by the ``floor`` worker."""
    sys.path.insert(0, HERE)
    import _machine

    n, d, k = floor["n_train"], floor["n_features"], floor["n_outputs"]
    flops = _machine.epoch_flops(n, d, k)

    def bound(t):
        gemm = floor["gemm"].get(t) or max(floor["gemm"].values())
        return 1e3 * _machine.epoch_lower_bound(floor["read_s"][t], n, d, k, gemm), gemm

    t = str(args.threads)
    floor_ms, gemm = bound(t)
    read_ms = 1e3 * floor["read_s"][t]
    ratio = floor_ms / reference_ms if reference_ms else None
    how = (f"max(read X, {floor['bytes'] / 1e6:.0f} MB, once: {_sig3(read_ms)} ms "
           f"({floor['bytes'] / read_ms / 1e6:.1f} GB/s); {flops / 1e9:.2f} GFLOP at "
           f"{gemm / 1e9:.0f} GFLOP/s: {_sig3(1e3 * flops / gemm)} ms) with {t} thread(s)")
    if t != "1" and "1" in floor["read_s"]:
        how += f"; {_sig3(bound('1')[0])} ms with 1 thread"
    return (f"| *machine lower bound* | {_sig3(floor_ms)} | | {_fmt_ratio(ratio)} | | | "
            f"{how} |")


def fit_table(args, task, dtype, results):
    """The time-to-accuracy table of one (task, dtype)."""
    goal = target(args, task)
    base = results.get("sklearn-lbfgs")
    base_s = statistics.median(base["fit_s"]) if base and base["status"] == "ok" else None
    lines = [f"### time to accuracy: {task}, {dtype} (fastreg target: test accuracy >= "
             f"{100 * goal:.1f} %)", "",
             "| contender | fit time (s) | ÷ sklearn-lbfgs | test acc. | other CPU | notes |",
             "|---|---:|---:|---:|---:|---|"]
    for name, r in results.items():
        if r["status"] != "ok":
            lines.append(_unavailable_row(name, r, 6))
            continue
        fit_s = statistics.median(r["fit_s"]) if r["fit_s"] else None
        ratio = fit_s / base_s if fit_s is not None and base_s else None
        shown = _sig3(fit_s) if fit_s is not None else "—"
        lines.append(f"| {name} | {shown} | {_fmt_ratio(ratio)} | "
                     f"{_fmt_acc(r['test_accuracy'])} | {_fmt_other(r)} | {r['notes']} |")
    lines += ["", f"Fit times are the median of {args.fit_repeats} fit(s); test accuracy on the "
                  "10000 MNIST test images" + (" (digits 2 and 3 only). " if task == "binary"
                                               else ". ") + OTHER_CPU_NOTE, ""]
    return "\n".join(lines)


def machine_section(args, machine):
    if machine["status"] != "ok":
        return f"Machine probe {machine['status']}: {machine['reason']}\n"
    t = str(args.threads)
    bw, g32, g64 = machine["bandwidth"], machine["gemm"]["float32"], machine["gemm"]["float64"]

    def per_threads(rates, unit):
        return ", ".join(f"{rates[k] / unit:.1f} ({k} thread{'s' if k != '1' else ''})"
                         for k in sorted(rates, key=int))

    return "\n".join([
        f"Machine: {machine['line']}.",
        f"Streaming read GB/s: {per_threads(bw, 1e9)}; sgemm GFLOP/s: {per_threads(g32, 1e9)}; "
        f"dgemm GFLOP/s: {per_threads(g64, 1e9)} (best of a few; max over {args.probe_mb} MB, "
        f"2048^2 matmul). Contenders run with {t} thread(s).", ""])


def parse_contenders(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONTENDERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown contender(s) {', '.join(unknown) or '(none given)'}; choose from "
            f"{', '.join(CONTENDERS)} (comma-separated)")
    return list(dict.fromkeys(names))


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser():
    p = argparse.ArgumentParser(
        description="Time fastreg against NumPy, scikit-learn and PyTorch on MNIST (one "
                    "process per contender) and print markdown tables beside the machine's "
                    "lower bound.")
    p.add_argument("--task", nargs="+", choices=TASKS, default=["softmax"],
                   help="softmax: 10 digits; binary: logistic regression on digits 2 vs 3")
    p.add_argument("--dtype", nargs="+", choices=DTYPES, default=["float32"])
    p.add_argument("--batch-size", nargs="+", type=positive_int, default=[32])
    p.add_argument("--contenders", type=parse_contenders, default=list(CONTENDERS),
                   help=f"comma-separated subset of {','.join(CONTENDERS)} (default: all)")
    p.add_argument("--epochs", type=positive_int, default=10,
                   help="epochs before the test accuracy of the epoch contenders is measured")
    p.add_argument("--repeats", type=positive_int, default=5,
                   help="timed epochs after the warm-up epoch (median reported)")
    p.add_argument("--fit-repeats", type=positive_int, default=1,
                   help="timed fits of sklearn-lbfgs and of fastreg-fit's final fit")
    p.add_argument("--lr", type=float, default=0.5, help="learning rate of the SGD contenders")
    p.add_argument("--l2", type=float, default=0.0, help="lambda of l2 * ||W||^2")
    p.add_argument("--target-accuracy", type=float, default=None,
                   help="test accuracy fastreg-fit must reach (default: 0.925 softmax, "
                        "0.975 binary)")
    p.add_argument("--max-fit-epochs", type=positive_int, default=30,
                   help="largest max_epochs fastreg-fit tries before giving up")
    p.add_argument("--fit-schedule", default="cosine",
                   help="lr_schedule of fastreg-fit (the schedule spans each fit's epochs)")
    p.add_argument("--rows", type=positive_int, default=None,
                   help="use only the first N training rows (smoke tests)")
    p.add_argument("--threads", type=positive_int, default=_default_threads(),
                   help="threads for BLAS, PyTorch and fastreg (default: the usable CPUs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--probe-mb", type=positive_int, default=256,
                   help="size of the bandwidth probe's array in MB")
    p.add_argument("--no-probe", action="store_true", help="skip the machine probes")
    p.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                   help="before each contender, wait up to this long for other processes to "
                        "leave the CPUs idle (shared machines)")
    p.add_argument("--retry-busy", type=int, default=0, metavar="N",
                   help=f"rerun a contender up to N times when other processes kept more than "
                        f"{BUSY_CPUS} CPUs busy during its run; the least disturbed run is shown")
    p.add_argument("--download", action="store_true",
                   help="allow downloading MNIST into the cache when it is not found")
    p.add_argument("--out", help="also write the markdown to this file")
    p.add_argument("--sparse", action="store_true",
                   help="time one epoch on text-like sparse data instead of MNIST: the other "
                        "options are benchmarks/sparse_text.py's (see its --help)")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    return p


def _default_threads():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _progress(message):
    print(message, file=sys.stderr, flush=True)


def run(args):
    out = ["## fastreg comparison benchmark", "",
           "`python benchmarks/compare.py " + " ".join(sys.argv[1:]) + "`", ""]
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if not args.no_probe:
        _progress("measuring the machine ...")
        out.append(machine_section(args, spawn(args, "machine", (args.task[0], args.dtype[0],
                                                                 args.batch_size[0]))))
    epoch_names = [n for n in args.contenders if n in EPOCH_CONTENDERS]
    fit_names = [n for n in args.contenders if n in FIT_CONTENDERS]
    for task in args.task:
        for dtype in args.dtype:
            floor = None
            if epoch_names and not args.no_probe:
                _progress(f"{task} {dtype}: the epoch lower bound ...")
                floor = check_data(spawn(args, "floor", (task, dtype, args.batch_size[0])))
                floor = floor if floor["status"] == "ok" else None
            for batch in args.batch_size if epoch_names else []:
                results = {}
                for name in epoch_names:
                    _progress(f"{task} {dtype} batch {batch}: {name} ...")
                    results[name] = check_data(spawn(args, name, (task, dtype, batch)))
                out.append(epoch_table(args, (task, dtype, batch), results, floor))
            if fit_names:
                results = {}
                for name in fit_names:
                    _progress(f"{task} {dtype} time to accuracy: {name} ...")
                    results[name] = check_data(spawn(args, name,
                                                     (task, dtype, args.batch_size[0])))
                out.append(fit_table(args, task, dtype, results))
    if hasattr(os, "getloadavg"):
        out.append(f"Load average (1 min) before: {load_before:.2f}, after: "
                   f"{os.getloadavg()[0]:.2f} (on {_default_threads()} usable CPUs; other "
                   "processes running at the same time distort the timings).\n")
    text = "\n".join(out)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return 0


def check_data(result):
    if result["status"] == "data missing":
        sys.exit(f"compare.py: MNIST is not available:\n{result['reason']}")
    return result


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--sparse" in argv:  # a CSR data set: sparse_text.py runs it, with its own options
        sys.path.insert(0, HERE)
        import sparse_text

        return sparse_text.main([a for a in argv if a != "--sparse"])
    args = build_parser().parse_args(argv)
    if args.worker:
        # a worker runs one configuration: the parent passes exactly one of each
        args.task, args.dtype, args.batch_size = args.task[0], args.dtype[0], args.batch_size[0]
        run_worker(args)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
