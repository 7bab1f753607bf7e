"""Headless runs: start the worker, turn its events into progress lines, print a summary.

On a terminal, progress rewrites one status line; otherwise (a pipe, a CI log) it prints plain
lines, throttled, never a carriage return. With `--json -` stdout carries only the result JSON
and every human line goes to stderr.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

from mnist_tui.engine.events import Event
from mnist_tui.engine.launch import WorkerRun
from mnist_tui.outputs import QuietOnClosedPipe, write_json_output

EXIT_CODES = {"finished": 0, "failed": 3, "cancelled": 130, "interrupted": 130}
PLAIN_PROGRESS_SECONDS = 5.0


class Reporter:
    """Renders events for people, on a terminal or in a log."""

    def __init__(self, stream: TextIO) -> None:
        self.out = stream
        self.tty = stream.isatty()
        self._status = False
        self._last_plain: dict[str, float] = {}

    def _line(self, text: str) -> None:
        if self._status:
            self.out.write("\r\x1b[K")
            self._status = False
        self.out.write(text + "\n")
        self.out.flush()

    def end_status(self) -> None:
        """Close a pending status line, so that what follows (an `error:` line on stderr)
        starts on a line of its own."""
        if self._status:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self._status = False

    def _progress(self, ev) -> None:
        frac = f"{ev.step:,}/{ev.total:,}" if ev.total else f"{ev.step:,}"
        if ev.phase == "download":   # bytes
            frac = (f"{ev.step / 1e6:.1f}/{ev.total / 1e6:.1f} MB" if ev.total
                    else f"{ev.step / 1e6:.1f} MB")
        extras = " ".join(f"{k.replace('_', ' ')} {_fmt(v, k)}" for k, v in ev.metrics.items())
        eta = f" ETA {ev.eta:.0f}s" if ev.eta else ""
        text = f"[{ev.t:7.1f}s] {ev.phase} {frac} {ev.message} {extras}{eta}".rstrip()
        if self.tty:
            self.out.write("\r\x1b[K" + text[:200])
            self.out.flush()
            self._status = True
            return
        done = ev.total is not None and ev.step >= ev.total
        last = self._last_plain.get(ev.phase, float("-inf"))
        if done or time.monotonic() - last >= PLAIN_PROGRESS_SECONDS:
            self._last_plain[ev.phase] = time.monotonic()
            self._line(text)

    def event(self, ev: Event) -> None:
        kind = ev.type
        if kind == "progress":
            self._progress(ev)
        elif kind == "phase":
            self._line(f"[{ev.t:7.1f}s] {ev.name}: {ev.message}" if ev.message
                       else f"[{ev.t:7.1f}s] {ev.name}")
        elif kind == "log":
            prefix = "" if ev.level == "info" else f"{ev.level.upper()}: "
            self._line(f"[{ev.t:7.1f}s] {prefix}{ev.message}")
        elif kind == "epoch":
            metrics = "  ".join(f"{k} {_fmt(v)}" for k, v in ev.metrics.items())
            self._line(f"[{ev.t:7.1f}s] epoch {ev.epoch}/{ev.epochs}  {metrics}  "
                       f"({ev.seconds:.1f}s)")
        elif kind == "model_summary":
            self._line(f"[{ev.t:7.1f}s] model: {len(ev.layers)} layers, "
                       f"{ev.trainable_params:,} trainable + {ev.frozen_params:,} frozen parameters")
        elif kind == "started":
            self._line(f"run {ev.run_id}: {ev.job} (preset {ev.spec.get('preset')}, "
                       f"seed {ev.spec.get('seed')})")

    def summary(self, result: dict) -> None:
        self._line("")
        for line in format_summary(result):
            self._line(line)


def _fmt(v, key: str = "") -> str:
    if isinstance(v, float) and key.endswith("per_s"):
        return f"{v:,.0f}"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 100 else f"{v:,.1f}"
    return str(v)


def format_summary(result: dict) -> list[str]:
    """The human summary: status, accuracies (labelled), times per phase, the confusion matrix."""
    status = result.get("status", "?")
    lines = [f"{result.get('job', '?')} {status}" + (f": {result['error']}"
                                                      if result.get("error") else "")]
    ds = result.get("dataset") or {}
    if ds:
        n = ds.get("n_samples")
        count = f" ({n:,} images)" if isinstance(n, int) else ""
        lines.append(f"dataset   {ds.get('name')}{count} from {ds.get('source')}")
    images = result.get("images") if isinstance(result.get("images"), dict) else {}
    for key in ("train", "validation", "clustered", "evaluation"):
        if isinstance(images.get(key), str):
            label = {"evaluation": "scored on"}.get(key, key)
            lines.append(f"  {label:<12} {images[key]}")
    m = result.get("metrics") or {}
    labels = {
        "accuracy_hungarian": "accuracy (one-to-one, Hungarian)",
        "accuracy_majority": "accuracy (majority vote, many-to-one)",
        "nmi": "NMI", "ari": "ARI", "accuracy": "accuracy", "loss": "loss",
    }
    for key, label in labels.items():
        if isinstance(m.get(key), (int, float)):
            lines.append(f"{label:<38} {m[key]:.4f}")
    if m.get("eval_split") and not images.get("evaluation"):
        lines.append(f"{'measured on':<38} {m['eval_split']}")
    for warning in result.get("warnings") or []:
        lines.append(f"warning   {warning}")
    timings = result.get("timings") or {}
    if timings:
        lines.append("time      " + "  ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    cm = result.get("confusion_matrix")
    if cm:
        mapping = result.get("confusion_mapping")
        lines.append("confusion matrix (rows = true digit, columns = predicted"
                     + (f", {mapping} mapping)" if mapping else ")"))
        width = max(4, len(str(max(max(r) for r in cm))) + 1)
        lines.append("     " + "".join(f"{c:>{width}}" for c in range(len(cm[0]))))
        for i, row in enumerate(cm):
            lines.append(f"  {i}  " + "".join(f"{v:>{width}}" for v in row))
    if result.get("run_dir"):
        lines.append(f"run folder {result['run_dir']}")
    return lines


class _Stop(BaseException):
    """The first stop signal the batch front end received."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# Which signal the worker gets for the one this process received: its reason is then true.
FORWARD = {signal.SIGINT: signal.SIGINT, signal.SIGTERM: signal.SIGTERM,
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


def run_batch(spec, runs_dir: Path, json_out: str | None = None,
              rerun_of: str | None = None) -> int:
    """Run one spec to the end in a worker; returns the exit code.

    The first Ctrl-C (or SIGTERM, or a hang-up) is forwarded to the worker, which records the run
    with that reason; a second one kills the worker at once and the run is recorded here. Either
    way the summary and the JSON are still written.
    """
    human = QuietOnClosedPipe(sys.stderr if json_out == "-" else sys.stdout)
    reporter = Reporter(human)
    worker = WorkerRun(spec.to_dict(), runs_dir, rerun_of)
    received: list[int] = []

    def on_stop(signum, frame):
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
    try:
        try:
            worker.start()
            for ev in worker.events():
                reporter.event(ev)
        except _Stop as stop:
            interrupted = True
            if stop.signum != signal.SIGHUP:
                reporter._line("interrupted: stopping the job and recording what it has done… "
                               "(again: stop at once)")
            worker.stop(FORWARD[stop.signum])
            for ev in worker.events():
                reporter.event(ev)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    result = worker.outcome("interrupted" if interrupted else "failed")
    status = result.get("status", "failed")
    if status == "failed" and result.get("error_kind") == "input":
        reporter.end_status()
        print(f"error: {result.get('error')}", file=sys.stderr)
        code = 2
    else:
        reporter.summary(result)
        code = EXIT_CODES.get(status, 3)
        if status == "failed" and not result.get("run_dir"):
            tail = worker.stderr_tail()
            if tail:
                print(tail, file=sys.stderr)
    if json_out:
        text = json.dumps(result, indent=2) + "\n"
        if json_out == "-":
            out = QuietOnClosedPipe(sys.stdout)
            out.write(text)
            out.flush()
        else:
            try:
                write_json_output(json_out, text)
            except OSError as exc:
                print(f"error: --json: cannot write {json_out}: {exc.strerror}", file=sys.stderr)
                return code or 2
    return code
