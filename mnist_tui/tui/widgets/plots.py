"""Plots: learning curves, the KL divergence curve and the t-SNE scatter (textual-plotext).

Each widget keeps its data and draws only in `render`, so setting data many times between two
frames costs nothing; `textual_plotext` is imported when the first plot is built, not at startup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeGuard

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from mnist_tui.engine.text import visible

# plotext rounds its ticks by scaling a value by 10**digits: beyond this a value overflows to
# infinity and the render raises (which ends the app). No loss, accuracy or KL is this large.
PLOT_LIMIT = 1e15

# A named curve: its x and y values, as recorded (`drawable` picks the points plotext can place).
Series = tuple[str, Sequence[object], Sequence[object]]


def drawable(value: object) -> TypeGuard[float]:
    """True for a value plotext can place: a real number (not a bool, not a string read from a
    planted events file), finite, and within PLOT_LIMIT."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and abs(value) <= PLOT_LIMIT)


def safe_render(plot: PlotextPlot, title: str) -> RenderResult:
    """The plot's render, or a line saying it cannot be drawn: an exception in a widget's
    render ends the whole app, and plotext raises on values this module did not foresee."""
    try:
        return PlotextPlot.render(plot)
    except Exception as exc:  # noqa: BLE001 - a plot that cannot be drawn is only that
        return Text(visible(f"{title}: cannot be drawn ({type(exc).__name__}: {exc})"),
                    style="italic")


# Ten digit colours from the 256-colour palette, readable on dark and light backgrounds.
DIGIT_COLOURS = (196, 208, 226, 46, 51, 33, 129, 201, 250, 94)


class CurvePlot(PlotextPlot):
    """Named series of (x, y) points: loss/accuracy per epoch, KL per iteration, overlays."""

    def __init__(self, title: str = "", xlabel: str = "", *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title, self.xlabel = title, xlabel
        self.series: list[tuple[str, list[object], list[object]]] = []
        self.empty_text = "waiting for data…"

    def set_series(self, series: Sequence[Series], title: str | None = None) -> None:
        self.series = [(n, list(x), list(y)) for n, x, y in series if len(x)]
        if title is not None:
            self.title = title
        self.refresh()

    def render(self) -> RenderResult:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        # Titles and legend names can hold run ids: plotext writes them into ANSI text, whose
        # escapes would be taken for its own, so control characters are shown as escapes.
        plt.title(visible(self.title if self.series else f"{self.title} — {self.empty_text}"))
        if self.xlabel:
            plt.xlabel(visible(self.xlabel))
        for name, xs, ys in self.series:
            # values read from events.jsonl: a string, NaN or 1e308 is left out, not drawn
            pts = [(x, y) for x, y in zip(xs, ys) if drawable(x) and drawable(y)]
            if pts:
                plt.plot([p[0] for p in pts], [p[1] for p in pts], label=visible(name),
                         marker="braille")
        return safe_render(self, self.title)


def digit_legend() -> Text:
    """One line "0 1 2 … 9", each digit in its scatter colour (plotext's legend is too tall)."""
    from rich.text import Text

    text = Text("digit ")
    for d, colour in enumerate(DIGIT_COLOURS):
        text.append(f"■{d} ", style=f"bold color({colour})")
    return text


class ScatterPlot(PlotextPlot):
    """The 2-D embedding coloured by true digit (3-D snapshots show their first two axes)."""

    def __init__(self, title: str = "t-SNE embedding", *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.points: Sequence[object] = []     # [x, y] or [x, y, z] each, as recorded
        self.labels: Sequence[object] = []     # the true digit of each point
        self.caption = ""

    def set_points(self, points: Sequence[object], labels: Sequence[object],
                   caption: str = "") -> None:
        self.points, self.labels, self.caption = points, labels, caption
        self.refresh()

    def render(self) -> RenderResult:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(visible(f"{self.title} {self.caption}".strip() if self.points
                          else f"{self.title} — waiting for a snapshot…"))
        if self.points:
            by_digit: dict[int, tuple[list[object], list[object]]] = {}
            for p, lab in zip(self.points, self.labels):
                if (isinstance(p, (list, tuple)) and len(p) >= 2 and drawable(p[0])
                        and drawable(p[1]) and drawable(lab)):
                    xs, ys = by_digit.setdefault(int(lab), ([], []))
                    xs.append(p[0])
                    ys.append(p[1])
            for digit in sorted(by_digit):
                xs, ys = by_digit[digit]
                plt.scatter(xs, ys, marker="braille", color=DIGIT_COLOURS[digit % 10])
        return safe_render(self, self.title)
