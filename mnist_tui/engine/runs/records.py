"""The run records (spec.json, meta.json, result.json): typed, versioned, read and written here.

Every reader of a run folder goes through this module, so a record's shape is defined once.
Writing is atomic (temp file, fsync, rename; mode from the umask). The final record is created
exclusively: once result.json exists nothing replaces it, so a late signal, a second reaper or a
second TUI can never turn a finished run into a cancelled one. Reading is defensive: a field of
the wrong type falls back to its default, a file that is not a JSON object is a `RecordError`.

Version history:
    0  (before schema_version existed) the same fields, no version; read as version 1
    1  schema_version; meta.json gains pid_start and detached; later meta.json and result.json
       gain started_utc (optional: runs without it are ordered by their `created` offset time)
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

from pydantic import Field

from mnist_tui.engine.errors import MnistTuiError
from mnist_tui.engine.jobs.results import Record as Record
from mnist_tui.engine.jobs.results import RunResult as RunResult
from mnist_tui.engine.runs.layout import META_FILE, RESULT_FILE, SPEC_FILE

_HOST = socket.gethostname()

SCHEMA_VERSION = 1
MAX_RECORD_BYTES = 16 << 20   # a record larger than this is not one of ours


class RecordError(MnistTuiError, ValueError):
    """A record file that cannot be read as what it claims to be (a ValueError, like bad JSON)."""


# -- files ----------------------------------------------------------------------------------

def _umask() -> int:
    """The process umask, read without changing it where /proc says it (Linux ≥ 4.7)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _write_temp(path: Path, text: str) -> str:
    """A fsynced temp file beside `path` holding `text`, with the mode a plain open() would give."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())   # mkstemp makes 0600: group-shared folders need more
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temp file in the same folder, fsync, then rename: readers never see half a file."""
    path = Path(path)
    tmp = _write_temp(path, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def create_text_once(path: Path, text: str) -> bool:
    """Like `atomic_write_text`, but only if `path` does not exist yet (hard link, atomic).

    Returns False, writing nothing, when someone else created it first.
    """
    path = Path(path)
    tmp = _write_temp(path, text)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        _unlink(tmp)


def dumps(obj: Any) -> str:
    from mnist_tui.engine.jobs.jsonvalues import dumps as event_dumps

    return event_dumps(obj, indent=2) + "\n"


def read_json_file(path: Path, limit: int = MAX_RECORD_BYTES) -> Any:
    """JSON from a regular file of at most `limit` bytes (never a FIFO, a device, a huge file)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise RecordError(f"cannot read {path}: {exc.strerror}") from None
    try:
        import stat

        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RecordError(f"{path}: not a regular file")
        if st.st_size > limit:
            raise RecordError(f"{path}: {st.st_size:,} bytes, more than a record can be")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise RecordError(f"{path}: cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise RecordError(f"{path}: the key {exc} appears twice (which one is meant?)") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RecordError(f"{path}: not valid JSON ({type(exc).__name__})") from None


class _DuplicateKey(Exception):
    """A JSON object naming one key twice: `json` would keep the last one silently."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            from mnist_tui.engine.text import shown

            raise _DuplicateKey(shown(json.dumps(key), 60))
        out[key] = value
    return out


def _read_object(path: Path) -> dict[str, Any]:
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise RecordError(f"{path}: expected a JSON object, found {type(data).__name__}")
    version = data.get("schema_version", 0)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise RecordError(f"{path}: schema version {version!r} is newer than this mnist-tui "
                          f"reads ({SCHEMA_VERSION}); upgrade mnist-tui")
    return data


# -- time ---------------------------------------------------------------------------------

def utc_now() -> str:
    """Now in UTC, ISO-8601 with microseconds (`2026-01-01T03:00:00.123456+00:00`): the stamp
    runs are ordered by. Local times (the run id, `created`) are for people; they repeat at a
    DST fall-back and disagree between time zones."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def utc_seconds(stamp: object, naive_is_local: bool = False) -> float | None:
    """Seconds since the epoch of an ISO-8601 stamp that names its offset (`utc_now()`'s, or a
    `created`/`started_at` like `2026-01-01T12:00:00+0900`); None for anything else. A stamp
    without an offset says nothing sure about when it was: None, unless `naive_is_local`
    (then it is read as this machine's local time, the best guess for an old record)."""
    from datetime import datetime

    if not isinstance(stamp, str) or len(stamp) > 64:
        return None
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        try:
            when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            return None
    if (when.tzinfo is None or when.utcoffset() is None) and not naive_is_local:
        return None
    try:
        return when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


# -- typed records --------------------------------------------------------------------------

class RunOwner(Record):
    """Who started a run's worker (`engine/runs/owner.py`): a TUI window, a batch run or a
    suite, by that process's pid and kernel start time on `host`. Lets every window tell its
    own jobs from another live process's (never stopped by its quit) and from jobs left
    running by a window that is gone."""

    kind: str = "?"                  # tui | batch | suite
    pid: int | None = None
    pid_start: int | None = None
    host: str | None = None
    suite: str | None = None         # a suite member's suite id

    def describe(self) -> str:
        """`another window (pid 4242)`, `a batch run (pid 7)`, `suite digits-… (pid 9)`."""
        who = {"tui": "a window", "batch": "a batch run"}.get(self.kind, self.kind)
        if self.kind == "suite":
            who = f"suite {self.suite}" if self.suite else "a suite"
        where = f" on {self.host}" if self.host and self.host != _HOST else ""
        return f"{who} (pid {self.pid}{where})" if self.pid else who


class RunMeta(Record):
    """meta.json: written first, before spec.json, so a reaper always finds who runs the job."""

    run_id: str = ""
    created: str = ""                # local time with its UTC offset, for people
    started_utc: str | None = None   # `utc_now()`: what orders runs (`utc_seconds`)
    pid: int | None = None
    pid_start: int | None = None     # kernel start time of `pid`: a reused pid is not the run
    host: str | None = None
    detached: bool = False           # True: the worker outlives the front end that started it
    rerun_of: str | None = None
    dataset: dict[str, Any] | None = None
    versions: dict[str, Any] = Field(default_factory=dict)
    machine: dict[str, Any] = Field(default_factory=dict)
    placement: dict[str, Any] | None = None   # a suite member's (`results.Placement`)
    owner: RunOwner | None = None    # who started the worker (None: recorded before owners)
    schema_version: int = SCHEMA_VERSION


    @classmethod
    def from_dict(cls, data: object) -> RunMeta:
        meta = cls.model_validate(data if isinstance(data, dict) else {})
        meta.schema_version = SCHEMA_VERSION
        return meta

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# -- reading and writing run folders ---------------------------------------------------------

def read_spec(run_dir: Path) -> dict[str, Any]:
    """spec.json; a `job` that is not one of ours is a `RecordError` (a skipped folder), so no
    front end ever shows, looks up or re-runs a job name a planted file made up."""
    path = Path(run_dir) / SPEC_FILE
    data = dict(_read_object(path))
    data.pop("schema_version", None)
    _check_job(data.get("job"), path)
    return data


def _check_job(job: object, path: Path) -> None:
    from mnist_tui.engine.jobs.specs import JOB_NAMES
    from mnist_tui.engine.text import shown

    if not isinstance(job, str) or job not in JOB_NAMES:
        raise RecordError(f"{path}: unknown job {shown(repr(job), 40)} "
                          f"(a run is one of {', '.join(JOB_NAMES)})")


def write_spec(run_dir: Path, spec_dict: dict[str, Any]) -> None:
    atomic_write_text(Path(run_dir) / SPEC_FILE,
                      dumps({**spec_dict, "schema_version": SCHEMA_VERSION}))


def read_meta(run_dir: Path) -> RunMeta | None:
    """meta.json, or None when there is none yet."""
    p = Path(run_dir) / META_FILE
    if not p.exists():
        return None
    return RunMeta.from_dict(_read_object(p))


def write_meta(run_dir: Path, meta: RunMeta) -> None:
    atomic_write_text(Path(run_dir) / META_FILE, dumps(meta.to_dict()))


def read_result(run_dir: Path) -> RunResult | None:
    """result.json as the typed record, or None when the run has none (yet)."""
    p = Path(run_dir) / RESULT_FILE
    if not p.exists():
        return None
    return RunResult.from_dict(_read_object(p))


def create_result(run_dir: Path, result: RunResult) -> bool:
    """Write the final record unless one exists: False (and nothing written) when it does."""
    return create_text_once(Path(run_dir) / RESULT_FILE, dumps(result.to_dict()))


def rehome_result(run_dir: Path) -> None:
    """A finished run folder brought here from another machine (a suite member that ran on a
    Ray node): its result names the folder where it was written there; rewrite it to name this
    one, atomically. Nothing else in the record changes."""
    result = read_result(Path(run_dir))
    if result is None or result.run_dir == str(run_dir):
        return
    result = result.model_copy(update={"run_dir": str(run_dir)})
    atomic_write_text(Path(run_dir) / RESULT_FILE, dumps(result.to_dict()))


def try_read_result(run_dir: Path) -> RunResult | None:
    """`read_result`, with an unreadable record (a bad file, chmod 000) as no result: for
    reports, which show what can be read and say the rest is missing."""
    try:
        return read_result(run_dir)
    except (RecordError, OSError):
        return None


def try_read_spec(run_dir: Path) -> dict[str, Any] | None:
    """`read_spec`, or None when the folder has no readable spec of one of our jobs."""
    try:
        return read_spec(run_dir) if (Path(run_dir) / SPEC_FILE).is_file() else None
    except (RecordError, OSError):
        return None
