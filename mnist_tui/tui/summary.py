"""Formatting shared by the screens: headline accuracies, durations, settings that differ.

Results of both job families go through here, and every field is optional: a cancelled run, an
old result or a job written later must render, never crash.
"""

from __future__ import annotations

import math
from typing import Any

STATE_STYLE = {
    "queued": "dim", "starting": "cyan", "running": "bold cyan", "stopping": "yellow",
    "finished": "bold green", "failed": "bold red", "cancelled": "yellow",
    "interrupted": "magenta",
}
STATE_ICON = {
    "queued": "…", "starting": "▶", "running": "▶", "stopping": "■", "finished": "✔",
    "failed": "✘", "cancelled": "■", "interrupted": "↯",
}


MAX_SECONDS = 1e9     # 31 years: a recorded time beyond this is no time (a planted 1e300)


def fmt_seconds(s: float | None) -> str:
    if not number(s) or s > MAX_SECONDS:   # None, or a planted NaN, Infinity or 1e300
        return "—"
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.1f}s" if s < 10 else f"{s:.0f}s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m{sec:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def fmt_time(seconds) -> str:
    """A member's time in the Suites table: tenths of a second under a minute (`12.3s`), then
    minutes and seconds (`3m05s`); `—` when there is none."""
    if not isinstance(seconds, (int, float)):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def number(v: Any) -> bool:
    """True for a real, finite number: a record's NaN, Infinity, bool or string is no value
    to show, sort or add up (a planted result.json can hold any of them)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def fmt_pct(v: Any) -> str:
    return f"{100 * v:.2f}%" if number(v) and math.isfinite(100 * v) else "—"


def fmt_count(n: Any) -> str:
    """An image count as recorded ("60,000"), or "—" when it is not a count (a string, a
    negative number, a float read from a planted record)."""
    return f"{n:,}" if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else "—"


def headlines(result: dict | None) -> list[tuple[str, float | None]]:
    """The accuracies to show big, labelled so that nobody confuses the two clustering ones."""
    m = (result or {}).get("metrics") or {}
    out: list[tuple[str, float | None]] = []
    if "accuracy" in m:
        where = m.get("eval_split")
        out.append((f"accuracy{' on ' + where.split(' (')[0] if isinstance(where, str) else ''}",
                    m.get("accuracy")))
    alone = (result or {}).get("metrics_clustering")
    refined = "self-trained " if isinstance(alone, dict) else ""
    if "accuracy_hungarian" in m:
        out.append((f"{refined}one-to-one (Hungarian)", m.get("accuracy_hungarian")))
    if "accuracy_majority" in m:
        out.append((f"{refined}majority vote (many-to-one)", m.get("accuracy_majority")))
    if isinstance(alone, dict) and "accuracy_hungarian" in alone:
        # the refined preset: the clustering's own number stays in view
        out.append(("clustering alone (one-to-one)", alone.get("accuracy_hungarian")))
    return out


def main_accuracy(result: dict | None) -> float | None:
    """One number for sorting and comparing: accuracy, else the one-to-one clustering accuracy."""
    m = (result or {}).get("metrics") or {}
    for key in ("accuracy", "accuracy_hungarian", "accuracy_majority"):
        if number(m.get(key)):
            return m[key]
    return None


def total_seconds(result: dict | None) -> float | None:
    t = ((result or {}).get("timings") or {}).get("total")
    return t if number(t) else None


def differing_settings(specs: list[dict]) -> list[str]:
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


def history_series(history: list[dict] | None) -> tuple[list, list]:
    """Learning-curve series from an epoch history: ([(name, xs, ys)] for loss, … for accuracy)."""
    history = history or []
    xs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    loss, acc = [], []
    for key in ("loss", "val_loss"):
        if any(key in h for h in history):
            loss.append((key.replace("_", " "), xs, [h.get(key) for h in history]))
    for key in ("accuracy", "val_accuracy"):
        if any(key in h for h in history):
            acc.append((key.replace("_", " "), xs, [h.get(key) for h in history]))
    return loss, acc
