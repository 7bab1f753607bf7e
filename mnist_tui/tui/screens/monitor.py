"""Monitor: every queued, running and ended job; live detail for the selected one.

Messages only mark what changed; a 4 Hz timer redraws what is dirty and visible. However fast a
job emits, the screen does at most four redraws a second, and `p` stops plot redraws entirely
(a slow SSH link). Elapsed times and the activity spinner tick once a second. The job launched
last is selected (the one you just started is the one you want to watch); the system line
samples on its own timer (`widgets/syspanel.py`). The lines' text is `tui/joblines.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from mnist_tui.engine.runs.layout import SPEC_FILE
from mnist_tui.tui.host import app_state
from mnist_tui.tui.joblines import (
    COLUMNS,
    activity_line,
    progress_line,
    table_row,
    title_line,
)
from mnist_tui.tui.safe import say, visible
from mnist_tui.tui.widgets.keysbar import KeysBar
from mnist_tui.tui.widgets.plots import CurvePlot, ScatterPlot, digit_legend
from mnist_tui.tui.widgets.syspanel import SystemPanel
from mnist_tui.tui.widgets.tables import VIM_BINDINGS, VimTable

if TYPE_CHECKING:
    from mnist_tui.tui.jobs import Job


class MonitorScreen(Screen[None]):
    """Jobs table on top, the selected job's progress, activity, system figures, curves,
    scatter and log below."""

    # One line each, never wrapped: at 80 columns a long line is cut with "…", not folded.
    DEFAULT_CSS = """
    MonitorScreen #job-title, MonitorScreen #job-progress, MonitorScreen #job-activity {
        height: 1; text-wrap: nowrap; text-overflow: ellipsis;
    }
    MonitorScreen #job-log { text-wrap: nowrap; text-overflow: ellipsis; }
    /* Toasts stand above the log and the key bar, never over the log's last lines. */
    MonitorScreen ToastRack { margin-bottom: 6; }
    MonitorScreen.-wide ToastRack { margin-bottom: 8; }
    /* z: one panel has the whole screen (lazygit's zoom); z again moves on, then back. */
    MonitorScreen.-zoom-plots #jobs, MonitorScreen.-zoom-plots #job-system,
    MonitorScreen.-zoom-plots #job-activity, MonitorScreen.-zoom-plots #job-log,
    MonitorScreen.-zoom-log #jobs, MonitorScreen.-zoom-log #job-system,
    MonitorScreen.-zoom-log #job-activity,
    MonitorScreen.-zoom-log #plots { display: none; }
    MonitorScreen.-zoom-log #job-log { height: 1fr; }
    """

    WIDGET_BINDINGS: ClassVar[list[BindingType]] = VIM_BINDINGS   # the job table's (`?`)
    BINDINGS = [
        Binding("c", "cancel", "Cancel"),
        Binding("p", "pause", "Pause"),
        Binding("o", "open", "Open"),
        Binding("h", "hide_ended", "Hide ended"),
        Binding("z", "zoom", "Zoom"),
        Binding("backspace", "dismiss_job", "Dismiss", key_display="⌫"),
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
        self._latest_seen: str | None = None   # the manager's `latest` this screen selected
        self.hide_ended = False                # h: ended jobs are left out of the table
        self.zoom: str | None = None           # z: "plots" or "log" has the whole screen
        self.dismissed: set[str] = set()       # d: ended jobs taken off this window's list
        self._cursor_to_selected = False       # the selection changed here: move the cursor

    def compose(self) -> ComposeResult:
        yield Header()
        table = VimTable(id="jobs", cursor_type="row", zebra_stripes=True)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table
        with Vertical(id="detail"):
            yield Static("No jobs yet: press 2 to launch one.", id="job-title")
            yield Static("", id="job-progress")
            yield Static("", id="job-activity")
            yield SystemPanel(id="job-system")
            with Horizontal(id="plots"):
                yield CurvePlot("loss", id="plot-a")
                yield CurvePlot("accuracy", id="plot-b")
                yield ScatterPlot(id="scatter")
            yield Static("", id="legend")
            yield Static("", id="job-log")
        yield KeysBar()

    def on_mount(self) -> None:
        app_state(self).job_changed.subscribe(self, self.on_job_changed, immediate=True)
        self.set_interval(0.25, self._tick)
        self.set_interval(1.0, self._tick_clock)
        self.query_one("#jobs", DataTable).focus()
        self._follow_latest()
        self._redraw(force=True)

    def on_screen_resume(self) -> None:
        # Show the screen first (its last plots), then bring the plots up to date: the key
        # press is answered within a frame, the plotext redraw follows right after.
        self._follow_latest()
        self._dirty_table = self._dirty_detail = self._dirty_plots = True
        self._draw_table()
        self._draw_detail()
        self._dirty_table = self._dirty_detail = False
        self.call_after_refresh(self._redraw)

    def on_resize(self) -> None:
        self._dirty_detail = True      # the lines are fitted to the width

    def _follow_latest(self) -> None:
        """Select the job launched last, once: moving the cursor away afterwards sticks."""
        latest = app_state(self).manager.latest
        if latest is not None and latest != self._latest_seen:
            self._latest_seen = latest
            if latest != self.selected:
                self.selected = latest
                self._cursor_to_selected = True
                self._drawn_snapshot = -1
                self._dirty_table = self._dirty_detail = self._dirty_plots = True

    # -- notifications from the app ------------------------------------------------------
    def on_job_changed(self, change: tuple[str, str]) -> None:
        job_id, kind = change
        if kind == "state":
            self._dirty_table = True
            if self.selected is None:
                self.selected = job_id
            self._follow_latest()
        if job_id == self.selected:
            self._dirty_detail = True
            if kind in ("progress", "snapshot", "epoch", "state", "model_summary", "phase"):
                self._dirty_plots = True
        self._dirty_table = True

    # -- drawing ---------------------------------------------------------------------------
    def _tick(self) -> None:
        # `is_current`: on top, or visible under a dialog (a cancel's confirm): it keeps
        # updating behind it, so what is asked about is what is seen.
        if self.is_current:
            self._follow_latest()   # cheap; also when a job_changed signal was missed
            self._redraw()

    def _tick_clock(self) -> None:
        if self.is_current and app_state(self).manager.active():
            self._dirty_table = self._dirty_detail = True

    def _redraw(self, force: bool = False) -> None:
        if self.paused and not force:
            return      # p: the whole screen holds still (a slow link, or to read it)
        if self._dirty_table or force:
            self._dirty_table = False
            self._draw_table()
        if self._dirty_detail or force:
            self._dirty_detail = False
            self._draw_detail()
        if (self._dirty_plots or force) and not self.paused:
            self._dirty_plots = False
            self._draw_plots()

    def _visible_jobs(self) -> list[Job]:
        """The table's jobs: every one, or (h) only the active ones and the one selected."""
        jobs = [j for j in app_state(self).manager.ordered() if j.job_id not in self.dismissed]
        if self.hide_ended:
            jobs = [j for j in jobs if j.active or j.job_id == self.selected]
        return jobs

    def _job(self) -> Job | None:
        return app_state(self).manager.jobs.get(self.selected) if self.selected else None

    def _row(self, job: Job, now: float) -> list[Text | str]:
        return table_row(job, now, held=bool(app_state(self).manager.held_by))

    def _draw_table(self) -> None:
        table = self.query_one("#jobs", DataTable)
        manager = app_state(self).manager
        jobs = self._visible_jobs()
        now = manager.clock()
        ids = [j.job_id for j in jobs]
        if ids != self._row_jobs:
            table.clear()
            for job in jobs:
                table.add_row(*self._row(job, now), key=job.job_id)
            self._row_jobs = ids
            self._cursor_to_selected = True
            if self.selected not in ids and ids:
                self.selected = ids[0]
                self._dirty_detail = self._dirty_plots = True
        else:
            for job in jobs:
                for (key, _, _), value in zip(COLUMNS, self._row(job, now)):
                    table.update_cell(job.job_id, key, value)
        # Only when the rows were rebuilt or the selection was made here: a cursor the user
        # has just moved (its highlight message still on its way) is left where it is.
        if self._cursor_to_selected and self.selected in ids:
            self._cursor_to_selected = False
            if table.cursor_row != ids.index(self.selected):
                table.move_cursor(row=ids.index(self.selected), animate=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # The row under the cursor *now*: highlight messages of rows added or moved by a
        # redraw arrive late and would otherwise select a job nobody chose. While the cursor
        # has still to be moved to a job selected here (the one just launched), the row under
        # it is the old one: the selection made here stands.
        if self._cursor_to_selected:
            return
        table = event.data_table
        rows = table.ordered_rows
        key = rows[table.cursor_row].key.value if 0 <= table.cursor_row < len(rows) else None
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
        activity = self.query_one("#job-activity", Static)
        system = self.query_one("#job-system", SystemPanel)
        log = self.query_one("#job-log", Static)
        manager = app_state(self).manager
        if job is None:
            title.update(Text("No jobs yet: press 2 to launch one, ? for every key.",
                              style="italic"))
            for widget in (prog, activity, log):
                widget.update("")
            system.show_job(None, None)
            return
        now = manager.clock()
        width = prog.size.width or max(20, self.size.width - 2)
        title.update(title_line(job, now, self.paused))
        prog.update(progress_line(job, now, width))
        activity.update(activity_line(job, now, width, manager.held_by))
        system.show_job(job, manager.live_pid(job))
        if self.paused:
            return
        lines = Text(no_wrap=True, overflow="ellipsis")
        shown = max(4, log.size.height) if self.zoom == "log" else 4
        entries = list(job.logs)[-shown:]
        for i, (level, message) in enumerate(entries):
            if i:
                lines.append("\n")
            style = {"error": "bold red", "warning": "yellow"}.get(level, "")
            lines.append(visible(message.splitlines()[0]) if message else "", style)
        if job.state == "failed" and job.error:
            tail = job.error.splitlines()
            lines = Text("✘ " + "\n  ".join(visible(t) for t in tail[-6:]), style="bold red",
                         no_wrap=True, overflow="ellipsis")
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
        # An ended job's empty chart says why, never "waiting for data…" (a cancelled job).
        empty = ("waiting for data…" if job is None or job.active
                 else f"none: {job.state}")
        plot_a.empty_text = plot_b.empty_text = empty
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
            from mnist_tui.tui.curves import learning_curves

            # per step (where the run records steps), the epochs' validation on top
            loss, acc = learning_curves(job.curve, job.history())
            plot_a.xlabel = plot_b.xlabel = "epoch"
            plot_a.set_series(loss, "loss")
            plot_b.set_series(acc, "accuracy")

    # -- actions -----------------------------------------------------------------------------
    def action_pause(self) -> None:
        """Freeze the whole screen (table, lines, charts, log) until p again; the jobs go on."""
        self.paused = not self.paused
        self.query_one("#job-system", SystemPanel).paused = self.paused
        self._dirty_table = self._dirty_detail = self._dirty_plots = True
        self.app.notify("Monitor frozen (the jobs go on): p resumes" if self.paused
                        else "Monitor live again")
        # The title answers the key at once; the plotext redraw follows after that frame.
        job = self._job()
        if job is not None:
            self.query_one("#job-title", Static).update(
                title_line(job, app_state(self).manager.clock(), self.paused))
        if not self.paused:
            self.call_after_refresh(self._redraw)

    def action_zoom(self) -> None:
        """z: the charts take the whole screen, then the log (every line that fits), then
        back to the usual layout."""
        order = [None, "plots", "log"]
        self.zoom = order[(order.index(self.zoom) + 1) % len(order)]
        for name in ("plots", "log"):
            self.set_class(self.zoom == name, f"-zoom-{name}")
        self._dirty_detail = self._dirty_plots = True
        self.call_after_refresh(self._redraw, True)

    def action_hide_ended(self) -> None:
        self.hide_ended = not self.hide_ended
        self._dirty_table = True
        self.app.notify("ended jobs hidden: h shows them" if self.hide_ended
                        else "every job shown")
        self._redraw()

    def action_dismiss_job(self) -> None:
        """Take an ended job off this window's list (its run folder stays: 5 Runs has it)."""
        job = self._job()
        if job is None or job.active:
            self.app.notify("only an ended job can be dismissed (c cancels a running one)",
                            severity="warning")
            return
        self.dismissed.add(job.job_id)
        self.selected = None
        self._dirty_table = self._dirty_detail = self._dirty_plots = True
        self._redraw()

    def action_cancel(self) -> None:
        from mnist_tui.tui.dialogs import ConfirmScreen

        job = self._job()
        if job is None or not job.active:
            self.app.notify("no running or queued job selected", severity="warning")
            return
        if job.owner is not None and job.owner.kind == "suite" and job.attached:
            self.app.notify(say("this job is a member of {}: cancel the suite where it runs",
                                job.owned_by()).plain, severity="warning")
            return
        if job.member:   # its worker is the suite's: the suite stops as a whole (resumable)
            self.app.notify("this job is a member of the running suite: cancel the suite on "
                            "6 Suites (x)", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            if app_state(self).manager.cancel(job.job_id):
                self.app.notify(f"cancelling {job.job} {job.job_id[-6:]}…")
            else:       # it ended while the question was open: say so, never drop it silently
                self.app.notify(f"too late to cancel: {job.job} {job.job_id[-6:]} has "
                                f"{job.state}", severity="warning")

        question = say("Cancel {} {}?\nIt is {}", job.job, job.job_id, job.state)
        question.append(visible(f" ({job.phase}).") if job.phase else ".")
        self.app.push_screen(ConfirmScreen(question, yes="Cancel job", no="Keep it"), answer)

    def action_open(self) -> None:
        from mnist_tui.tui.messages import OpenRun

        job = self._job()
        if job is None:
            return
        if job.active or not (job.run_dir / SPEC_FILE).is_file():
            self.app.notify("no results yet for this job" if job.active
                            else "this job left no run folder (it failed before starting)",
                            severity="warning")
            return
        self.app.post_message(OpenRun(job.job_id))
