"""How a suite's members run: the session submits each member to an executor, which delivers
the member's events and its final result back (through a `MemberSink`).

Executors (`executors.make_executor` builds the one a suite asks for):
- `LocalSerialExecutor` (here): one worker process at a time on this machine, read
  synchronously, so `submit` returns once the member ended and every callback comes on the
  caller's thread. `--parallel 1`, today's behaviour.
- `local_pool.LocalPoolExecutor`: `--parallel N` workers at once on this machine, each with its
  share of the cores or a GPU of its own.
- `ray_executor.RayExecutor`: each member a Ray task on whichever node Ray picks.
The last two deliver from threads of their own: `submit` returns once the member started (it
waits for a free slot), and `drain` waits for the rest. Their sink calls come one at a time
(the executor serialises them), never on the caller's thread.

Where a member runs (`results.Placement`) is decided by the executor and handed to its worker
with its thread share, GPU and the suite's dataset fingerprint (`engine/placement.py`); the
worker records it in the member's run record and fails, with the reason, when its data is not
the suite's.

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
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mnist_tui.engine.jobs.results import CLASSIFIER_JOBS, Placement
from mnist_tui.engine.placement import usable_cpus, worker_env
from mnist_tui.engine.runs.launch import WorkerRun
from mnist_tui.engine.runs.owner import owner_env
from mnist_tui.engine.runs.records import RunResult
from mnist_tui.engine.suites.records import ExecutorChoice

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
    expect_dataset: str | None = None   # the suite's dataset fingerprint (None: not checked)
    suite: str | None = None            # the suite's id (its workers' recorded owner)

    @property
    def classifier(self) -> bool:
        """A member that trains a network (the one that gains from a GPU of its own)."""
        return self.member.job in CLASSIFIER_JOBS


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

    def member_started(self, job: MemberJob, run_id: str, placement: Placement) -> None:
        """Its run id and place are chosen; the worker starts next (raising here starts
        nothing)."""

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
        that start their work later are signalled as soon as they can be, and none starts
        after it."""

    def kill(self) -> None:
        """SIGKILL to the running members (they ignored the interrupt)."""

    @property
    def pid(self) -> int | None:
        """The running member's worker process, once it said it started (a serial executor's;
        None for the others: their members are stopped through `interrupt`)."""

    @property
    def choice(self) -> ExecutorChoice:
        """What it is, as status.json records it."""

    def close(self) -> None:
        """The suite ended: release what the executor holds (a Ray it started)."""


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


class LocalMember:
    """One member in a worker process on this machine, read on the calling thread: shared by
    the serial executor (the caller's thread) and the pool (a thread per member). Thread-safe:
    `interrupt`, `kill` and `pid` may be called from other threads while `run` reads."""

    def __init__(self, job: MemberJob, runs_dir: Path, nice: int, placement: Placement,
                 threads: int | None, gpu: str | None) -> None:
        self.job = job
        self.placement = placement
        self.worker = WorkerRun(job.member.spec, runs_dir, nice=nice, env={
            **worker_env(threads=threads, gpu=gpu, placement=placement.to_dict(),
                         expect_dataset=job.expect_dataset),
            **owner_env("suite", job.suite)})
        self.runs_dir = Path(runs_dir)
        self._lock = threading.Lock()
        self._pid: int | None = None      # the worker, once it said it started
        self._signalled = False           # SIGINT already sent to it
        self._stopping = False            # interrupt() was called: stop it once it starts

    @property
    def run_id(self) -> str:
        return self.worker.run_id

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._pid

    @property
    def stopping(self) -> bool:
        with self._lock:
            return self._stopping

    def run(self, sink: MemberSink, deliver: threading.Lock | None = None) -> None:
        """Start the worker, pass its events on, deliver its end. A KeyboardInterrupt on this
        thread (the serial executor's caller) interrupts it; `deliver` serialises the sink's
        calls with other members' (the pool)."""
        from contextlib import nullcontext

        job, worker = self.job, self.worker
        one_at_a_time = deliver if deliver is not None else nullcontext()
        peak: int | None = None
        interrupted = False
        with one_at_a_time:
            sink.member_started(job, worker.run_id, self.placement)
        try:
            worker.start()
            assert worker.proc is not None   # start() sets it
            for ev in worker.events():
                peak = _max(peak, read_vmhwm(worker.proc.pid))
                self._seen(ev)
                with one_at_a_time:
                    sink.member_event(job, ev)
        except KeyboardInterrupt:
            interrupted = True
            with one_at_a_time:
                sink.member_interrupting(job)
            if worker.proc is not None:
                worker.stop(signal.SIGINT)
                for ev in worker.events():
                    with one_at_a_time:
                        sink.member_event(job, ev)
        except BaseException:
            _abandon(worker)
            raise
        interrupted = interrupted or self.stopping
        result = worker.outcome("interrupted" if interrupted else "failed")
        if interrupted and result.status == "finished":
            interrupted = False  # it finished before the signal reached it
        if result.run_id is None:
            result = result.model_copy(update={"run_id": worker.run_id})
        with one_at_a_time:
            sink.member_done(MemberRun(job=job, run_id=worker.run_id, result=result,
                                       interrupted=interrupted, peak_rss_bytes=peak,
                                       recorded=(self.runs_dir / worker.run_id).is_dir()))

    def _seen(self, ev: Event) -> None:
        """Note the worker's pid when it says it started; a stop asked before then is sent
        now."""
        from mnist_tui.engine.jobs.events import Started

        if isinstance(ev, Started):
            with self._lock:
                self._pid = ev.pid or None
        if self.stopping:
            self.interrupt()

    def interrupt(self) -> bool:
        """SIGINT once, as soon as the worker said it started (its handlers are set)."""
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


class LocalSerialExecutor:
    """One member at a time, in a worker process on this machine (`launch.WorkerRun`), at
    `nice` (see `launch.lower_priority`), with every core. Thread-safe: `interrupt`, `kill` and
    `pid` may be called from other threads while `submit` runs."""

    choice = ExecutorChoice(kind="local", parallel=1)

    def __init__(self, runs_dir: Path, nice: int = 0) -> None:
        self.runs_dir = Path(runs_dir)
        self.nice = nice
        self._lock = threading.Lock()
        self._member: LocalMember | None = None
        self._stopping = False

    def close(self) -> None:
        pass

    @property
    def pid(self) -> int | None:
        with self._lock:
            member = self._member
        return member.pid if member is not None else None

    def drain(self) -> None:
        """Nothing is pending: `submit` returned with its member delivered."""

    def submit(self, job: MemberJob, sink: MemberSink) -> None:
        member = LocalMember(job, self.runs_dir, self.nice, Placement(
            executor="local", parallel=1, host=socket.gethostname(), cpus=usable_cpus()),
            threads=None, gpu=None)
        with self._lock:
            self._member = member
            if self._stopping:
                member.interrupt()
        member.run(sink)

    def interrupt(self) -> bool:
        with self._lock:
            self._stopping = True
            member = self._member
        return member.interrupt() if member is not None else False

    def kill(self) -> None:
        with self._lock:
            member = self._member
        if member is not None:
            member.kill()


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
