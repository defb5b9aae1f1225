"""The pictures of a training run: loss and accuracy curves, and the learned weights as images.

The only module that draws; it writes files and never prints (only the command line,
:mod:`fastreg.cli`, and the progress bar print). It uses matplotlib's
object-oriented API with the Agg canvas (``matplotlib.figure.Figure``), never ``pyplot``: no
window opens, no global backend is switched under a notebook that imports fastreg, and it works
on a machine without a display. matplotlib is an optional dependency (the ``plot`` extra);
:func:`require_matplotlib` raises :class:`PlotsUnavailable` saying how to install it.

Inputs are plain data, so the pictures can be redrawn from the files a run writes:

``history``  a mapping of column name to a sequence, one entry per validation check, with at
             least ``step`` and ``train_loss``; ``val_loss``, ``train_accuracy``,
             ``val_accuracy`` and ``epoch`` are drawn when present (a column of NaN is skipped).
``coef``     the weights, ``(n_classes, n_pixels)`` for softmax regression or ``(n_pixels,)`` /
             ``(1, n_pixels)`` for the binary model, each row reshaped to ``image_shape``.
"""

import math

import numpy as np

#: Small files: a 6.4 x 4 inch figure at 100 dpi is 640 x 400 pixels.
DPI = 100
CURVE_SIZE = (6.4, 4.0)

INSTALL_HINT = (
    "matplotlib is not installed, so no pictures were drawn; install the plot extra with "
    "`pip install 'fastreg-sgd[plot]'` (or `pip install matplotlib`) to get them"
)


class PlotsUnavailable(ImportError):
    """matplotlib cannot be imported; the message says how to install it."""


def require_matplotlib():
    """Import and return matplotlib's ``Figure`` class, or raise :class:`PlotsUnavailable`."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # missing, or blocked (sys.modules["matplotlib"] = None)
        raise PlotsUnavailable(INSTALL_HINT) from exc
    return Figure


def _column(history, name):
    """``history[name]`` as a float array, or None when absent or entirely NaN."""
    if name not in history:
        return None
    values = np.asarray(history[name], dtype=float)
    if values.size == 0 or np.all(np.isnan(values)):
        return None
    return values


def _curve_figure(history, columns, ylabel, title):
    Figure = require_matplotlib()
    steps = _column(history, "step")
    if steps is None:
        raise ValueError("history has no 'step' column: cannot draw curves against training steps")
    fig = Figure(figsize=CURVE_SIZE, layout="constrained")
    ax = fig.add_subplot()
    drawn = 0
    for name, label, style in columns:
        values = _column(history, name)
        if values is None:
            continue
        if values.shape != steps.shape:
            raise ValueError(
                f"history column {name!r} has {values.size} entries but 'step' has {steps.size}"
            )
        ok = ~np.isnan(values)
        marker = "o" if ok.sum() <= 30 else None  # few checks: show where they were taken
        ax.plot(steps[ok], values[ok], style, marker=marker, markersize=3, label=label)
        drawn += 1
    if drawn == 0:
        raise ValueError(f"history holds none of the columns {[c[0] for c in columns]}")
    ax.set_xlabel("training step (mini-batch updates)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    _add_epoch_axis(ax, history, steps)
    return fig, ax


def _add_epoch_axis(ax, history, steps):
    """A top axis in epochs, when the history says how many steps an epoch has."""
    epochs = _column(history, "epoch")
    if epochs is None or steps.size < 1 or epochs[-1] <= 0 or steps[-1] <= 0:
        return
    steps_per_epoch = steps[-1] / epochs[-1]
    top = ax.secondary_xaxis(
        "top", functions=(lambda s: s / steps_per_epoch, lambda e: e * steps_per_epoch)
    )
    top.set_xlabel("epoch")


#: The train columns of a history are running means over the batches since the previous check,
#: each batch measured at the weights before its step, not a pass over the whole training set.
TRAIN_LABEL = "train (running mean over batches)"


def _mark_best(ax, best_step):
    if best_step is not None:
        ax.axvline(
            best_step,
            color="0.4",
            linestyle=":",
            linewidth=1.2,
            label=f"kept weights (step {int(best_step)})",
        )
        ax.legend()


def plot_loss(history, path, *, title="Cross-entropy loss", best_step=None):
    """Train and validation loss against training steps, saved as a PNG at ``path``.

    ``best_step`` (optional) marks the step whose weights the model kept with a dotted line.
    """
    fig, ax = _curve_figure(
        history,
        [("train_loss", TRAIN_LABEL, "-"), ("val_loss", "validation", "-")],
        "cross-entropy loss",
        title,
    )
    _mark_best(ax, best_step)
    fig.savefig(path, dpi=DPI)
    return path


def plot_accuracy(history, path, *, title="Accuracy", best_step=None):
    """Train and validation accuracy against training steps, saved as a PNG at ``path``."""
    from matplotlib.ticker import PercentFormatter

    fig, ax = _curve_figure(
        history,
        [("train_accuracy", TRAIN_LABEL, "-"), ("val_accuracy", "validation", "-")],
        "accuracy",
        title,
    )
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    _mark_best(ax, best_step)
    fig.savefig(path, dpi=DPI)
    return path


def plot_weights(coef, path, *, class_names=None, image_shape=(28, 28), title=None):
    """Each class's weight vector drawn as an image, saved as a PNG at ``path``.

    Every panel has its own colour scale, symmetric about zero (red: a bright pixel there
    raises the class's score; blue: lowers it), so that the shape of each template shows
    whatever its overall magnitude. ``class_names`` label the panels (one per row of ``coef``;
    default the row numbers, or no label for a single vector, which ``title`` describes).
    """
    Figure = require_matplotlib()
    W = np.asarray(coef, dtype=float)
    if W.ndim == 1:
        W = W[np.newaxis, :]
    n_pixels = int(np.prod(image_shape))
    if W.ndim != 2 or W.shape[1] != n_pixels:
        raise ValueError(
            f"coef has shape {np.shape(coef)}; expected (n_classes, {n_pixels}) or ({n_pixels},) "
            f"to draw {image_shape[0]}x{image_shape[1]} images"
        )
    n = W.shape[0]
    if class_names is None:
        class_names = [str(k) for k in range(n)] if n > 1 else [""]
    if len(class_names) != n:
        raise ValueError(f"{len(class_names)} class names given for {n} weight vectors")
    cols = min(n, 5)
    rows = math.ceil(n / cols)
    panel = 1.5 if n > 1 else 3.2
    fig = Figure(figsize=(panel * cols + 0.2, panel * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= n:
            continue
        image = W[k].reshape(image_shape)
        limit = float(np.max(np.abs(image))) or 1.0
        ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        if str(class_names[k]):
            ax.set_title(str(class_names[k]), fontsize=10)
    fig.suptitle(title or "Weights per class (red raises the score, blue lowers it)", fontsize=10)
    fig.savefig(path, dpi=DPI)
    return path
