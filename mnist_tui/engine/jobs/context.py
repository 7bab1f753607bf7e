"""What a running job is handed: a way to emit events, time its phases and save artifacts.

Jobs only talk to this object, so the same job code runs under the worker, in a test, or in a
notebook (with a list as the event sink).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mnist_tui.engine.jobs.events import Event, Log, Phase


class JobContext:
    """Event sink + phase timer + artifact folder + the partial result kept if the job is stopped."""

    def __init__(self, emit: Callable[[Event], None], run_dir: Path | None = None) -> None:
        self._emit = emit
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.t0 = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.partial: dict[str, Any] = {}          # e.g. history so far, kept on cancel
        self.current_phase = ""

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def emit(self, event: Event) -> None:
        event.t = round(self.elapsed(), 4)
        self._emit(event)

    def log(self, message: str, level: str = "info") -> None:
        self.emit(Log(message=message, level=level))

    @contextmanager
    def phase(self, name: str, message: str = "") -> Iterator[None]:
        """Time a phase; its seconds add to `timings[name]` even if it is interrupted."""
        self.current_phase = name
        self.emit(Phase(name=name, message=message))
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - start, 4)

    def artifact(self, name: str) -> Path | None:
        """Where to write an artifact, or None when running without a run folder."""
        return self.run_dir / name if self.run_dir is not None else None

    @contextmanager
    def writing_artifact(self, name: str) -> Iterator[Path | None]:
        """A temporary path beside artifact `name` (same suffix, so numpy and Keras keep it) that
        becomes `name` only once the block has written it whole: a signal or a full disk never
        leaves a torn model.keras or predictions.npz for Results to trip over. Yields None
        without a run folder."""
        final = self.artifact(name)
        if final is None:
            yield None
            return
        tmp = final.with_name(f".{final.stem}.partial{final.suffix}")
        try:
            yield tmp
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                tmp.unlink()
