"""What the fault suite shares: one hostile HTTP server, the CLI run with bounded memory and
time, hostile files built small on disk, and the checks every fault test makes.

The server is a threaded `http.server` on 127.0.0.1; it serves the bytes a test `put`s, in the
mode the URL's first path segment names:

    /file/NAME        the file, with its Content-Length (a well-behaved mirror)
    /endless/NAME     no Content-Length, zeros for as long as the client reads (up to a safety
                      limit, so a missing cap fails the test instead of filling the disk)
    /trickle/NAME     the file's Content-Length, then one byte every `trickle_interval` s
    /wrong/NAME       a body of the file's size whose bytes are not the file (wrong hash)
    /truncated/NAME   the file's Content-Length, half the body, then the connection closes
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import resource
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from support import (
    closed_port_url,  # noqa: F401 - the fault tests take it from here
    patient,
    screen_text,
)

from mnist_tui.engine.data.published import IDX_FILES, PUBLISHED_FILE_ENV

# --- the hostile server ------------------------------------------------------------------------

ENDLESS_SAFETY_LIMIT = 256 * 2**20   # "endless" stops here, far past any file's expected size


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"    # the body of a reply without a length ends at close
    server: _Server

    def do_GET(self) -> None:
        srv = self.server
        srv.requests.append(self.path)
        mode, _, name = self.path.lstrip("/").partition("/")
        data = srv.files.get(name)
        if data is None or mode not in ("file", "endless", "trickle", "wrong", "truncated"):
            self.send_error(404)
            return
        try:
            self.send_response(200)
            if mode != "endless":
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if mode == "file":
                self.wfile.write(data)
            elif mode == "wrong":
                self.wfile.write(bytes(b ^ 0x5A for b in data[:4096]) + data[4096:])
            elif mode == "truncated":
                self.wfile.write(data[: len(data) // 2])
            elif mode == "trickle":
                for i in range(len(data)):
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    srv.sent[mode] += 1
                    time.sleep(srv.trickle_interval)
            else:   # endless
                chunk = b"\0" * 65536
                while srv.sent[mode] < ENDLESS_SAFETY_LIMIT:
                    self.wfile.write(chunk)
                    srv.sent[mode] += len(chunk)
        except OSError:      # the client hung up: what a bounded client does
            srv.hung_up.set()

    def log_message(self, *args) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    files: dict[str, bytes]
    requests: list[str]
    sent: dict[str, int]
    hung_up: threading.Event
    trickle_interval: float


class HostileServer:
    """A threaded HTTP server on 127.0.0.1:<free port> in a background thread."""

    def __init__(self, trickle_interval: float = 0.2) -> None:
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.files, self.httpd.requests = {}, []
        self.httpd.sent = {"endless": 0, "trickle": 0}
        self.httpd.hung_up = threading.Event()
        self.httpd.trickle_interval = trickle_interval
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def put(self, name: str, data: bytes) -> None:
        self.httpd.files[name] = data

    def url(self, mode: str, name: str) -> str:
        return f"{self.base}/{mode}/{name}"

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests

    @property
    def sent(self) -> dict[str, int]:
        return self.httpd.sent

    @property
    def hung_up(self) -> threading.Event:
        return self.httpd.hung_up

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)





# --- running the CLI ---------------------------------------------------------------------------

MEMORY_LIMIT = 2 * 2**30     # address space for the CLI and its worker in the bounded tests


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    result: dict | None       # the --json file, when one was written

    def error_lines(self) -> list[str]:
        return self.stderr.strip().splitlines()

    def one_error_line(self) -> str:
        """The single `error: …` line the exit-code contract promises (asserted)."""
        lines = self.error_lines()
        assert len(lines) == 1 and lines[0].startswith("error: "), self.stderr + self.stdout
        return lines[0][len("error: "):]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cli(args: list[str], env: dict, tmp_path: Path, *, timeout: float = 60,
            bounded_memory: bool = False) -> CliRun:
    """`python -m mnist_tui --batch ARGS --json FILE`, its output, time and JSON result."""
    out = tmp_path / f"result-{time.monotonic_ns()}.json"
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_tui", "--batch", *args, "--json", str(out)],
        env=env, capture_output=True, text=True, timeout=patient(timeout), check=False,
        preexec_fn=_limit_memory if bounded_memory else None)
    seconds = time.monotonic() - start
    result = json.loads(out.read_text()) if out.exists() else None
    return CliRun(proc.returncode, proc.stdout, proc.stderr, seconds, result)


def assert_input_error(run: CliRun) -> str:
    """Exit 2, one `error:` line, and a JSON result that says so truthfully; the message."""
    assert run.returncode == 2, run.stdout + run.stderr
    message = run.one_error_line()
    assert run.result is not None, run.stdout
    assert run.result["status"] == "failed" and run.result["error_kind"] == "input", run.result
    assert run.result["error"] == message
    return message


def listing(folder: Path) -> list[str]:
    """Everything in a folder, hidden files (part files) included; [] when it does not exist."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def part_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.part")) if folder.exists() else []


# --- hostile files -------------------------------------------------------------------------------

def gzip_bomb(path: Path, header: bytes, inflated: int, block: int = 1 << 20) -> Path:
    """A gzip file whose stream starts with `header` and inflates to about `inflated` bytes of
    zeros, small on disk (~1 kB per MB). The one compressed block of zeros is written again
    and again (a full flush makes each copy independent), so building a 3 GB bomb takes
    milliseconds; its trailer's checksum is not the data's: readers that inflate everything
    fail at the very end — after the damage."""
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = co.compress(header) + co.flush(zlib.Z_FULL_FLUSH)
    zeros = b"\0" * block
    one = co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    again = co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    assert one == again, "full-flush blocks of zeros should compress identically"
    with open(path, "wb") as fh:
        fh.write(head)
        for _ in range(inflated // block):
            fh.write(one)
        fh.write(co.flush())
    return path


def npy_header(shape: tuple[int, ...], dtype: str = "|u1") -> bytes:
    """The header of a .npy file declaring `shape` (any shape: nothing is allocated)."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def published_env(env: dict, published: dict[str, bytes], folder: Path) -> dict:
    """`env` in which the bytes in `published` (file name → bytes) count as the files Keras and
    the MNIST mirrors publish (MNIST's npz and IDX files, VGG16's weights file): the real
    checksums cannot be produced in a test, so the engine's test hook ($MNIST_TUI_PUBLISHED_FILE,
    a JSON file written into `folder`) replaces the official specs with these files' specs in
    every process (the CLI and its worker). Nothing else changes."""
    import hashlib
    import tempfile

    from mnist_tui.engine.data.download import NPZ_NAME
    from mnist_tui.engine.data.weights import IMAGENET_NOTOP

    def spec(data: bytes, algorithm: str = "sha256") -> dict:
        return {"digest": hashlib.new(algorithm, data).hexdigest(), "size": len(data),
                "algorithm": algorithm}

    table: dict = {}
    for name, data in published.items():
        if name == NPZ_NAME:
            table["mnist_npz"] = spec(data)
        elif name == IMAGENET_NOTOP:
            table["vgg16_notop"] = spec(data, "md5")    # as Keras publishes it
        else:
            table.setdefault("mnist_idx_gz", {})[name] = spec(data)
    fd, path = tempfile.mkstemp(dir=folder, prefix="published-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(table, fh)
    return {**env, PUBLISHED_FILE_ENV: path}


# --- small data and quick runs ------------------------------------------------------------------

# A t-SNE + GMM job and a one-member suite that finish in seconds on the bundled digits.
QUICK = ["--batch", "--job", "tsne-gmm", "--dataset", "digits", "--samples", "200",
         "--iterations", "300", "--gmm-inits", "1"]
SUITE = ["--batch", "--suite", "sweep", "--methods", "tsne-gmm", "--presets", "default",
         "--sizes", "100", "--seeds", "1", "--dataset", "digits", "--iterations", "300",
         "--gmm-inits", "1"]


def small_npz(n: int = 200) -> bytes:
    """A Keras-style mnist.npz (train split only) of `n` random images."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    np.savez_compressed(buf, x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                        y_train=(np.arange(n) % 10).astype(np.uint8))
    return buf.getvalue()


def small_idx_files(n: int = 200) -> dict[str, bytes]:
    """The four gzipped IDX files (n train, n/2 test images), random pictures."""
    import gzip
    import struct

    rng = np.random.default_rng(1)
    out = {}
    for name in IDX_FILES:
        count = n if name.startswith("train") else n // 2
        if "images" in name:
            raw = struct.pack(">4I", 2051, count, 28, 28) + rng.integers(
                0, 256, count * 784, dtype=np.uint8).tobytes()
        else:
            raw = struct.pack(">2I", 2049, count) + (np.arange(count) % 10).astype(
                np.uint8).tobytes()
        out[name] = gzip.compress(raw, mtime=0)
    return out


def write_run_records(runs_dir: Path, run_id: str, spec: dict, result: dict) -> Path:
    """A run folder holding exactly these records (spec, a meta.json naming pid 1, result):
    what a report or listing reads, with whatever values a test plants."""
    folder = runs_dir / run_id
    folder.mkdir(parents=True)
    (folder / "spec.json").write_text(json.dumps(spec))
    (folder / "meta.json").write_text(json.dumps({"run_id": run_id, "pid": 1}))
    (folder / "result.json").write_text(json.dumps(result))
    return folder


# --- the TUI driven by Pilot --------------------------------------------------------------------

def run(scenario) -> None:
    """A Pilot scenario on a fresh event loop (this folder has no async test runner)."""
    asyncio.run(scenario())


async def shows(pilot, *needles: str, timeout: float = 20.0) -> str:
    """Run the app until every needle is on screen (or fail, naming the screen and any crash);
    returns the screen's text."""
    app = pilot.app
    deadline = time.monotonic() + patient(timeout)
    text = ""
    while time.monotonic() < deadline:
        if app.return_code is not None or not app.is_running:
            break
        text = screen_text(app)
        if all(n in text for n in needles):
            await pilot.pause()
            return screen_text(app)
        await pilot.pause(0.1)
    raise AssertionError(f"not on screen: {[n for n in needles if n not in text]!r}; "
                         f"app running: {app.is_running}\n{text}")
