"""``fastreg predict MODEL.npz INPUT``: every input kind, streamed in blocks, and its failures.

Models are trained here on small random data (or, marked ``real_data``, on MNIST) and saved;
inputs are written under tmp_path in each format; the command runs through
``fastreg.cli.main`` and its CSV output is read back and compared with ``model.predict`` and
``model.predict_proba`` on the same rows. The reader's blocks are checked directly
(:func:`fastreg.cli.input_chunks.iter_input_chunks`): sizes at and across block boundaries,
and memory bounded by a block, not by the file.
"""

import csv
import gzip
import io
import os
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fastreg import cli
from fastreg.cli.errors import CLIError
from fastreg.cli.input_chunks import iter_input_chunks
from fastreg.datasets import write_dataset
from fastreg.linear_model import LogisticRegression, SoftmaxRegression

N, D = 50, 6
RNG = np.random.default_rng(1515)
X = RNG.normal(size=(N, D))
Y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)  # classes 0, 1, 2
KINDS = ("npy", "npz", "npz-deflated", "frd", "csv", "csv.gz", "svm")


@pytest.fixture(scope="module")
def softmax(tmp_path_factory):
    """A float64 softmax model of three classes, and its file."""
    model = SoftmaxRegression(max_epochs=5, dtype="float64", random_state=0).fit(X, Y)
    path = tmp_path_factory.mktemp("model") / "model.npz"
    model.save(path)
    return model, path


def write_input(folder, kind, rows=X, labels=None):
    """``rows`` written as ``kind`` (the svmlight file one-based, as most are)."""
    path = Path(folder) / f"in.{kind.replace('-deflated', '')}"
    if kind == "npy":
        np.save(path, rows)
    elif kind == "npz":
        np.savez(path, X=rows, y=np.zeros(len(rows)))
    elif kind == "npz-deflated":
        np.savez_compressed(path, other=np.arange(3), X=rows)
    elif kind == "frd":
        write_dataset(path, rows, np.zeros(len(rows), dtype=int) if labels is None else labels)
    elif kind == "svm":
        from sklearn.datasets import dump_svmlight_file

        labels = np.zeros(len(rows)) if labels is None else labels
        dump_svmlight_file(rows, labels, str(path), zero_based=False)
    else:
        text = "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)
        header = ",".join(f"f{j}" for j in range(rows.shape[1])) + "\n"
        if kind == "csv":
            path.write_text(header + text)
        else:
            with gzip.open(path, "wt") as fh:
                fh.write(header + text)
    return path


def predict_cli(capsys, *argv):
    """Run ``fastreg predict ARGV``; (status, stdout, stderr)."""
    status = cli.main(["predict", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def read_output(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def check_predictions(model, rows, header, body, proba, chunk_rows=65536):
    """The output (header, body) is model.predict(rows), and with ``proba`` exactly
    model.predict_proba of each block of ``chunk_rows`` rows (``rows`` dense, or CSR as the
    svmlight reader gives them: the sparse kernel sums in another order, and BLAS may sum
    a block of another shape in another order too)."""
    classes = model.classes_.tolist()
    assert header == ["label"] + ([f"proba_{c}" for c in classes] if proba else [])
    assert len(body) == rows.shape[0]
    assert [type(classes[0])(r[0]) for r in body] == model.predict(rows).tolist()
    if proba:
        got = np.array([[float(v) for v in r[1:]] for r in body])
        blocks = range(0, rows.shape[0], chunk_rows)
        expected = np.concatenate([model.predict_proba(rows[i : i + chunk_rows]) for i in blocks])
        np.testing.assert_array_equal(got, expected)  # written exactly


# ------------------------------------------------------------------------ every input kind
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("proba", [False, True])
def test_every_input_kind_to_stdout(softmax, tmp_path, capsys, kind, proba):
    model, model_path = softmax
    rows = X.round(6) if kind == "svm" else X  # the svmlight writer keeps 16 digits
    path = write_input(tmp_path, kind, rows)
    extra = ["--proba"] if proba else []
    status, out, err = predict_cli(capsys, model_path, path, "--chunk-rows", 7, *extra)
    assert (status, err) == (0, "")
    if kind == "svm":
        import scipy.sparse as sp

        rows = sp.csr_matrix(rows)
    check_predictions(model, rows, *read_output(out), proba, chunk_rows=7)


@pytest.mark.parametrize("chunk_rows", [1, 7, 10, 49, 50, 51, 65536, 10**12])
@pytest.mark.parametrize("kind", KINDS)
def test_blocks_cover_the_rows_in_order(tmp_path, kind, chunk_rows):
    rows = X.round(6)
    blocks = list(iter_input_chunks(write_input(tmp_path, kind, rows), D, chunk_rows=chunk_rows))
    sizes = [b.shape[0] for b in blocks]
    assert sizes == [chunk_rows] * (N // chunk_rows) + ([N % chunk_rows] if N % chunk_rows else [])
    dense = [b.toarray() if hasattr(b, "toarray") else b for b in blocks]
    np.testing.assert_array_equal(np.concatenate(dense), rows)


@pytest.mark.parametrize("block_bytes", [37, 1000])
def test_svmlight_lines_longer_than_a_read_are_whole(tmp_path, monkeypatch, block_bytes):
    """The svmlight reader parses whole lines: a line split by a read is carried over."""
    from fastreg.cli import input_chunks

    monkeypatch.setattr(input_chunks, "_SVM_BLOCK", block_bytes)
    rows = X.round(6)
    blocks = list(iter_input_chunks(write_input(tmp_path, "svm", rows), D, chunk_rows=9))
    assert [b.shape[0] for b in blocks] == [9] * 5 + [5]
    np.testing.assert_array_equal(np.concatenate([b.toarray() for b in blocks]), rows)


def test_svmlight_zero_based_when_an_index_0_appears_anywhere(tmp_path, monkeypatch):
    """One index 0 on the last line makes the whole file zero-based (a comment's does not)."""
    from fastreg.cli import input_chunks

    monkeypatch.setattr(input_chunks, "_SVM_BLOCK", 16)
    text = "1 2:1 3:2 # 0:9\n0 1:5\n"
    (tmp_path / "a.svm").write_text(text)
    (tmp_path / "b.svm").write_text(text + "1 0:7\n")
    (a,) = iter_input_chunks(tmp_path / "a.svm", 3, chunk_rows=10)
    np.testing.assert_array_equal(a.toarray(), [[0, 1, 2], [5, 0, 0]])  # one-based
    (b,) = iter_input_chunks(tmp_path / "b.svm", 4, chunk_rows=10)
    np.testing.assert_array_equal(b.toarray(), [[0, 0, 1, 2], [0, 5, 0, 0], [7, 0, 0, 0]])


def test_a_run_folder_and_out_file(softmax, tmp_path, capsys):
    model, model_path = softmax
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.npz").write_bytes(Path(model_path).read_bytes())
    out = tmp_path / "pred.csv"
    status, stdout, _ = predict_cli(capsys, run, write_input(tmp_path, "npy"), "--out", out)
    assert (status, stdout) == (0, "")
    check_predictions(model, X, *read_output(out.read_text()), False)
    assert sorted(os.listdir(tmp_path)) == ["in.npy", "pred.csv", "run"]  # no temporary file


def test_string_classes_of_a_binary_model(tmp_path, capsys):
    names = np.array(["cat, black", "dog"])[(X[:, 0] > 0).astype(int)]  # a comma: quoted
    model = LogisticRegression(max_epochs=5, dtype="float32", random_state=0).fit(X, names)
    model.save(tmp_path / "m.npz")
    status, out, _ = predict_cli(
        capsys, tmp_path / "m.npz", write_input(tmp_path, "npy"), "--proba"
    )
    header, body = read_output(out)
    assert status == 0 and header == ["label", "proba_cat, black", "proba_dog"]
    assert [r[0] for r in body] == model.predict(X).tolist()
    got = np.array([[float(v) for v in r[1:]] for r in body], dtype=np.float32)
    np.testing.assert_array_equal(got, model.predict_proba(X))  # float32: %.9g reads back


def test_a_sparse_input_to_a_model_that_scales_its_input(tmp_path, capsys):
    """The sparse kernels do not scale; predict scales a copy of each block itself."""
    pixels = RNG.integers(0, 256, size=(N, D)).astype(np.float64)
    model = SoftmaxRegression(max_epochs=3, input_scale=1 / 255, dtype="float64").fit(pixels, Y)
    model.save(tmp_path / "m.npz")
    status, out, _ = predict_cli(
        capsys, tmp_path / "m.npz", write_input(tmp_path, "svm", pixels), "--proba"
    )
    _, body = read_output(out)
    assert status == 0 and [int(r[0]) for r in body] == model.predict(pixels).tolist()
    got = np.array([[float(v) for v in r[1:]] for r in body])
    np.testing.assert_allclose(got, model.predict_proba(pixels), rtol=1e-12)


def test_a_zero_based_svmlight_file(softmax, tmp_path, capsys):
    from sklearn.datasets import dump_svmlight_file

    model, model_path = softmax
    rows = X.round(6)
    dump_svmlight_file(rows, np.zeros(N), str(tmp_path / "z.svm"), zero_based=True)
    status, out, _ = predict_cli(capsys, model_path, tmp_path / "z.svm", "--chunk-rows", 9)
    assert status == 0
    check_predictions(model, rows, *read_output(out), False)


def test_csv_label_columns_are_dropped(softmax, tmp_path, capsys):
    model, model_path = softmax
    lines = "".join(f"{k}," + ",".join(map(repr, row.tolist())) + "\n" for row, k in zip(X, Y))
    (tmp_path / "first.csv").write_text("label," + ",".join("abcdef") + "\n" + lines)
    (tmp_path / "plain.csv").write_text(lines)
    for name, target in (("first.csv", "label"), ("plain.csv", "0")):
        status, out, err = predict_cli(capsys, model_path, tmp_path / name, "--target", target)
        assert (status, err) == (0, "")
        check_predictions(model, X, *read_output(out), False)
    last = "".join(",".join(map(repr, row.tolist())) + f",{k}\n" for row, k in zip(X, Y))
    (tmp_path / "last.csv").write_text(last)  # one column more than features: the label
    status, out, _ = predict_cli(capsys, model_path, tmp_path / "last.csv")
    check_predictions(model, X, *read_output(out), False)


def test_an_empty_input_writes_the_header_only(softmax, tmp_path, capsys):
    _, model_path = softmax
    status, out, _ = predict_cli(capsys, model_path, write_input(tmp_path, "npy", X[:0]))
    assert (status, out) == (0, "label\n")


# ------------------------------------------------------------------------------ failures
@pytest.mark.parametrize("kind", KINDS)
def test_a_feature_count_mismatch_is_refused(softmax, tmp_path, capsys, kind):
    _, model_path = softmax
    wide = np.column_stack([X, X[:, :3]])  # 9 features (svmlight: index 9 > 6)
    status, out, err = predict_cli(capsys, model_path, write_input(tmp_path, kind, wide))
    assert status == 1 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("fastreg: error: ")
    expected = "with at most 6 features" if kind == "svm" else "9 features; expected 6, the number"
    assert expected in line


@pytest.mark.parametrize("kind", ["npy", "npz", "csv", "svm"])
def test_out_is_written_whole_or_not_at_all(softmax, tmp_path, capsys, kind):
    """A NaN in row 43 is found in the sixth block of 8 rows: five blocks were written to the
    temporary file, which is removed; --out never appears."""
    _, model_path = softmax
    bad = X.copy()
    bad[43, 2] = np.nan
    folder = tmp_path / "out"
    folder.mkdir()
    if kind == "svm":  # scikit-learn's writer refuses NaN; a file from elsewhere need not
        lines = (" ".join(f"{j + 1}:{v!r}" for j, v in enumerate(row)) for row in bad.tolist())
        source = tmp_path / "in.svm"
        source.write_text("".join(f"0 {line}\n" for line in lines))
    else:
        source = write_input(tmp_path, kind, bad)
    status, out, err = predict_cli(
        capsys, model_path, source, "--out", folder / "p.csv", "--chunk-rows", 8
    )
    assert status == 1 and out == "" and "nan" in err
    assert ("line 45, column 2" if kind == "csv" else "X[43, 2] is nan") in err
    assert os.listdir(folder) == []


def test_ctrl_c_while_writing_leaves_no_out_file(softmax, tmp_path, capsys, monkeypatch):
    _, model_path = softmax
    calls = []
    predict = SoftmaxRegression.predict

    def interrupted(self, X):
        calls.append(len(X))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return predict(self, X)

    monkeypatch.setattr(SoftmaxRegression, "predict", interrupted)
    folder = tmp_path / "out"
    folder.mkdir()
    source = write_input(tmp_path, "npy")
    status, out, err = predict_cli(
        capsys, model_path, source, "--out", folder / "p.csv", "--chunk-rows", 10
    )
    assert (status, out, err) == (130, "", "fastreg: error: interrupted\n")
    assert calls == [10, 10, 10] and os.listdir(folder) == []


def test_out_must_name_a_file_in_a_folder_that_exists(softmax, tmp_path, capsys):
    _, model_path = softmax
    source = write_input(tmp_path, "npy")
    status, _, err = predict_cli(capsys, model_path, source, "--out", tmp_path)
    assert status == 1 and "not a file name" in err
    status, _, err = predict_cli(capsys, model_path, source, "--out", tmp_path / "no" / "p.csv")
    assert status == 1 and "create it first" in err
    assert not (tmp_path / "no").exists()


def test_an_existing_out_needs_overwrite(softmax, tmp_path, capsys):
    model, model_path = softmax
    out = tmp_path / "p.csv"
    out.write_text("old\n")
    source = write_input(tmp_path, "npy")
    status, _, err = predict_cli(capsys, model_path, source, "--out", out)
    assert status == 1 and "exists; choose another --out FILE or pass --overwrite" in err
    assert out.read_text() == "old\n"
    status, _, _ = predict_cli(capsys, model_path, source, "--out", out, "--overwrite")
    assert status == 0
    check_predictions(model, X, *read_output(out.read_text()), False)
    status, _, err = predict_cli(capsys, model_path, source, "--out", source, "--overwrite")
    assert status == 1 and "is the INPUT file" in err


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: np.save(p / "o.npy", np.array([{}, {}], dtype=object)), "not a numeric .npy"),
        (lambda p: np.save(p / "o.npy", X[:, 0]), "has shape (50,); expected rows x features"),
        (lambda p: np.save(p / "o.npy", X.astype(str)), "has dtype <U"),
        (lambda p: np.savez(p / "o.npz", a=X, b=X), "no member X and 2 2-D members (a, b)"),
        (lambda p: np.savez(p / "o.npz", X=np.asfortranarray(X)), "Fortran order"),
        (lambda p: (p / "o.npz").write_text("x"), "unreadable .npz archive"),
        (lambda p: (p / "o.csv").write_text("a,b\n1,2\n"), "2 features; expected 6"),
        (lambda p: (p / "o.svm").write_text("1 1:x\n"), "lines 1-1: "),
        (lambda p: (p / "o.frd").write_text("x"), "not a fastreg dataset file"),
        (lambda p: (p / "o.txt").write_text("x"), "unknown kind of file"),
    ],
)
def test_bad_inputs_are_refused_in_one_line(softmax, tmp_path, capsys, make, message):
    _, model_path = softmax
    make(tmp_path)
    (source,) = [p for p in tmp_path.iterdir() if p.name.startswith("o.")]
    status, out, err = predict_cli(capsys, model_path, source)
    assert status == 1 and out == "" and len(err.splitlines()) == 1
    assert message in err and "; expected " in err


def test_the_model_and_the_arguments_are_checked(softmax, tmp_path, capsys):
    _, model_path = softmax
    source = write_input(tmp_path, "npy")
    status, _, err = predict_cli(capsys, tmp_path / "none.npz", source)
    assert status == 1 and "pass the model.npz written by `fastreg train`" in err
    status, _, err = predict_cli(capsys, source, source)
    assert status == 1 and "is not a fastreg model file" in err
    status, _, err = predict_cli(capsys, model_path, tmp_path / "none.npy")
    assert status == 1 and "No such file" in err
    status, _, err = predict_cli(capsys, model_path, source, "--chunk-rows", 0)
    assert status == 2 and "--chunk-rows" in err
    status, _, err = predict_cli(capsys, model_path, source, "--target", "y")
    assert status == 2 and "--target applies to CSV input only" in err
    status, _, err = predict_cli(capsys, model_path, source, "--overwrite")
    assert status == 2 and "--overwrite applies to --out FILE only" in err


def test_an_npz_member_is_streamed_and_its_crc_checked(tmp_path):
    """A member whose bytes were altered on disk is refused when its end is reached."""
    np.savez(tmp_path / "s.npz", X=X)
    raw = bytearray((tmp_path / "s.npz").read_bytes())
    at = raw.find(X.tobytes()[:16]) + 100
    raw[at] ^= 0xFF
    (tmp_path / "s.npz").write_bytes(bytes(raw))
    with pytest.raises(CLIError, match=r"Bad CRC-32 for file 'X.npy'"):
        list(iter_input_chunks(tmp_path / "s.npz", D, chunk_rows=7))
    with zipfile.ZipFile(tmp_path / "s.npz") as archive:  # the damage is in the data
        assert archive.testzip() == "X.npy"


# ------------------------------------------------------------------------------ memory
@pytest.mark.parametrize("kind", ["npy", "npz", "csv", "svm"])
def test_memory_is_bounded_by_a_block_not_the_file(tmp_path, capsys, kind):
    """A file of 50 MB (text: 25 or 16 MB, as tracemalloc slows their parsers down), predicted
    500 rows at a time, allocates a few MB at most (tracemalloc sees NumPy's and Python's
    allocations; a memory map is not an allocation)."""
    wide = RNG.normal(size=(400, 64)).round(6)
    model = SoftmaxRegression(max_epochs=1, dtype="float64").fit(wide, np.arange(400) % 3)
    model.save(tmp_path / "m.npz")
    rows = {"npy": 100_000, "npz": 100_000, "csv": 40_000, "svm": 20_000}[kind]
    if kind in ("npy", "npz"):
        source = write_input(tmp_path, kind, np.tile(wide, (rows // 400, 1)))
    else:  # the text of 400 rows, repeated (formatting every row would take long)
        source = write_input(tmp_path, kind, wide)
        header, _, body = source.read_bytes().partition(b"\n") if kind == "csv" else (b"", 0, 0)
        body = body if kind == "csv" else source.read_bytes()
        source.write_bytes(header + b"\n" * (kind == "csv") + body * (rows // 400))
    size = source.stat().st_size
    assert size > 15e6
    tracemalloc.start()
    try:
        status, _, err = predict_cli(
            capsys, tmp_path / "m.npz", source, "--out", tmp_path / "p.csv", "--chunk-rows", 500
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (status, err) == (0, "")
    assert peak < min(8e6, size / 3), (peak, size)
    with open(tmp_path / "p.csv") as fh:
        assert sum(1 for _ in fh) == rows + 1


# ------------------------------------------------------------------------------ real data
@pytest.mark.real_data
def test_real_mnist_predictions_match_the_model(mnist, tmp_path, capsys):
    """A softmax model trained on 6000 MNIST images; the CLI's labels for the 10000 test
    images (a uint8 .npy, read in blocks of 4096) are model.predict's."""
    model = SoftmaxRegression(max_epochs=2, input_scale=1 / 255, random_state=0)
    X_train = mnist.X_train[:6000].reshape(6000, -1)
    model.fit(X_train, mnist.y_train[:6000])
    model.save(tmp_path / "model.npz")
    X_test = np.ascontiguousarray(mnist.X_test.reshape(len(mnist.X_test), -1))
    np.save(tmp_path / "test.npy", X_test)
    status, _, err = predict_cli(
        capsys,
        tmp_path / "model.npz",
        tmp_path / "test.npy",
        "--out",
        tmp_path / "labels.csv",
        "--chunk-rows",
        4096,
        "--proba",
    )
    assert (status, err) == (0, "")
    header, body = read_output((tmp_path / "labels.csv").read_text())
    assert header == ["label"] + [f"proba_{k}" for k in range(10)]
    expected = model.predict(X_test)
    assert [int(r[0]) for r in body] == expected.tolist()
    assert np.mean(expected == mnist.y_test) > 0.8  # a real model, not a constant
