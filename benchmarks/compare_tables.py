"""The markdown of ``benchmarks/compare.py``: machine section, epoch, fit and shape tables.

Pure formatting of the workers' JSON results (no timing here): every function returns text.
"""

import math
import statistics

from compare_spawn import BUSY_CPUS
from contenders import BINARY_DIGITS, target
from contenders._common import machine_module


def _sig3(value):
    """At least three significant digits, never an exponent: 1639, 45.6, 0.252, 0.00614."""
    if not math.isfinite(value) or value <= 0:
        return f"{value:g}"
    return f"{value:.{max(0, 2 - math.floor(math.log10(value)))}f}"


sig3 = _sig3


def _fmt_acc(value):
    return "—" if value is None else f"{100 * value:.2f} %"


def _fmt_ratio(value):
    return "—" if value is None else f"{_sig3(value)}x"


OTHER_CPU_NOTE = (
    "Other CPU: CPUs kept busy by other processes while the contender ran "
    f"(from /proc/stat); above {BUSY_CPUS} its timings are not to be trusted."
)
REFERENCES = ("fastreg-cython", "fastreg-numpy")  # the ratio column divides by the first timed


def _fmt_other(result):
    other = result.get("other_cpus")
    return "?" if other is None else f"{other:.2f}"


def _unavailable_row(name, result, columns):
    cells = [name] + ["—"] * (columns - 2) + [f"{result['status']}: {result['reason']}"]
    return "| " + " | ".join(cells) + " |"


def epoch_table(args, config, results, floor):
    """The markdown table of one (task, dtype, batch size): one row per epoch contender."""
    task, dtype, batch = config
    timed = {
        n: statistics.median(r["epoch_ms"])
        for n, r in results.items()
        if r["status"] == "ok" and r["epoch_ms"]
    }
    reference = next((n for n in REFERENCES if n in timed), None)
    shape = next((r for r in results.values() if "n_train" in r), None)
    what = f"MNIST {shape['n_train']} x {shape['n_features']}" if shape else "MNIST"
    what += (
        ", 10 classes"
        if task == "softmax"
        else f", digits {BINARY_DIGITS[0]} vs {BINARY_DIGITS[1]}"
    )
    lines = [
        f"### {task}, {dtype}, batch {batch} ({what}; lr {args.lr:g}, l2 {args.l2:g})",
        "",
        f"| contender | ms / epoch | min–max | ÷ {reference or 'fastreg'} | test acc. "
        f"after {args.epochs} epochs | other CPU | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in results.items():
        if r["status"] != "ok":
            lines.append(_unavailable_row(name, r, 7))
            continue
        if not r["epoch_ms"]:
            lines.append(
                f"| {name} | — | — | — | — | {_fmt_other(r)} | diverged in the warm-up epoch |"
            )
            continue
        ms = timed[name]
        ratio = ms / timed[reference] if reference else None
        note = r["notes"] + ("; DIVERGED (non-finite loss)" if r["diverged"] else "")
        lines.append(
            f"| {name} | {_sig3(ms)} | {_sig3(min(r['epoch_ms']))}–"
            f"{_sig3(max(r['epoch_ms']))} | {_fmt_ratio(ratio)} | "
            f"{_fmt_acc(r['test_accuracy'])} | {_fmt_other(r)} | {note} |"
        )
    if floor is not None:
        lines.append(floor_row(args, floor, timed.get(reference)))
    note = (
        f"Median of {args.repeats} epochs after one warm-up epoch, each with its shuffle; "
        f"{args.threads} thread(s). {OTHER_CPU_NOTE}"
    )
    if reference is None:
        note += " No fastreg contender ran, so there are no ratios."
    elif reference != "fastreg-cython":
        note += f" fastreg-cython did not run: ratios are to {reference}."
    return "\n".join(lines + ["", note, ""])


def floor_row(args, floor, reference_ms):
    """The table row of the epoch lower bound measured by the ``floor`` worker."""
    _machine = machine_module()
    n, d, k = floor["n_train"], floor["n_features"], floor["n_outputs"]
    flops = _machine.epoch_flops(n, d, k)

    def bound(t):
        gemm = floor["gemm"].get(t) or max(floor["gemm"].values())
        return 1e3 * _machine.epoch_lower_bound(floor["read_s"][t], n, d, k, gemm), gemm

    t = str(args.threads)
    floor_ms, gemm = bound(t)
    read_ms = 1e3 * floor["read_s"][t]
    ratio = floor_ms / reference_ms if reference_ms else None
    how = (
        f"max(read X, {floor['bytes'] / 1e6:.0f} MB, once: {_sig3(read_ms)} ms "
        f"({floor['bytes'] / read_ms / 1e6:.1f} GB/s); {flops / 1e9:.2f} GFLOP at "
        f"{gemm / 1e9:.0f} GFLOP/s: {_sig3(1e3 * flops / gemm)} ms) with {t} thread(s)"
    )
    if t != "1" and "1" in floor["read_s"]:
        how += f"; {_sig3(bound('1')[0])} ms with 1 thread"
    return f"| *machine lower bound* | {_sig3(floor_ms)} | | {_fmt_ratio(ratio)} | | | {how} |"


def fit_table(args, task, dtype, results):
    """The time-to-accuracy table of one (task, dtype)."""
    goal = target(args, task)
    base = results.get("sklearn-lbfgs")
    base_s = statistics.median(base["fit_s"]) if base and base["status"] == "ok" else None
    lines = [
        f"### time to accuracy: {task}, {dtype} (fastreg target: test accuracy >= "
        f"{100 * goal:.1f} %)",
        "",
        "| contender | fit time (s) | ÷ sklearn-lbfgs | test acc. | other CPU | notes |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, r in results.items():
        if r["status"] != "ok":
            lines.append(_unavailable_row(name, r, 6))
            continue
        fit_s = statistics.median(r["fit_s"]) if r["fit_s"] else None
        ratio = fit_s / base_s if fit_s is not None and base_s else None
        shown = _sig3(fit_s) if fit_s is not None else "—"
        lines.append(
            f"| {name} | {shown} | {_fmt_ratio(ratio)} | "
            f"{_fmt_acc(r['test_accuracy'])} | {_fmt_other(r)} | {r['notes']} |"
        )
    lines += [
        "",
        f"Fit times are the median of {args.fit_repeats} fit(s); test accuracy on the "
        "10000 MNIST test images"
        + (" (digits 2 and 3 only). " if task == "binary" else ". ")
        + OTHER_CPU_NOTE,
        "",
    ]
    return "\n".join(lines)


def _per_threads(rates, unit):
    return ", ".join(
        f"{rates[k] / unit:.1f} ({k} thread{'s' if k != '1' else ''})"
        for k in sorted(rates, key=int)
    )


def machine_section(args, machine, label="Machine"):
    if machine["status"] != "ok":
        return f"Machine probe {machine['status']}: {machine['reason']}\n"
    bw, g32, g64 = machine["bandwidth"], machine["gemm"]["float32"], machine["gemm"]["float64"]
    threads = (
        ", ".join(map(str, args.threads)) if isinstance(args.threads, list) else str(args.threads)
    )
    return "\n".join(
        [
            f"{label}: {machine['line']}.",
            f"Streaming read GB/s: {_per_threads(bw, 1e9)}; "
            f"sgemm GFLOP/s: {_per_threads(g32, 1e9)}; "
            f"dgemm GFLOP/s: {_per_threads(g64, 1e9)} "
            f"(best of a few; max over {args.probe_mb} MB, 2048^2 matmul). "
            f"Contenders run with {threads} thread(s).",
            "",
        ]
    )


# ------------------------------------------------------------------------------- shape matrix
def best_rates(probes):
    """The best of the probes that ran: ``({threads: bytes/s}, {dtype: {threads: flop/s}})``."""
    bandwidth, gemm = {}, {}
    for p in probes:
        if p.get("status") != "ok":
            continue
        for t, v in p["bandwidth"].items():
            bandwidth[t] = max(v, bandwidth.get(t, 0.0))
        for dt, rates in p["gemm"].items():
            for t, v in rates.items():
                gemm.setdefault(dt, {})[t] = max(v, gemm.get(dt, {}).get(t, 0.0))
    return bandwidth, gemm


def shape_floor(result, bandwidth, gemm):
    """``(floor seconds, read seconds, compute seconds)`` of one shape worker's result, or None.

    floor = max(time to read X once, 4 N d K flops (4 nnz K for CSR) / best one-thread GEMM
    rate of the dtype); the read time is the smaller of bytes / best streaming bandwidth at the
    row's thread count (else the best of any count) and the worker's read of X itself (X may
    sit in the last-level cache between epochs).
    """
    rates = gemm.get(result["dtype"], {})
    if not bandwidth or not rates:
        return None
    bw = bandwidth.get(str(result["threads"])) or max(bandwidth.values())
    rate = rates.get("1") or max(rates.values())  # without threadpoolctl only one count runs
    read_s = min(result["bytes"] / bw, result.get("read_s") or float("inf"))
    compute_s = result["flops"] / rate
    return max(read_s, compute_s), read_s, compute_s


SHAPE_HEADER = (
    "| dtype | threads | batch | contender | ms / epoch | min–max | floor ms | ÷ floor | notes |"
)


def shape_rows(result, floor):
    """The table rows of one shape worker's result (one dtype, one thread count)."""
    lines = []
    for r in result.get("rows", []):
        head = f"| {result['dtype']} | {result['threads']} | {r['batch']} | {r['contender']} |"
        if r["status"] != "ok":
            lines.append(f"{head} — | — | — | — | {r['status']}: {r['reason']} |")
            continue
        ms = statistics.median(r["ms"])
        if floor is None:
            floor_ms, ratio, how = "—", "—", "no probe"
        else:
            floor_ms, ratio = _sig3(1e3 * floor[0]), _fmt_ratio(1e-3 * ms / floor[0])
            how = "read-bound" if floor[1] >= floor[2] else "flop-bound"
        lines.append(
            f"{head} {_sig3(ms)} | {_sig3(min(r['ms']))}–{_sig3(max(r['ms']))} | "
            f"{floor_ms} | {ratio} | {r['notes']}; floor {how}; other CPU "
            f"{_fmt_other(result)} |"
        )
    return lines


def shapes_section(args, shapes, results, probes):
    """One markdown table per shape: every (dtype, threads, batch, contender) beside its floor.

    ``results`` maps a shape name to the list of its workers' results.
    """
    bandwidth, gemm = best_rates(probes)
    out = []
    for shape in shapes:
        runs = results[shape.name]
        ok = next((r for r in runs if r["status"] == "ok"), None)
        n = ok["n"] if ok else shape.rows(args.rows_scale)
        kind = f"CSR, {ok['nnz'] / n:.1f} nonzeros a row" if ok and shape.sparse else "dense"
        out += [
            f"### {shape.name}: {shape.what}, N {n} x d {shape.d} x K {shape.k} ({kind})",
            "",
            SHAPE_HEADER,
            "|---|---:|---:|---|---:|---:|---:|---:|---|",
        ]
        for r in runs:
            if r["status"] != "ok":
                out.append(
                    f"| {r.get('dtype', '?')} | {r.get('threads', '?')} | — | all | — | "
                    f"— | — | — | {r['status']}: {r['reason']} |"
                )
                continue
            out += shape_rows(r, shape_floor(r, bandwidth, gemm))
        if ok:
            made = ", ".join(
                f"{r['dtype']} {r['made_s']:.1f} s"
                for r in runs
                if r["status"] == "ok" and r["threads"] == runs[0]["threads"]
            )
            out += [
                "",
                f"X: {_sig3(ok['bytes'] / 1e6)} MB read per epoch in {ok['dtype']} "
                f"(read once in {_sig3(1e3 * ok['read_s'])} ms in the worker), "
                f"{ok['flops'] / 1e9:.3g} GFLOP per epoch; data made in the worker "
                f"({made}).",
                "",
            ]
    out += [
        f"Each row: median (and range) of {args.repeats} single epochs through the public API, "
        f"each from a fresh model after one untimed warm-up on 2048 rows; learning_rate fixed "
        f"at {args.lr:g}, so the step-size computation of learning_rate='auto' is not timed. "
        "'fastreg fit' is fit(max_epochs=1, early_stopping=False). Threads: fastreg's n_threads, "
        "the BLAS threads (OMP/OPENBLAS/MKL_NUM_THREADS) and torch.set_num_threads. Floor = "
        "max(time to read X once: the smaller of bytes / best streaming read bandwidth at the "
        "row's thread count and a read of X itself in the worker (caches), 4 N d K flops "
        "(4 nnz K for CSR: nonzeros read once) / best one-thread GEMM rate of the dtype), "
        "the best of the machine probes before and after the shapes; ÷ floor = time / floor. "
        + OTHER_CPU_NOTE.replace("contender", "worker"),
        "",
    ]
    return "\n".join(out)
