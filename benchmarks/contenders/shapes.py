"""``shapes``: one epoch through the public API on random data of many shapes (``--shapes``).

One worker per (shape, dtype, thread count) builds the shape's data once, in memory, from
``--seed`` (never written to disk), then times, for each ``--batch-size``:

``fastreg partial_fit``
    ``SoftmaxRegression(learning_rate=LR, batch_size=B, n_threads=T).partial_fit(X, y,
    classes)`` once: one epoch from a fresh model (``LogisticRegression`` when K = 1). The
    learning rate is fixed (``--lr``, 0.01 by default) so the step-size computation of
    ``learning_rate="auto"`` is not timed.
``fastreg kernel``
    the compiled epoch kernel alone, ``fastreg.get_backend("cython").epoch`` (``sparse_epoch``
    for CSR) on the same data, batch size, learning rate and threads, from zero weights: what
    ``partial_fit`` costs without the estimator around it (the shuffle and the buffers are
    made before the clock starts).
``fastreg fit``
    the same estimator with ``max_epochs=1, early_stopping=False``: ``fit``'s one epoch, with
    everything ``fit`` does around it (input checks, the shuffle, the final loss).
``fastreg-numpy partial_fit``
    ``partial_fit`` as above with ``backend="numpy"``: the NumPy twin, through the same API.
``torch``
    when ``import torch`` works (never a dependency): ``nn.Linear`` + cross-entropy (binary
    cross-entropy for K = 1) + ``optim.SGD`` at the same learning rate, one epoch over
    ``torch.randperm`` in batches of B, ``torch.set_num_threads(T)``; dense shapes only.

Each contender runs once untimed on the first 2048 rows (imports, thread pools), then
``--repeats`` times on all of X, each from a fresh model; the worker reports every time. Dense
X is standard normal / sqrt(d) (rows of about unit norm, so lr 0.01 never diverges), C order,
in the dtype; labels balanced over the K classes (0/1 when K = 1), every class present (N is
never scaled below K: ``fit`` infers the classes from y, ``partial_fit`` is given all K). The
sparse ``text`` shape is ``benchmarks/sparse_text.make_text`` (tf-idf-like CSR, about 60
nonzeros a row, 20 classes). The worker also reads X once (``_machine.read_time``, on X itself)
for the floor.
"""

import time
import warnings

from ._common import BENCHMARKS, NotAvailable

NAMES = ("shapes",)
API_CONTENDERS = (
    "fastreg partial_fit",
    "fastreg kernel",
    "fastreg fit",
    "fastreg-numpy partial_fit",
    "torch",
)
WARMUP_ROWS = 2048
MIN_ROWS = 64  # --rows-scale never shrinks a shape below this


class Shape:
    """A data shape of the matrix: N rows (scaled by ``--rows-scale``), d features, K outputs
    (K = 1: the binary logistic model), ``sparse`` for the text-like CSR data."""

    def __init__(self, name, n, d, k, what, sparse=False):
        self.name, self.n, self.d, self.k, self.what, self.sparse = name, n, d, k, what, sparse

    def rows(self, scale, every_class=True):
        """N times ``scale``, at least MIN_ROWS, and at least K when ``every_class``."""
        return max(MIN_ROWS, self.k if every_class else 1, round(self.n * scale))


SHAPES = {
    s.name: s
    for s in (
        Shape("mnist", 60000, 784, 10, "MNIST-like"),
        Shape("cifar", 50000, 3072, 10, "CIFAR-like"),
        Shape("classes-100", 60000, 784, 100, "many classes"),
        Shape("classes-1000", 10000, 784, 1000, "very many classes"),
        Shape("few-features", 500000, 54, 7, "few features (covertype-like)"),
        Shape("wide", 5000, 20000, 10, "wide"),
        Shape("binary-small", 100000, 20, 1, "binary, small d"),
        Shape("binary-large", 20000, 5000, 1, "binary, large d"),
        Shape("text", 200000, 100000, 20, "sparse text-like CSR, ~60 nonzeros a row", sparse=True),
    )
}


def make_data(shape, n, dtype, seed):
    """``(X, y)`` of ``shape`` with ``n`` rows in ``dtype`` (module docstring), labels np.intc."""
    import numpy as np

    if shape.sparse:
        import sys

        if BENCHMARKS not in sys.path:
            sys.path.insert(0, BENCHMARKS)
        import sparse_text

        return sparse_text.make_text(n, shape.d, shape.k, dtype=np.dtype(dtype), seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, shape.d), dtype=np.dtype(dtype))
    X *= X.dtype.type(1.0 / np.sqrt(shape.d))
    y = rng.permutation(np.arange(n) % max(2, shape.k)).astype(np.intc)  # every class seen
    return X, y


def data_bytes(X):
    """Bytes one epoch reads: X's values (and, for CSR, its indices and row pointers)."""
    if hasattr(X, "indptr"):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def read_seconds(X, threads):
    """Best time to read X once, measured on X itself (``_machine.read_time``: what the caches
    keep between passes is credited); for CSR, its values, indices and row pointers."""
    from ._common import machine_module

    _machine = machine_module()
    arrays = (X.data, X.indices, X.indptr) if hasattr(X, "indptr") else (X,)
    return sum(_machine.read_time(a, threads) for a in arrays)


def data_flops(X, k):
    """4 N d K for dense X (the logits and the gradient products), 4 nnz K for CSR."""
    if hasattr(X, "nnz"):
        return 4 * X.nnz * k
    return 4 * X.shape[0] * X.shape[1] * k


ESTIMATOR_HOW = {
    "fastreg partial_fit": "partial_fit",
    "fastreg fit": "fit",
    "fastreg-numpy partial_fit": "numpy",
}


def estimator_epoch(shape, how, lr, batch, threads, seed):
    """``(model, epoch)``: a fresh estimator and the call that runs its one epoch on (X, y).

    ``how``: "partial_fit" (the default backend), "numpy" (partial_fit on backend="numpy") or
    "fit" (max_epochs=1, early_stopping=False); ``LogisticRegression`` when K = 1.
    """
    import numpy as np

    import fastreg

    cls = fastreg.LogisticRegression if shape.k == 1 else fastreg.SoftmaxRegression
    params = dict(learning_rate=lr, batch_size=batch, n_threads=threads, random_state=seed)
    if how == "numpy":
        params["backend"] = "numpy"
    if how == "fit":
        params.update(max_epochs=1, early_stopping=False)
    model = cls(**params)
    if how == "fit":
        return model, model.fit
    classes = np.arange(max(2, shape.k))
    return model, lambda X, y: model.partial_fit(X, y, classes=classes)


def _estimator_run(shape, args, batch, how):
    def run(X, y):
        model, epoch = estimator_epoch(shape, how, args.lr, batch, args.threads, args.seed)
        t0 = time.perf_counter()
        epoch(X, y)
        seconds = time.perf_counter() - t0
        return seconds, f"{type(model).__name__} on the {model.backend_} backend"

    return run


def _kernel_run(shape, args, batch):
    import numpy as np

    import fastreg

    if "cython" not in fastreg.available_backends():
        raise NotAvailable("the compiled backend is not built")
    kernels = fastreg.get_backend("cython")

    def run(X, y):
        n, d = X.shape
        coef = np.zeros((shape.k, d), X.dtype)
        intercept = np.zeros(shape.k, X.dtype)
        order = np.random.default_rng(args.seed).permutation(n)
        rates = np.full(-(-n // batch), args.lr)
        codes = np.ascontiguousarray(y, dtype=np.intc)
        t0 = time.perf_counter()
        if shape.sparse:
            kernels.sparse_epoch(X, codes, coef, intercept, order, batch, rates, 0.0, args.threads)
        else:
            kernels.epoch(X, codes, coef, intercept, order, batch, rates, 0.0, 1.0, args.threads)
        seconds = time.perf_counter() - t0
        return seconds, "the compiled epoch kernel alone (shuffle and buffers made before)"

    return run


def _torch_run(shape, args, batch, dtype):
    from .torch_sgd import import_torch

    torch, F = import_torch()
    if shape.sparse:
        raise NotAvailable("the torch contender times dense X only")
    torch.set_num_threads(args.threads)
    tdtype = torch.float32 if dtype == "float32" else torch.float64

    def run(X, y):
        Xt = torch.from_numpy(X)
        yt = torch.from_numpy(y).to(tdtype) if shape.k == 1 else torch.from_numpy(y).long()
        model = torch.nn.Linear(shape.d, shape.k, dtype=tdtype)
        opt = torch.optim.SGD(model.parameters(), lr=args.lr)
        gen = torch.Generator().manual_seed(args.seed)
        t0 = time.perf_counter()
        perm = torch.randperm(X.shape[0], generator=gen)
        for start in range(0, X.shape[0], batch):
            idx = perm[start : start + batch]
            out = model(Xt[idx])
            loss = (
                F.binary_cross_entropy_with_logits(out.squeeze(1), yt[idx])
                if shape.k == 1
                else F.cross_entropy(out, yt[idx])
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - t0
        return seconds, f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads"

    return run


def runner(name, shape, args, batch, dtype):
    if name in ESTIMATOR_HOW:
        return _estimator_run(shape, args, batch, ESTIMATOR_HOW[name])
    if name == "fastreg kernel":
        return _kernel_run(shape, args, batch)
    if name == "torch":
        return _torch_run(shape, args, batch, dtype)
    raise ValueError(f"unknown shape contender {name!r}: choose from {API_CONTENDERS}")


def time_one(name, shape, args, batch, X, y):
    """``{"contender", "batch", "status": "ok", "ms": [...], "notes"}`` or a status and reason."""
    row = {"contender": name, "batch": batch}
    try:
        run = runner(name, shape, args, batch, args.dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            run(X[:WARMUP_ROWS], y[:WARMUP_ROWS])
            timed = [run(X, y) for _ in range(args.repeats)]
    except NotAvailable as exc:
        return dict(row, status="not available", reason=str(exc))
    except Exception as exc:  # noqa: BLE001  (a contender that cannot run gets a row saying why)
        return dict(row, status="failed", reason=f"{type(exc).__name__}: {exc}")
    return dict(row, status="ok", ms=[1e3 * s for s, _ in timed], notes=timed[-1][1])


def work(args):
    """One shape, one dtype, one thread count: every ``--batch-size`` and shape contender."""
    shape = SHAPES[args.shape]
    t0 = time.perf_counter()
    X, y = make_data(shape, shape.rows(args.rows_scale), args.dtype, args.seed)
    made_s = time.perf_counter() - t0
    # X is read once before any contender (and the read timed for the floor): measured, the
    # first contender's epochs otherwise ran up to 20% slower than the same code timed later
    read_s = read_seconds(X, args.threads)
    rows = [
        time_one(name, shape, args, batch, X, y)
        for batch in args.batch_size
        for name in args.shape_contenders
    ]
    return {
        "shape": shape.name,
        "n": X.shape[0],
        "d": X.shape[1],
        "k": shape.k,
        "dtype": args.dtype,
        "threads": args.threads,
        "bytes": data_bytes(X),
        "flops": data_flops(X, shape.k),
        "nnz": int(getattr(X, "nnz", X.size)),
        "read_s": read_s,
        "made_s": made_s,
        "rows": rows,
    }
