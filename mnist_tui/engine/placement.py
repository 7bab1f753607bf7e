"""Where a suite member runs and with how much of the machine: what an executor hands the
worker it starts (through the environment, read here and nowhere else), and what the worker
records of it.

A suite that runs N members at once on one machine gives each worker a share of the cores:
every thread pool a job starts (BLAS and OpenMP under scikit-learn and numpy, openTSNE's
`n_jobs`, TensorFlow's intra-op pool) is sized to that share, so N members do not each start
pools for every core and oversubscribe them. A member that owns a GPU sees only that one
(`CUDA_VISIBLE_DEVICES`). Lives outside the layered packages: the jobs read the share, the
runs layer's worker records the placement, the suites layer's executors decide it.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Any

PLACEMENT_ENV = "MNIST_TUI_PLACEMENT"          # JSON: the executor's part of the placement
THREADS_ENV = "MNIST_TUI_THREADS"              # cores the member's thread pools may use
EXPECT_DATASET_ENV = "MNIST_TUI_EXPECT_DATASET"  # the suite's dataset fingerprint
# The pools of the libraries the jobs use, each sized by its own variable at import time.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "TF_NUM_INTRAOP_THREADS")


@dataclass(frozen=True)
class Gpu:
    """One GPU of this machine, as NVML numbers it (the index CUDA_VISIBLE_DEVICES takes)."""

    index: int
    name: str


def usable_cpus() -> int:
    """Cores this process may run on (its affinity, which a container or taskset narrows)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def detect_gpus() -> list[Gpu]:
    """This machine's NVIDIA GPUs through NVML (`nvidia-ml-py`, the `[gpu]` extra); none when
    NVML or a driver is missing. Respects a CUDA_VISIBLE_DEVICES already set: a suite started
    with two of eight GPUs hands out those two."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - no driver, no GPU: NVMLError has many subclasses
        return []
    try:
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i))
            gpus.append(Gpu(i, name.decode() if isinstance(name, bytes) else str(name)))
    except Exception:  # noqa: BLE001
        return []
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        wanted = {v.strip() for v in visible.split(",") if v.strip()}
        gpus = [g for g in gpus if str(g.index) in wanted]
    return gpus


def worker_env(*, threads: int | None, gpu: str | None, placement: dict[str, Any],
               expect_dataset: str | None) -> dict[str, str]:
    """The variables a member's worker starts with: its thread share (None: every core), its
    GPU (an index, "" for none, None: leave as it is), what the executor says of where it
    runs, and the dataset fingerprint it must read."""
    env: dict[str, str] = {PLACEMENT_ENV: json.dumps(placement, sort_keys=True)}
    if threads is not None:
        env.update({v: str(threads) for v in THREAD_VARIABLES})
        env["TF_NUM_INTEROP_THREADS"] = "1" if threads < 4 else "2"
        env[THREADS_ENV] = str(threads)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    if expect_dataset:
        env[EXPECT_DATASET_ENV] = expect_dataset
    return env


def job_threads() -> int:
    """The thread count a job's own pools take (openTSNE's `n_jobs`): its share when a suite
    gave one, else -1 (every core)."""
    value = os.environ.get(THREADS_ENV, "")
    return int(value) if value.isdigit() and int(value) > 0 else -1


def expected_dataset() -> str | None:
    """The fingerprint a suite member's data must have (None: a run on its own)."""
    value = os.environ.get(EXPECT_DATASET_ENV, "").strip()
    return value or None


def recorded_placement() -> dict[str, Any] | None:
    """What the worker records of where it ran: the executor's part (from the environment)
    and what only the worker knows (host, cores, the GPU it sees). None outside a suite."""
    raw = os.environ.get(PLACEMENT_ENV)
    if not raw:
        return None
    try:
        given = json.loads(raw)
    except ValueError:
        given = {}
    out: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
    threads = job_threads()
    out.update(host=socket.gethostname(), cpus=usable_cpus(),
               threads=threads if threads > 0 else None,
               gpu=os.environ.get("CUDA_VISIBLE_DEVICES"))
    names = [g.name for g in detect_gpus()] if out["gpu"] not in (None, "") else []
    # NVML's name for the GPU it sees, else the executor's (a GPU TensorFlow found, a test's)
    given_name = out.get("gpu_name") if out["gpu"] not in (None, "") else None
    out["gpu_name"] = names[0] if names else (given_name if isinstance(given_name, str)
                                              else None)
    return out
