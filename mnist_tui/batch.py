"""Headless runs: start the worker, turn its events into progress lines, print a summary.

On a terminal, progress is a live bar at the bottom (`batch_bar`, drawn by rich.progress) with
finished lines printed above it; otherwise (a pipe, a CI log) it prints plain lines, throttled,
never a carriage return. With `--json -` stdout carries only the result JSON
and every human line goes to stderr.

The worker's CPU %, resident memory and GPUs (`engine.runs.sysmon`, the Monitor's figures) are
sampled by a small thread every SYSTEM_SECONDS: on a terminal they are the bar's last line, in a
log they are a plain `system:` line every SYSTEM_PLAIN_SECONDS — so a long silent
phase (TensorFlow's import, a first epoch) still shows the job is alive.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO, cast

from mnist_tui.batch_bar import LiveBar
from mnist_tui.engine.jobs.event_text import event_line, progress_line, progress_tail
from mnist_tui.engine.jobs.events import Event, Progress
from mnist_tui.engine.jobs.results import ClassifierMetrics, RunResult
from mnist_tui.engine.present import count, duration, progress_count, stamp
from mnist_tui.engine.runs.launch import WorkerRun
from mnist_tui.engine.text import visible
from mnist_tui.outputs import (
    OutputError,
    QuietOnClosedPipe,
    error_line,
    human_stream,
    say,
    write_output,
    write_stdout,
)

EXIT_CODES = {"finished": 0, "failed": 3, "cancelled": 130, "interrupted": 130}
PLAIN_PROGRESS_SECONDS = 5.0
SYSTEM_SECONDS = 2.0          # how often the worker is sampled (the terminal's status line)
SYSTEM_PLAIN_SECONDS = 10.0   # how often a log gets a `system:` line

if TYPE_CHECKING:
    from mnist_tui.engine.jobs.specs import JobSpec


class Reporter:
    """Renders events for people, on a terminal or in a log."""

    def __init__(self, stream: TextIO | QuietOnClosedPipe,
                 system_every: float = SYSTEM_PLAIN_SECONDS) -> None:
        self.out = stream
        self.system_every = system_every    # seconds between `system:` lines in a log
        self.tty = stream.isatty()
        # Rich's Console uses write, flush and isatty of its file, which the pipe guard has.
        self.bar = LiveBar(cast(TextIO, stream)) if self.tty else None
        self._last_plain: dict[str, float] = {}
        self._lock = threading.RLock()      # the system thread writes too
        self._system_text = ""              # the latest system figures
        self._last_system_line = time.monotonic()
        self._clock = (0.0, time.monotonic())   # (latest event's t, when it came)

    def line(self, text: str) -> None:
        """One human line. Every line shows its control characters as escapes (`visible`):
        names, paths, run ids and error texts inside it come from folders, records and
        exceptions anyone can write, and an ESC sequence would drive the terminal, a newline
        forge a line of its own (`error: …`)."""
        self._write(visible(text))

    def drawn(self, text: str) -> None:
        """Lines we drew ourselves (the sweep charts: plotext's colour codes on a terminal),
        printed as they are: every label in them was made visible where it was drawn."""
        self._write(text)

    def _write(self, text: str) -> None:
        with self._lock:
            if self.bar is not None:
                self.bar.print(text)
                return
            self.out.write(text + "\n")
            self.out.flush()

    def end_status(self) -> None:
        """Remove the live bar, so that what follows (the summary, an `error:` line on
        stderr) starts on a line of its own."""
        with self._lock:
            if self.bar is not None:
                self.bar.stop()

    def job_seconds(self) -> float:
        """The job's clock now: the latest event's `t` plus the time since it came."""
        t, at = self._clock
        return t + time.monotonic() - at

    def system(self, text: str) -> None:
        """The worker's system figures (from the sampling thread)."""
        with self._lock:
            self._system_text = f"system: {text}"
            if self.bar is not None:
                self.bar.set_system(self._system_text)
            elif time.monotonic() - self._last_system_line >= self.system_every:
                self._last_system_line = time.monotonic()
                self.line(f"{stamp(self.job_seconds())} {self._system_text}")

    def _progress(self, ev: Progress) -> None:
        if self.bar is not None:
            with self._lock:
                self.bar.show(ev.phase, f"{stamp(ev.t)} {ev.phase}", ev.step, ev.total,
                              progress_count(ev.phase, ev.step, ev.total), progress_tail(ev))
            return
        done = ev.total is not None and ev.step >= ev.total
        last = self._last_plain.get(ev.phase, float("-inf"))
        if done or time.monotonic() - last >= PLAIN_PROGRESS_SECONDS:
            self._last_plain[ev.phase] = time.monotonic()
            self.line(progress_line(ev))

    def event(self, ev: Event) -> None:
        self._clock = (max(ev.t or 0.0, self._clock[0]), time.monotonic())
        if ev.type == "phase" and self.bar is not None:
            with self._lock:
                self.bar.hide()           # a new phase: the last one's bar is stale
        if isinstance(ev, Progress):
            self._progress(ev)
            return
        text = event_line(ev)
        if text is not None:
            self.line(text)

    def summary(self, result: RunResult) -> None:
        self.end_status()
        self.line("")
        for line in format_summary(result):
            self.line(line)


class SystemTicker:
    """Samples the worker (`engine.runs.sysmon`) every SYSTEM_SECONDS on a daemon thread and hands
    the figures to the reporter; NVML, when there is a GPU, is only ever called from here."""

    def __init__(self, reporter: Reporter, pid: int, every: float = SYSTEM_SECONDS) -> None:
        self.reporter, self.pid, self.every = reporter, pid, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="system", daemon=True)

    def start(self) -> SystemTicker:
        self._thread.start()
        return self

    def stop(self) -> None:
        """No figures after this returns (the summary follows)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    def _run(self) -> None:
        from mnist_tui.engine.runs import sysmon

        proc = sysmon.ProcMonitor(self.pid)
        proc.sample()                     # the first look: CPU % needs an interval
        while not self._stop.wait(self.every):
            try:
                sample = proc.sample()
                if sample is None:        # the worker has ended
                    return
                gpus = sysmon.gpus(self.pid)
                line = sysmon.format_system(sample, gpus, sysmon.gpu_status())
                if not self._stop.is_set():
                    self.reporter.system(line)
            except Exception:  # noqa: BLE001 - figures must never break the run
                return


def format_summary(result: RunResult) -> list[str]:
    """The human summary: status, accuracies (labelled), times per phase, the confusion matrix."""
    lines = [f"{result.job or '?'} {result.status}"
             + (f": {result.error}" if result.error else "")]
    ds = result.dataset
    if ds is not None and ds.to_dict():
        n = ds.n_samples
        images_text = f" ({count(n)} images)" if n is not None else ""
        lines.append(f"dataset   {visible(ds.label())}{images_text}")
    images = result.images or {}
    for key in ("train", "validation", "clustered", "evaluation"):
        if key in images:
            label = {"evaluation": "scored on"}.get(key, key)
            lines.append(f"  {label:<12} {images[key]}")
    backend = (result.details or {}).get("backend")
    if isinstance(backend, str):        # the classifiers: which Keras backend trained it
        lines.append(f"backend   {backend}")
    m = result.metrics
    refined = result.refined
    labels = {
        "accuracy_hungarian": ("accuracy (one-to-one, Hungarian)" if not refined else
                               "after self-training (one-to-one)"),
        "accuracy_majority": ("accuracy (majority vote, many-to-one)" if not refined else
                              "after self-training (majority vote)"),
        "nmi": "NMI", "ari": "ARI", "accuracy": "accuracy", "loss": "loss",
    }
    for key, label in labels.items():
        value = getattr(m, key, None)
        if value is not None:
            lines.append(f"{label:<38} {value:.4f}")
    alone = result.metrics_clustering
    if alone is not None and alone.accuracy_hungarian is not None:
        # the refined preset: the clustering's own numbers beside the self-trained ones above
        lines.append(f"{'clustering alone (one-to-one)':<38} {alone.accuracy_hungarian:.4f}")
        if alone.accuracy_majority is not None:
            lines.append(f"{'clustering alone (majority vote)':<38} "
                         f"{alone.accuracy_majority:.4f}")
    if isinstance(m, ClassifierMetrics) and m.eval_split and "evaluation" not in images:
        lines.append(f"{'measured on':<38} {m.eval_split}")
    for warning in result.warnings:
        lines.append(f"warning   {warning}")
    if result.timings:
        lines.append("time      " + "  ".join(f"{k} {duration(v, 'tenths')}"
                                             for k, v in result.timings.items()))
    cm = result.confusion_matrix
    if cm and cm[0]:
        mapping = result.confusion_mapping
        lines.append("confusion matrix (rows = true digit, columns = predicted"
                     + (f", {mapping} mapping)" if mapping else ")"))
        width = max(4, len(str(max(max(r) for r in cm if r))) + 1)
        lines.append("     " + "".join(f"{c:>{width}}" for c in range(len(cm[0]))))
        for i, row in enumerate(cm):
            lines.append(f"  {i}  " + "".join(f"{v:>{width}}" for v in row))
    if result.run_dir:
        lines.append(f"run folder {result.run_dir}")
    # the error, warnings, image descriptions and run folder are a record's text: visible
    return [visible(line) for line in lines]


def worker_tail(tail: str) -> str:
    """The last lines a worker wrote, indented, each made visible: a traceback quotes paths
    and values, and a file name holding a newline must not start a line that reads as our
    own (`error: …`)."""
    return "\n".join(f"  {visible(line)}" for line in tail.splitlines())


class _Stop(BaseException):
    """The first stop signal the batch front end received."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# Which signal the worker gets for the one this process received: its reason is then true.
FORWARD: dict[int, signal.Signals] = {signal.SIGINT: signal.SIGINT, signal.SIGTERM: signal.SIGTERM,
           signal.SIGHUP: signal.SIGHUP}


def silence_terminal() -> None:
    """The terminal is gone (SIGHUP): writing to it would fail, so write nowhere instead."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        try:
            os.dup2(devnull, fd)
        except OSError:
            pass
    os.close(devnull)


def run_batch(spec: JobSpec, runs_dir: Path, json_out: str | None = None,
              rerun_of: str | None = None) -> int:
    """Run one spec to the end in a worker; returns the exit code.

    The first Ctrl-C (or SIGTERM, or a hang-up) is forwarded to the worker, which records the run
    with that reason; a second one kills the worker at once and the run is recorded here. Either
    way the summary and the JSON are still written.
    """
    human = human_stream(json_out)
    reporter = Reporter(human)
    from mnist_tui.engine.runs.owner import owner_env

    worker = WorkerRun(spec.to_dict(), runs_dir, rerun_of, env=owner_env("batch"))
    received: list[int] = []

    def on_stop(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if signum == signal.SIGHUP:
            silence_terminal()
        if len(received) == 1:
            raise _Stop(signum)
        worker.kill_reason = ("interrupted twice: the worker was killed at once, before it "
                              "could record its own result")
        worker.kill()

    previous = {sig: signal.signal(sig, on_stop) for sig in FORWARD}
    interrupted = False
    ticker = None
    try:
        try:
            worker.start()
            assert worker.proc is not None      # start() made it
            ticker = SystemTicker(reporter, worker.proc.pid).start()
            for ev in worker.events():
                reporter.event(ev)
        except _Stop as stop:
            interrupted = True
            if stop.signum != signal.SIGHUP:
                reporter.line("interrupted: stopping the job and recording what it has done… "
                               "(again: stop at once)")
            worker.stop(FORWARD[stop.signum])
            for ev in worker.events():
                reporter.event(ev)
    finally:
        if ticker is not None:
            ticker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    result = worker.outcome("interrupted" if interrupted else "failed")
    status = result.status
    if status == "failed" and result.error_kind == "input":
        reporter.end_status()
        error_line(result.error)
        code = 2
    else:
        reporter.summary(result)
        code = EXIT_CODES.get(status, 3)
        if status == "failed" and not result.run_dir:
            tail = worker.stderr_tail()
            if tail:
                say(worker_tail(tail))
    if json_out:
        text = json.dumps(result.to_dict(), indent=2) + "\n"
        try:
            if json_out == "-":
                write_stdout(text)
            else:
                write_output(json_out, text)
        except OutputError as exc:
            error_line(exc)
            return code or 2
        except OSError as exc:
            error_line(f"--json: cannot write {json_out}: {exc.strerror}")
            return code or 2
    return code
