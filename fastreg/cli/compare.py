"""``fastreg compare RUN_DIR...``: the summary and overlay pictures of runs that exist.

::

    fastreg compare runs/l2-small runs/l2-large runs/cosine --out runs/compare-l2

Each run is labelled by the settings that differ between the runs (``l2=0.01``, or
``l2=0, lr_schedule=cosine`` when several differ), read from the ``params`` of its
metrics.json (and the task, data set, digits and data file); when nothing differs, by its
folder name. The value axis of the pictures is the one setting that differs, drawn as
``fastreg sweep`` draws it; when several differ, the runs are categories. Writes summary.csv,
the overlays of :mod:`fastreg.cli.overlays` and report.html into ``--out`` (default
``runs/compare-<timestamp>``), written as a temporary sibling and renamed when complete, and
prints the summary table. A folder that is not a complete run (no metrics.json or
history.csv or model.npz, or a damaged one) is an error naming it, before anything is written;
so is an ``--out`` that is one of the runs or holds one.
"""

import os
from pathlib import Path

from . import run_folder, summary
from .arg_types import folder_name
from .errors import EXIT_OK, UsageError
from .parser import SWEEPABLE

PROG = "fastreg compare"
#: Recorded parameters that say nothing about the experiment (not used as labels).
IGNORED_PARAMS = ("verbose",)


def add_parser(sub, common):
    p = sub.add_parser(
        "compare",
        parents=[common],
        help="summarise runs and draw them over each other",
        description="Read run folders written by `fastreg train` or `fastreg sweep`, label "
        "each run by the settings that differ between them, print a summary table, and write "
        "summary.csv, val_loss.png, val_accuracy.png, final_accuracy.png, weight_norm.png, "
        "weights.png (with matplotlib) and report.html into --out.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders to compare")
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        type=folder_name,
        help="output folder, written as a temporary sibling and renamed when complete "
        "(default: runs/compare-<timestamp>/)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier comparison in --out, once the new one is complete",
    )
    return p


def run(args, argv=()):
    """The ``compare`` subcommand; returns the exit status."""
    paths = [Path(p) for p in args.runs]
    if len(paths) < 2:
        raise UsageError("compare needs two run folders or more", prog=PROG)
    seen = {}
    for path in paths:
        key = path.resolve()
        if key in seen:
            raise UsageError(f"{seen[key]} and {path} are the same run; name each once", prog=PROG)
        seen[key] = path
    runs = [summary.read_run(path) for path in paths]
    keys, labels = run_labels(runs)
    values = _axis_values(runs, keys, labels)
    axis_name = summary.option_label(keys[0]) if len(keys) == 1 else "run"
    _check_out_apart(args.out, paths)
    folder = run_folder.prepare_out_dir(
        args.out, "compare", overwrite=args.overwrite, holds=is_output_entry
    )
    # the summary's value column: the differing setting's value under its name, else labels
    shown = [_setting_text(v) for v in values] if len(keys) == 1 else labels
    rows = [summary.run_row(run, value, str(p)) for run, value, p in zip(runs, shown, paths)]
    # the page links each run's own report.html relative to where the page will be
    page_folder = folder.path.absolute().parent.resolve() / folder.path.name
    links = [os.path.relpath(path.resolve(), page_folder) for path in paths]
    try:
        with folder.writing() as temp:
            written = write_outputs(
                temp, runs, values, labels, rows, axis_name, links=links, swept=axis_name
            )
    except BaseException:
        folder.abandon()
        raise
    print(summary.format_table(rows, axis_name), flush=True)
    print(f"  wrote {folder.path}/: {', '.join(written)}", flush=True)
    return EXIT_OK


def write_outputs(
    folder, runs, values, labels, rows, axis_name, *, links, swept, plots=True, warn=True
):
    """summary.csv, the overlays and report.html of ``runs`` into ``folder``; the names
    written. Shared with ``fastreg sweep``. ``rows``: the summary rows (a sweep's include
    values without a run); ``links``: the folder of each row's run relative to ``folder``
    (None for a value without one), for the page; ``swept``: what the page calls the value;
    ``plots`` False (``--no-plots``): no pictures; ``warn`` False: no warning when matplotlib
    is missing (a sweep's runs gave it)."""
    from . import overlays

    summary.write_summary_csv(rows, folder / "summary.csv")
    written = ["summary.csv"]
    pictures = []
    if plots:
        pictures = overlays.draw_overlays(folder, runs, values, labels, axis_name, warn=warn)
    written += pictures
    try:
        from .html_report import write_sweep_report
    except ImportError:  # the page is written by a module that may be left out
        return written
    written.append(
        write_sweep_report(
            folder,
            swept=swept,
            rows=rows,
            pictures=pictures,
            runs=[(str(row["value"]), link) for row, link in zip(rows, links) if link],
        )
    )
    return written


def is_output_entry(name):
    """Whether ``name`` in an existing --out is what compare or sweep writes (so that
    --overwrite may replace the folder): summary.csv, a picture, report.html, or a sweep's
    ``<option>=<value>`` run folder."""
    from .overlays import PICTURES

    return name in ("summary.csv", "report.html", *PICTURES) or (
        "=" in name and not name.startswith(".")
    )


def _check_out_apart(out, paths):
    """--out may not be one of the runs or hold one: replacing it would delete them."""
    if out is None:
        return
    target = Path(out).expanduser().resolve()
    for path in paths:
        where = path.resolve()
        if where == target or target in where.parents:
            raise UsageError(
                f"--out {out} holds the run {path}; write the comparison to another folder",
                prog=PROG,
            )


# --------------------------------------------------------------------------- labels
def _settings(run):
    """What a run was trained with: its parameters, and the task and data it was given."""
    m = run.metrics
    settings = {k: v for k, v in run.params.items() if k not in IGNORED_PARAMS}
    for key in ("task", "dataset", "digits"):
        settings[key] = m.get(key)
    data = m.get("data")
    settings["data"] = data.get("source") if isinstance(data, dict) else None
    return settings


def run_labels(runs):
    """(the keys of the settings that differ, one label per run). Swept options first, the
    rest in alphabetical order; without any difference, the runs' folder names (their paths
    when names repeat)."""
    settings = [_settings(run) for run in runs]
    every = set().union(*settings)
    differing = [k for k in every if len({_hashable(s.get(k)) for s in settings}) > 1]
    order = list(SWEEPABLE)
    differing.sort(key=lambda k: (order.index(k) if k in order else len(order), k))
    if not differing:
        names = [run.path.name for run in runs]
        if len(set(names)) < len(names):
            names = [str(run.path) for run in runs]
        return [], names
    labels = [
        ", ".join(f"{_label_name(k)}={_setting_text(s.get(k))}" for k in differing)
        for s in settings
    ]
    return differing, labels


def _label_name(key):
    return key if key in ("task", "dataset", "digits", "data") else summary.option_label(key)


def _setting_text(value):
    if isinstance(value, dict):  # digits
        return "/".join(str(v) for v in value.values())
    return summary.value_text(value)


def _hashable(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _axis_values(runs, keys, labels):
    """The value of each run along the pictures' value axis: the one differing setting
    itself (so numbers get a number axis), else the labels (categories)."""
    if len(keys) == 1:
        return [_settings(run).get(keys[0]) for run in runs]
    return list(labels)
