"""The downloader against a real HTTP server on 127.0.0.1 that serves files the test generates.

The data sets' mirrors and published checksums are swapped for the server's URLs and the
synthetic files' own sizes and digests (``_registry.DATASETS`` is read at call time).
"""

import dataclasses
import gzip
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import numpy as np
import pytest

from fastreg.datasets import (
    DatasetError,
    DownloadError,
    _download,
    _registry,
    default_cache_dir,
    load_fashion_mnist,
    load_mnist,
)
from fastreg.datasets._idx import idx_bytes

NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


@pytest.fixture
def server():
    """An HTTP server in a thread. ``routes[path] = (body, declared Content-Length)``;
    any other path answers 404. ``hits`` records every requested path in order."""
    routes, hits = {}, []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            if self.path not in routes:
                self.send_error(404)
                return
            body, declared = routes[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(declared))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield SimpleNamespace(
        url=f"http://127.0.0.1:{httpd.server_address[1]}", routes=routes, hits=hits
    )
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def published():
    """Four small synthetic MNIST-format files: the arrays and their .gz bytes."""
    rng = np.random.default_rng(0)
    arrays = (
        rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        (np.arange(20) % 10).astype(np.uint8),
        rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        (np.arange(10) % 10).astype(np.uint8),
    )
    packed = {name: gzip.compress(idx_bytes(a), mtime=0) for name, a in zip(NAMES, arrays)}
    return SimpleNamespace(arrays=arrays, packed=packed)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.delenv("FASTREG_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for var in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")


def use_mirrors(monkeypatch, server, published, mirrors=("a", "b"), key="mnist", digest="sha256"):
    """Point data set ``key`` at ``server``'s folders ``mirrors``, expecting ``published``."""
    files = tuple(
        _registry.RemoteFile(name, len(body), **{digest: hashlib.new(digest, body).hexdigest()})
        for name, body in published.packed.items()
    )
    urls = tuple(m if "://" in m else f"{server.url}/{m}/" for m in mirrors)
    # shipped="": the package's own MNIST would be found before any download
    spec = dataclasses.replace(_registry.DATASETS[key], mirrors=urls, files=files, shipped="")
    monkeypatch.setitem(_registry.DATASETS, key, spec)
    return spec


def serve(server, mirror, published, **replace):
    for name, body in published.packed.items():
        body = replace.get(name, body)
        if body is not None:
            server.routes[f"/{mirror}/{name}"] = (body, len(body))


def cache_files(key="mnist"):
    folder = default_cache_dir(key)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_loaded(data, published):
    for got, want in zip(data, published.arrays):
        np.testing.assert_array_equal(got, want)


def test_good_files_land_in_the_cache_and_are_reused_offline(server, published, monkeypatch):
    use_mirrors(monkeypatch, server, published)
    serve(server, "a", published)
    assert_loaded(load_mnist(), published)
    assert server.hits == [f"/a/{name}" for name in NAMES]
    assert cache_files() == sorted(NAMES)
    for name in NAMES:
        assert (default_cache_dir("mnist") / name).read_bytes() == published.packed[name]

    server.routes.clear()

    def no_network(*args, **kwargs):
        raise AssertionError("network touched although the cache holds the data")

    monkeypatch.setattr(_download, "_urlopen", no_network)
    assert_loaded(load_mnist(), published)
    assert_loaded(load_mnist(download=False), published)


def test_wrong_checksum_leaves_nothing_and_says_what_to_do(server, published, monkeypatch):
    spec = use_mirrors(monkeypatch, server, published)
    name = NAMES[1]
    tampered = bytearray(published.packed[name])
    tampered[len(tampered) // 2] ^= 0xFF
    tampered = bytes(tampered)
    serve(server, "a", published, **{name: tampered})
    serve(server, "b", published, **{name: tampered})
    with pytest.raises(DownloadError) as info:
        load_mnist()
    message = str(info.value)
    assert isinstance(info.value, DatasetError) and isinstance(info.value, ValueError)
    assert name in message
    assert spec.files[1].sha256 in message  # expected
    assert hashlib.sha256(tampered).hexdigest() in message  # actual
    assert f"{server.url}/a/{name}" in message and f"{server.url}/b/{name}" in message
    assert "by hand" in message and str(default_cache_dir("mnist")) in message
    # structured: the argument that names another folder, and the advice, apart
    assert info.value.param == "data_dir" and "by hand" in info.value.hint
    assert spec.files[1].sha256 in info.value.reason
    assert name not in cache_files()
    assert not [f for f in cache_files() if f.endswith(".part")]


def test_404_on_every_mirror(server, published, monkeypatch):
    use_mirrors(monkeypatch, server, published)
    serve(server, "a", published, **{NAMES[2]: None})
    with pytest.raises(DownloadError, match=f"(?s){NAMES[2]}.*HTTP 404.*HTTP 404"):
        load_mnist()
    assert NAMES[2] not in cache_files()
    assert not [f for f in cache_files() if f.endswith(".part")]


def test_truncated_body_is_rejected(server, published, monkeypatch):
    use_mirrors(monkeypatch, server, published, mirrors=("a",))
    serve(server, "a", published)
    body = published.packed[NAMES[0]]
    server.routes[f"/a/{NAMES[0]}"] = (body[: len(body) // 2], len(body))  # closes early
    with pytest.raises(DownloadError, match=f"(?s){NAMES[0]}.*{len(body) // 2}.*{len(body)}"):
        load_mnist()
    assert NAMES[0] not in cache_files()
    assert not [f for f in cache_files() if f.endswith(".part")]


def test_oversized_body_is_cut_off(server, published, monkeypatch):
    use_mirrors(monkeypatch, server, published, mirrors=("a",))
    serve(server, "a", published)
    body = published.packed[NAMES[3]] + bytes(100)
    server.routes[f"/a/{NAMES[3]}"] = (body, len(body))
    with pytest.raises(DownloadError, match="more than the expected"):
        load_mnist()
    assert NAMES[3] not in cache_files()


@pytest.mark.parametrize("first", ["404", "tampered", "refused"])
def test_a_failing_first_mirror_falls_over_to_the_second(server, published, monkeypatch, first):
    mirrors = ("http://127.0.0.1:1/" if first == "refused" else "a", "b")
    use_mirrors(monkeypatch, server, published, mirrors=mirrors)
    if first == "tampered":
        serve(server, "a", published, **{n: b"x" * len(b) for n, b in published.packed.items()})
    serve(server, "b", published)
    assert_loaded(load_mnist(), published)
    assert cache_files() == sorted(NAMES)
    assert [hit for hit in server.hits if hit.startswith("/b/")] == [f"/b/{n}" for n in NAMES]


def test_only_missing_files_are_fetched(server, published, monkeypatch):
    use_mirrors(monkeypatch, server, published)
    serve(server, "a", published)
    cache = default_cache_dir("mnist")
    cache.mkdir(parents=True)
    (cache / NAMES[0]).write_bytes(published.packed[NAMES[0]])
    assert_loaded(load_mnist(), published)
    assert server.hits == [f"/a/{name}" for name in NAMES[1:]]


def test_download_false_never_downloads(server, published, monkeypatch):
    use_mirrors(monkeypatch, server, published)
    serve(server, "a", published)
    with pytest.raises(FileNotFoundError):
        load_mnist(download=False)
    assert server.hits == [] and cache_files() == []


def test_fashion_is_verified_by_md5_into_its_own_cache(server, published, monkeypatch):
    use_mirrors(monkeypatch, server, published, key="fashion-mnist", digest="md5")
    serve(server, "a", published)
    assert_loaded(load_fashion_mnist(), published)
    assert cache_files("fashion-mnist") == sorted(NAMES) and cache_files("mnist") == []


def test_fashion_md5_mismatch(server, published, monkeypatch):
    spec = use_mirrors(
        monkeypatch, server, published, key="fashion-mnist", digest="md5", mirrors=("a",)
    )
    serve(server, "a", published, **{NAMES[0]: b"y" * len(published.packed[NAMES[0]])})
    with pytest.raises(DownloadError, match=f"md5 mismatch: expected {spec.files[0].md5}"):
        load_fashion_mnist()
    assert NAMES[0] not in cache_files("fashion-mnist")


@pytest.mark.parametrize("spec", [_registry.MNIST, _registry.FASHION_MNIST])
def test_published_values_are_well_formed(spec):
    assert [f.name for f in spec.files] == list(NAMES)
    for remote in spec.files:
        kind, digest = remote.digest_kind()
        assert len(digest) == {"sha256": 64, "md5": 32}[kind]
        int(digest, 16)
        assert remote.size > 0
    assert len(spec.mirrors) >= 2 and all(m.endswith("/") for m in spec.mirrors)


# ----------------------------------------------------------------------------- bounded time


@pytest.fixture
def drip_server():
    """A server on 127.0.0.1 that sends 2 bytes a second, in its headers or its body."""
    import time

    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            try:
                if "headers" in self.path:
                    self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                while not stop.is_set():
                    self.wfile.write(b"ab")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass  # the client gave up: that is the point

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    stop.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("where", ["body", "headers"])
@pytest.mark.parametrize("setting", ["argument", "environment"])
def test_a_dripping_server_fails_within_the_deadline(
    drip_server, published, monkeypatch, where, setting
):
    import time

    use_mirrors(monkeypatch, SimpleNamespace(url=drip_server), published, mirrors=(where,))
    kwargs = {"download_deadline": 2} if setting == "argument" else {}
    if setting == "environment":
        monkeypatch.setenv(_download.ENV_DEADLINE, "2")
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        load_mnist(**kwargs)
    elapsed = time.monotonic() - start
    assert elapsed < 2 + 2.5, f"took {elapsed:.1f} s with a deadline of 2 s"
    assert "deadline" in info.value.reason and NAMES[0] in info.value.reason
    assert "FASTREG_DOWNLOAD_DEADLINE" in info.value.hint
    for remote in _registry.DATASETS["mnist"].files:  # every missing file, size and digest
        assert remote.name in info.value.hint and str(remote.size) in info.value.hint
        assert remote.sha256 in info.value.hint
    assert cache_files() == []  # no temporary file left


@pytest.mark.parametrize("bad", ["0", "-1", "soon", "inf"])
def test_a_bad_deadline_setting_is_refused(monkeypatch, bad):
    monkeypatch.setenv(_download.ENV_DEADLINE, bad)
    with pytest.raises(ValueError, match="FASTREG_DOWNLOAD_DEADLINE must be a positive"):
        _download.resolve_deadline()
    with pytest.raises(ValueError, match="download_deadline must be a positive"):
        _download.resolve_deadline(float(bad) if bad != "soon" else bad)


def test_missing_files_of_a_named_folder_are_downloaded_into_it(
    server, published, monkeypatch, tmp_path
):
    use_mirrors(monkeypatch, server, published)
    serve(server, "a", published)
    named = tmp_path / "named"
    named.mkdir()
    (named / NAMES[0]).write_bytes(published.packed[NAMES[0]])  # one file there already
    assert_loaded(load_mnist(named), published)
    assert sorted(p.name for p in named.iterdir()) == sorted(NAMES)
    assert server.hits == [f"/a/{name}" for name in NAMES[1:]]
    assert cache_files() == []  # the cache is not used when a folder is named


def test_a_foreign_file_in_a_named_folder_is_refused_before_any_download(
    server, published, monkeypatch, tmp_path
):
    use_mirrors(monkeypatch, server, published)
    serve(server, "a", published)
    named = tmp_path / "named"
    named.mkdir()
    (named / NAMES[1]).write_bytes(gzip.compress(idx_bytes(np.zeros(20, np.uint8))))
    with pytest.raises(DatasetError, match=NAMES[1]) as info:
        load_mnist(named)
    assert not isinstance(info.value, DownloadError)
    assert server.hits == []


def test_a_killed_downloads_leftover_is_removed_by_the_next_download(
    server, published, monkeypatch
):
    use_mirrors(monkeypatch, server, published)
    serve(server, "a", published)
    cache = default_cache_dir("mnist")
    cache.mkdir(parents=True)
    dead = cache / f".{NAMES[0]}.frw-{_download._litter.HOST}-999999999-abcdefgh.part"
    dead.write_bytes(b"half")
    assert_loaded(load_mnist(), published)
    assert not dead.exists()


def test_a_progress_bar_on_stderr_follows_the_bytes(server, published, monkeypatch):
    import sys

    bars = []

    class Bar:
        def __init__(self, **kwargs):
            self.kwargs, self.done, self.closed = kwargs, 0, False
            bars.append(self)

        def update(self, n):
            self.done += n

        def close(self):
            self.closed = True

    monkeypatch.setattr(_download, "_tqdm", lambda: Bar)
    use_mirrors(monkeypatch, server, published, mirrors=("a",))
    serve(server, "a", published)
    assert_loaded(load_mnist(), published)
    assert [bar.kwargs["desc"] for bar in bars] == list(NAMES)
    for bar, body in zip(bars, published.packed.values()):
        assert bar.done == bar.kwargs["total"] == len(body) and bar.closed
        assert bar.kwargs["file"] is sys.stderr and bar.kwargs["disable"] is None  # tty only
