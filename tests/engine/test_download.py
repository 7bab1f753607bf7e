"""fetch_mnist against a real HTTP server on 127.0.0.1 serving files these tests create.

Nothing here touches the internet or the real user cache: every cache dir is under tmp_path
and every mirror points at the local server (or at a port nobody listens on).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import numpy as np
import platformdirs
import pytest
from support import FolderServer, patient

from mnist_tui.engine.data.download import (
    Mirror,
    cached_mnist,
    default_cache_dir,
    default_mirrors,
    fetch_mnist,
    mirrors_from_env,
)
from mnist_tui.engine.data.fetch import is_cached, remove_stale_parts
from mnist_tui.engine.data.published import (
    OFFICIAL,
    PUBLISHED_FILE_ENV,
    Published,
    load_published,
    published_files,
)
from mnist_tui.engine.data.transfer import DownloadProgress, FileSpec
from mnist_tui.engine.errors import DataError, DownloadError

IDX_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fake_npz(n: int = 20, seed: int = 0) -> bytes:
    """A small Keras-style mnist.npz (random pixels; the downloader only cares about bytes)."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, n, dtype=np.uint8),
        x_test=rng.integers(0, 256, (n // 2, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, n // 2, dtype=np.uint8),
    )
    return buf.getvalue()


def fake_idx_files(n: int = 12) -> dict[str, bytes]:
    """The four gzip IDX files, tiny but with the real headers."""
    rng = np.random.default_rng(1)
    out = {}
    for name in IDX_NAMES:
        if "images" in name:
            raw = np.array([2051, n, 28, 28], ">u4").tobytes()
            raw += rng.integers(0, 256, n * 28 * 28, dtype=np.uint8).tobytes()
        else:
            raw = np.array([2049, n], ">u4").tobytes()
            raw += rng.integers(0, 10, n, dtype=np.uint8).tobytes()
        out[name] = gzip.compress(raw, mtime=0)
    return out


class Handler(SimpleHTTPRequestHandler):
    """Serves the server's folder; counts requests. Paths under /slow/ trickle the file in
    pieces; paths under /truncated/ promise the full length but close halfway."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        for mode in ("slow", "truncated"):
            prefix = f"/{mode}/"
            if self.path.startswith(prefix):
                data = (Path(self.directory) / self.path[len(prefix):]).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if mode == "truncated":
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                step = len(data) // 10 + 1
                for i in range(0, len(data), step):
                    self.wfile.write(data[i : i + step])
                    self.wfile.flush()
                    time.sleep(0.03)
                return
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(tmp_path):
    (tmp_path / "www").mkdir()
    srv = FolderServer(tmp_path / "www", Handler)
    yield srv
    srv.stop()


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache" / "mnist"  # does not exist yet: fetch_mnist must create it


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    """Never let a developer's own env vars (or the real cache) leak into these tests."""
    monkeypatch.delenv("MNIST_TUI_MIRRORS", raising=False)
    monkeypatch.delenv("MNIST_TUI_CACHE_DIR", raising=False)
    monkeypatch.delenv(PUBLISHED_FILE_ENV, raising=False)


def dead_url() -> str:
    """A URL on a port that was bound and then closed: connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist.npz"


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


# --- npz: good, cached, bad checksum ------------------------------------------------------


def test_good_npz_is_downloaded_verified_cached_and_not_fetched_twice(server, cache):
    data = fake_npz()
    url = server.put("keras/mnist.npz", data)
    mirrors = [Mirror("npz", url, {"mnist.npz": FileSpec(sha256(data), len(data))})]

    path = fetch_mnist(cache, mirrors)

    assert path == cache / "mnist.npz"
    assert path.read_bytes() == data
    assert leftovers(cache) == ["mnist.npz"]  # no temp files
    assert server.requests == ["/keras/mnist.npz"]
    with np.load(path) as f:
        assert f["x_train"].shape == (20, 28, 28)

    assert cached_mnist(cache, mirrors) == path
    assert fetch_mnist(cache, mirrors) == path
    assert len(server.requests) == 1  # second call served from the cache


def test_bad_checksum_is_not_cached_and_falls_through_to_next_mirror(server, cache):
    good = fake_npz(seed=0)
    bad_url = server.put("bad/mnist.npz", fake_npz(seed=1))
    good_url = server.put("good/mnist.npz", good)
    spec = {"mnist.npz": sha256(good)}

    path = fetch_mnist(cache, [Mirror("npz", bad_url, spec), Mirror("npz", good_url, spec)])

    assert path.read_bytes() == good
    assert server.requests == ["/bad/mnist.npz", "/good/mnist.npz"]
    assert leftovers(cache) == ["mnist.npz"]


def test_only_a_bad_mirror_raises_naming_the_checksum_and_leaves_nothing(server, cache):
    url = server.put("bad/mnist.npz", fake_npz(seed=1))
    mirrors = [Mirror("npz", url, {"mnist.npz": sha256(b"something else")})]

    with pytest.raises(DownloadError) as err:
        fetch_mnist(cache, mirrors)

    msg = str(err.value)
    assert "checksum mismatch" in msg and "mnist.npz" in msg
    assert str(cache) in msg and "--data-dir" in msg
    assert "\n" not in msg
    assert leftovers(cache) == []
    assert cached_mnist(cache, mirrors) is None
    assert isinstance(err.value, DataError)  # front ends catch DataError


# --- network failures ---------------------------------------------------------------------


def test_unreachable_mirrors_raise_one_line_naming_cache_and_data_dir(server, cache):
    url = server.put("mnist.npz", b"x")
    server.stop()  # shut down: nothing listens there any more
    mirrors = [
        Mirror("npz", url, {"mnist.npz": sha256(b"x")}),
        Mirror("npz", dead_url(), {"mnist.npz": sha256(b"x")}),
    ]

    with pytest.raises(DownloadError) as err:
        fetch_mnist(cache, mirrors, timeout=2)

    msg = str(err.value)
    assert msg.startswith("could not download MNIST (2 mirrors tried: offline or unreachable;")
    assert "refused" in msg.lower()
    assert f"in {cache}," in msg and "--data-dir" in msg and "--dataset digits" in msg
    assert "\n" not in msg and "checksum" not in msg
    assert leftovers(cache) == []


def test_404_on_first_mirror_then_success_on_second(server, cache):
    data = fake_npz()
    good_url = server.put("b/mnist.npz", data)
    spec = {"mnist.npz": sha256(data)}

    path = fetch_mnist(cache, [Mirror("npz", server.url + "a/mnist.npz", spec),
                               Mirror("npz", good_url, spec)])

    assert path.read_bytes() == data
    assert server.requests == ["/a/mnist.npz", "/b/mnist.npz"]


def test_http_error_is_reported_with_its_status(server, cache):
    spec = {"mnist.npz": sha256(b"")}
    with pytest.raises(DownloadError, match=r"1 mirror tried: .*HTTP 404"):
        fetch_mnist(cache, [Mirror("npz", server.url + "missing.npz", spec)])


def test_truncated_response_is_a_network_error_and_leaves_nothing(server, cache):
    data = fake_npz()
    server.put("mnist.npz", data)
    spec = {"mnist.npz": sha256(data)}
    with pytest.raises(DownloadError, match=r"connection closed after \d+ of \d+ bytes"):
        fetch_mnist(cache, [Mirror("npz", server.url + "truncated/mnist.npz", spec)])
    assert leftovers(cache) == []


def test_a_silent_server_times_out(cache):
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/mnist.npz"
        start = time.monotonic()
        with pytest.raises(DownloadError, match="timed out after 0.3 s"):
            fetch_mnist(cache, [Mirror("npz", url, {"mnist.npz": "0" * 64})], timeout=0.3)
        assert time.monotonic() - start < patient(3)


def test_mixed_failures_name_the_checksum(server, cache):
    url = server.put("bad/mnist.npz", b"not mnist")
    spec = {"mnist.npz": sha256(b"mnist")}
    with pytest.raises(DownloadError) as err:
        fetch_mnist(cache, [Mirror("npz", url, spec), Mirror("npz", dead_url(), spec)])
    assert "2 mirrors tried: 1 checksum mismatch, 1 offline or unreachable" in str(err.value)


# --- IDX ----------------------------------------------------------------------------------


def test_idx_mirror_end_to_end(server, cache):
    files = fake_idx_files()
    for name, data in files.items():
        server.put(f"mnist/{name}", data)
    mirror = Mirror("idx", server.url + "mnist",  # no trailing slash: still a folder
                    {n: FileSpec(sha256(d), len(d)) for n, d in files.items()})

    path = fetch_mnist(cache, [mirror])

    assert path == cache
    assert leftovers(cache) == sorted(IDX_NAMES)
    for name, data in files.items():
        assert (cache / name).read_bytes() == data
    assert len(server.requests) == 4
    assert cached_mnist(cache, [mirror]) == cache
    assert fetch_mnist(cache, [mirror]) == cache and len(server.requests) == 4


def test_idx_files_verified_from_one_mirror_are_kept_when_the_next_completes(server, cache):
    files = fake_idx_files()
    for name in IDX_NAMES[:2]:  # mirror "half" only has the training files
        server.put(f"half/{name}", files[name])
    for name, data in files.items():
        server.put(f"full/{name}", data)
    specs = {n: sha256(d) for n, d in files.items()}

    path = fetch_mnist(cache, [Mirror("idx", server.url + "half/", specs),
                               Mirror("idx", server.url + "full/", specs)])

    assert path == cache and leftovers(cache) == sorted(IDX_NAMES)
    assert server.requests == [
        "/half/train-images-idx3-ubyte.gz",
        "/half/train-labels-idx1-ubyte.gz",
        "/half/t10k-images-idx3-ubyte.gz",  # 404: on to the next mirror
        "/full/t10k-images-idx3-ubyte.gz",
        "/full/t10k-labels-idx1-ubyte.gz",
    ]


def test_incomplete_idx_cache_is_not_a_cached_copy(cache):
    cache.mkdir(parents=True)
    (cache / IDX_NAMES[0]).write_bytes(b"x")
    mirror = Mirror("idx", "http://127.0.0.1:9/", {n: sha256(b"x") for n in IDX_NAMES})
    assert cached_mnist(cache, [mirror]) is None


# --- progress -----------------------------------------------------------------------------


def test_progress_is_increasing_throttled_and_ends_per_file(server, cache):
    files = fake_idx_files(n=400)  # the images files are ~300 KB
    for name, data in files.items():
        server.put(f"mnist/{name}", data)
    mirror = Mirror("idx", server.url + "slow/mnist/", {n: sha256(d) for n, d in files.items()})
    events: list[DownloadProgress] = []

    start = time.monotonic()
    fetch_mnist(cache, [mirror], progress=events.append)
    elapsed = time.monotonic() - start

    assert {e.file_name for e in events} == set(IDX_NAMES)
    assert {e.mirror_index for e in events} == {0}
    for name, data in files.items():
        mine = [e for e in events if e.file_name == name]
        done = [e.bytes_done for e in mine]
        assert done[0] == 0 and not mine[0].done
        assert done == sorted(done)
        assert mine[-1].done and mine[-1].bytes_done == mine[-1].bytes_total == len(data)
        assert sum(e.done for e in mine) == 1
        assert mine[-1].url == server.url + f"slow/mnist/{name}"
        assert mine[-1].fraction == 1.0
    # the slow server trickles each file over ~0.3 s: some intermediate reports, but no more
    # than ~10 a second plus a start and an end per file
    intermediate = [e for e in events if not e.done and e.bytes_done > 0]
    assert intermediate
    assert len(events) <= 4 * 2 + elapsed * 10 + 4


def test_a_progress_callback_can_abort_without_leaving_a_partial_file(server, cache):
    data = fake_npz(n=2000)
    url = server.put("slow/mnist.npz", data)
    server.put("mnist.npz", data)

    class Stop(Exception):
        pass

    def stop_midway(event: DownloadProgress) -> None:
        if event.bytes_done > 0 and not event.done:
            raise Stop

    with pytest.raises(Stop):
        fetch_mnist(cache, [Mirror("npz", url, {"mnist.npz": sha256(data)})],
                    progress=stop_midway)
    assert leftovers(cache) == []


# --- environment ----------------------------------------------------------------------------


def test_default_cache_dir_from_env_or_platformdirs(monkeypatch, tmp_path):
    assert default_cache_dir() == Path(platformdirs.user_cache_dir("mnist-tui")) / "mnist"
    monkeypatch.setenv("MNIST_TUI_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"


def test_mirrors_from_env(monkeypatch):
    assert mirrors_from_env() is None
    monkeypatch.setenv("MNIST_TUI_MIRRORS", " , ")
    assert mirrors_from_env() is None

    monkeypatch.setenv("MNIST_TUI_MIRRORS",
                       "http://intra/keras/mnist.npz, http://intra/mnist ,https://x/m/")
    npz, idx, idx2 = mirrors_from_env()
    assert (npz.kind, npz.url, npz.file_url("mnist.npz")) == (
        "npz", "http://intra/keras/mnist.npz", "http://intra/keras/mnist.npz")
    assert npz.files == default_mirrors()[0].files
    assert npz.files["mnist.npz"].digest == (
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")
    assert (idx.kind, idx.url) == ("idx", "http://intra/mnist/")
    assert idx.file_url("t10k-labels-idx1-ubyte.gz") == (
        "http://intra/mnist/t10k-labels-idx1-ubyte.gz")
    assert idx.files == default_mirrors()[1].files
    assert idx2.url == "https://x/m/"


def test_default_mirrors_and_real_checksums():
    kinds = [m.kind for m in default_mirrors()]
    assert kinds[0] == "npz" and set(kinds[1:]) == {"idx"} and len(kinds) >= 3
    assert default_mirrors()[0].url.endswith("tf-keras-datasets/mnist.npz")
    idx = default_mirrors()[1].files
    assert list(idx) == list(IDX_NAMES)
    # the t10k files are certain: they are the real files at /work/shared/mnist
    assert idx["t10k-images-idx3-ubyte.gz"] == FileSpec(
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1_648_877)
    assert idx["t10k-labels-idx1-ubyte.gz"] == FileSpec(
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4_542)


def test_env_mirrors_and_cache_dir_drive_fetch_mnist(server, monkeypatch, tmp_path):
    """With no arguments, fetch_mnist uses $MNIST_TUI_MIRRORS and $MNIST_TUI_CACHE_DIR; the
    official checksum is enforced, so a fake npz from an 'internal mirror' is refused."""
    url = server.put("internal/mnist.npz", fake_npz())
    monkeypatch.setenv("MNIST_TUI_MIRRORS", url)
    monkeypatch.setenv("MNIST_TUI_CACHE_DIR", str(tmp_path / "envcache"))

    with pytest.raises(DownloadError) as err:
        fetch_mnist(timeout=2)

    assert "checksum mismatch for mnist.npz" in str(err.value)
    assert str(tmp_path / "envcache") in str(err.value)
    assert server.requests == ["/internal/mnist.npz"]
    assert leftovers(tmp_path / "envcache") == []


def publish(npz: bytes) -> Published:
    """The published files with `npz` as "Keras' published mnist.npz" (the official checksum
    cannot be produced here): passed to the functions under test, it is the spec every npz
    mirror and the default lookup use."""
    return dataclasses.replace(OFFICIAL, mnist_npz=FileSpec(sha256(npz), len(npz)))


def test_env_cache_with_the_published_npz_is_used_without_network(monkeypatch, tmp_path):
    data = fake_npz()
    published = publish(data)
    cache = tmp_path / "envcache"
    cache.mkdir()
    (cache / "mnist.npz").write_bytes(data)
    monkeypatch.setenv("MNIST_TUI_CACHE_DIR", str(cache))
    monkeypatch.setenv("MNIST_TUI_MIRRORS", dead_url())
    assert cached_mnist(published=published) == cache / "mnist.npz"
    assert fetch_mnist(published=published) == cache / "mnist.npz"

    (cache / "mnist.npz").write_bytes(b"\0" * 10)  # wrong size: not a complete copy
    assert cached_mnist(published=published) is None


def test_a_same_size_file_that_is_not_the_published_one_is_not_cached(monkeypatch, tmp_path):
    """Changed: the cache used to trust a file of the right size; now its checksum too."""
    data = fake_npz()
    published = publish(data)
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "mnist.npz").write_bytes(b"\0" * len(data))
    assert cached_mnist(cache, published=published) is None
    assert not is_cached(cache / "mnist.npz", published.mnist_npz)


def test_default_cache_lookup_accepts_any_official_layout(monkeypatch, tmp_path):
    """An IDX-only $MNIST_TUI_MIRRORS still finds an npz cached earlier (same official data)."""
    data = fake_npz()
    published = publish(data)
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "mnist.npz").write_bytes(data)
    monkeypatch.setenv("MNIST_TUI_MIRRORS", "http://127.0.0.1:9/mnist/")
    assert cached_mnist(cache, published=published) == cache / "mnist.npz"
    # explicit mirrors: only theirs
    assert cached_mnist(cache, mirrors_from_env(published), published=published) is None
    # fetch: any layout
    assert fetch_mnist(cache, mirrors_from_env(published), published=published) == \
        cache / "mnist.npz"


def test_mirror_validation():
    with pytest.raises(ValueError):
        Mirror("zip", "http://x/", {"a": "0" * 64})
    with pytest.raises(ValueError):
        Mirror("npz", "http://x/a.npz", {"a": "0", "b": "1"})
    with pytest.raises(ValueError):
        Mirror("idx", "http://x/", {})
    assert Mirror("npz", "http://x/m.npz", {"mnist.npz": "ab"}).files["mnist.npz"] == FileSpec("ab")


# --- the published files: a parameter, and the tests' hook --------------------------------------

def test_the_published_table_is_a_parameter_and_official_by_default(tmp_path):
    data = fake_npz()
    mine = publish(data)
    assert npz_spec(default_mirrors()) == OFFICIAL.mnist_npz == published_files().mnist_npz
    assert npz_spec(default_mirrors(mine)) == FileSpec(sha256(data), len(data))
    assert default_mirrors(mine)[1].files == default_mirrors()[1].files   # the rest: official
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "mnist.npz").write_bytes(data)
    assert cached_mnist(cache) is None                      # not the official file
    assert cached_mnist(cache, published=mine) == cache / "mnist.npz"


def npz_spec(mirrors) -> FileSpec:
    return mirrors[0].files["mnist.npz"]


def test_the_published_file_hook_replaces_only_the_entries_it_names(monkeypatch, tmp_path):
    hook = tmp_path / "published.json"
    hook.write_text(json.dumps({
        "mnist_npz": {"digest": "AB" * 32, "size": 5},
        "mnist_idx_gz": {"t10k-labels-idx1-ubyte.gz": {"digest": "cd" * 32}},
        "mnist_idx_data": {"test/labels": {"digest": "ef" * 32, "size": 7}},
        "vgg16_notop": {"digest": "01" * 16, "size": 9, "algorithm": "md5"},
    }))
    monkeypatch.setenv(PUBLISHED_FILE_ENV, str(hook))
    table = published_files()
    assert table.mnist_npz == FileSpec("ab" * 32, 5)
    assert table.mnist_idx_gz["t10k-labels-idx1-ubyte.gz"] == FileSpec("cd" * 32)
    assert table.mnist_idx_gz["train-images-idx3-ubyte.gz"] == \
        OFFICIAL.mnist_idx_gz["train-images-idx3-ubyte.gz"]
    assert table.mnist_idx_data[("test", "labels")] == FileSpec("ef" * 32, 7)
    assert table.mnist_idx_data[("train", "images")] == OFFICIAL.mnist_idx_data[("train", "images")]
    assert table.vgg16_notop == FileSpec("01" * 16, 9, "md5")
    assert npz_spec(default_mirrors()) == FileSpec("ab" * 32, 5)   # read where it is used

    monkeypatch.delenv(PUBLISHED_FILE_ENV)
    assert published_files() == OFFICIAL


@pytest.mark.parametrize("content, says", [
    ('{"mnist.npz": {"digest": "ab"}}', "unknown keys ['mnist.npz']"),
    ('{"mnist_idx_gz": {"mnist.npz": {"digest": "ab"}}}', "unknown files ['mnist.npz']"),
    ('{"mnist_npz": {"size": 3}}', "expected {\"digest\": HEX, …}"),
    ('{"mnist_npz": {"digest": "ab", "size": "3"}}', "size must be an integer"),
    ('{"vgg16_notop": {"digest": "ab", "algorithm": "crc"}}', "unsupported hash 'crc'"),
    ("[1, 2]", "expected a JSON object"),
    ("{", "Expecting property name"),
])
def test_a_malformed_published_file_hook_fails_naming_the_file(tmp_path, content, says):
    hook = tmp_path / "published.json"
    hook.write_text(content)
    with pytest.raises(ValueError) as err:
        load_published(hook)
    assert str(err.value).startswith(f"${PUBLISHED_FILE_ENV}={hook}: ")
    assert says in str(err.value)


# --- part files -----------------------------------------------------------------------------------

def test_part_files_of_gone_or_impossible_writers_go_and_a_live_ones_stays(tmp_path):
    """A part file names its writer's pid: a live writer's (ours) is kept, a finished
    process's and a pid no process can have (0, past the C range) are removed, other files are
    never touched."""
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    names = {pid: f".mnist.npz.{pid}.x1.part"
             for pid in (os.getpid(), exited.pid, 0, 10**25)}
    for name in [*names.values(), "mnist.npz", f".other.{exited.pid}.x1.part"]:
        (tmp_path / name).write_bytes(b"x")
    removed = remove_stale_parts(tmp_path, ["mnist.npz"])
    assert sorted(p.name for p in removed) == sorted(
        names[pid] for pid in (exited.pid, 0, 10**25))
    assert sorted(leftovers(tmp_path)) == sorted(
        [names[os.getpid()], "mnist.npz", f".other.{exited.pid}.x1.part"])
