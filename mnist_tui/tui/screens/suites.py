"""Suites: pick a benchmark suite (seed or sweep) and its options, run it, and watch its members
fill a table — and, for the sweep, a plot of accuracy against images per method — live; cancel
(the running member is interrupted and recorded, the suite can be resumed); open a past suite
from `<runs>/suites/` and resume an interrupted one.

The suite runs in a Textual thread worker (`engine.suites.runner.run_suite`); each member is a
worker process, so TensorFlow is never imported here. Its listener (`tui/suite_listener.py`)
gets the callbacks on that thread: member starts/ends reach the UI through
`app.call_from_thread`; the many per-member events only store the latest one, which a 4/s timer
draws. The plot is `widgets/sweep_plot.py`, the list of past suites `dialogs.SuitePicker`.

Before it starts, a suite is planned (`engine.preflight.plan_suite`, in a thread worker, shortly
after the form changes and again on ctrl+s): its size (members × images), a rough time from past
runs, and what would fail every member at once (the data folder, its split, sizes larger than the
split, VGG16 weights that cannot be had) — a problem stops the start, and a large suite (more than
10 members, an estimate over 15 min, or more than 10,000 images in a member) asks first. `x`
(cancel) asks too. Text fields are edited on purpose (widgets/fields.py).
"""

from __future__ import annotations

import time

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Select, Static

from mnist_tui.engine.errors import MnistTuiError
from mnist_tui.engine.suites.suite import SuiteSpec, parse_options, seeds_text
from mnist_tui.tui.dialogs import ConfirmScreen, SuitePicker
from mnist_tui.tui.jobs import WORKER_NICE
from mnist_tui.tui.safe import plain, skipped_text, visible
from mnist_tui.tui.suite_listener import SuiteListener
from mnist_tui.tui.summary import STATE_STYLE, fmt_time
from mnist_tui.tui.widgets.fields import FIELD_BINDINGS, FieldInput, FieldKeys
from mnist_tui.tui.widgets.keysbar import KeysBar
from mnist_tui.tui.widgets.sweep_plot import SweepPlot

DEFAULTS = {"sweep": {"sizes": "250,500,1000,2000,5000,10000", "seeds": "3"},
            "seed": {"sizes": "4800,2400", "seeds": "1"}}
REDRAW_S = 0.25
PLAN_DELAY_S = 0.25     # the form settles this long before the suite is planned
RUNS_MAX_AGE_S = 20.0   # past runs (for time estimates) are read again after this long


class SuitesScreen(FieldKeys, Screen):
    """Run a suite and watch it; open, resume past ones."""

    AUTO_FOCUS = "#suite-table"
    # Letter keys are priority bindings: a focused field that is not being edited must not
    # swallow them (a field being edited types them: see fields.py).
    BINDINGS = [
        Binding("ctrl+s", "start", "Start suite", priority=True),
        Binding("x", "cancel", "Cancel", priority=True),
        Binding("ctrl+x", "cancel", "Cancel", show=False, priority=True),
        Binding("l", "pick", "Past suites", priority=True),
        Binding("r", "resume", "Resume", priority=True),
        *FIELD_BINDINGS,
    ]
    DEFAULT_CSS = """
    SuitesScreen #suite-form { height: 2; padding: 0 1; }
    SuitesScreen .sf-row { height: 1; }
    SuitesScreen .sf-label { width: auto; padding: 0 1 0 1; color: $text-muted; }
    SuitesScreen .sf-label.first { padding: 0 1 0 0; }
    SuitesScreen #sf-suite { width: 11; }
    SuitesScreen #sf-methods { width: 1fr; }
    SuitesScreen #sf-sizes { width: 1fr; }
    SuitesScreen #sf-seeds { width: 8; }
    SuitesScreen #sf-vgg { width: 6; }
    SuitesScreen #sf-options { width: 1fr; }
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
        self.folder = None            # SuiteFolder shown (running or past)
        self.report: dict | None = None
        self.running = False
        self.cancelling = False
        self.listener: SuiteListener | None = None
        self.live: dict | None = None  # the running member (written by the suite thread)
        self.dirty = False
        self.reused = 0
        self.message: Text | None = None
        self.last_status: str | None = None
        self.loaded = False            # a suite has been drawn (for tests)
        self._filling: str | None = None
        self.plan = None               # preflight.SuitePlan of the form (None: none yet)
        self.plan_for: tuple | None = None   # the form values `plan` is for
        self._plan_wanted: tuple | None = None
        self._plan_timer = None
        self._starting = False         # a start waits for its plan (or its confirmation)
        self._runs: tuple[float, list] | None = None   # (when read, RunInfo list)
        self.skipped: list = []        # suite folders the last listing could not read

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        from mnist_tui.engine.jobs.specs import JOB_NAMES

        yield Header()
        with Vertical(id="suite-form"):
            with Horizontal(classes="sf-row"):
                yield Label("suite", classes="sf-label first")
                yield Select([("sweep", "sweep"), ("seed", "seed")], value="sweep",
                             allow_blank=False, id="sf-suite", compact=True)
                yield Label("methods", classes="sf-label")
                yield FieldInput(",".join(JOB_NAMES), id="sf-methods", compact=True)
                yield Label("sizes", classes="sf-label")
                yield FieldInput(DEFAULTS["sweep"]["sizes"], id="sf-sizes", compact=True)
            with Horizontal(classes="sf-row"):
                yield Label("seeds", classes="sf-label first")
                yield FieldInput(DEFAULTS["sweep"]["seeds"], id="sf-seeds", compact=True)
                yield Label("vgg px", classes="sf-label")
                yield FieldInput("32", id="sf-vgg", compact=True)
                yield Label("options", classes="sf-label")
                yield FieldInput(self._default_options(),
                                 placeholder="e.g. epochs=1 iterations=260", id="sf-options",
                                 compact=True)
        yield Static("", id="suite-plan")
        yield Static("", id="suite-status")
        with Vertical(id="suite-body"):
            table = DataTable(id="suite-table", cursor_type="row", zebra_stripes=True)
            for key, label in (("n", "#"), ("method", "method"), ("preset", "preset"),
                               ("images", "images"), ("seed", "seed"), ("status", "status"),
                               ("acc", "accuracy"), ("time", "time")):
                table.add_column(label, key=key)
            yield table
            yield SweepPlot(id="suite-plot")
        yield KeysBar()

    def _default_options(self) -> str:
        choice = getattr(self.app, "dataset_choice", "auto")
        return f"dataset={choice}" if choice in ("digits", "mnist") else ""

    def on_mount(self) -> None:
        self.app.runs_changed.subscribe(self, self.on_runs_changed, immediate=True)
        self.app.suite_screen = self
        self.query_one("#sf-methods").tooltip = "comma-separated: tsne-gmm, vgg16, cnn"
        self.query_one("#sf-sizes").tooltip = ("numbers of images (seed suite: t-SNE + GMM's; "
                                               "add samples=N to options for the classifiers')")
        self.query_one("#sf-seeds").tooltip = "N seeds (0…N-1) or a list 0,7,9"
        self.query_one("#sf-vgg").tooltip = "VGG16 input size (32 to 224; the notebook's 224)"
        self.query_one("#sf-options").tooltip = ("job options for every member they fit, as "
                                                 "name=value: epochs=1 iterations=260 …; "
                                                 "presets=default,refined chooses presets")
        self.query_one("#suite-plot").display = False
        self.query_one("#suite-table").focus()
        self.set_interval(REDRAW_S, self._tick)
        self._status()
        self._want_plan()
        self.open_newest()

    def on_unmount(self) -> None:
        # The app is closing: interrupt the running member (recorded; the suite is resumable).
        if self.running:
            self.cancelling = True
            if self.listener is not None:
                self.listener.interrupt_worker()

    @on(Select.Changed, "#sf-suite")
    def _suite_changed(self, event: Select.Changed) -> None:
        if self._filling == event.value:   # set by opening a suite, not by the user
            self._filling = None
            return
        d = DEFAULTS.get(str(event.value))
        if d:
            self.query_one("#sf-sizes", Input).value = d["sizes"]
            self.query_one("#sf-seeds", Input).value = d["seeds"]
        self._want_plan()

    @on(Input.Changed)
    def _field_changed(self) -> None:
        self._want_plan()

    def on_runs_changed(self, _data=None) -> None:
        self._runs = None        # a run ended: the time estimates may change

    # -- building the spec -----------------------------------------------------------------
    def read_spec(self):
        """The SuiteSpec of the form (SpecError with a one-line reason)."""
        from mnist_tui.engine.suites.suite import suite_spec_from_text

        def val(wid: str) -> str | None:
            text = self.query_one(wid, Input).value.strip()
            return text or None

        given = parse_options(self.query_one("#sf-options", Input).value)
        data_dir = getattr(self.app, "data_dir", None)
        if data_dir and "data_dir" not in given and given.get("dataset") != "digits":
            given["data_dir"] = data_dir
        # presets=a,b in the options chooses the presets (as --presets does); by default
        # each method runs its suite's presets (t-SNE + GMM: default and refined)
        presets = given.pop("presets", None)
        return suite_spec_from_text(str(self.query_one("#sf-suite", Select).value),
                                    methods=val("#sf-methods"), sizes=val("#sf-sizes"),
                                    seeds=val("#sf-seeds"), vgg_input_size=val("#sf-vgg"),
                                    presets=presets, given=given)

    # -- planning (size, time, checks) -----------------------------------------------------
    def form_key(self) -> tuple:
        """The form's values as they stand (what a plan is for)."""
        return (str(self.query_one("#sf-suite", Select).value),
                *(self.query_one(f"#sf-{n}", Input).value
                  for n in ("methods", "sizes", "seeds", "vgg", "options")))

    def _want_plan(self) -> None:
        """Plan the form's suite PLAN_DELAY_S after its last change (in a thread worker)."""
        key = self.form_key()
        if key == self._plan_wanted:
            return
        self._plan_wanted = key
        if self._plan_timer is not None:
            self._plan_timer.stop()
        self._plan_timer = self.set_timer(PLAN_DELAY_S, self._plan_now)
        self._draw_plan()

    def _plan_now(self) -> None:
        from mnist_tui.engine.errors import MnistTuiError

        self._plan_timer = None
        key = self.form_key()
        try:
            spec = self.read_spec()
        except MnistTuiError as exc:
            self.plan, self.plan_for = exc, key
            self._draw_plan()
            return
        self._plan(key, spec)

    def past_runs(self) -> list:
        """The run store's runs (for time estimates), read at most every RUNS_MAX_AGE_S;
        called from workers."""
        cached = self._runs
        if cached is not None and time.monotonic() - cached[0] < RUNS_MAX_AGE_S:
            return cached[1]
        from mnist_tui.engine.runs.store import RunStore

        try:
            runs = RunStore(self.app.runs_dir).list()
        except OSError:
            runs = []
        self._runs = (time.monotonic(), runs)
        return runs

    def _make_plan(self, spec):
        from mnist_tui.engine.runs.preflight import Check, SuitePlan, plan_suite

        members = spec.members()
        try:
            return plan_suite(members, self.past_runs())
        except Exception as exc:  # noqa: BLE001 - a bug in a check must not stop the screen
            return SuitePlan(len(members), tuple(spec.methods), 0, 0, None, 0, [Check(
                "dataset", "note", f"could not check: {type(exc).__name__}: {exc}")])

    @work(thread=True, exclusive=True, group="suite-plan", exit_on_error=False)
    def _plan(self, key: tuple, spec) -> None:
        plan = self._make_plan(spec)
        try:
            self.app.call_from_thread(self._planned, key, plan)
        except Exception:  # noqa: BLE001 - the app is closing
            pass

    def _planned(self, key: tuple, plan) -> None:
        if key == self.form_key():
            self.plan, self.plan_for = plan, key
            self._draw_plan()

    def _draw_plan(self) -> None:
        """One line: the size and the time; then its problems and notes, a line each (cut at
        the edge: ctrl+s says the first problem whole)."""
        from mnist_tui.engine.errors import MnistTuiError

        lines = []
        plan = self.plan
        if self.plan_for != self.form_key() or plan is None:
            lines.append(Text("… sizing the suite and checking its data", "italic"))
        elif isinstance(plan, MnistTuiError):
            lines.append(plain(f"✘ {plan}", "bold red"))
        else:
            lines.append(plain(f"{plan.size_text()} · {plan.time_text()}"))
            for c in plan.checks:
                if c.level != "ok":
                    lines.append(plain(("✘ " if c.problem else "") + c.message,
                                       "bold red" if c.problem else "italic yellow"))
        text = Text("\n", no_wrap=True, overflow="ellipsis").join(lines[:4])
        self.query_one("#suite-plan", Static).update(text)

    # -- actions ---------------------------------------------------------------------------
    def action_start(self) -> None:
        """ctrl+s: once the field being edited has every key already typed into it."""
        self.after_typing(self._start)

    def _start(self) -> None:
        from mnist_tui.engine.errors import MnistTuiError

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
        self._plan_to_start(self.form_key(), spec)

    @work(thread=True, exclusive=True, group="suite-start", exit_on_error=False)
    def _plan_to_start(self, key: tuple, spec) -> None:
        plan = self._make_plan(spec)     # fresh: the disk and the network may have changed
        try:
            self.app.call_from_thread(self._start_planned, key, spec, plan)
        except Exception:  # noqa: BLE001 - the app is closing
            pass

    def _start_planned(self, key: tuple, spec, plan) -> None:
        """Start the planned suite: not with a problem, and after a yes when it is large."""
        self._planned(key, plan)
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

    def _launch(self, spec) -> None:
        self._starting = False
        if self.running or not self._may_begin():
            return
        self._begin()
        self._say(f"checking the data for {len(spec.members())} member runs…", "italic")
        self._run(spec, None)

    def action_resume(self) -> None:
        if self.running:
            self.app.notify("a suite is already running", severity="warning")
            return
        if self.folder is None:
            self.app.notify("open a past suite first (l)", severity="warning")
            return
        status = (self.report or {}).get("status")
        if status == "finished":
            self.app.notify("this suite finished: nothing to resume", severity="warning")
            return
        if not self._may_begin():
            return
        try:   # one runner per suite: not beside a --batch --resume (or another app) of it
            self.folder.lock.acquire()    # released by _run when it ends
        except MnistTuiError as exc:
            self._say(f"✘ not started: {exc}", "bold yellow")
            self.app.notify(str(exc), severity="warning", timeout=8)
            return
        self._begin()
        self._say(f"resuming {self.folder.suite_id}: finished members are reused…", "italic")
        self._run(None, self.folder)

    def action_cancel(self) -> None:
        """x / ctrl+x: cancel the running suite, after a yes (it is destructive)."""
        if not self.running:
            self._say("x cancels a running suite: none is running", "italic")
            self.app.notify("no suite is running", severity="warning")
            return
        if self.cancelling:
            return

        def answer(yes: bool | None) -> None:
            if not yes or not self.running or self.cancelling:
                return
            self.stop()
            self._say("cancelling: interrupting the running member (it records what it "
                      "has)…", "bold yellow")

        self.app.push_screen(ConfirmScreen(
            "Cancel the running suite?\n\nThe running member is interrupted and records what "
            "it has; r resumes the suite later (finished members are reused).",
            yes="Cancel suite", no="Keep running"), answer)

    def action_pick(self) -> None:
        self._list_suites()

    @work(thread=True, exclusive=True, group="suite-list", exit_on_error=False)
    def _list_suites(self) -> None:
        from mnist_tui.engine.suites.records import SuiteRecordError
        from mnist_tui.engine.suites.suite import SuiteFolder, reap_suites, scan_suites

        reap_suites(self.app.runs_dir)   # a suite whose runner died is not shown "running"
        rows = []
        ids, skipped = scan_suites(self.app.runs_dir)
        self.app.call_from_thread(self._show_skipped, skipped)
        for sid in ids:
            try:
                st = SuiteFolder(self.app.runs_dir, sid).read_status()
            except SuiteRecordError:
                status, done = "unreadable", ""
            else:
                status = st.status if st else "?"
                done = f"{st.finished}/{st.members}" if st and st.members is not None else ""
            rows.append({"suite_id": sid, "name": sid.split("-")[2] if sid.count("-") >= 3
                         else "?", "status": status, "done": done})
        self.app.call_from_thread(self._show_picker, rows, skipped)

    def _show_skipped(self, skipped: list) -> None:
        """Remember the suite folders a listing skipped: the status line names them."""
        self.skipped = list(skipped)
        self._status()

    def _show_picker(self, rows: list[dict], skipped: list | None = None) -> None:
        if not rows and not skipped:
            self.app.notify(f"no suites yet in {self.app.runs_dir / 'suites'}",
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
        from mnist_tui.engine.suites.suite import reap_suites, scan_suites

        reap_suites(self.app.runs_dir)
        ids, skipped = scan_suites(self.app.runs_dir)
        self.app.call_from_thread(self._show_skipped, skipped)
        if ids and not self.running and self.folder is None:
            self._open(ids[0])

    @work(thread=True, exclusive=True, group="suite-open", exit_on_error=False)
    def open_suite(self, suite_id: str) -> None:
        self._open(suite_id)

    def _open(self, suite_id: str) -> None:
        from mnist_tui.engine.suites.report import build_report
        from mnist_tui.engine.suites.suite import SuiteFolder

        try:
            folder = SuiteFolder.open(self.app.runs_dir, suite_id)
            report = build_report(folder)
        except Exception as exc:  # noqa: BLE001 - unreadable suite
            self.app.call_from_thread(self._say, f"✘ suite {suite_id}: {exc}", "bold red")
            return
        self.app.call_from_thread(self._opened, folder, report)

    def _opened(self, folder, report: dict) -> None:
        if self.running:
            return
        self.folder = folder
        self.message = None
        self._fill_form(report["suite"])
        self.show_report(report)

    def _fill_form(self, spec: dict) -> None:
        select = self.query_one("#sf-suite", Select)
        if select.value != spec["suite"]:
            self._filling = spec["suite"]
            select.value = spec["suite"]
        self.query_one("#sf-methods", Input).value = ",".join(spec["methods"])
        self.query_one("#sf-sizes", Input).value = ",".join(map(str, spec["sizes"]))
        self.query_one("#sf-seeds", Input).value = seeds_text(spec["seeds"])
        self.query_one("#sf-vgg", Input).value = str(spec["vgg_input_size"])
        options = [f"{k.replace('_', '-')}={v}" for k, v in spec.get("overrides", {}).items()]
        presets = spec.get("presets") or []
        if presets and tuple(presets) != SuiteSpec(name=spec["suite"],
                                                   methods=tuple(spec["methods"])).presets:
            options.append("presets=" + ",".join(presets))   # what the suite ran, not today's
        self.query_one("#sf-options", Input).value = " ".join(options)

    # -- running (the suite thread) --------------------------------------------------------
    def _may_begin(self) -> bool:
        """A suite times its members: it does not start beside a running job."""
        busy = self.app.manager.running()
        if busy:
            why = (f"{len(busy)} job(s) running: a suite started now would share the cores "
                   "(and its timings) with them. Wait, or cancel them on 3.")
            self._say(f"✘ not started: {why}", "bold yellow")
            self.app.notify(why, severity="warning", timeout=8)
        return not busy

    def _begin(self) -> None:
        self.running, self.cancelling, self.reused = True, False, 0
        self.live = None
        self.listener = SuiteListener(self)
        self.app.manager.hold("the running suite")

    def _ended(self) -> None:
        self.running, self.live = False, None
        self.app.manager.release()

    def stop(self) -> None:
        """Interrupt the running member (it records what it has); the suite then records itself
        interrupted, and r (or --resume) continues it later."""
        self.cancelling = True
        if self.listener is not None:
            self.listener.interrupt_worker()

    def kill_member(self) -> None:
        """The member ignored the interrupt: SIGKILL (recorded as a worker that died)."""
        if self.listener is not None:
            self.listener.kill_worker()

    @work(thread=True, exclusive=True, group="suite-run", exit_on_error=False)
    def _run(self, spec, folder) -> None:
        from mnist_tui.engine.suites.report import build_report
        from mnist_tui.engine.suites.report_files import write_report
        from mnist_tui.engine.suites.runner import preflight, run_suite
        from mnist_tui.engine.suites.suite import SuiteFolder

        call = self.app.call_from_thread
        resumed = folder           # its lock was taken by action_resume
        try:
            if folder is None:
                preflight(spec.members(), self._preflight_event)
                folder = SuiteFolder.create(self.app.runs_dir, spec)
            else:
                preflight(folder.spec().members(), self._preflight_event)
            self.folder = folder
            call(self.show_report, build_report(folder, "running"))
            if self.cancelling:
                folder.write_status("interrupted", members=len(folder.spec().members()),
                                    finished=0, failed=[])
                outcome_status = "interrupted"
            else:
                outcome_status = run_suite(folder, self.listener, nice=WORKER_NICE).status
            report = build_report(folder, outcome_status)
            paths = write_report(report, folder.path / "report.html")
        except Exception as exc:  # noqa: BLE001 - shown on the screen
            error = str(exc) if isinstance(exc, MnistTuiError) else f"{type(exc).__name__}: {exc}"
            try:
                call(self._failed, error)
            except Exception:  # noqa: BLE001 - the app is closing
                pass
            return
        finally:
            if resumed is not None:
                resumed.lock.release()
        try:
            call(self._done, report, outcome_status, paths)
        except Exception:  # noqa: BLE001
            pass

    def _preflight_event(self, ev) -> None:
        """The preflight's downloads (MNIST, the VGG16 weights) on the status line; called on
        the suite's thread, at most ~5 times a second."""
        if ev.type == "phase":
            text = f"{ev.name}: {ev.message}" if ev.message else ev.name
        elif ev.type == "progress" and ev.phase == "download":
            size = (f"{ev.step / 1e6:.1f}/{ev.total / 1e6:.1f} MB" if ev.total
                    else f"{ev.step / 1e6:.1f} MB")
            text = f"{ev.message}: {size}"
        else:
            return
        try:
            self.app.call_from_thread(self._say, text, "italic")
        except Exception:  # noqa: BLE001 - the app is closing
            pass

    def _failed(self, error: str) -> None:
        self._ended()
        self._say(f"✘ {error}", "bold red")
        self.app.notify(error, severity="error", timeout=10)

    def _done(self, report: dict, status: str, paths) -> None:
        self._ended()
        self.cancelling = False
        self.show_report(report)
        sid = report["suite_id"]
        if status == "interrupted":
            self._say(f"interrupted: r resumes it (or mnist-tui --batch --resume {sid})",
                      "bold yellow")
            self.app.notify(f"suite {sid} interrupted: r resumes it", severity="warning")
        else:
            try:
                shown = paths[0].relative_to(self.app.runs_dir)
            except ValueError:
                shown = paths[0]
            self._say(f"{status}" + (f" (reused {self.reused} finished run(s))"
                                     if self.reused else "") + f": report <runs>/{shown}",
                "bold green" if status == "finished" else "bold red")
            self.app.notify(f"suite {sid} {status}: report in {paths[0].parent}", timeout=8,
                            severity="information" if status == "finished" else "error")
        self.app.runs_changed.publish(None)

    # -- drawing ---------------------------------------------------------------------------
    def member_started(self, i: int, n: int) -> None:
        table = self.query_one("#suite-table", DataTable)
        key = str(i - 1)
        if key in table.rows:
            table.update_cell(key, "status", Text("running", style=STATE_STYLE.get(
                "running", "bold yellow")))
            table.move_cursor(row=i - 1, animate=False)
        self.dirty = True

    def show_report(self, report: dict) -> None:
        from mnist_tui.engine.suites.report_text import images_cell

        self.report = report
        table = self.query_one("#suite-table", DataTable)
        running = self.live["i"] - 1 if self.running and self.live else None
        table.clear()
        for i, r in enumerate(report["rows"]):
            status = r["status"]
            if i == running:
                status = "running"
            acc = f"{100 * r['accuracy']:.1f}%" if r["accuracy"] is not None else "—"
            # Text cells (a str cell is markup): methods and presets are read from disk.
            table.add_row(str(i + 1), plain(r["method"]), plain(r["preset"]),
                          plain(images_cell(r)), plain(r["seed"]),
                          plain(status, STATE_STYLE.get(status, "")),
                          acc, fmt_time(r["total_s"]) if status != "running" else "…",
                          key=str(i))
        if running is not None and running < table.row_count:
            table.move_cursor(row=running, animate=False)
        plot = self.query_one("#suite-plot", SweepPlot)
        sweep = report["suite"]["suite"] == "sweep"
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
        live = self.live
        if live is not None:
            table = self.query_one("#suite-table", DataTable)
            key = str(live["i"] - 1)
            if key in table.rows:
                table.update_cell(key, "time", fmt_time(time.monotonic() - live["start"]))

    def _say(self, text: str, style: str = "") -> None:
        """The status line's message: one line, which may name suite ids, paths and errors
        (shown as written, control characters as escapes)."""
        self.message = plain(text, style)
        self._status()

    def _status(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        below = Text()   # the second part wraps: an error must be read whole at 80 columns
        rep = self.report
        if self.folder is not None and rep is not None:
            rows = rep["rows"]
            done = sum(1 for r in rows if r["status"] == "finished")
            status = "running" if self.running else rep.get("status", "?")
            text.append(f"{visible(rep['suite']['suite'])} ", "bold")
            text.append(visible(self.folder.suite_id), "cyan")
            text.append(f" · {visible(status)}", STATE_STYLE.get(status, "bold"))
            text.append(f" · {done}/{len(rows)} members finished")
        else:
            text.append("No suite yet: set the options, ctrl+s starts; l lists past suites",
                        "italic")
        live = self.live
        if self.running and live is not None and not self.cancelling:
            below.append(f"[{live['i']}/{live['n']}] {visible(live['label'])}: ", "bold")
            below.append(visible(live.get("text", "")))
        elif self.message is not None:
            below.append_text(self.message)
        elif rep is not None and not self.running and rep.get("status") not in (
                "finished", None):
            below.append("not finished: r resumes it (finished members are reused)",
                         "bold yellow")
        elif rep is not None and not self.running and self.folder is not None \
                and (self.folder.path / "report.html").is_file():
            below.append(f"report: <runs>/suites/{visible(self.folder.suite_id)}/report.html "
                         "(and .md "
                         ".json .csv) · l opens another", "dim")
        parts = [text, below]
        if self.skipped:
            parts.append(skipped_text(self.skipped))
        self.query_one("#suite-status", Static).update(Group(*parts))
