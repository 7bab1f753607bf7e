"""Running a suite's members: each a normal recorded run, submitted to an executor (one
worker at a time, `--parallel N` on this machine, or Ray: `executors.make_executor`),
resumable. `session.SuiteSession` is
what front ends use; `run_suite` is its member-running part (and what the lifecycle tests
drive directly). The listener is `listener.SuiteListenerProtocol`.

Ctrl-C (KeyboardInterrupt in the caller) interrupts the running members — each records what
it measured — and stops the suite, which a later `resume` continues: finished members are reused.
So does `cancel` (a set event: from another thread, the TUI). A failed member does not stop
the suite.

The runner holds the suite's lock for the whole run (`lock.SuiteLock`: a second runner gets
SuiteBusyError) and records itself in status.json (pid, host, start time), so a suite whose
runner died is told from a running one (`folder.reap_suites`). Whatever else escapes (a
listener's bug, an OSError writing a record) is recorded before it propagates: status "failed"
with the exception's type and message, and the running member's worker is interrupted rather
than left running unobserved.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from mnist_tui.engine.jobs.results import Placement
from mnist_tui.engine.runs import records
from mnist_tui.engine.runs import store as runs
from mnist_tui.engine.runs.records import RunResult
from mnist_tui.engine.suites.executor import (
    PEAK_SOURCE,
    Executor,
    LocalSerialExecutor,
    MemberJob,
    MemberRun,
)
from mnist_tui.engine.suites.folder import SuiteFolder
from mnist_tui.engine.suites.listener import SuiteListener, SuiteListenerProtocol
from mnist_tui.engine.suites.matching import finished_runs_by_key, run_problem
from mnist_tui.engine.suites.records import Measurement, Runner
from mnist_tui.engine.suites.spec import Member

if TYPE_CHECKING:
    from mnist_tui.engine.jobs.events import Event


@dataclass
class SuiteOutcome:
    status: str                      # finished | failed | interrupted
    results: dict[str, RunResult] = field(default_factory=dict)   # member key → result
    reused: list[str] = field(default_factory=list)          # run ids reused
    ran: list[str] = field(default_factory=list)             # run ids started now
    failed: list[str] = field(default_factory=list)          # member labels


def run_suite(folder: SuiteFolder, listener: SuiteListenerProtocol | None = None,
              reuse_store: bool = False, nice: int = 0, *, executor: Executor | None = None,
              cancel: threading.Event | None = None,
              datasets: dict[str, str] | None = None) -> SuiteOutcome:
    """Run (or continue) every member of the suite in `folder` through `executor` (default: a
    `LocalSerialExecutor` whose workers run at `nice`: see `launch.lower_priority`); `cancel`
    set stops it between members. `datasets`: member key → the fingerprint of the data the
    preflight read for it; a member whose worker reads other data fails with why.
    SuiteBusyError when another process runs it; any other exception propagates after
    status.json says failed, and why."""
    members = _Members(folder, listener or SuiteListener(),
                       executor or LocalSerialExecutor(folder.runs_dir, nice),
                       cancel or threading.Event(), datasets or {})
    with folder.lock:
        try:
            return members.run(reuse_store)
        except BaseException as exc:
            stopped = isinstance(exc, (KeyboardInterrupt, SystemExit))
            try:
                folder.write_status("interrupted" if stopped else "failed",
                                    reason=describe(exc))
            except Exception:  # noqa: BLE001 - the original error is the one to report
                pass
            raise


def describe(exc: BaseException) -> str:
    """`OSError: [Errno 28] No space left on device`: the type, then the message if any."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _Members:
    """One run of the member loop; the executor's sink (it records what comes back)."""

    def __init__(self, folder: SuiteFolder, listener: SuiteListenerProtocol,
                 executor: Executor, cancel: threading.Event,
                 datasets: dict[str, str]) -> None:
        self.folder = folder
        self.listener = listener
        self.executor = executor
        self.cancel = cancel
        self.datasets = datasets
        self.out = SuiteOutcome(status="finished")
        self.stop_after = False   # a member was interrupted: the suite stops
        self.running: dict[int, MemberJob] = {}   # started, not yet delivered
        self._lock = threading.RLock()   # sink calls may come from executor threads

    def run(self, reuse_store: bool) -> SuiteOutcome:
        folder, out = self.folder, self.out
        members = folder.spec().members()
        skipped: list[runs.Skipped] = []
        store_index = (finished_runs_by_key(folder.runs_dir, members, skipped)
                       if reuse_store else {})
        for s in skipped:
            self._warn(f"run folder {s.name} skipped: {s.reason}")
        total = len(members)
        folder.write_status("running", runner=Runner.current(), executor=self.executor.choice)
        with _StopSignals() as asked:
            try:
                for i, member in enumerate(members, 1):
                    if asked or self.cancel.is_set() or self.stop_after:
                        raise KeyboardInterrupt
                    run_id = folder.finished_run(member) or store_index.get(member.key)
                    if run_id:
                        self._reuse(i, total, member, run_id)
                        continue
                    self._warn_unreadable(member)
                    self.executor.submit(MemberJob(i, total, member,
                                                   self.datasets.get(member.key),
                                                   suite=folder.suite_id), self)
                    if self.stop_after:
                        break
                self.executor.drain()
            except KeyboardInterrupt:
                out.status = "interrupted"
                self._stop_running()
        if out.status != "interrupted" and out.failed:
            out.status = "failed"
        folder.write_status(out.status, members=total, finished=sum(
            1 for r in out.results.values() if r.status == "finished"),
            failed=out.failed)
        return out

    def _reuse(self, i: int, total: int, member: Member, run_id: str) -> None:
        folder = self.folder
        if folder.members().get(member.key) != run_id:
            folder.set_member(member.key, run_id)
        self.out.reused.append(run_id)
        reused = records.read_result(folder.runs_dir / run_id)
        if reused is not None:
            self.out.results[member.key] = reused
        self.listener.member_reused(i, total, member, run_id)
        if self.cancel.is_set():
            raise KeyboardInterrupt

    def _stop_running(self) -> None:
        """A Ctrl-C or a cancel while members run elsewhere (a pool, Ray): stop every one of
        them and wait for their records; a second Ctrl-C kills what still runs."""
        with self._lock:
            running = list(self.running.values())
        if self.executor.interrupt():
            for job in running:
                self.listener.interrupting(job.member)
        try:
            self.executor.drain()
        except KeyboardInterrupt:
            self.executor.kill()
            self.executor.drain()

    # -- the executor's sink ---------------------------------------------------------------
    def member_started(self, job: MemberJob, run_id: str, placement: Placement) -> None:
        """(Called again for a member retried elsewhere: only where it runs is new.)"""
        with self._lock:
            if job.index in self.running:
                self.listener.member_placed(job.index, job.member, run_id, placement)
                return
            self.listener.member_start(job.index, job.total, job.member)
            self.folder.set_member(job.member.key, run_id)
            self.listener.member_placed(job.index, job.member, run_id, placement)
            self.out.ran.append(run_id)
            self.running[job.index] = job

    def member_event(self, job: MemberJob, ev: Event) -> None:
        with self._lock:
            self.listener.member_event(job.index, job.member, ev)

    def member_interrupting(self, job: MemberJob) -> None:
        with self._lock:
            self.listener.interrupting(job.member)

    def member_done(self, run: MemberRun) -> None:
        with self._lock:
            self.running.pop(run.job.index, None)
            self._done(run)
        if self.stop_after:
            self.executor.interrupt()   # the others stop too, and nothing more starts

    def _done(self, run: MemberRun) -> None:
        folder, result = self.folder, run.result
        if run.recorded:
            if run.peak_rss_bytes is not None:
                folder.set_measurement(run.run_id, Measurement(
                    peak_rss_bytes=run.peak_rss_bytes, source=PEAK_SOURCE))
        else:   # no run folder (bad input found by the worker): the suite keeps the failure
            folder.set_measurement(run.run_id, Measurement(status=result.status,
                                                           error=result.error))
        job = run.job
        self.listener.member_end(job.index, job.total, job.member, result)
        status = run.status
        if run.interrupted:
            result = result.model_copy(update={"status": "interrupted"})
        self.out.results[job.member.key] = result
        if status in ("interrupted", "cancelled"):
            self.out.status = "interrupted"
            self.stop_after = True
        elif status != "finished":
            self.out.failed.append(job.member.label)

    # -- warnings for people ---------------------------------------------------------------
    def _warn(self, message: str) -> None:
        """A warning through the listener's events (the batch prints it). Names come from the
        file system: control characters are escaped and the length is bounded."""
        from mnist_tui.engine.jobs.events import Log
        from mnist_tui.engine.text import shown

        self.listener.event(Log(message=shown(message, 400), level="warning"))

    def _warn_unreadable(self, member: Member) -> None:
        """The member's recorded run cannot be read (chmod 000, an I/O error): say which and
        why before running the member again, rather than rerun it silently."""
        run_id = self.folder.members().get(member.key)
        problem = run_problem(self.folder.runs_dir, run_id) if run_id else None
        if problem:
            self._warn(f"{member.label}: its run {run_id} cannot be read ({problem}); "
                       "running it again")


_Handler = Callable[[int, FrameType | None], Any] | int | None


class _StopSignals:
    """SIGTERM (and SIGINT, unless the caller has its own handler) raise KeyboardInterrupt
    while the suite runs; the list it yields records the signals seen, even those whose
    KeyboardInterrupt Python swallowed.

    signal.signal works on the main thread only: a front end that runs the suite in a thread
    (the TUI) stops the member through `cancel` and the executor instead. SIGINT's handler is
    Python's own plus a note: a KeyboardInterrupt raised in a finaliser (the finished member's
    Popen.__del__, as its frame goes) is printed and ignored, and the suite used to run on to
    its end. A caller's own SIGINT handler is kept; Python's, the default and an inherited
    "ignore" are replaced, as `--batch --job` does: a suite started in the background by a
    script (which starts it with SIGINT ignored) still stops on `kill -INT`, and says so."""

    def __init__(self) -> None:
        self.asked: list[int] = []
        self.previous: dict[signal.Signals, _Handler] = {}

    def _on_stop(self, signum: int, frame: FrameType | None) -> NoReturn:
        self.asked.append(signum)
        raise KeyboardInterrupt

    def __enter__(self) -> list[int]:
        if threading.current_thread() is threading.main_thread():
            self.previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._on_stop)
            if signal.getsignal(signal.SIGINT) in (signal.default_int_handler,
                                                   signal.SIG_DFL, signal.SIG_IGN):
                self.previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._on_stop)
        return self.asked

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
