"""The run store: one folder per run, every file written atomically.

    <runs-dir>/<run-id>/spec.json      the exact spec (re-runnable with --config / --rerun)
                        meta.json      run id, times, pid, host, versions, dataset, rerun_of
                        events.jsonl   every event the job emitted, one JSON object per line
                        result.json    the final result (status finished|failed|cancelled|interrupted)
                        worker.log     the worker's stderr (library chatter, tracebacks)
                        artifacts …    job-specific files

A run with no result.json whose worker is gone was killed: `RunStore.reap()` records it as
interrupted, keeping everything already written.
"""

from __future__ import annotations

import builtins
import json
import os
import secrets
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_tui.engine.errors import MnistTuiError
from mnist_tui.engine.runs import records
from mnist_tui.engine.runs.procs import process_alive

SPEC_FILE = records.SPEC_FILE
META_FILE = records.META_FILE
EVENTS_FILE = "events.jsonl"
RESULT_FILE = records.RESULT_FILE
LOG_FILE = "worker.log"


def default_runs_dir() -> Path:
    """`MNIST_TUI_RUNS_DIR`, else the user data directory."""
    env = os.environ.get("MNIST_TUI_RUNS_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("mnist-tui")) / "runs"


def new_run_id(job: str) -> str:
    """Sortable by time, unique without coordination: 20261125-143005-tsne-gmm-3f9a1c."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{job}-{secrets.token_hex(3)}"


def atomic_write_text(path: Path, text: str) -> None:
    """Temp file, fsync, rename (see `records.atomic_write_text`)."""
    records.atomic_write_text(path, text)


def atomic_write_json(path: Path, obj: Any) -> None:
    records.atomic_write_text(path, records.dumps(obj))


def read_json(path: Path) -> Any:
    """JSON from a regular, bounded file; `records.RecordError` (a ValueError) otherwise."""
    return records.read_json_file(path)


def machine_info() -> dict[str, Any]:
    import platform

    return {"host": socket.gethostname(), "platform": platform.platform(),
            "python": platform.python_version(), "cpus": os.cpu_count()}


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie does not). Prefer `procs.process_alive` with a start time."""
    return process_alive(pid)


@dataclass(frozen=True)
class RunInfo:
    """What a run list needs, without reading events."""

    run_id: str
    path: Path
    job: str
    status: str            # finished | failed | cancelled | interrupted | running
    created: str
    spec: dict[str, Any]
    result: dict[str, Any] | None
    meta: records.RunMeta | None = None


@dataclass(frozen=True)
class Skipped:
    """A folder the listing could not read, and why (reported, never fatal)."""

    name: str
    reason: str


class RunStore:
    """The runs under one directory."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_runs_dir()
        self.skipped: list[Skipped] = []   # filled by list()

    def path(self, run_id: str) -> Path:
        p = self.root / str(run_id)
        if (not isinstance(run_id, str) or not run_id or "/" in run_id or "\\" in run_id
                or run_id.startswith(".") or not (p / SPEC_FILE).is_file()):
            raise MnistTuiError(f"no run {run_id!r} in {self.root}")
        return p

    def load_spec(self, run_id: str) -> dict[str, Any]:
        return records.read_spec(self.path(run_id))

    def load_result(self, run_id: str) -> dict[str, Any] | None:
        return records.read_result(self.path(run_id))

    def load_meta(self, run_id: str) -> records.RunMeta | None:
        return records.read_meta(self.path(run_id))

    def events(self, run_id: str) -> list[dict[str, Any]]:
        """Every event of a run; a torn last line (a killed writer) is skipped."""
        return read_events(self.path(run_id) / EVENTS_FILE)

    # `builtins.list` below: inside this class, `list` is this method.
    def list(self) -> builtins.list[RunInfo]:
        """Every readable run, newest first; unreadable folders go to `self.skipped`."""
        runs: builtins.list[RunInfo] = []
        skipped: builtins.list[Skipped] = []
        if not self.root.is_dir():
            self.skipped = skipped
            return runs
        for p in self.root.iterdir():
            if p.name.startswith(".") or not (p / SPEC_FILE).exists():
                continue
            try:
                spec = records.read_spec(p)
                meta = records.read_meta(p)
                result = records.read_result(p)
            except records.RecordError as exc:
                skipped.append(Skipped(p.name, str(exc)))
                continue
            status = result["status"] if result else "running"
            job_name = spec.get("job")
            job = job_name if isinstance(job_name, str) else "?"
            runs.append(RunInfo(p.name, p, job, status,
                                meta.created if meta else "", spec, result, meta))
        runs.sort(key=lambda r: (r.created, r.run_id), reverse=True)
        self.skipped = skipped
        return runs

    def delete(self, run_id: str) -> None:
        shutil.rmtree(self.path(run_id))

    def live(self) -> builtins.list[RunInfo]:
        """Runs of this host whose worker is alive now (the very process: pid and start time)."""
        return [r for r in self.list() if r.status == "running" and worker_alive(r.meta)]

    def reap(self) -> builtins.list[str]:
        """Mark runs whose worker died without a result as interrupted; returns their ids.

        Keyed on meta.json, which the worker writes before anything else in the folder. Two
        reapers (two TUIs) may race: the result is created exclusively, so only one records it.
        """
        reaped = []
        for run in self.list():
            if run.status != "running":
                continue
            meta = run.meta
            if meta is not None and meta.host and meta.host != socket.gethostname():
                continue  # another machine's run (a shared runs folder): not ours to judge
            if worker_alive(meta):
                continue
            if record_unfinished(run.path, "interrupted", "the worker process ended without a "
                                 "result (killed, or the machine restarted)",
                                 stopped_by="reaped") is not None:
                reaped.append(run.run_id)
        return reaped


def worker_alive(meta: records.RunMeta | None) -> bool:
    """Is the worker named by meta.json still running? A reused pid is not (start time differs)."""
    if meta is None or meta.pid is None:
        return False
    if meta.host and meta.host != socket.gethostname():
        return True   # cannot tell from here: never judge another machine's run
    return process_alive(meta.pid, meta.pid_start)


def read_events(path: Path) -> list[dict[str, Any]]:
    """The event objects of an events.jsonl; torn or foreign lines are skipped."""
    out: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    ev = json.loads(line)
                except (ValueError, RecursionError):
                    continue
                if isinstance(ev, dict) and isinstance(ev.get("type"), str):
                    out.append(ev)
    except OSError:
        pass
    return out


def record_unfinished(run_dir: Path, status: str, reason: str,
                      stopped_by: str | None = None) -> dict[str, Any] | None:
    """Write result.json for a run that ended without one, keeping what its events recorded.

    Returns None (writing nothing) when the run already has a result or has no spec.
    """
    run_dir = Path(run_dir)
    if not (run_dir / SPEC_FILE).is_file() or (run_dir / RESULT_FILE).exists():
        return None
    try:
        spec = records.read_spec(run_dir)
    except records.RecordError:
        return None
    try:
        meta = records.read_meta(run_dir)
    except records.RecordError:
        meta = None
    history: list[dict[str, Any]] = []
    for ev in read_events(run_dir / EVENTS_FILE):
        if ev.get("type") == "epoch" and isinstance(ev.get("metrics", {}), dict):
            history.append({"epoch": ev.get("epoch"), **ev.get("metrics", {})})
    result = {
        "status": status, "error": reason, "stopped_by": stopped_by, "job": spec.get("job"),
        "preset": spec.get("preset"), "seed": spec.get("seed"), "run_id": run_dir.name,
        "run_dir": str(run_dir), "dataset": meta.dataset if meta else None, "metrics": {},
        "confusion_matrix": None, "timings": {}, "history": history, "spec": spec,
        "meta": meta.to_dict() if meta else {},
    }
    if not records.create_result(run_dir, result):
        return None
    return records.read_result(run_dir)
