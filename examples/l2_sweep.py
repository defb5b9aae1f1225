"""A sweep of the L2 penalty lambda (``l2``) for MNIST 2 vs 3, chosen on a validation set.

What it shows: the objective is J = mean cross-entropy + lambda ||w||^2 (the bias is not
penalised). The script holds out one fixed, stratified validation set with
``fastreg.datasets.train_val_split`` (the same rule as ``fit``'s own hold-out), trains one
``LogisticRegression`` per lambda for a fixed number of epochs (``early_stopping=False``, so
that lambda alone differs between the runs), and measures each model's validation loss with
``fastreg.loss_and_grad`` (the plain cross-entropy: ``l2=0``). Larger lambdas shrink the
weights (the ||w||^2 column); past some point they underfit and the validation loss rises. The
lambda of lowest validation loss is kept and the test set is used once, on that model. A plot
of validation loss and ||w||^2 against lambda is drawn when matplotlib is installed.

The same search with scikit-learn (the estimator is a scikit-learn classifier)::

    from sklearn.model_selection import GridSearchCV
    search = GridSearchCV(LogisticRegression(input_scale=1 / 255, early_stopping=False,
                                             max_epochs=20), {"l2": L2_GRID}, cv=3,
                          scoring="neg_log_loss").fit(X_train, y_train)

Run it::

    python examples/l2_sweep.py

Expected output (full data; about a second in all with the Cython backend)::

    2 vs 3: 10880 training and 1209 validation images, 20 epochs per lambda
      lambda  val loss  val accuracy  ||w||^2
           0    0.0887        96.77%    26.75
       1e-05    0.0887        96.77%    26.15
      0.0001    0.0882        96.86%    24.06
       0.001    0.0884        96.77%    13.63
        0.01    0.1116        96.53%     4.01
         0.1    0.2056        95.29%     0.92
    chosen lambda 0.0001 (lowest validation loss)
    test accuracy 0.9794
    wrote /tmp/fastreg-example-.../l2-sweep.png

The figure goes to ``$FASTREG_EXAMPLE_OUTPUT`` (a folder) when set, else to a new temporary
folder. ``FASTREG_EXAMPLE_SMALL=1`` uses the first 1000 training images and 10 epochs (a few
seconds).
"""

import os
import tempfile

import numpy as np

from fastreg import LogisticRegression, loss_and_grad
from fastreg.datasets import binary_subset, flatten, load_mnist, scale_pixels, train_val_split

SMALL = os.environ.get("FASTREG_EXAMPLE_SMALL", "") not in ("", "0")
L2_GRID = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]


def output_dir():
    """Where pictures go: $FASTREG_EXAMPLE_OUTPUT, else a new temporary folder."""
    path = os.environ.get("FASTREG_EXAMPLE_OUTPUT")
    if path:
        os.makedirs(path, exist_ok=True)
        return path
    return tempfile.mkdtemp(prefix="fastreg-example-")


def plot_sweep(grid, val_loss, norms, path):
    """Validation loss and ||w||^2 against lambda; False when matplotlib is missing."""
    try:
        from matplotlib.figure import Figure  # the object-oriented API: no window, no pyplot
    except ImportError:
        return False
    x = np.maximum(grid, grid[1] / 10)  # lambda = 0 drawn one decade left of the smallest
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.subplots()
    ax.semilogx(x, val_loss, "o-", label="validation loss")
    ax.set_xlabel("lambda (l2); the leftmost point is lambda = 0")
    ax.set_ylabel("validation cross-entropy")
    right = ax.twinx()
    right.semilogx(x, norms, "s--", color="tab:orange", label="||w||^2")
    right.set_ylabel("||w||^2")
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="center left")
    ax.set_title("Logistic regression, 2 vs 3: the L2 penalty")
    fig.savefig(path, dpi=100)
    return True


def main():
    data = load_mnist()
    X, y = binary_subset(flatten(data.X_train), data.y_train, positive=2, negative=3)
    X_test, y_test = binary_subset(flatten(data.X_test), data.y_test, positive=2, negative=3)
    epochs = 20
    if SMALL:
        X, y, epochs = X[:1000], y[:1000], 10
    split = train_val_split(X, y, val_fraction=0.1, random_state=0)
    X_val = scale_pixels(split.X_val, np.float32)  # loss_and_grad takes floats, not uint8
    print(
        f"2 vs 3: {len(split.X_train)} training and {len(split.X_val)} validation images, "
        f"{epochs} epochs per lambda"
    )

    print("  lambda  val loss  val accuracy  ||w||^2")
    models, val_loss, norms = [], [], []
    for l2 in L2_GRID:
        clf = LogisticRegression(
            input_scale=1 / 255,
            l2=l2,
            early_stopping=False,
            max_epochs=epochs,
            dtype="float32",
            random_state=0,
        )
        clf.fit(split.X_train, split.y_train)
        loss, _, _ = loss_and_grad(X_val, split.y_val, clf.coef_, clf.intercept_, l2=0.0)
        norm = float(np.sum(clf.coef_.astype(np.float64) ** 2))
        models.append(clf)
        val_loss.append(loss)
        norms.append(norm)
        print(f"{l2:8g}  {loss:8.4f}  {clf.score(split.X_val, split.y_val):12.2%}  {norm:7.2f}")

    best = int(np.argmin(val_loss))
    print(f"chosen lambda {L2_GRID[best]:g} (lowest validation loss)")
    print(f"test accuracy {models[best].score(X_test, y_test):.4f}")

    path = os.path.join(output_dir(), "l2-sweep.png")
    if plot_sweep(np.array(L2_GRID), val_loss, norms, path):
        print(f"wrote {path}")
    else:
        print("no picture: matplotlib is not installed (pip install 'fastreg-sgd[plot]')")


if __name__ == "__main__":
    main()
