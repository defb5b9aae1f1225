"""Text-like sparse data, and one epoch of fastreg's sparse kernels against scikit-learn's SGD.

    python benchmarks/sparse_text.py                          # 200,000 x 100,000, 20 classes
    python benchmarks/sparse_text.py --rows 20000 --features 20000 --repeats 3
    python benchmarks/compare.py --sparse [the options of this script]

The data (:func:`make_text`, seeded, built in memory): a CSR matrix like a tf-idf
bag of words. Word w has the Zipf-Mandelbrot frequency p_w ~ 1 / (rank_w + 2.7) over
``features`` words (ranks shuffled over the columns, as a hashed vocabulary); each document
draws Poisson(L) words with replacement, L chosen so that a row holds ``nnz`` distinct words
on average; a stored value is (1 + log tf) * idf_w with idf_w = log((1 + N) / (1 + df_w)) + 1,
rows scaled to unit L2 norm, in float32 (or ``--dtype``), int32 indices. The labels come from
a planted linear model: y_n is drawn from softmax(t s_n / std(s)) with scores s_n = x_n W*^T,
W* (K, d) standard normal on the ``--informative`` most frequent words and 0 elsewhere, and
t = ``--temperature`` (8: the planted model itself is right on about 84 % of the rows). A test
set of ``--test-rows`` more rows from the same generator measures what each contender learned.

Contenders, each timed ``--repeats`` times from zero weights after one warm-up run, the median
reported (with the range); one thread everywhere (threadpoolctl limits BLAS, when installed):

``fastreg-raw``       the compiled ``sparse_epoch`` kernel called directly
                      (``get_backend("cython").raw``), batch ``--batch-size``, constant ``--lr``,
                      ``--l2`` (its one scale factor of the L2 shrinks);
``fastreg-checked``   the same through the input check (``get_backend("cython").sparse_epoch``);
``fastreg-numpy``     the NumPy twin (raw), the specification;
``fastreg-partial_fit`` what users run: ``SoftmaxRegression(batch_size=..., n_threads=1)
                      .partial_fit(X, y, classes)`` once (one epoch, the estimator's defaults
                      otherwise: learning_rate="auto", whose step sizes it computes first);
``fastreg-partial_fit[lr]`` the same with ``learning_rate=--lr`` (no step-size computation);
``sklearn-sgd``       ``SGDClassifier(loss="log_loss", max_iter=1, tol=None).fit(X, y)``:
                      one epoch of per-sample SGD, one-vs-rest over the classes, its defaults
                      otherwise (``--alpha`` 1e-4, 'optimal' schedule); it converts float32 X to
                      float64 inside fit, which its time includes (as a user's would).

The ratio column divides each median by fastreg-raw's; the accuracy on the test rows after a
timed run says what each contender learned in its epoch. Markdown to stdout, progress to
stderr.
"""

import argparse
import math
import statistics
import sys
import time
import warnings

import numpy as np

ROWS, FEATURES, CLASSES, NNZ = 200_000, 100_000, 20, 60
CONTENDERS = (
    "fastreg-raw",
    "fastreg-checked",
    "fastreg-numpy",
    "fastreg-partial_fit",
    "fastreg-partial_fit[lr]",
    "sklearn-sgd",
)


def _words_per_document(p, nnz):
    """L with E[distinct words of L draws] = sum_w 1 - (1 - p_w)^L = nnz (bisection)."""
    lo, hi = float(nnz), 100.0 * nnz
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if np.sum(-np.expm1(mid * np.log1p(-p))) < nnz:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def make_text(
    rows=ROWS,
    features=FEATURES,
    classes=CLASSES,
    nnz=NNZ,
    dtype=np.float32,
    informative=1000,
    temperature=8.0,
    seed=0,
):
    """``(X, y)``: a tf-idf-like CSR matrix (rows, features) of ``dtype`` and labels np.intc
    from a planted softmax model (module docstring)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    p = 1.0 / (np.arange(features) + 2.7)
    p /= p.sum()
    column_of_rank = rng.permutation(features).astype(np.int32)
    lengths = rng.poisson(_words_per_document(p, nnz), rows)
    words = np.searchsorted(np.cumsum(p), rng.random(lengths.sum()), side="right")
    cols = column_of_rank[np.minimum(words, features - 1)]
    indptr = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    X = sp.csr_matrix((np.ones(cols.shape[0], np.float64), cols, indptr), shape=(rows, features))
    X.sum_duplicates()  # term frequencies, each row's words sorted
    df = np.bincount(X.indices, minlength=features)
    idf = np.log((1.0 + rows) / (1.0 + df)) + 1.0
    X.data = (1.0 + np.log(X.data)) * idf[X.indices]
    row_of = np.repeat(np.arange(rows), np.diff(X.indptr))
    norms = np.sqrt(np.bincount(row_of, weights=X.data**2, minlength=rows))
    X.data /= norms[row_of]
    W = np.zeros((classes, features))
    words = column_of_rank[:informative]
    W[:, words] = rng.standard_normal((classes, words.shape[0]))
    scores = np.asarray(X @ W.T)
    scores *= temperature / scores.std()
    gumbel = -np.log(-np.log(rng.random(scores.shape)))
    y = np.argmax(scores + gumbel, axis=1).astype(np.intc)
    X = sp.csr_matrix(
        (X.data.astype(dtype), X.indices.astype(np.int32), X.indptr.astype(np.int32)),
        shape=(rows, features),
    )
    return X, y


def _accuracy(Z, y):
    pred = (Z[:, 0] >= 0).astype(np.intc) if Z.shape[1] == 1 else np.argmax(Z, axis=1)
    return float(np.mean(pred == y))


def _fastreg_epoch(data, args, kernels):
    """A run: one epoch from zero weights; returns (seconds, test accuracy)."""
    import fastreg

    X, y, X_test, y_test, n_classes = data
    K = 1 if n_classes == 2 else n_classes
    n, d = X.shape
    order = np.random.default_rng(args.seed).permutation(n)
    lrs = np.full(-(-n // args.batch_size), args.lr)
    forward = fastreg.get_backend("numpy").sparse_linear_forward

    def run():
        coef, intercept = np.zeros((K, d), X.dtype), np.zeros(K, X.dtype)
        t0 = time.perf_counter()
        loss, _ = kernels.sparse_epoch(
            X, y, coef, intercept, order, args.batch_size, lrs, args.l2, 1
        )
        seconds = time.perf_counter() - t0
        if not math.isfinite(loss):
            raise RuntimeError("the epoch diverged: lower --lr")
        return seconds, _accuracy(forward(X_test, coef, intercept), y_test)

    return run


def _partial_fit(data, args, **params):
    import fastreg

    X, y, X_test, y_test, n_classes = data

    def run():
        model = fastreg.SoftmaxRegression(
            batch_size=args.batch_size, n_threads=1, random_state=args.seed, **params
        )
        t0 = time.perf_counter()
        model.partial_fit(X, y, classes=np.arange(n_classes))
        seconds = time.perf_counter() - t0
        return seconds, float(model.score(X_test, y_test))

    return run


def _sklearn(data, args):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier

    X, y, X_test, y_test, _ = data

    def run():
        clf = SGDClassifier(
            loss="log_loss", max_iter=1, tol=None, alpha=args.alpha, random_state=args.seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            clf.fit(X, y)
            seconds = time.perf_counter() - t0
        return seconds, float(clf.score(X_test, y_test))

    return run


def _runner(name, data, args):
    import fastreg

    if name == "fastreg-raw":
        return _fastreg_epoch(data, args, fastreg.get_backend("cython").raw)
    if name == "fastreg-checked":
        return _fastreg_epoch(data, args, fastreg.get_backend("cython"))
    if name == "fastreg-numpy":
        return _fastreg_epoch(data, args, fastreg.get_backend("numpy").raw)
    if name == "fastreg-partial_fit":
        return _partial_fit(data, args)
    if name == "fastreg-partial_fit[lr]":
        return _partial_fit(data, args, learning_rate=args.lr, l2=args.l2)
    if name == "sklearn-sgd":
        return _sklearn(data, args)
    raise ValueError(f"unknown contender {name!r}: choose from {', '.join(CONTENDERS)}")


def time_contender(name, data, args):
    """``{"ms": [per timed run], "accuracy": ...}`` or ``{"error": reason}``."""
    try:
        run = _runner(name, data, args)
        repeats = args.numpy_repeats if name == "fastreg-numpy" else args.repeats
        run()  # warm-up (caches, lazy imports, first-touch of the pages)
        results = [run() for _ in range(repeats)]
    except Exception as exc:  # noqa: BLE001  (a contender that cannot run gets a row saying why)
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"ms": [1e3 * s for s, _ in results], "accuracy": results[-1][1]}


def table(results, reference="fastreg-raw"):
    """Markdown: median, range, median / the reference's median, test accuracy, runs."""
    ref = results.get(reference, {}).get("ms")
    ref = statistics.median(ref) if ref else None
    lines = [
        f"| contender | median ms / epoch | min-max | ÷ {reference} | test acc. | runs |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"| {name} | not run: {r['error']} | | | | |")
            continue
        med = statistics.median(r["ms"])
        ratio = f"{med / ref:.2f}" if ref else ""
        lines.append(
            f"| {name} | {med:.0f} | {min(r['ms']):.0f}-{max(r['ms']):.0f} | "
            f"{ratio} | {r['accuracy']:.3f} | {len(r['ms'])} |"
        )
    return "\n".join(lines)


def build_parser():
    p = argparse.ArgumentParser(
        description="One epoch of fastreg's sparse kernels against "
        "scikit-learn's SGDClassifier on text-like data."
    )
    p.add_argument("--rows", type=int, default=ROWS)
    p.add_argument("--features", type=int, default=FEATURES)
    p.add_argument("--classes", type=int, default=CLASSES)
    p.add_argument("--nnz", type=int, default=NNZ, help="distinct words per row, on average")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--test-rows", type=int, default=20000)
    p.add_argument("--lr", type=float, default=10.0, help="fastreg's constant learning rate")
    p.add_argument("--l2", type=float, default=1e-6, help="fastreg's l2 (of l2 ||W||^2)")
    p.add_argument("--alpha", type=float, default=1e-4, help="scikit-learn's alpha")
    p.add_argument(
        "--informative",
        type=int,
        default=1000,
        help="the most frequent words the planted model weighs",
    )
    p.add_argument("--temperature", type=float, default=8.0, help="of the planted model")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--numpy-repeats", type=int, default=3)
    p.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help=f"comma-separated subset of {','.join(CONTENDERS)}",
    )
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # then BLAS keeps its threads (OMP_NUM_THREADS=1 sets them)
        threadpool_limits = None
    t0 = time.perf_counter()
    X, y = make_text(
        args.rows + args.test_rows,
        args.features,
        args.classes,
        args.nnz,
        np.dtype(args.dtype),
        args.informative,
        args.temperature,
        args.seed,
    )
    data = (X[: args.rows], y[: args.rows], X[args.rows :], y[args.rows :], args.classes)
    X = data[0]
    made = time.perf_counter() - t0
    print(
        f"data: {X.shape[0]} x {X.shape[1]} CSR, {X.nnz / X.shape[0]:.1f} nonzeros per row, "
        f"{X.dtype}, {args.classes} classes (made in {made:.1f} s)",
        file=sys.stderr,
    )
    results = {}
    for name in args.contenders.split(","):
        print(f"{name} ...", file=sys.stderr, flush=True)
        if threadpool_limits is None:
            results[name] = time_contender(name, data, args)
        else:
            with threadpool_limits(limits=1):
                results[name] = time_contender(name, data, args)
    print(
        f"## One epoch on text-like sparse data\n\n`python benchmarks/sparse_text.py "
        f"{' '.join(sys.argv[1:] if argv is None else argv)}`\n\n"
        f"X: {X.shape[0]} x {X.shape[1]} CSR {X.dtype}, {X.nnz / X.shape[0]:.1f} nonzeros per "
        f"row (Zipf words, tf-idf, rows of unit norm); {args.classes} classes; batch "
        f"{args.batch_size}; one thread; fastreg lr {args.lr:g}, l2 {args.l2:g}; "
        f"scikit-learn alpha {args.alpha:g}.\n\n" + table(results) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
