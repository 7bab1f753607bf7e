"""Starting a worker process and reading its events: shared by the batch front end and the TUI.

The worker runs in its own session, so a Ctrl-C in the terminal reaches only the caller, which
forwards exactly one signal (SIGINT: interrupted; SIGHUP: the terminal closed; SIGUSR1: cancelled
from the TUI) and waits for the worker to record its result. If the worker dies without one, the
caller records it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mnist_tui.engine.jobs.events import (
    TERMINAL_TYPES,
    Event,
    Failed,
    Log,
    TerminalEvent,
    event_from_dict,
)
from mnist_tui.engine.runs import store as runs
from mnist_tui.engine.runs.layout import LOG_FILE

if TYPE_CHECKING:   # pydantic's records: imported where a result is read or made
    from mnist_tui.engine.jobs.results import RunResult

GRACE_SECONDS = 10.0
# A stop signal → (status, words, stopped_by), as the worker itself records it (worker.py).
STOPPED_BY: dict[int, tuple[str, str, str]] = {
    signal.SIGINT: ("interrupted", "interrupted (Ctrl-C)", "ctrl-c"),
    signal.SIGTERM: ("cancelled", "stopped by SIGTERM", "signal"),
    signal.SIGHUP: ("interrupted", "interrupted: the terminal closed (SIGHUP)", "hangup")}


def worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")      # TensorFlow's C++ INFO/WARNING chatter
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def worker_argv(spec_dict: dict[str, Any], run_dir: Path, rerun_of: str | None = None,
                detached: bool = False) -> list[str]:
    """The worker's command line; `detached` workers outlive their caller (the TUI's jobs)."""
    argv = [sys.executable, "-m", "mnist_tui.engine.runs.worker", "--run-dir", str(run_dir),
            "--spec", json.dumps(spec_dict)]
    if rerun_of:
        argv += ["--rerun-of", rerun_of]
    argv += ["--detached"] if detached else ["--caller-pid", str(os.getpid())]
    return argv


def describe_exit(rc: int | None) -> str:
    """How a worker ended, in words: a SIGKILL nobody here sent is most often the OOM killer."""
    if rc is None:
        return "exit status unknown"
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        if -rc == signal.SIGKILL:
            return (f"killed by {name}: most often the kernel's out-of-memory killer "
                    "(see `dmesg`), or kill -9")
        return f"killed by {name}"
    return f"exit code {rc}"


def parse_event_line(line: str) -> Event:
    """An event from one stdout line; anything that is not one becomes a warning Log."""
    try:
        return event_from_dict(json.loads(line))
    except (ValueError, TypeError):
        return Log(message=line.rstrip("\n"), level="warning")


def lower_priority(pid: int, nice: int) -> None:
    """Run a worker below the UI: `nice` for its threads and for its autogroup.

    Workers start in their own session (so a Ctrl-C or a hang-up meant for the app does not
    reach them), and with Linux's autogroup scheduling a new session is a new group that gets
    an equal share of the CPU whatever its threads' nice: nice alone then does nothing against
    the app. The group's own nice (/proc/PID/autogroup) does. Best effort; before the worker
    imports anything, so the threads it starts inherit it.
    """
    if not nice:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    except OSError:
        pass
    try:
        Path(f"/proc/{pid}/autogroup").write_text(f"{nice}\n", encoding="ascii")
    except OSError:   # not Linux, autogroup off, or the kernel's 100 ms rate limit
        pass


def stderr_tail(stderr_file: IO[bytes], run_dir: Path, lines: int = 20) -> str:
    """The last lines a worker wrote: its stderr (a temp file), then worker.log in its folder."""
    try:
        stderr_file.seek(0)
        text = stderr_file.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        text = ""
    log = Path(run_dir) / LOG_FILE
    if log.is_file():
        try:
            text += log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            pass
    return "\n".join(text.strip().splitlines()[-lines:])


def record_dead_worker(run_dir: Path, status: str, rc: int | None,
                       tail: str, reason: str | None = None,
                       stopped_by: str = "ctrl-c") -> tuple[str, RunResult | None]:
    """A worker that ended without a terminal event (SIGKILL, OOM, a crash in C): record the
    run as `status` with why, unless it already has a result. Returns (reason, result).

    Shared by `WorkerRun.outcome` (batch, suites) and the TUI's job manager.
    """
    if reason is not None:
        recorded = runs.record_unfinished(Path(run_dir), status, reason, stopped_by=stopped_by)
        return reason, recorded or _existing_result(run_dir)
    reason = f"the worker process ended without a result ({describe_exit(rc)})"
    last = tail.splitlines()[-1] if tail else ""
    recorded = runs.record_unfinished(Path(run_dir), status,
                                      reason + (f": {last}" if last else ""),
                                      stopped_by="signal" if rc is not None and rc < 0 else None)
    return reason, recorded or _existing_result(run_dir)


def _existing_result(run_dir: Path) -> RunResult | None:
    from mnist_tui.engine.runs import records

    try:
        return records.read_result(Path(run_dir))
    except records.RecordError:
        return None


class WorkerRun:
    """One job in a worker process, read synchronously (the TUI wraps the same pieces in asyncio)."""

    def __init__(self, spec_dict: dict[str, Any], runs_dir: Path, rerun_of: str | None = None,
                 nice: int = 0, *, run_id: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        """`run_id`: chosen by the caller (a suite member run on another node keeps the id the
        suite gave it); `env`: variables added to the worker's (its thread share, GPU and
        placement: `engine/placement.py`)."""
        self.run_id = run_id or runs.new_run_id(spec_dict["job"])
        self.env = dict(env or {})
        self.nice = nice   # > 0: below an interactive front end (the TUI's suites)
        self.run_dir = Path(runs_dir) / self.run_id
        self.spec_dict = spec_dict
        self.rerun_of = rerun_of
        self.terminal: Event | None = None
        self.kill_reason: str | None = None   # set by whoever SIGKILLs it on purpose
        self.stop_as: tuple[str, str] | None = None   # (status, stopped_by) of a stop it outlived
        self.proc: subprocess.Popen[str] | None = None
        self._stderr = tempfile.TemporaryFile()

    def start(self) -> None:
        self.run_dir.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            worker_argv(self.spec_dict, self.run_dir, self.rerun_of), stdout=subprocess.PIPE,
            stderr=self._stderr, stdin=subprocess.DEVNULL, env={**worker_env(), **self.env},
            text=True,
            encoding="utf-8", start_new_session=True)
        lower_priority(self.proc.pid, self.nice)

    def events(self) -> Iterator[Event]:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            if not line.strip():
                continue
            ev = parse_event_line(line)
            if ev.type in TERMINAL_TYPES:
                self.terminal = ev
            yield ev

    def send(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """SIGKILL the worker now (a second Ctrl-C): the caller then records the run."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass

    def stop(self, sig: int = signal.SIGINT, grace: float = GRACE_SECONDS) -> None:
        """Ask the worker to stop (SIGINT interrupt, SIGHUP hang-up); kill it after `grace` s."""
        assert self.proc is not None, "stop() before start()"
        self.send(sig)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            # Still the user's stop, killed because it did not end in time: recorded as that
            # stop (interrupted by Ctrl-C, cancelled by SIGTERM…), not as a kill by someone.
            status, words, by = STOPPED_BY.get(int(sig), ("interrupted", "a stop", "signal"))
            self.stop_as = (status, by)
            self.kill_reason = (f"{words}: the worker did not end within {grace:.0f} s of it "
                                "and was killed")
            self.proc.kill()
            self.proc.wait()

    def stderr_tail(self, lines: int = 20) -> str:
        return stderr_tail(self._stderr, self.run_dir, lines)

    def outcome(self, unfinished_status: str = "failed") -> RunResult:
        """The final result: the worker's own, or one recorded here if it died without one."""
        from mnist_tui.engine.jobs.results import RunResult

        rc = self.proc.wait() if self.proc is not None else None
        ev = self.terminal
        if isinstance(ev, TerminalEvent):
            if ev.result is None:        # an input error before the run had a record
                error = ev.error if isinstance(ev, Failed) else getattr(ev, "reason", "")
                return RunResult.bare(status=ev.type, error=error,
                                      error_kind=getattr(ev, "kind", "job"))
            if isinstance(ev, Failed):
                return ev.result.model_copy(update={"error_kind": ev.kind})
            return ev.result
        status, by = self.stop_as or (unfinished_status, "ctrl-c")
        reason, recorded = record_dead_worker(self.run_dir, status, rc,
                                              self.stderr_tail(12), self.kill_reason, by)
        return recorded or RunResult.from_dict({
            "status": status, "error": reason, "error_kind": "job", "run_id": self.run_id,
            "run_dir": None, "job": self.spec_dict["job"]})
