"""The Suites screen's plan line: the form's suite sized and checked before it starts.

Shortly after the form changes (`PLAN_DELAY_S`) the suite is planned in a thread worker
(`engine.suites.plan.plan_suite`): its size (members × images), a rough time from past runs,
and what would fail every member at once. One line says the size and the time; its problems
and notes follow, a line each (cut at the edge: ctrl+s says the first problem whole).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.widgets import Static

from mnist_tui.engine.errors import MnistTuiError
from mnist_tui.tui.safe import plain

if TYPE_CHECKING:
    from mnist_tui.engine.runs.store import RunInfo
    from mnist_tui.engine.suites.plan import SuitePlan
    from mnist_tui.engine.suites.spec import SuiteSpec

PLAN_DELAY_S = 0.25     # the form settles this long before the suite is planned
RUNS_MAX_AGE_S = 20.0   # past runs (for time estimates) are read again after this long

FormKey = tuple[str, ...]


class SuitePlanLine(Static):
    """The plan of the form's suite; `form_key` and `read_spec` read the form."""

    def __init__(self, runs_dir: Path, form_key: Callable[[], FormKey],
                 read_spec: Callable[[], SuiteSpec], *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.runs_dir = runs_dir
        self.form_key = form_key
        self.read_spec = read_spec
        self.plan: SuitePlan | MnistTuiError | None = None   # None: none yet
        self.plan_for: FormKey | None = None                 # the form values `plan` is for
        self._wanted: FormKey | None = None
        self._timer: Any = None
        self._runs: tuple[float, list[RunInfo]] | None = None   # (when read, RunInfo list)

    def forget_runs(self) -> None:
        """A run ended (a suite's member too): the past runs are read again and the suite
        planned again, so a finished member's time makes the estimate."""
        self._runs = None
        self._wanted = None
        if self.is_attached:
            self.want()

    def want(self) -> None:
        """Plan the form's suite PLAN_DELAY_S after its last change (in a thread worker)."""
        key = self.form_key()
        if key == self._wanted:
            return
        self._wanted = key
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(PLAN_DELAY_S, self._plan_now)
        self.draw()

    def _plan_now(self) -> None:
        self._timer = None
        key = self.form_key()
        try:
            spec = self.read_spec()
        except MnistTuiError as exc:
            self.plan, self.plan_for = exc, key
            self.draw()
            return
        self._plan(key, spec)

    def past_runs(self) -> list[RunInfo]:
        """The run store's runs (for time estimates), read at most every RUNS_MAX_AGE_S;
        called from workers."""
        cached = self._runs
        if cached is not None and time.monotonic() - cached[0] < RUNS_MAX_AGE_S:
            return cached[1]
        from mnist_tui.engine.runs.store import RunStore

        try:
            runs = RunStore(self.runs_dir).list()
        except OSError:
            runs = []
        self._runs = (time.monotonic(), runs)
        return runs

    def make_plan(self, spec: SuiteSpec) -> SuitePlan:
        """The suite's plan, now (called from workers)."""
        from mnist_tui.engine.runs.preflight import Check
        from mnist_tui.engine.suites.plan import SuitePlan, plan_suite

        members = spec.members()
        try:
            return plan_suite(members, self.past_runs())
        except Exception as exc:  # noqa: BLE001 - a bug in a check must not stop the screen
            return SuitePlan(len(members), tuple(spec.methods), 0, 0, None, 0, [Check(
                "dataset", "note", f"could not check: {type(exc).__name__}: {exc}")])

    @work(thread=True, exclusive=True, group="suite-plan", exit_on_error=False)
    def _plan(self, key: FormKey, spec: SuiteSpec) -> None:
        plan = self.make_plan(spec)
        try:
            self.app.call_from_thread(self.planned, key, plan)
        except Exception:  # noqa: BLE001 - the app is closing
            pass

    def planned(self, key: FormKey, plan: SuitePlan) -> None:
        if key == self.form_key():
            self.plan, self.plan_for = plan, key
            self.draw()

    def draw(self) -> None:
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
        self.update(Text("\n", no_wrap=True, overflow="ellipsis").join(lines[:4]))
