"""The data of a report's charts (accuracy or fit time against images), built once.

There are three renderers of the same chart: the terminal chart of the report (plotext, also in
the Markdown), the HTML report's inline SVG, and the Suites screen's live plot (the two plotext
ones through `chart_plotext.draw_chart`). Each draws a
`Chart` from here and computes nothing of its own: which groups make a line, their mean and
spread, the ticks of both axes and where a value falls on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from mnist_tui.engine.suites.report_model import SuiteReport

X_LABEL = "images (log scale)"
# key of the groups' statistic → (scale of its values, logarithmic y axis)
KINDS = {"accuracy": (100.0, False), "fit_s": (1.0, True)}


class Point(NamedTuple):
    """One group on a chart: its images, mean and spread (sample SD over seeds; None with one
    seed), both scaled, the number of seeds, and mean − spread and mean + spread (computed from
    the unscaled statistic, so ticks do not depend on rounding in the scaling)."""
    images: int
    mean: float
    spread: float | None
    n: int
    low: float
    high: float


def series(report: SuiteReport, key: str = "accuracy",
           scale: float = 1.0) -> dict[str, list[Point]]:
    """"method preset" (`GroupRow.name`: "method · backend preset" where backends are
    compared) → its points sorted by images (groups with a value and an image count)."""
    out: dict[str, list[Point]] = {}
    for g in report.groups:
        s = g.statistic(key)
        if s and g.images:
            out.setdefault(g.name, []).append(Point(
                g.images, s.mean * scale,
                s.sd * scale if s.sd is not None else None, s.n,
                (s.mean - (s.sd or 0)) * scale, (s.mean + (s.sd or 0)) * scale))
    return {k: sorted(v, key=lambda p: p.images) for k, v in out.items()}


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` steps of 1, 2, 2.5 or 5 × 10ⁿ covering lo…hi: the first tick is at or below
    lo, the last at or above hi."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)]


@dataclass(frozen=True)
class Chart:
    """A chart's series and axes. x is images on a log scale; y is linear or, for times, log."""
    key: str
    series: dict[str, list[Point]]
    log_y: bool
    x_ticks: list[int]
    y_ticks: list[float]
    y_range: tuple[float, float]     # the y axis' ends (log: powers of ten, as exponents,
                                     # which is what plotext's ylim takes on a log axis)

    @property
    def x_labels(self) -> list[str]:
        return [f"{x:,}" for x in self.x_ticks]

    @property
    def y_labels(self) -> list[str]:
        return [f"{t:g}" for t in self.y_ticks]

    @property
    def x_label(self) -> str:
        return X_LABEL

    def x_fraction(self, images: int) -> float:
        """Where `images` falls on the x axis: 0 left … 1 right (one size: the middle)."""
        if len(self.x_ticks) < 2:
            return 0.5
        lx0, lx1 = math.log10(self.x_ticks[0]), math.log10(self.x_ticks[-1])
        return (math.log10(images) - lx0) / ((lx1 - lx0) or 1.0)

    def y_fraction(self, value: float) -> float:
        """Where `value` falls on the y axis: 0 bottom … 1 top."""
        y0, y1 = self.y_range
        if self.log_y:
            return (math.log10(max(value, 10.0 ** y0)) - y0) / (y1 - y0)
        return (value - y0) / (y1 - y0)


def chart(report: SuiteReport, key: str = "accuracy") -> Chart | None:
    """The chart of the groups' `key` (`accuracy` in %, or `fit_s` in seconds, log y) against
    images; None when no group has both."""
    scale, log_y = KINDS[key]
    data = series(report, key, scale)
    if not data:
        return None
    xs = sorted({p.images for pts in data.values() for p in pts})
    lows = [p.low for pts in data.values() for p in pts]
    highs = [p.high for pts in data.values() for p in pts]
    if log_y:
        lows = [v for v in lows if v > 0] or [0.01]
        y0, y1 = math.floor(math.log10(min(lows))), math.ceil(math.log10(max(highs)))
        y1 = max(y1, y0 + 1)
        ticks = [10.0 ** e for e in range(y0, y1 + 1)]
        y_range: tuple[float, float] = (y0, y1)
    else:
        ticks = nice_ticks(min(lows), max(highs))
        y_range = (ticks[0], ticks[-1] if ticks[-1] > ticks[0] else ticks[0] + 1)
    return Chart(key=key, series=data, log_y=log_y, x_ticks=xs, y_ticks=ticks, y_range=y_range)
