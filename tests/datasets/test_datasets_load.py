"""Finding and loading the four files: search order, formats, checks across files, no network."""

import mmap

import numpy as np
import pytest

from fastreg import datasets
from fastreg.datasets import (
    DataNotFoundError,
    DatasetError,
    default_cache_dir,
    write_idx,
)
from fastreg.exceptions import InvalidParameterError
from helpers.idx_sets import (
    NAMES,
    offline_private_cache,
    synthetic,
    unverified,
    without_shipped_mnist,
    write_set,
)

# synthetic sets under the published names: the finder and the reader without the digests
load_mnist = unverified(datasets.load_mnist)
load_fashion_mnist = unverified(datasets.load_fashion_mnist)
load_dataset = unverified(datasets.load_dataset)


def assert_same(loaded, arrays):
    assert len(loaded) == 4
    for got, want in zip(loaded, arrays):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    offline_private_cache(tmp_path, monkeypatch)


def test_cache_honours_xdg_cache_home(tmp_path, monkeypatch):
    assert default_cache_dir("mnist") == tmp_path / "xdg" / "fastreg" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # the XDG spec says: ignore it
    assert default_cache_dir("mnist").parts[-3:] == (".cache", "fastreg", "mnist")


def test_result_is_named_and_shaped(tmp_path):
    arrays = write_set(tmp_path / "d", synthetic(0))
    data = load_mnist(tmp_path / "d", download=False)
    assert_same(data, arrays)
    assert data.X_train.shape == (20, 28, 28) and data.y_test.shape == (10,)
    X_train, _y_train, _X_test, y_test = data
    assert X_train is data.X_train and y_test is data.y_test


def test_search_order_data_dir_then_env_then_cache(tmp_path, monkeypatch):
    in_arg = write_set(tmp_path / "arg", synthetic(1))
    in_env = write_set(tmp_path / "env", synthetic(2))
    in_cache = write_set(default_cache_dir("mnist"), synthetic(3))
    monkeypatch.setenv("FASTREG_DATA", str(tmp_path / "env"))
    assert_same(load_mnist(tmp_path / "arg", download=False), in_arg)
    assert_same(load_mnist(download=False), in_env)
    monkeypatch.delenv("FASTREG_DATA")
    assert_same(load_mnist(download=False), in_cache)


def test_a_named_folder_is_the_only_place_looked_at(tmp_path, monkeypatch):
    """Ported: a data_dir without the files used to fall through to FASTREG_DATA and the
    cache (issue 12: it trained on other data than the folder named)."""
    (tmp_path / "empty").mkdir()
    write_set(default_cache_dir("mnist"), synthetic(3))
    write_set(tmp_path / "env", synthetic(2))
    monkeypatch.setenv("FASTREG_DATA", str(tmp_path / "env"))
    with pytest.raises(DataNotFoundError) as info:
        load_mnist(tmp_path / "empty", download=False)
    assert info.value.searched == [tmp_path / "empty"]
    message = str(info.value)
    assert str(tmp_path / "empty") in message and NAMES[0] + ".gz" in message
    assert str(tmp_path / "env") not in message


def test_a_named_folder_may_hold_the_files_in_a_subfolder(tmp_path):
    arrays = write_set(tmp_path / "root" / "mnist", synthetic(4))
    assert_same(load_mnist(tmp_path / "root", download=False), arrays)


def test_env_may_name_the_parent_of_mnist(tmp_path, monkeypatch):
    arrays = write_set(tmp_path / "root" / "mnist", synthetic(4))
    monkeypatch.setenv("FASTREG_DATA", str(tmp_path / "root"))
    assert_same(load_mnist(download=False), arrays)


def test_fashion_uses_its_own_folders_not_a_flat_mnist_folder(tmp_path, monkeypatch):
    write_set(tmp_path / "root", synthetic(5))  # MNIST, flat: same file names as Fashion's
    fashion = write_set(tmp_path / "root" / "fashion-mnist", synthetic(6))
    monkeypatch.setenv("FASTREG_DATA", str(tmp_path / "root"))
    assert_same(load_fashion_mnist(download=False), fashion)
    in_cache = write_set(default_cache_dir("fashion-mnist"), synthetic(7))
    monkeypatch.delenv("FASTREG_DATA")
    assert_same(load_fashion_mnist(download=False), in_cache)


def test_uncompressed_files_are_memory_mapped(tmp_path):
    write_set(tmp_path / "raw", synthetic(8), gz=False)
    data = load_mnist(tmp_path / "raw", download=False)
    for array in data:
        base = array
        while base is not None and not isinstance(base, mmap.mmap):
            base = getattr(base, "base", None)
        assert isinstance(base, mmap.mmap)
        assert not array.flags.writeable


def test_uncompressed_wins_over_gz_and_forms_may_mix(tmp_path):
    folder = tmp_path / "mixed"
    write_set(folder, synthetic(9), gz=True)
    raw = synthetic(10)
    write_idx(folder / NAMES[0], raw[0])  # both forms of the train images: raw must win
    (folder / (NAMES[3] + ".gz")).rename(folder / "elsewhere")
    write_idx(folder / NAMES[3], raw[3])  # test labels only uncompressed
    data = load_mnist(folder, download=False)
    np.testing.assert_array_equal(data.X_train, raw[0])
    np.testing.assert_array_equal(data.y_test, raw[3])


def test_nothing_found_lists_every_place_and_what_to_do(tmp_path, monkeypatch):
    without_shipped_mnist(monkeypatch)
    partial = default_cache_dir("mnist")
    write_set(partial, synthetic(11))
    (partial / (NAMES[2] + ".gz")).unlink()
    monkeypatch.setenv("FASTREG_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(download=False)
    # structured: a DataNotFoundError naming the argument, the folders and the advice apart
    assert isinstance(info.value, DataNotFoundError) and info.value.param == "data_dir"
    assert info.value.searched == [tmp_path / "nowhere", tmp_path / "nowhere" / "mnist", partial]
    assert "data_dir=" in info.value.hint and "data_dir=" not in info.value.reason
    message = str(info.value)
    for expected in (
        str(partial),
        "missing t10k-images-idx3-ubyte.gz",
        str(tmp_path / "nowhere"),
        "no such folder",
        str(default_cache_dir("mnist")),
        "data_dir=",
        "FASTREG_DATA=",
        "download=True",
    ):
        assert expected in message


def test_a_file_missing_from_a_named_folder_is_named_with_its_size_and_digest(tmp_path):
    partial = tmp_path / "partial"
    write_set(partial, synthetic(11))
    (partial / (NAMES[2] + ".gz")).unlink()
    with pytest.raises(DataNotFoundError) as info:
        load_mnist(partial, download=False)
    remote = datasets._registry.MNIST.files[2]
    assert info.value.searched == [partial] and info.value.param == "data_dir"
    assert f"{partial} (the folder given by data_dir): missing {NAMES[2]}.gz" in info.value.reason
    for expected in (str(remote.size), remote.sha256, remote.raw_sha256, "download=True"):
        assert expected in info.value.hint
    assert NAMES[0] not in info.value.hint  # only the missing file


def test_network_untouched_when_found_even_with_download_true(tmp_path, monkeypatch):
    arrays = write_set(tmp_path / "env", synthetic(12))
    monkeypatch.setenv("FASTREG_DATA", str(tmp_path / "env"))
    assert_same(load_mnist(download=True), arrays)  # urlopen would raise (autouse fixture)


def _corrupt_set(tmp_path, replace):
    arrays = list(synthetic(13))
    for index, array in replace.items():
        arrays[index] = array
    return write_set(tmp_path / "bad", arrays)


@pytest.mark.parametrize(
    "replace, keyword, culprit",
    [
        ({1: np.zeros(19, dtype=np.uint8)}, "20 images but .* 19 labels", 0),
        ({2: np.zeros((9, 28, 28), dtype=np.uint8)}, "9 images but .* 10 labels", 2),
        ({3: np.full(10, 10, dtype=np.uint8)}, "label 10 .* out of range", 3),
        ({0: np.zeros((20, 784), dtype=np.uint8)}, "shape \\(20, 784\\)", 0),
        ({2: np.zeros((10, 27, 28), dtype=np.uint8)}, "shape \\(10, 27, 28\\)", 2),
        ({1: np.zeros((20, 1), dtype=np.uint8)}, "labels, uint8 with shape", 1),
        ({0: np.zeros((20, 28, 28), dtype=np.int32)}, "int32", 0),
    ],
)
def test_files_that_do_not_fit_together_raise_dataset_error(tmp_path, replace, keyword, culprit):
    _corrupt_set(tmp_path, replace)
    with pytest.raises(DatasetError, match=keyword) as info:
        load_mnist(tmp_path / "bad", download=False)
    assert NAMES[culprit] in str(info.value)


def test_corrupt_local_file_is_an_error_not_a_fall_through(tmp_path):
    write_set(default_cache_dir("mnist"), synthetic(14))  # a good copy further down the list
    folder = tmp_path / "bad"
    write_set(folder, synthetic(15))
    packed = (folder / (NAMES[0] + ".gz")).read_bytes()
    (folder / (NAMES[0] + ".gz")).write_bytes(packed[:100])
    with pytest.raises(DatasetError, match=NAMES[0]):
        load_mnist(folder, download=False)


def test_unknown_data_set_name():
    with pytest.raises(ValueError, match=r"unknown data set 'kmnist'.*mnist") as info:
        datasets.load_dataset("kmnist")
    assert isinstance(info.value, InvalidParameterError) and info.value.param == "dataset"


def test_errors_are_the_public_exceptions():
    """fastreg.datasets re-exports the classes of fastreg.exceptions (one class each)."""
    from fastreg import datasets, exceptions

    assert datasets.DatasetError is exceptions.DatasetError
    assert datasets.DownloadError is exceptions.DownloadError
    assert datasets.DataNotFoundError is exceptions.DataNotFoundError
    assert issubclass(datasets.DataNotFoundError, FileNotFoundError)
