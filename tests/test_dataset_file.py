"""The dataset file: write, read back, stream in chunks, and refuse damaged files.

Round trips over the three stored dtypes and image stacks; the writer's chunk-by-chunk mode
(rows need not be known in advance); its refusal of bad chunks without losing the good ones;
atomic completion (nothing at the destination until ``close``, an old file kept on failure);
and every check of the reader: magic, version, header, size, and the digests of ``verify``.
"""
import json
import os
import struct

import numpy as np
import pytest

from fastreg.datasets import (
    DatasetError,
    DatasetWriter,
    open_dataset,
    read_idx,
    write_dataset,
    write_idx,
)
from fastreg.datasets import _dataset_file as dsf


def _data(n=500, d=12, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        X = rng.integers(0, 256, size=(n, d), dtype=np.uint8)
    else:
        X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, 7, size=n).astype(np.int16)
    return X, y


def _is_file_backed(array):
    base = array
    while base is not None and not isinstance(base, (np.memmap, __import__("mmap").mmap)):
        base = getattr(base, "base", None) if isinstance(base, np.ndarray) else getattr(
            base, "obj", None)
    return base is not None


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_round_trip(tmp_path, dtype):
    X, y = _data(dtype=dtype)
    path = write_dataset(tmp_path / "d.frd", X, y)
    data = open_dataset(path)
    assert (len(data), data.n_features, data.dtype, data.label_dtype) == (500, 12, X.dtype,
                                                                           y.dtype)
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y)
    np.testing.assert_array_equal(data.classes, np.unique(y))
    assert not data.X.flags.writeable and not data.y.flags.writeable
    assert _is_file_backed(data.X) and _is_file_backed(data.y)
    assert data.verify() is data
    assert data.nbytes == os.path.getsize(path)
    assert data.nbytes == dsf.DATA_OFFSET + X.nbytes + (-X.nbytes % 64) + y.nbytes


def test_image_stack_keeps_its_sample_shape(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(40, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=40).astype(np.uint8)
    data = open_dataset(write_dataset(tmp_path / "img.frd", images, labels))
    assert data.sample_shape == (28, 28) and data.n_features == 784
    np.testing.assert_array_equal(data.X.reshape(-1, *data.sample_shape), images)


def test_converts_a_memory_mapped_idx_file(tmp_path):
    """An IDX file mapped by read_idx converts without being loaded, and reads back equal."""
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(300, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=300).astype(np.uint8)
    write_idx(tmp_path / "img-idx3-ubyte", images)
    write_idx(tmp_path / "lab-idx1-ubyte", labels)
    mapped = read_idx(tmp_path / "img-idx3-ubyte")
    assert _is_file_backed(mapped)
    data = open_dataset(write_dataset(tmp_path / "mnist.frd", mapped,
                                      read_idx(tmp_path / "lab-idx1-ubyte")))
    np.testing.assert_array_equal(data.X, images.reshape(300, -1))
    np.testing.assert_array_equal(data.y, labels)


def test_other_input_types_are_stored_as_promised(tmp_path):
    X = np.arange(60, dtype=np.int64).reshape(10, 6)  # integers 0..255 -> uint8
    y = np.arange(10) % 3
    assert open_dataset(write_dataset(tmp_path / "a.frd", X, y)).dtype == np.uint8
    Xb = X.astype(">f8")  # big-endian floats are stored little-endian, values equal
    data = open_dataset(write_dataset(tmp_path / "b.frd", Xb, y.astype(float)))
    assert data.dtype == np.dtype("<f8") and data.label_dtype.kind == "i"
    np.testing.assert_array_equal(data.X, Xb)
    with pytest.raises(ValueError, match="uint8 takes integers 0..255"):
        write_dataset(tmp_path / "c.frd", X * 10, y)
    with pytest.raises(ValueError, match="integer class labels.*np.unique"):
        write_dataset(tmp_path / "d.frd", X, np.array(list("abcabcabca")))
    with pytest.raises(ValueError, match="one label per sample"):
        write_dataset(tmp_path / "e.frd", X, y[:-1])
    with pytest.raises(ValueError, match="at least one sample"):
        write_dataset(tmp_path / "f.frd", X[:0], y[:0])
    assert not os.path.exists(tmp_path / "c.frd") and not os.path.exists(tmp_path / "d.frd")


def test_writer_appends_chunks_of_any_size(tmp_path):
    X, y = _data(n=1000, dtype=np.float32)
    with DatasetWriter(tmp_path / "w.frd", 12, np.float32) as out:
        for lo, hi in [(0, 1), (1, 333), (333, 334), (334, 1000)]:
            out.append(X[lo:hi], y[lo:hi])
        assert not os.path.exists(tmp_path / "w.frd")  # nothing visible before close
    data = open_dataset(tmp_path / "w.frd").verify()
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # temporaries gone


def test_writer_refuses_a_bad_chunk_and_keeps_the_good_ones(tmp_path):
    X, y = _data(n=100, dtype=np.float64)
    bad = X[:10].copy()
    bad[3, 4] = np.nan
    with DatasetWriter(tmp_path / "w.frd", 12, np.float64) as out:
        out.append(X[:50], y[:50])
        with pytest.raises(ValueError, match="NaN or infinite.*nothing of this chunk"):
            out.append(bad, y[:10])
        with pytest.raises(ValueError, match=r"shape \(n, 12\).*same features"):
            out.append(X[:10, :11], y[:10])
        with pytest.raises(ValueError, match="label dtype int16.*label_dtype=np.int64"):
            out.append(X[:2], np.array([0, 10**6]))
        out.append(X[50:], y[50:])
    data = open_dataset(tmp_path / "w.frd").verify()
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y)


def test_failed_conversion_keeps_the_previous_file(tmp_path):
    path = tmp_path / "keep.frd"
    X, y = _data(n=20)
    write_dataset(path, X, y)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_dataset(path, X, y)
    with pytest.raises(RuntimeError, match="source failed"):
        with DatasetWriter(path, 12, overwrite=True) as out:
            out.append(X[:5], y[:5])
            raise RuntimeError("source failed")
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match="no rows were appended"):
        DatasetWriter(path, 12, overwrite=True).close()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.frd"]
    write_dataset(path, X[:3], y[:3], overwrite=True)
    assert len(open_dataset(path)) == 3


@pytest.mark.parametrize("chunk_rows, shuffle", [(1, False), (64, False), (64, True),
                                                 (10_000, False)])
def test_chunks_cover_every_row_once(tmp_path, chunk_rows, shuffle):
    X, y = _data(n=500)
    data = open_dataset(write_dataset(tmp_path / "c.frd", X, y))
    seen = []
    for X_chunk, y_chunk in data.chunks(chunk_rows, shuffle=shuffle, random_state=3):
        assert X_chunk.shape == (len(y_chunk), 12) and 1 <= len(y_chunk) <= chunk_rows
        assert not X_chunk.flags.writeable and X_chunk.flags.c_contiguous
        assert _is_file_backed(X_chunk)
        seen.append((X_chunk.copy(), y_chunk.copy()))
    order = np.concatenate([c[0] for c in seen])
    if shuffle:  # a permutation of whole chunks
        assert not np.array_equal(order, X)
        starts = [int(np.flatnonzero((X == c[0][0]).all(axis=1))[0]) for c in seen]
        assert sorted(starts) == list(range(0, 500, chunk_rows))
        order = np.concatenate([seen[i][0] for i in np.argsort(starts)])
    np.testing.assert_array_equal(order, X)
    assert sum(len(c[1]) for c in seen) == 500


def test_chunk_size_in_bytes(tmp_path):
    X, y = _data(n=1000, dtype=np.float64)  # 96 bytes a row
    data = open_dataset(write_dataset(tmp_path / "b.frd", X, y))
    sizes = [len(c[1]) for c in data.chunks(chunk_bytes=96 * 300)]
    assert sizes == [300, 300, 300, 100]
    assert data.chunk_rows_for(10) == 1
    with pytest.raises(ValueError, match="not both"):
        next(data.chunks(10, chunk_bytes=100))
    with pytest.raises(ValueError, match="chunk_rows must be >= 1"):
        next(data.chunks(0))


def test_rows_slices_like_an_array(tmp_path):
    X, y = _data(n=50)
    data = open_dataset(write_dataset(tmp_path / "r.frd", X, y))
    for lo, hi in [(0, 50), (10, 20), (-5, None), (45, 100), (30, 30)]:
        Xr, yr = data.rows(lo, hi)
        np.testing.assert_array_equal(Xr, X[lo:hi])
        np.testing.assert_array_equal(yr, y[lo:hi])


# ------------------------------------------------------------------------------ damaged files
@pytest.fixture
def good_file(tmp_path):
    X, y = _data(n=200)
    return write_dataset(tmp_path / "g.frd", X, y)


def test_truncated_file_is_refused_before_reading(good_file):
    size = os.path.getsize(good_file)
    for cut in (size - 1, size - 250, dsf.DATA_OFFSET + 10, 100, 3):
        os.truncate(good_file, cut)
        with pytest.raises(DatasetError, match=r"truncated.*Copy it again or re-create"):
            open_dataset(good_file)


def test_trailing_bytes_are_refused(good_file):
    with open(good_file, "ab") as f:
        f.write(b"\0")
    with pytest.raises(DatasetError, match="has trailing bytes"):
        open_dataset(good_file)


def _rewrite_header(path, change):
    raw = bytearray(open(path, "rb").read())
    _, version, length = dsf._PREAMBLE.unpack_from(raw)
    meta = json.loads(raw[16:16 + length])
    change(meta)
    text = json.dumps(meta).encode()
    raw[:dsf.DATA_OFFSET] = (dsf._PREAMBLE.pack(dsf.MAGIC, version, len(text)) + text).ljust(
        dsf.DATA_OFFSET, b" ")
    open(path, "wb").write(bytes(raw))


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(n_samples=201), "sizes and offsets do not agree"),
    (lambda m: m["X"].update(dtype="<i8"), "sizes and offsets do not agree"),
    (lambda m: m["X"].update(dtype="nonsense"), "damaged header"),
    (lambda m: m.pop("classes"), "damaged header"),
])
def test_damaged_header_is_refused(good_file, change, message):
    _rewrite_header(good_file, change)
    with pytest.raises(DatasetError, match=message):
        open_dataset(good_file)


def test_not_a_dataset_file_and_newer_versions(tmp_path, good_file):
    other = tmp_path / "x.npy"
    np.save(other, np.zeros(3))
    with pytest.raises(DatasetError, match="not a fastreg dataset file"):
        open_dataset(other)
    raw = bytearray(open(good_file, "rb").read())
    raw[8:12] = struct.pack("<I", 2)
    open(good_file, "wb").write(bytes(raw))
    with pytest.raises(DatasetError, match="format version 2.*Upgrade fastreg"):
        open_dataset(good_file)
    with pytest.raises(FileNotFoundError):
        open_dataset(tmp_path / "missing.frd")


def test_verify_detects_flipped_bytes(good_file):
    data = open_dataset(good_file)
    raw = bytearray(open(good_file, "rb").read())
    raw[dsf.DATA_OFFSET + 5] ^= 0xFF
    open(good_file, "r+b").write(bytes(raw))
    with pytest.raises(DatasetError, match="changed since it was opened"):
        data.verify()  # rewritten in place: same size, new modification time
    with pytest.raises(DatasetError, match="X section does not match its SHA-256"):
        open_dataset(good_file).verify()


def test_file_truncated_while_streaming_raises_instead_of_crashing(good_file):
    data = open_dataset(good_file)
    chunks = data.chunks(50)
    next(chunks)
    os.truncate(good_file, data.nbytes // 2)
    with pytest.raises(DatasetError, match="changed since it was opened.*open_dataset"):
        next(chunks)


def test_finished_file_has_the_usual_permissions(tmp_path):
    """Temporary files are private (0600); the finished file gets 0666 minus the umask."""
    mask = os.umask(0o027)
    try:
        path = write_dataset(tmp_path / "p.frd", *_data(n=5))
    finally:
        os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o640
