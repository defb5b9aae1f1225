"""What a run leaves behind: history.csv, metrics.json, model.npz, the pictures and
report.html, and the text printed at the end of ``train`` and by ``evaluate``.

Names shown to the user (the data's title, its class names) come from :mod:`.names`.
"""

import csv
import json
import math
import os
import re
import warnings
from pathlib import Path

import numpy as np

from ..datasets._registry import get_spec
from .errors import CLIError
from .names import pair_label, run_label
from .parser import TASKS
from .run_folder import RUN_FILES  # noqa: F401 - the names a run folder holds

#: the pictures of a run: curves always, the weight images when a row is an image
PICTURES = ("loss.png", "accuracy.png", "weights.png")


# --------------------------------------------------------------------------- run files
def write_run(
    out_dir,
    model,
    metrics,
    *,
    plots=True,
    class_names=None,
    weights_title=None,
    image_shape=None,
    shown_as=None,
):
    """Write history.csv, metrics.json, model.npz, the pictures and report.html; return the
    names written.

    ``out_dir`` is the temporary folder of :meth:`.run_folder.RunFolder.writing`; errors name
    ``shown_as`` (the final ``--out``) instead, and say that nothing was kept.

    ``class_names`` label the weight images of a multi-class model (a binary model's single
    image is described by ``weights_title``); the weights are drawn as images of
    ``image_shape`` (H, W) only when one is given. Without matplotlib the pictures are skipped
    with one warning saying how to get them.
    """
    from .html_report import write_run_report

    out_dir = Path(out_dir)
    written = []
    try:
        write_history_csv(model.history_, out_dir / "history.csv")
        written.append("history.csv")
        write_json(metrics, out_dir / "metrics.json")
        written.append("metrics.json")
        model.save(out_dir / "model.npz")
        written.append("model.npz")
        if plots:
            written += _draw(out_dir, model, metrics, class_names, weights_title, image_shape)
        written.append(write_run_report(out_dir, metrics))
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and shown_as is None else ""
        raise CLIError(
            f"cannot write the results into {shown_as or out_dir}: "
            f"{exc.strerror or exc}{where}; nothing was kept (failed after "
            f"{', '.join(written) or 'no file'}); free some space or choose "
            "another --out DIR"
        ) from exc
    return written


def _draw(out_dir, model, metrics, class_names, weights_title, image_shape):
    from ..plots import PlotsUnavailable, plot_accuracy, plot_loss, plot_weights

    # no curves when no check was made (a Ctrl-C before the first one): nothing to draw
    drawn = list(PICTURES[:2]) if model.history_.get("step") else []
    try:
        label = f"{metrics['data']['title']}, {TASKS[metrics['task']]}"
        best = kept_step(model.history_, metrics["params"].get("early_stopping", False))
        if drawn:
            plot_loss(
                model.history_, out_dir / "loss.png", title=f"Loss ({label})", best_step=best
            )
            plot_accuracy(
                model.history_,
                out_dir / "accuracy.png",
                title=f"Accuracy ({label})",
                best_step=best,
            )
        if image_shape is not None:
            coef = model.coef_
            names = class_names if coef.shape[0] > 1 else None
            plot_weights(
                coef,
                out_dir / "weights.png",
                class_names=names,
                title=weights_title,
                image_shape=tuple(image_shape),
            )
            drawn.append(PICTURES[2])
    except PlotsUnavailable as exc:
        warnings.warn(str(exc), stacklevel=2)
        return []
    return drawn


def kept_step(history, early_stopping):
    """The step whose weights the model holds: the lowest validation loss under early
    stopping (the trainer keeps those), else the last check."""
    steps = history.get("step") or []
    if not steps:
        return None
    val = np.asarray(history.get("val_loss") or [], dtype=float)
    if early_stopping and val.size == len(steps) and not np.all(np.isnan(val)):
        return int(steps[int(np.nanargmin(val))])
    return int(steps[-1])


def write_history_csv(history, path):
    """One row per validation check, columns in the history's order; NaN as an empty field."""
    keys = list(history)
    rows = len(history[keys[0]]) if keys else 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(keys)
        for i in range(rows):
            writer.writerow([_csv_value(history[k][i]) for k in keys])
    return path


def _csv_value(value):
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    return value


def write_json(record, path):
    """``record`` as indented JSON; NaN and infinities become null (JSON has no NaN)."""
    with open(path, "w", encoding="utf-8") as fh:
        text = json.dumps(_json_safe(record), indent=2, allow_nan=False)
        fh.write(_INNER_LIST.sub(_one_line, text) + "\n")
    return path


# a list of numbers only (a row of the confusion matrix): one line instead of one per number
_INNER_LIST = re.compile(r"\[\s*((?:-?[\d.eE+-]+,\s*)*-?[\d.eE+-]+)\s*\]")


def _one_line(match):
    return "[" + ", ".join(v.strip() for v in match.group(1).split(",")) + "]"


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.dtype):
        return value.name
    return value


# --------------------------------------------------------------------------- printed text
def print_summary(metrics, out_dir, written):
    """The short report of a training run, on stdout."""
    m = metrics
    stop = (
        f"early stopping, patience {m['params'].get('patience')}"
        if m["params"].get("early_stopping")
        else "no early stopping"
    )
    if m.get("interrupted"):
        stop = f"interrupted by Ctrl-C; {stop}"
    lines = [
        "",
        f"{TASKS[m['task']]} on {run_label(m)}",
        f"  backend     {m['backend']}, {m['dtype']}",
        f"  epochs      {m['epochs_run']} run, best epoch {m['best_epoch']} ({stop})",
        f"  wall time   {m['wall_time_s']:.2f} s training ({m['seconds_per_epoch']:.3f} s per "
        f"epoch), {m['total_time_s']:.2f} s in all",
        f"  {'':<12}{'loss':>8}  {'accuracy':>9}",
    ]
    for part in ("train", "validation", "test"):
        s = m[part]
        if s is None:
            why = "--val-fraction 0" if part == "validation" else "the data has no test set"
            lines.append(f"  {part:<12}{'-':>8}  {'-':>9}  ({why})")
        else:
            lines.append(f"  {part:<12}{loss_text(s['loss']):>8}  {100 * s['accuracy']:>8.2f}%")
    lines.append(f"  wrote       {out_dir}{os.sep}: {', '.join(written)}")
    if m.get("interrupted"):
        lines.append("  interrupted: the model holds the best weights so far")
    print("\n".join(lines), flush=True)


def loss_text(loss):
    return f"{loss:.4f}" if abs(loss) < 1000 else f"{loss:.3g}"


def print_evaluation(path, model, dataset, digits, scores, cm, names, note=""):
    """The report of ``evaluate``, on stdout."""
    n = scores["n_samples"]
    correct = int(np.trace(cm))
    pair = "" if digits is None else ", " + pair_label(dataset, digits)
    print(
        f"model      {path}: {type(model).__name__}, {len(model.classes_)} classes, "
        f"{np.dtype(model.coef_.dtype).name}, {model.n_iter_} epochs"
    )
    print(f"data       {get_spec(dataset).title} test set{pair}: {n} images{note}")
    print(f"accuracy   {100 * scores['accuracy']:.2f}% ({correct} of {n} correct)")
    print(f"loss       {loss_text(scores['loss'])} (mean cross-entropy)")
    print(format_confusion_matrix(cm, names))


def format_confusion_matrix(cm, names):
    """The matrix as text: rows true class, columns predicted class, labelled by ``names``.

    Long names (of clothes, say) are replaced by their index in the grid and listed below it.
    """
    cm = np.asarray(cm)
    short = all(len(str(name)) <= 3 for name in names)
    labels = [str(name) for name in names] if short else [str(k) for k in range(len(names))]
    width = max(max(len(str(v)) for v in cm.ravel()), max(len(s) for s in labels), 3) + 1
    head = max(len(s) for s in labels) + 2
    lines = [
        "confusion matrix (rows: true class, columns: predicted class)",
        " " * (head + 2) + "".join(f"{s:>{width}}" for s in labels),
    ]
    for label, row in zip(labels, cm):
        lines.append(f"  {label:>{head}}" + "".join(f"{v:>{width}}" for v in row))
    if not short:
        lines.append("  classes: " + ", ".join(f"{k} {name}" for k, name in enumerate(names)))
    return "\n".join(lines)
