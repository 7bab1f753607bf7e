"""The job manager: a queue of specs, worker processes, and their events read asynchronously.

Workers are the engine's (`launch.worker_argv`); this module only starts them, reads their JSON
lines on the app's event loop, folds each event into a `Job` (plain data the screens read), and
tells the app through a callback (which posts Textual messages). It runs `max_running` jobs at a
time (1 by default: the machines have few cores and two trainings would only fight over them).

A worker that dies without a result (SIGKILL, OOM) is recorded by the engine's
`launch.record_dead_worker`, as `WorkerRun.outcome` does for batch runs and suites.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mnist_tui.engine.jobs.events import TERMINAL_TYPES, Event
from mnist_tui.engine.runs import records
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
from mnist_tui.engine.runs.procs import is_run_worker

ACTIVE = ("queued", "starting", "running", "stopping")
SUPERVISED = ("cnn", "vgg16")     # jobs that train for epochs
LOG_LINES = 200
STREAM_LIMIT = 1 << 24  # one snapshot line can be large; asyncio's default limit is 64 KiB
# Workers run at a lower CPU priority so that key presses are answered at once while a job
# keeps every core busy (the worker still gets all the CPU the UI does not use).
WORKER_NICE = int(os.environ.get("MNIST_TUI_WORKER_NICE", "10") or 0)


@dataclass
class Job:
    """Everything the Monitor shows about one job, updated event by event."""

    job_id: str                  # the run id it will have
    spec: dict
    run_dir: Path
    state: str = "queued"        # queued starting running stopping finished failed cancelled interrupted
    phase: str = ""
    phase_message: str = ""
    step: int = 0
    total: int | None = None
    progress_message: str = ""
    eta: float | None = None
    metrics: dict = field(default_factory=dict)       # the latest progress metrics
    queued_at: float = 0.0
    started_at: float | None = None                   # monotonic
    ended_at: float | None = None
    announced: bool = False                           # its end was notified once
    kl: list[tuple[int, float]] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)  # {"epoch", **metrics, "seconds"}
    snapshot: dict | None = None                      # {"iteration", "points", "labels"}
    snapshot_count: int = 0
    model_summary: dict | None = None
    logs: deque = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    result: dict | None = None
    error: str | None = None
    pid: int | None = None
    pid_start: int | None = None  # the worker's kernel start time (re-attached jobs)
    attached: bool = False        # followed from its run folder, not started by this app
    rerun_of: str | None = None   # the run whose spec this job runs again (Runs → r)
    events_seen: int = 0
    phase_t0: float = 0.0        # event time (s since the job started) the phase began
    last_t: float = 0.0          # event time of the latest event
    ended_t: float | None = None  # event time of the terminal event: the job's own clock stops
    rate_t0: float = 0.0         # event time and step where the current progress series began
    rate_step0: int = 0          #   (a new phase, a new file, a new epoch): for rates and ETAs

    @property
    def job(self) -> str:
        return self.spec.get("job", "?")

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def fraction(self) -> float | None:
        """How far the job is: 1 once finished, the epochs' share while training, else the
        current phase's step/total (None: this phase has no measure of progress)."""
        if self.state == "finished":
            return 1.0
        epochs = self.epoch_progress()
        if epochs is not None:
            return epochs[2]
        if self.total:
            return max(0.0, min(1.0, self.step / self.total))
        return None

    def elapsed(self, now: float) -> float | None:
        """Seconds the job has run; it stops at the end. An ended job gives its own clock
        (its terminal event's time, the result's total), not when this app noticed."""
        if self.ended_t is not None:
            return self.ended_t
        if self.started_at is None:
            return self.last_t or None   # a replayed job: the recorded clock
        return (self.ended_at if self.ended_at is not None else now) - self.started_at

    def phase_elapsed(self, now: float) -> float | None:
        """Seconds in the current phase (None once the job has ended)."""
        if not self.active or not self.phase:
            return None
        elapsed = self.elapsed(now)
        return None if elapsed is None else max(0.0, max(elapsed, self.last_t) - self.phase_t0)

    def epoch_progress(self) -> tuple[int, int, float] | None:
        """(current epoch, epochs, share of all training done) while a classifier trains."""
        if self.job not in SUPERVISED or self.phase != "training":
            return None
        epochs = (self.epochs[-1].get("epochs") if self.epochs else None) \
            or self.spec.get("epochs")
        if not isinstance(epochs, int) or epochs <= 0:
            return None
        done = min(len(self.epochs), epochs)
        within = self.step / self.total if self.total and done < epochs else 0.0
        return min(done + 1, epochs), epochs, min(1.0, (done + within) / epochs)

    def rate(self) -> float | None:
        """Steps per second of the current progress series (bytes/s while downloading)."""
        if self.step > self.rate_step0 and self.last_t > self.rate_t0:
            return (self.step - self.rate_step0) / (self.last_t - self.rate_t0)
        return None

    def phase_eta(self) -> float | None:
        """The worker's ETA, else one from this progress series' pace so far."""
        if self.eta is not None:
            return self.eta
        rate = self.rate()
        if self.total and self.step < self.total and rate:
            return (self.total - self.step) / rate
        return None

    def job_eta(self) -> float | None:
        """Seconds left: while a classifier trains, the epochs left at the mean time per
        finished epoch (validation included); before the first epoch ends, the worker's
        whole-training ETA; otherwise the phase's. None when nothing can be said."""
        if not self.active or self.state == "queued":
            return None
        epochs = self.epoch_progress()
        times = [e["seconds"] for e in self.epochs if isinstance(e.get("seconds"), (int, float))]
        if epochs is not None and times:
            _, total, share = epochs
            return max(0.0, (1.0 - share) * total * sum(times) / len(times))
        return self.phase_eta()

    def apply(self, ev: Event) -> None:
        """Fold one event into the job's state."""
        self.events_seen += 1
        self.last_t = max(self.last_t, ev.t or 0.0)
        kind = ev.type
        if kind == "started":
            self.pid = getattr(ev, "pid", None) or self.pid
            if self.state == "starting":
                self.state = "running"
        elif kind == "phase":
            self.phase, self.phase_message, self.phase_t0 = ev.name, ev.message, ev.t
            self.step, self.total, self.eta, self.progress_message = 0, None, None, ""
            self.rate_t0, self.rate_step0 = ev.t, 0
        elif kind == "progress":
            if (ev.phase or self.phase) != self.phase or ev.total != self.total \
                    or ev.step < self.step:      # a new series: a file, an epoch, a phase
                self.rate_t0, self.rate_step0 = ev.t, ev.step
            self.phase = ev.phase or self.phase
            self.step, self.total, self.eta = ev.step, ev.total, ev.eta
            self.progress_message = ev.message
            self.metrics = dict(ev.metrics)
            kl = ev.metrics.get("kl_divergence")
            if kl is not None and (not self.kl or self.kl[-1][0] != ev.step):
                self.kl.append((ev.step, kl))
        elif kind == "epoch":
            self.epochs.append({"epoch": ev.epoch, **ev.metrics, "seconds": ev.seconds,
                                "epochs": ev.epochs})
            self.step, self.eta = 0, None          # the next epoch's batches start from 0
            self.rate_t0, self.rate_step0 = ev.t, 0
        elif kind == "snapshot":
            self.snapshot = {"iteration": ev.iteration, "points": ev.points,
                             "labels": ev.labels}
            self.snapshot_count += 1
        elif kind == "model_summary":
            self.model_summary = {"layers": ev.layers, "trainable_params": ev.trainable_params,
                                  "frozen_params": ev.frozen_params}
        elif kind == "log":
            self.logs.append((ev.level, ev.message))
        elif kind in TERMINAL_TYPES:
            self.result = getattr(ev, "result", None) or None
            self.ended_t = ev.t or self.last_t or None
            if kind == "failed":
                self.error = ev.error
                self.logs.append(("error", ev.error))
            elif getattr(ev, "reason", ""):
                self.logs.append(("warning", ev.reason))
            self.state = kind


def _read_from(path: Path, offset: int) -> bytes:
    """What an events file holds past `offset` (b"" if it does not exist yet, or is not a
    regular file: a FIFO would block this thread for ever, and the app could never exit)."""
    try:
        return runs.read_events_from(path, offset)
    except OSError:
        return b""


def _age_seconds(created: str) -> float | None:
    """Seconds since a meta.json `created` stamp (%Y-%m-%dT%H:%M:%S%z)."""
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
        self._procs: dict[str, subprocess.Popen] = {}
        self._tasks: dict[str, asyncio.Task] = {}
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
    def submit(self, spec_dict: dict, rerun_of: str | None = None) -> Job:
        """Queue a validated spec; it starts as soon as a slot is free. `rerun_of` names the run
        it repeats, recorded in its meta.json and result.json as `--batch --rerun` does."""
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
        if job is None or not job.active:
            return False
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
        """Stop everything (quitting with "stop"): drop the queue, signal workers, wait, kill."""
        for job in list(self.jobs.values()):
            if job.state == "queued":
                job.state, job.error = "cancelled", "the app quit before it started"
        for job in self.running():
            self.cancel(job.job_id, sig, grace)
        tasks = [t for t in self._tasks.values() if not t.done()]
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

    def attach(self, run_id: str, spec: dict, meta) -> Job | None:
        """Follow a live run this app did not start (a previous TUI's, another TUI's): its
        events.jsonl from the first line, then as it grows, until it ends."""
        if run_id in self.jobs or not is_run_worker(meta.pid, meta.pid_start,
                                                     self.runs_dir / run_id):
            return None     # never follow (nor later signal) a process that is not its worker
        job = Job(run_id, dict(spec), self.runs_dir / run_id, state="running",
                  queued_at=self.clock())
        job.pid, job.pid_start, job.attached = meta.pid, meta.pid_start, True
        age = _age_seconds(meta.created)
        job.started_at = self.clock() - age if age is not None else self.clock()
        self.jobs[run_id] = job
        self.notify(job, "state")
        self._tasks[run_id] = asyncio.get_running_loop().create_task(self._follow(job))
        return job

    # -- internals -----------------------------------------------------------------------
    def _signal(self, job: Job, sig: int) -> bool:
        """Send `sig` to the job's worker if it is still that very process: our own child
        (not yet reaped, so its pid cannot be reused), or a re-attached run's worker that
        `procs.is_run_worker` proves is that run's (never a process a meta.json names)."""
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
        free = self.max_running - len(self.running())
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
                stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, env=worker_env(),
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
        path = job.run_dir / runs.EVENTS_FILE
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
                    reason = "the worker process ended without a result"
                    runs.record_unfinished(job.run_dir, "interrupted", reason, stopped_by="reaped")
                    job.result = records.read_result(job.run_dir)
                    job.state = (job.result or {}).get("status", "interrupted")
                    job.error = (job.result or {}).get("error") or reason
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

    def _record_crash(self, job: Job, rc: int | None, stderr) -> None:
        """The worker ended without a terminal event: recorded by the engine's own function."""
        status = "cancelled" if job.state == "stopping" else "failed"
        tail = stderr_tail(stderr, job.run_dir, 12)
        reason, job.result = record_dead_worker(job.run_dir, status, rc, tail)
        job.state = status
        job.error = reason + (f"\n{tail}" if tail else "")
        job.logs.append(("error", reason))
