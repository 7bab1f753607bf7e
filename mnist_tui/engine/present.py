"""How numbers and events read for people: durations, sizes, percentages, counts, event lines.

One vocabulary for every front end (batch, the TUI's Monitor and Suites, the suite listeners)
and the engine's own messages (download sizes, memory limits, suite time estimates), so that a
duration or a size reads the same wherever it is shown. Where two places showed the same kind of
figure differently on purpose (a Monitor cell is narrow, a suite table keeps tenths), the style
is a parameter, and each keeps exactly what it showed.

Every formatter takes what a record may hold: None, NaN, Infinity, a bool or a planted 1e300 is
no figure, shown as `MISSING` (or the caller's `missing`), never a crash. Plain Python: the
engine never imports a front end, and no Rich markup is made here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal, TypeGuard

MISSING = "—"
MAX_SECONDS = 1e9     # 31 years: a recorded time beyond this is no time (a planted 1e300)

# compact: the Monitor's and Results' figures (`4.2s`, `42s`, `3m05s`, `2h05m`), rounded;
# table: a suite member's time (`12.3s`, then `3m05s`, never hours), truncated;
# whole: a suite's estimate (`42s`, `3m05s`, `2h05m`), in whole seconds;
# tenths: a phase's or an epoch's time in a log line (`12.3s`, `1234.5s`).
DurationStyle = Literal["compact", "table", "whole", "tenths"]
# download: a file's size as download tools show it (`58.9 MB`, `300.0 kB`, `12 bytes`;
#   `size unknown` for None); memory: the system figures (`3.1 GB`, `512 MB`, `12 B`);
# MB, GB: always in that unit (`1.5 MB`, `1,500.0 GB`).
SizeStyle = Literal["download", "memory", "MB", "GB"]
UNITS = (("GB", 1e9), ("MB", 1e6), ("kB", 1e3))


def is_number(v: object) -> TypeGuard[float]:
    """A real, finite number: a record's NaN, Infinity, bool or string is no value to show,
    sort or add up (a planted result record can hold any of them)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# -- durations ---------------------------------------------------------------------------------

def duration(seconds: object, style: DurationStyle = "compact", missing: str = MISSING) -> str:
    """`seconds` in words of `style` (see DurationStyle); `missing` when it is no time."""
    if not is_number(seconds) or seconds > MAX_SECONDS:
        return missing
    s = float(seconds)
    if style == "tenths":
        return f"{s:.1f}s"
    if style == "table":
        if s < 60:
            return f"{s:.1f}s"
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    if style == "whole":
        whole = int(round(s))
        if whole < 60:
            return f"{whole}s"
        if whole < 3600:
            return f"{whole // 60}m{whole % 60:02d}s"
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    s = max(0.0, s)
    if s < 60:
        return f"{s:.1f}s" if s < 10 else f"{s:.0f}s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m{sec:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def stamp(t: float) -> str:
    """The job time that starts a log line: `[   12.3s]` (fixed width, so lines align)."""
    return f"[{t:7.1f}s]"


# -- sizes -------------------------------------------------------------------------------------

def size(n: float | None, style: SizeStyle = "memory") -> str:
    """A number of bytes in decimal units, in `style` (see SizeStyle)."""
    if style == "download":
        if n is None:
            return "size unknown"
        if n >= 1_000_000:
            return f"{n / 1e6:.1f} MB"
        if n >= 1_000:
            return f"{n / 1e3:.1f} kB"
        return f"{n} bytes"
    if n is None:
        return MISSING
    if style == "MB":
        return f"{megabytes(n)} MB"
    if style == "GB":
        return f"{n / 1e9:,.1f} GB"
    for unit, scale in UNITS:
        if n >= scale:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{n} B"


def megabytes(n: float) -> str:
    """Bytes as megabytes, the number alone: `12.3` (a fraction's parts share one unit)."""
    return f"{n / 1e6:.1f}"


def transferred(done: float, total: float | None) -> str:
    """A download so far: `1.2/9.9 MB`, or `1.2 MB` when its size is unknown."""
    return f"{megabytes(done)}/{megabytes(total)} MB" if total else f"{megabytes(done)} MB"


def rate(bytes_per_s: float) -> str:
    """A download's speed: `1.2 MB/s`."""
    return f"{megabytes(bytes_per_s)} MB/s"


def used_of_total(used: int | None, total: int | None) -> str:
    """"3.1/80.0 GB": both in the total's unit."""
    if total is None:
        return f"{size(used)} used"
    unit, scale = next(((u, s) for u, s in UNITS if total >= s), ("B", 1.0))
    value = "?" if used is None else f"{used / scale:.1f}"
    return f"{value}/{size(total).split()[0]} {unit}"


# -- shares and counts -------------------------------------------------------------------------

def percent(fraction: object, digits: int = 2, missing: str = MISSING) -> str:
    """A fraction as a percentage: 0.9731 → `97.31%` (`digits` after the point)."""
    if not is_number(fraction) or not math.isfinite(100 * fraction):
        return missing
    return f"{100 * fraction:.{digits}f}%"


def count(n: object) -> str:
    """An image count as recorded ("60,000"), or `MISSING` when it is not a count (a string, a
    negative number, a float read from a planted record)."""
    return f"{n:,}" if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else MISSING


def figure(v: object, key: str = "") -> str:
    """A metric's value in a log line: rates (`…per_s`) whole with thousands, small numbers to
    four places, large ones to one; anything else as it is."""
    if isinstance(v, float) and key.endswith("per_s"):
        return f"{v:,.0f}"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 100 else f"{v:,.1f}"
    return str(v)


# -- parts of event lines (the lines themselves: engine/jobs/event_text.py) ----------------------

def phase_text(name: str, message: str = "") -> str:
    """A phase as one line: `loading: reading MNIST`, or its name alone."""
    return f"{name}: {message}" if message else name


def progress_count(phase: str | None, step: float, total: float | None) -> str:
    """A progress event's numbers: `1.2/9.9 MB` while downloading (bytes), else `1,200/6,000`
    (`1,200` when the total is unknown)."""
    if phase == "download":
        return transferred(step, total)
    return f"{step:,}/{total:,}" if total else f"{step:,}"


def metrics_text(metrics: Mapping[str, object], sep: str = " ", names: bool = False) -> str:
    """An event's metrics: `images per s 1,234 loss 0.1234` (`names`: keys with spaces for
    underscores and `figure` told the key) or `loss 0.1234  accuracy 0.9500`."""
    if names:
        return sep.join(f"{k.replace('_', ' ')} {figure(v, k)}" for k, v in metrics.items())
    return sep.join(f"{k} {figure(v)}" for k, v in metrics.items())
