"""A learnable synthetic image set that stands in for MNIST in the command-line tests.

Ten classes of 28x28 uint8 images; class c brightens image row c. ``hard`` keeps the rows
noisy (training goes on for many epochs before it fits), else class c's row is lit fully (a
few epochs fit it). :func:`source` gives the same function as Python source, for tests that
run the CLI in a subprocess (``exec`` it, then replace ``training_data.load_data``).
"""

_SOURCE = """
import numpy as np
from fastreg.datasets import DatasetArrays

def synthetic(*args, n_train={n_train}, n_test={n_test}, hard={hard}, **kwargs):
    rng = np.random.default_rng(0)
    def part(n):
        y = (np.arange(n) % 10).astype(np.uint8)
        X = rng.integers(0, 200 if hard else 60, size=(n, 28, 28), dtype=np.uint8)
        if hard:
            X[np.arange(n), y, :] += 30  # a little brighter: learnable, slowly
        else:
            X[np.arange(n), y, :] = 255  # lit: learnt in a few epochs
        return X, y
    return DatasetArrays(*part(n_train), *part(n_test))
"""


def source(n_train=400, n_test=100, hard=False):
    """Python source defining ``synthetic(*args, **kwargs) -> DatasetArrays``."""
    return _SOURCE.format(n_train=n_train, n_test=n_test, hard=hard)


def synthetic_loader(n_train=400, n_test=100, hard=False):
    """The function of :func:`source`, ready to replace ``training_data.load_data``."""
    namespace = {}
    exec(source(n_train, n_test, hard), namespace)
    return namespace["synthetic"]
