"""Events as plain text: the one line a log shows for each (batch), and the short status line
of a running suite (its preflight's downloads, a member's phase, progress and epochs: the
Suites screen).

Built from the presentation vocabulary (`engine/present.py`); here, not there, because the
data layer uses that vocabulary too and must not reach the jobs' events (the engine's layers).
"""

from __future__ import annotations

from mnist_tui.engine.jobs.events import Epoch, Event, Log, ModelSummary, Phase, Progress, Started
from mnist_tui.engine.present import (
    duration,
    is_number,
    metrics_text,
    percent,
    phase_text,
    progress_count,
    stamp,
    transferred,
)


def event_line(ev: Event) -> str | None:
    """An event as one plain line of a log, stamped with its job time (`[   12.3s] …`); None for
    the events a log does not show this way (progress: `progress_line`, throttled by the caller;
    snapshots; the end, which the summary tells)."""
    if isinstance(ev, Phase):
        return f"{stamp(ev.t)} {phase_text(ev.name, ev.message)}"
    if isinstance(ev, Log):
        prefix = "" if ev.level == "info" else f"{ev.level.upper()}: "
        return f"{stamp(ev.t)} {prefix}{ev.message}"
    if isinstance(ev, Epoch):
        return (f"{stamp(ev.t)} epoch {ev.epoch}/{ev.epochs}  {metrics_text(ev.metrics, '  ')}"
                f"  ({duration(ev.seconds, 'tenths')})")
    if isinstance(ev, ModelSummary):
        return (f"{stamp(ev.t)} model: {len(ev.layers)} layers, {ev.trainable_params:,} "
                f"trainable + {ev.frozen_params:,} frozen parameters")
    if isinstance(ev, Started):
        return (f"run {ev.run_id}: {ev.job} (preset {ev.spec.get('preset')}, "
                f"seed {ev.spec.get('seed')})")
    return None


def _eta(ev: Progress) -> str:
    return f" ETA {ev.eta:.0f}s" if ev.eta else ""


def progress_tail(ev: Progress) -> str:
    """What follows a progress event's numbers on the live bar: message, metrics, ETA."""
    return f"{ev.message} {metrics_text(ev.metrics, names=True)}{_eta(ev)}".strip()


def progress_line(ev: Progress) -> str:
    """A progress event as one plain log line: `[   12.3s] tsne 200/750 optimising KL 1.23`."""
    return (f"{stamp(ev.t)} {ev.phase} {progress_count(ev.phase, ev.step, ev.total)} "
            f"{ev.message} {metrics_text(ev.metrics, names=True)}{_eta(ev)}").rstrip()


def preflight_text(ev: Event) -> str | None:
    """A suite preflight's event (its downloads: MNIST, the VGG16 weights) as the status line's
    text: `loading: reading MNIST`, `downloading x.gz: 1.2/9.9 MB`; None: not shown."""
    if isinstance(ev, Phase):
        return phase_text(ev.name, ev.message)
    if isinstance(ev, Progress) and ev.phase == "download":
        return f"{ev.message}: {transferred(ev.step, ev.total)}"
    return None


def live_text(ev: Event, phase: str) -> str | None:
    """A running member's event as the status line's text (`phase`: its last phase):
    `tsne 27% optimising`, `epoch 3/10: accuracy 97.1%`; None: none."""
    if isinstance(ev, Phase):
        return ev.message or ev.name
    if isinstance(ev, Progress):
        pct = f" {percent(ev.step / ev.total, 0)}" if ev.total else ""
        return f"{ev.phase or phase}{pct} {ev.message}".strip()
    if isinstance(ev, Epoch):
        metrics = ev.metrics or {}
        acc = metrics.get("val_accuracy", metrics.get("accuracy"))
        return f"epoch {ev.epoch}/{ev.epochs}" + (
            f": accuracy {percent(acc, 1)}" if is_number(acc) else "")
    return None
