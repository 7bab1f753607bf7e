"""Typed messages between the job manager, the data loaders and the screens.

Job events arrive far faster than a slow SSH link can redraw. `JobEvent.can_replace` lets a
newer progress/snapshot message of the same job swallow an older one still in the queue, so a
backlog never builds (toolong's pattern); everything else (phases, epochs, logs) is kept, and the
job's model (`jobs.Job`) has already recorded every event before the message is posted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

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
