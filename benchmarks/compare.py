"""Compare fastreg with NumPy, scikit-learn and PyTorch on MNIST, beside the machine's floor.

    python benchmarks/compare.py                                  # softmax, float32, batch 32
    python benchmarks/compare.py --dtype float32 float64 --batch-size 32 128
    python benchmarks/compare.py --task binary                    # digits 2 vs 3, logistic
    python benchmarks/compare.py --rows 2000 --epochs 1 --contenders fastreg-numpy,sklearn-sgd
    python benchmarks/compare.py --sparse [--rows 20000 ...]       # text-like CSR data instead
    python benchmarks/compare.py --shapes [--shape mnist wide ...] [--rows-scale 0.05]

Every contender runs in a process of its own (this script with ``--worker NAME``), on the same
data: MNIST through ``fastreg.datasets`` (``FASTREG_DATA``, then the cache, then the copy shipped
with fastreg; ``--download`` allows fetching it; ``FASTREG_COMPARE_VERIFY=0`` accepts files that
are not the published MNIST, e.g. a synthetic stand-in), flattened and scaled to [0, 1] in the
chosen dtype; the binary task keeps digits 2 (label 1) and 3 (label 0). Each contender is a
module of ``benchmarks/contenders/`` whose docstring says what it times:
``fastreg-cython``, ``fastreg-numpy`` (fastreg_epoch), ``sklearn-sgd`` (sklearn_sgd),
``torch`` (torch_sgd), ``sklearn-lbfgs`` (sklearn_lbfgs), ``fastreg-fit``, ``fastreg-defaults``
(fastreg_fit); the tables are ``benchmarks/compare_tables.py``, the process handling
``benchmarks/compare_spawn.py``.

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

``--shapes`` times one epoch through the public API (``partial_fit`` once, and ``fit`` with
``max_epochs=1``) on seeded random data of many shapes (``contenders/shapes.py``: MNIST-,
CIFAR-like, 100 and 1000 classes, few features, wide, binary at small and large d, sparse
text), for each ``--dtype`` (default both), ``--batch-size`` (1, 32, 256) and ``--threads``
(1, 2), learning rate ``--lr`` 0.01 fixed; the machine probes run before and after the shapes
and their best rates set each row's floor, the ratio time / floor in its own column.
``--rows-scale F`` shrinks every N for quick runs.
"""

import argparse
import os
import sys

import compare_tables as tables
import contenders
from compare_spawn import (
    BUSY_CPUS,
    RESULT_TAG,
    default_threads,
    mnist_command,
    progress,
    run_worker,
    shapes_command,
    spawn,
)
from contenders import CONTENDERS, EPOCH_CONTENDERS, FIT_CONTENDERS, WORKERS
from contenders.shapes import API_CONTENDERS, SHAPES

TASKS = ("softmax", "binary")
DTYPES = ("float32", "float64")
# the options whose default depends on the mode: (MNIST comparison, --shapes)
MODE_DEFAULTS = {
    "dtype": (["float32"], list(DTYPES)),
    "batch_size": ([32], [1, 32, 256]),
    "threads": (None, [1, 2]),
    "repeats": (5, 3),
    "lr": (0.5, 0.01),
}
__all__ = ["RESULT_TAG", "build_parser", "main"]


def parse_names(valid, what):
    def parse(text):
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in valid]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {what}(s) {', '.join(unknown) or '(none given)'}; choose from "
                f"{', '.join(valid)} (comma-separated)"
            )
        return list(dict.fromkeys(names))

    return parse


parse_contenders = parse_names(CONTENDERS, "contender")


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def build_parser():
    p = argparse.ArgumentParser(
        description="Time fastreg against NumPy, scikit-learn and PyTorch on MNIST (one "
        "process per contender) and print markdown tables beside the machine's "
        "lower bound."
    )
    p.add_argument(
        "--task",
        nargs="+",
        choices=TASKS,
        default=["softmax"],
        help="softmax: 10 digits; binary: logistic regression on digits 2 vs 3",
    )
    p.add_argument("--dtype", nargs="+", choices=DTYPES, help="default: float32 (--shapes: both)")
    p.add_argument(
        "--batch-size", nargs="+", type=positive_int, help="default: 32 (--shapes: 1 32 256)"
    )
    p.add_argument(
        "--contenders",
        type=parse_contenders,
        default=list(CONTENDERS),
        help=f"comma-separated subset of {','.join(CONTENDERS)} (default: all)",
    )
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=10,
        help="epochs before the test accuracy of the epoch contenders is measured",
    )
    p.add_argument(
        "--repeats",
        type=positive_int,
        help="timed epochs after the warm-up epoch, median reported (default 5; --shapes: 3)",
    )
    p.add_argument(
        "--fit-repeats",
        type=positive_int,
        default=1,
        help="timed fits of sklearn-lbfgs and of fastreg-fit's final fit",
    )
    p.add_argument(
        "--lr",
        type=float,
        help="learning rate of the SGD contenders (default 0.5; --shapes: 0.01)",
    )
    p.add_argument("--l2", type=float, default=0.0, help="lambda of l2 * ||W||^2")
    p.add_argument(
        "--target-accuracy",
        type=float,
        default=None,
        help="test accuracy fastreg-fit must reach (default: 0.925 softmax, 0.975 binary)",
    )
    p.add_argument(
        "--max-fit-epochs",
        type=positive_int,
        default=30,
        help="largest max_epochs fastreg-fit tries before giving up",
    )
    p.add_argument(
        "--fit-schedule",
        default="cosine",
        help="lr_schedule of fastreg-fit (the schedule spans each fit's epochs)",
    )
    p.add_argument(
        "--rows",
        type=positive_int,
        default=None,
        help="use only the first N training rows (smoke tests)",
    )
    p.add_argument(
        "--threads",
        nargs="+",
        type=positive_int,
        help="threads for BLAS, PyTorch and fastreg (default: the usable CPUs; "
        "--shapes: 1 2, and only --shapes takes several)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--probe-mb",
        type=positive_int,
        default=256,
        help="size of the bandwidth probe's array in MB",
    )
    p.add_argument("--no-probe", action="store_true", help="skip the machine probes")
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each contender, wait up to this long for other processes to "
        "leave the CPUs idle (shared machines)",
    )
    p.add_argument(
        "--retry-busy",
        type=int,
        default=0,
        metavar="N",
        help=f"rerun a contender up to N times when other processes kept more than "
        f"{BUSY_CPUS} CPUs busy during its run; the least disturbed run is shown",
    )
    p.add_argument(
        "--download",
        action="store_true",
        help="allow downloading MNIST into the cache when it is not found",
    )
    p.add_argument("--out", help="also write the markdown to this file")
    p.add_argument(
        "--sparse",
        action="store_true",
        help="time one epoch on text-like sparse data instead of MNIST: the other "
        "options are benchmarks/sparse_text.py's (see its --help)",
    )
    shapes = p.add_argument_group("shape matrix (--shapes)")
    shapes.add_argument(
        "--shapes",
        action="store_true",
        help="one epoch through the public API on random data of many shapes",
    )
    shapes.add_argument(
        "--shape",
        nargs="+",
        choices=list(SHAPES),
        default=list(SHAPES),
        help="the shapes to time (default: all)",
    )
    shapes.add_argument(
        "--rows-scale",
        type=positive_float,
        default=1.0,
        metavar="F",
        help="multiply every shape's N by F (quick runs)",
    )
    shapes.add_argument(
        "--shape-contenders",
        type=parse_names(API_CONTENDERS, "shape contender"),
        default=list(API_CONTENDERS),
        help=f"comma-separated subset of {','.join(API_CONTENDERS)}",
    )
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    return p


def _header(out_lines):
    return out_lines + ["`python benchmarks/compare.py " + " ".join(sys.argv[1:]) + "`", ""]


def _finish(args, out, load_before):
    if hasattr(os, "getloadavg"):
        out.append(
            f"Load average (1 min) before: {load_before:.2f}, after: "
            f"{os.getloadavg()[0]:.2f} (on {default_threads()} usable CPUs; other "
            "processes running at the same time distort the timings).\n"
        )
    text = "\n".join(out)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return 0


def _load():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _probe(args, threads):
    cmd = mnist_command(args, "machine", ("softmax", "float32", 32))
    cmd[cmd.index("--threads") + 1] = str(threads)
    return spawn(args, "machine", cmd, threads)


def run(args):
    out, load_before = _header(["## fastreg comparison benchmark", ""]), _load()
    if not args.no_probe:
        progress("measuring the machine ...")
        out.append(tables.machine_section(args, _probe(args, args.threads)))
    epoch_names = [n for n in args.contenders if n in EPOCH_CONTENDERS]
    fit_names = [n for n in args.contenders if n in FIT_CONTENDERS]

    def run_one(name, config):
        return check_data(spawn(args, name, mnist_command(args, name, config), args.threads))

    for task in args.task:
        for dtype in args.dtype:
            floor = None
            if epoch_names and not args.no_probe:
                progress(f"{task} {dtype}: the epoch lower bound ...")
                floor = run_one("floor", (task, dtype, args.batch_size[0]))
                floor = floor if floor["status"] == "ok" else None
            for batch in args.batch_size if epoch_names else []:
                results = {}
                for name in epoch_names:
                    progress(f"{task} {dtype} batch {batch}: {name} ...")
                    results[name] = run_one(name, (task, dtype, batch))
                out.append(tables.epoch_table(args, (task, dtype, batch), results, floor))
            if fit_names:
                results = {}
                for name in fit_names:
                    progress(f"{task} {dtype} time to accuracy: {name} ...")
                    results[name] = run_one(name, (task, dtype, args.batch_size[0]))
                out.append(tables.fit_table(args, task, dtype, results))
    return _finish(args, out, load_before)


def run_shapes(args):
    """The shape matrix: probes, one worker per (shape, dtype, threads), probes again."""
    out, load_before = (
        _header(["## fastreg shape matrix: one epoch through the public API", ""]),
        _load(),
    )
    probes = []
    if not args.no_probe:
        progress("measuring the machine (before the shapes) ...")
        probes.append(_probe(args, max(args.threads)))
        out.append(tables.machine_section(args, probes[0], "Machine (before)"))
    shapes = [SHAPES[name] for name in dict.fromkeys(args.shape)]
    results = {}
    for shape in shapes:
        results[shape.name] = []
        for dtype in args.dtype:
            for threads in args.threads:
                progress(f"{shape.name} {dtype} {threads} thread(s) ...")
                results[shape.name].append(
                    spawn(
                        args, "shapes", shapes_command(args, shape.name, dtype, threads), threads
                    )
                )
    if not args.no_probe:
        progress("measuring the machine (after the shapes) ...")
        probes.append(_probe(args, max(args.threads)))
        out.append(tables.machine_section(args, probes[1], "Machine (after)"))
    out.append(tables.shapes_section(args, shapes, results, probes))
    return _finish(args, out, load_before)


def check_data(result):
    if result["status"] == "data missing":
        sys.exit(f"compare.py: MNIST is not available:\n{result['reason']}")
    return result


def resolve_defaults(parser, args):
    """Fill the mode-dependent defaults; outside --shapes one value of each is timed per run."""
    mode = 1 if (args.shapes or args.worker == "shapes") else 0
    for name, defaults in MODE_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, defaults[mode])
    if args.threads is None:
        args.threads = [default_threads()]
    if not mode:
        if len(args.threads) > 1:
            parser.error("several --threads are for --shapes only")
        args.threads = args.threads[0]
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--sparse" in argv:  # a CSR data set: sparse_text.py runs it, with its own options
        import sparse_text

        return sparse_text.main([a for a in argv if a != "--sparse"])
    parser = build_parser()
    args = resolve_defaults(parser, parser.parse_args(argv))
    if args.worker:
        # a worker runs one configuration: the parent passes exactly one of each (the shapes
        # worker takes every batch size: its data are made once)
        args.task, args.dtype = args.task[0], args.dtype[0]
        if args.worker == "shapes":
            args.shape, args.threads = args.shape[0], args.threads[0]
        else:
            args.batch_size = args.batch_size[0]
        run_worker(
            args,
            WORKERS,
            {contenders.NotAvailable: "not available", contenders.DataMissing: "data missing"},
        )
        return 0
    return run_shapes(args) if args.shapes else run(args)


if __name__ == "__main__":
    sys.exit(main())
