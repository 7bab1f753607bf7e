"""Keras on the spec's backend (TensorFlow, JAX or PyTorch), imported once per worker as its own
phase, with the devices it sees and the memory policy a shared GPU box needs.

A module of its own because everything backend-specific about *starting* Keras lives here: the
environment a backend reads before its import (KERAS_BACKEND; JAX's pre-allocation; the CPU
device split of the mirrored/data-parallel tests), how each backend lists its devices, and
memory growth. The jobs get a `KerasRuntime` and ask it, never the framework, which backend
runs (`rt.tf` is TensorFlow on the TensorFlow backend, else None: its speed-ups, tf.data and the
fused batch norm, stay on that path).
"""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from mnist_tui.engine.errors import DataError
from mnist_tui.engine.jobs.backends import FRAMEWORKS, KERAS_BACKEND_ENV, missing_message
from mnist_tui.engine.jobs.context import JobContext
from mnist_tui.engine.placement import THREADS_ENV

# Test hook: split the CPU into N logical devices before the backend starts, so that
# `--strategy mirrored` can be exercised on a machine with no GPU (TensorFlow: logical devices;
# JAX: XLA's host platform device count).
CPU_DEVICES_ENV = "MNIST_TUI_CPU_DEVICES"


@dataclass
class KerasRuntime:
    """Keras on one backend: the modules, the devices (TensorFlow-style names,
    `/device:GPU:0`), and the framework's version."""

    backend: str
    keras: Any
    tf: Any | None = None          # TensorFlow, on the TensorFlow backend only
    devices: list[str] = field(default_factory=list)
    device_names: dict[str, str] = field(default_factory=dict)   # GPU → its model
    framework_version: str = ""

    @property
    def gpus(self) -> list[str]:
        return [d for d in self.devices if ":GPU:" in d]

    @property
    def framework(self) -> str:
        return FRAMEWORKS[self.backend][1]

    def describe(self) -> str:
        """`jax (JAX 0.10.2, Keras 3.15.1)`: what the result records as `details.backend`."""
        return (f"{self.backend} ({self.framework} {self.framework_version}, "
                f"Keras {self.keras.__version__})")


def prepare_environment(backend: str) -> None:
    """What the backend reads from the environment before it is imported."""
    os.environ[KERAS_BACKEND_ENV] = backend
    n_cpu = os.environ.get(CPU_DEVICES_ENV, "")
    if backend == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    elif backend == "jax":
        # allocate GPU memory as needed, not 75% of it at start (a shared box; the memory the
        # Monitor shows is then what the job uses)
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        if n_cpu.isdigit() and int(n_cpu) > 1:
            _add_xla_flag("xla_force_host_platform_device_count", str(int(n_cpu)))
        if os.environ.get(THREADS_ENV) == "1":
            # a suite member given one core (engine/placement.py): XLA's CPU thread pool reads
            # no OMP variable, so its multi-threaded Eigen is turned off instead
            _add_xla_flag("xla_cpu_multi_thread_eigen", "false")
    # torch allocates lazily (its caching allocator) and sizes its CPU pool from
    # OMP_NUM_THREADS (set for a suite member's share): nothing to set


def _add_xla_flag(name: str, value: str) -> None:
    """`--name=value` added to XLA_FLAGS unless the user set that flag already."""
    flags = os.environ.get("XLA_FLAGS", "")
    if f"--{name}" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --{name}={value}".strip()


def import_keras(backend: str, ctx: JobContext | None = None) -> KerasRuntime:
    """Keras on `backend`, configured once per process; with `ctx` its own "importing" phase
    (the import and the start of the devices take seconds, longer with CUDA), the devices
    logged and recorded (`devices` in the result, also when the run is stopped later)."""
    missing = missing_message(backend)
    if missing:
        raise DataError(missing)
    label = f"importing {FRAMEWORKS[backend][1]} and Keras"
    with ctx.phase("importing", label) if ctx else nullcontext():
        if "keras" in sys.modules:
            running = sys.modules["keras"].backend.backend()
            if running != backend:
                raise DataError(f"--backend {backend}: Keras already runs on {running} in this "
                                "process (a backend is chosen once, before Keras is imported)")
        prepare_environment(backend)
        import keras

        rt = KerasRuntime(backend=backend, keras=keras)
        {"tensorflow": _start_tensorflow, "jax": _start_jax, "torch": _start_torch}[backend](rt)
        if ctx is not None:
            record_devices(rt, ctx)
    return rt


def _start_tensorflow(rt: KerasRuntime) -> None:
    import tensorflow as tf

    n_cpu = os.environ.get(CPU_DEVICES_ENV)
    if n_cpu and n_cpu.isdigit() and int(n_cpu) > 1:
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(int(n_cpu))])
        except RuntimeError:
            pass  # already initialised (a second job in the same process): keep it
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):
            pass  # already initialised: keep what is there
    rt.tf = tf
    rt.framework_version = tf.__version__
    rt.devices = [d.name for d in tf.config.list_logical_devices()]


def _start_jax(rt: KerasRuntime) -> None:
    import jax

    rt.framework_version = jax.__version__
    for d in jax.devices():
        kind = "GPU" if d.platform in ("gpu", "cuda", "rocm") else d.platform.upper()
        name = f"/device:{kind}:{d.id}"
        rt.devices.append(name)
        if kind == "GPU":
            rt.device_names[name] = str(getattr(d, "device_kind", ""))


def _start_torch(rt: KerasRuntime) -> None:
    import torch

    rt.framework_version = torch.__version__
    rt.devices = ["/device:CPU:0"]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            name = f"/device:GPU:{i}"
            rt.devices.append(name)
            rt.device_names[name] = torch.cuda.get_device_name(i)


def record_devices(rt: KerasRuntime, ctx: JobContext) -> list[str]:
    """The devices the backend runs on, logged and kept in the result (`devices`)."""
    ctx.partial["devices"] = rt.devices
    shown = [f"{d} ({rt.device_names[d]})" if rt.device_names.get(d) else d
             for d in rt.devices]
    ctx.log(f"Keras {rt.keras.__version__} on {rt.framework} {rt.framework_version}, devices: "
            f"{', '.join(shown) or 'none'}"
            + ("" if rt.gpus else f" (no GPU visible to {rt.framework})"))
    return rt.devices


def to_numpy(rt: KerasRuntime, x: Any) -> Any:
    """A backend tensor (or numpy array) as numpy."""
    return rt.keras.ops.convert_to_numpy(x)
