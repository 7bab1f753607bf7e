"""A suite member as a Ray task: what runs on the node Ray picks (`ray_executor` drives it).

The task runs the member's ordinary worker (`launch.WorkerRun`: the same process, events and
records as on this machine) in a staging folder on the node, and streams back, as a Ray
generator: first where it runs (node id, host, the GPU Ray gave it), then the worker's events
in small batches while it runs, last its result and the finished run folder as a tar archive,
which the driver unpacks into the suite's runs folder. The staging folder is removed whatever
happens.

Stopping: the driver sets a flag (`StopFlag`, a small actor shared by the suite's tasks); the
task polls it and sends its worker SIGINT, so the member records what it measured, as a local
one does on Ctrl-C; a worker that does not end within the grace is killed and recorded so.
"""

from __future__ import annotations

import io
import json
import os
import queue
import shutil
import signal
import socket
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mnist_tui.engine.placement import PLACEMENT_ENV
from mnist_tui.engine.runs.launch import GRACE_SECONDS, WorkerRun

BATCH_S = 0.25          # events are sent back at most this often
FLAG_EVERY_S = 0.5      # the stop flag is read at most this often
STAGING_PREFIX = "mnist-tui-member-"   # + the Ray worker's pid + "-" + random
MAX_FOLDER_BYTES = 512 * 2**20   # a run folder is records, events and small images: far less


class StopFlag:
    """Set once by the driver (Ctrl-C, the TUI's cancel); read by every running member task.
    A Ray actor (`ray.remote(StopFlag)`), created by the executor."""

    def __init__(self) -> None:
        self.set = False

    def stop(self) -> None:
        self.set = True

    def stopped(self) -> bool:
        return self.set


def member_task(spec: dict[str, Any], run_id: str, env: dict[str, str], flag: Any,
                attempt: int) -> Iterator[dict[str, Any]]:
    """Run one member on this node (see the module's docstring); a generator of messages:
    {"kind": "placed" | "events" | "done", ...}."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    env = dict(env)
    placement = json.loads(env.get(PLACEMENT_ENV, "{}"))
    placement.update(node=node, attempt=attempt)
    env[PLACEMENT_ENV] = json.dumps(placement, sort_keys=True)
    if ray.get_gpu_ids():   # Ray gave this task a GPU and set CUDA_VISIBLE_DEVICES to it
        env["CUDA_VISIBLE_DEVICES"] = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    else:                   # none: the worker sees none (TensorFlow takes no one's memory)
        env["CUDA_VISIBLE_DEVICES"] = ""
    yield {"kind": "placed", "node": node, "host": socket.gethostname(),
           "gpu": env.get("CUDA_VISIBLE_DEVICES"), "pid": os.getpid()}
    reap_staging()
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-"))
    worker = WorkerRun(spec, staging, run_id=run_id, env=env)
    peak: list[int] = []      # the worker's VmHWM, read while it ran
    try:
        yield from _run(worker, flag, peak)
        result = worker.outcome("interrupted" if worker.stop_as else "failed")
        folder = staging / run_id
        yield {"kind": "done", "result": result.to_dict(),
               "folder": _pack(folder) if folder.is_dir() else None,
               "peak_rss_bytes": max(peak) if peak else None,
               "interrupted": worker.stop_as is not None}
    finally:
        if worker.proc is not None and worker.proc.poll() is None:
            worker.kill()          # the driver went away (or cancelled the task): no orphans
            worker.proc.wait()
        shutil.rmtree(staging, ignore_errors=True)


def reap_staging() -> list[Path]:
    """Remove the staging folders of member tasks that died without cleaning up (their node's
    Ray worker was killed: a node lost, a forced cancel). A folder is ours to remove when this
    user owns it and the Ray worker named in it is gone; a reused pid only keeps one longer."""
    from mnist_tui.engine.pids import pid_exists

    removed = []
    for path in Path(tempfile.gettempdir()).glob(f"{STAGING_PREFIX}*-*"):
        pid = path.name[len(STAGING_PREFIX):].split("-", 1)[0]
        try:
            mine = path.is_dir() and not path.is_symlink() and \
                path.lstat().st_uid == os.getuid()
        except OSError:
            continue
        if mine and pid.isdigit() and not pid_exists(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _run(worker: WorkerRun, flag: Any, peak: list[int]) -> Iterator[dict[str, Any]]:
    """Start the worker and yield its events in batches until it ends; act on the stop flag;
    the worker's peak memory goes into `peak`."""
    lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
    _start_unblocked(worker)
    assert worker.proc is not None

    def read() -> None:
        try:
            for ev in worker.events():
                lines.put(ev.to_dict())
        finally:
            lines.put(None)

    threading.Thread(target=read, name="member-events", daemon=True).start()
    ended, signalled_at, flag_read = False, None, 0.0
    while not ended:
        batch: list[dict[str, Any]] = []
        deadline = time.monotonic() + BATCH_S
        while time.monotonic() < deadline:
            try:
                item = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                ended = True
                break
            batch.append(item)
        seen = _read_peak(worker)
        if seen is not None:
            peak[:] = [max(peak + [seen])]
        if batch:
            yield {"kind": "events", "events": batch}
        now = time.monotonic()
        if signalled_at is None and now - flag_read >= FLAG_EVERY_S:
            flag_read = now
            if _stopped(flag):
                worker.send(signal.SIGINT)
                worker.stop_as = ("interrupted", "ctrl-c")
                signalled_at = now
        elif signalled_at is not None and now - signalled_at > GRACE_SECONDS:
            worker.kill_reason = (f"interrupted (Ctrl-C): the worker did not end within "
                                  f"{GRACE_SECONDS:.0f} s of it and was killed")
            worker.kill()
            signalled_at = float("inf")
    if worker.stop_as is not None and worker.terminal is not None and \
            worker.terminal.type == "finished":
        worker.stop_as = None      # it finished before the signal reached it


def _start_unblocked(worker: WorkerRun) -> None:
    """Start the worker with the stop signals unblocked. Ray runs a task on a thread that
    blocks SIGINT, and a child inherits its parent thread's signal mask through exec: the
    worker would never see the stop's SIGINT (it stayed pending until the grace ran out and
    the member was killed, its measurements lost). The mask is unblocked for the fork only,
    then this thread's is put back."""
    stops = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1}
    old = signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
    try:
        worker.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _read_peak(worker: WorkerRun) -> int | None:
    """The worker's peak resident memory so far (`executor.read_vmhwm`), while it runs."""
    from mnist_tui.engine.suites.executor import read_vmhwm

    proc = worker.proc
    return read_vmhwm(proc.pid) if proc is not None and proc.poll() is None else None


def _stopped(flag: Any) -> bool:
    import ray

    try:
        return bool(ray.get(flag.stopped.remote(), timeout=5))
    except Exception:  # noqa: BLE001 - the driver is gone or slow: keep going, ask again
        return False


def _pack(folder: Path) -> bytes:
    """The run folder as an uncompressed tar archive (its files are small, the images PNG)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(folder, arcname=folder.name)
    data = buf.getvalue()
    if len(data) > MAX_FOLDER_BYTES:
        raise RuntimeError(f"run folder {folder.name} is {len(data):,} bytes, over the "
                           f"{MAX_FOLDER_BYTES:,} a member may send back")
    return data
