"""Running a suite: its members one after another, each a normal recorded run in a worker.

Front ends pass a listener (any object; every method is optional):

    member_start(index, total, member)           before a member runs (index from 1)
    member_reused(index, total, member, run_id)  a finished run with the member's exact spec
    event(ev)                                    every event of the running member
    member_end(index, total, member, result)     its result (finished, failed, interrupted …)

Ctrl-C (KeyboardInterrupt in the caller) interrupts the running member — it records what it
measured — and stops the suite, which a later `resume` continues: finished members are reused.
A failed member does not stop the suite.

The runner holds the suite's lock for the whole run (`suite_lock`: a second runner gets
SuiteBusyError) and records itself in status.json (pid, host, start time), so a suite whose
runner died is told from a running one (`suites.reap_suites`). Whatever else escapes (a
listener's bug, an OSError writing a record) is recorded before it propagates: status "failed"
with the exception's type and message, and the running member's worker is interrupted rather
than left running unobserved.

Peak memory: the worker does not report its own yet, so the caller reads the worker's
`VmHWM` (the kernel's high-water mark of its resident set) from /proc at every event; the last
read, at the terminal event, is after the job's work, so it is the job's peak.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from mnist_tui.engine.runs import store as runs
from mnist_tui.engine.runs.launch import WorkerRun
from mnist_tui.engine.suites.records import Measurement, Runner
from mnist_tui.engine.suites.suite import (
    Member,
    SuiteFolder,
    finished_runs_by_key,
    run_problem,
)

if TYPE_CHECKING:
    from mnist_tui.engine.data.datasets import Dataset
    from mnist_tui.engine.jobs.context import JobContext
    from mnist_tui.engine.jobs.events import Event

PEAK_SOURCE = "worker VmHWM from /proc, read by the suite while the worker ran"


@dataclass
class SuiteOutcome:
    status: str                      # finished | failed | interrupted
    results: dict[str, dict[str, Any]] = field(default_factory=dict)   # member key → result
    reused: list[str] = field(default_factory=list)          # run ids reused
    ran: list[str] = field(default_factory=list)             # run ids started now
    failed: list[str] = field(default_factory=list)          # member labels


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


def _call(listener: object, name: str, *args: object) -> None:
    fn = getattr(listener, name, None)
    if fn is not None:
        fn(*args)


def run_suite(folder: SuiteFolder, listener: object = None, reuse_store: bool = False,
              nice: int = 0) -> SuiteOutcome:
    """Run (or continue) every member of the suite in `folder` (workers at `nice`: see
    `launch.lower_priority`). SuiteBusyError when another process runs it; any other exception
    propagates after status.json says failed, and why."""
    with folder.lock:
        try:
            return _run_suite(folder, listener, reuse_store, nice)
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


def _run_suite(folder: SuiteFolder, listener: object, reuse_store: bool,
               nice: int) -> SuiteOutcome:
    spec = folder.spec()
    members = spec.members()
    skipped: list[runs.Skipped] = []
    store_index = finished_runs_by_key(folder.runs_dir, members, skipped) if reuse_store else {}
    for s in skipped:
        _warn(listener, f"run folder {s.name} skipped: {s.reason}")
    out = SuiteOutcome(status="finished")
    total = len(members)
    folder.write_status("running", runner=Runner.current())

    asked: list[int] = []    # signals seen, even when Python swallowed their KeyboardInterrupt

    def on_stop(signum: int, frame: FrameType | None) -> NoReturn:
        asked.append(signum)
        raise KeyboardInterrupt

    # signal.signal works on the main thread only: a front end that runs the suite in a thread
    # (the TUI) interrupts the member through its listener or the worker's pid instead.
    # SIGINT's handler is Python's own plus a note: a KeyboardInterrupt raised in a finaliser
    # (the finished member's Popen.__del__, as its frame goes) is printed and ignored, and
    # the suite used to run on to its end.
    in_main = threading.current_thread() is threading.main_thread()
    previous: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int | None] = {}
    # A caller's own SIGINT handler is kept; Python's, the default and an inherited "ignore"
    # are replaced, as `--batch --job` does: a suite started in the background by a script
    # (which starts it with SIGINT ignored) still stops on `kill -INT`, and says so.
    if in_main:
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, on_stop)
        if signal.getsignal(signal.SIGINT) in (signal.default_int_handler, signal.SIG_DFL,
                                               signal.SIG_IGN):
            previous[signal.SIGINT] = signal.signal(signal.SIGINT, on_stop)
    try:
        for i, member in enumerate(members, 1):
            if asked:
                raise KeyboardInterrupt
            run_id = folder.finished_run(member) or store_index.get(member.key)
            if run_id:
                if folder.members().get(member.key) != run_id:
                    folder.set_member(member.key, run_id)
                out.reused.append(run_id)
                out.results[member.key] = runs.read_json(folder.runs_dir / run_id
                                                         / runs.RESULT_FILE)
                _call(listener, "member_reused", i, total, member, run_id)
                continue
            _warn_unreadable(folder, member, listener)
            result = _run_member(folder, member, i, total, listener, out, nice)
            out.results[member.key] = result
            status = result.get("status", "failed")
            if status in ("interrupted", "cancelled"):
                out.status = "interrupted"
                break
            if status != "finished":
                out.failed.append(member.label)
    except KeyboardInterrupt:
        out.status = "interrupted"   # between members: nothing is running
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if out.status != "interrupted" and out.failed:
        out.status = "failed"
    folder.write_status(out.status, members=total, finished=sum(
        1 for r in out.results.values() if r.get("status") == "finished"),
        failed=out.failed)
    return out


def _warn(listener: object, message: str) -> None:
    """A warning for people through the listener's events (the batch prints it). Names come
    from the file system: control characters are escaped and the length is bounded."""
    from mnist_tui.engine.jobs.events import Log
    from mnist_tui.engine.text import shown

    _call(listener, "event", Log(message=shown(message, 400), level="warning"))


def _warn_unreadable(folder: SuiteFolder, member: Member, listener: object) -> None:
    """The member's recorded run cannot be read (chmod 000, an I/O error): say which and why
    before running the member again, rather than rerun it silently."""
    run_id = folder.members().get(member.key)
    problem = run_problem(folder.runs_dir, run_id) if run_id else None
    if problem:
        _warn(listener, f"{member.label}: its run {run_id} cannot be read ({problem}); "
                        "running it again")


def _run_member(folder: SuiteFolder, member: Member, i: int, total: int, listener: object,
                out: SuiteOutcome, nice: int = 0) -> dict[str, Any]:
    worker = WorkerRun(member.spec, folder.runs_dir, nice=nice)
    peak: int | None = None
    interrupted = False
    _call(listener, "member_start", i, total, member)
    try:
        folder.set_member(member.key, worker.run_id)
        out.ran.append(worker.run_id)
        worker.start()
        assert worker.proc is not None   # start() sets it
        for ev in worker.events():
            peak = _max(peak, read_vmhwm(worker.proc.pid))
            _call(listener, "event", ev)
    except KeyboardInterrupt:
        interrupted = True
        _call(listener, "interrupting", member)
        if worker.proc is not None:
            worker.stop(signal.SIGINT)
            for ev in worker.events():
                _call(listener, "event", ev)
    except BaseException:
        _abandon(worker)
        raise
    result = worker.outcome("interrupted" if interrupted else "failed")
    if interrupted and result.get("status") == "finished":
        interrupted = False  # it finished before the signal reached it
    if (folder.runs_dir / worker.run_id).is_dir():
        if peak is not None:
            folder.set_measurement(worker.run_id, Measurement(peak_rss_bytes=peak,
                                                              source=PEAK_SOURCE))
    else:   # no run folder (bad input found by the worker): the suite keeps the failure
        error = result.get("error")
        folder.set_measurement(worker.run_id, Measurement(
            status=str(result.get("status", "failed")),
            error=error if isinstance(error, str) else None))
    result.setdefault("run_id", worker.run_id)
    _call(listener, "member_end", i, total, member, result)
    if interrupted:
        result["status"] = "interrupted"
    return result


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


def preflight(members: list[Member], emit: Callable[[Event], None] | None = None) -> None:
    """Catch what would fail every member the same way before anything runs (MnistTuiError):
    data that cannot be loaded, sizes larger than the data, VGG16 weights that cannot be had.
    What the members need from the network (MNIST, the ImageNet weights) is downloaded here,
    once, with its events (phase, progress) passed to `emit`."""
    from mnist_tui.engine.data.datasets import resolve_split
    from mnist_tui.engine.data.sources import load_dataset
    from mnist_tui.engine.errors import DataError
    from mnist_tui.engine.jobs.context import JobContext
    from mnist_tui.engine.jobs.downloads import download_reporter

    ctx = JobContext(emit or (lambda ev: None))
    seen: dict[tuple[Any, Any], Dataset] = {}
    for m in members:
        s = m.spec
        key = (s["dataset"], s.get("data_dir"))
        if key not in seen:
            seen[key] = load_dataset(s["dataset"], s.get("data_dir"),
                                     progress=download_reporter(ctx))
        ds = seen[key]
        split = resolve_split(ds, s.get("split", "all"), supervised=m.job != "tsne-gmm")
        n_pool = len(ds.pool(split))
        if s.get("samples") and s["samples"] > n_pool:
            raise DataError(f"{m.label}: {s['samples']:,} images asked for, but {ds.name} has "
                            f"{n_pool:,} in its {split} split (choose smaller --sizes)")
        if m.job == "vgg16":
            check_vgg_weights(s["weights"], ctx)


def check_vgg_weights(weights: str, ctx: JobContext | None = None) -> None:
    """The vgg16 job's own first step (light: no TensorFlow): a weights file must be readable,
    and the ImageNet file is fetched into Keras' cache now (events through `ctx`) so that no
    member downloads it, or the suite stops at once with the job's own one-line error."""
    from mnist_tui.engine.jobs.context import JobContext
    from mnist_tui.engine.jobs.downloads import weights_for_job

    weights_for_job(weights, ctx if ctx is not None else JobContext(lambda ev: None))
