"""A simulated Ray cluster on this machine for the Ray executor's tests (`ray.cluster_utils`):
a head that runs no member (num_cpus=0) and two worker nodes, "a" and "b", each with one CPU
and a fake GPU (num_gpus=1: Ray hands a task that asks for it CUDA_VISIBLE_DEVICES="0").

Each node has an environment of its own: variables set in os.environ before `add_node` are
inherited by that node's raylet and the workers it starts (and os.environ is put back after).
Every node: no network for MNIST or the VGG16 weights (closed ports), Ray bound to 127.0.0.1,
no token authentication. Node "a" and "b": their own MNIST cache, each holding a small
Keras-style mnist.npz that differs from the other's, and a published-files table
($MNIST_TUI_PUBLISHED_FILE, the engine's test hook) under which that node's npz is "the"
MNIST — so `--dataset mnist` reads different data on the two nodes (the dataset fingerprint
test); the driver (the pytest process) reads node a's (`driver_env`).

A node removed by a test is replaced (`replace`) by one with the same name and environment, so
the cluster the next test sees has the same shape. Started once per test session
(tests/conftest.py `ray_cluster`), shut down through its own handles.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from support import closed_port_url

# Before Ray starts (set in every node's environment and the driver's).
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",   # bind and advertise 127.0.0.1
           "RAY_AUTH_MODE": "disabled",                # no ~/.ray/auth_token
           "RAY_USAGE_STATS_ENABLED": "0"}
NODE_NAMES = ("a", "b")
NPZ_IMAGES = 300


def small_npz(seed: int, n: int = NPZ_IMAGES) -> bytes:
    """A Keras-style mnist.npz (train and test splits) of random pictures; `seed` tells two
    copies apart."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    np.savez_compressed(buf, x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                        y_train=(np.arange(n) % 10).astype(np.uint8),
                        x_test=rng.integers(0, 256, (n // 3, 28, 28), dtype=np.uint8),
                        y_test=(np.arange(n // 3) % 10).astype(np.uint8))
    return buf.getvalue()


def mnist_cache(folder: Path, seed: int) -> dict[str, str]:
    """A cache folder holding an mnist.npz, and the published-files table that makes it the
    real one: the variables that point a process at them."""
    from mnist_tui.engine.data.download import CACHE_DIR_ENV, NPZ_NAME
    from mnist_tui.engine.data.published import PUBLISHED_FILE_ENV

    folder.mkdir(parents=True, exist_ok=True)
    data = small_npz(seed)
    (folder / "cache").mkdir(exist_ok=True)
    (folder / "cache" / NPZ_NAME).write_bytes(data)
    table = {"mnist_npz": {"digest": hashlib.sha256(data).hexdigest(), "size": len(data),
                           "algorithm": "sha256"}}
    (folder / "published.json").write_text(json.dumps(table))
    return {CACHE_DIR_ENV: str(folder / "cache"),
            PUBLISHED_FILE_ENV: str(folder / "published.json")}


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """os.environ with `values` for the duration (what a node started inside inherits)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class SimCluster:
    """The cluster, its nodes by name, and what each node's environment adds."""

    root: Path
    cluster: Any = None
    nodes: dict[str, Any] = field(default_factory=dict)      # name → ray's Node
    envs: dict[str, dict[str, str]] = field(default_factory=dict)
    common: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    @property
    def driver_env(self) -> dict[str, str]:
        """What the driver (the preflight) reads: node a's data."""
        return {**self.common, **self.envs["a"]}

    def start(self) -> SimCluster:
        import ray
        from ray.cluster_utils import Cluster

        self.common = {**RAY_ENV, "MNIST_TUI_MIRRORS": closed_port_url(),
                       "MNIST_TUI_WEIGHTS_URL": closed_port_url()}
        os.environ.update(RAY_ENV)     # the driver's too, before Ray starts (kept: Ray reads
        # some of them again when it connects and when it shuts down)
        with environment(self.common):
            self.cluster = Cluster(initialize_head=True, head_node_args={
                "num_cpus": 0, "num_gpus": 0, "include_dashboard": False})
        for seed, name in enumerate(NODE_NAMES, start=1):
            self.envs[name] = mnist_cache(self.root / f"node-{name}", seed)
            self.add(name)
        ray.init(address=self.cluster.address, log_to_driver=False, logging_level="ERROR")
        self.cluster.wait_for_nodes()
        return self

    def add(self, name: str) -> Any:
        """Start node `name` (one CPU, a fake GPU) with its environment."""
        with environment({**self.common, **self.envs[name]}):
            node = self.cluster.add_node(num_cpus=1, num_gpus=1)
        self.nodes[name] = node
        return node

    def name_of(self, node_id: str) -> str:
        """Which of our nodes has this Ray node id."""
        for name, node in self.nodes.items():
            if node.node_id == node_id:
                return name
        raise KeyError(f"no node of this cluster has id {node_id}")

    def replace(self, node_id: str) -> str:
        """Kill the node with this id at once (as a machine that dies), and start another
        with its name and environment. Returns the name."""
        name = self.name_of(node_id)
        self.cluster.remove_node(self.nodes.pop(name), allow_graceful=False)
        self.add(name)
        return name

    def heal(self) -> list[str]:
        """Replace every node of ours the cluster no longer counts alive (a replacement node
        can be marked dead when its heartbeats lag under load), so each test starts with both.
        Returns the names replaced."""
        import ray

        alive = {n["NodeID"] for n in ray.nodes() if n.get("Alive")}
        healed = []
        for name, node in list(self.nodes.items()):
            if node.node_id not in alive:
                try:
                    self.cluster.remove_node(self.nodes.pop(name), allow_graceful=False)
                except Exception:  # noqa: BLE001 - already gone
                    pass
                self.add(name)
                healed.append(name)
        if healed:
            self.cluster.wait_for_nodes()
        return healed

    def shutdown(self) -> None:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        if self.cluster is not None:
            self.cluster.shutdown()
