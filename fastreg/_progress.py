"""Training progress for ``verbose`` estimators: a tqdm bar when tqdm is installed, else lines.

Each finished epoch shows the epoch, the running train loss, and the last check's validation
loss and accuracy (when there is a validation set). This module and the command line are the
only places of the library that print. The fit driver (:mod:`fastreg._training.fit`) creates
one when ``verbose`` is set and hands its ``epoch_end`` to the trainer as a callback.
"""

import math
import sys


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


def _draws_in_place(file):
    """Whether a bar redrawn in place suits ``file``: a terminal, or a notebook's output
    (tqdm.auto draws a widget there). A log file or a pipe gets lines instead: a bar there
    would be one long line of ``\\r``-joined redraws."""
    if "ipykernel" in sys.modules and file is sys.stderr:
        return True
    try:
        return file.isatty()
    except (AttributeError, ValueError, OSError):  # closed, or a stream without a descriptor
        return False


def _fmt(value, spec):
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else format(value, spec)
    )


class EpochProgress:
    """Report training progress once per epoch.

    ``verbose`` 1 draws a tqdm bar (epochs as units, the metrics as its postfix) when tqdm is
    importable and ``file`` is a terminal (or a notebook's output), else prints one line per
    epoch to ``file`` (stderr by default, where tqdm draws too, so that stdout keeps only
    results); ``verbose`` >= 2 always prints the lines, which suits logs and notebooks that
    keep output.
    """

    def __init__(self, total_epochs, *, verbose=1, desc="fit", file=None):
        self.total = int(total_epochs)
        self.desc = desc
        self.file = sys.stderr if file is None else file
        self.bar = None
        tqdm = _tqdm() if verbose == 1 and _draws_in_place(self.file) else None
        if tqdm is not None:
            self.bar = tqdm(
                total=self.total,
                desc=desc,
                unit="epoch",
                file=file,
                dynamic_ncols=True,
                leave=True,
            )

    def epoch_end(self, epoch, train_loss, history):
        """Called after each epoch with its mean train loss and the history so far."""
        val_loss = history["val_loss"][-1] if history["val_loss"] else math.nan
        val_acc = history["val_accuracy"][-1] if history["val_accuracy"] else math.nan
        lr = history["learning_rate"][-1] if history["learning_rate"] else math.nan
        if self.bar is not None:
            self.bar.set_postfix_str(
                f"loss={_fmt(train_loss, '.4f')} val_loss={_fmt(val_loss, '.4f')} "
                f"val_acc={_fmt(val_acc, '.4f')}",
                refresh=False,
            )
            self.bar.update(1)
            return
        print(
            f"{self.desc} epoch {epoch}/{self.total}: train loss {_fmt(train_loss, '.4f')}, "
            f"val loss {_fmt(val_loss, '.4f')}, val accuracy {_fmt(val_acc, '.4f')}, "
            f"lr {_fmt(lr, '.3g')}",
            file=self.file,
            flush=True,
        )

    def close(self, note=None):
        """End the bar; print ``note`` (early stop, divergence) if given."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            if note:
                self.bar_note(note)
            return
        if note:
            print(f"{self.desc}: {note}", file=self.file, flush=True)

    def bar_note(self, note):
        tqdm = _tqdm()
        tqdm.write(f"{self.desc}: {note}", file=self.file)
