"""Fixtures shared by every test: isolated run/cache dirs, no network, the real MNIST when present."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import FolderServer, closed_port_url, patient


@pytest.fixture(autouse=True)
def no_weights_download(monkeypatch):
    """No test fetches VGG16's 59 MB ImageNet file from the internet: its URL is a closed port
    (tests that serve a file themselves set their own)."""
    monkeypatch.setenv("MNIST_TUI_WEIGHTS_URL", closed_port_url())


@pytest.fixture
def cli_env(tmp_path, monkeypatch) -> dict:
    """Environment for running `mnist-tui` in a subprocess: its own runs and cache, offline."""
    env = dict(os.environ)
    for key in ("MNIST_TUI_DATA_DIR",):
        env.pop(key, None)
    env["MNIST_TUI_RUNS_DIR"] = str(tmp_path / "runs")
    env["MNIST_TUI_CACHE_DIR"] = str(tmp_path / "cache")
    env["MNIST_TUI_MIRRORS"] = closed_port_url()
    env["MNIST_TUI_WEIGHTS_URL"] = closed_port_url()
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def real_mnist_dir() -> Path:
    """The real MNIST test set (10,000 digits) when CI provides it; skip otherwise."""
    path = os.environ.get("MNIST_TUI_REAL_MNIST")
    if not path or not Path(path).is_dir():
        pytest.skip("MNIST_TUI_REAL_MNIST is not set to the real MNIST test set")
    return Path(path)


@pytest.fixture
def real_mnist_full_dir() -> Path:
    """The whole real MNIST (60,000 train + 10,000 test) when CI provides it; skip otherwise."""
    path = os.environ.get("MNIST_TUI_REAL_MNIST_FULL")
    if not path or not Path(path).is_dir():
        pytest.skip("MNIST_TUI_REAL_MNIST_FULL is not set to the whole real MNIST")
    return Path(path)


def _run_cli(args: list[str], env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnist_tui", *args], env=env,
                          capture_output=True, text=True, timeout=patient(timeout), check=False)


@pytest.fixture
def run_cli():
    """`run_cli(args, env)`: run `python -m mnist_tui ARGS` and capture its output."""
    return _run_cli


@pytest.fixture
def static_server(tmp_path):
    """A threaded HTTP server on 127.0.0.1 serving `static_server.root` (a fresh folder) at
    `static_server.url`; `static_server.requests` lists what was asked for."""
    server = FolderServer(tmp_path / "www")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ray_sim_cluster(tmp_path_factory):
    """One simulated two-node Ray cluster (tests/ray_cluster.py) for every Ray test of the
    session, the pytest process connected to it; shut down at the session's end. Skips when
    Ray is not installed."""
    pytest.importorskip("ray")
    from ray_cluster import SimCluster

    cluster = SimCluster(tmp_path_factory.mktemp("ray-cluster"))
    try:
        yield cluster.start()
    finally:
        cluster.shutdown()


@pytest.fixture
def ray_cluster(ray_sim_cluster):
    """The shared cluster, both worker nodes alive (a dead one is replaced first)."""
    ray_sim_cluster.heal()
    return ray_sim_cluster
