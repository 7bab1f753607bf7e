"""The events a job emits, and their JSON-lines form.

A job never knows who watches it: the worker prints these as one JSON object per line, the
batch front end turns them into progress lines, the TUI into widget updates, and the run folder
keeps them in `events.jsonl` so a finished run can be replayed.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

from mnist_tui.engine.jobs.jsonvalues import dumps

if TYPE_CHECKING:   # pydantic is imported with the first result (the TUI's first frame has none)
    from mnist_tui.engine.jobs.results import RunResult


@dataclass
class Event:
    """Base: `t` is seconds since the job started."""

    type: ClassVar[str] = "event"
    t: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}

    def to_json(self) -> str:
        return dumps(self.to_dict())


@dataclass
class Started(Event):
    type: ClassVar[str] = "started"
    job: str = ""
    run_id: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    pid: int = 0


@dataclass
class Phase(Event):
    """A new phase began (loading, pca, tsne, gmm, feature_extraction, training, evaluation…)."""

    type: ClassVar[str] = "phase"
    name: str = ""
    message: str = ""


@dataclass
class Progress(Event):
    """Progress inside a phase: `step` of `total` (iterations, batches, bytes, inits).

    `curve_at`, while a classifier trains: where these `metrics` (the epoch's running loss and
    accuracy) sit on the per-step learning curve, in epochs done (2.25: a quarter into the third
    epoch). None: this progress is no point of it (every event before step curves had none)."""

    type: ClassVar[str] = "progress"
    phase: str = ""
    step: int = 0
    total: int | None = None
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    eta: float | None = None
    curve_at: float | None = None


@dataclass
class Epoch(Event):
    """One finished training epoch with its metrics (loss, accuracy, val_loss, val_accuracy…)."""

    type: ClassVar[str] = "epoch"
    epoch: int = 0
    epochs: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Snapshot(Event):
    """A down-sampled embedding (for a live scatter plot), coloured by `labels`."""

    type: ClassVar[str] = "snapshot"
    iteration: int = 0
    points: list[list[float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)


@dataclass
class ModelSummary(Event):
    type: ClassVar[str] = "model_summary"
    # [{"name", "class", "output_shape", "params", "trainable"}]
    layers: list[dict[str, Any]] = field(default_factory=list)
    trainable_params: int = 0
    frozen_params: int = 0


@dataclass
class Log(Event):
    """A line for people: `level` is info, warning or error."""

    type: ClassVar[str] = "log"
    message: str = ""
    level: str = "info"


@dataclass
class TerminalEvent(Event):
    """The last event of a run: it carries the run's typed result (the result record's record).

    `result` is None only where no record exists: an input error before the run had one."""

    result: RunResult | None = None

    def to_dict(self) -> dict[str, Any]:
        from mnist_tui.engine.jobs.results import RunResult

        out: dict[str, Any] = {"type": self.type}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if isinstance(value, RunResult) else value
        if self.result is None:
            out["result"] = {}
        return out


@dataclass
class Finished(TerminalEvent):
    type: ClassVar[str] = "finished"


@dataclass
class Failed(TerminalEvent):
    """The job stopped on an error. `kind` is "input" (the user can fix it: exit 2) or "job" (exit 3)."""

    type: ClassVar[str] = "failed"
    error: str = ""
    kind: str = "job"


@dataclass
class Cancelled(TerminalEvent):
    type: ClassVar[str] = "cancelled"
    reason: str = ""


@dataclass
class Interrupted(TerminalEvent):
    type: ClassVar[str] = "interrupted"
    reason: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (Started, Phase, Progress, Epoch, Snapshot, ModelSummary, Log, Finished, Failed,
                Cancelled, Interrupted)
}
TERMINAL_TYPES = frozenset({"finished", "failed", "cancelled", "interrupted"})


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event; unknown keys are ignored so newer workers can add fields."""
    cls = EVENT_TYPES.get(data.get("type", ""))
    if cls is None:
        raise ValueError(f"unknown event type {data.get('type')!r}")
    names = {f.name for f in fields(cls)}
    values = {k: v for k, v in data.items() if k in names}
    if issubclass(cls, TerminalEvent):
        from mnist_tui.engine.jobs.results import RunResult

        result = values.get("result")
        values["result"] = RunResult.from_dict(result) if isinstance(result, dict) and result \
            else None
    return cls(**values)


def event_from_json(line: str) -> Event:
    return event_from_dict(json.loads(line))


class Throttle:
    """True at most `per_second` times a second (and always on `force`): keeps progress cheap."""

    def __init__(self, per_second: float = 4.0) -> None:
        self.interval = 1.0 / per_second
        self._last = float("-inf")

    def ready(self, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._last = now
            return True
        return False
