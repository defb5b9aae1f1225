"""Training larger than RAM: write a dataset file once, then stream it through ``partial_fit``.

What it shows: the out-of-core recipe. The training images are converted, part by part, into
one memory-mappable dataset file with ``fastreg.datasets.DatasetWriter`` (as a stream too large
to hold would be: only one part is in memory at a time; the file is written under a temporary
name and renamed when complete). ``open_dataset`` reads its 4 KiB header only;
``DatasetFile.verify()`` checks the contents against the checksums in the header; and
``DatasetFile.chunks`` maps one block of rows at a time (``chunk_bytes`` of X each, in a random
order per epoch), so resident memory stays near one chunk whatever the size of the file.
``SoftmaxRegression.partial_fit`` trains on each read-only mapping of uint8 pixels as it is
(``input_scale=1/255``: no float copy), one epoch over the chunk per call; ``classes`` names
every label of the stream. ``benchmarks/out_of_core.py`` runs the same recipe on a file of
several GiB and measures the peak resident memory.

Run it::

    python examples/out_of_core.py

Expected output (full data; a few seconds with the Cython backend)::

    wrote a dataset file: 60000 rows x 784 uint8 features in 6 parts, 47.1 MB
    opened: 60000 samples of shape (28, 28), uint8, classes [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    checksums verified
    epoch 1: 12 chunks of at most 5349 rows, n_iter_ 12 (one per partial_fit call)
    epoch 2: 12 chunks of at most 5349 rows, n_iter_ 24 (one per partial_fit call)
    epoch 3: 12 chunks of at most 5349 rows, n_iter_ 36 (one per partial_fit call)
    test accuracy 0.9191

The dataset file lives in a temporary folder (under ``$FASTREG_EXAMPLE_OUTPUT`` when set),
removed at the end. ``FASTREG_EXAMPLE_SMALL=1`` streams the first 6000 training images
(0.5 MB chunks) for 2 epochs and tests on the first 2000 test images (a few seconds; test
accuracy about 0.85).
"""

import os
import tempfile

import numpy as np

from fastreg import SoftmaxRegression
from fastreg.datasets import DatasetWriter, flatten, load_mnist, open_dataset

SMALL = os.environ.get("FASTREG_EXAMPLE_SMALL", "") not in ("", "0")


def main():
    data = load_mnist()
    X_train, y_train = flatten(data.X_train), data.y_train
    X_test, y_test = flatten(data.X_test), data.y_test
    epochs, chunk_bytes = 3, 4 << 20  # 4 MiB of X per chunk (5349 rows of MNIST)
    if SMALL:
        X_train, y_train = X_train[:6000], y_train[:6000]
        X_test, y_test = X_test[:2000], y_test[:2000]
        epochs, chunk_bytes = 2, 512 << 10

    parent = os.environ.get("FASTREG_EXAMPLE_OUTPUT")
    if parent:
        os.makedirs(parent, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fastreg-example-", dir=parent) as folder:
        path = os.path.join(folder, "mnist-train.frd")

        # 1. Convert once, part by part (here slices of an array; in practice any stream of
        #    parts: files, database pages, a generator). write_dataset(path, X, y) does it in
        #    one call when the arrays (or memory maps of them) are at hand.
        parts = np.array_split(np.arange(len(X_train)), 6)
        with DatasetWriter(
            path, n_features=X_train.shape[1], dtype=np.uint8, sample_shape=(28, 28)
        ) as out:
            for rows in parts:
                out.append(X_train[rows], y_train[rows])
        print(
            f"wrote a dataset file: {len(X_train)} rows x {X_train.shape[1]} uint8 features "
            f"in {len(parts)} parts, {os.path.getsize(path) / 1e6:.1f} MB"
        )

        # 2. Open it (the header only) and check its contents against the header's digests.
        dataset = open_dataset(path)
        print(
            f"opened: {len(dataset)} samples of shape {dataset.sample_shape}, "
            f"{dataset.dtype}, classes {dataset.classes.tolist()}"
        )
        dataset.verify()
        print("checksums verified")

        # 3. Stream it: one chunk mapped at a time, a new chunk order every epoch.
        model = SoftmaxRegression(input_scale=1 / 255, random_state=0)
        rows_per_chunk = dataset.chunk_rows_for(chunk_bytes)
        for epoch in range(epochs):
            n_chunks = 0
            for X_chunk, y_chunk in dataset.chunks(
                chunk_bytes=chunk_bytes, shuffle=True, random_state=epoch
            ):
                model.partial_fit(X_chunk, y_chunk, classes=dataset.classes)
                n_chunks += 1
            print(
                f"epoch {epoch + 1}: {n_chunks} chunks of at most {rows_per_chunk} rows, "
                f"n_iter_ {model.n_iter_} (one per partial_fit call)"
            )
        del X_chunk, y_chunk  # release the last mapping before the folder is removed

    print(f"test accuracy {model.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
