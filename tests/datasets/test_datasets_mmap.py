"""``mmap=True``: .gz files decompressed once into the cache, mapped read-only, trained in place.

Synthetic data sets are written to tmp folders; XDG_CACHE_HOME points into tmp, so no test
writes to the real cache or next to the shared data. The real-MNIST tests at the end take
FASTREG_DATA, as the ``mnist`` fixture does, and skip or fail by the same rule (conftest).
"""

import dataclasses
import gzip
import hashlib
import json
import mmap
import os
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from fastreg import LogisticRegression, SoftmaxRegression, datasets
from fastreg.datasets import DatasetError, _registry, _unpack, default_cache_dir, write_idx
from fastreg.datasets._idx import decompress_idx, idx_bytes
from helpers.data import missing_data as _missing_data
from helpers.idx_sets import (
    NAMES,
    offline_private_cache,
    synthetic,
    unverified,
    without_shipped_mnist,
)
from helpers.idx_sets import write_set as _write_set

# synthetic sets under the published names (verification: test_datasets_verify.py)
load_mnist = unverified(datasets.load_mnist)
load_fashion_mnist = unverified(datasets.load_fashion_mnist)
load_dataset = unverified(datasets.load_dataset)

LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}


def write_set(folder, arrays, gz=True):
    return _write_set(folder, arrays, gz, compresslevel=1)


def memmap_of(array):
    """The ``np.memmap`` an array's ``.base`` chain leads to, or None."""
    base = array
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)
    return base


def assert_file_backed(array, folder):
    """``array`` is a read-only view of a mapping of a file that lies in ``folder``."""
    mapped = memmap_of(array)
    assert mapped is not None, "not backed by an np.memmap"
    assert isinstance(mapped.base, mmap.mmap)
    assert Path(mapped.filename).parent == folder
    assert np.shares_memory(array, mapped)
    assert not array.flags.writeable


def copies_root(subdir="mnist"):
    return default_cache_dir(subdir) / _unpack.COPIES


def copy_folder(source_folder, subdir="mnist"):
    return copies_root(subdir) / _unpack._folder_key(Path(source_folder).resolve())


def cached_files(subdir="mnist"):
    root = copies_root(subdir)
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def count_decompressions(monkeypatch):
    """Counts the calls of decompress_idx made by the loader."""
    calls = []

    def counted(src, dst, **kwargs):
        calls.append(Path(src).name)
        return decompress_idx(src, dst, **kwargs)

    monkeypatch.setattr(_unpack, "decompress_idx", counted)
    return calls


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    offline_private_cache(tmp_path, monkeypatch)


# ----------------------------------------------------------------------------- loading


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_gz_set_is_decompressed_into_the_cache_and_mapped(tmp_path, name):
    source = tmp_path / "src"
    arrays = write_set(source, synthetic(0))
    in_memory = LOADERS[name](source, download=False)
    mapped = LOADERS[name](source, download=False, mmap=True)
    folder = copy_folder(source, name)
    for got, want, ram, file_name in zip(mapped, arrays, in_memory, NAMES):
        assert got.dtype == np.uint8 and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got, ram)
        assert memmap_of(ram) is None  # the in-memory load is not mapped: the check can fail
        assert_file_backed(got, folder)
        assert (folder / file_name).read_bytes() == idx_bytes(want)
        record = json.loads((folder / (file_name + ".source")).read_text())
        assert record["sha256"] == hashlib.sha256(idx_bytes(want)).hexdigest()
        assert record["source"] == str((source / (file_name + ".gz")).resolve())
    # nothing written next to the source, no temporary file left in the cache
    assert sorted(p.name for p in source.iterdir()) == sorted(n + ".gz" for n in NAMES)
    assert not [p for p in folder.iterdir() if p.name.endswith(".part")]


def test_uncompressed_files_are_mapped_in_place_not_copied(tmp_path):
    source = tmp_path / "raw"
    arrays = write_set(source, synthetic(1), gz=False)
    data = load_mnist(source, download=False, mmap=True)
    for got, want in zip(data, arrays):
        np.testing.assert_array_equal(got, want)
        assert_file_backed(got, source)
    assert not copies_root().exists()


def test_mixed_folder_copies_only_the_gz_files(tmp_path):
    source = tmp_path / "mixed"
    arrays = write_set(source, synthetic(2))
    (source / (NAMES[1] + ".gz")).unlink()
    write_idx(source / NAMES[1], arrays[1])
    data = load_mnist(source, download=False, mmap=True)
    assert_file_backed(data.y_train, source)
    for array in (data.X_train, data.X_test, data.y_test):
        assert_file_backed(array, copy_folder(source))
    assert not (copy_folder(source) / NAMES[1]).exists()


def test_copies_stay_out_of_the_folder_searched_for_the_data_set(tmp_path, monkeypatch):
    """A subset under MNIST's names, loaded with mmap=True, must not become "MNIST" later."""
    without_shipped_mnist(monkeypatch)
    write_set(tmp_path / "subset", synthetic(3))
    load_mnist(tmp_path / "subset", download=False, mmap=True)
    with pytest.raises(FileNotFoundError):
        load_mnist(download=False)


def test_two_sources_get_two_copies(tmp_path):
    first = write_set(tmp_path / "a", synthetic(4))
    second = write_set(tmp_path / "b", synthetic(5))
    data_a = load_mnist(tmp_path / "a", download=False, mmap=True)
    data_b = load_mnist(tmp_path / "b", download=False, mmap=True)
    assert copy_folder(tmp_path / "a") != copy_folder(tmp_path / "b")
    for got_a, want_a, got_b, want_b in zip(data_a, first, data_b, second):
        np.testing.assert_array_equal(got_a, want_a)  # a's mapping was not overwritten by b
        np.testing.assert_array_equal(got_b, want_b)


def test_mmap_false_is_unchanged_and_writes_nothing(tmp_path):
    write_set(tmp_path / "src", synthetic(6))
    data = load_mnist(tmp_path / "src", download=False)
    assert all(memmap_of(array) is None for array in data)
    assert not default_cache_dir("mnist").exists()


# ----------------------------------------------------------------------------- reuse


def test_second_call_reuses_the_copy(tmp_path, count_decompressions):
    arrays = write_set(tmp_path / "src", synthetic(7))
    load_mnist(tmp_path / "src", download=False, mmap=True)
    assert sorted(count_decompressions) == sorted(n + ".gz" for n in NAMES)
    folder = copy_folder(tmp_path / "src")
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = load_mnist(tmp_path / "src", download=False, mmap=True)
    assert len(count_decompressions) == 4  # no new call
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    for got, want in zip(again, arrays):
        np.testing.assert_array_equal(got, want)


def _truncate(path):
    path.write_bytes(path.read_bytes()[:-5])


def _extend(path):
    with open(path, "ab") as out:
        out.write(b"\x00")


def _bad_magic(path):
    with open(path, "r+b") as out:
        out.write(b"\x12\x34")


def _shrink_consistently(path):
    """A shorter file whose header agrees with its size: only the record can tell."""
    write_idx(path, np.zeros((3, 28, 28), dtype=np.uint8))


DAMAGE = {
    "truncated": _truncate,
    "trailing byte": _extend,
    "bad magic": _bad_magic,
    "other valid idx": _shrink_consistently,
    "deleted": lambda path: path.unlink(),
    "record deleted": lambda path: path.with_name(path.name + ".source").unlink(),
    "record garbage": lambda path: path.with_name(path.name + ".source").write_text("{oops"),
    "record not a dict": lambda path: path.with_name(path.name + ".source").write_text("[1]"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_copy_is_made_again(tmp_path, count_decompressions, damage):
    arrays = write_set(tmp_path / "src", synthetic(8))
    load_mnist(tmp_path / "src", download=False, mmap=True)
    copy = copy_folder(tmp_path / "src") / NAMES[0]
    DAMAGE[damage](copy)
    del count_decompressions[:]
    data = load_mnist(tmp_path / "src", download=False, mmap=True)
    assert count_decompressions == [NAMES[0] + ".gz"]
    np.testing.assert_array_equal(data.X_train, arrays[0])
    assert copy.read_bytes() == idx_bytes(arrays[0])


@pytest.mark.parametrize("change", ["rewritten", "touched"])
def test_changed_source_is_decompressed_again(tmp_path, count_decompressions, change):
    source = tmp_path / "src"
    arrays = list(write_set(source, synthetic(9)))
    old = load_mnist(source, download=False, mmap=True)
    packed = source / (NAMES[2] + ".gz")
    stat = packed.stat()
    if change == "rewritten":
        arrays[2] = synthetic(10)[2]
        write_idx(packed, arrays[2])
    os.utime(packed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    del count_decompressions[:]
    data = load_mnist(source, download=False, mmap=True)
    assert count_decompressions == [NAMES[2] + ".gz"]
    for got, want in zip(data, arrays):
        np.testing.assert_array_equal(got, want)
    if change == "rewritten":
        # the earlier mapping keeps the old file's contents: the copy was replaced, not rewritten
        np.testing.assert_array_equal(old.X_test, synthetic(9)[2])


def test_abandoned_temporary_files_are_removed_live_ones_kept(tmp_path):
    """The package's one rule (fastreg._litter): a dead writer's file at once, a live one's
    never, 0.1.0's names (``.<name>.<8 random characters>.part``) after a day."""
    import subprocess
    import sys

    from fastreg import _litter

    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_pid.wait()
    write_set(tmp_path / "src", synthetic(11))
    load_mnist(tmp_path / "src", download=False, mmap=True)
    folder = copy_folder(tmp_path / "src")
    dead = folder / f".{NAMES[0]}.frw-{_litter.HOST}-{dead_pid.pid}-abcdefgh.part"
    live = folder / f".{NAMES[0]}.frw-{_litter.HOST}-{os.getpid()}-abcdefgh.part"
    old = folder / f".{NAMES[0]}.k3j5h2l1.part"
    fresh = folder / f".{NAMES[0]}.q9w8e7r6.part"
    for path in (dead, live, old, fresh):
        path.write_bytes(b"x")
    day_ago = time.time() - _litter.STALE_SECONDS - 60
    for path in (live, old):
        os.utime(path, (day_ago, day_ago))
    (folder / NAMES[0]).unlink()
    load_mnist(tmp_path / "src", download=False, mmap=True)
    assert not dead.exists() and not old.exists()
    assert live.exists()  # its process runs, however old the file
    assert fresh.exists()  # may belong to a 0.1.0 process decompressing right now


def test_concurrent_loads_agree_and_leave_no_temporary_files(tmp_path):
    arrays = write_set(tmp_path / "src", synthetic(12, n_train=500))
    start = threading.Barrier(4)
    results, errors = [], []

    def load():
        try:
            start.wait()
            results.append(load_mnist(tmp_path / "src", download=False, mmap=True))
        except BaseException as exc:  # noqa: BLE001  (reported below, in the test's thread)
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 4
    for data in results:
        for got, want in zip(data, arrays):
            np.testing.assert_array_equal(got, want)
    assert all(not str(p).endswith(".part") for p in cached_files())


# ----------------------------------------------------------------------------- bad input


def _gz(data):
    return gzip.compress(data, mtime=0)


GOOD_IMAGES = idx_bytes(np.resize(np.arange(256, dtype=np.uint8), (20, 28, 28)))

CORRUPT_GZ = {
    "cut-off stream": (_gz(GOOD_IMAGES)[:200], "gzip"),
    "not gzip at all": (np.random.default_rng(3).bytes(300), "gzip"),
    "bad idx magic": (_gz(b"\x12\x34" + GOOD_IMAGES[2:]), "magic"),
    "idx body truncated": (_gz(GOOD_IMAGES[:-7]), "truncated"),
    "idx trailing bytes": (_gz(GOOD_IMAGES + bytes(5 << 20)), "trailing"),
    "empty idx": (_gz(b""), "too short"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT_GZ))
def test_corrupt_gz_names_the_file_and_leaves_nothing_in_the_cache(tmp_path, case):
    data, keyword = CORRUPT_GZ[case]
    write_set(tmp_path / "src", synthetic(13))
    bad = tmp_path / "src" / (NAMES[0] + ".gz")
    bad.write_bytes(data)
    with pytest.raises(DatasetError, match=keyword) as info:
        load_mnist(tmp_path / "src", download=False, mmap=True)
    assert str(bad) in str(info.value)
    assert NAMES[0] not in [p.name for p in cached_files()]
    assert not [p for p in cached_files() if p.name.endswith(".part")]


def test_trailing_garbage_stops_the_stream_early(tmp_path, monkeypatch):
    """A body far longer than its header declares is not written out in full."""
    from fastreg.datasets import _idx

    body = idx_bytes(np.ones((200, 28, 28), dtype=np.uint8))
    (tmp_path / "big.gz").write_bytes(_gz(body + bytes(20 << 20)))
    written = []
    inflate = _idx._inflate

    class CountingFile:
        def __init__(self, out):
            self.out = out

        def write(self, chunk):
            written.append(len(chunk))
            return self.out.write(chunk)

    monkeypatch.setattr(
        _idx,
        "_inflate",
        lambda stream, out, src, chunk_bytes, *rest: inflate(
            stream, CountingFile(out), src, chunk_bytes, *rest
        ),
    )
    with pytest.raises(DatasetError, match="trailing"):
        decompress_idx(tmp_path / "big.gz", tmp_path / "big", chunk_bytes=1 << 14)
    assert len(body) // 2 < sum(written) <= len(body)
    assert list(tmp_path.iterdir()) == [tmp_path / "big.gz"]


def _with_raw_digests(monkeypatch, arrays, wrong=None):
    """Swap MNIST's published uncompressed sizes and digests for those of ``arrays``."""
    files = []
    for index, (remote, array) in enumerate(zip(_registry.MNIST.files, arrays)):
        raw = idx_bytes(array)
        digest = hashlib.sha256(raw).hexdigest()
        if index == wrong:
            digest = hashlib.sha256(b"something else").hexdigest()
        files.append(dataclasses.replace(remote, raw_size=len(raw), raw_sha256=digest))
    spec = dataclasses.replace(_registry.MNIST, files=tuple(files))
    monkeypatch.setitem(_registry.DATASETS, "mnist", spec)


def test_published_uncompressed_digest_is_checked(tmp_path, monkeypatch):
    arrays = write_set(tmp_path / "src", synthetic(14))
    _with_raw_digests(monkeypatch, arrays, wrong=2)
    with pytest.raises(DatasetError, match="SHA-256") as info:
        load_mnist(tmp_path / "src", download=False, mmap=True)
    assert str((tmp_path / "src" / (NAMES[2] + ".gz")).resolve()) in str(info.value)
    assert NAMES[2] not in [p.name for p in cached_files()]
    _with_raw_digests(monkeypatch, arrays)
    data = load_mnist(tmp_path / "src", download=False, mmap=True)
    np.testing.assert_array_equal(data.X_test, arrays[2])


def test_files_of_another_size_are_checked_by_header_only(tmp_path):
    """The real MNIST digests do not reject a subset stored under MNIST's file names."""
    assert all(remote.raw_sha256 for remote in _registry.MNIST.files)
    arrays = write_set(tmp_path / "src", synthetic(15))
    data = load_mnist(tmp_path / "src", download=False, mmap=True)
    np.testing.assert_array_equal(data.X_train, arrays[0])


def test_sets_that_do_not_fit_together_name_the_gz_files(tmp_path):
    arrays = list(synthetic(16))
    arrays[1] = arrays[1][:-1]
    write_set(tmp_path / "src", arrays)
    with pytest.raises(DatasetError, match=r"20 images but .* 19 labels") as info:
        load_mnist(tmp_path / "src", download=False, mmap=True)
    assert str(tmp_path / "src" / (NAMES[0] + ".gz")) in str(info.value)


def test_unwritable_cache_says_what_to_do(tmp_path, monkeypatch):
    write_set(tmp_path / "src", synthetic(17))
    (tmp_path / "not-a-folder").write_text("a file where the cache should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    with pytest.raises(OSError, match=r"XDG_CACHE_HOME.*data_dir=.*uncompressed") as info:
        load_mnist(tmp_path / "src", download=False, mmap=True)
    assert str(tmp_path / "src" / (NAMES[0] + ".gz")) in str(info.value)
    assert not isinstance(info.value, DatasetError)
    load_mnist(tmp_path / "src", download=False)  # the in-memory load needs no cache


def test_missing_source_is_file_not_found(tmp_path):
    from fastreg.datasets._unpack import mappable

    with pytest.raises(FileNotFoundError):
        mappable(tmp_path / "gone.gz", _registry.MNIST.files[0], "mnist")


# ----------------------------------------------------------------------------- memory


def _peak_bytes(work):
    tracemalloc.start()
    try:
        result = work()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def test_decompression_streams_instead_of_reading_whole_files(tmp_path):
    arrays = write_set(tmp_path / "src", synthetic(18, n_train=20000, levels=4))
    size = arrays[0].nbytes  # 15.7 MB
    in_memory_peak, _ = _peak_bytes(
        lambda: load_dataset("mnist", tmp_path / "src", download=False)
    )
    assert in_memory_peak > size  # the measurement sees a whole-file read
    mapped_peak, data = _peak_bytes(
        lambda: load_dataset("mnist", tmp_path / "src", download=False, mmap=True)
    )
    assert mapped_peak < size / 4
    np.testing.assert_array_equal(data.X_train, arrays[0])


@pytest.fixture(scope="module")
def memmap_set(tmp_path_factory):
    """A 20000 x 784 uint8 training set, loaded with mmap=True, flattened as views."""
    root = tmp_path_factory.mktemp("memmap-set")
    arrays = write_set(root / "src", synthetic(19, n_train=20000, levels=256))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(root / "xdg"))
        data = load_mnist(root / "src", download=False, mmap=True)
    X = data.X_train.reshape(len(data.X_train), -1)
    assert np.shares_memory(X, data.X_train) and memmap_of(X) is not None
    np.testing.assert_array_equal(X, arrays[0].reshape(20000, -1))
    return X, data.y_train


def _float32_memmap(tmp_path, X):
    path = tmp_path / "features.f32"
    writer = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    writer[:] = X / np.float32(255)
    writer.flush()
    del writer
    return np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)


@pytest.mark.parametrize("kind", ["uint8", "float32"])
def test_partial_fit_on_a_memmap_does_not_copy_it(tmp_path, memmap_set, backend, kind):
    X, y = memmap_set
    scale = 1 / 255
    if kind == "float32":
        X, scale = _float32_memmap(tmp_path, X), None
    assert not X.flags.writeable
    classes = np.arange(10)

    def train(features):
        model = SoftmaxRegression(input_scale=scale, random_state=0, backend=backend.name)
        model.partial_fit(features, y, classes=classes)
        model.partial_fit(features, y)
        return model

    peak, mapped_model = _peak_bytes(lambda: train(X))
    assert peak < X.nbytes / 8, f"partial_fit allocated {peak} bytes for X of {X.nbytes}"
    ram_model = train(np.array(X))
    np.testing.assert_array_equal(mapped_model.coef_, ram_model.coef_)
    np.testing.assert_array_equal(mapped_model.intercept_, ram_model.intercept_)


def test_logistic_fit_on_a_memmap_does_not_copy_it(memmap_set, backend):
    X, y = memmap_set
    labels = np.asarray(y) % 2  # odd digits against even ones, on every row of X
    model = LogisticRegression(
        input_scale=1 / 255,
        random_state=0,
        max_epochs=2,
        early_stopping=False,
        backend=backend.name,
    )
    peak, _ = _peak_bytes(lambda: model.fit(X, labels))
    assert peak < X.nbytes / 8


# ----------------------------------------------------------------------------- real MNIST

UNCOMPRESSED_SHA256 = {  # ../shared/data/README.md
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


@pytest.fixture(scope="module")
def mapped_mnist(tmp_path_factory):
    """Real MNIST through FASTREG_DATA with mmap=True, decompressed into a private cache."""
    if not os.environ.get("FASTREG_DATA"):
        _missing_data("FASTREG_DATA is not set: point it at the folder that holds the MNIST files")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg")))
        try:
            data = datasets.load_mnist(download=False, mmap=True)  # verified: the real files
        except FileNotFoundError as exc:
            _missing_data(f"MNIST not found through FASTREG_DATA: {exc}")
        return data, default_cache_dir("mnist")


def _sha256_of_file(path):
    hasher = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


@pytest.mark.real_data
def test_real_mnist_mapped_equals_in_memory(mapped_mnist, mnist):
    data, cache = mapped_mnist
    for got, want, name in zip(data, mnist, NAMES):
        np.testing.assert_array_equal(got, want)
        mapped = memmap_of(got)
        assert mapped is not None and not got.flags.writeable
        assert Path(mapped.filename).name == name
        assert Path(mapped.filename).is_relative_to(cache)


@pytest.mark.real_data
def test_real_mnist_copies_have_the_published_sha256(mapped_mnist):
    data, _ = mapped_mnist
    for array, name in zip(data, NAMES):
        path = Path(memmap_of(array).filename)
        assert _sha256_of_file(path) == UNCOMPRESSED_SHA256[name]
        assert path.stat().st_size == _registry.MNIST.files[NAMES.index(name)].raw_size


@pytest.mark.real_data
def test_real_mnist_trains_in_place_with_the_same_weights(mapped_mnist, mnist, backend):
    data, _ = mapped_mnist
    X = data.X_train.reshape(len(data.X_train), -1)
    assert np.shares_memory(X, data.X_train) and memmap_of(X) is not None

    def model():
        return SoftmaxRegression(
            input_scale=1 / 255,
            random_state=0,
            max_epochs=2,
            early_stopping=False,
            backend=backend.name,
        )

    peak, mapped_model = _peak_bytes(lambda: model().fit(X, data.y_train))
    # a few MB for labels, weights and the epoch's row order (8 bytes a row), not X's 47 MB
    allowed = (4 << 20) + 4 * 8 * len(X)
    assert allowed < X.nbytes / 7
    assert peak < allowed, f"fit allocated {peak} bytes; X has {X.nbytes}"
    ram_model = model().fit(mnist.X_train.reshape(len(mnist.X_train), -1), mnist.y_train)
    np.testing.assert_array_equal(mapped_model.coef_, ram_model.coef_)
    np.testing.assert_array_equal(mapped_model.intercept_, ram_model.intercept_)
