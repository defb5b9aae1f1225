"""The one rule for temporary files of killed processes (fastreg._litter): names, staleness,
removal of files and folders, the atomic JSON write."""

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from fastreg import _litter

DAY = _litter.STALE_SECONDS


@pytest.fixture(scope="module")
def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def ours(final, pid, suffix, host=None):
    return f".{final}.frw-{host or _litter.HOST}-{pid}-abc123{suffix}"


def test_names_carry_host_and_pid():
    prefix = _litter.temp_prefix("model.npz")
    assert prefix == f".model.npz.frw-{_litter.HOST}-{os.getpid()}-"
    assert _litter.HOST.isalnum()
    name = _litter.temp_name("run", ".run")
    assert name.startswith(_litter.temp_prefix("run")) and name.endswith(".run")
    assert name != _litter.temp_name("run", ".run")
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=".tmp")
    os.close(fd)
    os.unlink(path)
    # a live name is never stale, however old
    assert not _litter.is_stale(os.path.basename(path), 0, (".tmp",))


def test_staleness_rule(dead_pid):
    now = time.time()
    old = now - DAY - 60
    # this host, dead pid: at once; live pid: never
    assert _litter.is_stale(ours("a", dead_pid, ".part"), now, (".part",), now=now)
    assert not _litter.is_stale(ours("a", os.getpid(), ".part"), old, (".part",), now=now)
    # another host: after a day, whatever the pid
    other = ours("a", dead_pid, ".part", host="elsewhere")
    assert not _litter.is_stale(other, now - 3600, (".part",), now=now)
    assert _litter.is_stale(other, old, (".part",), now=now)
    # only the caller's suffixes
    assert not _litter.is_stale(ours("a", dead_pid, ".tmp"), old, (".part",), now=now)
    # legacy names (no pid): only those the caller lists, after a day
    legacy = (_litter.mkstemp_glob(".*.", ".part"),)
    assert _litter.is_stale(".a.k3j5h2l1.part", old, (".part",), legacy, now=now)
    assert not _litter.is_stale(".a.k3j5h2l1.part", now - 3600, (".part",), legacy, now=now)
    assert not _litter.is_stale(".a.k3j5h2l1.part", old, (".part",), now=now)
    assert not _litter.is_stale(".a.notes.part", old, (".part",), legacy, now=now)
    assert not _litter.is_stale("a.part", old, (".part",), legacy, now=now)


def test_pid_probe(dead_pid):
    assert _litter.pid_running(os.getpid())
    if os.name == "posix":
        assert not _litter.pid_running(dead_pid)
    assert _litter.pid_running(0) and _litter.pid_running(2**80)  # not a pid: kept


def test_remove_stale_removes_files_and_folders(tmp_path, dead_pid):
    dead_file = tmp_path / ours("x.frd", dead_pid, ".partial")
    dead_folder = tmp_path / ours("run", dead_pid, ".run")
    live_folder = tmp_path / ours("run", os.getpid(), ".old")
    other_suffix = tmp_path / ours("x.frd", dead_pid, ".part")
    user = tmp_path / "notes.partial"
    dead_file.write_bytes(b"x")
    dead_folder.mkdir()
    (dead_folder / "sub").mkdir()
    (dead_folder / "sub" / "history.csv").write_text("x")
    live_folder.mkdir()
    other_suffix.write_bytes(b"x")
    user.write_bytes(b"x")
    removed = _litter.remove_stale(tmp_path, (".partial", ".run", ".old"))
    assert sorted(removed) == sorted([dead_file.name, dead_folder.name])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live_folder.name, other_suffix.name, user.name]
    )
    # a folder that cannot be listed: nothing, no error
    assert _litter.remove_stale(tmp_path / "missing", (".part",)) == []


def test_remove_stale_unlinks_a_link_not_its_target(tmp_path, dead_pid):
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep").write_text("x")
    link = tmp_path / ours("run", dead_pid, ".old")
    link.symlink_to(target, target_is_directory=True)
    assert _litter.remove_stale(tmp_path, (".old",)) == [link.name]
    assert (target / "keep").exists()


def test_write_json_is_atomic_and_cleans_up(tmp_path, dead_pid, monkeypatch):
    leftover = tmp_path / ours("r.json", dead_pid, ".part")
    leftover.write_text("{")
    _litter.write_json(tmp_path / "r.json", {"a": [1, 2]})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": [1, 2]}
    assert sorted(os.listdir(tmp_path)) == ["r.json"]

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_litter.os, "replace", fail)
    with pytest.raises(OSError):
        _litter.write_json(tmp_path / "r.json", {"b": 1})
    assert sorted(os.listdir(tmp_path)) == ["r.json"]
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": [1, 2]}


def test_imports_only_the_standard_library():
    import ast

    tree = ast.parse(open(_litter.__file__).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and not node.module.startswith("fastreg")
        elif isinstance(node, ast.Import):
            assert all(a.name in sys.stdlib_module_names for a in node.names)
