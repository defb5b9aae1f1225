"""All ten MNIST digits with softmax regression, stopped early on a validation set.

What it shows: ``fastreg.SoftmaxRegression`` trained on the uint8 pixels (``input_scale=1/255``)
with early stopping, the estimator's default. ``fit`` holds out a stratified
``validation_fraction`` of the training rows (10 %), checks the validation loss after every
epoch (``validation_interval=1``), stops after ``patience`` checks without an improvement of
more than ``min_delta``, and returns the weights of the best check, not the last: the epochs
after ``best_epoch_`` are the price of knowing that the loss stopped falling. ``history_``
holds one row per check (step, epoch, learning rate, train and validation loss and accuracy);
the script prints every fifth row and the best one, and draws the loss curves with the kept
weights marked (``fastreg.plots.plot_loss``) when matplotlib is installed.

Run it::

    python examples/digits_early_stopping.py

Expected output (full data; both backends give the same numbers, 1-2 s of training with the
Cython backend)::

    ten digits: 60000 training images (fit holds 10 % out for validation), 10000 test images
    epoch  train loss  val loss  val accuracy
        1      0.4603    0.3574        90.08%
        5      0.2906    0.3014        91.58%
       10      0.2724    0.2921        91.93%
       15      0.2640    0.2860        92.08%
       20      0.2590    0.2859        91.93%
       25      0.2548    0.2824        92.12%  <- best: these weights are kept
       30      0.2519    0.2837        91.93%
       35      0.2494    0.2876        91.87%
    stopped after 35 epochs (patience 10): best epoch 25
    test accuracy 0.9260
    wrote /tmp/fastreg-example-.../loss-digits.png

The figure goes to ``$FASTREG_EXAMPLE_OUTPUT`` (a folder) when set, else to a new temporary
folder. ``FASTREG_EXAMPLE_SMALL=1`` trains on the first 6000 training images with
``patience=5`` (at most 60 epochs), and tests on the first 2000 test images (a few
seconds; it stops after 33 epochs, best epoch 28, test accuracy about 0.88).
"""

import os
import tempfile

import numpy as np

from fastreg import SoftmaxRegression
from fastreg.datasets import flatten, load_mnist
from fastreg.plots import PlotsUnavailable, plot_loss

SMALL = os.environ.get("FASTREG_EXAMPLE_SMALL", "") not in ("", "0")


def output_dir():
    """Where pictures go: $FASTREG_EXAMPLE_OUTPUT, else a new temporary folder."""
    path = os.environ.get("FASTREG_EXAMPLE_OUTPUT")
    if path:
        os.makedirs(path, exist_ok=True)
        return path
    return tempfile.mkdtemp(prefix="fastreg-example-")


def main():
    data = load_mnist()
    X_train, y_train = flatten(data.X_train), data.y_train  # (60000, 784) uint8, a view
    X_test, y_test = flatten(data.X_test), data.y_test
    params = dict(max_epochs=100, patience=10)
    if SMALL:
        X_train, y_train = X_train[:6000], y_train[:6000]
        X_test, y_test = X_test[:2000], y_test[:2000]
        params = dict(max_epochs=60, patience=5)

    clf = SoftmaxRegression(
        input_scale=1 / 255,
        early_stopping=True,
        validation_fraction=0.1,
        min_delta=1e-4,
        random_state=0,
        **params,
    )
    clf.fit(X_train, y_train)
    print(
        f"ten digits: {len(X_train)} training images (fit holds 10 % out for validation), "
        f"{len(X_test)} test images"
    )

    history = clf.history_
    epochs = np.asarray(history["epoch"])
    best = int(np.argmin(history["val_loss"]))  # the check whose weights were kept
    print("epoch  train loss  val loss  val accuracy")
    for i, epoch in enumerate(epochs):
        if epoch % 5 and i != best and i != len(epochs) - 1 and epoch != 1:
            continue
        mark = "  <- best: these weights are kept" if i == best else ""
        print(
            f"{epoch:5d}  {history['train_loss'][i]:10.4f}  {history['val_loss'][i]:8.4f}  "
            f"{history['val_accuracy'][i]:12.2%}{mark}"
        )
    stopped = "patience" if clf.n_iter_ < clf.max_epochs else "max_epochs"
    print(
        f"stopped after {clf.n_iter_} epochs ({stopped} {getattr(clf, stopped)}): "
        f"best epoch {clf.best_epoch_}"
    )
    print(f"test accuracy {clf.score(X_test, y_test):.4f}")

    path = os.path.join(output_dir(), "loss-digits.png")
    try:
        plot_loss(
            history, path, title="Softmax regression, ten digits", best_step=history["step"][best]
        )
    except PlotsUnavailable as exc:
        print(f"no picture: {exc}")
    else:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
