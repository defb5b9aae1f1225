"""NaN and infinity in the training X: the epoch kernels find them, the error is the input
check's own, and the model is left exactly as it was.

fit and partial_fit no longer pass over a dense X to check it before training (one pass over
X, a third of a compiled epoch at MNIST size): the kernels read every value and stop at a
batch whose loss is not finite, and the trainer then asks X itself why. These tests put one
bad value wherever a row can be: in a training row (first, last, any batch), in a held-out
validation row, in a row of weight 0 (no kernel reads it), in a row an early stop within the
first epoch never reached; for both backends, both dtypes, both kinds of step size.
"""

import numpy as np
import pytest

from fastreg import LogisticRegression, SoftmaxRegression

BAD = [np.nan, np.inf, -np.inf]
MESSAGE = "Input X contains NaN or infinity"


def data(n=300, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    return X, y


def spoil(X, row, value, col=2):
    X = X.copy()
    X[row, col] = value
    return X


def snapshot(model):
    return {
        k: (v.copy() if isinstance(v, np.ndarray) else v)
        for k, v in vars(model).items()
        if not isinstance(v, dict)
    }


def assert_unchanged(model, before):
    after = snapshot(model)
    assert after.keys() == before.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value, err_msg=key)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("learning_rate", ["auto", 0.05])
@pytest.mark.parametrize("row", [0, 137, 299])
@pytest.mark.parametrize("value", BAD)
def test_fit_refuses_a_bad_training_value(backend, dtype, learning_rate, row, value):
    X, y = data()
    model = SoftmaxRegression(
        backend=backend.name,
        dtype=dtype,
        learning_rate=learning_rate,
        max_epochs=3,
        batch_size=16,
        random_state=0,
    )
    with pytest.raises(ValueError, match=MESSAGE):
        model.fit(spoil(X, row, value), y)
    assert not hasattr(model, "coef_")


@pytest.mark.parametrize("cls", [LogisticRegression, SoftmaxRegression])
@pytest.mark.parametrize("value", BAD)
def test_partial_fit_refuses_a_bad_chunk_and_keeps_the_model(backend, cls, value):
    X, y = data(k=2)
    model = cls(backend=backend.name, learning_rate=0.05, batch_size=8, random_state=0)
    model.partial_fit(X[:150], y[:150], classes=[0, 1])
    before = snapshot(model)
    for row in (0, 77, 149):  # first batch, a middle one, the last
        with pytest.raises(ValueError, match=MESSAGE):
            model.partial_fit(spoil(X[150:], row, value), y[150:])
        assert_unchanged(model, before)
    model.partial_fit(X[150:], y[150:])  # and the chain goes on from where it was
    assert model.n_iter_ == 2


def test_every_row_trained_on_or_held_out_is_checked(backend):
    """Early stopping holds out a fifth of the rows, which only the validation pass reads."""
    X, y = data(n=100)
    params = dict(
        backend=backend.name,
        learning_rate=0.05,
        early_stopping=True,
        validation_fraction=0.2,
        max_epochs=1,
        random_state=0,
    )
    for row in range(X.shape[0]):
        model = SoftmaxRegression(**params)
        with pytest.raises(ValueError, match=MESSAGE):
            model.fit(spoil(X, row, np.nan), y)
        assert not hasattr(model, "coef_")


@pytest.mark.parametrize("value", BAD)
def test_a_bad_value_in_a_row_of_weight_zero_is_refused(backend, value):
    X, y = data()
    w = np.ones(X.shape[0])
    w[42] = 0.0
    model = SoftmaxRegression(
        backend=backend.name, learning_rate=0.05, max_epochs=2, random_state=0
    )
    with pytest.raises(ValueError, match=MESSAGE):
        model.fit(spoil(X, 42, value), y, sample_weight=w)
    with pytest.raises(ValueError, match=MESSAGE):
        model.partial_fit(spoil(X, 42, value), y, classes=[0, 1, 2], sample_weight=w)
    assert not hasattr(model, "coef_")


def test_rows_an_early_stop_left_unread_are_checked(backend):
    """validation_interval 20 and patience 1: training stops within its first epoch, before
    the kernel reaches the last rows of the shuffled order; one of them holds the NaN."""
    X, y = data(n=2000)
    params = dict(
        backend=backend.name,
        learning_rate=5.0,
        early_stopping=True,
        patience=1,
        validation_interval=20,
        max_epochs=1,
        shuffle=False,
        batch_size=10,
        random_state=0,
    )
    clean = SoftmaxRegression(**params).fit(X, y)
    assert clean.history_["step"][-1] < 1800 / 10  # it did stop early, rows unread
    with pytest.raises(ValueError, match=MESSAGE):
        SoftmaxRegression(**params).fit(spoil(X, 1999, np.nan), y)


def test_uint8_and_sparse_inputs_are_unaffected(backend):
    import scipy.sparse as scipy_sparse

    X, y = data()
    Xs = scipy_sparse.csr_matrix(spoil(X, 5, np.inf))
    with pytest.raises(ValueError, match=MESSAGE):  # CSR values: checked on the way in
        SoftmaxRegression(backend=backend.name, learning_rate=0.05, max_epochs=1).fit(Xs, y)
    pixels = np.random.default_rng(0).integers(0, 256, (300, 6)).astype(np.uint8)
    SoftmaxRegression(backend=backend.name, input_scale=1 / 255, max_epochs=1).fit(pixels, y)
