"""A suite folder's records (suite.json, status.json, members.json, measurements.json): typed,
versioned, read and written here.

Every reader and writer of these files goes through this module, so their names and shapes are
defined once; callers name the suite's folder, never a file. Writing is atomic
(`runs.records.atomic_write_text`). Reading is defensive: a file that is not JSON, or holds a
value of the wrong type, is a `SuiteRecordError` (a one-line MnistTuiError naming the file),
never a traceback; front ends show it or skip that suite. suite.json holds the `SuiteSpec`
(`spec.py`), which checks its own shape.

    <runs-dir>/suites/<suite-id>/suite.json        the SuiteSpec (re-runnable)
                                 members.json      member key → run id (the latest attempt)
                                 measurements.json run id → what the suite measured itself
                                 status.json       created | running | finished | failed |
                                                   interrupted, why, and who runs it

Version history (status.json, members.json, measurements.json; suite.json has none):
    0  (no schema_version) status.json: suite_id, status, created, updated, rerun_of, members,
       finished, failed. members.json: a flat {key: run id}, the key being the member's whole
       spec as canonical JSON.
    1  schema_version; status.json gains reason and runner (pid, host, start time: who runs
       the suite, so that a stale "running" can be told from a live one); members.json is
       {"schema_version": 1, "members": {key: run id}} with keys built from the settings the
       suite sets (see `spec.Member.settings`). Version-0 keys are converted on reading by
       `folder.SuiteFolder`, which knows the suite's members. measurements.json (untyped until
       then: a flat {run id: values}) becomes {"schema_version": 1, "runs": {run id:
       {peak_rss_bytes, source} or {status, error}}}; a version-0 file reads as version 1.
       status.json may hold `executor` (kind, parallel, address: how the members run); a file
       without it was run one member at a time, locally.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from mnist_tui.engine.runs.layout import (
    MEASUREMENTS_FILE,
    MEMBERS_FILE,
    STATUS_FILE,
    SUITE_FILE,
)
from mnist_tui.engine.runs.records import RecordError, atomic_write_text, dumps, read_json_file
from mnist_tui.engine.suites.spec import SuiteSpec

SCHEMA_VERSION = 1
STATUSES = ("created", "running", "finished", "failed", "interrupted")
ACTIVE = ("created", "running")     # statuses that claim a live runner


class SuiteRecordError(RecordError):
    """A suite record that cannot be read as one (the message names the file)."""


EXECUTORS = ("local", "ray")
MAX_PARALLEL = 256


@dataclass(frozen=True)
class ExecutorChoice:
    """How a suite's members run (`--executor`, `--parallel`, `--ray-address`): recorded in
    status.json for each session that ran it, and in every member's run record (`Placement`).
    `parallel`: members at once at most (Ray: 0 = as many as the cluster has room for)."""

    kind: str = "local"
    parallel: int = 1
    address: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        if self.kind == "ray":
            at_once = f"{self.parallel} at once" if self.parallel else "as the cluster allows"
            return f"ray ({self.address or 'auto'}; {at_once})"
        return "local, one member at a time" if self.parallel == 1 else (
            f"local, {self.parallel} members at once")

    @classmethod
    def from_dict(cls, data: object, where: str) -> ExecutorChoice:
        if not isinstance(data, dict):
            raise SuiteRecordError(f"{where}: executor must be an object")
        kind, parallel, address = data.get("kind"), data.get("parallel"), data.get("address")
        if kind not in EXECUTORS or not _is_int(parallel) or not (
                address is None or isinstance(address, str)):
            raise SuiteRecordError(f"{where}: executor must name local or ray, a member "
                                   "count and an address")
        return cls(kind=kind, parallel=parallel, address=address)


@dataclass(frozen=True)
class Runner:
    """The process that runs (or ran) a suite: pid plus kernel start time, never pid alone."""

    pid: int
    host: str
    start_time: int | None = None

    @classmethod
    def current(cls) -> Runner:
        from mnist_tui.engine.runs.procs import process_start_time

        pid = os.getpid()
        return cls(pid=pid, host=socket.gethostname(), start_time=process_start_time(pid))

    def alive(self) -> bool:
        """Still running here (a zombie or a reused pid is not). Other hosts: assumed alive."""
        from mnist_tui.engine.runs.procs import process_alive

        if self.host != socket.gethostname():
            return True
        return process_alive(self.pid, self.start_time)

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"

    @classmethod
    def from_dict(cls, data: object, where: str) -> Runner:
        if not isinstance(data, dict):
            raise SuiteRecordError(f"{where}: runner must be an object")
        pid, host, start = data.get("pid"), data.get("host"), data.get("start_time")
        if not _is_int(pid) or not isinstance(host, str) or not (start is None or _is_int(start)):
            raise SuiteRecordError(f"{where}: runner needs an integer pid, a host and an "
                                   "integer start_time (or null)")
        return cls(pid=pid, host=host, start_time=start)


@dataclass(frozen=True)
class SuiteStatus:
    """status.json: where the suite stands, and who runs it."""

    suite_id: str
    status: str
    created: str
    updated: str
    rerun_of: str | None = None
    members: int | None = None          # member runs in all (once a run ended)
    finished: int | None = None         # of which finished
    failed: tuple[str, ...] = ()        # labels of the failed members
    reason: str | None = None           # why it failed or was interrupted
    runner: Runner | None = None
    executor: ExecutorChoice | None = None   # how this session runs its members
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["failed"] = list(self.failed)
        d["schema_version"] = SCHEMA_VERSION
        return d

    @classmethod
    def from_dict(cls, data: object, where: str = "status.json") -> SuiteStatus:
        data = _versioned(data, where)
        need = {"suite_id": str, "status": str, "created": str, "updated": str}
        for k, t in need.items():
            if not isinstance(data.get(k), t):
                raise SuiteRecordError(f"{where}: {k} must be a string")
        if data["status"] not in STATUSES:
            raise SuiteRecordError(f"{where}: unknown status {data['status']!r}")
        for k in ("members", "finished"):
            if data.get(k) is not None and not _is_int(data[k]):
                raise SuiteRecordError(f"{where}: {k} must be an integer")
        for k in ("rerun_of", "reason"):
            if data.get(k) is not None and not isinstance(data[k], str):
                raise SuiteRecordError(f"{where}: {k} must be a string")
        failed = data.get("failed") or []
        if not isinstance(failed, list) or not all(isinstance(f, str) for f in failed):
            raise SuiteRecordError(f"{where}: failed must be a list of member labels")
        runner, executor = data.get("runner"), data.get("executor")
        return cls(suite_id=data["suite_id"], status=data["status"], created=data["created"],
                   updated=data["updated"], rerun_of=data.get("rerun_of"),
                   members=data.get("members"), finished=data.get("finished"),
                   failed=tuple(failed), reason=data.get("reason"),
                   runner=None if runner is None else Runner.from_dict(runner, where),
                   executor=None if executor is None else ExecutorChoice.from_dict(
                       executor, where),
                   schema_version=data.get("schema_version", 0))


@dataclass(frozen=True)
class SuiteMembers:
    """members.json: member key → run id (its latest attempt). `schema_version` 0 means the keys
    are the old whole-spec keys, still to be converted by the suite folder."""

    members: dict[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "members": dict(self.members)}

    @classmethod
    def from_dict(cls, data: object, where: str = "members.json") -> SuiteMembers:
        mapping, version = _mapping(data, where, "members")
        if not isinstance(mapping, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise SuiteRecordError(f"{where}: expected member keys mapped to run ids")
        return cls(members=dict(mapping), schema_version=version)


@dataclass(frozen=True)
class Measurement:
    """What the suite measured of one member run itself: the worker's peak memory seen from
    outside (and how), or, for a member that failed before it had a run folder (bad input found
    by the worker), its status and error, which the report shows in place of a result."""

    peak_rss_bytes: int | None = None
    source: str | None = None
    status: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: object, where: str) -> Measurement:
        if not isinstance(data, dict):
            raise SuiteRecordError(f"{where}: a measurement must be an object")
        peak = data.get("peak_rss_bytes")
        if peak is not None and not (_is_int(peak) and peak >= 0):
            raise SuiteRecordError(f"{where}: peak_rss_bytes must be a non-negative integer")
        for k in ("source", "status", "error"):
            if data.get(k) is not None and not isinstance(data[k], str):
                raise SuiteRecordError(f"{where}: {k} must be a string")
        return cls(peak_rss_bytes=peak, source=data.get("source"), status=data.get("status"),
                   error=data.get("error"))


@dataclass(frozen=True)
class SuiteMeasurements:
    """measurements.json: run id → what the suite measured of that run itself."""

    runs: dict[str, Measurement] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION,
                "runs": {run_id: m.to_dict() for run_id, m in self.runs.items()}}

    def with_run(self, run_id: str, measurement: Measurement) -> SuiteMeasurements:
        return SuiteMeasurements(runs={**self.runs, run_id: measurement})

    @classmethod
    def from_dict(cls, data: object, where: str = "measurements.json") -> SuiteMeasurements:
        mapping, version = _mapping(data, where, "runs")
        if not isinstance(mapping, dict):
            raise SuiteRecordError(f"{where}: expected run ids mapped to measurements")
        return cls(runs={str(run_id): Measurement.from_dict(m, f"{where}: {run_id}")
                         for run_id, m in mapping.items()}, schema_version=version)


# -- files -------------------------------------------------------------------------------------

def has_suite_spec(folder: Path, *, any_kind: bool = False) -> bool:
    """Whether `folder` holds a suite spec file: a regular file, or with `any_kind` anything by
    that name (a FIFO, a dangling link: a listing reads it, and names why it is no suite).
    OSError when the folder cannot be searched (chmod 000)."""
    path = Path(folder) / SUITE_FILE
    return path.is_file() or (any_kind and os.path.lexists(path))


def read_suite_spec(folder: Path) -> SuiteSpec:
    """The suite's spec: RecordError (a ValueError naming the file) when the file cannot be
    read as JSON, SpecError when it is not a suite spec."""
    return SuiteSpec.from_dict(read_json_file(Path(folder) / SUITE_FILE))


def write_suite_spec(folder: Path, spec: SuiteSpec) -> None:
    atomic_write_text(Path(folder) / SUITE_FILE, dumps(spec.to_dict()))


def _read_record(path: Path) -> Any:
    """The JSON of `path`, None when there is no such file, SuiteRecordError when unreadable."""
    try:    # exists() raises too, on a folder that cannot be searched (chmod 000)
        if not path.exists() and not path.is_symlink():
            return None
        return read_json_file(path)
    except (OSError, ValueError) as exc:
        raise SuiteRecordError(f"{path}: cannot be read as a suite record ({exc})") from None


def read_status(folder: Path) -> SuiteStatus | None:
    """The suite's status (None before there is one)."""
    path = Path(folder) / STATUS_FILE
    data = _read_record(path)
    return None if data is None else SuiteStatus.from_dict(data, str(path))


def read_members(folder: Path) -> SuiteMembers:
    """The suite's member key → run id mapping (empty before there is one)."""
    path = Path(folder) / MEMBERS_FILE
    data = _read_record(path)
    return SuiteMembers() if data is None else SuiteMembers.from_dict(data, str(path))


def read_measurements(folder: Path) -> SuiteMeasurements:
    """What the suite measured of its runs (empty before there is one)."""
    path = Path(folder) / MEASUREMENTS_FILE
    data = _read_record(path)
    return SuiteMeasurements() if data is None else SuiteMeasurements.from_dict(data, str(path))


_FILES: dict[type[Any], str] = {SuiteStatus: STATUS_FILE, SuiteMembers: MEMBERS_FILE,
          SuiteMeasurements: MEASUREMENTS_FILE}


def write(folder: Path, record: SuiteStatus | SuiteMembers | SuiteMeasurements) -> None:
    """Write one of the suite's records (atomically) in its own file."""
    atomic_write_text(Path(folder) / _FILES[type(record)], dumps(record.to_dict()))


def unreadable(path: Path, exc: OSError) -> str:
    """`cannot read <file>: Permission denied`: the file that failed, and why."""
    return f"cannot read {exc.filename or path}: {exc.strerror or exc}"


def _is_int(v: object) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _mapping(data: object, where: str, key: str) -> tuple[object, int]:
    """The mapping a record holds under `key`, and its version: a version-0 file (no
    schema_version) is the flat mapping itself."""
    if isinstance(data, dict) and "schema_version" not in data:
        return data, 0
    versioned = _versioned(data, where)
    return versioned.get(key), versioned["schema_version"]


def _versioned(data: object, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SuiteRecordError(f"{where}: expected a JSON object, found {type(data).__name__}")
    version = data.get("schema_version", 0)
    if not _is_int(version) or version < 0:
        raise SuiteRecordError(f"{where}: schema_version must be a non-negative integer")
    if version > SCHEMA_VERSION:
        raise SuiteRecordError(f"{where}: schema version {version} is newer than this "
                               f"mnist-tui reads ({SCHEMA_VERSION}); upgrade mnist-tui")
    return {**data, "schema_version": version}
