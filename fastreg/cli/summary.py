"""The summary of several runs: read run folders, one row per run, summary.csv and a table.

``fastreg sweep`` and ``fastreg compare`` both build their summary here, from the files each
run folder holds (what ``train`` wrote), so a sweep's summary and a later ``compare`` of the
same folders agree number for number. :func:`read_run` reads one folder: metrics.json (at most
:data:`MAX_METRICS_BYTES`), history.csv (at most :data:`MAX_HISTORY_BYTES`) and the weights of
model.npz (through the model loader, which never unpickles and checks every array before it
inflates it). A folder without these, or with a damaged one, is a CLIError naming the folder
and the file. metrics.json keys that are missing (older runs) or null (no validation or test
set) give empty cells, never an error.

A row's keys are the columns of summary.csv (:data:`COLUMNS`), shared with the sweep page of
:mod:`fastreg.cli.html_report`. ``||W||^2`` is the sum of the squared weights (``coef_``, the
intercept excluded, the term the L2 penalty multiplies); metrics.json's ``weight_norm_sq`` is
taken when recorded, else it is computed from model.npz.
"""

import csv
import json
import math
import re
from pathlib import Path

import numpy as np

from .errors import CLIError
from .evaluate import MAX_METRICS_BYTES
from .report import loss_text

#: history.csv has a row per validation check (a few kB per 100 epochs): 16 MiB is plenty.
MAX_HISTORY_BYTES = 16 << 20
#: summary.csv's columns after ``value`` (and before ``run``, ``status``), in order.
RESULT_COLUMNS = (
    "epochs_run",
    "best_epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
    "weight_norm_sq",
    "wall_time_s",
    "interrupted",
)
#: ``value``: the swept value (or a run's label); ``status``: complete, interrupted, not run
#: (a sweep stopped before it), failed (``note`` says why); ``run``: the folder.
COLUMNS = ("value", *RESULT_COLUMNS, "status", "run", "note")


class Run:
    """One run folder as read: ``path``, ``metrics`` (metrics.json's dict), ``history``
    (column name -> float array, NaN for empty cells) and ``coef`` (the weights, 2-D
    ``(K, d)``, float64)."""

    def __init__(self, path, metrics, history, coef):
        self.path = Path(path)
        self.metrics = metrics
        self.history = history
        self.coef = coef

    @property
    def params(self):
        params = self.metrics.get("params")
        return params if isinstance(params, dict) else {}

    @property
    def weight_norm_sq(self):
        recorded = _number(self.metrics.get("weight_norm_sq"))
        if recorded is not None:
            return recorded
        return float(np.sum(np.square(self.coef))) if self.coef is not None else None

    @property
    def image_shape(self):
        """(H, W) of a weight image: metrics.json's ``image_shape`` when it fits the weights,
        else the square root of their length when that is whole, else None."""
        if self.coef is None:
            return None
        d = self.coef.shape[1]
        shape = self.metrics.get("image_shape")
        if (
            isinstance(shape, list)
            and len(shape) == 2
            and all(type(v) is int and v > 0 for v in shape)
            and shape[0] * shape[1] == d
        ):
            return tuple(shape)
        side = math.isqrt(d)
        return (side, side) if side * side == d else None

    @property
    def class_names(self):
        names = self.metrics.get("class_names")
        if isinstance(names, list) and self.coef is not None and len(names) == len(self.coef):
            return [str(n) for n in names]
        return [str(k) for k in range(0 if self.coef is None else len(self.coef))]


def read_run(path):
    """Read the run folder ``path``; CLIError naming the folder and the file at fault."""
    path = Path(path)
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a folder"
        raise CLIError(f"{path} {what}; name run folders written by `fastreg train`")
    metrics = _read_metrics(path)
    history = _read_history(path)
    coef = _read_coef(path)
    return Run(path, metrics, history, coef)


def _missing(path, name):
    return CLIError(
        f"{path} is not a complete run folder: it has no {name}; name folders written by "
        "`fastreg train` or `fastreg sweep`"
    )


def _damaged(path, name, why):
    return CLIError(
        f"{path / name} is damaged ({why}); rerun `fastreg train` for that run, or leave "
        "the folder out"
    )


def _read_bytes(path, name, limit):
    try:
        with open(path / name, "rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise _missing(path, name) from None
    except OSError as exc:
        raise CLIError(
            f"cannot read {path / name}: {exc.strerror or exc}; check its permissions"
        ) from exc
    if len(data) > limit:
        raise _damaged(path, name, f"larger than {limit >> 20} MiB, far more than a run writes")
    return data


def _read_metrics(path):
    data = _read_bytes(path, "metrics.json", MAX_METRICS_BYTES)
    try:
        record = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _damaged(path, "metrics.json", f"not valid JSON: {type(exc).__name__}") from exc
    if not isinstance(record, dict):
        raise _damaged(path, "metrics.json", "not a JSON object")
    return record


def _read_history(path):
    text = _read_bytes(path, "history.csv", MAX_HISTORY_BYTES)
    try:
        rows = list(csv.reader(text.decode("utf-8").splitlines()))
    except (ValueError, csv.Error) as exc:
        raise _damaged(path, "history.csv", f"not CSV text: {exc}") from exc
    if not rows or not rows[0]:
        raise _damaged(path, "history.csv", "no header row")
    header = rows[0]
    columns = {name: [] for name in header}
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise _damaged(
                path, "history.csv", f"line {number} has {len(row)} fields, not {len(header)}"
            )
        for name, cell in zip(header, row):
            try:
                columns[name].append(float(cell) if cell.strip() else math.nan)
            except ValueError:
                raise _damaged(
                    path, "history.csv", f"line {number}, column {name!r}: {cell[:20]!r}"
                ) from None
    return {name: np.asarray(values, dtype=float) for name, values in columns.items()}


def _read_coef(path):
    from ..exceptions import ModelFileError
    from ..linear_model import load

    if not (path / "model.npz").is_file():
        raise _missing(path, "model.npz")
    try:
        model = load(path / "model.npz")
    except ModelFileError as exc:
        raise _damaged(path, "model.npz", exc.reason) from exc
    except OSError as exc:
        raise CLIError(f"cannot read {path / 'model.npz'}: {exc.strerror or exc}") from exc
    return np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))


# --------------------------------------------------------------------------- names
def option_label(param):
    """How a parameter is named in labels and folder names: its option without the dashes
    (``learning_rate`` -> ``lr``, ``batch_size`` -> ``batch_size``, ``shuffle`` ->
    ``shuffle``), or the parameter's own name when it has no option."""
    from .parser import SWEEPABLE

    flag = SWEEPABLE.get(param)
    if flag is None:
        from .._validation import PARAMETERS

        spec = PARAMETERS.get(param)
        flag = spec.flag if spec is not None and spec.kind != "bool" else None
    return flag[2:].replace("-", "_") if flag else param


def value_text(value):
    """A value as labels, folder names and summary.csv show it: on/off for switches, the
    shortest text that reads back as the same number (``0.001``, ``1e-05``, ``0`` for 0.0),
    names as they are."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return "none" if value is None else str(value)


def folder_name(param, value):
    """The run folder of one value of a sweep: ``l2=0.001``, ``shuffle=off``; characters a
    file system may refuse become ``_``."""
    return re.sub(r"[^A-Za-z0-9._+=-]", "_", f"{option_label(param)}={value_text(value)}")


# --------------------------------------------------------------------------- rows
def _number(value):
    """A finite number from JSON, else None (null, missing, a string, a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _part(metrics, part, key):
    scores = metrics.get(part)
    return _number(scores.get(key)) if isinstance(scores, dict) else None


def run_row(run, value, folder_name):
    """The summary row of ``run``: ``value`` (the swept value or the run's label) and its
    results as metrics.json records them; ``folder_name`` is shown in the ``run`` column."""
    m = run.metrics
    interrupted = m.get("interrupted") is True
    return {
        "value": value,
        "epochs_run": _number(m.get("epochs_run")),
        "best_epoch": _number(m.get("best_epoch")),
        "train_loss": _part(m, "train", "loss"),
        "train_accuracy": _part(m, "train", "accuracy"),
        "val_loss": _part(m, "validation", "loss"),
        "val_accuracy": _part(m, "validation", "accuracy"),
        "test_loss": _part(m, "test", "loss"),
        "test_accuracy": _part(m, "test", "accuracy"),
        "weight_norm_sq": run.weight_norm_sq,
        "wall_time_s": _number(m.get("wall_time_s")),
        "interrupted": interrupted,
        "status": "interrupted" if interrupted else "complete",
        "run": folder_name,
        "note": "",
    }


def missing_row(value, status, note=""):
    """The row of a value that has no run folder: ``status`` "not run" or "failed"."""
    row = dict.fromkeys(COLUMNS)
    row.update(value=value, status=status, run="", note=note, interrupted=status == "not run")
    return row


def write_summary_csv(rows, path):
    """``rows`` as summary.csv: :data:`COLUMNS`; numbers as Python writes them (they read
    back exactly), None as an empty cell, booleans as true/false."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_cell(row.get(key)) for key in COLUMNS])
    return path


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


# --------------------------------------------------------------------------- printed table
def format_table(rows, heading):
    """The summary as text: one line per row, ``heading`` over the value column."""
    heads = [heading, "epochs", "best", "train acc", "val acc", "test acc", "val loss"]
    heads += ["||W||^2", "time", "status"]
    body = []
    for r in rows:
        body.append(
            [
                str(r.get("value")),
                _int_text(r.get("epochs_run")),
                _int_text(r.get("best_epoch")),
                _percent(r.get("train_accuracy")),
                _percent(r.get("val_accuracy")),
                _percent(r.get("test_accuracy")),
                "-" if r.get("val_loss") is None else loss_text(r["val_loss"]),
                "-" if r.get("weight_norm_sq") is None else f"{r['weight_norm_sq']:.4g}",
                "-" if r.get("wall_time_s") is None else f"{r['wall_time_s']:.2f} s",
                r.get("status") or "",
            ]
        )
    widths = [max(len(line[i]) for line in [heads, *body]) for i in range(len(heads))]
    lines = []
    for line in [heads, *body]:
        cells = [line[0].ljust(widths[0])]
        cells += [cell.rjust(w) for cell, w in zip(line[1:-1], widths[1:-1])]
        cells.append(line[-1])
        lines.append("  " + "  ".join(cells).rstrip())
    notes = [f"  {r['value']}: {r['note']}" for r in rows if r.get("note")]
    return "\n".join(lines + notes)


def _int_text(value):
    return "-" if value is None else str(int(value))


def _percent(value):
    return "-" if value is None else f"{100 * value:.2f}%"
