"""Monitor: every queued, running and ended job; live detail for the selected one.

Messages only mark what changed; a 4 Hz timer redraws what is dirty and visible. However fast a
job emits, the screen does at most four redraws a second, and `p` stops plot redraws entirely
(a slow SSH link). Elapsed times tick once a second.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from mnist_tui.tui.summary import STATE_ICON, STATE_STYLE, fmt_seconds
from mnist_tui.tui.widgets.keysbar import KeysBar
from mnist_tui.tui.widgets.plots import CurvePlot, ScatterPlot, digit_legend

# Fixed widths: the table fits 80 columns whatever the states become (auto widths grew and
# clipped "✔ finished" to "✔ finishe"), and rows do not jitter as values change.
COLUMNS = (("state", "state", 13), ("job", "job", 8), ("run", "run", 6), ("phase", "phase", 10),
           ("progress", "progress", 12), ("elapsed", "elapsed", 7), ("eta", "ETA", 6))
BAR_WIDTH = 24


def progress_bar(fraction: float | None, width: int = BAR_WIDTH) -> Text:
    if fraction is None:
        return Text("·" * width, style="dim")
    full = int(fraction * width)
    part = " ▏▎▍▌▋▊▉"[int((fraction * width - full) * 8)] if full < width else ""
    return Text.assemble(("█" * full + part, "bold cyan"),
                         ("·" * (width - full - len(part)), "dim"))


class MonitorScreen(Screen):
    """Jobs table on top, the selected job's progress, curves, scatter and log below."""

    BINDINGS = [
        Binding("c", "cancel", "Cancel job"),
        Binding("p", "pause", "Pause redraw"),
        Binding("o", "open", "Open results"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.selected: str | None = None
        self.paused = False
        self._dirty_table = True
        self._dirty_detail = True
        self._dirty_plots = True
        self._row_jobs: list[str] = []
        self._drawn_snapshot = -1

    def compose(self) -> ComposeResult:
        yield Header()
        table = DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table
        with Vertical(id="detail"):
            yield Static("No jobs yet: press 2 to launch one.", id="job-title")
            yield Static("", id="job-progress")
            with Horizontal(id="plots"):
                yield CurvePlot("loss", id="plot-a")
                yield CurvePlot("accuracy", id="plot-b")
                yield ScatterPlot(id="scatter")
            yield Static("", id="legend")
            yield Static("", id="job-log")
        yield KeysBar()

    def on_mount(self) -> None:
        self.set_interval(0.25, self._tick)
        self.set_interval(1.0, self._tick_clock)
        self.query_one("#jobs", DataTable).focus()
        self._redraw(force=True)

    def on_screen_resume(self) -> None:
        # Show the screen first (its last plots), then bring the plots up to date: the key
        # press is answered within a frame, the plotext redraw follows right after.
        self._dirty_table = self._dirty_detail = self._dirty_plots = True
        self._draw_table()
        self._draw_detail()
        self._dirty_table = self._dirty_detail = False
        self.call_after_refresh(self._redraw)

    # -- notifications from the app ------------------------------------------------------
    def on_job_changed(self, job_id: str, kind: str) -> None:
        if kind == "state":
            self._dirty_table = True
            if self.selected is None:
                self.selected = job_id
        if job_id == self.selected:
            self._dirty_detail = True
            if kind in ("progress", "snapshot", "epoch", "state", "model_summary", "phase"):
                self._dirty_plots = True
        self._dirty_table = True

    # -- drawing ---------------------------------------------------------------------------
    def _tick(self) -> None:
        if self.app.screen is self:
            self._redraw()

    def _tick_clock(self) -> None:
        if self.app.screen is self and self.app.manager.running():
            self._dirty_table = self._dirty_detail = True

    def _redraw(self, force: bool = False) -> None:
        if self._dirty_table or force:
            self._dirty_table = False
            self._draw_table()
        if self._dirty_detail or force:
            self._dirty_detail = False
            self._draw_detail()
        if (self._dirty_plots or force) and not self.paused:
            self._dirty_plots = False
            self._draw_plots()

    def _job(self):
        return self.app.manager.jobs.get(self.selected) if self.selected else None

    def _row(self, job, now: float) -> list:
        state = Text(f"{STATE_ICON.get(job.state, '?')} {job.state}",
                     style=STATE_STYLE.get(job.state, ""))
        frac = job.fraction
        prog = f"{job.step}/{job.total}" if job.total else "—"
        if frac is not None:
            steps = f" {prog}"
            prog = f"{100 * frac:3.0f}%" + (steps if len(steps) <= 8 else "")
        eta = job.phase_eta() if job.state in ("running", "stopping") else None
        phase = job.phase or ("held" if job.state == "queued" and self.app.manager.held_by
                              else "—")
        return [state, job.job, job.job_id[-6:], phase, prog,
                fmt_seconds(job.elapsed(now)), fmt_seconds(eta)]

    def _draw_table(self) -> None:
        table = self.query_one("#jobs", DataTable)
        manager = self.app.manager
        jobs = manager.ordered()
        now = manager.clock()
        ids = [j.job_id for j in jobs]
        if ids != self._row_jobs:
            table.clear()
            for job in jobs:
                table.add_row(*self._row(job, now), key=job.job_id)
            self._row_jobs = ids
            if self.selected in ids:
                table.move_cursor(row=ids.index(self.selected), animate=False)
            elif ids:
                self.selected = ids[0]
                self._dirty_detail = self._dirty_plots = True
        else:
            for job in jobs:
                for (key, _, _), value in zip(COLUMNS, self._row(job, now)):
                    table.update_cell(job.job_id, key, value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None
        if key and key != self.selected:
            self.selected = key
            self._drawn_snapshot = -1
            self._dirty_detail = self._dirty_plots = True
            self._redraw()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def _draw_detail(self) -> None:
        job = self._job()
        title = self.query_one("#job-title", Static)
        prog = self.query_one("#job-progress", Static)
        log = self.query_one("#job-log", Static)
        if job is None:
            title.update(Text("No jobs yet: press 2 to launch one, ? for every key.",
                              style="italic"))
            prog.update("")
            log.update("")
            return
        title.update(Text.assemble(
            ("⏸ redraw paused (p) · " if self.paused else "", "bold yellow"),
            (f"{STATE_ICON.get(job.state, '')} {job.job} ", "bold"), (job.job_id, "dim"),
            "  ", (job.state, STATE_STYLE.get(job.state, "")),
            (f"  {job.phase}: {job.phase_message}" if job.phase else "", ""),
            no_wrap=True, overflow="ellipsis"))
        line = Text()
        line.append(f"{job.phase or 'waiting':>8} ", "bold")
        line.append_text(progress_bar(job.fraction))
        if job.total and job.phase == "download":   # bytes
            line.append(f" {job.step / 1e6:.1f}/{job.total / 1e6:.1f} MB")
        elif job.total:
            line.append(f" {job.step}/{job.total}")
        eta = job.phase_eta() if job.state in ("running", "stopping") else None
        if eta is not None:
            line.append(f"  ETA {fmt_seconds(eta)}", "cyan")
        m = job.metrics
        if m.get("images_per_s"):
            line.append(f"  {m['images_per_s']:,.0f} img/s", "bold")
        for key, label in (("kl_divergence", "KL"), ("loss", "loss"), ("accuracy", "acc")):
            if isinstance(m.get(key), (int, float)):
                line.append(f"  {label} {m[key]:.4g}")
        if job.progress_message:
            line.append(f"  {job.progress_message}", "italic dim")
        prog.update(line)
        if self.paused:
            return
        lines = Text(no_wrap=True, overflow="ellipsis")
        entries = list(job.logs)[-4:]
        for i, (level, message) in enumerate(entries):
            if i:
                lines.append("\n")
            style = {"error": "bold red", "warning": "yellow"}.get(level, "")
            lines.append(message.splitlines()[0] if message else "", style)
        if job.state == "failed" and job.error:
            tail = job.error.splitlines()
            lines = Text("✘ " + "\n  ".join(tail[-6:]), style="bold red", no_wrap=True,
                         overflow="ellipsis")
        log.update(lines)

    def _draw_plots(self) -> None:
        job = self._job()
        plot_a = self.query_one("#plot-a", CurvePlot)
        plot_b = self.query_one("#plot-b", CurvePlot)
        scatter = self.query_one("#scatter", ScatterPlot)
        legend = self.query_one("#legend", Static)
        clustering = job is not None and job.job == "tsne-gmm"
        plot_b.display = not clustering
        scatter.display = clustering
        legend.display = clustering
        if job is None:
            plot_a.set_series([], "loss")
            plot_b.set_series([], "accuracy")
            return
        if clustering:
            xs = [s for s, _ in job.kl]
            plot_a.set_series([("KL", xs, [v for _, v in job.kl])], "KL divergence")
            plot_a.xlabel = "iteration"
            if job.snapshot is not None and job.snapshot_count != self._drawn_snapshot:
                self._drawn_snapshot = job.snapshot_count
                snap = job.snapshot
                scatter.set_points(snap["points"], snap["labels"],
                                   f"(iteration {snap['iteration']})")
            elif job.snapshot is None:
                scatter.set_points([], [])
            legend.update(digit_legend())
        else:
            from mnist_tui.tui.summary import history_series

            loss, acc = history_series(job.epochs)
            plot_a.xlabel = plot_b.xlabel = "epoch"
            plot_a.set_series(loss, "loss")
            plot_b.set_series(acc, "accuracy")

    # -- actions -----------------------------------------------------------------------------
    def action_pause(self) -> None:
        self.paused = not self.paused
        self._dirty_detail = self._dirty_plots = True
        self.app.notify("redrawing paused: p resumes" if self.paused else "redrawing resumed")
        # The title answers the key at once; the plotext redraw follows after that frame.
        self._draw_detail()
        self._dirty_detail = False
        self.call_after_refresh(self._redraw)

    def action_cancel(self) -> None:
        from mnist_tui.tui.screens.modals import ConfirmScreen

        job = self._job()
        if job is None or not job.active:
            self.app.notify("no running or queued job selected", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes and self.app.manager.cancel(job.job_id):
                self.app.notify(f"cancelling {job.job} {job.job_id[-6:]}…")

        self.app.push_screen(ConfirmScreen(f"Cancel {job.job} {job.job_id}?\n"
                                           f"It is {job.state}"
                                           + (f" ({job.phase})." if job.phase else "."),
                                           yes="Cancel job", no="Keep it"), answer)

    def action_open(self) -> None:
        from mnist_tui.tui.messages import OpenRun

        job = self._job()
        if job is None:
            return
        if job.active or not (job.run_dir / "spec.json").is_file():
            self.app.notify("no results yet for this job" if job.active
                            else "this job left no run folder (it failed before starting)",
                            severity="warning")
            return
        self.app.post_message(OpenRun(job.job_id))
