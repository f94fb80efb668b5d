"""The downloader against a real local HTTP server serving archives built in the test."""

import functools
import hashlib
import http.server
import io
import tarfile
import threading

import pytest

from lexiclass.data.download import download, extract
from lexiclass.data.imdb import load_imdb, locate_imdb
from lexiclass.errors import DataError
from tests.data.imdb_fixture import build_imdb_tar


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    requests = 0

    def do_GET(self):
        type(self).requests += 1
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = type("Handler", (CountingHandler,), {"requests": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_download_verifies_and_caches(http_server, tmp_path):
    root, url, handler = http_server
    payload = build_imdb_tar(per_folder=3)
    (root / "a.tar.gz").write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    dest = tmp_path / "cache" / "a.tar.gz"
    assert download(f"{url}/a.tar.gz", dest, sha256=sha, size=len(payload), progress=False) == dest
    assert dest.read_bytes() == payload
    assert handler.requests == 1
    download(f"{url}/a.tar.gz", dest, sha256=sha, size=len(payload), progress=False)
    assert handler.requests == 1, "a verified cached file must be reused, not downloaded again"
    assert not list(dest.parent.glob("*.part"))


def test_truncated_download_is_rejected_and_nothing_cached(http_server, tmp_path):
    root, url, _ = http_server
    payload = build_imdb_tar(per_folder=3)
    (root / "a.tar.gz").write_bytes(payload[: len(payload) // 2])
    dest = tmp_path / "cache" / "a.tar.gz"
    with pytest.raises(DataError, match=r"bytes, expected .*truncated"):
        download(f"{url}/a.tar.gz", dest, sha256=hashlib.sha256(payload).hexdigest(), size=len(payload),
                 progress=False)
    assert list(dest.parent.iterdir()) == []


def test_corrupted_download_is_rejected_and_nothing_cached(http_server, tmp_path):
    root, url, _ = http_server
    payload = bytearray(build_imdb_tar(per_folder=3))
    sha = hashlib.sha256(payload).hexdigest()
    payload[100] ^= 0xFF  # same size, different content
    (root / "a.tar.gz").write_bytes(bytes(payload))
    dest = tmp_path / "cache" / "a.tar.gz"
    with pytest.raises(DataError, match="SHA-256 .* expected .*corrupted"):
        download(f"{url}/a.tar.gz", dest, sha256=sha, size=len(payload), progress=False)
    assert list(dest.parent.iterdir()) == []


def test_stale_cached_file_is_replaced(http_server, tmp_path):
    root, url, handler = http_server
    payload = build_imdb_tar(per_folder=2)
    (root / "a.tar.gz").write_bytes(payload)
    dest = tmp_path / "a.tar.gz"
    dest.write_bytes(b"old junk")
    download(f"{url}/a.tar.gz", dest, sha256=hashlib.sha256(payload).hexdigest(), progress=False)
    assert dest.read_bytes() == payload and handler.requests == 1


def test_missing_url_is_a_clear_error(http_server, tmp_path):
    _, url, _ = http_server
    with pytest.raises(DataError, match="could not download .*nothere"):
        download(f"{url}/nothere.tar.gz", tmp_path / "x.tar.gz", sha256="0" * 64, progress=False)
    assert not (tmp_path / "x.tar.gz").exists()


def test_official_imdb_path_downloads_from_url_then_loads(http_server, tmp_path, isolated_imdb):
    """The real download path (URL -> verify -> cache -> extract), pointed at the local server."""
    root, url, handler = http_server
    payload = build_imdb_tar(per_folder=5)
    (root / "aclImdb_v1.tar.gz").write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    kw = dict(url=f"{url}/aclImdb_v1.tar.gz", sha256=sha, size=len(payload), expected_per_folder=5)
    folder = locate_imdb(None, **kw)
    assert (folder / "train" / "pos").is_dir() and folder.is_absolute()
    assert (tmp_path / "home" / "downloads" / "aclImdb_v1.tar.gz").read_bytes() == payload
    assert locate_imdb(None, **kw) == folder, "the extracted copy in the cache is found again"
    assert handler.requests == 1


def test_failed_download_names_the_flag_and_the_variable(http_server, isolated_imdb):
    _, url, _ = http_server
    with pytest.raises(DataError) as info:
        locate_imdb(None, url=f"{url}/missing.tar.gz", sha256="0" * 64, size=None)
    message = str(info.value)
    assert "could not download" in message and "--imdb-archive PATH" in message
    assert "LEXICLASS_IMDB_ARCHIVE=PATH" in message and "\n" not in message


def test_download_from_a_file_url(tmp_path, isolated_imdb):
    payload = build_imdb_tar(per_folder=2)
    source = tmp_path / "served.tar.gz"
    source.write_bytes(payload)
    folder = locate_imdb(None, url=source.as_uri(), sha256=hashlib.sha256(payload).hexdigest(), size=len(payload),
                         expected_per_folder=2)
    assert sorted(p.name for p in (folder / "test" / "neg").iterdir()) == ["0_2.txt", "1_2.txt"]


def test_extract_is_atomic_on_a_broken_archive(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(build_imdb_tar(per_folder=3)[:300])
    with pytest.raises(DataError, match="not a readable"):
        extract(bad, tmp_path / "out" / "data")
    assert not (tmp_path / "out" / "data").exists()
    assert list((tmp_path / "out").iterdir()) == [], "no temporary folder may be left behind"


def test_extract_refuses_paths_outside_the_destination(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(buf.getvalue())
    with pytest.raises(Exception):
        extract(evil, tmp_path / "out" / "d")
    assert not (tmp_path / "out" / "escape.txt").exists()
