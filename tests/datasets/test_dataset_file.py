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
from helpers.stored_rows import labelled_rows as _data


def _is_file_backed(array):
    base = array
    while base is not None and not isinstance(base, (np.memmap, __import__("mmap").mmap)):
        base = (
            getattr(base, "base", None)
            if isinstance(base, np.ndarray)
            else getattr(base, "obj", None)
        )
    return base is not None


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_round_trip(tmp_path, dtype):
    X, y = _data(dtype=dtype)
    path = write_dataset(tmp_path / "d.frd", X, y)
    data = open_dataset(path)
    assert (len(data), data.n_features, data.dtype, data.label_dtype) == (
        500,
        12,
        X.dtype,
        y.dtype,
    )
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y)
    np.testing.assert_array_equal(data.classes, np.unique(y))
    assert not data.X.flags.writeable and not data.y.flags.writeable
    assert _is_file_backed(data.X) and _is_file_backed(data.y)
    assert data.verify() is data
    assert data.nbytes == os.path.getsize(path)
    y_end = dsf.DATA_OFFSET + X.nbytes + (-X.nbytes % 64) + y.nbytes
    assert data.nbytes == y_end + (-y_end % 64) + np.unique(y).nbytes


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
    data = open_dataset(
        write_dataset(tmp_path / "mnist.frd", mapped, read_idx(tmp_path / "lab-idx1-ubyte"))
    )
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
    with pytest.raises(ValueError, match=r"uint8 cannot store exactly.*X.astype\(np.float32\)"):
        write_dataset(tmp_path / "c.frd", X * 10, y)
    with pytest.raises(ValueError, match=r"integer class labels.*np\.unique"):
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
        with pytest.raises(ValueError, match=r"NaN or infinite.*nothing of this chunk"):
            out.append(bad, y[:10])
        with pytest.raises(ValueError, match=r"shape \(n, 12\).*same features"):
            out.append(X[:10, :11], y[:10])
        with pytest.raises(ValueError, match=r"label dtype int16.*label_dtype=np\.int64"):
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


@pytest.mark.parametrize(
    "chunk_rows, shuffle", [(1, False), (64, False), (64, True), (10_000, False)]
)
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
    for bad in (
        dict(chunk_rows=0),
        dict(chunk_rows=2.5),
        dict(chunk_bytes=-5),
        dict(chunk_bytes=True),
    ):
        with pytest.raises(ValueError, match="must be a positive integer"):
            next(data.chunks(**bad))


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
        with pytest.raises(DatasetError, match=r"truncated.*copy it again or re-create"):
            open_dataset(good_file)


def test_trailing_bytes_are_refused(good_file):
    with open(good_file, "ab") as f:
        f.write(b"\0")
    with pytest.raises(DatasetError, match="has trailing bytes"):
        open_dataset(good_file)


def _rewrite_header(path, change, digest=True):
    """Edit the header's fields; with ``digest`` its own SHA-256 is updated to match."""
    raw = bytearray(open(path, "rb").read())
    _, version, length = dsf._PREAMBLE.unpack_from(raw)
    meta = json.loads(raw[16 : 16 + length])
    change(meta)
    if digest:
        meta["header_sha256"] = dsf.header_digest(meta)
    text = json.dumps(meta).encode()
    raw[: dsf.DATA_OFFSET] = (dsf._PREAMBLE.pack(dsf.MAGIC, version, len(text)) + text).ljust(
        dsf.DATA_OFFSET, b" "
    )
    open(path, "wb").write(bytes(raw))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(n_samples=201), "sizes and offsets do not agree"),
        (lambda m: m["X"].update(dtype="<i8"), "sizes and offsets do not agree"),
        (lambda m: m["X"].update(dtype="|i1"), "sizes and offsets do not agree"),
        (lambda m: m["y"].update(dtype="<f2"), "sizes and offsets do not agree"),
        (lambda m: m["y"].update(offset=4096), "sizes and offsets do not agree"),
        (lambda m: m["classes"].update(dtype="<u8"), "sizes and offsets do not agree"),
        (lambda m: m.update(n_classes=500), "sizes and offsets do not agree"),
        (lambda m: m.update(sample_shape=[-2, -6]), "damaged header.*non-negative integer"),
        (lambda m: m["X"].update(offset=4096.0), "damaged header.*non-negative integer"),
        (lambda m: m["X"].update(dtype="nonsense"), "damaged header"),
        (lambda m: m.pop("classes"), "damaged header"),
    ],
)
def test_damaged_header_is_refused(good_file, change, message):
    _rewrite_header(good_file, change)
    with pytest.raises(DatasetError, match=message):
        open_dataset(good_file)


def test_edited_header_is_refused(good_file):
    _rewrite_header(good_file, lambda m: m.update(n_classes=3), digest=False)
    with pytest.raises(DatasetError, match="does not match its own SHA-256"):
        open_dataset(good_file)


def test_damaged_classes_section_is_refused(good_file):
    raw = bytearray(open(good_file, "rb").read())
    raw[-1] ^= 0x01
    open(good_file, "wb").write(bytes(raw))
    with pytest.raises(DatasetError, match="classes section does not match its SHA-256"):
        open_dataset(good_file)


def test_not_a_dataset_file_and_newer_versions(tmp_path, good_file):
    other = tmp_path / "x.npy"
    np.save(other, np.zeros(3))
    with pytest.raises(DatasetError, match="not a fastreg dataset file"):
        open_dataset(other)
    raw = bytearray(open(good_file, "rb").read())
    raw[8:12] = struct.pack("<I", 2)
    open(good_file, "wb").write(bytes(raw))
    with pytest.raises(DatasetError, match=r"format version 2.*upgrade fastreg"):
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
    with pytest.raises(DatasetError, match=r"changed since it was opened.*open_dataset"):
        next(chunks)


def test_finished_file_has_the_usual_permissions(tmp_path):
    """Temporary files are private (0600); the finished file gets 0666 minus the umask."""
    mask = os.umask(0o027)
    try:
        path = write_dataset(tmp_path / "p.frd", *_data(n=5))
    finally:
        os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o640


# ------------------------------------------------------------------------------ writer edges
def test_many_classes(tmp_path):
    """Classes live in their own section: any number fits (here 5000, one row each)."""
    X = np.zeros((5000, 2), dtype=np.uint8)
    y = np.arange(5000)[::-1]
    data = open_dataset(write_dataset(tmp_path / "k.frd", X, y))
    np.testing.assert_array_equal(data.classes, np.arange(5000))
    assert data.classes.dtype == y.dtype


def test_big_endian_input_keeps_its_precision(tmp_path):
    X = np.arange(24, dtype=">f4").reshape(6, 4) / 7
    y = np.array([3, 1, 2, 3, 1, 2], dtype=">i4")
    data = open_dataset(write_dataset(tmp_path / "be.frd", X, y))
    assert data.dtype == np.dtype("<f4") and data.label_dtype == np.dtype("<i4")
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y)
    np.testing.assert_array_equal(data.classes, [1, 2, 3])


def test_conversions_that_would_change_values_are_refused(tmp_path):
    with DatasetWriter(tmp_path / "f.frd", 2, np.float32) as out:
        with pytest.raises(ValueError, match=r"beyond the range of float32.*float64"):
            out.append(np.array([[1e300, 0.0]]), [0])
        with pytest.raises(ValueError, match="complex"):
            out.append(np.ones((1, 2), dtype=complex), [0])
        out.append(np.array([[0.5, 1.5]]), [1])
    np.testing.assert_array_equal(open_dataset(tmp_path / "f.frd").X, [[0.5, 1.5]])
    with pytest.raises(ValueError, match="label_dtype must be an integer"):
        DatasetWriter(tmp_path / "g.frd", 2, label_dtype=np.float32)
    with pytest.raises(ValueError, match="uint8, float32 or float64"):
        DatasetWriter(tmp_path / "g.frd", 2, dtype=np.int16)
    assert sorted(os.listdir(tmp_path)) == ["f.frd"]


def test_a_chunk_failing_midway_leaves_no_trace(tmp_path, monkeypatch):
    """A chunk is converted and written block by block; one that fails in its second block
    (here a NaN) must leave neither rows nor checksum behind."""
    from fastreg.datasets import _dataset_writer

    monkeypatch.setattr(_dataset_writer, "_IO_BLOCK", 4 * 12 * 8)  # 4 rows of float64 a block
    X, y = _data(n=40, dtype=np.float64)
    bad = X[:10].copy()
    bad[6, 0] = np.nan  # second block
    with DatasetWriter(tmp_path / "m.frd", 12, np.float64) as out:
        out.append(X[:20], y[:20])
        with pytest.raises(ValueError, match="NaN"):
            out.append(bad, y[:10])
        out.append(X[20:], y[20:])
    data = open_dataset(tmp_path / "m.frd").verify()
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y)


def test_close_after_a_failed_close_does_not_pretend(tmp_path, monkeypatch):
    path = tmp_path / "x.frd"
    write_dataset(path, *_data(n=3))
    out = DatasetWriter(path, 12, overwrite=True)
    out.append(*_data(n=5))

    def fail(*args):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        out.close()
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"abandoned.*nothing was written"):
        out.close()
    with pytest.raises(ValueError, match="abandoned"):
        out.append(*_data(n=1))
    assert len(open_dataset(path)) == 3  # the old file, intact
    assert sorted(os.listdir(tmp_path)) == ["x.frd"]
    done = DatasetWriter(tmp_path / "y.frd", 12)
    done.append(*_data(n=2))
    assert done.close() == done.close()  # closing a finished writer again is harmless
    with pytest.raises(ValueError, match="the writer is closed"):
        done.append(*_data(n=1))


def test_a_writer_dropped_without_close_removes_its_temporaries(tmp_path):
    import gc

    out = DatasetWriter(tmp_path / "z.frd", 12)
    out.append(*_data(n=5))
    assert len(os.listdir(tmp_path)) == 2  # the rows' and the labels' temporary files
    del out
    gc.collect()
    assert os.listdir(tmp_path) == []


def test_path_is_absolute(tmp_path, monkeypatch):
    write_dataset(tmp_path / "a.frd", *_data(n=2))
    monkeypatch.chdir(tmp_path)
    data = open_dataset("a.frd")
    assert data.path == str(tmp_path / "a.frd")


# ------------------------------------------------------------------------------ killed writers
def _killed_writer(folder, name="killed.frd"):
    """Run a DatasetWriter in a child and SIGKILL it mid-write; return its leftover files."""
    import subprocess
    import sys

    code = (
        "import os, signal, numpy as np\n"
        "from fastreg.datasets import DatasetWriter\n"
        f"out = DatasetWriter({str(folder / name)!r}, 12)\n"
        "out.append(np.zeros((5, 12), np.uint8), np.arange(5))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    left = sorted(p for p in folder.iterdir() if p.name.startswith(f".{name}."))
    assert sorted(p.suffix for p in left) == [".labels", ".partial"]
    return left


def test_a_killed_writers_temporaries_are_removed_by_the_next_writer(tmp_path):
    left = _killed_writer(tmp_path)
    foreign = tmp_path / ".notes.abcdefgh.txt"  # not a writer's suffix
    foreign.write_text("keep")
    user = tmp_path / "data.partial"  # not the writer's name pattern
    user.write_text("keep")
    write_dataset(tmp_path / "next.frd", *_data(n=3))
    assert not any(p.exists() for p in left)
    assert foreign.exists() and user.exists()
    assert sorted(os.listdir(tmp_path)) == sorted([foreign.name, user.name, "next.frd"])


def test_a_live_writers_temporaries_are_kept_however_old(tmp_path):
    from fastreg import _litter

    live = DatasetWriter(tmp_path / "live.frd", 12)
    live.append(*_data(n=2))
    old = os.path.getmtime(live._x_file.name) - 10 * _litter.STALE_SECONDS
    for f in (live._x_file.name, live._y_file.name):
        os.utime(f, (old, old))
    write_dataset(tmp_path / "other.frd", *_data(n=3))
    assert os.path.exists(live._x_file.name) and os.path.exists(live._y_file.name)
    assert live.close() == str(tmp_path / "live.frd")


def test_unknown_owners_temporaries_go_only_after_a_day(tmp_path):
    from fastreg import _litter

    names = [
        ".a.frd.frw-otherhost-1-abcdefgh.partial",  # another machine's writer
        ".b.frd.k3j5h2l1.labels",
    ]  # named as 0.1.0 did (no pid)
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    write_dataset(tmp_path / "first.frd", *_data(n=3))
    assert all((tmp_path / name).exists() for name in names)  # could still be writing
    day_ago = os.path.getmtime(tmp_path / names[0]) - _litter.STALE_SECONDS - 60
    for name in names:
        os.utime(tmp_path / name, (day_ago, day_ago))
    write_dataset(tmp_path / "second.frd", *_data(n=3))
    assert not any((tmp_path / name).exists() for name in names)
