"""The job manager: a queue of specs, worker processes, and their events read asynchronously.

Workers are the engine's (`launch.worker_argv`); this module only starts them, reads their JSON
lines on the app's event loop, folds each event into a `Job` (plain data the screens read), and
tells the app through a callback (which posts Textual messages). It runs `max_running` jobs at a
time (1 by default: the machines have few cores and two trainings would only fight over them).

A worker that dies without a result (SIGKILL, OOM) is recorded by the engine's
`launch.record_dead_worker`, as `WorkerRun.outcome` does for batch runs and suites.

The members of a suite this window runs are followed too (`follow_member`): their workers are
the suite's (its executor's: here, or a Ray node), so they are fed by the suite's listener
(`feed`, on the UI thread), never started, signalled nor re-attached here (`Job.member`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mnist_tui.engine.jobs.events import TERMINAL_TYPES, Event
from mnist_tui.engine.runs import store as runs
from mnist_tui.engine.runs.launch import (
    GRACE_SECONDS,
    lower_priority,
    parse_event_line,
    record_dead_worker,
    stderr_tail,
    worker_argv,
    worker_env,
)
from mnist_tui.engine.runs.layout import EVENTS_FILE, SPEC_FILE
from mnist_tui.engine.runs.owner import owner_env
from mnist_tui.engine.runs.procs import is_run_worker
from mnist_tui.tui.job import ACTIVE as ACTIVE
from mnist_tui.tui.job import Job as Job

if TYPE_CHECKING:
    from mnist_tui.engine.jobs.results import Placement
    from mnist_tui.engine.runs.records import RunMeta, RunResult

REFUSED = ("refused by its worker: its input was bad, and it removed the run folder it had made "
           "(the error: line went to whatever started it)")
STREAM_LIMIT = 1 << 24  # one snapshot line can be large; asyncio's default limit is 64 KiB
# Workers run at a lower CPU priority so that key presses are answered at once while a job
# keeps every core busy (the worker still gets all the CPU the UI does not use).
WORKER_NICE = int(os.environ.get("MNIST_TUI_WORKER_NICE", "10") or 0)


def _read_from(path: Path, offset: int) -> bytes:
    """What an events file holds past `offset` (b"" if it does not exist yet, or is not a
    regular file: a FIFO would block this thread for ever, and the app could never exit)."""
    try:
        return runs.read_events_from(path, offset)
    except OSError:
        return b""


def _age_seconds(created: str) -> float | None:
    """Seconds since a meta record's `created` stamp (%Y-%m-%dT%H:%M:%S%z)."""
    from datetime import datetime

    try:
        return max(0.0, time.time() - datetime.strptime(created, "%Y-%m-%dT%H:%M:%S%z")
                   .timestamp())
    except (TypeError, ValueError):
        return None


Notify = Callable[[Job, str], None]   # (job, what) — what: an event type, or "state"


class JobManager:
    """Queue → worker processes → events → `Job`s. Lives on the app's asyncio loop."""

    def __init__(self, runs_dir: Path, notify: Notify, max_running: int = 1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.runs_dir = Path(runs_dir)
        self.notify = notify
        self.max_running = max(1, max_running)
        self.clock = clock
        self.jobs: dict[str, Job] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._kill_timers: dict[str, asyncio.TimerHandle] = {}
        self.held_by: str | None = None   # why queued jobs wait (a suite is running)
        self.latest: str | None = None    # the job submitted last (the Monitor selects it)
        self._leaving = False             # the app quits, leaving its jobs running

    # -- queries -------------------------------------------------------------------------
    def ordered(self) -> list[Job]:
        """Running first, then queued (in order), then ended (newest first)."""
        order = {"running": 0, "starting": 0, "stopping": 0, "queued": 1}
        jobs = list(self.jobs.values())
        return sorted(jobs, key=lambda j: (order.get(j.state, 2),
                                           j.queued_at if j.state == "queued"
                                           else -(j.started_at or j.queued_at)))

    def running(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.state in ("starting", "running", "stopping")]

    def own_running(self) -> list[Job]:
        """The running jobs that are not a suite's members (this window's queue, re-attached)."""
        return [j for j in self.running() if not j.member]

    def started_here(self) -> list[Job]:
        """The active jobs this window started (its queue): all that its quit may stop."""
        return [j for j in self.jobs.values() if j.active and j.ours]

    def others(self) -> list[Job]:
        """The running jobs this window follows but did not start (another window's, a batch
        run's, a suite's, or left running by a window that is gone): a quit never stops them."""
        return [j for j in self.running() if j.attached]

    def active(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.active]

    def live_pid(self, job: Job) -> int | None:
        """The pid of the job's worker while it is that very process (for the system panel);
        None for a queued, ended or replayed job."""
        if job.state not in ("starting", "running", "stopping") or job.pid is None:
            return None
        proc = self._procs.get(job.job_id)
        if proc is not None:
            return proc.pid if proc.poll() is None else None
        if job.attached and is_run_worker(job.pid, job.pid_start, job.run_dir):
            return job.pid
        return None

    # -- commands ------------------------------------------------------------------------
    def submit(self, spec_dict: dict[str, Any], rerun_of: str | None = None) -> Job:
        """Queue a validated spec; it starts as soon as a slot is free. `rerun_of` names the run
        it repeats, recorded in its meta and result records as `--batch --rerun` does."""
        run_id = runs.new_run_id(spec_dict["job"])
        while run_id in self.jobs:
            run_id = runs.new_run_id(spec_dict["job"])
        job = Job(run_id, dict(spec_dict), self.runs_dir / run_id, queued_at=self.clock(),
                  rerun_of=rerun_of)
        self.jobs[run_id] = job
        self.latest = run_id
        self.notify(job, "state")
        self._schedule()
        return job

    def hold(self, reason: str) -> None:
        """Start no queued job until `release` (a suite is timing its members: a job beside
        it would share the cores and its times)."""
        self.held_by = reason

    def release(self) -> None:
        self.held_by = None
        self._schedule()

    def add_replay(self, job: Job) -> None:
        """Show a job that is not ours (tests, screenshots: recorded events)."""
        self.jobs[job.job_id] = job
        self.notify(job, "state")

    def cancel(self, job_id: str, sig: int = signal.SIGUSR1, grace: float = GRACE_SECONDS) -> bool:
        """Cancel a queued job at once; ask a running one to stop (SIGUSR1: "cancelled from the
        TUI"), kill it after `grace`. Works for re-attached jobs too (by pid and start time)."""
        job = self.jobs.get(job_id)
        if job is None or not job.active or job.member:
            return False      # a member stops with its suite (Suites: x), never on its own
        if job.state == "queued":
            job.state, job.error = "cancelled", "cancelled before it started"
            self.notify(job, "state")
            return True
        job.state = "stopping"
        self.notify(job, "state")
        if self._signal(job, sig):
            loop = asyncio.get_running_loop()
            self._kill_timers[job_id] = loop.call_later(grace, self._kill, job_id)
        return True

    async def shutdown(self, sig: int = signal.SIGUSR1, grace: float = GRACE_SECONDS) -> None:
        """Stop what this window started (quitting with "stop"): drop the queue, signal its
        workers, wait, kill. Jobs it only follows (`others`) go on: they are not its to stop."""
        for job in list(self.jobs.values()):
            if job.state == "queued":
                job.state, job.error = "cancelled", "the app quit before it started"
        for job in self.running():
            if job.ours:
                self.cancel(job.job_id, sig, grace)
        tasks = [t for run_id, t in self._tasks.items()
                 if not t.done() and self.jobs[run_id].ours]
        if tasks:
            await asyncio.wait(tasks, timeout=grace + 5)

    def leave(self) -> int:
        """Quitting with "leave running": drop the queue; running workers go on by themselves
        (they are detached) and the next TUI re-attaches to them. Returns how many go on."""
        for job in list(self.jobs.values()):
            if job.state == "queued":
                job.state, job.error = "cancelled", "the app quit before it started"
        self._leaving = True
        for task in self._tasks.values():
            task.cancel()     # stop reading: their pipes close, the workers write to their folders
        return len(self.running())

    def attach(self, run_id: str, spec: dict[str, Any], meta: RunMeta,
               own_suite: str | None = None) -> Job | None:
        """Follow a live run this app did not start (a previous TUI's, another TUI's): its
        events.jsonl from the first line, then as it grows, until it ends. `own_suite`: the
        suite this window runs, whose members its listener feeds (never followed twice)."""
        owner = meta.owner
        if run_id in self.jobs or (owner is not None and owner.kind == "suite"
                                   and own_suite is not None and owner.suite == own_suite):
            return None
        if not is_run_worker(meta.pid, meta.pid_start, self.runs_dir / run_id):
            return None     # never follow (nor later signal) a process that is not its worker
        job = Job(run_id, dict(spec), self.runs_dir / run_id, state="running",
                  queued_at=self.clock())
        job.pid, job.pid_start, job.attached = meta.pid, meta.pid_start, True
        job.owner = meta.owner
        age = _age_seconds(meta.created)
        job.started_at = self.clock() - age if age is not None else self.clock()
        self.jobs[run_id] = job
        self.notify(job, "state")
        self._tasks[run_id] = asyncio.get_running_loop().create_task(self._follow(job))
        return job

    # -- a running suite's members (fed by its listener, on the UI thread) -------------------
    def follow_member(self, run_id: str, spec: dict[str, Any], placement: Placement) -> Job:
        """Follow a suite member as a running job (again after a retry elsewhere: only its
        placement is new). Its end is the suite's to tell, not a notification of its own."""
        job = self.jobs.get(run_id)
        if job is None:
            job = Job(run_id, dict(spec), self.runs_dir / run_id, state="running",
                      queued_at=self.clock(), announced=True, member=True)
            job.started_at = self.clock()
            self.jobs[run_id] = job
            self.latest = run_id
        job.placement = placement
        self.notify(job, "state")
        return job

    def feed(self, run_id: str, ev: Event) -> None:
        """One event of a followed member's worker."""
        job = self.jobs.get(run_id)
        if job is None or not job.member or not job.active:
            return
        if ev.type == "started":
            job.started_at = self.clock() - (ev.t or 0.0)   # the worker's clock, as `_apply`
        job.apply(ev)
        self.notify(job, ev.type)
        if ev.type in TERMINAL_TYPES:
            job.ended_at = self.clock()
            self.notify(job, "state")

    def end_member(self, run_id: str, result: RunResult | None) -> None:
        """The suite delivered the member's end (its run folder is home now): recorded here if
        its terminal event never came (its node died, its worker was killed)."""
        job = self.jobs.get(run_id)
        if job is None or not job.member:
            return
        if job.active:
            job.result = result
            job.state = result.status if result is not None and result.status in (
                "finished", "failed", "cancelled", "interrupted") else "failed"
            job.error = (result.error if result is not None else None) or job.error
            if job.error and job.state != "finished":
                job.logs.append(("error", job.error))
            job.ended_at = self.clock()
        self.notify(job, "state")

    def end_members(self, reason: str) -> None:
        """The suite ended: a member it left without an end is interrupted (never left
        "running" for ever)."""
        for job in [j for j in self.jobs.values() if j.member and j.active]:
            job.state, job.error, job.ended_at = "interrupted", reason, self.clock()
            job.logs.append(("warning", reason))
            self.notify(job, "state")

    # -- internals -----------------------------------------------------------------------
    def _signal(self, job: Job, sig: int) -> bool:
        """Send `sig` to the job's worker if it is still that very process: our own child
        (not yet reaped, so its pid cannot be reused), or a re-attached run's worker that
        `procs.is_run_worker` proves is that run's (never a process a meta record names)."""
        proc = self._procs.get(job.job_id)
        if proc is not None:
            if proc.poll() is not None:
                return False
            pid = proc.pid
        elif job.attached and is_run_worker(job.pid, job.pid_start, job.run_dir):
            assert job.pid is not None
            pid = job.pid
        else:
            return False
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def _kill(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job is not None and job.active:
            self._signal(job, signal.SIGKILL)

    def _schedule(self) -> None:
        if self.held_by:
            return
        # Slots are this window's: another window's or a batch run's job never holds its queue.
        free = self.max_running - len([j for j in self.running() if j.ours])
        for job in sorted((j for j in self.jobs.values() if j.state == "queued"),
                          key=lambda j: j.queued_at):
            if free <= 0:
                break
            job.state = "starting"
            job.started_at = self.clock()
            self._tasks[job.job_id] = asyncio.get_running_loop().create_task(self._run(job))
            free -= 1

    async def _run(self, job: Job) -> None:
        """Start a detached worker and read its stdout.

        `subprocess.Popen`, not asyncio's subprocess: asyncio kills a child that is still running
        when its transport closes, and a detached job must outlive the app.
        """
        stderr = tempfile.TemporaryFile()
        terminal = None
        self.notify(job, "state")
        transport = None
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            proc = subprocess.Popen(
                worker_argv(job.spec, job.run_dir, rerun_of=job.rerun_of, detached=True),
                stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL,
                env={**worker_env(), **owner_env("tui")},
                start_new_session=True)
            self._procs[job.job_id] = proc
            job.pid = proc.pid
            lower_priority(proc.pid, WORKER_NICE)
            if job.state == "starting":
                job.state = "running"
            self.notify(job, "state")
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader(limit=STREAM_LIMIT)
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), proc.stdout)
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # a line beyond STREAM_LIMIT: skip it, keep reading
                    continue
                if not line:
                    break
                text = line.decode("utf-8", "replace")
                if not text.strip():
                    continue
                ev = parse_event_line(text)
                if self._apply(job, ev):
                    terminal = ev
            while proc.poll() is None:      # never a blocking wait on the app's loop
                await asyncio.sleep(0.05)
            rc = proc.returncode
            if terminal is None:
                self._record_crash(job, rc, stderr)
            elif terminal.type == "failed":
                tail = stderr_tail(stderr, job.run_dir, 8)
                if tail and tail not in (job.error or ""):
                    job.error = f"{job.error}\n{tail}" if job.error else tail
        except Exception as exc:  # noqa: BLE001 - the app must go on whatever happened
            job.state, job.error = "failed", f"could not run the worker: {exc}"
        finally:
            if transport is not None:
                transport.close()
            self._end(job)
            stderr.close()

    async def _follow(self, job: Job, poll: float = 0.2) -> None:
        """A re-attached job: read events.jsonl as it grows; when the worker is gone without a
        terminal event, record it (once, whoever else is looking)."""
        path = job.run_dir / EVENTS_FILE
        offset, partial = 0, b""
        try:
            while True:
                chunk = await asyncio.to_thread(_read_from, path, offset)
                offset += len(chunk)
                *lines, partial = (partial + chunk).split(b"\n")
                for raw in lines:
                    text = raw.decode("utf-8", "replace")
                    if text.strip() and self._apply(job, parse_event_line(text)):
                        return
                if chunk:
                    continue
                if not is_run_worker(job.pid, job.pid_start, job.run_dir):
                    await asyncio.sleep(poll)        # its last lines may still be landing
                    if _read_from(path, offset):
                        continue
                    if not (job.run_dir / SPEC_FILE).is_file():
                        # Its worker refused the input and removed the folder it had made
                        # (`worker.run_job`): nothing to record, and it was no interruption.
                        job.state, job.error = "failed", REFUSED
                        job.logs.append(("error", REFUSED))
                        return
                    reason = "the worker process ended without a result"
                    from mnist_tui.engine.runs import records  # pydantic: at first use
                    runs.record_unfinished(job.run_dir, "interrupted", reason, stopped_by="reaped")
                    job.result = records.read_result(job.run_dir)
                    job.state = job.result.status if job.result else "interrupted"
                    job.error = (job.result.error if job.result else None) or reason
                    return
                await asyncio.sleep(poll)
        except Exception as exc:  # noqa: BLE001 - the app must go on whatever happened
            job.state, job.error = "failed", f"could not follow the run: {exc}"
        finally:
            self._end(job)

    def _apply(self, job: Job, ev: Event) -> bool:
        """Fold one event into the job and tell the app; True for the terminal event."""
        stopping = job.state == "stopping"
        if ev.type == "started" and not job.attached:
            # The job's clock is the worker's (events' `t`): start it where the worker did,
            # not when Popen was called (Python's start-up is not the job's time).
            job.started_at = self.clock() - (ev.t or 0.0)
        job.apply(ev)
        if stopping and ev.type not in TERMINAL_TYPES:
            job.state = "stopping"
        self.notify(job, ev.type)
        return ev.type in TERMINAL_TYPES

    def _end(self, job: Job) -> None:
        timer = self._kill_timers.pop(job.job_id, None)
        if timer is not None:
            timer.cancel()
        self._procs.pop(job.job_id, None)
        if self._leaving:
            return            # left running on purpose: its own process records how it ends
        job.ended_at = self.clock()
        if job.state in ACTIVE:
            job.state = "failed"
        self.notify(job, "state")
        self._schedule()

    def _record_crash(self, job: Job, rc: int | None, stderr: IO[bytes]) -> None:
        """The worker ended without a terminal event: recorded by the engine's own function."""
        status = "cancelled" if job.state == "stopping" else "failed"
        tail = stderr_tail(stderr, job.run_dir, 12)
        reason, job.result = record_dead_worker(job.run_dir, status, rc, tail)
        job.state = status
        job.error = reason + (f"\n{tail}" if tail else "")
        job.logs.append(("error", reason))
