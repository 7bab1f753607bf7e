"""VGG16's ImageNet file fetched into Keras' cache, against a real HTTP server on 127.0.0.1.

The official file's MD5 cannot be produced here, so the engine function takes the FileSpec:
each test serves a file it made and passes that file's real hash (MD5, as Keras publishes).
KERAS_HOME is always a tmp folder; nothing touches the internet or the real Keras cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import threading
import time
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest
from support import FolderServer, patient

from mnist_tui.engine.data import weights as w
from mnist_tui.engine.data.published import OFFICIAL, PUBLISHED_FILE_ENV, Published
from mnist_tui.engine.data.transfer import FileSpec
from mnist_tui.engine.errors import DataError, DownloadError, MnistTuiError
from mnist_tui.engine.jobs.context import JobContext
from mnist_tui.engine.jobs.downloads import download_reporter, weights_for_job
from mnist_tui.engine.present import size

NAME = w.IMAGENET_NOTOP


class Handler(SimpleHTTPRequestHandler):
    """Serves the server's folder, recording every path. Special prefixes:
    /truncated/F  promises F's length, sends half, closes;
    /nolength/F   sends F with no Content-Length (the body ends when the connection closes);
    /biglength/F  announces 10 GB, sends F;
    /endless      no Content-Length, sends 64 MB unless the client gives up first (counted)."""

    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if self.path == "/endless":
            self.send_response(200)
            self.end_headers()
            chunk = b"\0" * 65536
            try:   # 64 MB: "endless" for the test, yet a broken cap fails instead of hanging
                while self.server.endless_sent < 64 * 2**20:
                    self.wfile.write(chunk)
                    self.server.endless_sent += len(chunk)
            except OSError:   # the client hung up: that is what the test wants
                self.server.endless_closed.set()
            return
        for mode in ("truncated", "nolength", "biglength"):
            prefix = f"/{mode}/"
            if self.path.startswith(prefix):
                data = (Path(self.directory) / self.path[len(prefix):]).read_bytes()
                self.send_response(200)
                if mode != "nolength":
                    self.send_header("Content-Length",
                                     str(10**10 if mode == "biglength" else len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if mode == "truncated" else data)
                self.close_connection = True
                return
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(tmp_path):
    (tmp_path / "www").mkdir()
    srv = FolderServer(tmp_path / "www", Handler)
    srv.httpd.endless_sent = 0
    srv.httpd.endless_closed = threading.Event()
    yield srv
    srv.stop()


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "keras_home"      # does not exist yet: the download creates models/
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def weights_bytes(n: int = 300_000) -> bytes:
    return os.urandom(n)


def md5_spec(data: bytes) -> FileSpec:
    return FileSpec(hashlib.md5(data).hexdigest(), len(data), "md5")


def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{NAME}"


def models_listing(home: Path) -> list[str]:
    d = home / "models"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


# -- the good case ---------------------------------------------------------------------------

def test_good_file_is_downloaded_verified_into_keras_cache_and_fetched_once(server, keras_home):
    data = weights_bytes()
    url = server.put(f"vgg16/{NAME}", data)
    events = []
    ctx = JobContext(events.append)

    path = w.fetch_imagenet(download_reporter(ctx), spec=md5_spec(data), urls=[url])

    assert path == keras_home / "models" / NAME == w.imagenet_path()
    assert path.read_bytes() == data
    assert models_listing(keras_home) == [NAME]          # no temp file left
    assert server.requests == [f"/vgg16/{NAME}"]
    progress = [e for e in events if e.type == "progress"]
    assert {e.phase for e in progress} == {"download"}
    assert progress[0].step == 0 and progress[-1].step == progress[-1].total == len(data)
    assert progress[-1].message == f"downloading {NAME}"

    assert w.fetch_imagenet(spec=md5_spec(data), urls=[url]) == path
    assert len(server.requests) == 1                      # second time: from the cache


def test_first_url_bad_then_a_good_mirror(server, keras_home):
    data = weights_bytes()
    bad = server.put(f"bad/{NAME}", weights_bytes())
    good = server.put(f"good/{NAME}", data)

    path = w.fetch_imagenet(spec=md5_spec(data), urls=[server.url + "missing.h5", bad, good])

    assert path.read_bytes() == data
    assert server.requests == ["/missing.h5", f"/bad/{NAME}", f"/good/{NAME}"]
    assert models_listing(keras_home) == [NAME]


def test_a_body_without_content_length_is_fine_when_it_is_the_file(server, keras_home):
    data = weights_bytes()
    server.put(NAME, data)
    path = w.fetch_imagenet(spec=md5_spec(data), urls=[server.url + f"nolength/{NAME}"])
    assert path.read_bytes() == data


# -- every way it can fail: one line, nothing left behind ------------------------------------

BAD_CASES = {
    # case: (url path under the server, reason fragment)
    "wrong hash": ("other/{name}", "checksum mismatch for {name}"),
    "truncated": ("truncated/{name}", "connection closed after"),
    "truncated, no length": ("nolength/half/{name}", "connection closed after"),
    "404": ("nowhere/{name}", "HTTP 404"),
    "announced too large": ("biglength/{name}", "announced 10,000,000,000 bytes"),
    "endless body": ("endless", "sent more than the"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_a_bad_download_is_one_line_and_leaves_nothing(server, keras_home, case):
    data = weights_bytes()
    server.put(NAME, data)
    server.put(f"other/{NAME}", weights_bytes())
    server.put(f"half/{NAME}", data[: len(data) // 2])
    path, reason = BAD_CASES[case]
    url = server.url + path.format(name=NAME)
    spec = md5_spec(data)

    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        w.fetch_imagenet(spec=spec, urls=[url])

    assert time.monotonic() - start < patient(10)
    msg = str(err.value)
    assert isinstance(err.value, DataError) and isinstance(err.value, MnistTuiError)
    assert "\n" not in msg
    assert reason.format(name=NAME) in msg, msg
    assert NAME in msg and size(len(data), "download") in msg and "300.0 kB" in msg
    assert f"Put the file in {keras_home / 'models'}/" in msg
    assert url in msg and msg.endswith("or use --weights none")
    assert models_listing(keras_home) == []               # no file, no *.part
    if case == "endless body":                            # stopped at the cap, not at the end
        assert server.httpd.endless_closed.wait(patient(5))
        assert server.httpd.endless_sent < len(data) + 16 * 1024 * 1024


def test_server_gone_is_a_fast_one_line_error(server, keras_home):
    url = server.put(NAME, b"x")
    server.stop()
    urls = [url, closed_url()]
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        w.fetch_imagenet(spec=md5_spec(b"x" * 1000), urls=urls)
    assert time.monotonic() - start < patient(10)
    msg = str(err.value)
    assert msg.count("refused") == 2 and all(u in msg for u in urls)
    assert msg.index(urls[0]) < msg.index(urls[1])        # tried in order
    assert "1.0 kB" in msg and "--weights none" in msg and "\n" not in msg
    assert models_listing(keras_home) == []


def test_a_silent_server_times_out(keras_home):
    with socket.socket() as listener:       # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/{NAME}"
        start = time.monotonic()
        with pytest.raises(DownloadError, match=r"timed out after 0\.3 s"):
            w.fetch_imagenet(spec=md5_spec(b"x"), urls=[url], timeout=0.3)
        assert time.monotonic() - start < patient(3)
    assert models_listing(keras_home) == []


def test_an_unwritable_keras_cache_is_one_line(server, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("KERAS_HOME", str(blocker))
    with pytest.raises(DownloadError) as err:
        w.fetch_imagenet(spec=md5_spec(b"x"), urls=[server.url + NAME])
    msg = str(err.value)
    assert msg.startswith(f"cannot write the ImageNet weights {NAME} into {blocker / 'models'}/")
    assert "--weights none" in msg and "\n" not in msg


# -- the defaults: Keras' file, $MNIST_TUI_WEIGHTS_URL ----------------------------------------

def test_the_official_file_and_the_env_mirrors(server, keras_home, monkeypatch):
    assert w.IMAGENET_URL == ("https://storage.googleapis.com/tensorflow/keras-applications/"
                              "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    assert w.imagenet_spec() == FileSpec("6d6bbae143d832006294945121d1f1fc", 58_889_256, "md5")
    monkeypatch.delenv(w.WEIGHTS_URL_ENV)
    assert w.weights_urls() == [w.IMAGENET_URL]
    monkeypatch.setenv(w.WEIGHTS_URL_ENV, " http://a/x.h5 , ,http://b/y.h5")
    assert w.weights_urls() == ["http://a/x.h5", "http://b/y.h5"]

    # a mirror serving other bytes is refused: the checksum stays Keras' own
    fake = server.put(f"mirror/{NAME}", weights_bytes())
    monkeypatch.setenv(w.WEIGHTS_URL_ENV, f"{server.url}gone.h5,{fake}")
    with pytest.raises(DownloadError) as err:
        w.resolve_weights("imagenet")
    msg = str(err.value)
    assert server.requests == ["/gone.h5", f"/mirror/{NAME}"]
    assert "HTTP 404" in msg and f"checksum mismatch for {NAME}" in msg and "MD5" in msg
    assert "58.9 MB" in msg and str(keras_home / "models") in msg
    assert models_listing(keras_home) == []


def publish(data: bytes) -> Published:
    """The published files with `data` as "Keras' published weights file" (its real MD5 cannot
    be produced here), for the functions under test to be given."""
    return dataclasses.replace(OFFICIAL, vgg16_notop=md5_spec(data))


def publish_in_process(monkeypatch, folder: Path, data: bytes) -> None:
    """Make `data` "Keras' published weights file" for code this test reaches only through
    others (a job, a suite's preflight): the engine's test hook, $MNIST_TUI_PUBLISHED_FILE."""
    spec = md5_spec(data)
    path = folder / "published.json"
    path.write_text(json.dumps({"vgg16_notop": {"digest": spec.digest, "size": spec.size,
                                                "algorithm": spec.algorithm}}))
    monkeypatch.setenv(PUBLISHED_FILE_ENV, str(path))


def put_cached(keras_home: Path, data: bytes) -> Path:
    path = keras_home / "models" / NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_cached_file_that_is_the_published_one_is_used_without_network(keras_home):
    data = weights_bytes()
    published = publish(data)
    path = put_cached(keras_home, data)
    assert w.resolve_weights("imagenet", published=published) == \
        (path, f"imagenet ({path})")                                        # URL: closed port
    assert w.weights_status("imagenet", published) == f"ImageNet weights cached: {path}"


def test_a_cached_file_of_the_right_size_but_other_bytes_is_not_trusted(keras_home):
    """Changed: the size alone used to be trusted (a sparse file of 58.9 MB passed)."""
    data = weights_bytes()
    published = publish(data)
    path = put_cached(keras_home, b"\0" * len(data))
    assert "downloaded again on first use" in w.weights_status("imagenet", published)
    with pytest.raises(DownloadError) as err:
        w.resolve_weights("imagenet", published=published)             # URL: closed port
    assert f"The cached {NAME} (MD5 mismatch: not the published file) was removed" in \
        str(err.value)
    assert not path.exists() and models_listing(keras_home) == []


def test_a_cached_file_that_is_not_the_published_one_is_fetched_again(server, keras_home):
    data = weights_bytes()
    published = publish(data)
    path = put_cached(keras_home, b"\0" * len(data))
    url = server.put(f"vgg16/{NAME}", data)
    assert w.fetch_imagenet(urls=[url], spec=w.imagenet_spec(published)) == path
    assert path.read_bytes() == data and models_listing(keras_home) == [NAME]
    assert server.requests == [f"/vgg16/{NAME}"]


# -- the job's and the suite's view -------------------------------------------------------------

def test_the_job_downloads_in_its_own_phase_and_fails_with_one_line(keras_home):
    events = []
    with pytest.raises(DownloadError, match="--weights none"):
        weights_for_job("imagenet", JobContext(events.append))
    phases = [e for e in events if e.type == "phase"]
    assert [p.name for p in phases] == ["download"]
    assert NAME in phases[0].message and "58.9 MB" in phases[0].message
    assert str(keras_home / "models") in phases[0].message
    assert models_listing(keras_home) == []


def test_no_download_phase_when_cached_or_not_imagenet(keras_home, tmp_path, monkeypatch):
    events = []
    ctx = JobContext(events.append)
    assert weights_for_job("none", ctx) == (None, "none (random initialisation)")
    data = weights_bytes()
    publish_in_process(monkeypatch, tmp_path, data)
    path = put_cached(keras_home, data)
    assert weights_for_job("imagenet", ctx)[0] == path
    assert events == []


def test_suite_preflight_fails_at_once_on_weights_it_cannot_get(keras_home, monkeypatch,
                                                                 tmp_path):
    from mnist_tui.engine.suites.plan import preflight
    from mnist_tui.engine.suites.spec import SuiteSpec

    spec = SuiteSpec(name="sweep", methods=("cnn", "vgg16"), sizes=(100,), seeds=(0,),
                     overrides={"dataset": "digits", "split": "all"}).validate()
    events = []
    start = time.monotonic()
    with pytest.raises(DownloadError, match="could not be downloaded"):
        preflight(spec.members(), events.append)
    assert time.monotonic() - start < patient(10)
    assert [e.name for e in events if e.type == "phase"] == ["download"]
    data = weights_bytes()
    publish_in_process(monkeypatch, tmp_path, data)
    put_cached(keras_home, data)                 # once cached, the same suite passes
    preflight(spec.members())


# -- what the Launch form shows --------------------------------------------------------------------

def test_weights_status_says_cached_or_downloaded_on_first_use(keras_home, tmp_path,
                                                             monkeypatch):
    monkeypatch.delenv(w.WEIGHTS_URL_ENV)
    text = w.weights_status("imagenet")
    assert text.startswith("ImageNet weights not cached yet: downloaded on first use")
    assert "58.9 MB from storage.googleapis.com" in text
    assert str(keras_home / "models") in text
    monkeypatch.setenv(w.WEIGHTS_URL_ENV, "http://mirror.internal:8080/w.h5")
    assert "from mirror.internal:8080" in w.weights_status("imagenet")

    path = keras_home / "models" / NAME
    path.parent.mkdir(parents=True)
    path.write_bytes(b"partial")
    assert "downloaded again on first use" in w.weights_status("imagenet")

    assert "random" in w.weights_status("none")
    assert w.weights_status(str(path)) == f"weights file {path}"
    assert w.weights_status(str(tmp_path / "nope.h5")) == f"no such file: {tmp_path / 'nope.h5'}"


# -- the same machinery caps MNIST's downloads ----------------------------------------------------

def test_mnist_downloads_stop_at_the_expected_size_too(server, tmp_path):
    from mnist_tui.engine.data.download import Mirror, fetch_mnist

    small = b"npz" * 100
    server.put("big/mnist.npz", small * 50)      # served with no Content-Length: 15 kB > 300 B
    spec = FileSpec(hashlib.sha256(small).hexdigest(), len(small))
    cache = tmp_path / "mnist_cache"
    with pytest.raises(DownloadError) as err:
        fetch_mnist(cache, [Mirror("npz", server.url + "nolength/big/mnist.npz",
                                   {"mnist.npz": spec})], timeout=2)
    msg = str(err.value)
    assert "1 mirror tried: wrong size" in msg and "sent more than the 300 bytes" in msg
    assert sorted(p.name for p in cache.iterdir()) == []
