"""What the screens share about runs: headline accuracies, states, settings that differ (the
figures themselves read as everywhere else: `engine/present.py`).

Results of both job families go through here, and every field is optional: a cancelled run, an
old result or a job written later must render, never crash.
"""

from __future__ import annotations

from typing import Any

from mnist_tui.engine import present
from mnist_tui.engine.jobs.results import HUNGARIAN, MAJORITY, ClassifierMetrics, RunResult

STATE_STYLE = {
    "queued": "dim", "starting": "cyan", "running": "bold cyan", "stopping": "yellow",
    "finished": "bold green", "failed": "bold red", "cancelled": "yellow",
    "interrupted": "magenta",
}
STATE_ICON = {
    "queued": "…", "starting": "▶", "running": "▶", "stopping": "■", "finished": "✔",
    "failed": "✘", "cancelled": "■", "interrupted": "↯",
}


def headlines(result: RunResult | None) -> list[tuple[str, float | None]]:
    """The accuracies to show big, labelled so that nobody confuses the two clustering ones."""
    if result is None:
        return []
    m = result.metrics
    out: list[tuple[str, float | None]] = []
    if isinstance(m, ClassifierMetrics):
        if "accuracy" in m.model_fields_set:
            where = m.eval_split
            out.append((f"accuracy{' on ' + where.split(' (')[0] if where else ''}",
                        m.accuracy))
        return out
    alone = result.metrics_clustering
    refined = "self-trained " if alone is not None else ""
    if "accuracy_hungarian" in m.model_fields_set:
        out.append((f"{refined}{HUNGARIAN}", m.accuracy_hungarian))
    if "accuracy_majority" in m.model_fields_set:
        out.append((f"{refined}{MAJORITY}", m.accuracy_majority))
    if alone is not None and "accuracy_hungarian" in alone.model_fields_set:
        # the refined preset: the clustering's own number stays in view
        out.append(("clustering alone (one-to-one)", alone.accuracy_hungarian))
    return out


def main_accuracy(result: RunResult | None) -> float | None:
    """One number for sorting and comparing: the run's headline accuracy."""
    return result.headline().value if result is not None else None


def total_seconds(result: RunResult | None) -> float | None:
    return result.total_seconds() if result is not None else None


def load_text(result: RunResult | None) -> str:
    """`load 3.8 · nice 10`: how busy the machine was while the run went ("" when the run
    recorded none: an old record, or a run still going)."""
    return result.load.text() if result is not None and result.load is not None else ""


def time_text(result: RunResult | None) -> str:
    """The run's time with what explains it: `6 min 52 s · load 3.8 · nice 10`."""
    load = load_text(result)
    return present.duration(total_seconds(result)) + (f" · {load}" if load else "")


def load_figures(result: RunResult | None) -> tuple[str, str]:
    """(load average, nice level) as two table cells: ("3.8", "10"); "—" where unknown."""
    rec = result.load if result is not None else None
    load = rec.load() if rec is not None else None
    return (f"{load:.1f}" if load is not None else "—",
            str(rec.nice) if rec is not None and rec.nice is not None else "—")


def differing_settings(specs: list[dict[str, Any]]) -> list[str]:
    """Spec keys whose values are not the same in every spec."""
    keys: list[str] = []
    for spec in specs:
        for k in spec:
            if k not in keys:
                keys.append(k)
    return [k for k in keys if len({repr(s.get(k, "—")) for s in specs}) > 1]


def short_id(run_id: str) -> str:
    """20261125-143005-tsne-gmm-3f9a1c → 14:30:05 …3f9a1c (tables are narrow at 80 columns)."""
    parts = run_id.split("-")
    if len(parts) >= 3 and len(parts[1]) == 6 and parts[1].isdigit():
        t = parts[1]
        return f"{parts[0][4:6]}-{parts[0][6:8]} {t[:2]}:{t[2:4]} {parts[-1]}"
    return run_id[-20:]


# A named learning curve: its epochs and its values (None where an epoch lacks one).
Curve = tuple[str, list[object], list[object]]


def history_series(history: list[dict[str, Any]] | None) -> tuple[list[Curve], list[Curve]]:
    """Learning-curve series from an epoch history: ([(name, xs, ys)] for loss, … for accuracy)."""
    history = history or []
    xs: list[object] = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    loss: list[Curve] = []
    acc: list[Curve] = []
    for key in ("loss", "val_loss"):
        if any(key in h for h in history):
            loss.append((key.replace("_", " "), xs, [h.get(key) for h in history]))
    for key in ("accuracy", "val_accuracy"):
        if any(key in h for h in history):
            acc.append((key.replace("_", " "), xs, [h.get(key) for h in history]))
    return loss, acc
