"""Charts that read (issue 26, bug 6 and "nothing carried by colour alone"), from the rendered
cells of the real widgets: the legend is a line above the plot, never over its data; an epoch
axis has whole-number ticks and the y axis evenly spaced round ones; a 1-epoch run draws its
loss per step (a curve, not one point) with the validation point on top; each series, each
compared run and each digit of the scatter has its own glyph, so NO_COLOR reads them apart."""

from __future__ import annotations

import json
from pathlib import Path

from textual.geometry import Region
from tui_helpers import (
    install_recorded_run,
    replay_job,
    step_points,
    wait_for,
    write_classifier_run,
)

from mnist_tui.engine.jobs.events import Epoch, Finished, Phase, Started
from mnist_tui.tui.app import create_app
from mnist_tui.tui.widgets.plots import CurvePlot, ScatterPlot

STEPS = 9


def write_step_run(runs_dir: Path, run_id: str = "20260102-090000-cnn-step01") -> str:
    """A recorded 1-epoch CNN run whose 9 batches each gave a point of the per-step curve."""
    spec = {"job": "cnn", "preset": "default", "dataset": "digits", "samples": 600,
            "epochs": 1, "batch_size": 64}
    events = [Started(t=0.0, job="cnn", run_id=run_id, spec=spec, pid=1),
              Phase(t=1.0, name="training", message="1 epoch(s) of 9 batches of 64")]
    events += step_points(STEPS)
    events.append(Epoch(t=2.5, epoch=1, epochs=1, seconds=1.5,
                        metrics={"loss": 1.2, "accuracy": 0.7, "val_loss": 1.05,
                                 "val_accuracy": 0.74}))
    events.append(Finished(t=3.0))
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "spec.json").write_text(json.dumps(spec))
    (run_dir / "meta.json").write_text(json.dumps({"run_id": run_id, "pid": 1,
                                                   "created": "2026-01-02T09:00:00+0000"}))
    (run_dir / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    return run_id


def rows(widget) -> list[str]:
    """The widget's rendered lines as text (after Textual's filters: NO_COLOR's included)."""
    strips = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return ["".join(segment.text for segment in strip) for strip in strips]


class Chart:
    """A plotext chart read back from its rendered rows: the frame, ticks, the plot's cells."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.top = next(i for i, line in enumerate(lines) if "┌" in line)
        self.bottom = next(i for i, line in enumerate(lines) if "└" in line)
        self.left = lines[self.top].index("┌")
        self.right = lines[self.top].rindex("┐")

    def y_ticks(self) -> list[float]:
        return [float(line[:self.left].strip()) for line in self.lines[self.top:self.bottom]
                if line[self.left] == "┤"]

    def x_tick_labels(self) -> list[str]:
        return self.lines[self.bottom + 1].split()

    def cells(self, glyph: str) -> list[tuple[int, int]]:
        """(row, column) of each cell of the plot area showing `glyph`."""
        return [(r, c) for r in range(self.top + 1, self.bottom)
                for c in range(self.left + 1, self.right) if self.lines[r][c] == glyph]

    def legend_row(self, *items: str) -> int:
        return next(i for i, line in enumerate(self.lines) if all(it in line for it in items))


def evenly_spaced(values: list[float]) -> bool:
    values = sorted(values)
    gaps = [b - a for a, b in zip(values, values[1:])]
    return len(values) >= 2 and all(abs(g - gaps[0]) < 1e-9 for g in gaps) and gaps[0] > 0


async def test_a_one_epoch_run_draws_its_loss_per_step_under_a_legend_outside_the_plot(
        runs_dir):
    run_id = write_step_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="monitor")
    async with app.run_test(size=(100, 32)) as pilot:
        app.manager.add_replay(replay_job(runs_dir, run_id, state="finished"))
        plot = app.screen.query_one("#plot-a", CurvePlot)
        await wait_for(pilot, lambda: "val loss" in "".join(rows(plot)), 10)
        chart = Chart(rows(plot))
        # the legend: each series' glyph and name, on a row above the plot's frame
        legend = chart.legend_row("• loss", "x val loss")
        assert legend < chart.top, chart.lines
        # a curve: the 9 step points span many columns; the epoch's validation point on top
        columns = {c for _, c in chart.cells("•")}
        assert len(columns) > 2, chart.lines
        assert chart.cells("x"), chart.lines
        # whole epochs on x (epochs done: 0 to 1), round evenly spaced values on y
        assert chart.x_tick_labels() == ["0", "1"], chart.lines
        ys = chart.y_ticks()
        assert evenly_spaced(ys) and all(round(y, 2) == y for y in ys), (ys, chart.lines)
        # the accuracy chart likewise
        acc = Chart(rows(app.screen.query_one("#plot-b", CurvePlot)))
        assert acc.legend_row("• accuracy", "x val accuracy") < acc.top
        assert len({c for _, c in acc.cells("•")}) > 2
        assert acc.x_tick_labels() == ["0", "1"] and evenly_spaced(acc.y_ticks())


async def test_a_run_recorded_per_epoch_only_keeps_its_epoch_curves_with_whole_ticks(runs_dir):
    """Runs recorded before step points (no `curve_at`) draw their epochs: 5 epochs, ticks 0-5
    whole, the legend above (it used to sit over the first epoch's loss)."""
    cnn = write_classifier_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        app.manager.add_replay(replay_job(runs_dir, cnn, state="finished"))
        plot = app.screen.query_one("#plot-a", CurvePlot)
        await wait_for(pilot, lambda: "val loss" in "".join(rows(plot)), 10)
        chart = Chart(rows(plot))
        assert chart.legend_row("• loss", "x val loss") < chart.top
        labels = chart.x_tick_labels()
        assert labels and all(label.isdigit() for label in labels), chart.lines
        assert evenly_spaced([float(x) for x in labels]) and evenly_spaced(chart.y_ticks())
        assert chart.cells("•") and chart.cells("x")
        # a tall window: the chart fills its widget (the x ticks and label on its last rows),
        # not the height plotext guessed for a terminal at import
        await pilot.resize_terminal(140, 50)
        await wait_for(pilot, lambda: plot.size.height > 30, 10)

        def filled() -> bool:
            tall = Chart(rows(plot))
            return tall.bottom + 2 >= plot.size.height - 1 and tall.right + 1 == plot.size.width

        await wait_for(pilot, filled, 10)


async def test_compared_runs_are_told_apart_by_glyph_under_no_color(runs_dir, monkeypatch):
    from mnist_tui.tui.screens.compare import CompareScreen

    monkeypatch.setenv("NO_COLOR", "1")
    a = write_classifier_run(runs_dir, "20260101-130000-cnn-aaa111")
    b = write_classifier_run(runs_dir, "20260101-140000-cnn-bbb222")
    result = runs_dir / b / "result.json"      # the second run learns more slowly
    record = json.loads(result.read_text())
    for h in record["history"]:
        h["val_accuracy"] = round(h["val_accuracy"] - 0.2, 4)
    result.write_text(json.dumps(record))
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    async with app.run_test(size=(100, 40)) as pilot:
        assert app.no_color
        app.push_screen(CompareScreen([a, b]))
        await wait_for(pilot, lambda: app.screen.query_one("#compare-plot").display
                       and "aaa111" in "".join(rows(app.screen.query_one("#compare-plot"))), 10)
        chart = Chart(rows(app.screen.query_one("#compare-plot", CurvePlot)))
        first, second = (chart.legend_row(g, run) for g, run in (("•", "aaa111"),
                                                                  ("x", "bbb222")))
        assert max(first, second) < chart.top, chart.lines
        dots, crosses = chart.cells("•"), chart.cells("x")
        assert dots and crosses, chart.lines
        # the slower run's curve lies lower: its glyph is on lower rows (larger row numbers)
        assert max(r for r, _ in crosses) > max(r for r, _ in dots), chart.lines


async def test_each_digit_of_the_scatter_is_drawn_as_itself_under_no_color(runs_dir,
                                                                          monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    tsne = install_recorded_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="monitor")
    async with app.run_test(size=(100, 32)) as pilot:
        assert app.no_color
        app.manager.add_replay(replay_job(runs_dir, tsne, state="finished"))
        scatter = app.screen.query_one("#scatter", ScatterPlot)
        await wait_for(pilot, lambda: scatter.display and "iteration" in "".join(rows(scatter)),
                       10)
        chart = Chart(rows(scatter))
        shown = {d for d in "0123456789" if chart.cells(d)}
        assert len(shown) >= 8, chart.lines     # 200 points of ten digits: nearly all seen
        legend = str(app.screen.query_one("#legend").render())
        assert "0 1 2 3 4 5 6 7 8 9" in legend
