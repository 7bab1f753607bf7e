"""A suite's folder: its recorded spec, member → run mapping, measurements and status; listing
suites, and reaping the ones whose runner is gone.

    <runs-dir>/suites/<suite-id>/  the SuiteSpec (re-runnable)
                                   member key → run id (the latest attempt)
                                   run id → what the suite measured itself (peak memory of
                                   the worker)
                                   created | running | finished | failed | interrupted, why,
                                   and who runs it
                                   lock: flock held by the runner (lock.py)
                                   report.*: html, md, json, csv (written at the end)

Every record in it is read and written through `records.py` (typed, versioned), which names the
files; this module decides what a suite folder is and keeps its records consistent.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from mnist_tui.engine.errors import MnistTuiError
from mnist_tui.engine.runs import store as runs
from mnist_tui.engine.runs.layout import SUITE_FILE
from mnist_tui.engine.runs.records import RecordError
from mnist_tui.engine.suites import records as suite_records
from mnist_tui.engine.suites.lock import SuiteLock
from mnist_tui.engine.suites.matching import key_for_spec, run_matches
from mnist_tui.engine.suites.records import (
    ACTIVE,
    Measurement,
    Runner,
    SuiteMeasurements,
    SuiteMembers,
    SuiteRecordError,
    SuiteStatus,
    unreadable,
)
from mnist_tui.engine.suites.spec import Member, SuiteSpec

SUITES_SUBDIR = "suites"
REAPED_REASON = "the runner process ended without finishing (killed, or its terminal closed)"


def new_suite_id(name: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{name}-{secrets.token_hex(3)}"


class SuiteFolder:
    """One suite's folder: its spec, member → run mapping, measurements and status."""

    def __init__(self, runs_dir: Path, suite_id: str) -> None:
        self.runs_dir = Path(runs_dir)
        self.suite_id = suite_id
        self.path = self.runs_dir / SUITES_SUBDIR / suite_id
        self.lock = SuiteLock(self.path, suite_id)   # held by whoever runs the suite

    @classmethod
    def create(cls, runs_dir: Path, spec: SuiteSpec, rerun_of: str | None = None) -> SuiteFolder:
        folder = cls(runs_dir, new_suite_id(spec.name))
        folder.path.mkdir(parents=True, exist_ok=False)
        suite_records.write_suite_spec(folder.path, spec)
        suite_records.write(folder.path, SuiteMembers())
        suite_records.write(folder.path, SuiteMeasurements())
        folder.write_status("created", rerun_of=rerun_of, runner=Runner.current())
        return folder

    @classmethod
    def open(cls, runs_dir: Path, suite_id: str) -> SuiteFolder:
        folder = cls(runs_dir, suite_id)
        if not suite_id or "/" in suite_id or suite_id.startswith("."):
            raise MnistTuiError(f"no suite {suite_id!r} in {runs_dir / SUITES_SUBDIR}")
        try:
            found = suite_records.has_suite_spec(folder.path)
        except OSError as exc:     # a folder that cannot be searched (chmod 000)
            raise MnistTuiError(f"suite {suite_id!r} cannot be read: "
                                f"{unreadable(folder.path, exc)}") from None
        if not found:
            raise MnistTuiError(f"no suite {suite_id!r} in {runs_dir / SUITES_SUBDIR}")
        return folder

    def spec(self) -> SuiteSpec:
        """The recorded spec: MnistTuiError naming the file when it cannot be read, SpecError
        when it is no suite spec."""
        try:
            return suite_records.read_suite_spec(self.path)
        except (OSError, RecordError) as exc:
            raise MnistTuiError(f"{self.path / SUITE_FILE}: cannot be read ({exc})") from None

    def members(self) -> dict[str, str]:
        """Member key → run id (SuiteRecordError when the member record cannot be read). Keys
        of a version-0 record (whole specs) are converted to today's keys of this suite's
        members."""
        record = suite_records.read_members(self.path)
        if record.schema_version == 0 and record.members:
            return self._convert_old_keys(record.members)
        return dict(record.members)

    def _convert_old_keys(self, old: dict[str, str]) -> dict[str, str]:
        names = {m.job: tuple(m.settings) for m in self.spec().members()}
        out: dict[str, str] = {}
        for key, run_id in old.items():
            try:
                spec = json.loads(key)
            except ValueError:
                spec = None
            job = spec.get("job") if isinstance(spec, dict) else None
            job_names = names.get(job) if isinstance(job, str) else None
            new = key_for_spec(spec, job_names) if job_names else None
            out.pop(new or key, None)          # a later entry is a later attempt: it wins
            out[new or key] = run_id
        return out

    def set_member(self, key: str, run_id: str) -> None:
        data = self.members()
        data[key] = run_id
        suite_records.write(self.path, SuiteMembers(data))

    def measurements(self) -> SuiteMeasurements:
        """The measurement record (empty before there is one; SuiteRecordError when
        unreadable)."""
        return suite_records.read_measurements(self.path)

    def set_measurement(self, run_id: str, measurement: Measurement) -> None:
        """Record one run's measurement. An unreadable file is replaced, not kept: what it held
        cannot be read by anyone, and the suite must not stop over a supplementary record."""
        try:
            record = self.measurements()
        except SuiteRecordError:
            record = SuiteMeasurements()
        suite_records.write(self.path, record.with_run(run_id, measurement))

    def read_status(self) -> SuiteStatus | None:
        """The status record (None before there is one; SuiteRecordError when it cannot be
        read)."""
        return suite_records.read_status(self.path)

    def status(self) -> dict[str, Any]:
        """The status record as a dict for display: {} when missing or unreadable."""
        try:
            st = self.read_status()
        except SuiteRecordError:
            return {}
        return st.to_dict() if st else {}

    def write_status(self, status: str, **changes: Any) -> None:
        """Record `status`, keeping the other fields (an unreadable file starts afresh). The
        reason belongs to one status: it is cleared unless given."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        try:
            old = self.read_status()
        except SuiteRecordError:
            old = None
        base = old or SuiteStatus(suite_id=self.suite_id, status=status, created=now,
                                  updated=now)
        changes.setdefault("reason", None)
        if "failed" in changes:
            changes["failed"] = tuple(changes["failed"])
        suite_records.write(self.path, replace(
            base, suite_id=self.suite_id, status=status, updated=now, **changes))

    def finished_run(self, member: Member) -> str | None:
        """The run id recorded for this member if that run finished with the member's settings."""
        run_id = self.members().get(member.key)
        if run_id and run_matches(self.runs_dir, run_id, member.key):
            return run_id
        return None


def list_suites(runs_dir: Path) -> list[str]:
    """The suite ids under `runs_dir`, newest first; unreadable folders are left out (see
    `scan_suites`, which says which and why)."""
    return scan_suites(runs_dir)[0]


def scan_suites(runs_dir: Path) -> tuple[list[str], list[runs.Skipped]]:
    """The suite ids (newest first) and the suite folders that could not be read, each with
    why: one `chmod 000` folder is skipped and named, never the end of the listing."""
    root = Path(runs_dir) / SUITES_SUBDIR
    ids: list[str] = []
    skipped: list[runs.Skipped] = []
    try:
        if not root.is_dir():
            return ids, skipped
        entries = list(root.iterdir())
    except OSError as exc:
        return ids, [runs.Skipped(str(root), unreadable(root, exc))]
    for p in entries:
        if p.name.startswith("."):
            continue
        try:
            if not suite_records.has_suite_spec(p, any_kind=True):
                continue           # not a suite folder (or one being created)
            # read as a resume would: a FIFO, a device, a link loop or a file that is not
            # a suite spec is a skipped folder named with why, never a suite that fails later
            suite_records.read_suite_spec(p)
        except OSError as exc:
            skipped.append(runs.Skipped(p.name, unreadable(p, exc)))
        except (ValueError, TypeError, MnistTuiError) as exc:
            skipped.append(runs.Skipped(p.name, str(exc) or type(exc).__name__))
        else:
            ids.append(p.name)
    return sorted(ids, reverse=True), skipped


def reap_suites(runs_dir: Path) -> list[str]:
    """Record as interrupted the suites of this host that say created/running but whose runner
    process is gone (killed, its terminal closed); returns their ids. Runs' `RunStore.reap` does
    the same for runs. Other hosts' suites, suites that name no runner (written before runners
    were recorded) and unreadable status files are left alone; a suite whose lock is held is
    being run (a new runner that has not written its status yet) and is left alone too."""
    reaped = []
    for suite_id in list_suites(runs_dir):
        folder = SuiteFolder(runs_dir, suite_id)
        try:
            if not _stale(folder) or not folder.lock.try_acquire():
                continue
        except MnistTuiError:       # a folder we cannot lock (read-only): not ours to change
            continue
        try:
            if _stale(folder):      # again, under the lock: it may have ended meanwhile
                folder.write_status("interrupted", reason=REAPED_REASON)
                reaped.append(suite_id)
        except OSError:
            pass
        finally:
            folder.lock.release()
    return reaped


def _stale(folder: SuiteFolder) -> bool:
    try:
        st = folder.read_status()
    except SuiteRecordError:
        return False
    return (st is not None and st.status in ACTIVE and st.runner is not None
            and not st.runner.alive())
