"""A `charts.Chart` drawn with plotext: one function for the report's terminal chart and the
Suites screen's live plot (textual-plotext hands the screen the same plotext API), so the two
cannot drift apart in axes, ticks, markers or error bars."""

from __future__ import annotations

from typing import Any

from mnist_tui.engine.suites.charts import Chart

MARKERS = ("dot", "x", "+", "o", "*", "#")


def draw_chart(plt: Any, c: Chart, title: str, error_bars: bool = False) -> None:
    """Draw `c` on a cleared plotext figure `plt`: log x, the chart's y scale, ticks and limits,
    one marked line per series, and ± spread bars when asked and there is a spread."""
    plt.title(title)
    plt.xscale("log")
    if c.log_y:
        plt.yscale("log")
    plt.xticks(c.x_ticks, c.x_labels)
    plt.ylim(*c.y_range)
    plt.yticks(c.y_ticks, c.y_labels)
    for i, (name, pts) in enumerate(c.series.items()):
        xs = [p.images for p in pts]
        ys = [p.mean for p in pts]
        plt.plot(xs, ys, label=name, marker=MARKERS[i % len(MARKERS)])
        if error_bars and any(p.spread for p in pts):
            plt.error(xs, ys, yerr=[p.spread or 0 for p in pts])
