"""How a suite's members run: the session submits each member to an executor, which delivers
the member's events and its final result back (through a `MemberSink`).

Today there is one executor, `LocalSerialExecutor`: one worker process at a time on this
machine, read synchronously, so `submit` returns once the member ended and every callback
comes on the caller's thread. The seam is for executors that run several members at once
(here, or elsewhere): their `submit` returns at once, they deliver later, and `drain` waits.

Peak memory: the executor measures it where the worker runs. The local one reads the worker's
`VmHWM` (the kernel's high-water mark of its resident set) from /proc at every event; the
last read, at the terminal event, is after the job's work, so it is the job's peak. The worker
also records its own: `peak_rss_bytes` (getrusage) and a `system` summary (CPU %, RSS, GPU
memory and use) in its result record, and the report prefers that figure; this measurement,
taken the same way for every member, is kept in measurements.json for members without it (no
result, or one from before workers recorded their peak).

Stopping: a Ctrl-C (KeyboardInterrupt in the caller's thread) interrupts the running member,
which records what it measured; `interrupt()` (from any thread: the TUI's cancel) sends the
worker SIGINT once it said it started (its handlers are set by then); `kill()` is the last
resort for a worker that ignored it.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mnist_tui.engine.runs.launch import WorkerRun
from mnist_tui.engine.runs.records import RunResult

if TYPE_CHECKING:
    from mnist_tui.engine.jobs.events import Event
    from mnist_tui.engine.suites.spec import Member

PEAK_SOURCE = "worker VmHWM from /proc, read by the suite while the worker ran"


@dataclass(frozen=True)
class MemberJob:
    """One member submitted: its place in the suite (index from 1) and what it runs."""

    index: int
    total: int
    member: Member


@dataclass(frozen=True)
class MemberRun:
    """A member's end, as its executor delivers it."""

    job: MemberJob
    run_id: str
    result: RunResult
    interrupted: bool              # stopped by Ctrl-C, and it did not finish anyway
    peak_rss_bytes: int | None     # measured while it ran (None: never read)
    recorded: bool                 # the worker made its run folder (False: bad input)

    @property
    def status(self) -> str:
        """finished | failed | cancelled | interrupted: what the suite counts it as."""
        return "interrupted" if self.interrupted else self.result.status


class MemberSink(Protocol):
    """Where an executor delivers a member's life (the suite's runner)."""

    def member_started(self, job: MemberJob, run_id: str) -> None:
        """Its run id is chosen; the worker starts next (raising here starts nothing)."""

    def member_event(self, job: MemberJob, ev: Event) -> None:
        """Every event of its worker."""

    def member_interrupting(self, job: MemberJob) -> None:
        """A Ctrl-C reached the caller: the member is being stopped."""

    def member_done(self, run: MemberRun) -> None:
        """Its final result."""


class Executor(Protocol):
    """Runs submitted members and reports them to their sink."""

    def submit(self, job: MemberJob, sink: MemberSink) -> None:
        """Run `job`; its events and result go to `sink`."""

    def drain(self) -> None:
        """Wait until every submitted member was delivered."""

    def interrupt(self) -> bool:
        """SIGINT to the running members (each once); True when one was signalled. Members
        that start their work later are signalled as soon as they can be."""

    def kill(self) -> None:
        """SIGKILL to the running members (they ignored the interrupt)."""

    @property
    def pid(self) -> int | None:
        """The running member's worker process, once it said it started."""


def read_vmhwm(pid: int) -> int | None:
    """Peak resident set size of a live process in bytes (Linux), else None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class LocalSerialExecutor:
    """One member at a time, in a worker process on this machine (`launch.WorkerRun`), at
    `nice` (see `launch.lower_priority`). Thread-safe: `interrupt`, `kill` and `pid` may be
    called from other threads while `submit` runs."""

    def __init__(self, runs_dir: Path, nice: int = 0) -> None:
        self.runs_dir = Path(runs_dir)
        self.nice = nice
        self._lock = threading.Lock()
        self._pid: int | None = None       # the running worker, once it said it started
        self._signalled = False            # SIGINT already sent to it
        self._stopping = False             # interrupt() was called: stop what starts too

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._pid

    def drain(self) -> None:
        """Nothing is pending: `submit` returned with its member delivered."""

    def submit(self, job: MemberJob, sink: MemberSink) -> None:
        worker = WorkerRun(job.member.spec, self.runs_dir, nice=self.nice)
        with self._lock:
            self._pid, self._signalled = None, False
        peak: int | None = None
        interrupted = False
        sink.member_started(job, worker.run_id)
        try:
            worker.start()
            assert worker.proc is not None   # start() sets it
            for ev in worker.events():
                peak = _max(peak, read_vmhwm(worker.proc.pid))
                self._seen(ev)
                sink.member_event(job, ev)
        except KeyboardInterrupt:
            interrupted = True
            sink.member_interrupting(job)
            if worker.proc is not None:
                worker.stop(signal.SIGINT)
                for ev in worker.events():
                    sink.member_event(job, ev)
        except BaseException:
            _abandon(worker)
            raise
        result = worker.outcome("interrupted" if interrupted else "failed")
        if interrupted and result.status == "finished":
            interrupted = False  # it finished before the signal reached it
        if result.run_id is None:
            result = result.model_copy(update={"run_id": worker.run_id})
        sink.member_done(MemberRun(job=job, run_id=worker.run_id, result=result,
                                   interrupted=interrupted, peak_rss_bytes=peak,
                                   recorded=(self.runs_dir / worker.run_id).is_dir()))

    def _seen(self, ev: Event) -> None:
        """Note the worker's pid when it says it started; a cancel asked before then is sent
        now."""
        from mnist_tui.engine.jobs.events import Started

        if isinstance(ev, Started):
            with self._lock:
                self._pid = ev.pid or None
        with self._lock:
            stopping = self._stopping
        if stopping:
            self.interrupt()

    def interrupt(self) -> bool:
        with self._lock:
            self._stopping = True
            if self._pid is None or self._signalled:
                return False
            self._signalled = True
            pid = self._pid
        try:
            os.kill(pid, signal.SIGINT)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def kill(self) -> None:
        pid = self.pid
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _abandon(worker: WorkerRun) -> None:
    """The suite stops on an error of its own: interrupt the member's worker (it records what
    it has) and wait for it, rather than leave it running unobserved."""
    if worker.proc is None or worker.proc.poll() is not None:
        return
    try:
        worker.stop(signal.SIGINT)
        for _ in worker.events():
            pass
        worker.outcome("interrupted")
    except Exception:  # noqa: BLE001 - the error being raised is the one to report
        pass


def _max(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)
