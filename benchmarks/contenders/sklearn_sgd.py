"""``sklearn-sgd``: ``SGDClassifier(loss="log_loss")``, one epoch per ``partial_fit``.

Per-sample updates (it has no mini-batches), one-vs-rest for 10 classes, scikit-learn's default
'optimal' schedule.
"""

from ._common import NotAvailable, load_task, timed_epochs

NAME = "sklearn-sgd"


def work(args):
    import numpy as np

    try:
        import sklearn
        from sklearn.linear_model import SGDClassifier
    except ImportError as exc:
        raise NotAvailable(f"scikit-learn is not installed ({exc})") from exc
    X, y, X_test, y_test, K = load_task(args.task, args.dtype, args.rows, args.download)
    clf = SGDClassifier(loss="log_loss", random_state=args.seed, n_jobs=args.threads)
    classes = np.unique(np.concatenate([y, y_test]))

    def run_epoch(_):
        clf.partial_fit(X, y, classes=classes)
        if not np.all(np.isfinite(clf.coef_)):
            return "diverged"
        return None

    result = timed_epochs(run_epoch, lambda: float(clf.score(X_test, y_test)), args)
    ovr = ", one-vs-rest" if K > 1 else ""
    result.update(
        notes=f"scikit-learn {sklearn.__version__}: per-sample SGD (no mini-batches)"
        f"{ovr}, alpha {clf.alpha:g}, '{clf.learning_rate}' schedule, "
        f"n_jobs {args.threads}"
    )
    return result
