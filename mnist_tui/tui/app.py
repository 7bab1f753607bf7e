"""The application: five screens (modes) over one job manager, one run store and one dataset.

`create_app` is the factory shared by the CLI (`run_app`) and the tests (posting's pattern). The
first frame must come fast: the dataset loads in a thread after mount, the other screens are
built the first time they are shown, and nothing heavy is imported here (no scikit-learn, never
TensorFlow: those live in the worker processes).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.screen import Screen
from textual.signal import Signal

from mnist_tui.engine.runs.store import RunStore
from mnist_tui.tui.heap import settle_heap
from mnist_tui.tui.jobs import Job, JobManager
from mnist_tui.tui.messages import CompareRuns, DatasetLoaded, JobEvent, JobsChanged, OpenRun

if TYPE_CHECKING:
    from textual.content import Content
    from textual.notifications import SeverityLevel
    from textual.widget import AwaitMount

    from mnist_tui.engine.data.datasets import Dataset
    from mnist_tui.engine.data.stats import DatasetStats
    from mnist_tui.engine.runs.records import RunMeta
    from mnist_tui.engine.suites.session import SuiteSession
    from mnist_tui.tui.host import AppState

MIN_WIDTH, MIN_HEIGHT = 64, 20
TERMINAL = ("finished", "failed", "cancelled", "interrupted")


SCREEN_CLASSES = {
    "dataset": "mnist_tui.tui.screens.dataset:DatasetScreen",
    "launch": "mnist_tui.tui.screens.launch:LaunchScreen",
    "monitor": "mnist_tui.tui.screens.monitor:MonitorScreen",
    "results": "mnist_tui.tui.screens.results:ResultsScreen",
    "runs": "mnist_tui.tui.screens.runs:RunsScreen",
    "suites": "mnist_tui.tui.screens.suites:SuitesScreen",
}


def screen_class(mode: str) -> type[Screen[Any]]:
    """A screen's class, imported on first use (keeps start-up imports small)."""
    import pkgutil

    cls = pkgutil.resolve_name(SCREEN_CLASSES[mode])
    assert isinstance(cls, type) and issubclass(cls, Screen), SCREEN_CLASSES[mode]
    return cls


SCREENS = (("dataset", "1", "Dataset"), ("launch", "2", "Launch"), ("monitor", "3", "Monitor"),
           ("results", "4", "Results"), ("runs", "5", "Runs"), ("suites", "6", "Suites"))


def build_screen(mode: str) -> Screen[Any]:
    """A mode's screen, named in the header by its key and name ("mnist-tui — 5 Runs")."""
    screen = screen_class(mode)()
    screen.sub_title = next(f"{key} {label}" for m, key, label in SCREENS if m == mode)
    return screen


class MnistApp(App[int]):
    """mnist-tui: watch digit recognisers train, then compare them."""

    TITLE = "mnist-tui"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        mode: partial(build_screen, mode) for mode in SCREEN_CLASSES}
    # The screen keys are priority bindings: they are decided on the app's queue in the order
    # the keys came, before the focused widget sees them; a text field takes them only while it
    # is being edited (widgets/fields.py), and a modal screen keeps them (check_action).
    BINDINGS = [
        *(Binding(key, f"show('{mode}')", label, key_display=key, priority=True)
          for mode, key, label in SCREENS),
        Binding("question_mark", "help", "Keys", key_display="?", priority=True),
        Binding("q", "quit_app", "Quit", priority=True),
        Binding("ctrl+q,ctrl+c", "quit_anywhere", "Quit", show=False, priority=True),
    ]

    def __init__(self, *, runs_dir: Path, data_dir: str | None = None, dataset: str = "auto",
                 max_running: int = 1, start_mode: str = "dataset",
                 load_data: bool = True, clock: Callable[[], float] | None = None) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.data_dir = data_dir
        self.dataset_choice = "mnist" if data_dir and dataset == "auto" else dataset
        self.store = RunStore(self.runs_dir)
        kwargs = {"clock": clock} if clock is not None else {}
        self.manager = JobManager(self.runs_dir, self._job_notify, max_running, **kwargs)
        self.start_mode = start_mode
        self.load_data = load_data
        self.dataset: Dataset | None = None        # once loaded
        self.stats: DatasetStats | None = None     # once loaded
        self.dataset_error: str | None = None
        self.dataset_loading = False
        # Half-blocks draw a digit with colours alone: without colour, shade characters do.
        self.plain_digits = self.no_color and os.environ.get("MNIST_TUI_SHADES", "1") != "0"
        self.results_run: str | None = None   # what Results shows
        self._built_modes: set[str] = set()     # see delay_update
        self._switching_to: str | None = None
        # What changed, for every screen already built (current or not) that subscribed.
        self.dataset_changed: Signal[None] = Signal(self, "dataset-changed")
        self.job_changed: Signal[tuple[str, str]] = Signal(self, "job-changed")  # (id, kind)
        self.runs_changed: Signal[None] = Signal(self, "runs-changed")
        self.results_run_changed: Signal[str | None] = Signal(self, "results-run-changed")
        self.suite_session: SuiteSession | None = None   # the suite started last (Suites)
        self._too_small = False

    # -- lifecycle -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        return iter(())

    def on_mount(self) -> None:
        self.switch_mode(self.start_mode)

    def on_ready(self) -> None:
        """The first frame is on screen (Textual's Ready): start the background work.
        Threads that import numpy/scikit-learn hold the GIL for long stretches; a timer set at
        mount fired before that frame on a busy machine, and slowed it."""
        self._start_background()

    def _start_background(self) -> None:
        settle_heap()
        self.reap_runs()
        if self.load_data:
            self.load_dataset()
        self.set_interval(LIVE_RUNS_EVERY, self.reap_runs)

    @work(thread=True, exclusive=True, group="reap", exit_on_error=False)
    def reap_runs(self) -> None:
        """Runs whose worker died unseen (killed, machine restarted) become interrupted; live
        runs this app does not follow yet (a previous TUI's, another TUI's) are re-attached."""
        try:
            self.store.reap()
            live = [(r.run_id, r.spec, r.meta) for r in self.store.live() if r.meta is not None]
        except OSError:
            return
        if live:
            self.call_from_thread(self._attach_live, live)

    def _attach_live(self, live: list[tuple[str, dict[str, Any], RunMeta]]) -> None:
        """Follow them in the Monitor; announce only the jobs left running by a window that is
        gone (another live window's, a batch run's or a suite's jobs are theirs: the Monitor
        names their owner, and a suite's members would toast at every member)."""
        from mnist_tui.engine.runs.owner import owner_alive

        suite = self.running_suite()
        own_suite = suite.folder.suite_id if suite is not None and suite.folder else None
        attached = [job for run_id, spec, meta in live
                    if (job := self.manager.attach(run_id, spec, meta, own_suite)) is not None]
        orphans = [job for job in attached if not owner_alive(job.owner)]
        if orphans:
            self.notify(f"re-attached to {len(orphans)} job(s) left running: 3 Monitor shows "
                        "them", timeout=6)

    @work(thread=True, exclusive=True, group="dataset", exit_on_error=False)
    def load_dataset(self, dataset: str | None = None) -> None:
        """Load the dataset and its statistics off the UI thread (scikit-learn stays in here)."""
        from mnist_tui.engine.data.sources import load_dataset
        from mnist_tui.engine.data.stats import dataset_stats

        self.dataset_loading = True
        try:
            ds = load_dataset(dataset or self.dataset_choice, self.data_dir)
            stats = dataset_stats(ds)
        except Exception as exc:  # noqa: BLE001 - shown on the Dataset screen
            self.post_message(DatasetLoaded(error=f"{type(exc).__name__}: {exc}"))
            return
        self.dataset = ds
        self.post_message(DatasetLoaded(stats=stats))

    def on_dataset_loaded(self, msg: DatasetLoaded) -> None:
        self.dataset_loading = False
        if msg.error:
            self.dataset_error = msg.error
        else:
            self.stats, self.dataset_error = msg.stats, None
            settle_heap()
            if msg.stats.note:
                self.notify("MNIST could not be had: the bundled 8×8 digits are shown "
                            "(1 Dataset says why; r retries)", severity="warning", timeout=6)
        self.dataset_changed.publish(None)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every notification of the app, shown as written: markup off (a `[/]` in a run id
        or a path is text, not a MarkupError that ends the app) and control characters as
        escapes (tui/safe.py). `markup` is accepted and ignored: no caller needs it."""
        from mnist_tui.tui.safe import notice

        super().notify(notice(message), title=notice(title), severity=severity,
                       timeout=timeout, markup=False)

    # -- jobs ------------------------------------------------------------------------------
    def _job_notify(self, job: Job, what: str) -> None:
        """Called by the manager on the event loop: turn it into a message."""
        if what == "state":
            self.post_message(JobsChanged(job.job_id, job.state))
        else:
            self.post_message(JobEvent(job.job_id, what))

    def on_job_event(self, msg: JobEvent) -> None:
        self.job_changed.publish((msg.job_id, msg.kind))

    def on_jobs_changed(self, msg: JobsChanged) -> None:
        job = self.manager.jobs.get(msg.job_id)
        if job is not None and msg.state in TERMINAL and job.ended_at is not None \
                and not job.announced:
            job.announced = True
            self._announce(job)
        self.job_changed.publish((msg.job_id, "state"))
        if msg.state in TERMINAL:
            self.runs_changed.publish(None)

    def _announce(self, job: Job) -> None:
        from mnist_tui.engine.present import percent
        from mnist_tui.tui.summary import main_accuracy

        if job.state == "finished":
            acc = main_accuracy(job.result)
            self.notify(f"{job.job} {job.job_id[-6:]} finished"
                        + (f": accuracy {percent(acc)}" if acc is not None else "")
                        + " — press 4 for its results", timeout=6)
        elif job.state == "failed":
            first = (job.error or "no error message").splitlines()[0]
            self.notify(f"{job.job} {job.job_id[-6:]} failed: {first}", severity="error",
                        timeout=10)
        else:
            self.notify(f"{job.job} {job.job_id[-6:]} {job.state}", severity="warning")

    # -- navigation ------------------------------------------------------------------------
    def switch_mode(self, mode: str) -> AwaitMount:
        """Textual's switch; coming back to a screen never lands in one of its text fields."""
        from mnist_tui.tui.widgets.fields import leave_fields

        if mode != self.current_mode:
            leave_fields(self.screen)
        self._switching_to = mode
        try:
            return super().switch_mode(mode)
        finally:
            self._switching_to = None
            self._built_modes.add(mode)

    def delay_update(self, delay: float = 0.05) -> None:
        """No hold for a screen shown before.

        `App.switch_mode` calls `delay_update()`, which holds every frame back for 50 ms to hide
        a new screen being composed. A screen shown before has nothing to hide, and those 50 ms
        were most of a screen switch's latency while a CNN trains (benchmarks/tui_latency.py: p50
        84 → 25 ms). The first visit to a screen keeps the hold, except the first screen's at
        launch: nothing is on the terminal yet to hide it from, and the hold delayed the first
        frame.
        """
        if self._built_modes and self._switching_to not in self._built_modes:
            super().delay_update(delay)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The single-key bindings (priority) leave a modal screen its own keys (ctrl+q is
        `quit_anywhere`; "q quits" on the too-small notice)."""
        if action in ("show", "help", "quit_app") and self.screen.is_modal:
            return action == "quit_app" and type(self.screen).__name__ == "TooSmallScreen"
        return True

    def action_quit_anywhere(self) -> None:
        self.action_quit_app()

    def format_title(self, title: str, sub_title: str) -> Content:
        """The header: the app's name, then the current screen's key and name in bold (the
        bold still shows under NO_COLOR; Textual's default dims it)."""
        from textual.content import Content

        if not sub_title:
            return Content(title)
        return Content.assemble(title, (" — ", "dim"), (sub_title, "bold"))

    def action_show(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    @on(OpenRun)
    def open_run(self, msg: OpenRun) -> None:
        self.results_run = msg.run_id
        self.switch_mode("results")
        self.results_run_changed.publish(self.results_run)

    @on(CompareRuns)
    def compare_runs(self, msg: CompareRuns) -> None:
        from mnist_tui.tui.screens.compare import CompareScreen

        self.push_screen(CompareScreen(msg.run_ids))

    def action_help(self) -> None:
        from mnist_tui.tui.dialogs import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.BINDINGS, [(label, screen_class(mode))
                                                        for mode, _, label in SCREENS]))

    def on_resize(self, event: Resize) -> None:
        self.call_after_refresh(self._check_size)

    def _check_size(self) -> None:
        w, h = self.size
        small = w < MIN_WIDTH or h < MIN_HEIGHT
        if not small and not self.screen.is_modal:
            return      # the usual case, at every launch: no dialogs (nor pydantic) imported
        from mnist_tui.tui.dialogs import TooSmallScreen

        if small and not isinstance(self.screen, TooSmallScreen):
            self.push_screen(TooSmallScreen(MIN_WIDTH, MIN_HEIGHT))
        elif not small and isinstance(self.screen, TooSmallScreen):
            self.pop_screen()

    # -- quitting --------------------------------------------------------------------------
    def running_suite(self) -> SuiteSession | None:
        """The suite session while it runs, else None."""
        session = self.suite_session
        return session if session is not None and session.running else None

    def action_quit_app(self) -> None:
        """Quit; with work this window started, ask (leave it running, stop it, or stay).
        Jobs it only follows are named and go on either way (`tui/quitting.py`)."""
        from mnist_tui.tui.dialogs import QuitScreen
        from mnist_tui.tui.quitting import quit_question

        suite = self.running_suite()
        suite_name = None
        if suite is not None:
            suite_name = suite.folder.suite_id if suite.folder is not None else "(starting)"
        question = quit_question(self.manager.started_here(), self.manager.others(),
                                 suite_name)
        if question is None:
            self._exit_listing([])
            return

        def answer(choice: str | None) -> None:
            if choice == "leave":
                self._leave_and_exit()
            elif choice == "stop":
                self.notify("stopping…", timeout=30)
                self._stop_and_exit()

        self.push_screen(QuitScreen(question), answer)

    def _exit_listing(self, left: list[Job]) -> None:
        """Exit, printing what still runs without the app (`left`: this window's jobs left
        running; the others it followed go on anyway)."""
        from mnist_tui.tui.quitting import exit_message

        going_on = left + [j for j in self.manager.others() if j not in left]
        self.exit(0, message=exit_message(going_on, str(self.runs_dir)))

    @work(exclusive=True, group="quit")
    async def _leave_and_exit(self) -> None:
        from mnist_tui.engine.runs.launch import GRACE_SECONDS

        left = [j for j in self.manager.running() if j.ours]
        self.manager.leave()
        suite = self.running_suite()
        if suite is not None:      # a suite runs in this process: it cannot outlive it
            suite.cancel()
            if not await self._suite_ended(GRACE_SECONDS + 5):
                suite.kill()
                await self._suite_ended(5)
        self._exit_listing(left)

    @work(exclusive=True, group="quit")
    async def _stop_and_exit(self) -> None:
        from mnist_tui.engine.runs.launch import GRACE_SECONDS

        suite = self.running_suite()
        if suite is not None:
            suite.cancel()
        await self.manager.shutdown()
        # The suite runs in a thread the interpreter waits for at exit: see it end.
        if suite is not None and not await self._suite_ended(GRACE_SECONDS + 5):
            suite.kill()
            await self._suite_ended(5)
        self._exit_listing([])

    async def _suite_ended(self, seconds: float) -> bool:
        import asyncio

        for _ in range(int(seconds * 10)):
            if self.running_suite() is None:
                return True
            await asyncio.sleep(0.1)
        return self.running_suite() is None


LIVE_RUNS_EVERY = 3.0   # seconds between looks for runs started elsewhere (another TUI)


def create_app(*, runs_dir: Path | str | None = None, data_dir: str | None = None,
               dataset: str = "auto", **kwargs: Any) -> MnistApp:
    """The app, configured: shared by `run_app` and the tests."""
    if runs_dir is None:
        from mnist_tui.engine.runs.store import default_runs_dir

        runs_dir = default_runs_dir()
    parallel = int(os.environ.get("MNIST_TUI_PARALLEL", "1") or 1)
    kwargs.setdefault("max_running", parallel)
    return MnistApp(runs_dir=Path(runs_dir), data_dir=data_dir, dataset=dataset, **kwargs)


def run_app(data_dir: str | None = None, runs_dir: Path | str | None = None) -> int:
    """Entry point of `mnist-tui` with no arguments; returns the exit code."""
    app = create_app(runs_dir=runs_dir, data_dir=data_dir)
    app.run()
    return app.return_code or 0


if TYPE_CHECKING:
    def _is_app_state(app: MnistApp) -> AppState:
        """Checked by mypy only: `MnistApp` is the `AppState` the screens see (tui/host.py)."""
        return app
