"""``sklearn-lbfgs``: ``LogisticRegression(solver="lbfgs")`` with scikit-learn's defaults.

One whole fit; fastreg-fit's time to accuracy is set against its time.
"""

import time

from ._common import NotAvailable, load_task

NAME = "sklearn-lbfgs"


def work(args):
    import warnings

    try:
        import sklearn
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise NotAvailable(f"scikit-learn is not installed ({exc})") from exc
    X, y, X_test, y_test, _ = load_task(args.task, args.dtype, args.rows, args.download)
    times = []
    for _ in range(args.fit_repeats):
        clf = LogisticRegression(solver="lbfgs")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            t0 = time.perf_counter()
            clf.fit(X, y)
            times.append(time.perf_counter() - t0)
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    n_iter = int(clf.n_iter_.max())
    how = "converged" if converged else f"max_iter={clf.max_iter} reached"
    return {
        "fit_s": times,
        "test_accuracy": float(clf.score(X_test, y_test)),
        "notes": f"scikit-learn {sklearn.__version__} defaults (C={clf.C:g}): {n_iter} "
        f"iterations, {how}",
    }
