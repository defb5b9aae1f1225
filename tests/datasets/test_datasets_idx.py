"""The IDX reader and writer: exact round trips, memory-mapping, and every kind of corrupt file."""

import gzip
import mmap
import struct

import numpy as np
import pytest

from fastreg.datasets import DatasetError, read_idx, write_idx


def _mapped(array):
    """True when ``array`` is backed by an mmap of a file (walks the .base chain)."""
    base = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = getattr(base, "base", None)
    return False


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", "<i4", ">f4", "<f8"])
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (2, 1, 3, 2)])
def test_round_trip_is_exact(tmp_path, suffix, dtype, shape):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.shape == array.shape
    assert back.dtype.kind == array.dtype.kind and back.dtype.itemsize == array.dtype.itemsize
    np.testing.assert_array_equal(back, array)
    assert not back.flags.writeable


def test_written_bytes_follow_the_format(tmp_path):
    path = tmp_path / "labels"
    write_idx(path, np.array([1, 2, 3], dtype=np.uint8))
    assert path.read_bytes() == bytes.fromhex("00000801 00000003 010203")
    write_idx(path, np.array([[1, -2]], dtype=np.int32))
    assert path.read_bytes() == bytes.fromhex("00000C02 00000001 00000002 00000001 FFFFFFFE")


def test_reads_hand_made_mnist_style_file(tmp_path):
    body = bytes(range(12))
    raw = struct.pack(">IIII", 0x803, 2, 2, 3) + body
    (tmp_path / "images").write_bytes(raw)
    (tmp_path / "images.gz").write_bytes(gzip.compress(raw))
    for name in ("images", "images.gz"):
        back = read_idx(tmp_path / name)
        assert back.dtype == np.uint8
        np.testing.assert_array_equal(back, np.arange(12, dtype=np.uint8).reshape(2, 2, 3))


def test_uncompressed_file_is_memory_mapped_and_gz_is_not(tmp_path):
    array = np.arange(60, dtype=np.uint8).reshape(5, 3, 4)
    write_idx(tmp_path / "raw", array)
    write_idx(tmp_path / "packed.gz", array)
    assert _mapped(read_idx(tmp_path / "raw"))
    assert not _mapped(read_idx(tmp_path / "packed.gz"))


def test_empty_body_reads_as_empty_array(tmp_path):
    write_idx(tmp_path / "none", np.zeros((0, 28, 28), dtype=np.uint8))
    assert read_idx(tmp_path / "none").shape == (0, 28, 28)


GOOD = struct.pack(">IIII", 0x803, 2, 3, 4) + bytes(24)

CORRUPT = {
    "bad magic": (b"\x12\x34" + GOOD[2:], "magic"),
    "unknown element type": (b"\x00\x00\x07\x03" + GOOD[4:], "element type"),
    "zero dimensions": (b"\x00\x00\x08\x00" + GOOD[4:], "dimensions"),
    "too many dimensions": (b"\x00\x00\x08\xc8" + GOOD[4:], "dimensions"),
    "truncated body": (GOOD[:-5], "truncated"),
    "trailing bytes": (GOOD + b"\x00", "trailing"),
    "cut inside header": (GOOD[:9], "header"),
    "too short for magic": (b"\x00\x00", "too short"),
    "empty": (b"", "too short"),
    "dims disagree with size": (struct.pack(">IIII", 0x803, 2, 3, 5) + bytes(24), "truncated"),
}


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_files_raise_dataset_error_naming_path(tmp_path, case, suffix):
    data, keyword = CORRUPT[case]
    path = tmp_path / f"bad-file{suffix}"
    path.write_bytes(gzip.compress(data) if suffix else data)
    with pytest.raises(DatasetError, match=keyword) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_garbage_gzip_raises_dataset_error(tmp_path):
    path = tmp_path / "garbage.gz"
    path.write_bytes(np.random.default_rng(1).bytes(300))
    with pytest.raises(DatasetError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_cut_off_gzip_stream_raises_dataset_error(tmp_path):
    packed = gzip.compress(
        struct.pack(">IIII", 0x803, 50, 28, 28) + np.random.default_rng(2).bytes(50 * 784)
    )
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DatasetError, match="gzip"):
        read_idx(path)


def test_gzip_bytes_under_a_plain_name_say_so(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(gzip.compress(GOOD))
    with pytest.raises(DatasetError, match=r"gzip-compressed.*\.gz"):
        read_idx(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nothing")


@pytest.mark.parametrize(
    "array", [np.zeros(3, dtype=np.int64), np.zeros(3, dtype=bool), np.uint8(3)]
)
def test_write_rejects_what_idx_cannot_hold(tmp_path, array):
    with pytest.raises(ValueError, match="IDX"):
        write_idx(tmp_path / "x", array)


def test_gz_output_is_deterministic(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
