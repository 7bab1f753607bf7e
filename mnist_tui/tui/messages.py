"""Typed messages between the job manager, the data loaders and the screens.

Job events arrive far faster than a slow SSH link can redraw. `JobEvent.can_replace` lets a
newer progress/snapshot message of the same job swallow an older one still in the queue, so a
backlog never builds (toolong's pattern); everything else (phases, epochs, logs) is kept, and the
job's model (`jobs.Job`) has already recorded every event before the message is posted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from mnist_tui.engine.jobs.events import Event
    from mnist_tui.engine.jobs.results import Placement, RunResult
    from mnist_tui.engine.suites.folder import SuiteFolder
    from mnist_tui.engine.suites.report_model import SuiteReport
    from mnist_tui.engine.suites.session import SuiteResult

REPLACEABLE = frozenset({"progress", "snapshot"})


@dataclass
class JobEvent(Message):
    """A job's model changed because of one event (`kind` is the event type)."""

    job_id: str
    kind: str

    def can_replace(self, message: Message) -> bool:
        return (isinstance(message, JobEvent) and message.job_id == self.job_id
                and message.kind in REPLACEABLE and self.kind in REPLACEABLE)


@dataclass
class JobsChanged(Message):
    """A job was queued, started, or ended (the job list changed)."""

    job_id: str
    state: str


@dataclass
class DatasetLoaded(Message):
    """The app's dataset (and its statistics) finished loading, or failed (`error`)."""

    stats: Any = None
    error: str | None = None


@dataclass
class OpenRun(Message):
    """Ask the app to show a run on the Results screen."""

    run_id: str



@dataclass
class CompareRuns(Message):
    """Ask the app to show runs side by side (the Compare screen), in this order."""

    run_ids: list[str]


# -- a running suite (posted by `suite_listener.SuiteMessages` from the suite's thread) -------

@dataclass
class SuiteNote(Message):
    """A line for the status line before the members run (the preflight's downloads)."""

    bubble = False
    text: str


@dataclass
class SuiteReady(Message):
    """The suite's folder exists (created or resumed) and its report so far."""

    bubble = False
    folder: SuiteFolder
    report: SuiteReport | None


@dataclass
class SuiteMemberStarted(Message):
    """A member's worker is starting (`index` from 1; `started`: time.monotonic())."""

    bubble = False
    index: int
    total: int
    label: str
    started: float


@dataclass
class SuiteMemberPlaced(Message):
    """A started member's run id and where it runs (again after a retry on another node);
    `spec`: its job spec (the Monitor follows it as a job)."""

    bubble = False
    index: int
    run_id: str
    spec: dict[str, Any]
    placement: Placement


@dataclass
class SuiteMemberEvent(Message):
    """An event of a running member (`index` from 1): every one (the Monitor folds them)."""

    bubble = False
    index: int
    event: Event

    def can_replace(self, message: Message) -> bool:
        return (isinstance(message, SuiteMemberEvent) and message.index == self.index
                and message.event.type == self.event.type and self.event.type in REPLACEABLE)


@dataclass
class SuiteMemberEnded(Message):
    """A member ended (`index`, its `result`) or was reused (`reused`): the report as it
    stands now."""

    bubble = False
    report: SuiteReport | None
    reused: bool = False
    index: int | None = None
    result: RunResult | None = None


@dataclass
class SuiteEnded(Message):
    """The suite ended (finished, failed, interrupted) and its report files are written."""

    bubble = False
    result: SuiteResult


@dataclass
class SuiteStopped(Message):
    """The suite stopped on an error (`error`: one line for people)."""

    bubble = False
    error: str
