"""Sparse text classification: tf-idf features of a generated corpus, in a scikit-learn pipeline.

What it shows: ``fastreg.SoftmaxRegression`` trained on a ``scipy.sparse`` CSR matrix, the shape
of a bag-of-words problem (many more features than nonzeros per row), inside a scikit-learn
``Pipeline`` after ``TfidfTransformer``. A float32 CSR matrix reaches fastreg's sparse kernels
as it is: it is never densified nor copied, and ``learning_rate="auto"`` sets a step per word
from its largest tf-idf value, so rare and frequent words need no rescaling.

The corpus is generated here (seeded, in memory, no download): word w of a vocabulary of V
words has the Zipf frequency p_w ~ 1 / (rank_w + 2.7); each class has its own 100 "topic"
words; a document of class c draws Poisson(60) words, 5 % of them uniformly among c's topic
words and the rest from the Zipf background. Counts become tf-idf features (1 + log tf, times
the idf, rows of unit length). After training, each class's 20 largest weights are compared
with its planted topic words: a model that learned the right thing finds mostly those.

Needs scikit-learn and SciPy (``pip install scikit-learn``). For a real corpus, replace the
generator by ``TfidfVectorizer`` on raw text, e.g. scikit-learn's 20 newsgroups (a download)::

    make_pipeline(TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float32),
                  SoftmaxRegression(random_state=0)).fit(texts, labels)

Run it::

    python examples/sparse_text.py

Expected output (full data; a few seconds with the Cython backend, times vary)::

    corpus: 50000 training + 10000 test documents, 50000 words, 20 classes
    X: CSR float32, 54.8 nonzeros per row (0.110 % dense), 22.1 MB instead of 10000 MB dense
    trained in 2.3 s: 30 epochs, best epoch 30
    planted topic words among each class's 20 largest weights: 100.0 %
    test accuracy 0.8712

``FASTREG_EXAMPLE_SMALL=1`` makes 5000 training and 1000 test documents over 10000 words
(a few seconds; with a tenth of the documents, test accuracy drops to about 0.58).
"""

import os
import time

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.pipeline import make_pipeline

from fastreg import SoftmaxRegression

SMALL = os.environ.get("FASTREG_EXAMPLE_SMALL", "") not in ("", "0")


def make_corpus(n_docs, n_words, n_classes, rng, topics, *, length=60, topic_share=0.05):
    """Word counts (n_docs, n_words) as CSR float32, and the class of each document."""
    p = 1.0 / (np.arange(n_words) + 2.7)  # Zipf-Mandelbrot frequencies by rank
    cumulative = np.cumsum(p / p.sum())
    y = rng.integers(n_classes, size=n_docs)
    lengths = np.maximum(rng.poisson(length, n_docs), 1)
    doc = np.repeat(np.arange(n_docs), lengths)  # the document of each word drawn
    background = np.minimum(np.searchsorted(cumulative, rng.random(doc.size)), n_words - 1)
    topical = topics[y[doc], rng.integers(topics.shape[1], size=doc.size)]
    words = np.where(rng.random(doc.size) < topic_share, topical, background)
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    counts = sp.csr_matrix((np.ones(doc.size, np.float32), words, indptr), shape=(n_docs, n_words))
    counts.sum_duplicates()  # one entry per (document, word): the term frequency
    return counts, y


def main():
    n_train, n_test, n_words, n_classes = 50_000, 10_000, 50_000, 20
    if SMALL:
        n_train, n_test, n_words = 5_000, 1_000, 10_000
    rng = np.random.default_rng(0)
    # each class's topic words: 100 distinct words drawn from all but the 100 most frequent
    topics = rng.permutation(np.arange(100, n_words))[: n_classes * 100].reshape(n_classes, 100)
    counts, y = make_corpus(n_train, n_words, n_classes, rng, topics)
    counts_test, y_test = make_corpus(n_test, n_words, n_classes, rng, topics)
    print(
        f"corpus: {n_train} training + {n_test} test documents, {n_words} words, "
        f"{n_classes} classes"
    )

    tfidf = TfidfTransformer(sublinear_tf=True)
    model = SoftmaxRegression(max_epochs=30, random_state=0)  # early stopping may end sooner
    clf = make_pipeline(tfidf, model)
    start = time.perf_counter()
    clf.fit(counts, y)
    seconds = time.perf_counter() - start

    X = tfidf.transform(counts)  # what the model saw
    dense_mb = X.shape[0] * X.shape[1] * X.dtype.itemsize / 1e6
    sparse_mb = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 1e6
    print(
        f"X: CSR {X.dtype}, {X.nnz / X.shape[0]:.1f} nonzeros per row "
        f"({100 * X.nnz / (X.shape[0] * X.shape[1]):.3f} % dense), {sparse_mb:.1f} MB instead "
        f"of {dense_mb:.0f} MB dense"
    )
    print(f"trained in {seconds:.1f} s: {model.n_iter_} epochs, best epoch {model.best_epoch_}")
    top = np.argsort(model.coef_, axis=1)[:, -20:]  # each class's 20 largest weights
    found = np.mean([np.isin(top[k], topics[k]).mean() for k in range(n_classes)])
    print(f"planted topic words among each class's 20 largest weights: {100 * found:.1f} %")
    print(f"test accuracy {clf.score(counts_test, y_test):.4f}")


if __name__ == "__main__":
    main()
