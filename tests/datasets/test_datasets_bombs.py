"""Hostile IDX and dataset files: decompression bombs and sizes that overflow (issue 12, point 1).

A bomb is a gzip file of a few MB whose body inflates to GBs. Each bomb is opened in a child
process under an address-space limit (1 GiB, ``RLIMIT_AS``) and a file-size limit (64 MiB,
``RLIMIT_FSIZE``), so a loader that inflates more than the header (or the registry) allows fails
the test with a MemoryError or a file-size error instead of filling the machine's memory or disk.
"""

import gzip
import json
import os
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

from fastreg.datasets import DatasetError, open_dataset, read_idx, write_dataset
from fastreg.datasets import _dataset_file as dsf
from helpers.idx_sets import NAMES, synthetic, write_set

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="resource limits of Linux")

GiB = 1 << 30
MiB = 1 << 20


def gzip_bomb(path, header, inflated):
    """Write a gzip file whose contents are ``header`` then zeros, ``inflated`` bytes in all.

    Built from one deflated MiB of zeros repeated (a full flush makes each copy independent),
    so a 2 GiB body costs about 2 MB and a second to make. The trailer's CRC is exact."""
    block = 1 << 20
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = squeeze.compress(header) + squeeze.flush(zlib.Z_FULL_FLUSH)
    zeros = bytes(block)
    first = squeeze.compress(zeros) + squeeze.flush(zlib.Z_FULL_FLUSH)
    again = squeeze.compress(zeros) + squeeze.flush(zlib.Z_FULL_FLUSH)
    assert first[-4:] == again[-4:]  # byte-aligned, independent blocks
    count, rest = divmod(inflated - len(header), block)
    crc = zlib.crc32(header)
    with open(path, "wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")
        out.write(head)
        for _ in range(count):
            out.write(again)
            crc = zlib.crc32(zeros, crc)
        out.write(squeeze.compress(bytes(rest)) + squeeze.flush(zlib.Z_FINISH))
        crc = zlib.crc32(bytes(rest), crc)
        out.write(struct.pack("<II", crc & 0xFFFFFFFF, inflated & 0xFFFFFFFF))
    return path


def run_limited(code, tmp_path, address_space=GiB, file_size=64 * MiB):
    """Run ``code`` in a child under the limits; return what it printed (one JSON line)."""
    script = textwrap.dedent("""
        import json, resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write: an OSError
        resource.setrlimit(resource.RLIMIT_AS, ({AS}, {AS}))
        resource.setrlimit(resource.RLIMIT_FSIZE, ({FS}, {FS}))
        try:
            from fastreg.datasets import DatasetError
            def main():
        {BODY}
            main()
            print(json.dumps({{"outcome": "returned"}}))
        except BaseException as exc:
            print(json.dumps({{"outcome": type(exc).__name__, "message": str(exc),
                              "dataset_error": isinstance(exc, DatasetError)}}))
    """).format(
        AS=address_space, FS=file_size, BODY=textwrap.indent(textwrap.dedent(code), " " * 8)
    )
    env = dict(
        os.environ,
        XDG_CACHE_HOME=str(tmp_path / "xdg"),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    env.pop("FASTREG_DATA", None)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def folder_bytes(folder):
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def bomb_100(tmp_path_factory):
    """Header: 100 images of 28 x 28; body: 2 GiB of zeros (about 2 MB on disk)."""
    path = tmp_path_factory.mktemp("bomb") / "train-images-idx3-ubyte.gz"
    return gzip_bomb(path, struct.pack(">IIII", 0x803, 100, 28, 28), 2 * GiB)


def test_the_bomb_is_small_and_inflates_to_gigabytes(bomb_100):
    assert bomb_100.stat().st_size < 4 * MiB
    with gzip.open(bomb_100) as stream:
        assert stream.read(16) == struct.pack(">IIII", 0x803, 100, 28, 28)


def test_read_idx_inflates_no_more_than_the_header_declares(bomb_100, tmp_path):
    result = run_limited(
        f"""
        from fastreg.datasets import read_idx
        read_idx({str(bomb_100)!r})
    """,
        tmp_path,
    )
    assert result["dataset_error"], result
    assert "trailing bytes" in result["message"] and str(bomb_100) in result["message"]


@pytest.mark.parametrize(
    "how", ["in memory, verified", "in memory, verify=False", "mmap=True, verify=False"]
)
def test_a_header_claiming_4_billion_images_is_refused_before_inflating(tmp_path, how):
    """The cache unpack (mmap=True) used to stream 3.9 GiB into the cache before failing."""
    folder = tmp_path / "mnist"
    write_set(folder, synthetic(0))
    gzip_bomb(folder / (NAMES[0] + ".gz"), struct.pack(">IIII", 0x803, 2**32 - 1, 28, 28), 2 * GiB)
    mmap = "mmap=True" in how
    verify = "verify=False" not in how
    result = run_limited(
        f"""
        from fastreg.datasets import load_mnist
        load_mnist({str(folder)!r}, download=False, mmap={mmap}, verify={verify})
    """,
        tmp_path,
    )
    assert result["dataset_error"], result
    assert str(folder / (NAMES[0] + ".gz")) in result["message"]
    if not verify:
        assert "47040016 bytes" in result["message"]  # the published size caps it
    cache = tmp_path / "xdg"
    assert not cache.exists() or folder_bytes(cache) < MiB


def test_a_bomb_behind_a_truthful_header_is_refused_by_the_published_size(tmp_path):
    """A header that declares exactly what the body holds (5 GB) is still not MNIST."""
    folder = tmp_path / "mnist"
    write_set(folder, synthetic(0))
    n = (2 * GiB) // 784
    gzip_bomb(folder / (NAMES[0] + ".gz"), struct.pack(">IIII", 0x803, n, 28, 28), 16 + n * 784)
    result = run_limited(
        f"""
        from fastreg.datasets import read_idx
        try:
            read_idx({str(folder / (NAMES[0] + ".gz"))!r}, max_bytes=47040016)
        except DatasetError as exc:
            assert "more than the 47040016 bytes" in str(exc), exc
        else:
            raise AssertionError("read")
        from fastreg.datasets import load_mnist
        load_mnist({str(folder)!r}, download=False, mmap=True, verify=False)
    """,
        tmp_path,
    )
    assert result["dataset_error"] and "more than the 47040016 bytes" in result["message"]


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_a_header_whose_size_overflows_int64_is_refused(tmp_path, suffix):
    """(2**31, 2**31, 4) elements: 2**64 bytes, which int64 arithmetic wraps to 0."""
    header = struct.pack(">IIII", 0x803, 2**31, 2**31, 4)
    path = tmp_path / f"overflow{suffix}"
    path.write_bytes(gzip.compress(header) if suffix else header)
    assert len(header) == 16
    with pytest.raises(DatasetError, match=r"truncated|cannot hold") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_a_dataset_file_whose_sample_shape_overflows_is_refused(tmp_path):
    path = write_dataset(tmp_path / "d.frd", np.zeros((4, 16), np.uint8), np.arange(4))
    raw = bytearray(open(path, "rb").read())
    _, version, length = dsf._PREAMBLE.unpack_from(raw)
    meta = json.loads(raw[16 : 16 + length])
    meta["sample_shape"] = [2**62 + 1, 16]  # int64 product: 16 == n_features
    meta["header_sha256"] = dsf.header_digest(meta)
    text = json.dumps(meta).encode()
    raw[: dsf.DATA_OFFSET] = (dsf._PREAMBLE.pack(dsf.MAGIC, version, len(text)) + text).ljust(
        dsf.DATA_OFFSET, b" "
    )
    open(path, "wb").write(bytes(raw))
    with pytest.raises(DatasetError, match="sizes and offsets do not agree"):
        open_dataset(path)
