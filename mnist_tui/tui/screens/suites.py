"""Suites: pick a benchmark suite (seed or sweep) and its options, run it, and watch its members
fill a table — and, for the sweep, a plot of accuracy against images per method — live; cancel
(the running members are interrupted and recorded, the suite can be resumed); open a past
suite from `<runs>/suites/` and resume an interrupted one. Members run where the form says
(local or ray, several at once), each listed with where it runs; the Monitor follows each as a
job (`JobManager.follow_member`, fed here) whose cancel is this screen's x (the whole suite).

The suite runs in an engine `SuiteSession` on its own thread (the app holds it, and asks it
whether a suite runs); each member is a worker process, so TensorFlow is never imported here.
Its listener (`tui/suite_listener.py`) only posts messages, handled here on the UI thread; the
running members' text is drawn by a 4/s timer. The form is `widgets/suite_form.py`, the plot
`widgets/sweep_plot.py`, the list of past suites `dialogs.SuitePicker`.

Before it starts, a suite is planned (`engine.suites.plan.plan_suite`, in a thread worker, shortly
after the form changes and again on ctrl+s): its size (members × images), a rough time from past
runs, and what would fail every member at once (the data folder, its split, sizes larger than the
split, VGG16 weights that cannot be had) — a problem stops the start, and a large suite (more than
10 members, an estimate over 15 min, or more than 10,000 images in a member) asks first. `x`
(cancel) asks too. Text fields are edited on purpose (widgets/fields.py). `e` writes the shown
suite's report again; the key bar's labels are short: every key fits at 80 columns.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Header, Input, Select

from mnist_tui.engine.errors import MnistTuiError
from mnist_tui.engine.suites.folder import SuiteFolder
from mnist_tui.engine.suites.report_model import SuiteReport
from mnist_tui.engine.suites.session import SuiteSession
from mnist_tui.engine.suites.spec import SuiteSpec
from mnist_tui.tui import messages as msgs
from mnist_tui.tui.dialogs import ConfirmScreen, SuitePicker
from mnist_tui.tui.host import app_state
from mnist_tui.tui.jobs import WORKER_NICE
from mnist_tui.tui.safe import plain
from mnist_tui.tui.suite_listener import SuiteMessages
from mnist_tui.tui.widgets import suite_table
from mnist_tui.tui.widgets.fields import FieldKeys, field_bindings
from mnist_tui.tui.widgets.keysbar import KeysBar
from mnist_tui.tui.widgets.suite_form import SuiteForm
from mnist_tui.tui.widgets.suite_plan import SuitePlanLine
from mnist_tui.tui.widgets.suite_table import RunningMember, StatusView, SuiteStatusLine, SuiteTable
from mnist_tui.tui.widgets.sweep_plot import SweepPlot

if TYPE_CHECKING:
    from mnist_tui.engine.runs.store import Skipped
    from mnist_tui.engine.suites.plan import SuitePlan

REDRAW_S = 0.25


class SuitesScreen(FieldKeys, Screen[None]):
    """Run a suite and watch it; open, resume past ones."""

    AUTO_FOCUS = "#suite-table"
    # Letter keys are priority bindings: a focused field that is not being edited must not
    # swallow them (a field being edited types them: see fields.py).
    BINDINGS = [
        Binding("ctrl+s", "start", "Start", tooltip="Start the suite of the form", priority=True),
        Binding("x", "cancel", "Cancel", tooltip="Cancel the running suite", priority=True),
        Binding("ctrl+x", "cancel", "Cancel", show=False, priority=True),
        Binding("r", "resume", "Resume", tooltip="Resume the suite shown", priority=True),
        Binding("e", "export", "Report", tooltip="Write the suite's report again", priority=True),
        Binding("l", "pick", "Past", tooltip="Past suites: open one", priority=True),
        *field_bindings(show_edit=False),  # short labels, no "enter Edit": r, e fit at 80
    ]
    DEFAULT_CSS = """
    SuitesScreen #suite-form { height: 3; padding: 0 1 0 0; }
    SuitesScreen #suite-plan { height: auto; max-height: 4; padding: 0 1; }
    SuitesScreen #suite-status { height: auto; min-height: 3; max-height: 6; padding: 0 1;
                                 border-top: solid $primary-darken-2; }
    SuitesScreen #suite-body { height: 1fr; }
    SuitesScreen #suite-table { height: auto; max-height: 50%; }
    SuitesScreen #suite-body.-noplot #suite-table { height: 1fr; max-height: 100%; }
    SuitesScreen #suite-plot { height: 1fr; min-height: 8; }
    .-wide SuitesScreen #suite-body { layout: horizontal; }
    .-wide SuitesScreen #suite-table { width: 1fr; height: 1fr; max-height: 100%; }
    .-wide SuitesScreen #suite-plot { width: 1fr; height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.folder: SuiteFolder | None = None      # the suite shown (running or past)
        self.report: SuiteReport | None = None
        self.running = False           # a suite of this screen runs (until its end is shown)
        self.session: SuiteSession | None = None    # the running (or last) suite's session
        self.members: dict[int, RunningMember] = {}   # the running ones (from 1)
        self.dirty = False
        self.reused = 0
        self.message: Text | None = None
        self.loaded = False            # a suite has been drawn (for tests)
        self._starting = False         # a start waits for its plan (or its confirmation)
        self.skipped: list[Any] = []   # suite folders the last listing could not read

    @property
    def listener(self) -> SuiteSession | None:
        """The running suite's session as the tests see it (`pid`: its member's worker)."""
        return self.session

    @property
    def live(self) -> dict[str, Any] | None:
        """The member started last while it runs (its fields: `i`, `label`, `text` …)."""
        return vars(self.members[max(self.members)]) if self.members else None

    @property
    def cancelling(self) -> bool:
        return self.session is not None and self.session.cancelled

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        choice = getattr(self.app, "dataset_choice", "auto")
        yield Header()
        yield SuiteForm(f"dataset={choice}" if choice in ("digits", "mnist") else "",
                        id="suite-form")
        yield SuitePlanLine(app_state(self).runs_dir, self.form_key, self.read_spec, id="suite-plan")
        yield SuiteStatusLine("", id="suite-status")
        with Vertical(id="suite-body"):
            yield SuiteTable(id="suite-table")
            yield SweepPlot(id="suite-plot")
        yield KeysBar()

    def on_mount(self) -> None:
        app_state(self).runs_changed.subscribe(self, self.on_runs_changed, immediate=True)
        self.query_one("#suite-plot").display = False
        self.query_one("#suite-table").focus()
        self.set_interval(REDRAW_S, self._tick)
        self._status()
        self._want_plan()
        self.open_newest()

    def on_unmount(self) -> None:
        # The app is closing: interrupt the running member (recorded; the suite is resumable).
        if self.running and self.session is not None:
            self.session.cancel()

    @on(Select.Changed)
    @on(Input.Changed)
    def _want_plan(self) -> None:
        """Plan the form's suite once it settles (the plan line, widgets/suite_plan.py)."""
        self.query_one(SuitePlanLine).want()

    def on_runs_changed(self, _data: None = None) -> None:
        self.query_one(SuitePlanLine).forget_runs()   # a member too: planned again

    # -- planning (size, time, checks) -----------------------------------------------------
    def read_spec(self) -> SuiteSpec:
        """The SuiteSpec of the form, its executor checked too (SpecError with a one-line
        reason, shown on the plan line)."""
        form = self.query_one(SuiteForm)
        form.read_choice()
        return form.read_spec(getattr(self.app, "data_dir", None))

    def form_key(self) -> tuple[str, ...]:
        """The form's values as they stand (what a plan is for)."""
        return self.query_one(SuiteForm).key()

    @property
    def plan_for(self) -> tuple[str, ...] | None:
        """The form values `plan` is for."""
        return self.query_one(SuitePlanLine).plan_for

    # -- actions ---------------------------------------------------------------------------
    def action_start(self) -> None:
        """ctrl+s: once the field being edited has every key already typed into it."""
        self.after_typing(self._start)

    def _start(self) -> None:
        if self.running:
            self.app.notify("a suite is running: cancel it first (x)", severity="warning")
            return
        if self._starting:
            self.app.notify("the suite is being checked: it starts (or says why not) in a "
                            "moment", severity="warning")
            return
        try:
            spec = self.read_spec()
        except MnistTuiError as exc:
            self._say(f"✘ {exc}", "bold red")
            self.app.notify(str(exc), severity="error")
            return
        if not self._may_begin():
            return
        self._starting = True
        self._say(f"checking {len(spec.members())} member run(s): data, weights, past "
                  "times…", "italic")
        self._plan_to_start(self.form_key(), spec, self.query_one(SuitePlanLine))

    @work(thread=True, exclusive=True, group="suite-start", exit_on_error=False)
    def _plan_to_start(self, key: tuple[str, ...], spec: SuiteSpec,
                       line: SuitePlanLine) -> None:
        plan = line.make_plan(spec)     # fresh: the disk and the network may have changed
        try:
            self.app.call_from_thread(self._start_planned, key, spec, plan)
        except Exception:  # noqa: BLE001 - the app is closing
            pass

    def _start_planned(self, key: tuple[str, ...], spec: SuiteSpec, plan: SuitePlan) -> None:
        """Start the planned suite: not with a problem, and after a yes when it is large."""
        self.query_one(SuitePlanLine).planned(key, plan)
        if plan.problems:
            self._starting = False
            why = plan.problems[0].message
            self._say(f"✘ not started: {why}", "bold red")
            self.app.notify(f"suite not started: {why}", severity="error", timeout=10)
            return
        reasons = plan.confirm_reasons()
        if not reasons:
            self._launch(spec)
            return
        self._say("asking before a large suite starts…", "italic")
        question = (f"Start this {spec.name} suite now?\n\n{plan.size_text()} "
                    f"({', '.join(plan.methods)})\n{plan.time_text()}\n\n"
                    f"Asked because of: {'; '.join(reasons)}.")

        def answer(yes: bool | None) -> None:
            if yes:
                self._launch(spec)
            else:
                self._starting = False
                self._say("not started (the suite was not confirmed)", "italic")

        self.app.push_screen(ConfirmScreen(question, yes="Start", no="Not now"), answer)

    def _launch(self, spec: SuiteSpec) -> None:
        self._starting = False
        if self.running or not self._may_begin():
            return
        session = self._session(spec)
        self._begin(session)
        self._say(f"checking the data for {len(spec.members())} member runs…", "italic")
        session.start()

    def action_resume(self) -> None:
        if self.running:
            self.app.notify("a suite is already running", severity="warning")
            return
        if self.folder is None:
            self.app.notify("open a past suite first (l)", severity="warning")
            return
        status = self.report.status if self.report is not None else None
        if status == "finished":
            self.app.notify("this suite finished: nothing to resume", severity="warning")
            return
        if not self._may_begin():
            return
        try:   # one runner per suite: not beside a --batch --resume (or another app) of it
            session = self._session(self.folder.suite_id)   # on the form's executor
            session.claim()               # its lock, released when the session ends
        except MnistTuiError as exc:
            self._say(f"✘ not started: {exc}", "bold yellow")
            self.app.notify(str(exc), severity="warning", timeout=8)
            return
        self._begin(session)
        self._say(f"resuming {self.folder.suite_id}: finished members are reused…", "italic")
        session.start()

    def action_cancel(self) -> None:
        """x / ctrl+x: cancel the running suite, after a yes (it is destructive)."""
        if not self.running:
            self._say("x cancels a running suite: none is running", "italic")
            self.app.notify("no suite is running", severity="warning")
            return
        if self.cancelling:
            return

        def answer(yes: bool | None) -> None:
            if not yes or not self.running or self.cancelling or self.session is None:
                return
            self.session.cancel()
            self._say("cancelling: interrupting the running members (they record what they "
                      "have)…", "bold yellow")

        self.app.push_screen(ConfirmScreen(
            "Cancel the running suite?\n\nThe running members are interrupted and record what "
            "they have; r resumes the suite later (finished members are reused).",
            yes="Cancel suite", no="Keep running"), answer)

    def action_export(self) -> None:
        """e: the shown suite's report written again in its folder (`export_suite`)."""
        if self.folder is None:
            self.app.notify("no suite shown: open one first (l)", severity="warning")
            return
        suite_table.export_suite(self, self.folder, self._exported)

    def _exported(self, folder: SuiteFolder, text: Text) -> None:
        if folder is self.folder and not self.running:
            self.message = text
            self._status()

    @work(thread=True, exclusive=True, group="suite-list", exit_on_error=False)
    def action_pick(self) -> None:
        """l: the past suites, listed in a thread worker (`suite_table.past_suites`)."""
        from mnist_tui.tui.widgets.suite_table import past_suites

        rows, skipped = past_suites(app_state(self).runs_dir)
        self.app.call_from_thread(self._show_skipped, skipped)
        self.app.call_from_thread(self._show_picker, rows, skipped)

    def _show_skipped(self, skipped: list[Skipped]) -> None:
        """Remember the suite folders a listing skipped: the status line names them."""
        self.skipped = list(skipped)
        self._status()

    def _show_picker(self, rows: list[dict[str, str]], skipped: list[Skipped] | None = None
                     ) -> None:
        if not rows and not skipped:
            self.app.notify(f"no suites yet in {app_state(self).runs_dir / 'suites'}",
                            severity="warning")
            return

        def chosen(suite_id: str | None) -> None:
            if suite_id:
                if self.running:
                    self.app.notify("a suite is running: its table stays here",
                                    severity="warning")
                    return
                self.open_suite(suite_id)

        self.app.push_screen(SuitePicker(rows, skipped or []), chosen)

    # -- opening a past suite --------------------------------------------------------------
    @work(thread=True, exclusive=True, group="suite-open", exit_on_error=False)
    def open_newest(self) -> None:
        from mnist_tui.engine.suites.folder import reap_suites, scan_suites

        reap_suites(app_state(self).runs_dir)
        ids, skipped = scan_suites(app_state(self).runs_dir)
        self.app.call_from_thread(self._show_skipped, skipped)
        if ids and not self.running and self.folder is None:
            self._open(ids[0])

    @work(thread=True, exclusive=True, group="suite-open", exit_on_error=False)
    def open_suite(self, suite_id: str) -> None:
        self._open(suite_id)

    def _open(self, suite_id: str) -> None:
        from mnist_tui.engine.suites.folder import SuiteFolder
        from mnist_tui.engine.suites.report import build_report

        try:
            folder = SuiteFolder.open(app_state(self).runs_dir, suite_id)
            report = build_report(folder)
        except Exception as exc:  # noqa: BLE001 - unreadable suite
            self.app.call_from_thread(self._say, f"✘ suite {suite_id}: {exc}", "bold red")
            return
        self.app.call_from_thread(self._opened, folder, report)

    def _opened(self, folder: SuiteFolder, report: SuiteReport) -> None:
        if self.running:
            return
        self.folder = folder
        self.message = None
        self.query_one(SuiteForm).fill(report.suite)
        self.show_report(report)

    # -- running (the session's messages, on the UI thread) --------------------------------
    def _may_begin(self) -> bool:
        """A suite times its members: it does not start beside a running job."""
        busy = app_state(self).manager.own_running()
        if busy:
            why = (f"{len(busy)} job(s) running: a suite started now would share the cores "
                   "(and its timings) with them. Wait, or cancel them on 3.")
            self._say(f"✘ not started: {why}", "bold yellow")
            self.app.notify(why, severity="warning", timeout=8)
        return not busy

    def _session(self, source: SuiteSpec | str) -> SuiteSession:
        """(SpecError: the form's executor values.)"""
        return SuiteSession(app_state(self).runs_dir, source, listener=SuiteMessages(self),
                            nice=WORKER_NICE, choice=self.query_one(SuiteForm).read_choice())

    def _begin(self, session: SuiteSession) -> None:
        self.running, self.reused = True, 0
        self.members.clear()
        self.session = session
        app_state(self).suite_session = session   # the app asks it whether a suite runs
        app_state(self).manager.hold("the running suite")

    def _ended(self) -> None:
        self.running = False
        self.members.clear()
        app_state(self).manager.end_members("its suite ended before it did")
        app_state(self).manager.release()

    @on(msgs.SuiteNote)
    def _note(self, message: msgs.SuiteNote) -> None:
        self._say(message.text, "italic")

    @on(msgs.SuiteReady)
    def _ready(self, message: msgs.SuiteReady) -> None:
        self.folder = message.folder
        if message.report is not None:
            self.show_report(message.report)

    @on(msgs.SuiteMemberStarted)
    def _member_started(self, message: msgs.SuiteMemberStarted) -> None:
        self.members[message.index] = RunningMember(message.index, message.total,
                                                    message.label, message.started)
        self.query_one(SuiteTable).mark_running(message.index - 1)
        self.dirty = True

    @on(msgs.SuiteMemberPlaced)
    def _member_placed(self, message: msgs.SuiteMemberPlaced) -> None:
        """Where it runs (again after a retry elsewhere); the Monitor follows it as a job."""
        member = self.members.get(message.index)
        if member is not None:
            member.where, member.run_id = message.placement.where(), message.run_id
        app_state(self).manager.follow_member(message.run_id, message.spec, message.placement)
        self.dirty = True

    @on(msgs.SuiteMemberEvent)
    def _member_event(self, message: msgs.SuiteMemberEvent) -> None:
        member = self.members.get(message.index)
        if member is not None:
            if member.run_id is not None:
                app_state(self).manager.feed(member.run_id, message.event)
            member.apply(message.event)
            self.dirty = True

    @on(msgs.SuiteMemberEnded)
    def _member_ended(self, message: msgs.SuiteMemberEnded) -> None:
        if message.reused:
            self.reused += 1
        elif message.index is not None:
            member = self.members.pop(message.index, None)
            if member is not None and member.run_id is not None:
                app_state(self).manager.end_member(member.run_id, message.result)
            self.dirty = True
        if message.report is not None:
            self.show_report(message.report)

    @on(msgs.SuiteStopped)
    def _failed(self, message: msgs.SuiteStopped) -> None:
        self._ended()
        self._say(f"✘ {message.error}", "bold red")
        self.app.notify(message.error, severity="error", timeout=10)

    @on(msgs.SuiteEnded)
    def _done(self, message: msgs.SuiteEnded) -> None:
        report, status, paths = message.result.report, message.result.status, message.result.paths
        self._ended()
        self.show_report(report)
        sid = report.suite_id
        if status == "interrupted":
            self._say(f"interrupted: r resumes it (or mnist-tui --batch --resume {sid})",
                      "bold yellow")
            self.app.notify(f"suite {sid} interrupted: r resumes it", severity="warning")
        else:
            reused = f" (reused {self.reused} finished run(s))" if self.reused else ""
            self._say(f"{status}{reused}: report {suite_table.short_path(paths[0])}",
                      "bold green" if status == "finished" else "bold red")
            self.app.notify(f"suite {sid} {status}: report in {paths[0].parent}", timeout=8,
                            severity="information" if status == "finished" else "error")
        app_state(self).runs_changed.publish(None)

    # -- drawing ---------------------------------------------------------------------------
    def show_report(self, report: SuiteReport) -> None:
        self.report = report
        running = {i - 1 for i in self.members} if self.running else set()
        self.query_one(SuiteTable).show(report, running)
        plot = self.query_one("#suite-plot", SweepPlot)
        sweep = report.kind == "sweep"
        plot.display = sweep
        self.query_one("#suite-body").set_class(not sweep, "-noplot")
        if sweep:
            from mnist_tui.engine.suites.charts import chart

            plot.set_chart(chart(report, "accuracy"))
        self.loaded = True
        self._status()

    def _tick(self) -> None:
        if not self.dirty:
            return
        self.dirty = False
        self._status()
        now = time.monotonic()
        for member in self.members.values():
            self.query_one(SuiteTable).set_time(member.i - 1, now - member.start)

    def _say(self, text: str, style: str = "") -> None:
        """The status line's message: one line, which may name suite ids, paths and errors
        (shown as written, control characters as escapes)."""
        self.message = plain(text, style)
        self._status()

    def _status(self) -> None:
        self.query_one(SuiteStatusLine).draw(StatusView(
            self.folder, self.report, self.running, self.cancelling,
            [self.members[i] for i in sorted(self.members)], self.message, self.skipped))
