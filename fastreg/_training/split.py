"""THE stratified hold-out: which rows become the validation set.

Used by the estimators' ``fit`` (early stopping without an explicit validation set) and by
:func:`fastreg.datasets.train_val_split`, so both hold out the same rows for the same seed.

Rule: class c of n_c rows gives take_c = min(floor(fraction * n_c + 1/2), n_c - 1) rows (round
half up, but at least one row stays for training); if that holds out nothing at all (tiny
data), one row of the largest class is held out. Procedure: one ``rng.permutation`` of all
rows, grouped by class with a stable sort, and the first take_c rows of each group held out.
"""

import numpy as np


def holdout_size(fraction, n):
    """floor(fraction * n + 1/2): the one rounding rule of a hold-out of ``n`` rows."""
    return int(np.floor(fraction * n + 0.5))


def stratified_holdout(codes, n_classes, fraction, rng):
    """Stratified hold-out of about ``fraction`` of each class (rule in the module docstring).

    ``codes`` are class indices 0..n_classes-1 (one per row), ``rng`` a numpy Generator.
    Returns ``(validation_rows, training_rows)``, both sorted np.intp arrays.
    """
    codes = np.asarray(codes)
    n = codes.shape[0]
    perm = rng.permutation(n)
    grouped = perm[np.argsort(codes[perm], kind="stable")]
    counts = np.bincount(codes, minlength=n_classes)
    take = np.minimum(np.floor(fraction * counts + 0.5).astype(np.intp), np.maximum(counts - 1, 0))
    if take.sum() == 0:
        take[np.argmax(counts)] = 1
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    group = codes[grouped]
    held = np.arange(n) - starts[group] < take[group]
    return np.sort(grouped[held]).astype(np.intp), np.sort(grouped[~held]).astype(np.intp)
