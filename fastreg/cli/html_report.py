"""``report.html``: one self-contained page per run folder and per sweep folder.

:func:`write_run_report` turns a run's metrics.json record and the pictures beside it into a
page: title, results table, training facts, the test confusion matrix as a heat map, the
pictures, the parameters, the command and the machine. :func:`write_sweep_report` does the same
for a sweep: its summary table, its overlay pictures and links to each run's own page.

The page opens offline in any browser (everything inline, no script; see
:mod:`fastreg.cli.html_parts` for the rules every part keeps). It is written whole or not at
all (a temporary sibling, then ``os.replace``), replacing an earlier report. Records of older
runs lack keys and runs without a validation or test set hold nulls: those show as a dash with
a note, never as an error. Standard library only at import time.
"""

import json
from pathlib import Path

from .html_parts import (
    MISSING,
    Raw,
    confusion_matrix,
    esc,
    fmt_brief,
    fmt_general,
    fmt_loss,
    fmt_percent,
    fmt_seconds,
    fmt_yes_no,
    heat_legend,
    key_value_table,
    number,
    page,
    picture,
    relative_link,
    section,
    table,
    write_atomic,
)

REPORT = "report.html"
#: A metrics.json larger than this is not read (a real one is a few kilobytes).
MAX_RECORD_BYTES = 1024 * 1024
#: The pictures of a run folder, in the order shown, with their captions.
RUN_PICTURES = (
    ("loss.png", "Loss during training"),
    ("accuracy.png", "Accuracy during training"),
    ("weights.png", "The learned weights, one image per class"),
)
#: Files of a run folder the page links to when present.
RUN_DATA_FILES = ("metrics.json", "history.csv", "model.npz")


# --------------------------------------------------------------------------- one run
def write_run_report(folder, metrics):
    """Write ``folder/report.html`` for the run recorded in ``metrics`` (metrics.json's dict)
    with the pictures found in ``folder``; return ``"report.html"``."""
    folder = Path(folder)
    m = metrics if isinstance(metrics, dict) else {}
    title = run_title(m)
    parts = [f"<h1>{esc(title)}</h1>", f'<p class="sub">{_run_subtitle(m)}</p>']
    if m.get("interrupted"):
        parts.append(
            '<p class="banner"><strong>Interrupted.</strong> Training was stopped by Ctrl-C '
            "before its planned end; the model and the results below are those of the best "
            "weights seen until then.</p>"
        )
    parts.append(
        '<div class="grid2">'
        + section("Results", *_results(m))
        + section("Training", key_value_table(_training_facts(m)))
        + "</div>"
    )
    parts.append(section("Test confusion matrix", *_confusion(m)))
    figures = [picture(folder, name, caption) for name, caption in RUN_PICTURES]
    if figures[0] and figures[1]:  # the two curves side by side, the weights below
        figures[:2] = [f'<div class="grid2">{figures[0]}{figures[1]}</div>']
    figures = [f for f in figures if f] or [
        '<p class="note">No pictures in this folder (drawing them needs matplotlib, and '
        "<code>--no-plots</code> turns them off).</p>"
    ]
    parts.append(section("Pictures", *figures))
    if m.get("command"):
        parts.append(section("Command", f"<pre><code>{esc(m['command'])}</code></pre>"))
    params = m.get("params")
    params = key_value_table(sorted(params.items())) if isinstance(params, dict) else None
    parts.append(
        '<div class="grid2">'
        + section("Parameters", params or f'<p class="note">{MISSING}</p>')
        + section("Machine and versions", key_value_table(_machine(m)))
        + "</div>"
    )
    parts.append(section("Files", _file_links(folder)))
    return write_atomic(folder, page(title, "\n".join(parts)), REPORT)


def run_title(m):
    """ "Softmax regression on <data title> (10 classes)", from whatever the record holds."""
    return f"{_task_name(m)} on {_data_label(m)}"


def _task_name(m):
    from .parser import TASKS

    task = m.get("task")
    name = TASKS.get(task) if isinstance(task, str) else None
    return (name or str(m.get("estimator") or "Training run")).capitalize()


def _data_label(m):
    data = m.get("data") if isinstance(m.get("data"), dict) else {}
    source, kind = data.get("source"), data.get("kind")
    dataset = m.get("dataset")
    if source and source != dataset:  # the user's own file
        label = f"{source} ({kind})" if kind else str(source)
    else:
        label = _dataset_title(dataset or source)
    names = m.get("class_names")
    if not isinstance(names, list) or not names:
        return label
    if m.get("task") == "binary" and len(names) == 2:  # class_names: label 0, then label 1
        return f"{label}, {names[1]} (label 1) vs {names[0]} (label 0)"
    return f"{label} ({len(names)} classes)"


def _dataset_title(name):
    if not name:
        return "unknown data"
    from ..datasets._registry import get_spec
    from ..exceptions import InvalidParameterError

    try:
        return get_spec(name).title
    except InvalidParameterError:  # not a registered data set (a foreign record): its name
        return str(name)


def _run_subtitle(m):
    bits = []
    if m.get("created"):
        bits.append(f"created {esc(m['created'])}")
    if m.get("estimator"):
        bits.append(esc(m["estimator"]))
    if m.get("fastreg_version"):
        bits.append(f"fastreg {esc(m['fastreg_version'])}")
    return " \u00b7 ".join(bits) or MISSING


_PARTS = (("train", "n_train"), ("validation", "n_validation"), ("test", "n_test"))


def _results(m):
    rows, notes = [], []
    for part, size_key in _PARTS:
        s = m.get(part)
        s = s if isinstance(s, dict) else {}
        size = s.get("n_samples", m.get(size_key))
        rows.append(
            (esc(part), fmt_general(size), fmt_loss(s.get("loss")), fmt_percent(s.get("accuracy")))
        )
    if m.get("validation") is None:
        notes.append(
            "No validation set: the run had <code>--val-fraction 0</code>."
            if m.get("val_fraction") == 0 or m.get("n_validation") == 0
            else "No validation scores recorded."
        )
    if m.get("test") is None:
        notes.append("No test set: the data has none, so no test scores.")
    notes.append(
        "Loss: mean cross-entropy. Train scores are measured by the final model on the "
        "training set (not the running means of the curves)."
    )
    head = ("set", "images", "loss", "accuracy")
    out = [table(head, rows, numeric=(1, 2, 3))]
    out += [f'<p class="note">{note}</p>' for note in notes]
    return out


def _training_facts(m):
    params = m.get("params") if isinstance(m.get("params"), dict) else {}
    stop = fmt_yes_no(m.get("stopped_early"))
    if params.get("early_stopping") and params.get("patience") is not None:
        stop = f"{stop} (early stopping on, patience {fmt_general(params['patience'])})"
    facts = [
        ("epochs run", m.get("epochs_run")),
        ("best epoch", m.get("best_epoch")),
        ("stopped early", Raw(stop)),
        ("steps", m.get("steps")),
        ("learning rate used", m.get("learning_rate_used")),
        ("wall time (training)", Raw(fmt_seconds(m.get("wall_time_s")))),
        ("seconds per epoch", Raw(fmt_seconds(m.get("seconds_per_epoch")))),
        ("total time", Raw(fmt_seconds(m.get("total_time_s")))),
        ("backend", m.get("backend")),
        ("dtype", m.get("dtype")),
        ("seed", m.get("seed")),
        ("validation fraction", m.get("val_fraction")),
        ("\u2016W\u2016\u00b2", m.get("weight_norm_sq")),
    ]
    return [(k, v) for k, v in facts if k in _ALWAYS or v is not None]


_ALWAYS = {"epochs run", "best epoch", "stopped early", "wall time (training)"}


def _confusion(m):
    cm = m.get("test_confusion_matrix")
    if cm is None:
        return ['<p class="note">No test set, so no confusion matrix.</p>']
    grid = confusion_matrix(cm, m.get("class_names"))
    if grid is None:
        return ['<p class="note">The recorded confusion matrix is not a square table.</p>']
    return [
        grid,
        f'<p class="note">Rows: true class; columns: predicted class; counts of test images. '
        f"Colour: the share of the row (0 {heat_legend()} 100%, square-root scale so that small "
        "confusions show); the outlined diagonal holds "
        "the correct predictions; recall: the share of each class recognised.</p>",
    ]


def _file_links(folder):
    present = [name for name in RUN_DATA_FILES if (folder / name).is_file()]
    if not present:
        return f'<p class="note">{MISSING}</p>'
    items = "".join(
        f'<li><a href="{esc(relative_link("", name))}">{esc(name)}</a></li>' for name in present
    )
    return f"<ul>{items}</ul>"


def _machine(m):
    pairs = [("fastreg", m.get("fastreg_version")), ("created", m.get("created"))]
    machine = m.get("machine")
    if isinstance(machine, dict):
        pairs += list(machine.items())
    return [(k, v) for k, v in pairs if v is not None]


# --------------------------------------------------------------------------- a sweep
#: The summary columns: key in a row, heading, formatter.
SWEEP_COLUMNS = (
    ("epochs_run", "epochs", fmt_general),
    ("best_epoch", "best epoch", fmt_general),
    ("train_loss", "train loss", fmt_loss),
    ("train_accuracy", "train acc.", fmt_percent),
    ("val_loss", "val. loss", fmt_loss),
    ("val_accuracy", "val. acc.", fmt_percent),
    ("test_loss", "test loss", fmt_loss),
    ("test_accuracy", "test acc.", fmt_percent),
    ("weight_norm_sq", "\u2016W\u2016\u00b2", fmt_brief),
    ("wall_time_s", "wall time", fmt_seconds),
    ("interrupted", "interrupted", fmt_yes_no),
)


def write_sweep_report(folder, *, swept, rows, pictures, runs):
    """Write ``folder/report.html`` for a sweep over the option ``swept`` (e.g. ``"--l2"``);
    return ``"report.html"``.

    ``rows``: one dict per value, keys as in summary.csv (``value``, ``epochs_run``, ...,
    ``interrupted``; any may be None or absent). ``pictures``: names of PNGs in ``folder``.
    ``runs``: (label, folder relative to ``folder``) pairs, linked to each run's report.html;
    in the order of ``rows`` (when there are as many, the value cells link too).
    """
    folder = Path(folder)
    rows = [r if isinstance(r, dict) else {} for r in rows]
    runs = list(runs)
    title = f"Sweep of {swept}"
    about = _first_run_title(folder, runs)
    sub = f"{esc(about)}: " if about else ""
    sub += f"{len(rows)} values of {esc(swept)}"
    parts = [f"<h1>{esc(title)}</h1>", f'<p class="sub">{sub}</p>']
    if any(_truthy(r.get("interrupted")) for r in rows):
        parts.append(
            '<p class="banner"><strong>Interrupted.</strong> The sweep was stopped by Ctrl-C; '
            "the runs marked interrupted kept their best weights until then.</p>"
        )
    parts.append(section("Summary", *_sweep_table(swept, rows, runs)))
    figures = [picture(folder, name, Path(name).stem.replace("_", " ")) for name in pictures]
    figures = [f for f in figures if f]
    grid = f'<div class="grid2">{"".join(figures)}</div>' if figures else None
    parts.append(section("Pictures", grid or '<p class="note">No pictures.</p>'))
    if runs:
        items = "".join(
            f'<li><a href="{esc(relative_link(path, REPORT))}">{esc(label)}</a> '
            f"<code>{esc(path)}</code></li>"
            for label, path in runs
        )
        parts.append(section("Runs", f"<ul>{items}</ul>"))
    return write_atomic(folder, page(title, "\n".join(parts)), REPORT)


def _first_run_title(folder, runs):
    """The title of the first run (its task and data: the same for every run of a sweep),
    from its metrics.json; None when it cannot be read."""
    if not runs:
        return None
    path = folder / runs[0][1] / "metrics.json"
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            return None
        with open(path, encoding="utf-8") as fh:
            record = json.load(fh)
    except (OSError, ValueError):
        return None
    return run_title(record) if isinstance(record, dict) else None


def _sweep_table(swept, rows, runs):
    columns = [c for c in SWEEP_COLUMNS if any(r.get(c[0]) is not None for r in rows)]
    empty = [c[1] for c in SWEEP_COLUMNS if c not in columns]
    best = _lowest(rows, "val_loss")
    linked = len(runs) == len(rows)
    body, classes = [], []
    for k, r in enumerate(rows):
        value = fmt_general(r.get("value"))
        if linked:
            value = f'<a href="{esc(relative_link(runs[k][1], REPORT))}">{value}</a>'
        body.append([value] + [fmt(r.get(key)) for key, _, fmt in columns])
        classes.append("best" if k == best else None)
    head = [esc(swept)] + [esc(heading) for _, heading, _ in columns]
    out = [table(head, body, numeric=range(1, len(head)), classes=classes)]
    if best is not None:
        out.append('<p class="note">Highlighted: the lowest validation loss.</p>')
    if empty:
        out.append(f'<p class="note">No values recorded for: {esc(", ".join(empty))}.</p>')
    return out


def _lowest(rows, key):
    values = [(number(r.get(key)), k) for k, r in enumerate(rows)]
    values = [(v, k) for v, k in values if v is not None]
    return min(values)[1] if values else None


def _truthy(value):
    if isinstance(value, str):  # read back from summary.csv
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)
