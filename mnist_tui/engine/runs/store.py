"""The run store: listing runs (bad folders skipped and reported), live runs, reaping, events.

The folder layout is `layout.py`'s; records are read through `records.py`. A run with no result
record whose worker is gone was killed: `RunStore.reap()` records it as interrupted, keeping
everything already written.
"""

from __future__ import annotations

import builtins
import json
import os
import secrets
import shutil
import socket
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mnist_tui.engine.errors import MnistTuiError
from mnist_tui.engine.jobs.events import Event
from mnist_tui.engine.runs.layout import (  # noqa: F401 - names store users import
    EVENTS_FILE,
    LOG_FILE,
    META_FILE,
    RESULT_FILE,
    SPEC_FILE,
    SUITES_DIR,  # the suites' folder lives among the runs: not a run, never reported
)
from mnist_tui.engine.runs.procs import is_run_worker, process_alive
from mnist_tui.engine.text import shown

if TYPE_CHECKING:   # pydantic's records: imported where one is read or written (below)
    from mnist_tui.engine.jobs.results import RunResult
    from mnist_tui.engine.runs import records

MAX_EVENTS_BYTES = 64 << 20     # an events file larger than this is not one of ours
MAX_EVENT_LINE = 4 << 20        # nor is a longer line (a t-SNE snapshot is ~40 KB)


def default_runs_dir() -> Path:
    """`MNIST_TUI_RUNS_DIR`, else the user data directory."""
    env = os.environ.get("MNIST_TUI_RUNS_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("mnist-tui")) / "runs"


def new_run_id(job: str) -> str:
    """Readable, unique without coordination: 20261125-143005-tsne-gmm-3f9a1c. The time is
    local, for people: runs are ordered by their recorded UTC start (`RunInfo.started`), since
    local time repeats at a DST fall-back and differs between time zones."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{job}-{secrets.token_hex(3)}"


def atomic_write_text(path: Path, text: str) -> None:
    """Temp file, fsync, rename (see `records.atomic_write_text`)."""
    from mnist_tui.engine.runs import records

    records.atomic_write_text(path, text)


def atomic_write_json(path: Path, obj: Any) -> None:
    from mnist_tui.engine.runs import records

    records.atomic_write_text(path, records.dumps(obj))


def read_json(path: Path) -> Any:
    """JSON from a regular, bounded file (a user's `--config`); `records.RecordError` (a
    ValueError) otherwise. Run and suite records are read through their records modules."""
    from mnist_tui.engine.runs import records

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
    result: RunResult | None
    meta: records.RunMeta | None = None
    started: float = 0.0   # seconds since the epoch (`run_started`): the order of runs


@dataclass(frozen=True)
class Skipped:
    """A folder the listing could not read, and why (reported, never fatal)."""

    name: str
    reason: str




def run_started(run_id: str, meta: records.RunMeta | None,
                result: RunResult | None) -> float:
    """When a run started, in seconds since the epoch, for ordering. First the UTC stamp the
    worker records (`started_utc` in the meta record, else the result record); runs from before it existed
    use `created`/`started_at`, which carry their UTC offset; failing those (hand-made records
    without an offset), those stamps and then the run id's time read as this machine's local
    time; 0.0 (oldest) when nothing says."""
    from mnist_tui.engine.runs import records

    local = (meta.created if meta else None, result.started_at if result else None)
    for stamp in (meta.started_utc if meta else None, result.started_utc if result else None,
                  *local):
        seconds = records.utc_seconds(stamp)
        if seconds is not None:
            return seconds
    for stamp in local:
        seconds = records.utc_seconds(stamp, naive_is_local=True)
        if seconds is not None:
            return seconds
    return _id_seconds(run_id)


def _id_seconds(run_id: str) -> float:
    """The local time at the head of a run id (20261125-143005-…) in epoch seconds, else 0.0."""
    try:
        return time.mktime(time.strptime(run_id[:15], "%Y%m%d-%H%M%S"))
    except (ValueError, OverflowError):
        return 0.0


def _unreadable(path: Path, exc: OSError) -> str:
    """Why a folder could not be read, naming the file that failed."""
    return f"cannot read {exc.filename or path}: {exc.strerror or exc}"


class RunStore:
    """The runs under one directory."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_runs_dir()
        self.skipped: list[Skipped] = []   # filled by list()

    def path(self, run_id: str) -> Path:
        """The folder of run `run_id`; MnistTuiError (one line) when there is no such readable
        run (a folder we may not enter is said so, never a PermissionError)."""
        p = self.root / str(run_id)
        if (not isinstance(run_id, str) or not run_id or "/" in run_id or "\\" in run_id
                or run_id.startswith(".")):
            raise MnistTuiError(f"no run {shown(repr(run_id), 80)} in {shown(self.root)}")
        try:
            found = (p / SPEC_FILE).is_file()
        except OSError as exc:
            raise MnistTuiError(f"run {shown(run_id, 80)} cannot be read: "
                                f"{exc.strerror or exc}") from None
        if not found:
            raise MnistTuiError(f"no run {shown(repr(run_id), 80)} in {shown(self.root)}")
        return p

    def load_spec(self, run_id: str) -> dict[str, Any]:
        from mnist_tui.engine.runs import records

        return records.read_spec(self.path(run_id))

    def load_result(self, run_id: str) -> RunResult | None:
        from mnist_tui.engine.runs import records

        return records.read_result(self.path(run_id))

    def load_meta(self, run_id: str) -> records.RunMeta | None:
        from mnist_tui.engine.runs import records

        return records.read_meta(self.path(run_id))

    def events(self, run_id: str) -> list[Event]:
        """Every event of a run; a torn last line (a killed writer) is skipped."""
        return read_events(self.path(run_id) / EVENTS_FILE)

    # `builtins.list` below: inside this class, `list` is this method.
    def list(self) -> builtins.list[RunInfo]:
        """Every readable run, newest first; unreadable folders go to `self.skipped`."""
        runs, self.skipped = self.listing()
        return runs

    def listing(self) -> tuple[builtins.list[RunInfo], builtins.list[Skipped]]:
        """Every readable run, newest first (by `RunInfo.started`), and the folders skipped,
        each with why: one folder that cannot be read (a bad record, `chmod 000`, an I/O
        error) is skipped and named, never the end of the listing. A front end that lists
        from several threads uses this rather than `list()` and `self.skipped`."""
        from mnist_tui.engine.runs import records

        runs: builtins.list[RunInfo] = []
        skipped: builtins.list[Skipped] = []
        try:
            if not self.root.is_dir():
                return runs, skipped
            entries = builtins.list(self.root.iterdir())
        except OSError as exc:
            return runs, [Skipped(str(self.root), _unreadable(self.root, exc))]
        for p in entries:
            if p.name.startswith(".") or p.name == SUITES_DIR:
                continue
            try:
                info = self._info(p)
            except records.RecordError as exc:
                skipped.append(Skipped(p.name, str(exc)))
                continue
            except OSError as exc:
                skipped.append(Skipped(p.name, _unreadable(p, exc)))
                continue
            if info is not None:
                runs.append(info)
        runs.sort(key=lambda r: (r.started, r.run_id), reverse=True)
        return runs, skipped

    @staticmethod
    def _info(p: Path) -> RunInfo | None:
        """One folder's run (None when it is no run: no spec record). Raises RecordError or
        OSError when the folder or one of its records cannot be read."""
        from mnist_tui.engine.runs import records

        if not (p / SPEC_FILE).exists():
            return None
        spec = records.read_spec(p)
        meta = records.read_meta(p)
        result = records.read_result(p)
        status = result.status if result else "running"
        job_name = spec.get("job")
        job = job_name if isinstance(job_name, str) else "?"
        return RunInfo(p.name, p, job, status, meta.created if meta else "", spec, result,
                       meta, run_started(p.name, meta, result))

    def delete(self, run_id: str) -> None:
        shutil.rmtree(self.path(run_id))

    def live(self) -> builtins.list[RunInfo]:
        """Runs whose worker runs here now and provably is theirs (`procs.is_run_worker`: pid,
        start time, our user, a worker command line naming that folder). Another machine's
        runs are not listed: nothing here can prove who runs them."""
        return [r for r in self.list()
                if r.status == "running" and worker_alive(r.meta, r.path)]

    def reap(self) -> builtins.list[str]:
        """Mark runs whose worker died without a result as interrupted; returns their ids.

        Keyed on the meta record, which the worker writes before anything else in the folder. Two
        reapers (two TUIs) may race: the result is created exclusively, so only one records it.
        """
        reaped = []
        for run in self.list():
            if run.status != "running":
                continue
            meta = run.meta
            if meta is not None and meta.host and meta.host != socket.gethostname():
                continue  # another machine's run (a shared runs folder): not ours to judge
            if worker_alive(meta, run.path):
                continue
            if record_unfinished(run.path, "interrupted", "the worker process ended without a "
                                 "result (killed, or the machine restarted)",
                                 stopped_by="reaped") is not None:
                reaped.append(run.run_id)
        return reaped


def worker_alive(meta: records.RunMeta | None, run_dir: Path) -> bool:
    """Is the worker named by the meta record running here, and provably this run's? A reused pid
    is not (start time differs), nor is any process a planted meta record names (its command
    line is not this run's worker). Another machine's run is not judged here: False (`reap`
    skips those before asking)."""
    if meta is None or meta.pid is None:
        return False
    if meta.host and meta.host != socket.gethostname():
        return False
    return is_run_worker(meta.pid, meta.pid_start, run_dir)


def read_events(path: Path) -> list[Event]:
    """The events of an events.jsonl; torn or foreign lines are skipped (see
    `iter_events`, which also says why a file could not be read)."""
    return builtins.list(iter_events(path))


def iter_events(path: Path, notes: builtins.list[str] | None = None) -> Iterator[Event]:
    """Each event of an events.jsonl (typed: `jobs.events`), read like every other record: a regular file
    only (a FIFO would block for ever, `/dev/zero` would never end), at most
    `MAX_EVENTS_BYTES`, lines of at most `MAX_EVENT_LINE`. Torn or foreign lines are skipped.
    Why the file (or some lines) could not be read is appended to `notes`: a bad events file
    costs its run the curves, never the listing. A missing file is no events and no note."""
    fh = _open_events(path, notes if notes is not None else [])
    if fh is None:
        return
    skipped = 0
    with fh:
        while True:
            line = fh.readline(MAX_EVENT_LINE + 1)
            if not line:
                break
            if len(line) > MAX_EVENT_LINE:
                skipped += 1
                _skip_line(fh)
                continue
            ev = _event(line)
            if ev is not None:
                yield ev
    if skipped and notes is not None:
        notes.append(f"{EVENTS_FILE}: {skipped} line(s) longer than "
                     f"{MAX_EVENT_LINE >> 20} MiB skipped")


def _open_events(path: Path, notes: builtins.list[str]) -> IO[bytes] | None:
    """`path` opened for reading when it is a regular file within the cap, else None and why.
    O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked on the opened
    descriptor (fstat), so a symlink swapped in afterwards cannot fool it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        notes.append(f"{EVENTS_FILE} unreadable: {exc.strerror}")
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            notes.append(f"{EVENTS_FILE} unreadable: not a regular file")
        elif st.st_size > MAX_EVENTS_BYTES:
            notes.append(f"{EVENTS_FILE} unreadable: {st.st_size:,} bytes, more than "
                         f"{MAX_EVENTS_BYTES >> 20} MiB an events file can be")
        else:
            return os.fdopen(fd, "rb")
    except OSError as exc:
        notes.append(f"{EVENTS_FILE} unreadable: {exc.strerror}")
    os.close(fd)
    return None


def _skip_line(fh: IO[bytes]) -> None:
    """Read past the rest of an over-long line without holding it."""
    while True:
        chunk = fh.readline(1 << 16)
        if not chunk or chunk.endswith(b"\n"):
            return


def _event(line: bytes) -> Event | None:
    """One line as an event, or None (torn, not JSON, not one of our events)."""
    from mnist_tui.engine.runs.progress import as_event

    try:
        ev = json.loads(line.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return None
    return as_event(ev) if isinstance(ev, dict) and isinstance(ev.get("type"), str) else None


def read_events_from(path: Path, offset: int, limit: int = 1 << 20) -> bytes:
    """What an events.jsonl holds past `offset` (at most `limit` bytes; b"" when it does not
    exist yet, is not a regular file or is over the cap): for following a live run's file as
    it grows, with the same rules as `iter_events`."""
    fh = _open_events(path, [])
    if fh is None:
        return b""
    with fh:
        fh.seek(offset)
        return fh.read(max(0, min(limit, MAX_EVENTS_BYTES - offset)))


def record_unfinished(run_dir: Path, status: str, reason: str,
                      stopped_by: str | None = None) -> RunResult | None:
    """Write the result record for a run that ended without one, keeping what its events recorded.

    Returns None (writing nothing) when the run already has a result or has no spec.
    """
    from mnist_tui.engine.jobs.results import RunResult
    from mnist_tui.engine.runs import records

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
    from mnist_tui.engine.runs.progress import replay

    notes: list[str] = []
    history = replay(iter_events(run_dir / EVENTS_FILE, notes)).history()
    result = RunResult.from_dict({
        "status": status, "error": reason, "stopped_by": stopped_by, "job": spec.get("job"),
        "preset": spec.get("preset"), "seed": spec.get("seed"), "run_id": run_dir.name,
        "run_dir": str(run_dir), "dataset": meta.dataset if meta else None, "metrics": {},
        "confusion_matrix": None, "timings": {}, "history": history, "spec": spec,
        "meta": meta.to_dict() if meta else {}, "warnings": notes,
    })
    if not records.create_result(run_dir, result):
        return None
    return records.read_result(run_dir)
