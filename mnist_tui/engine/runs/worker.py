"""`python -m mnist_tui.engine.runs.worker --run-dir DIR --spec JSON`: run one job, print its events.

The worker is the only process that imports the heavy libraries. Its stdout carries nothing but
JSON-lines events: the real stdout is moved to a private descriptor at start-up and fd 1 is
pointed at stderr, so anything TensorFlow, scikit-learn or openTSNE print cannot corrupt the
stream a caller parses. The run folder is created only once the data has loaded, so a bad input
leaves nothing behind.

Stop signals (each recorded with its true reason, see `STOP_SIGNALS`): SIGINT interrupted
(Ctrl-C), SIGHUP interrupted (terminal closed), SIGUSR1 cancelled from the TUI, SIGTERM cancelled
by a signal. Once the job has a result, stop signals are blocked and the final record is created
exclusively: nothing can turn a finished run into a stopped one.

`--detached` (the TUI's jobs): the worker ignores hang-ups and outlives its caller; the run
folder's events.jsonl is then the only stream, and a new TUI re-attaches to it.

Exit codes: 0 finished, 2 bad input, 3 the job failed, 4 cancelled, 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import resource
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from mnist_tui.engine.errors import JobFailed, MnistTuiError
from mnist_tui.engine.jobs.context import JobContext
from mnist_tui.engine.jobs.downloads import download_reporter
from mnist_tui.engine.jobs.events import (
    Cancelled,
    Event,
    Failed,
    Finished,
    Interrupted,
    Started,
)
from mnist_tui.engine.jobs.results import RunResult
from mnist_tui.engine.placement import expected_dataset, recorded_placement
from mnist_tui.engine.runs import records
from mnist_tui.engine.runs import store as runs
from mnist_tui.engine.runs.layout import EVENTS_FILE, LOG_FILE
from mnist_tui.engine.runs.owner import recorded_owner

if TYPE_CHECKING:
    from mnist_tui.engine.jobs.specs import JobSpec

# Errors of the place a run is written to, not of the job: the user can fix them (exit 2).
PLACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                errno.ENAMETOOLONG}


def place_error(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    return f"cannot write the run folder{where}: {exc.strerror or exc}"


TerminalEvent = Finished | Failed | Cancelled | Interrupted
TERMINAL_EVENTS: dict[str, type[TerminalEvent]] = {
    "finished": Finished, "failed": Failed, "cancelled": Cancelled, "interrupted": Interrupted}

EXIT_OK, EXIT_INPUT, EXIT_FAILED, EXIT_CANCELLED, EXIT_INTERRUPTED = 0, 2, 3, 4, 130
EXIT_CODES = {"finished": EXIT_OK, "failed": EXIT_FAILED, "cancelled": EXIT_CANCELLED,
              "interrupted": EXIT_INTERRUPTED}
TRACKED_PACKAGES = ("mnist-tui", "numpy", "scipy", "scikit-learn", "openTSNE", "tensorflow",
                    "keras", "jax", "jaxlib", "torch")


class JobStopped(BaseException):
    """Raised in the job's thread by a stop signal; carries the status and the true reason."""

    def __init__(self, status: str, reason: str, stopped_by: str) -> None:
        super().__init__(reason)
        self.status, self.reason, self.stopped_by = status, reason, stopped_by


# Each stop signal → (status, reason, who). The TUI cancels with SIGUSR1 so that a cancel from
# the app is told apart from a `kill` (SIGTERM) by someone else.
STOP_SIGNALS: dict[int, tuple[str, str, str]] = {
    signal.SIGINT: ("interrupted", "interrupted (Ctrl-C)", "ctrl-c"),
    signal.SIGHUP: ("interrupted", "interrupted: the terminal closed (SIGHUP)", "hangup"),
    signal.SIGTERM: ("cancelled", "stopped by SIGTERM (kill, or the system shutting down)",
                     "signal"),
    signal.SIGUSR1: ("cancelled", "cancelled from the TUI", "tui"),
}
CALLER_GONE = ("interrupted", "interrupted: the program that started it ended (its terminal "
               "closed, or it was killed)", "caller-gone")
_stop_override: tuple[str, str, str] | None = None


_finishing = False
# The stop a signal raised, kept: the JobStopped can reach the job inside a library's C code,
# which turns it into another exception (TensorFlow's training loop gave "SystemError:
# Objects/listobject.c:338: bad argument to internal function"). Any failure after a stop is
# that stop, recorded with its true status and reason.
_received: JobStopped | None = None


def block_stop_signals() -> None:
    """From here on no stop signal stops anything: the final record is written whole, once.

    The mask covers this thread; a library's thread may still take the signal, and Python then
    runs the handler here anyway, so the handler itself also checks `_finishing`.
    """
    global _finishing
    _finishing = True
    signal.pthread_sigmask(signal.SIG_BLOCK, set(STOP_SIGNALS))


# A stop the job does not act on within this long (a library swallowed its exception and
# carried on training) is recorded by a watchdog thread, and the worker ends at once.
STOP_DEADLINE_S = 15.0
_on_stuck: Callable[[], None] | None = None


def on_stop_signal(signum: int, frame: FrameType | None) -> None:
    if _finishing:
        return                    # a second signal, or one after the result: already ending
    global _received
    block_stop_signals()
    status, reason, by = _stop_override or STOP_SIGNALS[signum]
    _received = JobStopped(status, reason, by)
    if _on_stuck is not None:
        watchdog = threading.Timer(STOP_DEADLINE_S, _on_stuck)
        watchdog.daemon = True
        watchdog.start()
    raise _received


class EventSink:
    """Writes each event to the caller (stdout stream) and, once it exists, to events.jsonl.

    Events emitted before the run folder exists (loading, download progress) are buffered and
    written first when it is created.
    """

    def __init__(self, out: TextIO) -> None:
        self.out: TextIO | None = out
        self.pending: list[str] = []
        self.file: TextIO | None = None
        self.broken: OSError | None = None     # why events.jsonl stopped being written

    def __call__(self, event: Event) -> None:
        line = event.to_json()
        if self.out is not None:
            try:
                self.out.write(line + "\n")
                self.out.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.out = None   # the caller went away (a detached job): the folder has it all
        if self.file is not None:
            try:
                self.file.write(line + "\n")
                self.file.flush()
            except OSError as exc:   # a full disk: the run cannot be recorded whole
                self.file, self.broken = None, exc
        elif self.broken is None:
            self.pending.append(line)

    def attach(self, path: Path) -> None:
        self.file = open(path, "a", encoding="utf-8")
        for line in self.pending:
            self.file.write(line + "\n")
        self.file.flush()
        self.pending.clear()


def library_versions() -> dict[str, str]:
    """Versions from package metadata: recording them must not import TensorFlow."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def _claim_stdout() -> TextIO:
    """Keep the real stdout for events only; send fd 1 (and sys.stdout) to stderr."""
    sys.stdout.flush()
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(events_fd, "w", encoding="utf-8", buffering=1)


def _interrupt_when_orphaned(caller: int | None, poll: float = 1.0) -> None:
    """If the caller dies (kill -9, a closed SSH session), interrupt the job so it records that.

    Only for attached workers (batch, suites); a detached worker (started by the TUI) outlives
    its caller by design.
    """
    import threading

    # The caller's pid comes on the command line: read here, getppid() could already be init's
    # if the caller died while this process was starting.
    parent = caller or os.getppid()

    def watch() -> None:
        global _stop_override
        while os.getppid() == parent:
            time.sleep(poll)
        _stop_override = CALLER_GONE
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def check_suite_dataset(fingerprint: str, description: str) -> None:
    """A suite member (on any node) reads exactly the suite's data, or fails with why: a
    report never mixes data."""
    import socket

    from mnist_tui.engine.errors import DataError

    expected = expected_dataset()
    if expected is not None and fingerprint != expected:
        raise DataError(
            f"dataset fingerprint mismatch on {socket.gethostname()}: this machine's data "
            f"({description}) has fingerprint {fingerprint[:12]}…, the suite's is "
            f"{expected[:12]}…; give every node the same files (--data-dir, or the same "
            "MNIST cache)")


def run_job(spec: JobSpec, run_dir: Path, sink: EventSink, rerun_of: str | None = None,
            detached: bool = False) -> int:
    """Load the data, create the run folder, run the job, write the result record. Returns an exit code."""
    from mnist_tui.engine.data.sources import load_dataset
    from mnist_tui.engine.jobs import precheck, runner
    from mnist_tui.engine.runs.procs import process_start_time
    from mnist_tui.engine.runs.sysmon import SelfMonitor

    global _finishing, _received
    _finishing, _received = False, None
    ctx = JobContext(sink)
    monitor = SelfMonitor().start()    # peak CPU and GPU memory for the result's `system`
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    started_utc = records.utc_now()    # the order of runs: local time repeats and travels
    base = {"job": spec.job, "preset": spec.preset, "seed": spec.seed,
            "subset_seed": spec.subset_seed, "run_id": run_dir.name, "rerun_of": rerun_of, "spec": spec.to_dict(), "started_at": started_at,
            "started_utc": started_utc}
    dataset = None
    placement = recorded_placement()   # a suite member: where it runs (engine/placement.py)

    def result(status: str, **extra: Any) -> RunResult:
        # run_dir only once the folder exists: a job stopped while loading has none to name.
        out = {"status": status, **base,
               "run_dir": None if ctx.run_dir is None else str(ctx.run_dir), "dataset": None, "metrics": {}, "confusion_matrix": None,
               "timings": {**ctx.timings, "total": round(ctx.elapsed(), 4)},
               "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **ctx.partial, **extra}
        if dataset is not None:
            # None until the job has chosen its images: never the whole dataset's size.
            out["dataset"] = {**dataset.describe(), "n_samples": extra.get("n_samples",
                              ctx.partial.get("n_samples")),
                              "available": dataset.n_samples}
        out["versions"], out["machine"] = library_versions(), runs.machine_info()
        out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB
        monitor.stop()
        out["system"] = monitor.summary(out["peak_rss_bytes"])
        used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        out["system"]["cpu_seconds"] = round(sum(u.ru_utime + u.ru_stime for u in used), 2)
        out["load"] = monitor.load()     # the machine's load and our nice: times explained
        if placement is not None:
            out["placement"] = placement
        return RunResult.from_dict(out)

    def finish(status: str, event_cls: type[TerminalEvent], code: int, **extra: Any) -> int:
        """Write the final record once (signals blocked); a record already there wins."""
        block_stop_signals()
        res = result(status, **extra)
        try:
            if sink.broken is not None:
                raise sink.broken
            created = ctx.run_dir is None or records.create_result(ctx.run_dir, res)
        except OSError as exc:
            if exc.errno not in PLACE_ERRNOS:
                raise
            sink.file = None                    # the record cannot be written: leave nothing
            if ctx.run_dir is not None:
                shutil.rmtree(ctx.run_dir, ignore_errors=True)
            ctx.emit(Failed(error=place_error(exc), kind="input"))
            return EXIT_INPUT
        if not created:
            assert ctx.run_dir is not None   # not created: create_result found one there
            res = records.read_result(ctx.run_dir) or res
            code = EXIT_CODES.get(res.status, code)
            event_cls = TERMINAL_EVENTS.get(res.status, event_cls)
        if event_cls is Failed:
            ctx.emit(Failed(error=res.error or "", kind="job", result=res))
        elif event_cls is Cancelled or event_cls is Interrupted:
            ctx.emit(event_cls(result=res, reason=res.error or ""))
        else:
            ctx.emit(event_cls(result=res))
        return code

    def stuck() -> None:
        """The watchdog's end: the stop was swallowed and the job runs on. Record the stop
        (the final record is created once, so the job's own can still win) and exit now."""
        stop = _received
        if stop is None:
            return
        code = finish(stop.status, TERMINAL_EVENTS[stop.status], EXIT_CODES[stop.status],
                      error=f"{stop.reason}; the job did not stop within "
                            f"{STOP_DEADLINE_S:.0f} s and was ended at once",
                      stopped_by=stop.stopped_by)
        sys.stdout.flush()
        os._exit(code)

    global _on_stuck
    _on_stuck = stuck

    def failed(exc: BaseException) -> int:
        block_stop_signals()
        tb = traceback.format_exc()
        if _received is not None:     # the stop, come back as a library's exception
            print(tb, file=sys.stderr, flush=True)
            return finish(_received.status, TERMINAL_EVENTS[_received.status],
                          EXIT_CODES[_received.status], error=_received.reason,
                          stopped_by=_received.stopped_by)
        print(tb, file=sys.stderr, flush=True)
        if isinstance(exc, JobFailed):      # a result that means nothing: its reason, no crash
            return finish("failed", Failed, EXIT_FAILED, error=str(exc), error_kind="job")
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if isinstance(exc, MemoryError):
            message = f"out of memory ({message})"
        return finish("failed", Failed, EXIT_FAILED, error=message, error_kind="job",
                      traceback=tb[-4000:])

    ctx.emit(Started(job=spec.job, run_id=run_dir.name, spec=spec.to_dict(), pid=os.getpid()))
    job_result = None
    try:
        with ctx.phase("loading", "loading the dataset"):
            dataset = load_dataset(spec.dataset, spec.data_dir, progress=download_reporter(ctx))
        ctx.log(f"dataset {dataset.name} from {dataset.source}: "
                + ", ".join(f"{k} {v:,}" for k, v in dataset.describe()["splits"].items()))
        for f in dataset.files:
            ctx.log(f"read {f['path']} ({f['split']} {f['kind']}, {f['bytes']:,} bytes, "
                    f"sha256 {f['sha256'][:12]}…)")
        if dataset.note:
            ctx.log(dataset.note, "warning")
        check_suite_dataset(dataset.fingerprint(), dataset.description)
        precheck(spec, dataset)
        run_dir.mkdir(parents=True, exist_ok=False)
        # the meta record first: from its first instant the folder names its live worker, so a
        # reaper never takes a starting run for a dead one.
        meta = records.RunMeta(
            run_id=run_dir.name, created=started_at, started_utc=started_utc, pid=os.getpid(),
            pid_start=process_start_time(os.getpid()), host=runs.machine_info()["host"],
            detached=detached, rerun_of=rerun_of, dataset=dataset.describe(),
            versions=library_versions(), machine=runs.machine_info(), placement=placement)
        meta.owner = recorded_owner()   # assigned: a Record field takes a part as a dict only
        records.write_meta(run_dir, meta)
        records.write_spec(run_dir, spec.to_dict())
        sink.attach(run_dir / EVENTS_FILE)
        log = os.open(run_dir / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 2)
        os.close(log)
        ctx.run_dir = run_dir
        job_result = runner(spec.job)(spec, dataset, ctx)
        block_stop_signals()
    except JobStopped as stop:
        if job_result is None:
            return finish(stop.status, TERMINAL_EVENTS[stop.status], EXIT_CODES[stop.status],
                          error=stop.reason, stopped_by=stop.stopped_by)
    except (MnistTuiError, OSError) as exc:
        if _received is not None or (isinstance(exc, OSError)
                                     and exc.errno not in PLACE_ERRNOS):
            return failed(exc)
        # Bad input, or a place that cannot be written (full, read-only, too long a path):
        # the user can fix it (exit 2), and nothing half-written is left behind.
        block_stop_signals()
        if ctx.run_dir is not None or run_dir.exists():
            sink.file = None
            shutil.rmtree(run_dir, ignore_errors=True)
            ctx.run_dir = None
        ctx.emit(Failed(error=str(exc) if isinstance(exc, MnistTuiError) else place_error(exc),
                        kind="input"))
        return EXIT_INPUT
    except Exception as exc:  # noqa: BLE001 - a job bug must become a recorded failure
        return failed(exc)
    return finish("finished", Finished, EXIT_OK, **job_result)

def main(argv: list[str] | None = None) -> int:
    from mnist_tui.engine.jobs.specs import spec_from_dict

    ap = argparse.ArgumentParser(prog="python -m mnist_tui.engine.runs.worker")
    ap.add_argument("--run-dir", required=True, type=Path, help="run folder to create")
    ap.add_argument("--spec", required=True, help="the job spec as JSON")
    ap.add_argument("--rerun-of", default=None)
    ap.add_argument("--caller-pid", type=int, default=None,
                    help="the process whose end interrupts this one (not with --detached)")
    ap.add_argument("--detached", action="store_true",
                    help="keep running when the caller goes away (the TUI's jobs)")
    args = ap.parse_args(argv)
    sink = EventSink(_claim_stdout())
    for sig in STOP_SIGNALS:
        signal.signal(sig, on_stop_signal)
    if args.detached:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)   # a closing terminal is not a stop
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    else:
        _interrupt_when_orphaned(args.caller_pid)
    try:
        spec = spec_from_dict(json.loads(args.spec))
    except (MnistTuiError, ValueError) as exc:
        sink(Failed(error=str(exc), kind="input"))
        return EXIT_INPUT
    if args.run_dir.exists():
        sink(Failed(error=f"run folder {args.run_dir} already exists", kind="input"))
        return EXIT_INPUT
    return run_job(spec, args.run_dir, sink, args.rerun_of, detached=args.detached)


if __name__ == "__main__":
    sys.exit(main())
