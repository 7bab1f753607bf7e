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

import json
import os
import secrets
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mnist_tui.engine.errors import MnistTuiError

SPEC_FILE = "spec.json"
META_FILE = "meta.json"
EVENTS_FILE = "events.jsonl"
RESULT_FILE = "result.json"
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
    """Write to a temp file in the same folder, fsync, then rename: readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_json(path: Path, obj) -> None:
    from mnist_tui.engine.events import dumps

    atomic_write_text(path, dumps(obj, indent=2) + "\n")


def read_json(path: Path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def machine_info() -> dict:
    import platform

    return {"host": socket.gethostname(), "platform": platform.platform(),
            "python": platform.python_version(), "cpus": os.cpu_count()}


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not running.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass(frozen=True)
class RunInfo:
    """What a run list needs, without reading events."""

    run_id: str
    path: Path
    job: str
    status: str            # finished | failed | cancelled | interrupted | running
    created: str
    spec: dict
    result: dict | None


class RunStore:
    """The runs under one directory."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_runs_dir()

    def path(self, run_id: str) -> Path:
        p = self.root / run_id
        if not run_id or "/" in run_id or run_id.startswith(".") or not (p / SPEC_FILE).is_file():
            raise MnistTuiError(f"no run {run_id!r} in {self.root}")
        return p

    def load_spec(self, run_id: str) -> dict:
        return read_json(self.path(run_id) / SPEC_FILE)

    def load_result(self, run_id: str) -> dict | None:
        p = self.path(run_id) / RESULT_FILE
        return read_json(p) if p.is_file() else None

    def events(self, run_id: str) -> list[dict]:
        """Every event of a run; a torn last line (a killed writer) is skipped."""
        out = []
        p = self.path(run_id) / EVENTS_FILE
        if p.is_file():
            for line in p.read_text(encoding="utf-8").splitlines():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return out

    def list(self) -> list[RunInfo]:
        """Every readable run, newest first."""
        runs = []
        if not self.root.is_dir():
            return runs
        for p in self.root.iterdir():
            if p.name.startswith("."):
                continue
            try:
                spec = read_json(p / SPEC_FILE)
                meta = read_json(p / META_FILE) if (p / META_FILE).is_file() else {}
                result = read_json(p / RESULT_FILE) if (p / RESULT_FILE).is_file() else None
            except (OSError, ValueError):
                continue
            if not isinstance(spec, dict) or not isinstance(meta, dict) \
                    or not isinstance(result, (dict, type(None))):
                continue
            status = result.get("status", "failed") if result else "running"
            runs.append(RunInfo(p.name, p, spec.get("job", "?"), status,
                                meta.get("created", ""), spec, result))
        runs.sort(key=lambda r: (r.created, r.run_id), reverse=True)
        return runs

    def delete(self, run_id: str) -> None:
        shutil.rmtree(self.path(run_id))

    def reap(self) -> list[str]:
        """Mark runs whose worker died without a result as interrupted; returns their ids."""
        reaped = []
        for run in self.list():
            if run.status != "running":
                continue
            meta = read_json(run.path / META_FILE) if (run.path / META_FILE).is_file() else {}
            host = meta.get("host")
            if host and host != socket.gethostname():
                continue  # another machine's run (a shared runs folder): not ours to judge
            if pid_alive(int(meta.get("pid", 0))):
                continue
            record_unfinished(run.path, "interrupted", "the worker process ended without a result "
                              "(killed, or the app quit)")
            reaped.append(run.run_id)
        return reaped


def record_unfinished(run_dir: Path, status: str, reason: str) -> dict | None:
    """Write result.json for a run that ended without one, keeping what its events recorded."""
    run_dir = Path(run_dir)
    if not (run_dir / SPEC_FILE).is_file() or (run_dir / RESULT_FILE).is_file():
        return None
    spec = read_json(run_dir / SPEC_FILE)
    meta = read_json(run_dir / META_FILE) if (run_dir / META_FILE).is_file() else {}
    history = []
    p = run_dir / EVENTS_FILE
    if p.is_file():
        for line in p.read_text(encoding="utf-8").splitlines():
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            if ev.get("type") == "epoch":
                history.append({"epoch": ev["epoch"], **ev.get("metrics", {})})
    result = {
        "status": status, "error": reason, "job": spec.get("job"), "preset": spec.get("preset"),
        "seed": spec.get("seed"), "run_id": run_dir.name, "run_dir": str(run_dir),
        "dataset": meta.get("dataset"), "metrics": {}, "confusion_matrix": None,
        "timings": {}, "history": history, "spec": spec, "meta": meta,
    }
    atomic_write_json(run_dir / RESULT_FILE, result)
    return result
