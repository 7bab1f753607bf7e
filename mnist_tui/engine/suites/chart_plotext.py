"""A `charts.Chart` drawn with plotext: one function for the report's terminal chart and the
Suites screen's live plot (textual-plotext hands the screen the same plotext API), so the two
cannot drift apart in axes, ticks, markers or error bars."""

from __future__ import annotations

from typing import Any

from mnist_tui.engine.suites.charts import Chart

MARKERS = ("dot", "x", "+", "o", "*", "#")


# Rows of a plotext figure that are not its plot area: title, x ticks, x label, frame.
FRAME_ROWS = 5


def draw_chart(plt: Any, c: Chart, title: str, error_bars: bool = False,
               rows: int | None = None) -> None:
    """Draw `c` on a cleared plotext figure `plt`: log x, the chart's y scale, ticks and limits,
    one marked line per series, and ± spread bars when asked and there is a spread. `rows`:
    the figure's height; y ticks are thinned so that no two share a row (plotext then drew
    one of the two labels, which one depending on the hash seed)."""
    plt.title(title)
    plt.xscale("log")
    if c.log_y:
        plt.yscale("log")
    plt.xticks(c.x_ticks, c.x_labels)
    plt.ylim(*c.y_range)
    ticks, labels = c.y_ticks, c.y_labels
    if rows is not None:
        ticks, labels = thin_ticks(ticks, labels, max(2, (rows - FRAME_ROWS) // 2))
    plt.yticks(ticks, labels)
    for i, (name, pts) in enumerate(c.series.items()):
        xs = [p.images for p in pts]
        ys = [p.mean for p in pts]
        plt.plot(xs, ys, label=name, marker=MARKERS[i % len(MARKERS)])
        if error_bars and any(p.spread for p in pts):
            plt.error(xs, ys, yerr=[p.spread or 0 for p in pts])


def thin_ticks(ticks: list[float], labels: list[str],
               most: int) -> tuple[list[float], list[str]]:
    """At most `most` ticks, evenly chosen, the first and the last kept."""
    n = len(ticks)
    if n <= most or most < 2:
        return ticks, labels
    keep = sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})
    return [ticks[i] for i in keep], [labels[i] for i in keep]
