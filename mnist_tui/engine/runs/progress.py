"""One run's progress folded from its events: phases, steps, rates and ETAs, epochs, the
per-step learning curve, the KL curve, the last embedding snapshot, the model summary, log lines
(the Log events, and each epoch as the batch output prints it) and how it ended.

Why one fold: the live Monitor (`tui/jobs.Job`, events from a worker's pipe or a followed
events.jsonl) and a replayed run (`view.load_run_view` for Results and Compare) show the same
events; folded twice, an epoch or a KL point came to mean different things on each.

Events are read from files anyone can write, so each field is checked as it is folded: a
number that is text, NaN, Infinity or a bool is left out (never reaches a chart, never raises),
a progress event with no step number is not progress.

Live or replayed is one rule, about the clock only (`elapsed`): a live run has `started_at`,
the app's monotonic time when the worker's clock (events' `t`) was 0, and its time runs with
the app's clock until the terminal event; a replayed run has none and its time is the
recorded clock, the latest event's `t`. Rates and ETAs come from event stamps in both, so a
replay up to time t says what the live Monitor said at t.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypedDict, TypeGuard

from mnist_tui.engine.jobs.event_text import event_line
from mnist_tui.engine.jobs.events import (
    Epoch,
    Event,
    Failed,
    Log,
    ModelSummary,
    Phase,
    Progress,
    Snapshot,
    TerminalEvent,
    event_from_dict,
)

if TYPE_CHECKING:
    from mnist_tui.engine.jobs.results import RunResult

SUPERVISED = ("cnn", "vgg16")     # jobs that train for epochs
LOG_LINES = 200                   # the log lines kept (the Monitor shows the last few)
CURVE_METRICS = ("loss", "accuracy")   # what a point of the per-step curve keeps


class SnapshotPoints(TypedDict):
    """A down-sampled embedding to scatter: `iteration` is "final" for the run's last one."""

    iteration: int | str
    points: list[Any]
    labels: list[Any]


class SummaryTable(TypedDict):
    """A model summary: [{"name", "class", "output_shape", "params", "trainable"}] and counts."""

    layers: list[dict[str, Any]]
    trainable_params: int
    frozen_params: int


@dataclass(frozen=True)
class EpochEnd:
    """One finished epoch as its event said it; None where the event held no number."""

    epoch: float | None          # an int from our workers
    epochs: int | None           # how many the training has
    seconds: float | None        # how long it took, validation included
    metrics: dict[str, float]    # loss, accuracy, val_loss, val_accuracy…

    def entry(self) -> dict[str, float]:
        """Its learning-curve point: {"epoch", **metrics}, "epoch" only when it is a number."""
        return numbers({"epoch": self.epoch, **self.metrics})


def is_number(v: object) -> TypeGuard[float]:
    """A finite int or float (JSON's `Infinity` and `NaN` read as floats; no chart takes them)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def numbers(values: object) -> dict[str, float]:
    """The numeric values of a mapping (an event's `metrics`, a recorded epoch): a `metrics`
    that is a list or a string is none, a text value is left out rather than drawn."""
    if not isinstance(values, Mapping):
        return {}
    return {k: v for k, v in values.items() if isinstance(k, str) and is_number(v)}


def _number(v: object) -> float | None:
    return v if is_number(v) else None


def _text(v: object) -> str:
    return v if isinstance(v, str) else ""


def _count(v: object) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


@dataclass(kw_only=True)
class RunProgress:
    """A run's progress, event by event (`apply`). Keyword-only: the Monitor's `Job` extends it
    with its worker's bookkeeping and keeps its own positional fields first."""

    job: str = ""                        # the job's name: cnn and vgg16 train for epochs
    planned_epochs: int | None = None    # the spec's epochs, until an epoch event says
    phase: str = ""
    phase_message: str = ""
    step: float = 0                      # an int from our workers
    total: float | None = None
    progress_message: str = ""
    eta: float | None = None             # the worker's own ETA for this phase, if it gave one
    metrics: dict[str, float] = field(default_factory=dict)   # the latest progress metrics
    kl: list[tuple[float, float]] = field(default_factory=list)   # (step, KL divergence)
    # The per-step learning curve: (epochs done, the epoch's running loss, accuracy…), from
    # progress events with a `curve_at`; empty for runs recorded before there were any.
    curve: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    epochs: list[EpochEnd] = field(default_factory=list)
    snapshot: SnapshotPoints | None = None
    snapshot_count: int = 0              # snapshots folded: a new one is drawn once
    model_summary: SummaryTable | None = None
    logs: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    result: RunResult | None = None      # the terminal event's result
    error: str | None = None
    events_seen: int = 0
    # The run's clocks. Event time: seconds since the job started, as the worker stamps them.
    phase_t0: float = 0.0                # event time the current phase began
    last_t: float = 0.0                  # event time of the latest event
    ended_t: float | None = None         # event time of the terminal event: the clock stops
    rate_t0: float = 0.0                 # event time and step where the current progress
    rate_step0: float = 0                #   series began (a phase, a file, an epoch)
    # The app's monotonic clock, for a live run only (None: a replayed run).
    started_at: float | None = None
    ended_at: float | None = None        # when the app saw the worker end

    # -- the fold ------------------------------------------------------------------------
    def apply(self, ev: Event) -> None:
        """Fold one event in."""
        self.events_seen += 1
        t = _number(ev.t) or 0.0
        self.last_t = max(self.last_t, t)
        if isinstance(ev, Phase):
            self.phase, self.phase_message, self.phase_t0 = _text(ev.name), _text(ev.message), t
            self.step, self.total, self.eta, self.progress_message = 0, None, None, ""
            self.rate_t0, self.rate_step0 = t, 0
        elif isinstance(ev, Progress):
            self._progress(ev, t)
        elif isinstance(ev, Epoch):
            self.epochs.append(EpochEnd(
                epoch=_number(ev.epoch), seconds=_number(ev.seconds), metrics=numbers(ev.metrics),
                epochs=ev.epochs if _count(ev.epochs) > 0 else None))
            self.step, self.eta = 0, None          # the next epoch's batches start from 0
            self.rate_t0, self.rate_step0 = t, 0
            line = epoch_log_line(ev, t)
            if line is not None:
                self.logs.append(("info", line))
        elif isinstance(ev, Snapshot):
            if isinstance(ev.points, list):
                self.snapshot = SnapshotPoints(
                    iteration=ev.iteration if isinstance(ev.iteration, (int, str)) else 0,
                    points=ev.points, labels=ev.labels if isinstance(ev.labels, list) else [])
                self.snapshot_count += 1
        elif isinstance(ev, ModelSummary):
            layers = ev.layers if isinstance(ev.layers, list) else []
            self.model_summary = SummaryTable(
                layers=[layer for layer in layers if isinstance(layer, dict)],
                trainable_params=_count(ev.trainable_params),
                frozen_params=_count(ev.frozen_params))
        elif isinstance(ev, Log):
            self.logs.append((_text(ev.level), _text(ev.message)))
        elif isinstance(ev, TerminalEvent):
            self.result = ev.result
            self.ended_t = t or self.last_t or None
            if isinstance(ev, Failed):
                self.error = _text(ev.error)
                self.logs.append(("error", self.error))
            elif _text(getattr(ev, "reason", "")):
                self.logs.append(("warning", _text(getattr(ev, "reason", ""))))

    def _progress(self, ev: Progress, t: float) -> None:
        step = _number(ev.step)
        if step is None:
            return
        total, phase = _number(ev.total), _text(ev.phase) or self.phase
        if phase != self.phase or total != self.total or step < self.step:
            self.rate_t0, self.rate_step0 = t, step   # a new series: a file, an epoch, a phase
        self.phase, self.step, self.total, self.eta = phase, step, total, _number(ev.eta)
        self.progress_message = _text(ev.message)
        self.metrics = numbers(ev.metrics)
        kl = self.metrics.get("kl_divergence")
        if kl is not None and (not self.kl or self.kl[-1][0] != step):
            self.kl.append((step, kl))
        at = _number(ev.curve_at)
        point = {k: v for k, v in self.metrics.items() if k in CURVE_METRICS}
        # a point further along than the last (a repeated or out-of-order one is not drawn)
        if at is not None and at > 0 and point and (not self.curve or at > self.curve[-1][0]):
            self.curve.append((at, point))

    # -- what it adds up to ---------------------------------------------------------------
    def history(self) -> list[dict[str, float]]:
        """The learning curve so far: one {"epoch", **metrics} per finished epoch."""
        return [e.entry() for e in self.epochs]

    def elapsed(self, now: float) -> float | None:
        """Seconds the run has run; it stops at the end. An ended run gives its own clock
        (its terminal event's time), not when the app noticed. `now` is the app's clock, used
        only by a live run; a replayed one gives the recorded clock."""
        if self.ended_t is not None:
            return self.ended_t
        if self.started_at is None:
            return self.last_t or None
        return (self.ended_at if self.ended_at is not None else now) - self.started_at

    def in_phase(self, now: float) -> float | None:
        """Seconds in the current phase (None before the first)."""
        if not self.phase:
            return None
        elapsed = self.elapsed(now)
        return None if elapsed is None else max(0.0, max(elapsed, self.last_t) - self.phase_t0)

    def epoch_progress(self) -> tuple[int, int, float] | None:
        """(current epoch, epochs, share of all training done) while a classifier trains."""
        if self.job not in SUPERVISED or self.phase != "training":
            return None
        epochs = (self.epochs[-1].epochs if self.epochs else None) or self.planned_epochs
        if not isinstance(epochs, int) or epochs <= 0:
            return None
        done = min(len(self.epochs), epochs)
        within = self.step / self.total if self.total and done < epochs else 0.0
        return min(done + 1, epochs), epochs, min(1.0, (done + within) / epochs)

    def share(self) -> float | None:
        """How far the run is: the epochs' share while training, else the current phase's
        step/total (None: this phase has no measure of progress)."""
        epochs = self.epoch_progress()
        if epochs is not None:
            return epochs[2]
        if self.total:
            return max(0.0, min(1.0, self.step / self.total))
        return None

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

    def remaining(self) -> float | None:
        """Seconds left: while a classifier trains, the epochs left at the mean time per
        finished epoch (validation included); before the first epoch ends, the worker's
        whole-training ETA; otherwise the phase's. None when nothing can be said."""
        epochs = self.epoch_progress()
        times = [e.seconds for e in self.epochs if e.seconds is not None]
        if epochs is not None and times:
            _, total, share = epochs
            return max(0.0, (1.0 - share) * total * sum(times) / len(times))
        return self.phase_eta()


def epoch_log_line(ev: Epoch, t: float) -> str | None:
    """The batch output's line for an epoch (`event_text.event_line`, the one source of that
    text), for the log: `[   10.3s] epoch 1/3  accuracy 0.2741  loss 2.3295 …  (3.1s)`.

    The event may come from a planted file: its stamp is the folded one and its metrics only
    its numbers (NaN kept, as the batch prints a diverged loss); an epoch whose counts are not
    counts gets no line (its numbers still reach the history)."""
    if _count(ev.epoch) <= 0 or _count(ev.epochs) <= 0:
        return None
    metrics = ev.metrics if isinstance(ev.metrics, Mapping) else {}
    shown = {k: v for k, v in metrics.items()
             if isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)}
    return event_line(replace(ev, t=t, metrics=shown))


def as_event(item: Event | Mapping[str, Any]) -> Event | None:
    """An event, parsed once at the edge from a recorded object; None for one that is not an
    event (an unknown type, a foreign line)."""
    if isinstance(item, Event):
        return item
    try:
        return event_from_dict(dict(item))
    except (ValueError, TypeError):
        return None


def replay(events: Iterable[Event | Mapping[str, Any]], job: str = "",
           planned_epochs: int | None = None, upto: float | None = None) -> RunProgress:
    """A recorded run's progress: its events folded in order (up to event time `upto`)."""
    progress = RunProgress(job=job, planned_epochs=planned_epochs)
    for item in events:
        ev = as_event(item)
        if ev is None:
            continue
        if upto is not None and (_number(ev.t) or 0.0) > upto:
            break
        progress.apply(ev)
    return progress
