"""What the contenders share: the MNIST loader, the epoch timer, the errors a worker reports."""

import os
import time

BINARY_DIGITS = (2, 3)  # positive, negative: fastreg.datasets.prepare's reference binary task
DEFAULT_TARGET = {"softmax": 0.925, "binary": 0.975}
BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class NotAvailable(Exception):
    """The contender cannot run here (a library is missing, the extension is not built)."""


class DataMissing(Exception):
    """MNIST could not be loaded; every contender would fail the same way."""


def target(args, task):
    return args.target_accuracy if args.target_accuracy is not None else DEFAULT_TARGET[task]


def machine_module():
    """``benchmarks/_machine.py`` (the probes), importable from any working directory."""
    import sys

    if BENCHMARKS not in sys.path:
        sys.path.insert(0, BENCHMARKS)
    import _machine

    return _machine


def load_task(task, dtype, rows=None, download=False):
    """``(X_train, y_train, X_test, y_test, n_outputs)`` for ``task``, labels ``np.intc``.

    X is (N, 784), C-contiguous, x / 255 in ``dtype``; ``rows`` keeps the first rows of the
    training set (after the binary subset), the test set is always whole.
    """
    import numpy as np

    try:
        from fastreg.datasets import DatasetError, load_mnist, prepare
    except ImportError as exc:
        raise DataMissing(f"fastreg.datasets is not importable: {exc}") from exc
    try:
        data = load_mnist(
            download=download, verify=os.environ.get("FASTREG_COMPARE_VERIFY", "1") != "0"
        )
    except (FileNotFoundError, DatasetError) as exc:
        raise DataMissing(
            f"{exc}\n(compare.py reads MNIST through FASTREG_DATA; pass "
            "--download to let it fetch the files into the cache)"
        ) from exc
    digits = BINARY_DIGITS if task == "binary" else None
    ready = prepare(data, digits=digits, val_fraction=None, dtype=np.dtype(dtype))
    X, y = ready.X_train[:rows], ready.y_train[:rows]  # rows=None keeps them all
    n_outputs = 1 if task == "binary" else 10
    as_labels = lambda v: np.ascontiguousarray(v, dtype=np.intc)  # noqa: E731
    return (
        np.ascontiguousarray(X),
        as_labels(y),
        np.ascontiguousarray(ready.X_test),
        as_labels(ready.y_test),
        n_outputs,
    )


def timed_epochs(run_epoch, evaluate, args):
    """Run ``max(epochs, repeats + 1)`` epochs; time each, evaluate after epoch ``epochs``."""
    times, accuracy, status = [], None, None
    for epoch in range(1, max(args.epochs, args.repeats + 1) + 1):
        t0 = time.perf_counter()
        status = run_epoch(epoch)
        times.append(time.perf_counter() - t0)
        if status == "diverged":
            break
        if epoch == args.epochs:
            accuracy = evaluate()
    timed = times[1 : 1 + args.repeats]
    return {
        "epoch_ms": [1e3 * t for t in timed],
        "test_accuracy": accuracy,
        "epochs_run": len(times),
        "diverged": status == "diverged",
    }


def fastreg_estimator(task):
    """``fastreg.SoftmaxRegression`` (or ``LogisticRegression`` for the binary task)."""
    name = "LogisticRegression" if task == "binary" else "SoftmaxRegression"
    try:
        import fastreg
    except ImportError as exc:
        raise NotAvailable(f"fastreg is not importable ({exc})") from exc
    cls = getattr(fastreg, name, None)
    if cls is None:
        try:
            from fastreg import linear_model
        except ImportError as exc:
            raise NotAvailable(f"fastreg.{name} is not importable ({exc})") from exc
        cls = getattr(linear_model, name, None)
    if cls is None:
        raise NotAvailable(f"fastreg has no {name}")
    return cls


def timed_fit(model, X, y):
    t0 = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - t0
