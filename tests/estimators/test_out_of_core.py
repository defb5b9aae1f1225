"""Training larger than memory: partial_fit over a dataset file, chunk by chunk.

* Peak resident memory: benchmarks/out_of_core.py (the manual's recipe,
  docs/guide/out_of_core.rst) writes a synthetic file of 320 MiB and trains over it in a child
  process that measures its own resident-set peak.
  Streaming 16 MiB chunks must add at most a few chunks to the peak; the control, slices of one
  mapping of the whole file, must add about the file (which shows the measurement sees file
  pages, so the first assertion can fail).
* No copies: partial_fit on a memory-mapped chunk trains on the mapping itself (tracemalloc
  sees far less than the chunk allocated), and gives exactly the weights of the same rows in
  RAM, on every backend.
* Bad input (a chunk with other features, an undeclared class, non-finite values, a file cut
  short before or while streaming) raises a clear error and leaves the model exactly as it
  was: its pickle, random-generator state included, is byte-identical.
"""

import json
import os
import pickle
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from fastreg import LogisticRegression, SoftmaxRegression
from fastreg.datasets import DatasetError, open_dataset, write_dataset

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "out_of_core.py"
MIB = 2**20


def _run_script(*args):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """A 320 MiB synthetic dataset file, written by the recipe script itself."""
    path = tmp_path_factory.mktemp("ooc") / "synthetic.frd"
    _run_script("--file", path, "--size-mb", 320, "--chunk-mb", 16, "--keep")
    return path


def test_peak_memory_is_bounded_by_the_chunk_not_the_file(big_file):
    streamed = _run_script("--file", big_file, "--chunk-mb", 16, "--mode", "chunks")
    whole = _run_script("--file", big_file, "--chunk-mb", 16, "--mode", "whole")
    size, chunk = streamed["file_bytes"], streamed["chunk_bytes"]
    assert size > 300 * MIB and chunk <= 16 * MIB
    assert streamed["partial_fit_calls"] == -(-streamed["n_samples"] // streamed["chunk_rows"])
    # streaming: the chunk in use (the next is mapped but not yet read) plus the trainer's
    # per-row index arrays (24 bytes a row against 784) and slack for the allocator
    assert streamed["growth_bytes"] <= 2 * chunk + 16 * MIB, streamed
    # the control proves the measurement counts mapped file pages
    assert whole["growth_bytes"] >= 0.8 * size, whole
    for result in (streamed, whole):
        assert result["test_accuracy"] >= 0.85, result  # it learned (chance is 0.1)


def test_partial_fit_over_chunks_equals_the_same_rows_in_memory(backend, tmp_path):
    rng = np.random.default_rng(5)
    X = rng.integers(0, 256, size=(3000, 40), dtype=np.uint8)
    y = ((X[:, 0] > X[:, 1]) + 2 * (X[:, 2] > X[:, 3])).astype(np.uint8)
    data = open_dataset(write_dataset(tmp_path / "d.frd", X, y))
    params = dict(backend=backend.name, input_scale=1 / 255, random_state=0, dtype="float32")
    streamed, in_ram = SoftmaxRegression(**params), SoftmaxRegression(**params)
    for epoch in range(2):
        for X_chunk, y_chunk in data.chunks(700, shuffle=True, random_state=epoch):
            streamed.partial_fit(X_chunk, y_chunk, classes=data.classes)
        for start in np.random.default_rng(epoch).permutation(np.arange(0, 3000, 700)):
            in_ram.partial_fit(
                X[start : start + 700].copy(), y[start : start + 700], classes=np.unique(y)
            )
    np.testing.assert_array_equal(streamed.coef_, in_ram.coef_)
    np.testing.assert_array_equal(streamed.intercept_, in_ram.intercept_)
    assert streamed.n_iter_ == in_ram.n_iter_ == 10
    assert streamed.score(X, y) > 0.7  # it learned (chance is 0.25)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_partial_fit_trains_on_the_mapping_without_copying_it(backend, tmp_path, dtype):
    rng = np.random.default_rng(6)
    n, d = 20_000, 784  # 15.7 MB of uint8, 62.7 MB of float32
    X = rng.integers(0, 256, size=(n, d), dtype=np.uint8).astype(dtype)
    y = rng.integers(0, 10, size=n).astype(np.uint8)
    data = open_dataset(write_dataset(tmp_path / "m.frd", X, y))
    del X
    X_chunk, y_chunk = data.rows(0, n)
    model = SoftmaxRegression(
        backend=backend.name, input_scale=1 / 255, random_state=0, dtype="float32"
    )
    model.partial_fit(X_chunk[:100], y_chunk[:100], classes=data.classes)  # warm-up
    tracemalloc.start()
    try:
        model.partial_fit(X_chunk, y_chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # what partial_fit needs besides X: row indices and order (8 bytes each), labels
    # (4 bytes), the NumPy backend's batch buffers; a copy of X would be n * d * itemsize
    assert peak < 40 * n + 4 * MIB, (peak, X_chunk.nbytes)
    assert peak < X_chunk.nbytes / 3


# ------------------------------------------------------------------------- bad input, no loss
def _state(model):
    return pickle.dumps(model)


@pytest.fixture
def streaming_model(backend, tmp_path):
    rng = np.random.default_rng(7)
    X = rng.integers(0, 256, size=(900, 30), dtype=np.uint8)
    y = (np.arange(900) % 3).astype(np.uint8)
    data = open_dataset(write_dataset(tmp_path / "s.frd", X, y))
    model = SoftmaxRegression(backend=backend.name, input_scale=1 / 255, random_state=0)
    chunks = data.chunks(300)
    model.partial_fit(*next(chunks), classes=[0, 1, 2])
    return model, data, chunks, X, y


def test_chunk_with_other_features_leaves_the_model_unchanged(streaming_model):
    model, _data, _, X, y = streaming_model
    before = _state(model)
    with pytest.raises(
        ValueError, match="X has 29 features, but SoftmaxRegression is expecting 30 features"
    ):
        model.partial_fit(X[:100, :29], y[:100])
    assert _state(model) == before
    model.partial_fit(X[:100], y[:100])  # and it trains on
    assert model.n_iter_ == 2


def test_undeclared_class_leaves_the_model_unchanged(streaming_model):
    model, _, _, X, y = streaming_model
    before = _state(model)
    with pytest.raises(
        ValueError,
        match=r"labels \[7\] that are not among the classes "
        r"\[0, 1, 2\]",
    ):
        model.partial_fit(X[:5], [0, 1, 7, 2, 1])
    with pytest.raises(ValueError, match="differs from the classes"):
        model.partial_fit(X[:5], y[:5], classes=[0, 1, 2, 3])
    assert _state(model) == before


def test_non_finite_chunk_leaves_the_model_unchanged(streaming_model, tmp_path):
    model, _, _, X, y = streaming_model
    bad = np.memmap(tmp_path / "bad.f32", dtype=np.float32, mode="w+", shape=(50, 30))
    bad[:] = X[:50] / 255
    bad[10, 3] = np.inf
    bad.flush()
    before = _state(model)
    with pytest.raises(ValueError, match="NaN or infinity"):
        model.partial_fit(
            np.memmap(tmp_path / "bad.f32", dtype=np.float32, mode="r", shape=(50, 30)), y[:50]
        )
    assert _state(model) == before


def test_file_truncated_while_streaming_leaves_the_model_unchanged(streaming_model):
    model, data, chunks, _, _ = streaming_model
    before = _state(model)
    os.truncate(data.path, data.nbytes - 1000)
    with pytest.raises(DatasetError, match="changed since it was opened"):
        for X_chunk, y_chunk in chunks:
            model.partial_fit(X_chunk, y_chunk)
    assert _state(model) == before
    with pytest.raises(DatasetError, match="file truncated"):
        open_dataset(data.path)


def test_first_call_errors_leave_the_model_unfitted(backend, tmp_path):
    X = np.zeros((10, 4), dtype=np.uint8)
    model = LogisticRegression(backend=backend.name)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X, [0, 1] * 5)
    with pytest.raises(ValueError, match=r"labels \[2\] that are not among the classes"):
        model.partial_fit(X, [0, 1, 2, 0, 1, 0, 1, 0, 1, 0], classes=[0, 1])
    assert not hasattr(model, "coef_") and not hasattr(model, "_rng")
