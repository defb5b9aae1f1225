"""The dataset registry is the one table of the data sets' facts, and the loader reads it.

A change to a registry entry (its title, its class names, its file list) shows in what the
finder and the loader do and say; nothing else holds those facts.
"""

import dataclasses

import numpy as np
import pytest

from fastreg import datasets
from fastreg.datasets import DatasetError, _fetch, _load, _registry
from fastreg.exceptions import DataNotFoundError, InvalidParameterError
from helpers.idx_sets import (
    offline_private_cache,
    synthetic,
    unverified,
    write_set,
)

load_mnist = unverified(datasets.load_mnist)  # synthetic sets under the published names
load_dataset = unverified(datasets.load_dataset)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    offline_private_cache(tmp_path, monkeypatch)


@pytest.mark.parametrize("spec", list(_registry.DATASETS.values()), ids=list(_registry.DATASETS))
def test_every_entry_is_complete(spec):
    assert _registry.DATASETS[spec.name] is spec and spec.subdir == spec.name
    assert spec.title and spec.n_classes == len(set(spec.class_names)) == 10
    assert len(spec.files) == 4 and spec.download_bytes == sum(f.size for f in spec.files)
    assert all(isinstance(name, str) and name for name in spec.class_names)


def test_the_known_facts():
    assert _registry.DATASETS.keys() == {"mnist", "fashion-mnist"}
    assert _registry.DEFAULT_DATASET == "mnist"
    assert _registry.MNIST.title == "MNIST"
    assert _registry.MNIST.class_names == tuple("0123456789")
    assert _registry.FASHION_MNIST.title == "Fashion-MNIST"
    assert _registry.FASHION_MNIST.class_names[0] == "T-shirt/top"
    assert _registry.FASHION_MNIST.class_names[9] == "Ankle boot"


def test_fetch_and_load_hold_no_table_of_their_own():
    """The table moved to the registry: no module of the finder/loader keeps a copy."""
    for module in (_fetch, _load):
        for name in ("DATASETS", "MNIST", "FASHION_MNIST", "RemoteFile", "DatasetSpec"):
            assert not hasattr(module, name), f"{module.__name__}.{name}"


def test_the_finder_says_the_registry_title(monkeypatch):
    monkeypatch.setitem(
        _registry.DATASETS,
        "mnist",
        dataclasses.replace(_registry.MNIST, title="Ziffern", shipped=""),
    )
    with pytest.raises(DataNotFoundError, match=r"^Ziffern was not found"):
        load_mnist(download=False)


def test_the_loader_checks_labels_against_the_registry_classes(tmp_path, monkeypatch):
    write_set(tmp_path / "d", synthetic(0))  # labels 0..9
    five = dataclasses.replace(_registry.MNIST, class_names=("a", "b", "c", "d", "e"))
    monkeypatch.setitem(_registry.DATASETS, "mnist", five)
    with pytest.raises(DatasetError, match=r"out of range; MNIST labels are 0\.\.4"):
        load_mnist(tmp_path / "d", download=False)


def test_a_registered_entry_loads_by_name(tmp_path, monkeypatch):
    arrays = write_set(tmp_path / "root" / "digits-copy", synthetic(1))
    monkeypatch.setitem(
        _registry.DATASETS,
        "digits-copy",
        dataclasses.replace(
            _registry.MNIST, name="digits-copy", flat_env_folder=False, shipped=""
        ),
    )
    monkeypatch.setenv("FASTREG_DATA", str(tmp_path / "root"))
    for got, want in zip(load_dataset("digits-copy", download=False), arrays):
        np.testing.assert_array_equal(got, want)


def test_unknown_name():
    with pytest.raises(InvalidParameterError) as info:
        load_dataset("cifar", download=False)
    assert info.value.param == "dataset" and "fashion-mnist" in info.value.hint
