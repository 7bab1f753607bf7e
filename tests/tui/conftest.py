"""Helpers for the TUI tests: an isolated, offline app; the screen as text; recorded runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import patient
from tui_helpers import closed_port_url


@pytest.fixture(autouse=True)
def offline_env(tmp_path, monkeypatch):
    """Every app (and every worker it starts) is offline with its own cache."""
    monkeypatch.setenv("MNIST_TUI_MIRRORS", closed_port_url())
    monkeypatch.setenv("MNIST_TUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MNIST_TUI_DATA_DIR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def runs_dir(tmp_path):
    """The app's runs folder. Afterwards, any worker still running from it is killed: a test
    that failed inside `run_test` leaves its app's detached workers behind (as a real app's
    "leave running" does), with a stdout pipe nobody reads, and they would load every later
    test."""
    d = tmp_path / "runs"
    d.mkdir()
    yield d
    kill_workers_left_in(d)


def kill_workers_left_in(runs: Path) -> None:
    """SIGKILL each live worker process whose command line names a run folder under `runs`.
    Found by its command line, not by a recorded pid: recorded runs in the fixtures carry pids
    of other machines' processes (pid 1)."""
    import os
    import signal

    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"mnist_tui.engine.runs.worker" not in argv:
            continue
        run_dir = argv[argv.index(b"--run-dir") + 1] if b"--run-dir" in argv else b""
        if Path(os.fsdecode(run_dir)).parent == runs:
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except OSError:
                pass


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests on a fresh asyncio loop (no pytest-asyncio dependency)."""
    import asyncio
    import inspect

    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**args))
        return True
    return None


FRESH_INTERPRETER = "MNIST_TUI_TEST_FRESH_INTERPRETER"


@pytest.fixture
def assert_no_tensorflow(request):
    """`assert_no_tensorflow()` checks the UI process never imported TensorFlow or Keras.

    In a process that has not imported them (a test run alone, or `pytest tests/tui`) the check
    is made here and now. Once another test in this process imported them (engine tests do, in
    a full run), `sys.modules` says nothing about the UI: the test is then run again, whole, in
    a fresh interpreter where the check counts, and must pass there.
    """
    import os
    import subprocess

    heavy = ("tensorflow", "keras")
    preloaded = any(m in sys.modules for m in heavy)
    if preloaded and os.environ.get(FRESH_INTERPRETER):
        pytest.fail("TensorFlow was imported before the test, in a fresh interpreter")
    called = []

    def check() -> None:
        called.append(True)
        if not preloaded:
            imported = [m for m in heavy if m in sys.modules]
            assert imported == [], f"the UI process imported {imported}"

    yield check
    if preloaded and called:
        out = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
             request.node.nodeid],
            env={**os.environ, FRESH_INTERPRETER: "1"}, cwd=request.config.rootpath,
            capture_output=True, text=True, timeout=patient(300), check=False)
        assert out.returncode == 0 and "1 passed" in out.stdout, (
            "again in a fresh interpreter:\n" + out.stdout[-3000:])
