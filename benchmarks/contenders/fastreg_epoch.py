"""``fastreg-cython``, ``fastreg-numpy``: the backend's fused epoch kernel, called directly.

``get_backend(name).epoch`` (coef (K, d), K = 1 for the binary task) over a fresh seeded
permutation, constant learning rate, zero start.
"""

from ._common import NotAvailable, load_task, timed_epochs

NAMES = ("fastreg-cython", "fastreg-numpy")


def work(args, backend_name):
    import numpy as np

    import fastreg

    try:
        backend = fastreg.get_backend(backend_name)
    except ImportError as exc:  # BackendUnavailableError: the compiled backend is not built
        raise NotAvailable(getattr(exc, "reason", str(exc))) from exc
    X, y, X_test, y_test, K = load_task(args.task, args.dtype, args.rows, args.download)
    n, d = X.shape
    dtype = X.dtype
    # one layout for both tasks: coef (K, d), intercept (K,); K = 1 is the logistic model
    coef, intercept = np.zeros((K, d), dtype), np.zeros(K, dtype)
    epoch_fn = backend.epoch
    B = args.batch_size
    lrs = np.full(-(-n // B), args.lr, dtype=np.float64)
    rng = np.random.default_rng(args.seed)

    def run_epoch(_):
        order = rng.permutation(n)
        loss, _acc = epoch_fn(
            X, y, coef, intercept, order, B, lrs, args.l2, n_threads=args.threads
        )
        return "diverged" if not np.isfinite(loss) else None

    def evaluate():
        Z = X_test @ coef.T + intercept
        pred = (Z[:, 0] >= 0).astype(np.intc) if K == 1 else np.argmax(Z, axis=1)
        return float(np.mean(pred == y_test))

    result = timed_epochs(run_epoch, evaluate, args)
    result.update(
        n_train=n,
        n_features=d,
        n_outputs=K,
        notes=f"{backend.name} backend's {epoch_fn.__name__}, lr {args.lr:g}",
    )
    return result


def work_cython(args):
    return work(args, "cython")


def work_numpy(args):
    return work(args, "numpy")
