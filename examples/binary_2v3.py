"""MNIST 2 vs 3 with logistic regression: the course's binary experiment in a few lines.

What it shows: loading MNIST with ``fastreg.datasets.load_mnist`` (``$FASTREG_DATA``, the cache
or the copy shipped inside the package: no network), keeping two digits with
``binary_subset`` (2 -> label 1, 3 -> label 0), and training ``fastreg.LogisticRegression``
with its defaults (``learning_rate="auto"``, batch 32, early stopping on a stratified 10 %
hold-out) on the raw uint8 pixels: ``input_scale=1/255`` scales them inside the kernels, so no
float copy of X is made. It then reads the fitted attributes, the predicted probabilities of a
few test images, and draws the weight vector as a 28x28 image (red pixels vote for "2", blue
for "3") with ``fastreg.plots.plot_weights`` when matplotlib is installed.

Run it::

    python examples/binary_2v3.py

Expected output (full data; both backends give the same numbers, under a second of training)::

    2 vs 3: 12089 training images (fit holds 10 % out for early stopping), 2042 test images
    epochs run 37, best epoch 28, learning rate 0.11
    P(digit is 2) for the first 5 test images: 1.00 0.29 0.00 0.00 1.00 (true: 2 3 3 3 2)
    test accuracy 0.9814
    wrote /tmp/fastreg-example-.../weights-2v3.png

The figure goes to ``$FASTREG_EXAMPLE_OUTPUT`` (a folder) when set, else to a new temporary
folder. ``FASTREG_EXAMPLE_SMALL=1`` trains on the first 2000 training images for at most 10
epochs (a few seconds in all; test accuracy about 0.97).
"""

import os
import tempfile

from fastreg import LogisticRegression
from fastreg.datasets import binary_subset, flatten, load_mnist
from fastreg.plots import PlotsUnavailable, plot_weights

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
    # (N, 28, 28) uint8 images -> (N, 784) rows, a view; 2 -> 1, 3 -> 0.
    X_train, y_train = binary_subset(flatten(data.X_train), data.y_train, positive=2, negative=3)
    X_test, y_test = binary_subset(flatten(data.X_test), data.y_test, positive=2, negative=3)
    max_epochs = 100
    if SMALL:
        X_train, y_train, max_epochs = X_train[:2000], y_train[:2000], 10

    clf = LogisticRegression(input_scale=1 / 255, max_epochs=max_epochs, random_state=0)
    clf.fit(X_train, y_train)

    print(
        f"2 vs 3: {len(X_train)} training images (fit holds 10 % out for early stopping), "
        f"{len(X_test)} test images"
    )
    print(
        f"epochs run {clf.n_iter_}, best epoch {clf.best_epoch_}, "
        f"learning rate {clf.learning_rate_:.2g}"
    )
    proba = clf.predict_proba(X_test[:5])[:, 1]  # column 1 is classes_[1] = 1, the digit 2
    truth = " ".join("2" if label == 1 else "3" for label in y_test[:5])
    print(
        f"P(digit is 2) for the first 5 test images: {' '.join(f'{p:.2f}' for p in proba)} "
        f"(true: {truth})"
    )
    print(f"test accuracy {clf.score(X_test, y_test):.4f}")

    path = os.path.join(output_dir(), "weights-2v3.png")
    try:
        plot_weights(clf.coef_, path, title="Logistic regression weights, 2 (red) vs 3 (blue)")
    except PlotsUnavailable as exc:
        print(f"no picture: {exc}")
    else:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
