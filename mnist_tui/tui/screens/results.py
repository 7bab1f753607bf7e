"""Results: one run's headline accuracies, confusion heat map, per-class scores, curves, model
summary and misclassified digits.

Everything is read from the run folder in a thread (result.json, events.jsonl, embedding.npz),
and the gallery's images from the dataset the run used (its spec's dataset/data_dir), checked
against the run's recorded fingerprint so the pictures are the images that were misclassified.
Clustering and classifier results share the screen; any field may be missing.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from mnist_tui.engine.data.naming import dataset_key
from mnist_tui.engine.runs.view import gallery_images, load_run_view, misclassified
from mnist_tui.engine.text import shown
from mnist_tui.tui.safe import lines, plain, say, visible
from mnist_tui.tui.summary import (
    STATE_STYLE,
    fmt_pct,
    fmt_seconds,
    headlines,
    history_series,
)
from mnist_tui.tui.widgets.digits import DigitGrid
from mnist_tui.tui.widgets.heatmap import (
    confusion_text,
    counts_matrix,
    legend_text,
    per_class_text,
    scores,
)
from mnist_tui.tui.widgets.keysbar import KeysBar
from mnist_tui.tui.widgets.plots import CurvePlot, ScatterPlot

# A value read from a run's records (a preset, a dataset name) is cut at this many characters in
# the header: a planted 10,000-character one would push the run's numbers off the screen.
HEAD_LIMIT = 120


class ResultsScreen(Screen):
    """A finished (or failed, cancelled) run in full; another run opens at the top."""

    BINDINGS = [Binding("g", "reload", "Reload"), Binding("e", "export", "Export report")]

    def __init__(self) -> None:
        super().__init__()
        self.view: dict | None = None
        self._to_top = True          # the next run shown starts at the top

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="results-body", can_focus=True):
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
        yield Static("", id="res-notice")
        yield KeysBar()

    def on_mount(self) -> None:
        self.app.results_run_changed.subscribe(self, self.on_results_run_changed, immediate=True)
        self.app.runs_changed.subscribe(self, self.on_runs_changed, immediate=True)
        self.query_one("#results-body").focus()
        self.query_one("#res-curves").display = False
        self.query_one("#res-notice").display = False
        self.action_reload()

    def on_results_run_changed(self, _data=None) -> None:
        """A run was opened (Runs, Monitor, a finished job): show it from the top."""
        self._to_top = True
        self.action_reload()

    def on_runs_changed(self, _data=None) -> None:
        if self.app.results_run is None:
            self.action_reload()

    def action_export(self) -> None:
        from mnist_tui.tui.exports import export_report

        export_report(self.app, [self.view["run_id"] if self.view else self.app.results_run],
                      self.show_notice)

    def show_notice(self, text: Text) -> None:
        """A notice under the results that stays until the next one (the export's path)."""
        notice = self.query_one("#res-notice", Static)
        notice.update(text)
        notice.display = True

    def action_reload(self) -> None:
        run_id = self.app.results_run
        if run_id is None:
            done = [r for r in self.app.store.list() if r.status == "finished"]
            if not done:
                return
            run_id = done[0].run_id
        self._load(run_id)

    @work(thread=True, exclusive=True, group="results", exit_on_error=False)
    def _load(self, run_id: str) -> None:
        try:
            view = load_run_view(self.app.store, run_id)
        except Exception as exc:  # noqa: BLE001 - a deleted or unreadable run
            self.app.call_from_thread(self._show_error, run_id, str(exc))
            return
        self.app.call_from_thread(self._show, view)
        wrong = misclassified(view)
        images, caps, note = gallery_images(self.app.dataset, view, wrong)
        self.app.call_from_thread(self._show_gallery, images, caps, note)

    def _show_error(self, run_id: str, error: str) -> None:
        self.query_one("#res-title", Static).update(
            say("Run {} cannot be read: {}", run_id, error, style="bold red"))

    def _show(self, view: dict) -> None:
        if self.view is None or self.view["run_id"] != view["run_id"]:
            self._to_top = True
        self.view = view
        result, spec = view["result"], view["spec"]
        status = result.get("status", "running")
        ds = result.get("dataset") or {}
        # Every value here is read from the run folder: shown as written (tui/safe.py).
        title = Text.assemble(
            ("Run ", "bold"), (visible(view["run_id"]), "bold cyan"), "  ",
            (visible(status), STATE_STYLE.get(status, "")), "\n",
            say("{} · preset {} · seed {} · {} ({} images)", *(shown(v, HEAD_LIMIT) for v in (
                spec.get("job"), spec.get("preset"), spec.get("seed"),
                (dataset_key(ds) if ds.get("name") else None) or spec.get("dataset"))),
                _count(ds.get("n_samples", result.get("n_samples")))),
            (say(" · started {}", result.get("started_at", "")) if result.get("started_at")
             else ""),
            (say(" · rerun of {}", result["rerun_of"]) if result.get("rerun_of") else ""))
        self.query_one("#res-title", Static).update(title)
        headline = self._headline(result)
        for note in view.get("notes") or []:        # e.g. an events.jsonl that is a FIFO
            headline.append("\n⚠ " + visible(note), "bold yellow")
        matrix = counts_matrix(result.get("confusion_matrix"))
        if result.get("confusion_matrix") and matrix is None:
            headline.append("\n⚠ confusion_matrix: not a square table of counts (not shown)",
                            "bold yellow")
        self.query_one("#res-headline", Static).update(headline)
        conf = self.query_one("#res-confusion", Static)
        per = self.query_one("#res-perclass", Static)
        self.query_one("#res-matrix-row").display = bool(matrix)
        if matrix:
            plain = self.app.no_color
            head = Text("confusion matrix", style="bold")
            mapping = result.get("confusion_mapping")
            head.append(" (rows true, columns predicted"
                        + (f", {visible(mapping)} mapping)" if mapping else ")") + "\n",
                        style="dim")
            conf.update(head + confusion_text(matrix, plain=plain) + Text("\n")
                        + legend_text(plain))
            m = result.get("metrics") or {}
            per.update(per_class_text(matrix, scores(m.get("per_class_precision")),
                                      scores(m.get("per_class_recall")
                                             or m.get("per_class_recall_hungarian"))))
        self._show_curves(view)
        self._show_model(view["summary"])
        if self._to_top:
            self._to_top = False
            self.query_one("#results-body", VerticalScroll).scroll_home(animate=False,
                                                                        immediate=True)

    def _headline(self, result: dict) -> Text:
        text = Text()
        heads = headlines(result)
        for label, value in heads:
            text.append(f"{fmt_pct(value):>8}", "bold green" if value is not None else "dim")
            text.append(f"  {visible(label)}\n")
        m = result.get("metrics") or {}
        extra = [f"{k.upper()} {m[k]:.3f}" for k in ("nmi", "ari")
                 if isinstance(m.get(k), (int, float))]
        if extra:
            text.append("          " + "  ".join(extra) + "\n", "dim")
        timings = result.get("timings") or {}
        if timings:
            text.append("time  ", "bold")
            text.append("  ".join(f"{visible(k)} {fmt_seconds(v)}" for k, v in timings.items()
                                  if isinstance(v, (int, float)) and (v >= 0.05 or k == "total")))
        images = result.get("images") if isinstance(result.get("images"), dict) else {}
        for key, label in (("train", "trained"), ("clustered", "clustered"),
                           ("evaluation", "scored")):
            if isinstance(images.get(key), str):
                text.append(f"\n{label:<10}", "bold")
                text.append(visible(images[key]), "dim")
        for warning in result.get("warnings") or []:
            if isinstance(warning, str):
                text.append("\n⚠ " + visible(warning), "bold yellow")
        if result.get("error"):
            # one line (a newline in it is shown as \n, so it forges no line); the
            # traceback below keeps its lines, each shown as written
            text.append("\n✘ " + visible(result["error"]), "bold red")
        if result.get("traceback"):
            tail = str(result["traceback"]).strip().splitlines()[-4:]
            text.append("\n  ", "red")
            text.append_text(lines("\n".join(tail), "red", indent="  "))
        if not heads and not result:
            text.append("this run has no result yet (still running?)", "italic")
        return text

    def _show_curves(self, view: dict) -> None:
        row = self.query_one("#res-curves")
        a = self.query_one("#res-plot-a", CurvePlot)
        b = self.query_one("#res-plot-b", CurvePlot)
        scatter = self.query_one("#res-scatter", ScatterPlot)
        loss, acc = history_series(view["history"])
        if loss or acc:
            row.display = True
            a.display = b.display = True
            scatter.display = False
            a.xlabel = b.xlabel = "epoch"
            a.set_series(loss, "loss")
            b.set_series(acc, "accuracy")
        elif view["kl"] or view["snapshot"]:
            row.display = True
            b.display = False
            a.display = bool(view["kl"])
            a.xlabel = "iteration"
            a.set_series([("KL", [s for s, _ in view["kl"]], [v for _, v in view["kl"]])],
                         "KL divergence")
            snap = view["snapshot"]
            scatter.display = snap is not None
            if snap is not None:
                it = snap.get("iteration")
                scatter.set_points(snap.get("points", []), snap.get("labels", []),
                                   "(final)" if it == "final" else f"(iteration {it})")
        else:
            row.display = False

    def _show_model(self, summary: dict | None) -> None:
        widget = self.query_one("#res-model", Static)
        widget.display = summary is not None
        if summary is None:
            return
        table = Table(title="model summary", title_justify="left", title_style="bold",
                      box=None, header_style="bold", padding=(0, 1))
        for col, just in (("layer", "left"), ("type", "left"), ("output", "left"),
                          ("params", "right"), ("", "left")):
            table.add_column(col, justify=just, no_wrap=True)
        for layer in summary.get("layers", []):
            table.add_row(plain(layer.get("name", "")), plain(layer.get("class", "")),
                          plain(layer.get("output_shape", "")),
                          f"{layer.get('params', 0):,}",
                          "" if layer.get("trainable", True) else Text("frozen", style="dim"))
        table.caption = (f"trainable {summary.get('trainable_params', 0):,} · frozen "
                         f"{summary.get('frozen_params', 0):,}")
        widget.update(table)

    def _show_gallery(self, images: list, caps: list[str], note: str) -> None:
        self.query_one("#res-gallery-title", Static).update(
            Text.assemble(("Misclassified digits", "bold"), f"  {visible(note)}"))
        self.query_one("#res-gallery", DigitGrid).set_digits(images, caps)


def _count(n: object) -> str:
    """An image count as recorded (an int), or "?" for a run that never chose its images (or
    whose record holds no count: a negative number, a string)."""
    return str(n) if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else "?"
