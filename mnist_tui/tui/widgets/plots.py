"""Plots: learning curves, the KL divergence curve and the t-SNE scatter (textual-plotext).

Each widget keeps its data and draws only in `render`, so setting data many times between two
frames costs nothing; `textual_plotext` is imported when the first plot is built, not at startup.

What a chart says never rests on colour alone: each series has its own glyph as well as its
colour (• x + o * …), each digit of the scatter is drawn as that digit, and the legend (the
chart's first line, above the plot, never over its data) shows each glyph with its name. Axes
have round, evenly spaced ticks (`nice_ticks`); an x axis counts whole steps (epochs done,
iterations), so its ticks are whole numbers, and an epoch axis starts at 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
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

# One glyph and one colour (256-colour palette, readable on dark and light) per series, in order.
GLYPHS = ("•", "x", "+", "o", "*", "#", "@", "%", "=", "~")
SERIES_COLOURS = (39, 208, 76, 170, 220, 196, 45, 250, 94, 201)
EPOCH_AXIS = "epoch"          # an x axis of epochs done: it starts at 0
LEGEND_ROWS = 3               # at most this many lines of title and legend above a plot
# Rows of a plotext figure that are not plot: the frame's top and bottom, the x tick labels.
FRAME_ROWS = 3


@dataclass(frozen=True)
class Line:
    """A series as a chart draws it: its name, points and, optionally, its own glyph (else the
    next free one of GLYPHS)."""

    name: str
    xs: Sequence[object]
    ys: Sequence[object]
    glyph: str | None = None


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
        return cannot_draw(title, exc)


def cannot_draw(title: str, exc: Exception) -> Text:
    return Text(visible(f"{title}: cannot be drawn ({type(exc).__name__}: {exc})"),
                style="italic")


# -- ticks ------------------------------------------------------------------------------------

def nice_ticks(lo: float, hi: float, most: int, integer: bool = False,
               inside: bool = False) -> list[float]:
    """At most `most` (at least 2) evenly spaced round ticks: spaced 1, 2 or 5 × 10^k (a whole
    number when `integer`), the first at or below `lo` and the last at or above `hi`; or, when
    `inside`, the finest such ticks within [lo, hi] where at least two fit (the axis then spans
    the data, not the ticks)."""
    most = max(2, most)
    lo, hi = min(lo, hi), max(lo, hi)
    if hi - lo <= max(abs(lo), abs(hi)) * 1e-9 or hi - lo < 1e-12:   # one value: a span round it
        pad = 1.0 if integer or lo == 0 else abs(lo) / 10
        lo, hi = lo - pad, hi + pad
    exponent = math.floor(math.log10((hi - lo) / (most - 1)))
    while True:
        for m in (1, 2, 5):
            step = m * 10.0 ** exponent
            if integer and step < 1:
                continue
            if inside:
                first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
                if last - first + 1 < 2:
                    return nice_ticks(lo, hi, most, integer)
            else:
                first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
            if last - first + 1 <= most:
                digits = decimals(step)
                return [round(k * step, digits + 1) for k in range(first, last + 1)]
        exponent += 1


def decimals(step: float) -> int:
    """Digits after the point that tell ticks `step` apart: 0.05 → 2, 0.2 → 1, 5 → 0."""
    return min(12, max(0, -math.floor(math.log10(step) + 1e-9)))


def tick_labels(ticks: Sequence[float]) -> list[str]:
    """Ticks written with the same digits after the point ("0.0 0.5 1.0"; no "-0.0")."""
    digits = decimals(ticks[1] - ticks[0]) if len(ticks) > 1 else 0
    labels = [f"{t:.{digits}f}" for t in ticks]
    return [label.lstrip("-") if float(label) == 0 else label for label in labels]


# -- the legend ---------------------------------------------------------------------------------

def legend_lines(title: str, items: Sequence[tuple[str, str, int]], width: int,
                 rows: int = LEGEND_ROWS) -> list[Text]:
    """The chart's title then each (glyph, name, colour) as "glyph name", wrapped to `width`
    over at most `rows` lines (an item never split; what does not fit is cut with "…")."""
    pieces = [Text(visible(title), style="bold")] if title else []
    for glyph, name, colour in items:
        piece = Text(glyph, style=f"bold color({colour})")
        piece.append(" " + visible(name))
        pieces.append(piece)
    lines: list[Text] = []
    line = Text()
    for piece in pieces:
        if line.cell_len and line.cell_len + 2 + piece.cell_len > width:
            lines.append(line)
            line = Text()
        if line.cell_len:
            line.append("  ")
        line.append_text(piece)
    if line.cell_len:
        lines.append(line)
    if len(lines) > rows:
        lines = lines[:rows]
        lines[-1].append(" …")
    for text in lines:
        text.truncate(max(1, width), overflow="ellipsis")
    return lines


def digit_legend() -> Text:
    """One line "digit 0 1 2 … 9": each digit as the scatter draws it, in its colour (plotext's
    own legend is too tall)."""
    text = Text("digit ")
    for d, colour in enumerate(DIGIT_COLOURS):
        text.append(f"{d} ", style=f"bold color({colour})")
    return text


# Ten digit colours from the 256-colour palette, readable on dark and light backgrounds.
DIGIT_COLOURS = (196, 208, 226, 46, 51, 33, 129, 201, 250, 94)


class CurvePlot(PlotextPlot):
    """Named series of (x, y) points: loss/accuracy per step and epoch, KL per iteration,
    overlays. The title and legend are drawn above the plot, by this widget."""

    def __init__(self, title: str = "", xlabel: str = "", *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title, self.xlabel = title, xlabel
        self.series: list[Line] = []
        self.empty_text = "waiting for data…"

    def set_series(self, series: Sequence[Series | Line], title: str | None = None) -> None:
        lines = [s if isinstance(s, Line) else Line(s[0], list(s[1]), list(s[2]))
                 for s in series]
        self.series = [s for s in lines if len(s.xs)]
        if title is not None:
            self.title = title
        self.refresh()

    def styled(self) -> list[tuple[Line, str, int, list[tuple[float, float]]]]:
        """Each series with its glyph, colour and drawable points (values read from
        events.jsonl: a string, NaN or 1e308 is left out, not drawn)."""
        taken = {s.glyph for s in self.series if s.glyph}
        free = iter([g for g in GLYPHS if g not in taken] or list(GLYPHS))
        out = []
        for i, s in enumerate(self.series):
            glyph = s.glyph or next(free, GLYPHS[i % len(GLYPHS)])
            pts = [(float(x), float(y)) for x, y in zip(s.xs, s.ys)
                   if drawable(x) and drawable(y)]
            out.append((s, glyph, SERIES_COLOURS[i % len(SERIES_COLOURS)], pts))
        return out

    def render(self) -> RenderResult:
        try:
            return self._draw()
        except Exception as exc:  # noqa: BLE001 - a plot that cannot be drawn is only that
            return cannot_draw(self.title, exc)

    def _draw(self) -> Text:
        width, height = self.size.width, self.size.height
        styled = self.styled()
        drawn = [item for item in styled if item[3]]
        title = self.title if drawn else f"{self.title} — {self.empty_text}"
        head = legend_lines(title, [(g, s.name, c) for s, g, c, pts in drawn], width)
        rows = height - len(head)
        if rows < FRAME_ROWS + 1:    # too short for a plot: the legend alone
            return Text("\n").join(head)
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        xlabel = bool(self.xlabel) and rows >= FRAME_ROWS + 1 + 6   # only where rows are spare
        if xlabel:
            plt.xlabel(visible(self.xlabel))
        canvas_rows = rows - FRAME_ROWS - int(xlabel)
        if drawn:
            self._axes([p for *_, pts in drawn for p in pts], width, canvas_rows)
        for _, glyph, colour, pts in drawn:
            plt.plot([p[0] for p in pts], [p[1] for p in pts], marker=glyph, color=colour)
        plt.plotsize(width, rows)
        # as textual-plotext's own render does: plotsize alone caps the figure at the size of
        # the terminal plotext guessed when imported (24 rows under a test or a pipe)
        plt._set_size(width, rows)
        plt.theme(f"textual-auto-{self.app.theme}" if self.theme == "auto" else self.theme)
        return Text("\n").join([*head, Text.from_ansi(plt.build())])

    def _axes(self, points: list[tuple[float, float]], width: int, canvas_rows: int) -> None:
        """Round, evenly spaced ticks on both axes, the axes' limits at the outer ticks."""
        plt = self.plt
        ys = [p[1] for p in points]
        lo, hi = min(ys), max(ys)
        yt = nice_ticks(lo, hi, (canvas_rows - 1) // 2 + 1, inside=True)
        ylabels = tick_labels(yt)
        plt.ylim(min(lo, yt[0]), max(hi, yt[-1]))
        plt.yticks(yt, ylabels)
        xs = [p[0] for p in points]
        lo = 0.0 if self.xlabel == EPOCH_AXIS else min(xs)
        canvas = max(8, width - max(len(t) for t in ylabels) - 3)
        most = max(2, canvas // 4)
        while True:
            xt = nice_ticks(lo, max(xs), most, integer=True)
            xlabels = tick_labels(xt)
            if most == 2 or len(xt) * (max(len(t) for t in xlabels) + 2) <= canvas:
                break
            most -= 1
        plt.xlim(xt[0], xt[-1])
        plt.xticks(xt, xlabels)


class ScatterPlot(PlotextPlot):
    """The 2-D embedding, each point drawn as its true digit in that digit's colour (3-D
    snapshots show their first two axes)."""

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
                    xs, ys = by_digit.setdefault(int(lab) % 10, ([], []))
                    xs.append(p[0])
                    ys.append(p[1])
            for digit in sorted(by_digit):
                xs, ys = by_digit[digit]
                plt.scatter(xs, ys, marker=str(digit), color=DIGIT_COLOURS[digit])
        return safe_render(self, self.title)
