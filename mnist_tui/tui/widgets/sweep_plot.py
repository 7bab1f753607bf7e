"""The Suites screen's live plot of a sweep: accuracy (mean over seeds) against images, one line
per method and preset. It draws the engine's `charts.chart` of the report, the same series and
ticks on both axes as the report's terminal chart and its HTML chart."""

from __future__ import annotations

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from mnist_tui.engine.suites.chart_plotext import draw_chart
from mnist_tui.engine.suites.charts import Chart, Point
from mnist_tui.engine.text import visible
from mnist_tui.tui.widgets.plots import safe_render


class SweepPlot(PlotextPlot):
    """Accuracy (mean over seeds) against images, one line per method and preset, log x."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.chart: Chart | None = None        # None until a member has finished

    @property
    def data(self) -> dict[str, list[Point]]:
        """The lines drawn: "method preset" → its points (empty before a member finished)."""
        return self.chart.series if self.chart is not None else {}

    def set_chart(self, chart: Chart | None) -> None:
        """Show `chart`; its series names (a suite's methods and presets, read from disk) with
        their control characters shown as escapes, as plotext would write them raw."""
        if chart is not None:
            import dataclasses

            chart = dataclasses.replace(chart, series={visible(name): points for name, points
                                                       in chart.series.items()})
        self.chart = chart
        self.refresh()

    def render(self) -> RenderResult:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        c = self.chart
        if c is None:
            plt.title("accuracy % vs images — waiting for finished members…")
            return super().render()
        title = "accuracy % vs images (mean over seeds; t-SNE+GMM 1:1)"
        try:
            draw_chart(plt, c, title, rows=self.size.height)
        except Exception as exc:  # noqa: BLE001 - a member's planted value must not end the app
            from rich.text import Text

            return Text(visible(f"{title}: cannot be drawn ({type(exc).__name__}: {exc})"),
                        style="italic")
        return safe_render(self, title)
