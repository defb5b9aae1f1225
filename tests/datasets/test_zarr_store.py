"""zarr stores: round trips, layout, ``chunks()`` into ``partial_fit``, Dask, the atomic
write, and hostile stores refused before any chunk is read (shapes, dtypes, attributes,
codecs, chunk sizes) or while read (chunks inflating beyond their declared size)."""

import gzip
import json
import os
import pickle
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

# Guard for local runs without the extra only: CI installs ".[test]" (zarr), fails on skips.
zarr = pytest.importorskip("zarr")

import numcodecs  # noqa: E402 (zarr's own dependency)

from fastreg import _litter  # noqa: E402
from fastreg.datasets import (  # noqa: E402 (after the guard)
    DatasetError,
    ZarrDataset,
    _zarr_store,
    open_dataset,
    open_zarr,
    write_dataset,
    write_zarr,
)
from fastreg.datasets import _zarr_checks as checks  # noqa: E402
from fastreg.linear_model import SoftmaxRegression  # noqa: E402
from helpers.stored_rows import labelled_rows as _data  # noqa: E402


def _store(tmp_path, n=500, d=12, dtype=np.uint8, chunk_rows=64, name="s.zarr"):
    X, y = _data(n, d, dtype)
    return Path(write_zarr(tmp_path / name, X, y, chunk_rows=chunk_rows)), X, y


def _edit(path, key, change):
    """Rewrite the metadata document ``key`` of the store at ``path`` with ``change(doc)``."""
    doc = json.loads((path / key).read_text())
    change(doc)
    (path / key).write_text(json.dumps(doc))


def _refused(path, *pieces):
    with pytest.raises(DatasetError) as info:
        open_zarr(path)
    message = info.value.reason
    assert message.startswith(f"{path}: ") and "; expected " in message, message
    for piece in pieces:
        assert piece in message, message
    return message


# ------------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_round_trip(tmp_path, dtype):
    path, X, y = _store(tmp_path, dtype=dtype)
    data = open_zarr(path)
    assert isinstance(data, ZarrDataset) and data.path == str(path)
    assert (len(data), data.n_features, data.dtype, data.label_dtype) == (
        500,
        12,
        X.dtype,
        y.dtype,
    )
    assert data.sample_shape == (12,) and data.chunk_rows == 64
    np.testing.assert_array_equal(data.classes, np.unique(y))
    X_read, y_read = data.rows(0, 500)
    assert type(X_read) is np.ndarray and X_read.flags.c_contiguous
    np.testing.assert_array_equal(X_read, X)
    np.testing.assert_array_equal(y_read, y)
    np.testing.assert_array_equal(data.rows(-10, 10**9)[0], X[-10:])
    assert data.rows(7, 3)[0].shape == (0, 12)
    assert data.X.chunks == (64, 12) and data.y.chunks == (64,)


def test_layout_and_attributes(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, size=(40, 4, 5), dtype=np.uint8)
    labels = np.arange(40) % 3 * 2.0  # whole floats: stored as integer class labels
    path = Path(
        write_zarr(tmp_path / "i.zarr", images, labels, provenance={"source": "t", "n": 1})
    )
    group = json.loads((path / "zarr.json").read_text())
    assert group["zarr_format"] == 3 and group["node_type"] == "group"
    assert group["attributes"]["fastreg"] == {
        "format": "fastreg-zarr",
        "version": 1,
        "n_samples": 40,
        "n_features": 20,
        "sample_shape": [4, 5],
        "classes": [0, 2, 4],
        "provenance": {"source": "t", "n": 1},
    }
    X_meta = json.loads((path / "X" / "zarr.json").read_text())
    assert X_meta["shape"] == [40, 20] and X_meta["data_type"] == "uint8"
    data = open_zarr(path)
    assert data.label_dtype == np.int64 and data.sample_shape == (4, 5)
    assert data.provenance == {"source": "t", "n": 1}
    np.testing.assert_array_equal(data.rows(0, 40)[0].reshape(40, 4, 5), images)


def test_default_chunks_are_about_16_mib(tmp_path):
    X = np.zeros((3000, 1000), dtype=np.float64)  # 8000 bytes a row
    data = open_zarr(write_zarr(tmp_path / "big.zarr", X, np.arange(3000) % 2))
    assert data.chunk_rows == (16 << 20) // 8000 == data.X.chunks[0]


def test_float_labels_are_kept_and_file_urls_open(tmp_path):
    X, _ = _data(n=30, dtype=np.float32)
    y = np.linspace(0.5, 2.5, 30)
    path = write_zarr(tmp_path / "f.zarr", X, y)
    data = open_zarr("file://" + path)
    assert data.path == "file://" + path and data.label_dtype == np.float64
    np.testing.assert_array_equal(data.rows(0, 30)[1], y)


def test_converts_a_dataset_file_chunk_by_chunk(tmp_path, monkeypatch):
    X, y = _data(n=300, d=6, dtype=np.float32)
    frd = open_dataset(write_dataset(tmp_path / "d.frd", X.reshape(300, 2, 3), y))
    asked = []
    rows = type(frd).rows
    monkeypatch.setattr(
        type(frd), "rows", lambda self, a, b: asked.append((a, b)) or rows(self, a, b)
    )
    data = open_zarr(write_zarr(tmp_path / "d.zarr", frd, chunk_rows=100))
    assert asked == [(0, 100), (100, 200), (200, 300)]  # one chunk mapped at a time
    assert data.sample_shape == (2, 3) and data.dtype == np.float32
    np.testing.assert_array_equal(data.rows(0, 300)[0], X)
    np.testing.assert_array_equal(data.rows(0, 300)[1], y)


def test_input_checks_match_write_dataset(tmp_path):
    X, y = _data(n=10, dtype=np.float64)
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        write_zarr(tmp_path / "a.zarr", bad, y)
    with pytest.raises(ValueError, match="uint8 cannot store exactly"):
        write_zarr(tmp_path / "b.zarr", np.arange(60).reshape(10, 6) * 10, y)
    with pytest.raises(ValueError, match=r"numeric labels.*np\.unique"):
        write_zarr(tmp_path / "c.zarr", X, np.array(list("abcabcabca")))
    with pytest.raises(ValueError, match="one label per sample"):
        write_zarr(tmp_path / "d.zarr", X, y[:-1])
    with pytest.raises(ValueError, match="at least one sample"):
        write_zarr(tmp_path / "e.zarr", X[:0], y[:0])
    with pytest.raises(ValueError, match="NaN or infinite labels"):
        write_zarr(tmp_path / "f.zarr", X, np.full(10, np.nan))
    with pytest.raises(ValueError, match="chunk_rows must be a positive integer"):
        write_zarr(tmp_path / "g.zarr", X, y, chunk_rows=0)
    with pytest.raises(ValueError, match="more than readers accept"):
        write_zarr(tmp_path / "h.zarr", X, y, chunk_rows=10**8)
    with pytest.raises(ValueError, match="JSON scalars"):
        write_zarr(tmp_path / "i.zarr", X, y, provenance={"a": [1]})
    assert os.listdir(tmp_path) == []  # nothing written, no temporary folder left


# ------------------------------------------------------------------------------ streaming
@pytest.mark.parametrize("chunk_rows, shuffle", [(None, False), (7, False), (100, True)])
def test_chunks_cover_every_row_once(tmp_path, chunk_rows, shuffle):
    path, X, y = _store(tmp_path)
    data = open_zarr(path)
    blocks = list(data.chunks(chunk_rows, shuffle=shuffle, random_state=3))
    size = chunk_rows or 64
    assert all(len(b[1]) <= size for b in blocks) and sum(len(b[1]) for b in blocks) == 500
    order = np.argsort([int(np.flatnonzero((X == b[0][0]).all(axis=1))[0]) for b in blocks])
    if shuffle:
        assert not np.array_equal(order, np.arange(len(blocks)))
    np.testing.assert_array_equal(np.concatenate([blocks[i][0] for i in order]), X)
    np.testing.assert_array_equal(np.concatenate([blocks[i][1] for i in order]), y)
    with pytest.raises(ValueError, match="positive integer"):
        next(data.chunks(0))


def test_partial_fit_over_chunks_equals_partial_fit_over_numpy_blocks(tmp_path, backend):
    path, X, y = _store(tmp_path, n=400, d=10, dtype=np.float32, chunk_rows=50)
    data = open_zarr(path)

    def train(blocks):
        model = SoftmaxRegression(dtype="float32", learning_rate=0.05, random_state=0)
        model.set_params(backend=backend.name)
        for X_block, y_block in blocks:
            model.partial_fit(X_block, y_block, classes=data.classes)
        return model

    from_store = train(data.chunks(shuffle=True, random_state=1))
    order = np.random.default_rng(1).permutation(np.arange(0, 400, 50))
    from_numpy = train((X[s : s + 50], y[s : s + 50]) for s in order)
    np.testing.assert_array_equal(from_store.coef_, from_numpy.coef_)
    np.testing.assert_array_equal(from_store.intercept_, from_numpy.intercept_)


def test_to_dask_reads_the_store_itself(tmp_path):
    pytest.importorskip("dask.array")  # as zarr above: CI installs it
    path, X, y = _store(tmp_path, n=2000, d=100, dtype=np.float64, chunk_rows=300)
    dX, dy = open_zarr(path).to_dask()
    assert dX.chunks[0] == (300,) * 6 + (200,) and dy.chunks == dX.chunks[:1]
    np.testing.assert_array_equal(dX.compute(), X)
    np.testing.assert_array_equal(dy.compute(), y)
    graph = pickle.dumps(dict(dX.__dask_graph__()))
    assert len(graph) < 20_000 < X.nbytes  # a path and metadata, not 1.6 MB of data
    assert b"BoundedZstd" in graph  # workers decode with the bounded codecs too


# ------------------------------------------------------------------------------ atomic writes
def test_write_is_atomic_and_overwrite_replaces_only_when_complete(tmp_path, monkeypatch):
    path, X, y = _store(tmp_path, n=50)
    before = {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_zarr(path, X, y)

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(_zarr_store, "_sync_tree", fail)
    with pytest.raises(OSError, match="disk full"):
        write_zarr(path, X[:5], y[:5], overwrite=True)
    with pytest.raises(OSError, match="disk full"):
        write_zarr(tmp_path / "new.zarr", X, y)
    monkeypatch.undo()
    assert {p: p.read_bytes() for p in path.rglob("*") if p.is_file()} == before
    assert sorted(os.listdir(tmp_path)) == ["s.zarr"]  # no new store, no temporary folder
    write_zarr(path, X[:5], y[:5], overwrite=True)
    assert len(open_zarr(path)) == 5 and sorted(os.listdir(tmp_path)) == ["s.zarr"]
    (tmp_path / "other").mkdir()
    with pytest.raises(FileExistsError, match="not a zarr store"):
        write_zarr(tmp_path / "other", X, y, overwrite=True)


def test_a_killed_writers_folder_is_removed_by_the_next(tmp_path):
    dead = tmp_path / f".s.zarr.frw-{_litter.HOST}-{2**22 + 12345}-abcd.zarrpart"
    dead.mkdir()
    (dead / "zarr.json").write_text("{}")
    _store(tmp_path, n=20)
    assert sorted(os.listdir(tmp_path)) == ["s.zarr"]


# ------------------------------------------------------------------------------ hostile stores
def _fastreg(doc):
    return doc["attributes"]["fastreg"]


def _attrs(**fields):  # a change of the group's fastreg attributes
    return "zarr.json", lambda doc: _fastreg(doc).update(fields)


def _meta(name, **fields):  # a change of array ``name``'s metadata
    return f"{name}/zarr.json", lambda doc: doc.update(fields)


def _chunks(shape):
    return "X/zarr.json", lambda doc: doc["chunk_grid"]["configuration"].update(chunk_shape=shape)


def _codec(name, edit):  # ``edit(codecs)`` changes array ``name``'s codec list
    return f"{name}/zarr.json", lambda doc: edit(doc["codecs"])


HOSTILE = [
    ("zarr.json", lambda d: d["attributes"].pop("fastreg"), ["no fastreg attributes"]),
    ("zarr.json", lambda d: d.update(node_type="array"), ["not a zarr format 3 group"]),
    (*_attrs(version=2), ["version 2", "expected version 1"]),
    (*_attrs(n_samples=-1), ["n_samples -1"]),
    (*_attrs(sample_shape=[5, 5]), ["sample_shape"]),
    (*_attrs(classes=[3, 1]), ["sorted list"]),
    (*_attrs(classes=["a"]), ["classes"]),
    (*_attrs(classes=[0.5]), ["int16 cannot hold"]),
    (*_attrs(extra=1), ["unknown ['extra']"]),
    (*_attrs(provenance={"a": {}}), ["provenance"]),
    (*_meta("X", data_type="int32"), ["X of data type 'int32'"]),
    (*_meta("X", data_type="string"), ["'string'"]),
    (*_meta("X", data_type={"name": "struct"}), ["data type"]),
    (*_meta("y", data_type="variable_length_bytes"), ["y of data"]),
    (*_meta("y", shape=[499]), ["y of shape [499]"]),
    (*_meta("X", shape=[500, 12, 1]), ["X of shape"]),
    (*_meta("X", extra=1), ["unknown metadata"]),
    (*_meta("X", storage_transformers=[{"name": "x"}]), ["storage"]),
    (*_chunks([64, 6]), ["chunked by rows only"]),
    (*_chunks([10**8, 12]), ["1200000000 bytes uncompressed", "256 MiB"]),
    (*_codec("X", lambda c: c.append({"name": "numcodecs.pickle"})), ["'numcodecs.pickle'"]),
    (*_codec("X", lambda c: c.insert(0, {"name": "transpose"})), ["'transpose'"]),
    (*_codec("X", lambda c: c.append({"name": "gzip"})), ["codec chain", "expected codecs"]),
    (*_codec("y", lambda c: c.__setitem__(1, {"name": "vlen-utf8"})), ["'vlen-utf8'"]),
    (
        *_codec("X", lambda c: c.__setitem__(1, {"name": "gzip", "configuration": {"level": 99}})),
        ["zarr refuses"],
    ),
]


@pytest.mark.parametrize("key, change, pieces", HOSTILE)
def test_hostile_metadata_is_refused_before_any_chunk_is_read(tmp_path, key, change, pieces):
    path, _, _ = _store(tmp_path)
    _edit(path, key, change)
    shutil.rmtree(path / "X" / "c")  # no data: a refusal must not have needed any
    _refused(path, *pieces)


def test_a_huge_declared_shape_is_refused(tmp_path):
    path, _, _ = _store(tmp_path)
    n = 2**60
    _edit(path, "zarr.json", lambda d: _fastreg(d).update(n_samples=n))
    _edit(path, "X/zarr.json", lambda d: d.update(shape=[n, 12]))
    _edit(path, "y/zarr.json", lambda d: d.update(shape=[n]))
    _refused(path, f"a declared shape of {n} x 12", "at most")


def test_oversized_and_broken_metadata_documents(tmp_path):
    path, _, _ = _store(tmp_path)
    (path / "X" / "zarr.json").write_bytes(b" " * (1 << 20) + b"{}")
    _refused(path, "X/zarr.json larger than 1048576 bytes")
    (path / "X" / "zarr.json").write_bytes(b"[" * 100_000)
    _refused(path, "X/zarr.json is not JSON")
    (path / "X" / "zarr.json").unlink()
    _refused(path, "no X/zarr.json")
    with pytest.raises(FileNotFoundError):
        open_zarr(tmp_path / "none.zarr")
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no zarr\.json"):
        open_zarr(tmp_path / "empty.zarr")


def _bomb(codec, size):
    """``size`` zero bytes, compressed as ``codec`` (tiny), with a header that says so."""
    encode = {"zstd": numcodecs.Zstd(level=1).encode, "gzip": gzip.compress}
    return encode.get(codec, numcodecs.Blosc().encode)(bytes(size))


@pytest.mark.parametrize("codec", ["zstd", "gzip", "blosc"])
@pytest.mark.parametrize("size", [64 * 12 + 1, 64 << 20])
def test_a_chunk_never_inflates_beyond_its_declared_size(tmp_path, codec, size):
    """zarr's own codecs would allocate all ``size`` bytes before the shape check; the bounded
    ones stop at the chunk's 768 bytes (a 64 MiB bomb shows in tracemalloc if they did not)."""
    X, y = _data(n=500, d=12)
    config = {"zstd": {"level": 1}, "gzip": {"level": 1}, "blosc": {}}[codec]
    compressor = getattr(zarr.codecs, f"{codec.title()}Codec")(**config)
    group = zarr.create_group(store=tmp_path / "b.zarr", zarr_format=3)
    group.create_array("X", data=X, chunks=(64, 12), compressors=compressor)
    group.create_array("y", data=y, chunks=(64,))
    attrs = {"format": "fastreg-zarr", "version": 1, "n_samples": 500, "n_features": 12}
    attrs.update(sample_shape=[12], classes=np.unique(y).tolist())
    group.attrs["fastreg"] = attrs
    data = open_zarr(tmp_path / "b.zarr")
    np.testing.assert_array_equal(data.rows(0, 500)[0], X)  # a valid chunk of each codec reads
    (tmp_path / "b.zarr" / "X" / "c" / "1" / "0").write_bytes(_bomb(codec, size))
    np.testing.assert_array_equal(data.rows(0, 64)[0], X[:64])
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match=r"rows 0:500 cannot be read.*declare"):
            data.rows(0, 500)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


def test_zstd_frame_headers():
    for size in (0, 1, 255, 256, 65_791, 65_792, 10**6):
        frame = numcodecs.Zstd(level=1).encode(bytes(size))
        assert checks.zstd_content_size(frame[:18]) == size
    with pytest.raises(ValueError, match="zstd frame"):
        checks.zstd_content_size(b"not zstd at all")


def test_a_corrupt_chunk_is_a_dataset_error(tmp_path):
    path, X, _ = _store(tmp_path)
    chunk = path / "X" / "c" / "2" / "0"
    chunk.write_bytes(chunk.read_bytes()[:-3])
    data = open_zarr(path)
    with pytest.raises(DatasetError, match=r"rows 100:200 cannot be read"):
        data.rows(100, 200)
    np.testing.assert_array_equal(data.rows(0, 128)[0], X[:128])


# ------------------------------------------------------------------------------ real data
@pytest.mark.real_data
def test_real_mnist_round_trip(mnist, tmp_path):
    path = write_zarr(tmp_path / "mnist.zarr", mnist.X_train, mnist.y_train, chunk_rows=10_000)
    data = open_zarr(path)
    assert (len(data), data.n_features, data.sample_shape) == (60_000, 784, (28, 28))
    assert data.dtype == np.uint8 and data.classes.tolist() == list(range(10))
    blocks = list(data.chunks())
    assert [len(b[1]) for b in blocks] == [10_000] * 6
    np.testing.assert_array_equal(
        np.concatenate([b[0] for b in blocks]).reshape(-1, 28, 28), mnist.X_train
    )
    np.testing.assert_array_equal(np.concatenate([b[1] for b in blocks]), mnist.y_train)
