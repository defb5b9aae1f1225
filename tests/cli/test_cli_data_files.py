"""``fastreg train --data FILE``: each kind of file read whole, and each bad file refused.

Every test writes its own small file under tmp_path and reads it with
:func:`fastreg.cli.data_files.read_data_file`, checking the arrays against what was written,
or the one-line message ``<path>: <what is wrong>; expected <...>`` of a refusal. The options
(``--data``, ``--target``, ``--image-shape``) are parsed by the CLI's own parser class.
"""

import gzip
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fastreg.cli import data_files
from fastreg.cli.data_files import check_image_shape, read_data_file
from fastreg.cli.errors import EXIT_USAGE, CLIError, UsageError
from fastreg.cli.parser import _Parser
from fastreg.datasets import write_dataset
from fastreg.datasets._dataset_file import DATA_OFFSET

RNG = np.random.default_rng(15)
X = RNG.normal(size=(30, 4))
Y = np.arange(30) % 3


def refusal(path, **kwargs):
    """The message of the CLIError reading ``path`` raises; it must be one line."""
    with pytest.raises(CLIError) as info:
        read_data_file(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def with_value(A, i, j, value):
    A = A.copy()
    A[i, j] = value
    return A


def write_csv(path, rows, header=None):
    lines = ([",".join(header)] if header else []) + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------------------ kinds
@pytest.mark.parametrize(
    "name, kind",
    [
        ("a.frd", "frd"),
        ("a.NPZ", "npz"),
        ("a.csv", "csv"),
        ("a.csv.gz", "csv"),
        ("a.svm", "svmlight"),
        ("a.svmlight", "svmlight"),
        ("a.libsvm", "svmlight"),
    ],
)
def test_the_kind_comes_from_the_name(name, kind):
    assert data_files.data_kind(name) == kind


@pytest.mark.parametrize("name", ["a.txt", "a.gz", "csv", ".npz", "a.npy"])
def test_an_unknown_name_is_refused_with_the_names_known(name):
    with pytest.raises(CLIError, match=r"unknown kind of file .*expected a name ending in .frd"):
        data_files.data_kind(name)


def test_a_missing_file_and_a_folder_are_refused(tmp_path):
    assert (
        refusal(tmp_path / "none.csv")
        == f"cannot read {tmp_path / 'none.csv'}: No such file; check the path"
    )
    (tmp_path / "dir.npz").mkdir()
    assert "Is a directory" in refusal(tmp_path / "dir.npz")


def test_target_applies_to_csv_only(tmp_path):
    np.savez(tmp_path / "d.npz", X=X, y=Y)
    with pytest.raises(UsageError, match="--target applies to CSV files only"):
        read_data_file(tmp_path / "d.npz", target="y")


# ------------------------------------------------------------------------------ .npz
def test_npz_with_and_without_a_test_set(tmp_path):
    np.savez(tmp_path / "a.npz", X=X, y=Y.astype(np.float64))
    data = read_data_file(tmp_path / "a.npz")
    assert data.kind == "npz" and data.X_test is None and data.y_test is None
    np.testing.assert_array_equal(data.X, X)
    assert data.y.dtype.kind == "i" and data.y.tolist() == Y.tolist()  # whole floats -> ints
    images = RNG.integers(0, 256, size=(30, 6), dtype=np.uint8)
    names = np.array(["cat", "dog", "emu"])[Y]
    np.savez_compressed(tmp_path / "b.npz", X=images, y=names, X_test=images[:5], y_test=names[:5])
    data = read_data_file(tmp_path / "b.npz")
    assert data.X.dtype == np.uint8 and data.y.tolist() == names.tolist()
    np.testing.assert_array_equal(data.X_test, images[:5])
    assert data.y_test.tolist() == names[:5].tolist()
    assert data.feature_names is None and data.target is None


def test_npz_float_labels_that_are_not_whole_stay_floats(tmp_path):
    np.savez(tmp_path / "a.npz", X=X, y=Y + 0.5)
    assert read_data_file(tmp_path / "a.npz").y.dtype == np.float64


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"X": X}, "no member y"),
        ({"y": Y}, "no member X"),
        ({"X": X, "y": Y[:-1]}, "X has 30 rows but y 29"),
        ({"X": X[:, 0], "y": Y}, "entry 'X': shape (30,), expected (any, any)"),
        ({"X": X, "y": Y, "X_test": X}, "X_test without y_test"),
        ({"X": X, "y": Y, "X_test": X[:, :3], "y_test": Y}, "X has 4 features but X_test 3"),
        ({"X": X, "y": Y, "X_test": X[:3], "y_test": Y}, "X_test has 3 rows but y_test 30"),
        ({"X": X.astype(str), "y": Y}, "entry 'X': dtype <U"),
        ({"X": X[:0], "y": Y[:0]}, "X is empty (0 x 4)"),
        ({"X": X[:, :0], "y": Y}, "X is empty (30 x 0)"),
        ({"X": with_value(X, 5, 3, np.nan), "y": Y}, "X[5, 3] is nan; expected finite numbers"),
        ({"X": X, "y": np.where(Y > 1, np.inf, Y)}, "y[2] is inf; expected finite labels"),
    ],
)
def test_bad_npz_files_are_refused(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    text = refusal(tmp_path / "bad.npz")
    assert text.startswith(f"{tmp_path / 'bad.npz'}: ") and message in text
    assert "; expected " in text


def test_an_object_array_in_an_npz_is_refused_before_it_is_unpickled(tmp_path):
    boxes = np.empty(30, dtype=object)
    boxes[:] = [[1.0]] * 30
    np.savez(tmp_path / "obj.npz", X=X, y=boxes)  # np.savez pickles object arrays
    assert "entry 'y': dtype object" in refusal(tmp_path / "obj.npz")


def test_npz_that_is_no_archive_is_refused(tmp_path):
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "x.npz").write_bytes((tmp_path / "x.npy").read_bytes())
    assert "a single .npy array, not an .npz archive" in refusal(tmp_path / "x.npz")
    (tmp_path / "t.npz").write_text("X,y\n1,2\n")
    assert "not a zip archive" in refusal(tmp_path / "t.npz")


def test_an_npz_member_that_claims_more_than_its_bytes_is_never_inflated(tmp_path):
    """The header says 10^12 rows; the member holds a few bytes: refused from the header."""
    header = b"\x93NUMPY\x01\x00"
    text = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 4), }"
    text = text.ljust(118) + "\n"
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        archive.writestr("X.npy", header + len(text).to_bytes(2, "little") + text.encode())
        archive.writestr("y.npy", b"")
    assert "entry 'X'" in refusal(tmp_path / "huge.npz")


# ------------------------------------------------------------------------------ .frd
def test_frd_keeps_uint8_and_gives_the_image_shape(tmp_path):
    images = RNG.integers(0, 256, size=(12, 3, 5), dtype=np.uint8)
    labels = np.arange(12) % 2
    path = write_dataset(tmp_path / "img.frd", images, labels)
    data = read_data_file(path)
    assert data.kind == "frd" and data.X.dtype == np.uint8 and data.X.shape == (12, 15)
    np.testing.assert_array_equal(data.X, images.reshape(12, 15))
    assert data.y.tolist() == labels.tolist() and data.image_shape == (3, 5)
    flat = read_data_file(write_dataset(tmp_path / "flat.frd", X.astype(np.float32), Y))
    assert flat.image_shape is None and flat.X.dtype == np.float32


def test_a_damaged_frd_is_refused(tmp_path):
    path = Path(write_dataset(tmp_path / "d.frd", X, Y))
    path.write_bytes(path.read_bytes()[:-8])
    assert "file truncated" in refusal(path)
    (tmp_path / "e.frd").write_bytes(b"not a dataset")
    assert "not a fastreg dataset file" in refusal(tmp_path / "e.frd")


def test_an_frd_holding_nan_is_refused(tmp_path):
    """write_dataset refuses NaN; a file edited afterwards opens (its X digest is checked by
    verify() only), so the reader checks X itself."""
    path = Path(write_dataset(tmp_path / "n.frd", X, Y))
    raw = bytearray(path.read_bytes())
    at = DATA_OFFSET + (7 * X.shape[1] + 2) * 8
    raw[at : at + 8] = np.array(np.nan).tobytes()
    path.write_bytes(bytes(raw))
    assert "X[7, 2] is nan" in refusal(path)


# ------------------------------------------------------------------------------ .csv
def test_csv_with_a_header_takes_the_last_column_as_labels(tmp_path):
    path = write_csv(
        tmp_path / "h.csv",
        [[*row, f"c{k}"] for row, k in zip(X, Y)],
        header=["a", "b", "c", "d", "kind"],
    )
    data = read_data_file(path)
    assert data.kind == "csv" and data.feature_names == ["a", "b", "c", "d"]
    assert data.target == "kind" and data.y.tolist() == [f"c{k}" for k in Y]
    np.testing.assert_array_equal(data.X, X)  # repr of a float reads back exactly


def test_csv_without_a_header_and_whole_number_labels(tmp_path):
    path = write_csv(tmp_path / "n.csv", [[*row, f"{k}.0"] for row, k in zip(X, Y)])
    data = read_data_file(path)
    assert data.feature_names is None and data.target is None
    assert data.y.dtype.kind == "i" and data.y.tolist() == Y.tolist()
    np.testing.assert_array_equal(data.X, X)


def test_csv_integer_labels_keep_every_digit(tmp_path):
    big = [2**62 + k for k in range(3)]  # not exact as floats
    path = write_csv(tmp_path / "i.csv", [[1.0, label] for label in big])
    assert read_data_file(path).y.tolist() == big
    path = write_csv(tmp_path / "f.csv", [[1.0, "0.5"], [2.0, "2"]])
    assert read_data_file(path).y.tolist() == [0.5, 2.0]


def test_csv_target_by_name_and_by_index(tmp_path):
    rows = [[k, *row] for row, k in zip(X, Y)]
    named = read_data_file(
        write_csv(tmp_path / "h.csv", rows, ["y", "a", "b", "c", "d"]), target="y"
    )
    assert named.target == "y" and named.feature_names == ["a", "b", "c", "d"]
    indexed = read_data_file(write_csv(tmp_path / "n.csv", rows), target="0")
    for data in (named, indexed):
        np.testing.assert_array_equal(data.X, X)
        assert data.y.tolist() == Y.tolist()
    middle = read_data_file(tmp_path / "h.csv", target="2")  # an index also with a header
    assert middle.target == "b" and middle.feature_names == ["y", "a", "c", "d"]


def test_csv_quoting_blank_lines_bom_and_gzip(tmp_path):
    text = '\ufeffx1,x2,label\n1,2,"a, b"\n\n3,4,"say ""hi"""\n'
    (tmp_path / "q.csv").write_text(text, encoding="utf-8")
    data = read_data_file(tmp_path / "q.csv")
    assert data.feature_names == ["x1", "x2"] and data.y.tolist() == ["a, b", 'say "hi"']
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4]])
    with gzip.open(tmp_path / "q.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write(text)
    zipped = read_data_file(tmp_path / "q.csv.gz")
    np.testing.assert_array_equal(zipped.X, data.X)
    assert zipped.y.tolist() == data.y.tolist()


def test_a_large_csv_is_parsed_in_blocks_with_the_same_result(tmp_path):
    many = RNG.normal(size=(70_000, 3)).round(4)
    labels = np.arange(70_000) % 7
    np.savetxt(tmp_path / "big.csv", np.column_stack([many, labels]), delimiter=",", fmt="%.4f")
    data = read_data_file(tmp_path / "big.csv")
    np.testing.assert_array_equal(data.X, many)
    assert data.y.tolist() == labels.tolist()


@pytest.mark.parametrize(
    "text, target, message",
    [
        ("a,b,y\n1,2,0\n1,x,1\n", None, "line 3, column 1 (b): 'x' is not a number"),
        ("1,2,0\n1,,1\n", None, "line 2, column 1: '' is not a number"),
        ("a,b,y\n1,2,0\n1,nan,1\n", None, "line 3, column 1 (b): nan is not a finite number"),
        ("y,a,b\n0,1,2\n1,3,inf\n", "y", "line 3, column 2 (b): inf is not a finite number"),
        ("a,b,y\n1,2,0\n1,2\n", None, "line 3 has 2 cells; expected 3, as in the first row"),
        ("a,b,y\n1,2,0\n1,2,\n", None, "line 3: empty label"),
        ("a,b,y\n", None, "no data rows"),
        ("", None, "no rows"),
        ("\n\n", None, "no rows"),
        ("y\n1\n", None, "only a label column"),
        ("a,b,y\n1,2,0\n", "z", "no column 'z' (--target; columns: a, b, y)"),
        ("1,2,0\n", "z", "no column 'z' (--target; no header row)"),
        ("1,2,0\n", "3", "no column 3 (--target) in rows of 3 columns"),
        ("a,y,y\n1,2,0\n", "y", "the header names 'y' twice"),
    ],
)
def test_bad_csv_files_are_refused(tmp_path, text, target, message):
    (tmp_path / "bad.csv").write_text(text)
    got = refusal(tmp_path / "bad.csv", target=target)
    assert got.startswith(f"{tmp_path / 'bad.csv'}: ") and message in got, got
    assert "; expected " in got


def test_csv_that_is_not_utf8_or_not_gzip_is_refused(tmp_path):
    (tmp_path / "l.csv").write_bytes("a,b,y\n1,2,\xe9t\xe9\n".encode("latin-1"))
    assert "not UTF-8 text" in refusal(tmp_path / "l.csv")
    (tmp_path / "z.csv.gz").write_bytes(b"a,b,y\n1,2,3\n")
    assert "damaged gzip data" in refusal(tmp_path / "z.csv.gz")


def test_an_overlong_csv_line_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    from fastreg.cli.input_chunks import CsvReader

    monkeypatch.setattr(sys.modules[CsvReader.__module__], "MAX_LINE_CHARS", 100)
    (tmp_path / "w.csv").write_text("1," * 60 + "0\n")
    assert "line 1 is longer than 100 characters" in refusal(tmp_path / "w.csv")


# ------------------------------------------------------------------------------ svmlight
@pytest.mark.parametrize("zero_based", [True, False])
def test_svmlight_one_and_zero_based(tmp_path, zero_based):
    from sklearn.datasets import dump_svmlight_file

    sparse_X = np.where(np.abs(X) > 1, X, 0.0).round(3)  # the writer keeps 16 digits
    sparse_X[:, 0] = 1.0  # column 0 used: a zero-based file holds the index 0
    dump_svmlight_file(sparse_X, Y, str(tmp_path / "d.svm"), zero_based=zero_based)
    data = read_data_file(tmp_path / "d.svm")
    assert data.kind == "svmlight" and data.X.format == "csr" and data.X.dtype == np.float64
    np.testing.assert_array_equal(data.X.toarray(), sparse_X)
    assert data.y.dtype.kind == "i" and data.y.tolist() == Y.tolist()


@pytest.mark.parametrize(
    "text, message",
    [
        ("1 2:1.5 1:2\n", "should be sorted"),
        ("1 a:1\n", "not svmlight/libsvm data"),
        ("# only a comment\n", "no data rows"),
        ("1 1:nan\n", "X[0, 0] is nan"),
    ],
)
def test_bad_svmlight_files_are_refused(tmp_path, text, message):
    (tmp_path / "bad.svm").write_text(text)
    got = refusal(tmp_path / "bad.svm")
    assert got.startswith(f"{tmp_path / 'bad.svm'}: ") and message in got, got


def test_svmlight_without_scikit_learn_says_how_to_install_it(tmp_path, monkeypatch):
    (tmp_path / "d.svm").write_text("1 1:1\n")
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails
    assert "pip install scikit-learn" in refusal(tmp_path / "d.svm")


# ------------------------------------------------------------------------------ options
def parse(*argv):
    parser = _Parser(prog="fastreg train")
    data_files.add_data_file_options(parser.add_argument_group("data"))
    return parser.parse_args(list(argv))


def test_the_options_and_their_defaults():
    args = parse()
    assert (args.data, args.target, args.image_shape) == (None, None, None)
    args = parse("--data", "f.csv", "--target", "y", "--image-shape", "28", "28")
    assert (args.data, args.target, args.image_shape) == ("f.csv", "y", [28, 28])


@pytest.mark.parametrize("values", [["0", "5"], ["2", "x"], ["3"]])
def test_a_bad_image_shape_is_a_usage_error(values):
    with pytest.raises(UsageError) as info:
        parse("--image-shape", *values)
    assert info.value.exit_code == EXIT_USAGE and "--image-shape" in str(info.value)


def test_check_image_shape():
    assert check_image_shape(None, 17) is None
    assert check_image_shape([4, 5], 20) == (4, 5)
    with pytest.raises(UsageError) as info:
        check_image_shape([28, 28], 100)
    assert info.value.exit_code == EXIT_USAGE
    assert "--image-shape 28 28 makes 784 pixels but the data have 100 features" in str(info.value)
