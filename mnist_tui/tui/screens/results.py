"""Results: one run's headline accuracies, confusion heat map, per-class scores, curves, model
summary and misclassified digits.

Everything is read from the run folder in a thread (the result record, events.jsonl, embedding.npz),
and the gallery's images from the dataset the run used (its spec's dataset/data_dir), checked
against the run's recorded fingerprint so the pictures are the images that were misclassified.
Clustering and classifier results share the screen; any field may be missing.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from mnist_tui.engine import present
from mnist_tui.engine.jobs.results import ClassifierMetrics, ClusteringMetrics, RunResult
from mnist_tui.engine.runs.progress import SummaryTable
from mnist_tui.engine.runs.view import RunView, gallery_images, load_run_view, misclassified
from mnist_tui.engine.text import shown
from mnist_tui.tui.curves import learning_curves
from mnist_tui.tui.host import app_state
from mnist_tui.tui.safe import lines, plain, say, visible
from mnist_tui.tui.summary import (
    STATE_STYLE,
    headlines,
)
from mnist_tui.tui.widgets.digits import DigitGrid
from mnist_tui.tui.widgets.heatmap import (
    confusion_text,
    counts_matrix,
    legend_text,
    palette_for,
    per_class_text,
    scores,
)
from mnist_tui.tui.widgets.keysbar import KeysBar
from mnist_tui.tui.widgets.plots import CurvePlot, ScatterPlot
from mnist_tui.tui.widgets.tables import VimScroll
from mnist_tui.tui.widgets.wrapped import Wrapped

# A value read from a run's records (a preset, a dataset name) is cut at this many characters in
# the header: a planted 10,000-character one would push the run's numbers off the screen.
HEAD_LIMIT = 120


class ResultsScreen(Screen[None]):
    """A finished (or failed, cancelled) run in full; another run opens at the top."""

    BINDINGS = [Binding("e", "export", "Export report"), Binding("ctrl+r", "reload", "Reload")]
    WIDGET_BINDINGS: ClassVar[list[BindingType]] = VimScroll.BINDINGS   # the page's

    def __init__(self) -> None:
        super().__init__()
        self.view: RunView | None = None
        self.notice_run: str | None = None   # the run the notice under the results is about
        self._to_top = True          # the next run shown starts at the top

    def compose(self) -> ComposeResult:
        yield Header()
        with VimScroll(id="results-body", can_focus=True):
            yield Static("No run to show yet: finish a job, or open one from Runs (5).",
                         id="res-title")
            yield Static("", id="res-headline")
            with Horizontal(id="res-matrix-row"):
                yield Static("", id="res-confusion")
                yield Static("", id="res-perclass")
            with Horizontal(id="res-curves"):
                yield CurvePlot("loss", id="res-plot-a")
                yield CurvePlot("accuracy", id="res-plot-b")
                yield ScatterPlot("final embedding", id="res-scatter")
            yield Static("", id="res-model")
            yield Static("", id="res-gallery-title", classes="section")
            yield DigitGrid(id="res-gallery", per_row=10, max_rows=5)
        yield Wrapped("", id="res-notice")      # a path in it breaks only at a `/`
        yield KeysBar()

    def on_mount(self) -> None:
        app = app_state(self)
        app.results_run_changed.subscribe(self, self.on_results_run_changed, immediate=True)
        app.runs_changed.subscribe(self, self.on_runs_changed, immediate=True)
        self.query_one("#results-body").focus()
        self.query_one("#res-curves").display = False
        self.query_one("#res-notice").display = False
        self.action_reload()

    def on_results_run_changed(self, _data: str | None = None) -> None:
        """A run was opened (Runs, Monitor, a finished job): show it from the top."""
        self._to_top = True
        self.action_reload()

    def on_runs_changed(self, _data: None = None) -> None:
        if app_state(self).results_run is None:
            self.action_reload()

    def action_export(self) -> None:
        from mnist_tui.tui.exports import export_report

        run_id = self.view.run_id if self.view else app_state(self).results_run
        export_report(self, [run_id], lambda text: self.show_notice(text, run_id))

    def show_notice(self, text: Text, run_id: str | None) -> None:
        """A notice under the results about `run_id` (the export's path): it stays while that
        run is shown, and goes when another run is (a notice that comes back after the user
        moved on to another run is not shown over that one)."""
        if run_id is not None and self.view is not None and self.view.run_id != run_id:
            return
        notice = self.query_one("#res-notice", Wrapped)
        notice.set_text(text)
        notice.display = True
        self.notice_run = run_id

    def _clear_notice(self) -> None:
        notice = self.query_one("#res-notice", Wrapped)
        notice.set_text("")
        notice.display = False
        self.notice_run = None

    def action_reload(self) -> None:
        run_id = app_state(self).results_run
        if run_id is None:
            done = [r for r in app_state(self).store.list() if r.status == "finished"]
            if not done:
                return
            run_id = done[0].run_id
        self._load(run_id)

    @work(thread=True, exclusive=True, group="results", exit_on_error=False)
    def _load(self, run_id: str) -> None:
        try:
            view = load_run_view(app_state(self).store, run_id)
        except Exception as exc:  # noqa: BLE001 - a deleted or unreadable run
            self.app.call_from_thread(self._show_error, run_id, str(exc))
            return
        self.app.call_from_thread(self._show, view)
        wrong = misclassified(view)
        images, caps, note = gallery_images(app_state(self).dataset, view, wrong)
        self.app.call_from_thread(self._show_gallery, images, caps, note)

    def _show_error(self, run_id: str, error: str) -> None:
        self.query_one("#res-title", Static).update(
            say("Run {} cannot be read: {}", run_id, error, style="bold red"))

    def _show(self, view: RunView) -> None:
        if self.view is None or self.view.run_id != view.run_id:
            self._to_top = True
        if self.notice_run is not None and self.notice_run != view.run_id:
            self._clear_notice()
        self.view = view
        result: RunResult | None = view.result
        spec = view.spec
        status = result.status if result is not None else "running"
        ds = result.dataset if result is not None else None
        # Every value here is read from the run folder: shown as written (tui/safe.py).
        title = Text.assemble(
            ("Run ", "bold"), (visible(view.run_id), "bold cyan"), "  ",
            (visible(status), STATE_STYLE.get(status, "")), "\n",
            say("{} · preset {} · seed {} · {} ({} images)", *(shown(v, HEAD_LIMIT) for v in (
                spec.get("job"), spec.get("preset"), spec.get("seed"),
                (ds.key() if ds is not None and ds.name else None) or spec.get("dataset"))),
                _count(ds.n_samples if ds is not None and "n_samples" in ds.model_fields_set
                       else result.n_samples if result is not None else None)),
            (say(" · started {}", result.started_at) if result and result.started_at else ""),
            (say(" · rerun of {}", result.rerun_of) if result and result.rerun_of else ""))
        self.query_one("#res-title", Static).update(title)
        headline = self._headline(result)
        for note in view.notes:        # e.g. an events.jsonl that is a FIFO
            headline.append("\n⚠ " + visible(note), "bold yellow")
        recorded = result.confusion_matrix if result is not None else None
        matrix = counts_matrix(recorded)
        if result is not None and ("confusion_matrix" in result.dropped
                                   or (recorded and matrix is None)):
            headline.append("\n⚠ confusion_matrix: not a square table of counts (not shown)",
                            "bold yellow")
        self.query_one("#res-headline", Static).update(headline)
        conf = self.query_one("#res-confusion", Static)
        per = self.query_one("#res-perclass", Static)
        self.query_one("#res-matrix-row").display = bool(matrix)
        if matrix:
            palette = palette_for(self.app.console.color_system, self.app.no_color)
            head = Text.assemble(("confusion matrix", "bold"))   # bold: the title, not all
            assert result is not None     # a matrix comes from a result
            mapping = result.confusion_mapping
            head.append(" (rows true, columns predicted"
                        + (f", {visible(mapping)} mapping)" if mapping else ")") + "\n",
                        style="dim")
            conf.update(head + confusion_text(matrix, palette=palette) + Text("\n")
                        + legend_text(palette=palette))
            m = result.metrics
            if isinstance(m, ClassifierMetrics):
                precision, recall = m.per_class_precision, m.per_class_recall
            else:
                precision, recall = None, m.per_class_recall_hungarian
            per.update(per_class_text(matrix, scores(precision), scores(recall)))
        self._show_curves(view)
        self._show_model(view.summary)
        if self._to_top:
            self._to_top = False
            self.query_one("#results-body", VerticalScroll).scroll_home(animate=False,
                                                                        immediate=True)

    def _headline(self, result: RunResult | None) -> Text:
        text = Text()
        heads = headlines(result)
        for label, value in heads:
            text.append(f"{present.percent(value):>8}", "bold green" if value is not None else "dim")
            text.append(f"  {visible(label)}\n")
        if result is None:
            text.append("this run has no result yet (still running?)", "italic")
            return text
        m = result.metrics
        if isinstance(m, ClusteringMetrics):
            extra = [f"{k.upper()} {v:.3f}" for k, v in (("nmi", m.nmi), ("ari", m.ari))
                     if v is not None]
            if extra:
                text.append("          " + "  ".join(extra) + "\n", "dim")
        timings = result.timings
        if timings:
            text.append("time  ", "bold")
            text.append("  ".join(f"{visible(k)} {present.duration(v)}" for k, v in timings.items()
                                  if isinstance(v, (int, float)) and (v >= 0.05 or k == "total")))
        images = result.images or {}
        for key, label in (("train", "trained"), ("clustered", "clustered"),
                           ("evaluation", "scored")):
            if key in images:
                text.append(f"\n{label:<10}", "bold")
                text.append(visible(images[key]), "dim")
        for warning in result.warnings:
            text.append("\n⚠ " + visible(warning), "bold yellow")
        if result.error:
            # one line (a newline in it is shown as \n, so it forges no line); the
            # traceback below keeps its lines, each shown as written
            text.append("\n✘ " + visible(result.error), "bold red")
        if result.traceback:
            tail = result.traceback.strip().splitlines()[-4:]
            text.append("\n  ", "red")
            text.append_text(lines("\n".join(tail), "red", indent="  "))
        return text

    def _show_curves(self, view: RunView) -> None:
        row = self.query_one("#res-curves")
        a = self.query_one("#res-plot-a", CurvePlot)
        b = self.query_one("#res-plot-b", CurvePlot)
        scatter = self.query_one("#res-scatter", ScatterPlot)
        # per step where the run recorded steps, its epochs' validation on top (as the Monitor)
        loss, acc = learning_curves(view.curve, view.history)
        if loss or acc:
            row.display = True
            a.display = b.display = True
            scatter.display = False
            a.xlabel = b.xlabel = "epoch"
            a.set_series(loss, "loss")
            b.set_series(acc, "accuracy")
        elif view.kl or view.snapshot:
            row.display = True
            b.display = False
            a.display = bool(view.kl)
            a.xlabel = "iteration"
            a.set_series([("KL", [s for s, _ in view.kl], [v for _, v in view.kl])],
                         "KL divergence")
            snap = view.snapshot
            scatter.display = snap is not None
            if snap is not None:
                it = snap.get("iteration")
                scatter.set_points(snap.get("points", []), snap.get("labels", []),
                                   "(final)" if it == "final" else f"(iteration {it})")
        else:
            row.display = False

    def _show_model(self, summary: SummaryTable | None) -> None:   # as its events recorded
        widget = self.query_one("#res-model", Static)
        widget.display = summary is not None
        if summary is None:
            return
        table = Table(title="model summary", title_justify="left", title_style="bold",
                      box=None, header_style="bold", padding=(0, 1))
        columns: tuple[tuple[str, JustifyMethod], ...] = (
            ("layer", "left"), ("type", "left"), ("output", "left"), ("params", "right"),
            ("", "left"))
        for col, just in columns:
            table.add_column(col, justify=just, no_wrap=True)
        for layer in summary.get("layers", []):
            table.add_row(plain(layer.get("name", "")), plain(layer.get("class", "")),
                          plain(layer.get("output_shape", "")),
                          f"{layer.get('params', 0):,}",
                          "" if layer.get("trainable", True) else Text("frozen", style="dim"))
        table.caption = (f"trainable {summary.get('trainable_params', 0):,} · frozen "
                         f"{summary.get('frozen_params', 0):,}")
        widget.update(table)

    def _show_gallery(self, images: list[np.ndarray], caps: list[str], note: str) -> None:
        self.query_one("#res-gallery-title", Static).update(
            Text.assemble(("Misclassified digits", "bold"), f"  {visible(note)}"))
        self.query_one("#res-gallery", DigitGrid).set_digits(images, caps)


def _count(n: object) -> str:
    """An image count as recorded (an int), or "?" for a run that never chose its images (or
    whose record holds no count: a negative number, a string)."""
    return str(n) if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else "?"
