"""Compare: two or more runs side by side — accuracy, time per phase, settings that differ, and
their curves overlaid (validation accuracy per epoch, or KL divergence per t-SNE iteration).
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from mnist_tui.engine import present
from mnist_tui.engine.runs.view import RunView
from mnist_tui.tui.host import app_state
from mnist_tui.tui.safe import plain
from mnist_tui.tui.summary import (
    differing_settings,
    headlines,
    load_figures,
    main_accuracy,
    short_id,
)
from mnist_tui.tui.widgets.keysbar import KeysBar
from mnist_tui.tui.widgets.plots import CurvePlot


def setting(view: RunView, name: str) -> object:
    """A setting as Compare shows it: the spec's value; the Keras backend as the run's result
    describes it where it has (`jax (JAX 0.10.2, Keras 3.15.1)`)."""
    value = view.spec.get(name, "—")
    if name == "backend" and view.result is not None and isinstance(view.result.details, dict):
        described = view.result.details.get("backend")
        if isinstance(described, str) and described:
            return described
    return value


class CompareScreen(Screen[None]):
    """Pushed from Runs; esc goes back."""

    BINDINGS = [Binding("escape,backspace", "back", "Back to runs", key_display="esc")]
    SUB_TITLE = "5 Runs › Compare"

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="compare-body", can_focus=True):
            yield Static("loading…", id="compare-table")
            yield CurvePlot("", id="compare-plot")
        yield KeysBar()

    def on_mount(self) -> None:
        self.query_one("#compare-body").focus()
        self._load()

    def action_back(self) -> None:
        self.app.pop_screen()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _load(self) -> None:
        from mnist_tui.engine.runs.view import load_run_view

        views: list[RunView] = []
        for run_id in self.run_ids:
            try:
                views.append(load_run_view(app_state(self).store, run_id))
            except Exception:  # noqa: BLE001 - deleted meanwhile
                continue
        self.app.call_from_thread(self._show, views)

    def _show(self, views: list[RunView]) -> None:
        # At 80 columns: a run's column is headed by its job, start time and id on three short
        # lines, and long row labels wrap instead of being cut.
        table = Table(box=None, header_style="bold", padding=(0, 1), expand=False)
        table.add_column("", style="bold", overflow="fold", max_width=34)
        best = max((main_accuracy(v.result) or -1 for v in views), default=-1)
        for v in views:
            when, _, suffix = short_id(v.run_id).rpartition(" ")
            table.add_column(Text("\n").join(plain(p) for p in (v.spec.get("job"), when,
                                                                  suffix) if p),
                             justify="right", no_wrap=True)
        table.add_row("status", *[plain(v.result.status if v.result else "running")
                                  for v in views])
        labels = []
        for v in views:
            for label, _ in headlines(v.result):
                if label not in labels:
                    labels.append(label)
        for label in labels:
            cells = []
            for v in views:
                value = dict(headlines(v.result)).get(label)
                style = "bold green" if value is not None and value == best else ""
                cells.append(Text(present.percent(value), style=style))
            table.add_row(plain(label), *cells)
        phases: list[str] = []
        for v in views:
            for k in (v.result.timings if v.result else {}):
                if k not in phases:
                    phases.append(k)
        if phases:
            table.add_row(Text("time per phase", style="underline"), *[""] * len(views))
            for k in phases:
                table.add_row(plain(f"  {k}"), *[present.duration(v.result.timings.get(k)
                                                              if v.result else None)
                                                  for v in views])
        if any(v.result is not None and v.result.load is not None for v in views):
            # beside the times, what explains them: how busy the machine was, how nice the job
            figures = [load_figures(v.result) for v in views]
            table.add_row("  load average (1 min)", *[load for load, _ in figures])
            table.add_row("  worker nice", *[nice for _, nice in figures])
        diff = differing_settings([v.spec for v in views])
        table.add_row(Text("settings that differ", style="underline"), *[""] * len(views))
        if not diff:
            table.add_row("  (none: same settings)", *[""] * len(views))
        for k in diff:
            table.add_row(plain(f"  {k}"), *[plain(setting(v, k)) for v in views])
        self.query_one("#compare-table", Static).update(table)
        self._overlay(views)
        self.loaded = True

    def _overlay(self, views: list[RunView]) -> None:
        plot = self.query_one("#compare-plot", CurvePlot)
        series, title = [], ""
        if any(v.history for v in views):
            title = "validation accuracy per epoch (accuracy where no validation)"
            plot.xlabel = "epoch"
            for v in views:
                h = v.history or []
                key = "val_accuracy" if any("val_accuracy" in e for e in h) else "accuracy"
                series.append((short_id(v.run_id), [e.get("epoch", i + 1)
                                                       for i, e in enumerate(h)],
                               [e.get(key) for e in h]))
        elif any(v.kl for v in views):
            title = "t-SNE KL divergence per iteration"
            plot.xlabel = "iteration"
            for v in views:
                series.append((short_id(v.run_id), [s for s, _ in v.kl],
                               [k for _, k in v.kl]))
        plot.display = bool(series)
        plot.set_series(series, title)
