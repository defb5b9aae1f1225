"""Data are what they claim (issue 12, points 6 and 7): files found on disk are verified against
the published digests, once per file; MNIST ships with the package and loads with no network.

The MNIST files shipped inside the package (``fastreg/datasets/data/mnist``, recompressed, so
they pass by the SHA-256 of their uncompressed contents) serve as the real data here: these
tests run wherever fastreg is installed, CI's wheel included, without FASTREG_DATA.
"""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from fastreg.datasets import (
    DatasetError,
    _fetch,
    _registry,
    _verify,
    default_cache_dir,
    load_fashion_mnist,
    load_mnist,
)
from fastreg.datasets._idx import idx_bytes
from helpers.idx_sets import NAMES, offline_private_cache, synthetic, write_set

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    offline_private_cache(tmp_path, monkeypatch)  # no FASTREG_DATA, empty cache, no network


@pytest.fixture
def checks(monkeypatch):
    """Counts the files whose contents verification reads."""
    read = []
    problem = _verify._problem

    def counted(path, remote):
        read.append(Path(path).name)
        return problem(path, remote)

    monkeypatch.setattr(_verify, "_problem", counted)
    return read


def shipped():
    folder = _fetch.shipped_dir(_registry.MNIST)
    assert folder is not None, "the MNIST files are missing from the installed package"
    return folder


def test_mnist_ships_with_the_package_and_loads_offline():
    """No FASTREG_DATA, an empty cache, download=False: the package's own MNIST."""
    folder = shipped()
    assert sorted(p.name for p in folder.iterdir()) == sorted(n + ".gz" for n in NAMES)
    assert Path(folder).is_relative_to(Path(_fetch.__file__).resolve().parent)
    data = load_mnist(download=False)
    assert data.X_train.shape == (60000, 28, 28) and data.X_test.shape == (10000, 28, 28)
    assert np.bincount(data.y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(data.y_test, minlength=10).tolist() == TEST_COUNTS
    assert not default_cache_dir("mnist").exists()  # nothing downloaded or copied


def test_fashion_mnist_from_a_folder_of_mnist_files_is_refused(tmp_path):
    """It used to train on MNIST and call it Fashion-MNIST."""
    folder = tmp_path / "looks-like-fashion"
    shutil.copytree(shipped(), folder)
    with pytest.raises(DatasetError) as info:
        load_fashion_mnist(folder, download=False)
    message = str(info.value)
    assert str(folder / (NAMES[0] + ".gz")) in message and "Fashion-MNIST" in message
    assert _registry.FASHION_MNIST.files[0].raw_sha256 in message
    assert "verify=False" in info.value.hint and info.value.param == "data_dir"
    data = load_fashion_mnist(folder, download=False, verify=False)  # the documented opt-out
    assert data.X_train.shape == (60000, 28, 28)


def test_fashion_mnist_through_fastreg_data_is_verified_too(tmp_path, monkeypatch):
    shutil.copytree(shipped(), tmp_path / "root" / "fashion-mnist")
    monkeypatch.setenv("FASTREG_DATA", str(tmp_path / "root"))
    with pytest.raises(DatasetError, match="not Fashion-MNIST's"):
        load_fashion_mnist(download=False)


def test_a_damaged_copy_is_refused_naming_the_file(tmp_path):
    folder = tmp_path / "mnist"
    shutil.copytree(shipped(), folder)
    labels = folder / (NAMES[3] + ".gz")
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # one label changed: still a valid IDX file
    labels.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DatasetError) as info:
        load_mnist(folder, download=False)
    assert str(labels) in str(info.value) and "not MNIST's" in str(info.value)
    assert load_mnist(folder, download=False, verify=False).y_test[100 - 8] == raw[100]


def test_a_synthetic_set_under_mnist_names_is_refused_unless_verify_is_false(tmp_path):
    arrays = write_set(tmp_path / "subset", synthetic(0))
    with pytest.raises(DatasetError, match=r"subset/train-images-idx3-ubyte\.gz"):
        load_mnist(tmp_path / "subset", download=False)
    data = load_mnist(tmp_path / "subset", download=False, verify=False)
    np.testing.assert_array_equal(data.X_train, arrays[0])


def test_uncompressed_and_recompressed_copies_pass_by_their_contents(tmp_path, checks):
    folder = tmp_path / "mixed"
    shutil.copytree(shipped(), folder)
    packed = folder / (NAMES[3] + ".gz")
    (folder / NAMES[3]).write_bytes(gzip.decompress(packed.read_bytes()))
    packed.unlink()
    data = load_mnist(folder, download=False)
    assert sorted(checks) == sorted([n + ".gz" for n in NAMES[:3]] + [NAMES[3]])
    assert np.bincount(data.y_test, minlength=10).tolist() == TEST_COUNTS


def test_the_published_gz_passes_by_its_own_digest(tmp_path, monkeypatch):
    """A download's .gz bytes: checked by size and digest, without inflating anything."""
    arrays = write_set(tmp_path / "d", synthetic(1))
    files = tuple(
        _registry.RemoteFile(
            n + ".gz",
            (tmp_path / "d" / (n + ".gz")).stat().st_size,
            sha256=__import__("hashlib")
            .sha256((tmp_path / "d" / (n + ".gz")).read_bytes())
            .hexdigest(),
            raw_size=len(idx_bytes(a)),
            raw_sha256="0" * 64,
        )
        for n, a in zip(NAMES, arrays)
    )
    monkeypatch.setitem(
        _registry.DATASETS,
        "mnist",
        __import__("dataclasses").replace(_registry.MNIST, files=files),
    )
    monkeypatch.setattr(_verify, "_inflated", lambda *a: pytest.fail("inflated a published .gz"))
    data = load_mnist(tmp_path / "d", download=False)
    np.testing.assert_array_equal(data.X_test, arrays[2])


def test_the_verdict_is_remembered_per_path_size_and_mtime(tmp_path, checks):
    folder = tmp_path / "mnist"
    shutil.copytree(shipped(), folder)
    load_mnist(folder, download=False)
    assert len(checks) == 4
    assert _verify.record_path().is_file()
    load_mnist(folder, download=False)
    assert len(checks) == 4  # paid once
    touched = folder / (NAMES[1] + ".gz")
    stat = touched.stat()
    import os

    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    load_mnist(folder, download=False)
    assert checks[4:] == [NAMES[1] + ".gz"]  # only the changed file again
    # a verdict for MNIST is not one for Fashion-MNIST
    with pytest.raises(DatasetError):
        load_fashion_mnist(folder, download=False)


def test_an_unwritable_cache_only_costs_the_check_again(tmp_path, monkeypatch, checks):
    (tmp_path / "not-a-folder").write_text("a file where the cache should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    assert load_mnist(download=False).X_test.shape == (10000, 28, 28)
    assert load_mnist(download=False).X_test.shape == (10000, 28, 28)
    assert len(checks) == 8


def test_fastreg_data_and_the_cache_come_before_the_shipped_copy(tmp_path, monkeypatch):
    arrays = write_set(tmp_path / "env", synthetic(2))
    monkeypatch.setenv("FASTREG_DATA", str(tmp_path / "env"))
    data = load_mnist(download=False, verify=False)
    np.testing.assert_array_equal(data.X_train, arrays[0])
    with pytest.raises(DatasetError):  # and they are verified: a subset is not MNIST
        load_mnist(download=False)
