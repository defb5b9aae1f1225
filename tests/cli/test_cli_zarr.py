"""``fastreg train --data STORE.zarr`` and ``fastreg predict MODEL.npz STORE.zarr``: zarr
stores as one more kind of data file, refused in one line when bad."""

import csv
import io
import json
import sys

import numpy as np
import pytest

# Guard for local runs without the extra only: CI installs ".[test]", which holds zarr, and
# fails on skips.
pytest.importorskip("zarr")

from fastreg import cli
from fastreg.cli import data_files
from fastreg.cli.input_chunks import iter_input_chunks
from fastreg.datasets import write_zarr
from fastreg.linear_model import SoftmaxRegression

RNG = np.random.default_rng(7)
N, D = 240, 6
X = RNG.normal(size=(N, D)).astype(np.float32)
Y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)  # classes 0, 1, 2


def one_line_error(capsys, status):
    out, err = capsys.readouterr()
    assert status == 1 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("fastreg: error: ")
    return line


def test_the_kind_of_a_store(tmp_path):
    assert data_files.data_kind("a.zarr") == "zarr"
    assert data_files.data_kind("s3://bucket/a.ZARR") == "zarr"
    write_zarr(tmp_path / "named-otherwise", X, Y)
    assert data_files.data_kind(tmp_path / "named-otherwise") == "zarr"  # it holds zarr.json


def test_train_on_a_store_writes_the_run_folder(tmp_path, capsys):
    images = RNG.integers(0, 256, size=(N, 3, 4), dtype=np.uint8)
    images[np.arange(N), Y, :] = 255  # learnable
    store = write_zarr(tmp_path / "img.zarr", images, Y, chunk_rows=50)
    out = tmp_path / "run"
    status = cli.main(
        [
            "train",
            "--no-progress",
            "--no-plots",
            "--out",
            str(out),
            "--data",
            store,
            "--epochs",
            "3",
        ]
    )
    assert status == cli.EXIT_OK, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["kind"] == "zarr" and metrics["task"] == "softmax"
    assert metrics["n_train"] + metrics["n_validation"] == N
    read = data_files.read_data_file(store)
    assert read.image_shape == (3, 4) and read.X.dtype == np.uint8
    np.testing.assert_array_equal(read.X, images.reshape(N, 12))
    assert read.y.tolist() == Y.tolist()


def test_predict_on_a_store_equals_model_predict(tmp_path, capsys):
    model = SoftmaxRegression(max_epochs=5, dtype="float32", random_state=0).fit(X, Y)
    model.save(tmp_path / "model.npz")
    store = write_zarr(tmp_path / "in.zarr", X, np.zeros(N, dtype=int), chunk_rows=64)
    blocks = list(iter_input_chunks(store, D, chunk_rows=100))
    assert [len(b) for b in blocks] == [100, 100, 40]
    status = cli.main(["predict", str(tmp_path / "model.npz"), store, "--proba"])
    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    rows = list(csv.reader(io.StringIO(out)))
    assert [int(r[0]) for r in rows[1:]] == model.predict(X).tolist()
    got = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(got, model.predict_proba(X), rtol=1e-6)


def test_bad_stores_are_one_line_errors(tmp_path, capsys):
    model = SoftmaxRegression(max_epochs=2, dtype="float32", random_state=0).fit(X, Y)
    model.save(tmp_path / "model.npz")
    store = tmp_path / "bad.zarr"
    write_zarr(store, X, Y)
    meta = json.loads((store / "X" / "zarr.json").read_text())
    meta["codecs"].append({"name": "numcodecs.pickle"})
    (store / "X" / "zarr.json").write_text(json.dumps(meta))
    line = one_line_error(
        capsys,
        cli.main(["train", "--no-progress", "--out", str(tmp_path / "r"), "--data", str(store)]),
    )
    assert f"{store}: X has codec 'numcodecs.pickle'" in line and "; expected codecs bytes" in line
    assert not (tmp_path / "r").exists()
    line = one_line_error(capsys, cli.main(["predict", str(tmp_path / "model.npz"), str(store)]))
    assert "numcodecs.pickle" in line
    wide = write_zarr(tmp_path / "wide.zarr", np.column_stack([X, X]), Y)
    line = one_line_error(capsys, cli.main(["predict", str(tmp_path / "model.npz"), wide]))
    assert "12 features; expected 6, the number" in line
    (tmp_path / "empty.zarr").mkdir()
    line = one_line_error(
        capsys, cli.main(["predict", str(tmp_path / "model.npz"), str(tmp_path / "empty.zarr")])
    )
    assert "no zarr.json" in line and "expected a zarr store" in line
    (tmp_path / "file.zarr").write_text("x")
    line = one_line_error(
        capsys, cli.main(["predict", str(tmp_path / "model.npz"), str(tmp_path / "file.zarr")])
    )
    assert "file.zarr: not a folder; expected a zarr store" in line


def test_a_store_larger_than_memory_is_refused_before_reading(tmp_path, capsys, monkeypatch):
    store = write_zarr(tmp_path / "s.zarr", X, Y)
    monkeypatch.setattr(data_files, "_memory_bytes", lambda: 1000)
    line = one_line_error(
        capsys, cli.main(["train", "--no-progress", "--out", str(tmp_path / "r"), "--data", store])
    )
    assert "more than this machine's memory" in line and "chunks()" in line


def test_help_imports_no_zarr():
    import subprocess

    code = "import sys; from fastreg import cli; cli.build_parser(); print('zarr' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
