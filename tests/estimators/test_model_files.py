"""fastreg.load on model files from strangers: hostile archives are ValueErrors naming the path,
read in bounded time and memory; and save() removes the temporary files of killed writers.

Each hostile file is built here by hand (a few MB at most on disk). The bombs are loaded in a
child process under an address-space limit, so a regression fails the test instead of
filling the machine; the others in this process, under tracemalloc.
"""

import io
import json
import os
import pathlib
import pickle
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib

import numpy as np
import pytest

import fastreg
from fastreg import LogisticRegression, SoftmaxRegression, _persistence
from fastreg.exceptions import ModelFileError

MiB = 1 << 20


def _model(cls=SoftmaxRegression, k=3):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = np.arange(120) % (2 if cls is LogisticRegression else k)
    return cls(backend="numpy", random_state=0, max_epochs=2).fit(X, y)


def _members(model, tmp_path):
    """{entry: .npy bytes} of a file that ``model.save`` wrote."""
    path = model.save(tmp_path / "good.npz")
    with np.load(path) as archive:
        return {key: _npy(archive[key]) for key in archive.files}


def _npy(array):
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def _npy_header(dtype, shape):
    """The .npy header alone: it declares an array whose data is not there."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf,
        {
            "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
            "fortran_order": False,
            "shape": shape,
        },
    )
    return buf.getvalue()


class Member:
    """A zip member as the archive's directory describes it (sizes and CRC may lie)."""

    def __init__(self, name, data, *, method=0, size=None, crc=None, flags=0):
        self.name = name.encode()
        self.data = data  # the bytes stored: raw deflate data for method 8
        self.method, self.flags = method, flags
        self.size = len(data) if size is None else size
        self.crc = zlib.crc32(data) if crc is None else crc


def _write_zip(path, members):
    """A zip archive written field by field (local headers, central directory, end record)."""
    out, central = bytearray(), bytearray()
    for m in members:
        offset = len(out)
        out += (
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                20,
                m.flags,
                m.method,
                0,
                0x21,
                m.crc,
                len(m.data),
                m.size,
                len(m.name),
                0,
            )
            + m.name
            + m.data
        )
        central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                m.flags,
                m.method,
                0,
                0x21,
                m.crc,
                len(m.data),
                m.size,
                len(m.name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + m.name
        )
    out += central + struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0
    )
    pathlib.Path(path).write_bytes(bytes(out))
    return path


def _model_zip(path, members, **replace):
    """A model file: ``members`` ({entry: .npy bytes}) with entries replaced (bytes or a
    Member) or, for a None value, left out."""
    entries = {**members, **replace}
    return _write_zip(
        path,
        [
            v if isinstance(v, Member) else Member(k + ".npy", v)
            for k, v in entries.items()
            if v is not None
        ],
    )


def _deflated_zeros(name, header, n_mib):
    """A deflated member: ``header`` then ``n_mib`` MiB of zero bytes, about 1 kB per MiB
    (full flushes make every MiB's deflate blocks the same bytes, so they are repeated)."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = co.compress(header) + co.flush(zlib.Z_FULL_FLUSH)
    block = co.compress(bytes(MiB)) + co.flush(zlib.Z_FULL_FLUSH)
    data = head + block * n_mib + co.flush(zlib.Z_FINISH)
    crc = zlib.crc32(header)
    zeros = bytes(MiB)
    for _ in range(n_mib):
        crc = zlib.crc32(zeros, crc)
    return Member(name, data, method=8, size=len(header) + n_mib * MiB, crc=crc)


def test_deflated_zeros_member_really_inflates():
    """The bomb builder's output is what it says: a valid deflate stream of the declared size
    (checked on 8 MiB; the tests use the same builder for 3.9 GiB)."""
    header = _npy_header(np.uint8, (8 * MiB,))
    assert np.lib.format.read_array_header_1_0(io.BytesIO(header[8:]))[0] == (8 * MiB,)
    m = _deflated_zeros("x.npy", header, 8)
    raw = zlib.decompressobj(-15).decompress(m.data)
    assert len(raw) == m.size and raw[: len(header)] == header and not any(raw[len(header) :])
    assert zlib.crc32(raw) == m.crc and len(m.data) < 10_000


CHILD = r"""
import json, resource, sys, time, tracemalloc, warnings
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import fastreg
fastreg.load(sys.argv[2])  # a good model first: lazy imports are not the bombs' time
out = []
for path in sys.argv[3:]:
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fastreg.load(path)
        result = ["ok", type(model).__name__]
    except BaseException as exc:
        result = [type(exc).__name__, str(exc)[:300]]
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out.append([path] + result + [seconds, peak])
print(json.dumps(out))
"""


def _load_in_child(good, paths, limit=1 << 30):
    """fastreg.load of each path in a child under RLIMIT_AS ``limit``, after the ``good``
    file: [(path, outcome, detail, seconds, traced peak bytes)]."""
    env = dict(
        os.environ,
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(pathlib.Path(fastreg.__file__).parents[1]),
    )
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(limit), str(good)] + [str(p) for p in paths],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """Hostile files of a few MB whose entries inflate to, or declare, gigabytes or more."""
    tmp = tmp_path_factory.mktemp("bombs")
    model = _model(LogisticRegression)
    members = _members(model, tmp)
    n_mib = 3900  # 3.9 GiB inflated from about 4 MB
    unused = _deflated_zeros("junk.npy", _npy_header(np.uint8, (n_mib * MiB,)), n_mib)
    d = n_mib * MiB // 8  # float64 weights of one row: 3.9 GiB of zeros, deflated
    used = _deflated_zeros("coef_.npy", _npy_header(np.float64, (1, d)), n_mib)
    files = {
        "good": model.save(tmp / "good.npz"),
        # a good model plus an entry nobody reads that inflates to 3.9 GiB
        "unused_bomb": _model_zip(tmp / "unused.npz", members, junk=unused),
        # coef_ declares 8 TiB (its header alone is stored)
        "declares_8_tib": _model_zip(
            tmp / "8tib.npz",
            members,
            n_features_in_=_npy(np.int64(2**40)),
            coef_=_npy_header(np.float64, (1, 2**40)),
        ),
        # a consistent model whose (zero) weights inflate to 3.9 GiB from 4 MB
        "used_bomb": _model_zip(
            tmp / "used.npz", members, n_features_in_=_npy(np.int64(d)), coef_=used
        ),
        # the directory claims 3.9 GiB from 1 kB of deflate data: more than deflate yields
        "lying_size": _model_zip(
            tmp / "lying.npz",
            members,
            coef_=Member(
                "coef_.npy", zlib.compress(members["coef_"])[2:-4], method=8, size=n_mib * MiB
            ),
        ),
    }
    assert all(os.path.getsize(p) < 5 * MiB for p in files.values())
    return files


def test_bombs_load_fast_in_little_memory(bombs):
    """A 4 MB file with an unused 3.9 GiB entry loads without inflating it; entries that
    declare (or would inflate to) gigabytes are ValueErrors naming the path. All in well
    under a second and a few MB, under a 1 GiB address-space limit (fastreg 0.x at bd4b8e0
    read every entry: 11 s and 4.2 GiB, or a raw MemoryError)."""
    names = [n for n in bombs if n != "good"]
    results = _load_in_child(bombs["good"], [bombs[n] for n in names])
    assert len(results) == len(names)
    for name, (path, outcome, detail, seconds, peak) in zip(names, results):
        assert seconds < 3.0, (name, seconds)
        assert peak < 16 * MiB, (name, peak)
        if name == "unused_bomb":
            assert (outcome, detail) == ("ok", "LogisticRegression")
            continue
        assert outcome == "ModelFileError", (name, outcome, detail)
        why = {
            "declares_8_tib": "declares a float64 array of shape (1, 1099511627776), but the "
            "entry holds 0 bytes",
            "used_bomb": "declares 4089446400 bytes, more than the file",
            "lying_size": "declares 4089446400 bytes from ",
        }[name]
        assert detail.startswith(f"{path} is not a fastreg model file (entry 'coef_': {why}"), (
            detail
        )


def _hostile(members, tmp):
    """{case: (path, what the message names)}: small malformed files, one flaw each."""

    def z(name, **replace):
        return _model_zip(tmp / f"{name}.npz", members, **replace)

    history_step = np.load(io.BytesIO(members["history/step"]))
    history_step[-1] = np.inf
    return {
        "n_iter_ of shape (3,)": (
            z("n_iter", n_iter_=_npy(np.array([1, 2, 3]))),
            r"entry 'n_iter_': shape \(3,\), expected \(\)",
        ),
        "history step of inf": (
            z("inf", **{"history/step": _npy(history_step)}),
            r"history/step holds inf",
        ),
        "duplicate classes_": (
            z("dup", classes_=_npy(np.array([0, 0, 2]))),
            r"classes_ \[0, 0, 2\] are not at least two unique labels",
        ),
        "unsorted classes_": (
            z("unsorted", classes_=_npy(np.array([2, 0, 1]))),
            "in sorted order",
        ),
        "string n_iter_": (
            z("str_n_iter", n_iter_=_npy(np.array("3"))),
            r"entry 'n_iter_': dtype <U1",
        ),
        "negative t_": (z("neg", t_=_npy(np.int64(-1))), "'t_': -1 is below 0"),
        "best epoch after the last": (
            z("best", best_epoch_=_npy(np.int64(99))),
            "best_epoch_ 99 of n_iter_",
        ),
        "structured coef_": (
            z("rec", coef_=_npy(np.zeros((3, 5), dtype="f8,f8"))),
            r"entry 'coef_': dtype",
        ),
        "big-endian coef_": (
            z("be", coef_=_npy(np.zeros((3, 5), dtype=">f8"))),
            r"entry 'coef_': dtype >f8",
        ),
        "float16 coef_": (
            z(
                "f16",
                coef_=_npy(np.zeros((3, 5), dtype=np.float16)),
                intercept_=_npy(np.zeros(3, dtype=np.float16)),
            ),
            "inconsistent weights",
        ),
        "negative shape": (
            z("negshape", coef_=_npy_header(np.float64, (-3, 5))),
            r"entry 'coef_': shape \(-3, 5\)",
        ),
        "data shorter than the header": (
            z("short", coef_=members["coef_"][:-8]),
            r"'coef_': declares a float64 array of shape \(3, 5\)",
        ),
        "history lengths differ": (
            z("len", **{"history/epoch": _npy(np.array([1.0]))}),
            r"'history/epoch': shape \(1,\), expected \(2,\)",
        ),
        "deeply nested JSON": (
            z("deep", params=_npy(np.array("[" * 100_000))),
            "parameters are not valid JSON",
        ),
        "parameters out of range": (
            z("param", params=_npy(np.array(json.dumps({"learning_rate": -1.0})))),
            "invalid parameters for SoftmaxRegression",
        ),
        "a text of 100 M characters": (
            z("text", params=_npy_header("<U100000000", ())),
            "a text of 100000000 characters",
        ),
        "an encrypted entry": (
            z("crypt", coef_=Member("coef_.npy", members["coef_"], flags=1)),
            "'coef_': encrypted",
        ),
        "bzip2 compression": (
            z("bz2", coef_=Member("coef_.npy", members["coef_"], method=12)),
            "compression method 12",
        ),
        "bad CRC": (
            z("crc", coef_=Member("coef_.npy", members["coef_"], crc=1)),
            r"'coef_': unreadable: Bad CRC-32",
        ),
        "duplicate entry": (
            _write_zip(
                tmp / "twice.npz",
                [Member(k + ".npy", v) for k, v in members.items()]
                + [Member("coef_.npy", members["coef_"])],
            ),
            "appears twice",
        ),
        "backend_ unknown": (z("backend", backend_=_npy(np.array("gpu"))), "backend_ 'gpu'"),
    }


def test_hostile_model_files_are_value_errors_naming_the_path(tmp_path):
    """Every crafted file is a ValueError saying what is wrong (no TypeError, OverflowError,
    MemoryError); fastreg at bd4b8e0 raised TypeError for n_iter_ of shape (3,) and
    OverflowError for an infinite step, and accepted duplicate or unsorted classes."""
    members = _members(_model(), tmp_path)
    assert fastreg.load(_model_zip(tmp_path / "rebuilt.npz", members)).n_iter_ == 2
    for case, (path, match) in _hostile(members, tmp_path).items():
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match=match) as info:
                fastreg.load(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert isinstance(info.value, ModelFileError) and info.value.param == "path", case
        assert str(info.value).startswith(f"{path} is not a fastreg model file ("), case
        assert peak < 8 * MiB, (case, peak)


def test_unknown_entries_are_never_opened(tmp_path, monkeypatch):
    """Only the entries of the format are read: an extra entry is skipped (even if corrupt)."""
    members = _members(_model(), tmp_path)
    path = _model_zip(
        tmp_path / "extra.npz",
        members,
        extra=Member("extra.npy", b"not a .npy at all", crc=0),
        **{"history/extra": _npy(np.array([np.inf, np.nan]))},
    )
    opened = []
    real_open = _persistence.zipfile.ZipFile.open
    monkeypatch.setattr(
        _persistence.zipfile.ZipFile,
        "open",
        lambda self, name, *a, **k: (
            opened.append(getattr(name, "filename", name)) or real_open(self, name, *a, **k)
        ),
    )
    model = fastreg.load(path)
    assert set(model.history_) == set(
        fastreg.SoftmaxRegression().fit(np.eye(3), [0, 1, 2]).history_
    )
    assert "extra.npy" not in opened and "history/extra.npy" not in opened
    assert "coef_.npy" in opened


@pytest.mark.parametrize(
    "content, why",
    [
        (pickle.dumps({"coef_": np.zeros(3)}), "a Python pickle, not an .npz archive"),
        (b"hello, not a model", "not a zip archive"),
        (b"", "not a zip archive"),
    ],
)
def test_files_that_are_not_zips_get_our_own_message(tmp_path, content, why):
    """Not NumPy's advice to load pickles with allow_pickle=True (fastreg at bd4b8e0 passed it
    on)."""
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=why) as info:
        fastreg.load(path)
    message = str(info.value)
    assert message.startswith(f"{path} is not a fastreg model file (unreadable: ")
    assert "allow_pickle" not in message and "pickle.load" not in message
    with pytest.raises(ValueError, match="not a regular file"):
        fastreg.load(tmp_path)


# ------------------------------------------------------------------ save: stale temporaries
def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_save_removes_temporaries_of_killed_writers(tmp_path):
    """A writer killed between writing and renaming leaves ``.<name>.frw-<host>-<pid>-*.tmp``;
    the next save in that folder removes it by the package's one rule (fastreg._litter): at
    once when that process is gone, another host's after a day, 0.1.0's names
    (``.fastreg-<8 random characters>.npz.tmp``) after a day. Live writers' files and others'
    stay."""
    from fastreg import _litter

    model = _model()
    day_ago = time.time() - _litter.STALE_SECONDS - 60
    host = _litter.HOST
    dead = tmp_path / f".m.npz.frw-{host}-{_dead_pid()}-abc123.tmp"
    live = tmp_path / f".m.npz.frw-{host}-{os.getpid()}-def456.tmp"  # a save in progress here
    elsewhere = tmp_path / f".m.npz.frw-otherhost-{os.getpid()}-ghi789.tmp"  # another machine
    ancient = tmp_path / ".fastreg-k0r_x1z2.npz.tmp"  # 0.1.0's name
    recent = tmp_path / ".fastreg-q9w8e7r6.npz.tmp"  # 0.1.0 may be writing
    foreign = tmp_path / ".fastreg-notes.txt"
    for path in (dead, live, elsewhere, ancient, recent, foreign):
        path.write_bytes(b"partial")
    for path in (live, ancient, foreign):
        os.utime(path, (day_ago, day_ago))
    model.save(tmp_path / "model.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, elsewhere.name, recent.name, foreign.name, "model.npz"]
    )
    os.utime(elsewhere, (day_ago, day_ago))
    model.save(tmp_path / "model.npz")
    assert not elsewhere.exists() and live.exists()


def test_save_names_its_temporary_by_pid_and_removes_it_on_failure(tmp_path, monkeypatch):
    names = []
    real_replace = os.replace

    def failing_replace(src, dst):
        names.append(os.path.basename(src))
        raise KeyboardInterrupt

    monkeypatch.setattr(_persistence.os, "replace", failing_replace)
    with pytest.raises(KeyboardInterrupt):
        _model().save(tmp_path / "m.npz")
    monkeypatch.setattr(_persistence.os, "replace", real_replace)
    from fastreg import _litter

    assert names[0].startswith(_litter.temp_prefix("m.npz")) and names[0].endswith(".tmp")
    assert list(tmp_path.iterdir()) == []
