"""MNIST(download=True) against a local HTTP server and file:// mirrors:
good files, mirrors that fail in every way, and nothing left behind."""
import contextlib
import hashlib
import http.server
import io
import os
import pathlib
import socket
import threading

import numpy as np
import pytest

from gradlab.datasets import MNIST, DownloadError, mnist, read_idx, write_idx
from gradlab.datasets.mnist import download_file

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED_MNIST = REPO.parent / "shared" / "mnist"
NAMES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def fake_files(seed=0):
    """Small MNIST-shaped gzip IDX files: name -> bytes."""
    rng = np.random.default_rng(seed)
    out = {}
    for prefix, n in (("train", 6), ("t10k", 4)):
        for kind, a in (
            ("images-idx3", rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)),
            ("labels-idx1", rng.integers(0, 10, n).astype(np.uint8)),
        ):
            buf = io.BytesIO()
            write_idx(buf, a, compress=True)
            out[f"{prefix}-{kind}-ubyte.gz"] = buf.getvalue()
    return out


FILES = fake_files()


@pytest.fixture
def fake_resources(monkeypatch):
    """Point MNIST's checksum table at the fake files (test-only override)."""
    table = [(name, hashlib.md5(FILES[name]).hexdigest()) for name in NAMES]
    monkeypatch.setattr(MNIST, "resources", table)
    monkeypatch.delenv(mnist.MIRRORS_ENV, raising=False)
    return table


class Server:
    """http.server on 127.0.0.1:<free port>; each path has a behaviour."""

    def __init__(self):
        self.routes = {}  # "/m1/file" -> (mode, bytes)
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                mode, body = server.routes.get(self.path, ("404", b""))
                if mode == "404":
                    self.send_error(404, "Not Found")
                    return
                if mode == "500":
                    self.send_error(500, "Internal Server Error")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if mode == "good":
                    sent, length = body, len(body)
                elif mode == "short":  # promises the full length, sends half, hangs up
                    sent, length = body[: len(body) // 2], len(body)
                elif mode == "truncated":  # a truncated file served honestly
                    sent = body[: len(body) // 2]
                    length = len(sent)
                elif mode == "corrupt":  # right length, flipped bytes
                    b = bytearray(body)
                    b[len(b) // 2] ^= 0xFF
                    sent, length = bytes(b), len(b)
                elif mode == "nolength":  # no Content-Length, short body
                    sent, length = body[: len(body) // 3], None
                if length is not None:
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(sent)
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def mirror(self, name, mode, files=FILES):
        """Serve every file under /<name>/ with the given behaviour; return its URL."""
        for f, body in files.items():
            self.routes[f"/{name}/{f}"] = (mode, body)
        return f"{self.url}/{name}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def all_files(root):
    """Every file and folder under root, relative (to prove nothing is left behind)."""
    return sorted(str(p.relative_to(root)) for p in pathlib.Path(root).rglob("*"))


def check_dataset(ds, prefix="train"):
    raw = read_idx(io.BytesIO(FILES[f"{prefix}-images-idx3-ubyte.gz"]))
    np.testing.assert_array_equal(np.asarray(ds.data), raw)


# ----------------------------------------------------------------- success


def test_download_from_local_http_server(tmp_path, server, fake_resources):
    url = server.mirror("m", "good")
    ds = MNIST(tmp_path, train=True, download=True, mirrors=[url], timeout=5)
    check_dataset(ds)
    raw = tmp_path / "MNIST" / "raw"
    assert sorted(os.listdir(raw)) == sorted(NAMES)  # no temporary files
    for name in NAMES:
        assert (raw / name).read_bytes() == FILES[name]
    check_dataset(MNIST(tmp_path, train=False), "t10k")

    # Already there: a second download=True fetches nothing.
    server.requests.clear()
    MNIST(tmp_path, train=True, download=True, mirrors=[url], timeout=5)
    assert server.requests == []


def test_falls_through_bad_mirrors_in_order(tmp_path, server, fake_resources):
    mirrors = [
        server.mirror("missing", "404"),
        server.mirror("broken", "500"),
        server.mirror("short", "short"),
        server.mirror("trunc", "truncated"),
        server.mirror("corrupt", "corrupt"),
        server.mirror("good", "good"),
    ]
    ds = MNIST(str(tmp_path), download=True, mirrors=mirrors, timeout=5)
    check_dataset(ds)
    assert all_files(tmp_path) == ["MNIST", "MNIST/raw"] + [f"MNIST/raw/{n}" for n in sorted(NAMES)]
    first = [r for r in server.requests if r.endswith(NAMES[0])]
    assert [r.split("/")[1] for r in first] == ["missing", "broken", "short", "trunc", "corrupt", "good"]


def test_mirrors_from_environment_and_class_attribute(tmp_path, server, fake_resources, monkeypatch):
    url = server.mirror("env", "good")
    monkeypatch.setenv(mnist.MIRRORS_ENV, f"http://127.0.0.1:1/nothing-here/ , {url}")
    check_dataset(MNIST(tmp_path / "a", download=True, timeout=5))
    monkeypatch.delenv(mnist.MIRRORS_ENV)
    monkeypatch.setattr(MNIST, "mirrors", [server.mirror("cls", "good")])
    check_dataset(MNIST(tmp_path / "b", download=True, timeout=5))
    assert any(r.startswith("/cls/") for r in server.requests)


def test_file_url_and_plain_folder_mirrors(tmp_path, fake_resources):
    src = tmp_path / "mirror dir"  # a space, to exercise URL quoting
    src.mkdir()
    for name, body in FILES.items():
        (src / name).write_bytes(body)
    check_dataset(MNIST(tmp_path / "a", download=True, mirrors=[src.as_uri()]))
    check_dataset(MNIST(tmp_path / "b", download=True, mirrors=[str(src)]))
    assert sorted(os.listdir(tmp_path / "b" / "MNIST" / "raw")) == sorted(NAMES)


@pytest.mark.skipif(not all((SHARED_MNIST / n).is_file() for n in NAMES), reason="MNIST files not present")
def test_real_files_match_the_real_checksums(tmp_path, monkeypatch):
    """The real MNIST through a file:// mirror, checked against the shipped MD5 table."""
    monkeypatch.delenv(mnist.MIRRORS_ENV, raising=False)
    ds = MNIST(tmp_path, train=True, download=True, mirrors=[SHARED_MNIST.as_uri()])
    assert len(ds) == 60000 and list(np.asarray(ds.targets)[:5]) == [5, 0, 4, 1, 9]
    assert sorted(os.listdir(tmp_path / "MNIST" / "raw")) == sorted(NAMES)


# ----------------------------------------------------------------- failure


@pytest.mark.parametrize("mode", ["404", "500", "short", "truncated", "corrupt", "nolength"])
def test_failed_download_leaves_nothing(tmp_path, server, fake_resources, mode):
    url = server.mirror("bad", mode)
    root = tmp_path / "data"
    with pytest.raises(DownloadError) as err:
        MNIST(root, download=True, mirrors=[url], timeout=5)
    assert not root.exists()  # not even the folders it created
    assert all_files(tmp_path) == []
    msg = str(err.value)
    for name in NAMES:
        assert url + name in msg  # which URL failed
        assert name in msg
    expected = {
        "404": "HTTP 404",
        "500": "HTTP 500",
        "short": "truncated",
        "truncated": "checksum mismatch",
        "corrupt": "checksum mismatch",
        "nolength": "checksum mismatch",
    }[mode]
    assert expected in msg
    assert "just the 4 files" in msg and str(root / "MNIST" / "raw") in msg


def test_failure_keeps_only_verified_files_and_retry_fetches_the_rest(tmp_path, server, fake_resources):
    bad_name = NAMES[2]
    good = {n: b for n, b in FILES.items() if n != bad_name}
    url = server.mirror("partial", "good", good)
    server.routes[f"/partial/{bad_name}"] = ("corrupt", FILES[bad_name])
    pre_existing = tmp_path / "keep.txt"
    pre_existing.write_text("mine")
    with pytest.raises(DownloadError, match="checksum mismatch"):
        MNIST(tmp_path, download=True, mirrors=[url], timeout=5)
    raw = tmp_path / "MNIST" / "raw"
    assert sorted(os.listdir(raw)) == sorted(good)  # verified files only, no partial one
    for n in good:
        assert (raw / n).read_bytes() == FILES[n]
    assert pre_existing.read_text() == "mine"

    server.requests.clear()
    fixed = server.mirror("fixed", "good")
    ds = MNIST(tmp_path, train=False, download=True, mirrors=[fixed], timeout=5)
    check_dataset(ds, "t10k")
    assert server.requests == [f"/fixed/{bad_name}"]


def test_existing_root_folder_is_kept(tmp_path, server, fake_resources):
    (tmp_path / "MNIST").mkdir()
    with pytest.raises(DownloadError):
        MNIST(tmp_path, download=True, mirrors=[server.mirror("x", "404")], timeout=5)
    assert all_files(tmp_path) == ["MNIST"]


def test_offline_message(tmp_path, fake_resources):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mnist/"
    with pytest.raises(DownloadError) as err:
        MNIST(tmp_path, download=True, mirrors=[url], timeout=5)
    msg = str(err.value)
    assert isinstance(err.value, RuntimeError)
    assert "refused" in msg.lower() or "errno" in msg.lower()
    for name in NAMES:
        assert name in msg
    assert str(tmp_path / "MNIST" / "raw") in msg and str(tmp_path) in msg
    assert "Gzipped or uncompressed" in msg and "just the 4 files" in msg
    assert all_files(tmp_path) == []


def test_no_mirrors(tmp_path, fake_resources):
    with pytest.raises(DownloadError, match="no mirrors configured"):
        MNIST(tmp_path, download=True, mirrors=[])
    assert all_files(tmp_path) == []


def test_size_cap(tmp_path, server, fake_resources, monkeypatch):
    monkeypatch.setattr(mnist, "MAX_DOWNLOAD_BYTES", 10)  # every file is bigger
    with pytest.raises(DownloadError, match="more than 10 bytes"):
        MNIST(tmp_path, download=True, mirrors=[server.mirror("big", "good")], timeout=5)
    assert all_files(tmp_path) == []


def test_download_file_directly(tmp_path, server):
    name = NAMES[1]
    md5 = hashlib.md5(FILES[name]).hexdigest()
    url = server.mirror("d", "good")
    path = download_file(name, md5, str(tmp_path), [server.url + "/nope/", url], timeout=5)
    assert pathlib.Path(path).read_bytes() == FILES[name]
    (tmp_path / "sub").mkdir()
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download_file(name, "0" * 32, str(tmp_path / "sub"), [url], timeout=5)
    assert os.listdir(tmp_path / "sub") == []
    # A failed download never replaces a good file already there.
    with contextlib.suppress(DownloadError):
        download_file(name, "0" * 32, str(tmp_path), [url], timeout=5)
    assert pathlib.Path(path).read_bytes() == FILES[name]
