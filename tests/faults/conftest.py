"""The fault suite: every hostile input from the issue "The fault contract", through the real
CLI where a user can meet it. Fixtures: an isolated offline environment, the hostile server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fault_helpers import HostileServer, closed_port_url


def pytest_collection_modifyitems(config, items):
    """Every test in this folder carries the `faults` marker (`-m faults` runs the suite)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def env(tmp_path) -> dict:
    """The CLI's environment: its own runs, MNIST cache and Keras cache; offline (mirrors and
    the weights URL on closed ports); short download timeouts so nothing waits long."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MNIST_TUI_") and k != "KERAS_HOME"}
    env.update({
        "MNIST_TUI_RUNS_DIR": str(tmp_path / "runs"),
        "MNIST_TUI_CACHE_DIR": str(tmp_path / "cache"),
        "MNIST_TUI_MIRRORS": closed_port_url("mnist/"),
        "MNIST_TUI_WEIGHTS_URL": closed_port_url("w.h5"),
        "MNIST_TUI_DOWNLOAD_TIMEOUT": "3",
        "MNIST_TUI_DOWNLOAD_DEADLINE": "20",
        "KERAS_HOME": str(tmp_path / "keras"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture
def runs(env) -> Path:
    return Path(env["MNIST_TUI_RUNS_DIR"])


@pytest.fixture
def cache(env) -> Path:
    return Path(env["MNIST_TUI_CACHE_DIR"])


@pytest.fixture
def hostile():
    server = HostileServer()
    yield server
    server.stop()


@pytest.fixture
def offline(tmp_path, monkeypatch) -> Path:
    """The TUI in this process and every worker it starts: offline, their own cache; returns
    an empty runs folder."""
    monkeypatch.setenv("MNIST_TUI_MIRRORS", closed_port_url())
    monkeypatch.setenv("MNIST_TUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MNIST_TUI_DATA_DIR", raising=False)
    runs = tmp_path / "runs"
    runs.mkdir()
    return runs
