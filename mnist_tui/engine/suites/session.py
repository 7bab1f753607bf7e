"""A suite session: one suite run from start to report, the same for every front end.

    preflight → the suite folder → its members (`runner.run_suite`, through an executor) →
    the report (`report.build_report`) → report.html/.md/.json/.csv in the suite folder

`run()` does it on the caller's thread (the batch: Ctrl-C stops it, the runner's signal
handling applies); `start()` on a thread the session owns (the TUI), which `cancel()` and
`kill()` stop from any other thread and `running` reports on. What happens is told to a
`listener.SuiteListenerProtocol`, on the session's thread.

A session is created from a `SuiteSpec` (a new suite), or from a recorded suite's id: resumed
(finished members are reused) or, with `rerun=True`, its spec run again as a new suite.
A resumed suite's lock is taken before the preflight (`claim`, which a front end may call
first to refuse at once) and released when the session ends.

Errors: `MnistTuiError` before any member ran (nothing recorded; SuiteBusyError: another
process runs the suite); `SuiteFailed` when the suite stopped on an error of its own while its
members ran (recorded failed in status.json, with why); the report's own errors as they are.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_tui.engine.suites.executor import Executor
from mnist_tui.engine.suites.folder import SuiteFolder
from mnist_tui.engine.suites.listener import SuiteListener, SuiteListenerProtocol
from mnist_tui.engine.suites.lock import SuiteBusyError
from mnist_tui.engine.suites.records import ExecutorChoice
from mnist_tui.engine.suites.report_model import SuiteReport
from mnist_tui.engine.suites.runner import SuiteOutcome, describe, run_suite
from mnist_tui.engine.suites.spec import SuiteSpec

if TYPE_CHECKING:
    from mnist_tui.engine.jobs.events import Event


class SuiteFailed(Exception):
    """The suite stopped on an error of its own while its members ran (`cause`); status.json
    says failed, and `--resume` continues it."""

    def __init__(self, suite_id: str, cause: Exception) -> None:
        super().__init__(describe(cause))
        self.suite_id = suite_id
        self.cause = cause


@dataclass(frozen=True)
class SuiteResult:
    """A suite that ended: how, its report and the report files written in its folder."""

    folder: SuiteFolder
    outcome: SuiteOutcome
    report: SuiteReport
    paths: tuple[Path, ...]

    @property
    def status(self) -> str:
        return self.outcome.status


class SuiteSession:
    """Runs, resumes, cancels and reports one suite (see the module's docstring)."""

    def __init__(self, runs_dir: Path, source: SuiteSpec | str, *, rerun: bool = False,
                 listener: SuiteListenerProtocol | None = None, reuse_store: bool = False,
                 nice: int = 0, executor: Executor | None = None,
                 choice: ExecutorChoice | None = None) -> None:
        """`source`: a new suite's spec, or a recorded suite's id (MnistTuiError when it
        cannot be opened). The members run on `executor`, else on the one `choice` names
        (`executors.make_executor`, built when the session runs: a Ray that cannot be reached
        is a MnistTuiError before any member ran), else one at a time on this machine."""
        self.runs_dir = Path(runs_dir)
        self.listener: SuiteListenerProtocol = listener or SuiteListener()
        self.reuse_store = reuse_store
        self.nice = nice
        self.choice = choice or (executor.choice if executor is not None else ExecutorChoice())
        self._executor: Executor | None = executor
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._running = False
        self._folder: SuiteFolder | None = None
        self._result: SuiteResult | None = None
        self._error: Exception | None = None
        self._claimed: SuiteFolder | None = None   # a resumed suite whose lock we hold
        self._recorded: SuiteFolder | None = None  # the recorded suite resumed or rerun
        if isinstance(source, SuiteSpec):
            self._spec = source
        else:
            self._recorded = SuiteFolder.open(self.runs_dir, source)
            self._spec = self._recorded.spec()
        self.rerun = rerun and self._recorded is not None
        self.resumed = self._recorded is not None and not rerun

    # -- what other threads may read -------------------------------------------------------
    @property
    def spec(self) -> SuiteSpec:
        return self._spec

    @property
    def running(self) -> bool:
        """True from `start()` (or `run()`) until the session's work has ended."""
        with self._lock:
            return self._running

    @property
    def folder(self) -> SuiteFolder | None:
        """The suite's folder once it exists (a resumed suite's: from the start)."""
        with self._lock:
            return self._folder if self._folder is not None else (
                self._recorded if self.resumed else None)

    @property
    def result(self) -> SuiteResult | None:
        """The ended suite (None while it runs, or when it stopped on an error)."""
        with self._lock:
            return self._result

    @property
    def error(self) -> Exception | None:
        with self._lock:
            return self._error

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def executor(self) -> Executor | None:
        """The executor running the members (None before the session built it)."""
        with self._lock:
            return self._executor

    @property
    def pid(self) -> int | None:
        """The running member's worker process, once it said it started (one at a time on
        this machine; None for executors that run several)."""
        executor = self.executor
        return executor.pid if executor is not None else None

    # -- control ---------------------------------------------------------------------------
    def claim(self) -> None:
        """A resumed suite: take its lock now (SuiteBusyError when another process runs it)
        and read its members (a bad members.json stops here, not mid-run). Nothing for a new
        suite. Idempotent; released when the session ends."""
        if not self.resumed or self._claimed is not None:
            return
        folder = self._recorded
        assert folder is not None
        folder.lock.acquire()
        self._claimed = folder
        try:
            folder.members()
        except BaseException:
            self._release()
            raise

    def cancel(self) -> None:
        """Stop the suite from any thread: the running member is interrupted (it records what
        it has), no other starts, and the suite records itself interrupted (resumable)."""
        self._cancel.set()
        executor = self.executor
        if executor is not None:
            executor.interrupt()

    def kill(self) -> None:
        """The running members ignored the interrupt: SIGKILL (recorded as workers that
        died)."""
        executor = self.executor
        if executor is not None:
            executor.kill()

    def start(self) -> None:
        """Run the session on a thread of its own. The interpreter waits for that thread at
        exit, so a cancelled suite finishes recording itself."""
        with self._lock:
            if self._running:
                raise RuntimeError("the suite session is already running")
            self._running = True
        self._thread = threading.Thread(target=self._run_in_thread, name="suite-session")
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for a started session; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def run(self) -> SuiteResult:
        """The whole suite on this thread (see the module's docstring for its errors)."""
        with self._lock:
            if self._running and self._thread is None:
                raise RuntimeError("the suite session is already running")
            self._running = True
        try:
            return self._run()
        except Exception as exc:
            with self._lock:
                self._error = exc
            self.listener.suite_error(exc)
            raise
        finally:
            self._release()
            executor = self.executor
            if executor is not None:
                executor.close()
            with self._lock:
                self._running = False

    def _run_in_thread(self) -> None:
        try:
            self.run()
        except Exception:  # noqa: BLE001 - told to the listener (suite_error), kept in .error
            pass

    # -- the work --------------------------------------------------------------------------
    def _run(self) -> SuiteResult:
        from mnist_tui.engine.suites.folder import reap_suites
        from mnist_tui.engine.suites.report import build_report
        from mnist_tui.engine.suites.report_files import write_report

        if self.resumed and self._claimed is None:
            reap_suites(self.runs_dir)   # suites whose runner died say so before we list them
            self.claim()                 # before the preflight: a second runner stops at once
        datasets = self._preflight()
        executor = self._build_executor()
        folder = self._recorded if self.resumed else SuiteFolder.create(
            self.runs_dir, self._spec,
            rerun_of=self._recorded.suite_id if self._recorded is not None else None)
        assert folder is not None
        with self._lock:
            self._folder = folder
        self.listener.suite_ready(folder, self._spec, self.resumed)
        if self._cancel.is_set():   # cancelled before any member ran
            folder.write_status("interrupted", members=len(self._spec.members()),
                                finished=0, failed=[])
            outcome = SuiteOutcome(status="interrupted")
        else:
            try:
                outcome = run_suite(folder, self.listener, self.reuse_store,
                                    executor=executor, cancel=self._cancel,
                                    datasets=datasets)
            except SuiteBusyError:
                raise
            except Exception as exc:   # recorded in status.json as failed, with the reason
                raise SuiteFailed(folder.suite_id, exc) from exc
        report = build_report(folder, outcome.status)
        paths = write_report(report, folder.path / "report.html")
        result = SuiteResult(folder=folder, outcome=outcome, report=report, paths=tuple(paths))
        with self._lock:
            self._result = result
        self.listener.suite_end(result)
        return result

    def _preflight(self) -> dict[str, str]:
        from mnist_tui.engine.suites.plan import preflight

        def emit(ev: Event) -> None:
            self.listener.preflight_event(ev)

        return preflight(self._spec.members(), emit)

    def _build_executor(self) -> Executor:
        from mnist_tui.engine.suites.executors import make_executor

        with self._lock:
            if self._executor is not None:
                return self._executor
        executor = make_executor(self.choice, self.runs_dir, self.nice)
        with self._lock:
            self._executor = executor
        if self._cancel.is_set():
            executor.interrupt()
        return executor

    def _release(self) -> None:
        folder, self._claimed = self._claimed, None
        if folder is not None:
            folder.lock.release()
