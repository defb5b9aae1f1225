"""The pictures of a sweep or a comparison: several runs drawn over each other.

``val_loss.png`` and ``val_accuracy.png``: the validation curves, one line per run, against
epochs. ``final_accuracy.png``: train, validation and test accuracy of the final models
against the swept value; ``weight_norm.png``: ``||W||^2`` against it. ``weights.png``: the
weight images of every run side by side (softmax: a row per run, a column per class; binary:
one row, a panel per run).

The value axis: numbers spanning two decades or more get a log axis; when 0 is among them
(``--l2 0 0.001 0.01 0.1 1``, the usual regularisation sweep) a symmetric-log axis that is
linear between 0 and the smallest positive value (``linthresh``), so that 0 sits one decade
left of it and every value is evenly spread. Other numbers get a linear axis; names
(``--lr-schedule``, ``--shuffle``, the labels of runs that differ in several options) are
categories, drawn as points without joining lines.

Colour scales of the weight images: symmetric about zero with the diverging map of
:mod:`fastreg.plots` (red raises the score, blue lowers it), one scale per model (a row of a
softmax grid, a panel of the binary row). An L2 sweep changes the size of the weights by
decades, which a single scale would hide for all but the largest; each model's largest
``|w|`` is written under it, and ``weight_norm.png`` compares the sizes.

Like :mod:`fastreg.plots`: the object-oriented Figure API with the Agg canvas, never pyplot;
matplotlib is imported when drawing, and without it the pictures are skipped with one warning.
Each ``*_figure`` function returns the Figure (tests look at its axes); :func:`draw_overlays`
saves them.
"""

import math
import numbers
import warnings

import numpy as np

from ..plots import CURVE_SIZE, DPI, PlotsUnavailable, require_matplotlib

#: The files :func:`draw_overlays` may write, in the order it writes them.
PICTURES = ("val_loss.png", "val_accuracy.png", "final_accuracy.png", "weight_norm.png")
PICTURES += ("weights.png",)
#: Two decades or more between the smallest and the largest positive value: a log axis.
LOG_SPAN = 100.0


def draw_overlays(folder, runs, values, labels, axis_name, *, warn=True):
    """Draw the pictures of ``runs`` (:class:`fastreg.cli.summary.Run`, with ``values`` the
    value of each on the value axis and ``labels`` its legend entry) into ``folder``; return
    the names written. A picture without data (no validation set, say) is left out; without
    matplotlib none is drawn, with one warning (none with ``warn`` False: a sweep's runs
    said it already)."""
    rows = [_results(run) for run in runs]
    makers = {
        "val_loss.png": lambda: curves_figure(
            runs, values, labels, "val_loss", f"Validation loss per {axis_name}"
        ),
        "val_accuracy.png": lambda: curves_figure(
            runs, values, labels, "val_accuracy", f"Validation accuracy per {axis_name}"
        ),
        "final_accuracy.png": lambda: final_accuracy_figure(values, labels, rows, axis_name),
        "weight_norm.png": lambda: weight_norm_figure(values, labels, rows, axis_name),
        "weights.png": lambda: weights_figure(runs, labels),
    }
    written = []
    try:
        for name in PICTURES:
            fig = makers[name]()
            if fig is not None:
                fig.savefig(folder / name, dpi=DPI)
                written.append(name)
    except PlotsUnavailable as exc:
        if warn:
            warnings.warn(str(exc), stacklevel=2)
        return []
    return written


def _results(run):
    m = run.metrics
    accuracy = {}
    for part in ("train", "validation", "test"):
        scores = m.get(part)
        value = scores.get("accuracy") if isinstance(scores, dict) else None
        accuracy[part] = _finite(value)
    return {"accuracy": accuracy, "weight_norm_sq": run.weight_norm_sq}


def _finite(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value) if math.isfinite(value) else None


# --------------------------------------------------------------------------- value axis
def value_axis(values):
    """How to draw ``values`` along an axis: ``("categorical", None)``, ``("linear", None)``,
    ``("log", None)`` or ``("symlog", linthresh)`` (see the module docstring)."""
    if not values or any(_finite(v) is None for v in values):
        return "categorical", None
    numbers_ = [float(v) for v in values]
    positive = [v for v in numbers_ if v > 0]
    if min(numbers_) < 0 or len(positive) < 2 or max(positive) / min(positive) < LOG_SPAN:
        return "linear", None
    if 0.0 in numbers_:
        return "symlog", min(positive)
    return "log", None


def _place(ax, values, labels):
    """Set the value axis of ``ax``; return the x position of each value and whether the
    points may be joined by a line (numbers: yes, in increasing order)."""
    kind, linthresh = value_axis(values)
    if kind == "categorical":
        positions = np.arange(len(values), dtype=float)
        ax.set_xticks(positions, [str(label) for label in labels])
        if max(len(str(label)) for label in labels) > 10:
            ax.tick_params(axis="x", labelrotation=20)
        ax.set_xlim(-0.5, len(values) - 0.5)
        return positions, False
    positions = np.asarray(values, dtype=float)
    if kind == "log":
        ax.set_xscale("log")
    elif kind == "symlog":
        ax.set_xscale("symlog", linthresh=linthresh)
    return positions, True


def _colours(values):
    """One colour per value: in order along viridis for numbers (a trend reads as a
    gradient), the categorical cycle for names."""
    from matplotlib import colormaps

    if value_axis(values)[0] == "categorical":
        cycle = colormaps["tab10"]
        return [cycle(k % 10) for k in range(len(values))]
    ranks = np.argsort(np.argsort(np.asarray(values, dtype=float)))
    span = max(len(values) - 1, 1)
    return [colormaps["viridis"](0.9 * r / span) for r in ranks]


# --------------------------------------------------------------------------- curves
def epoch_axis(run):
    """The x of each history row in epochs: the step over the steps of one epoch
    (ceil(n_train / batch_size) from metrics.json), else the history's own epoch column."""
    history, m = run.history, run.metrics
    steps = history.get("step")
    n_train, batch = _finite(m.get("n_train")), _finite(run.params.get("batch_size"))
    if steps is not None and n_train and batch:
        return steps / math.ceil(n_train / batch)
    return history.get("epoch")


def curves_figure(runs, values, labels, column, title):
    """History column ``column`` (``val_loss``, ``val_accuracy``) of each run against epochs,
    one line per run, coloured by its value; None when no run has the column."""
    Figure = require_matplotlib()
    lines = []
    for run, label, colour in zip(runs, labels, _colours(values)):
        y, x = run.history.get(column), epoch_axis(run)
        if y is None or x is None or x.shape != y.shape or np.all(np.isnan(y)):
            continue
        ok = ~np.isnan(y)
        lines.append((x[ok], y[ok], label, colour))
    if not lines:
        return None
    fig = Figure(figsize=CURVE_SIZE, layout="constrained")
    ax = fig.add_subplot()
    for x, y, label, colour in lines:
        marker = "o" if len(x) <= 30 else None
        ax.plot(x, y, color=colour, marker=marker, markersize=3, label=str(label))
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs
    ax.set_xlabel("epoch")
    ax.set_ylabel(column.replace("val_", "validation "))
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if "accuracy" in column:
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------- against the value
def final_accuracy_figure(values, labels, rows, axis_name):
    """Train, validation and test accuracy of each run's final model against its value."""
    Figure = require_matplotlib()
    from matplotlib.ticker import PercentFormatter

    parts = ("train", "validation", "test")
    series = [(part, [r["accuracy"][part] for r in rows]) for part in parts]
    series = [(part, ys) for part, ys in series if any(y is not None for y in ys)]
    if not series:
        return None
    fig = Figure(figsize=CURVE_SIZE, layout="constrained")
    ax = fig.add_subplot()
    x, joined = _place(ax, values, labels)
    for (part, ys), marker in zip(series, ("o", "s", "^")):
        _points(ax, x, ys, joined, marker=marker, label=part)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_xlabel(axis_name)
    ax.set_ylabel("accuracy of the final model")
    ax.set_title(f"Final accuracy per {axis_name}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def weight_norm_figure(values, labels, rows, axis_name):
    """``||W||^2`` of each run against its value (log y when it spans two decades)."""
    Figure = require_matplotlib()
    ys = [r["weight_norm_sq"] for r in rows]
    present = [y for y in ys if y is not None]
    if not present:
        return None
    fig = Figure(figsize=CURVE_SIZE, layout="constrained")
    ax = fig.add_subplot()
    x, joined = _place(ax, values, labels)
    _points(ax, x, ys, joined, marker="o", label="||W||^2")
    if min(present) > 0 and max(present) / min(present) >= LOG_SPAN:
        ax.set_yscale("log")
    ax.set_xlabel(axis_name)
    ax.set_ylabel("$||W||^2$ (sum of squared weights)")
    ax.set_title(f"Size of the weights per {axis_name}")
    ax.grid(True, alpha=0.3)
    return fig


def _points(ax, x, ys, joined, **style):
    keep = [k for k, y in enumerate(ys) if y is not None]
    xs, yv = x[keep], np.asarray([ys[k] for k in keep], dtype=float)
    if joined:
        order = np.argsort(xs, kind="stable")
        ax.plot(xs[order], yv[order], linestyle="-", markersize=5, **style)
    else:
        ax.plot(xs, yv, linestyle="none", markersize=7, **style)


# --------------------------------------------------------------------------- weights
def weights_figure(runs, labels):
    """The weight images of every run side by side; None when no run's weights are images."""
    Figure = require_matplotlib()
    shown = [(run, label) for run, label in zip(runs, labels) if run.image_shape is not None]
    if not shown:
        return None
    binary = all(len(run.coef) == 1 for run, _ in shown)
    if binary:  # one row: a panel per run
        rows, cols, panel = 1, len(shown), 2.0
    else:  # a row per run, a column per class
        rows, cols, panel = len(shown), max(len(run.coef) for run, _ in shown), 1.1
    fig = Figure(figsize=(panel * cols + 1.2, panel * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    for r, (run, label) in enumerate(shown):
        limit = float(np.max(np.abs(run.coef))) or 1.0
        names = run.class_names
        for k, w in enumerate(run.coef):
            ax = axes[0, r] if binary else axes[r, k]
            ax.imshow(
                w.reshape(run.image_shape),
                cmap="RdBu_r",
                vmin=-limit,
                vmax=limit,
                interpolation="nearest",
            )
            if binary:
                ax.set_title(str(label), fontsize=9)
                ax.set_xlabel(f"max |w| {limit:.3g}", fontsize=8)
            elif r == 0:
                ax.set_title(names[k], fontsize=9)
        if not binary:
            text = str(label).replace(", ", "\n")  # a label of several options: one a line
            axes[r, 0].set_ylabel(
                f"{text}\nmax |w| {limit:.3g}", fontsize=8, rotation=0, ha="right", va="center"
            )
            for k in range(len(run.coef), cols):
                axes[r, k].set_visible(False)
    fig.suptitle(
        "Weights (red raises the score, blue lowers it; one colour scale per model)", fontsize=10
    )
    return fig
