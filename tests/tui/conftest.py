"""Helpers for the TUI tests: an isolated, offline app; the screen as text; recorded runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tui_helpers import closed_port_url


@pytest.fixture(autouse=True)
def offline_env(tmp_path, monkeypatch):
    """Every app (and every worker it starts) is offline with its own cache."""
    monkeypatch.setenv("MNIST_TUI_MIRRORS", closed_port_url())
    monkeypatch.setenv("MNIST_TUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MNIST_TUI_DATA_DIR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def runs_dir(tmp_path) -> Path:
    d = tmp_path / "runs"
    d.mkdir()
    return d



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


@pytest.fixture
def assert_no_tensorflow():
    """`assert_no_tensorflow()` checks the UI process never imported TensorFlow or Keras.

    Only meaningful if this test process had not imported them before the test (engine tests
    import TensorFlow in-process when the whole suite runs in one pytest); the check in a fresh
    interpreter is `test_tui_flow.py::test_ui_process_never_imports_tensorflow`.
    """
    preloaded = any(m in sys.modules for m in ("tensorflow", "keras"))

    def check() -> None:
        if not preloaded:
            assert "tensorflow" not in sys.modules and "keras" not in sys.modules

    return check
