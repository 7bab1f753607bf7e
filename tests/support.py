"""Helpers shared by the test folders (plain functions and classes; fixtures are in conftest.py):
waiting on a condition, a closed port, a folder served over HTTP on 127.0.0.1.

`tests/` is on sys.path (pytest's rootdir conftest), so any test imports `from support import …`.
The TUI tests wait with `tui_helpers.wait_for`, which lets the app run between looks.
"""

from __future__ import annotations

import html
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rich.cells import cell_len

# Every time limit in the tests is a bound on a hang, never a speed assertion (speed belongs in
# benchmarks/): the figures written in the tests are what a quiet 2-core machine needs with room to
# spare, and `patient()` stretches them so that the suite also passes beside a training CNN or
# another suite. MNIST_TUI_TEST_PATIENCE sets the factor (default 4).
PATIENCE = float(os.environ.get("MNIST_TUI_TEST_PATIENCE") or 4)


def patient(seconds: float) -> float:
    """A test's time limit, stretched for a loaded machine (see PATIENCE)."""
    return seconds * PATIENCE


def wait_until(condition, timeout: float = 60.0, what: str = "condition", step: float = 0.05):
    """Poll `condition()` until it is truthy (returns that value) or fail after `patient(timeout)`
    seconds."""
    timeout = patient(timeout)
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def closed_port_url(path: str = "") -> str:
    """A URL on 127.0.0.1 where nothing listens: downloads fail at once, never touch the network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{path}"


class QuietFiles(SimpleHTTPRequestHandler):
    """Serves the server's folder; records each GET path (`server.requests`); prints nothing.
    Subclass it for special paths (slow, truncated, …) and fall back to `super().do_GET()`."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


class FolderServer:
    """A ThreadingHTTPServer on 127.0.0.1:`port` serving `root` at `url` from a background
    thread; `requests` lists the paths asked for; `put` writes a file it serves."""

    def __init__(self, root: Path, handler: type[SimpleHTTPRequestHandler] = QuietFiles) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                         partial(handler, directory=str(self.root)))
        self.httpd.daemon_threads = True
        self.httpd.requests = []
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests

    def put(self, relpath: str, data: bytes) -> str:
        """Write a file the server serves; returns its URL."""
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return self.url + relpath

    def stop(self) -> None:
        if not self.thread.is_alive():
            return
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def write_finished_run(runs_dir: Path, run_id: str, spec: dict, total: float,
                       metrics: dict | None = None, times: dict | None = None) -> None:
    """A finished run folder as a worker leaves it (spec, meta, result with `total` seconds):
    what suite time estimates read. `times` replaces meta.json's `created` and adds to both
    records what it names (`created`, `started_utc`, `started_at`; None leaves a key out)."""
    d = runs_dir / run_id
    d.mkdir(parents=True)
    (d / "spec.json").write_text(json.dumps(spec))
    stamps = {"created": "2026-01-01T12:00:00+0000", **(times or {})}
    stamps = {k: v for k, v in stamps.items() if v is not None}
    (d / "meta.json").write_text(json.dumps({"run_id": run_id, "pid": 1, **{
        k: v for k, v in stamps.items() if k != "started_at"}}))
    (d / "result.json").write_text(json.dumps({
        "status": "finished", "job": spec["job"], "run_id": run_id, "spec": spec,
        "metrics": metrics or {}, "timings": {"total": total},
        **{k: v for k, v in stamps.items() if k != "created"}}))


# -- a process whose command line is exactly a worker's ---------------------------------------

FAKE_WORKER_SPEC = {"job": "tsne-gmm", "preset": "default", "dataset": "digits", "samples": 100}


def fake_worker_dir() -> Path:
    """A folder anyone can read holding a module at the worker's import path that only sleeps:
    a process whose command line is exactly a worker's (`python -m <worker> --run-dir DIR`)."""
    top = Path(tempfile.mkdtemp(prefix="fake-worker-"))
    pkg = top / "mnist_tui" / "engine" / "runs"
    pkg.mkdir(parents=True)
    for d in (top / "mnist_tui", top / "mnist_tui" / "engine", pkg):
        (d / "__init__.py").write_text("")
    (pkg / "worker.py").write_text("import time\ntime.sleep(60)\n")
    for d in (top, *top.rglob("*")):
        d.chmod(0o755)
    return top


def start_fake_worker(top: Path, run_dir: Path, user: int | None = None,
                      spec: dict | None = None) -> subprocess.Popen:
    """The fake worker, as `user` (None: us). Another user may not reach our interpreter (under
    /root): the system one then runs it; the fake module needs nothing but the stdlib."""
    python = sys.executable
    if user is not None and os.path.exists("/usr/bin/python3"):
        python = "/usr/bin/python3"
    argv = [python, "-m", "mnist_tui.engine.runs.worker", "--run-dir", str(run_dir),
            "--spec", json.dumps(spec or FAKE_WORKER_SPEC), "--detached"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONNOUSERSITE": "1"}
    return subprocess.Popen(argv, cwd=top, env=env, user=user, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


# -- the screen as a person sees it -------------------------------------------------------------

_SVG_TEXT = re.compile(r'<text [^>]*?x="([\d.]+)"[^>]*?clip-path="url\(#[\w-]+-line-(\d+)\)">'
                       r'(.*?)</text>', re.S)
_SVG_LINE_WIDTH = re.compile(r'<clipPath id="[\w-]+-line-0">\s*<rect [^>]*?width="([\d.]+)"')


def screen_text(app) -> str:
    """What the terminal shows, as plain text (for asserts): read back from Textual's public
    `App.export_screenshot()` SVG, each text run put at its column (blank runs are not drawn)."""
    width, height = app.size
    svg = app.export_screenshot()
    char_width = float(_SVG_LINE_WIDTH.search(svg).group(1)) / width
    rows = [[" "] * width for _ in range(height)]
    for x, y, text in _SVG_TEXT.findall(svg):
        row, col = rows[int(y)], round(float(x) / char_width)
        for ch in html.unescape(text).replace("\xa0", " "):   # Rich writes spaces as &#160;
            if col < width:
                row[col] = ch
            col += max(cell_len(ch), 1)
            if cell_len(ch) == 2 and col - 1 < width:
                row[col - 1] = ""              # the second cell of a wide character
    return "\n".join("".join(r) for r in rows)


class HiddenFrom:
    """A meta-path finder that wraps another (the PathFinder) and finds nothing of `modules`:
    a machine without them. `importlib.util.find_spec` answers None and `import` fails, as
    there (a finder that raised instead broke libraries that probe for them, torch's dynamo)."""

    def __init__(self, inner, modules) -> None:
        self.inner, self.modules = inner, tuple(modules)

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.modules:
            return None
        return self.inner.find_spec(name, path, target)

    def __getattr__(self, attr):
        return getattr(self.inner, attr)


def meta_path_without(*modules: str) -> list:
    """sys.meta_path with the path finder wrapped by `HiddenFrom(modules)`."""
    import sys

    return [HiddenFrom(f, modules) if getattr(f, "__name__", "") == "PathFinder" else f
            for f in sys.meta_path]


def env_without(folder: Path, env: dict, *modules: str) -> dict:
    """`env` for a Python (started with it) that cannot find `modules`: a sitecustomize in
    `folder` wraps the path finder at start-up."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        "import sys\n"
        f"HIDDEN = {tuple(modules)!r}\n"
        "class HiddenFrom:\n"
        "    def __init__(self, inner):\n"
        "        self.inner = inner\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in HIDDEN:\n"
        "            return None\n"
        "        return self.inner.find_spec(name, path, target)\n"
        "    def __getattr__(self, attr):\n"
        "        return getattr(self.inner, attr)\n"
        "sys.meta_path[:] = [HiddenFrom(f) if getattr(f, '__name__', '') == 'PathFinder'\n"
        "                    else f for f in sys.meta_path]\n")
    return {**env, "PYTHONPATH": str(folder)}
