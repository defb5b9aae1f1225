"""Rows to store: the random labelled data of the dataset-file and zarr-store tests."""

import numpy as np


def labelled_rows(n=500, d=12, dtype=np.uint8, seed=0):
    """``(X, y)``: n x d pixels (uint8, 0-255) or standard normal values of ``dtype``, and
    int16 labels in 0..6."""
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        X = rng.integers(0, 256, size=(n, d), dtype=np.uint8)
    else:
        X = rng.standard_normal((n, d)).astype(dtype)
    return X, rng.integers(0, 7, size=n).astype(np.int16)
