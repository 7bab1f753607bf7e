"""The batch front end's live bar on a terminal, drawn by `rich.progress`.

Why Rich: it already draws the TUI's text, and its Progress keeps one live area at the bottom of
the terminal (redrawn in place, fitted to the width, NO_COLOR respected) while finished lines
print above it — what the hand-written carriage-return status line did, without its escape codes
and width arithmetic. The bar shows the current phase (its own ETA, from the job's events, not
Rich's guess) and, under it, the worker's system figures. Only used on a terminal: logs and pipes
get plain lines (batch.Reporter).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TextIO

from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.text import Text

from mnist_tui.engine.text import visible


class _PhaseProgress(Progress):
    """A Progress whose live area ends with the system line."""

    system = ""

    def get_renderables(self) -> Iterator[RenderableType]:
        yield self.make_tasks_table([t for t in self.tasks if t.visible])
        if self.system:
            yield Text(self.system, no_wrap=True, overflow="ellipsis")


class LiveBar:
    """One task per phase (only the current one shown); lines print above the bar."""

    def __init__(self, stream: TextIO) -> None:
        self.console = Console(file=stream, force_terminal=True, highlight=False,
                               soft_wrap=True)
        self.progress = _PhaseProgress(
            # markup off: a phase's message may quote a folder name holding `[bold]`
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(bar_width=16),
            TextColumn("{task.fields[count]}", markup=False),
            TextColumn("{task.fields[extra]}", style="dim", markup=False),
            console=self.console, transient=True, auto_refresh=True, refresh_per_second=4,
            redirect_stdout=False, redirect_stderr=False, expand=False)
        self.tasks: dict[str, TaskID] = {}
        self.started = False

    def _start(self) -> None:
        if not self.started:
            self.progress.start()
            self.started = True

    def print(self, text: str) -> None:
        """A finished line, above the bar."""
        self.console.print(Text(text), markup=False)

    def show(self, phase: str, label: str, step: int, total: int | None, count: str,
             extra: str) -> None:
        """The phase's progress: its task is updated and is the only one shown. The texts are
        made visible here (a message may quote a name holding ESC sequences or a newline)."""
        label, count, extra = visible(label), visible(count), visible(extra)
        self._start()
        task = self.tasks.get(phase)
        if task is None:
            task = self.tasks[phase] = self.progress.add_task(label, total=total, count=count,
                                                              extra=extra)
        for other in self.tasks.values():
            if other != task:
                self.progress.update(other, visible=False)
        self.progress.update(task, description=label, completed=step, total=total,
                             count=count, extra=extra, visible=True)

    def hide(self) -> None:
        """A new phase: the last phase's bar is stale until the new one reports progress."""
        for task in self.tasks.values():
            self.progress.update(task, visible=False)

    def set_system(self, text: str) -> None:
        """The worker's system figures (GPU names come from the driver: made visible too)."""
        self._start()
        self.progress.system = visible(text)
        self.progress.refresh()

    def stop(self) -> None:
        """Remove the live area (the summary follows as plain lines)."""
        if self.started:
            self.progress.stop()
            self.started = False

