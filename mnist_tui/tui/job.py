"""One job as the Monitor shows it (`Job`): its run's progress, this window's view of its worker,
and whose it is. Plain data: the job manager (`tui/jobs.py`) fills it, the screens read it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnist_tui.engine.jobs.events import TERMINAL_TYPES, Event, Started
from mnist_tui.engine.runs.owner import owner_alive
from mnist_tui.engine.runs.progress import RunProgress

if TYPE_CHECKING:
    from mnist_tui.engine.jobs.results import Placement
    from mnist_tui.engine.runs.records import RunOwner

ACTIVE = ("queued", "starting", "running", "stopping")


@dataclass
class Job(RunProgress):
    """One job as the Monitor shows it: its run's progress, folded event by event by the same
    model a replayed run uses (`engine/runs/progress`), and this app's view of its worker."""

    job_id: str                  # the run id it will have
    spec: dict[str, Any]
    run_dir: Path
    state: str = "queued"        # queued starting running stopping finished failed cancelled interrupted
    queued_at: float = 0.0
    announced: bool = False       # its end was notified once
    pid: int | None = None
    pid_start: int | None = None  # the worker's kernel start time (re-attached jobs)
    attached: bool = False        # followed from its run folder, not started by this app
    rerun_of: str | None = None   # the run whose spec this job runs again (Runs → r)
    member: bool = False          # a member of this window's suite (fed by its listener)
    placement: Placement | None = None   # a member's: where it runs
    owner: RunOwner | None = None        # an attached job's: who started its worker

    @property
    def ours(self) -> bool:
        """Started by this window (its queue): what its quit counts and may stop."""
        return not self.attached and not self.member

    def owned_by(self) -> str:
        """Who runs it, for the Monitor and the quit dialog: `this window`, `this window's
        suite`, `suite … (pid 9)`, `a window (pid 4242)`, `left running (its window is gone)`."""
        if self.member:
            return "this window's suite"
        if not self.attached:
            return "this window"
        if self.owner is not None and owner_alive(self.owner):
            return self.owner.describe()
        return "left running (its window is gone)"

    def __post_init__(self) -> None:
        self.job = self.spec.get("job", "?")
        epochs = self.spec.get("epochs")
        self.planned_epochs = epochs if isinstance(epochs, int) else None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def fraction(self) -> float | None:
        """How far the job is: 1 once finished, else its progress's share (None: this phase
        has no measure of progress)."""
        return 1.0 if self.state == "finished" else self.share()

    def phase_elapsed(self, now: float) -> float | None:
        """Seconds in the current phase (None once the job has ended)."""
        return self.in_phase(now) if self.active else None

    def job_eta(self) -> float | None:
        """Seconds left while the job runs (`RunProgress.remaining`); None queued or ended."""
        if not self.active or self.state == "queued":
            return None
        return self.remaining()

    def apply(self, ev: Event) -> None:
        """Fold one event in; the worker's pid and the job's state follow its events."""
        super().apply(ev)
        if isinstance(ev, Started):
            self.pid = ev.pid or self.pid
            if self.state == "starting":
                self.state = "running"
        elif ev.type in TERMINAL_TYPES:
            self.state = ev.type
