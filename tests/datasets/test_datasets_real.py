"""The real MNIST, read through FASTREG_DATA (CI points it at ../shared/data/mnist).

Expected values are the published ones (../shared/data/README.md): the SHA-256 of each
uncompressed file, checked here by re-encoding the loaded arrays as IDX, so a single changed
pixel, label or dimension fails the test.
"""

import hashlib
import math

import numpy as np
import pytest

from fastreg.datasets import binary_subset, prepare
from fastreg.datasets._idx import idx_bytes

pytestmark = pytest.mark.real_data

UNCOMPRESSED_SHA256 = {
    "X_train": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "y_train": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "X_test": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "y_test": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_shapes_and_dtypes(mnist):
    assert mnist.X_train.shape == (60000, 28, 28)
    assert mnist.y_train.shape == (60000,)
    assert mnist.X_test.shape == (10000, 28, 28)
    assert mnist.y_test.shape == (10000,)
    assert all(array.dtype == np.uint8 for array in mnist)


def test_label_counts(mnist):
    assert np.bincount(mnist.y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.y_test, minlength=10).tolist() == TEST_COUNTS


@pytest.mark.parametrize("field", sorted(UNCOMPRESSED_SHA256))
def test_uncompressed_contents_match_published_sha256(mnist, field):
    encoded = idx_bytes(getattr(mnist, field))
    assert hashlib.sha256(encoded).hexdigest() == UNCOMPRESSED_SHA256[field]


def test_reference_task_two_versus_three(mnist):
    X, y = binary_subset(mnist.X_train, mnist.y_train, positive=2, negative=3)
    assert X.shape == (5958 + 6131, 28, 28)
    assert int(y.sum()) == 5958


def test_prepare_on_real_data(mnist):
    ready = prepare(mnist, digits=(2, 3))
    assert ready.X_train.shape[1] == 784 and ready.X_train.dtype == np.float64
    assert 0.0 <= ready.X_train.min() and ready.X_train.max() <= 1.0
    assert len(ready.y_train) + len(ready.y_val) == 5958 + 6131
    assert len(ready.y_test) == 1032 + 1010
    # stratified, the estimator's hold-out: floor(0.1 * n_c + 1/2) rows of each class
    assert int(ready.y_val.sum()) == math.floor(0.1 * 5958 + 0.5)
    assert len(ready.y_val) - int(ready.y_val.sum()) == math.floor(0.1 * 6131 + 0.5)
