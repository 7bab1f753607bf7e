"""The Suites screen's member table and its status line (what the suite is, how far it got, the
running member or the last message), drawn from the suite's report and the screen's state.

Cells are `Text` (a str cell is markup): methods, presets, suite ids and errors come from disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.text import Text
from textual.widgets import DataTable, Static

from mnist_tui.engine import present
from mnist_tui.tui.safe import plain, skipped_text, visible
from mnist_tui.tui.summary import STATE_STYLE

if TYPE_CHECKING:
    from mnist_tui.engine.runs.store import Skipped
    from mnist_tui.engine.suites.folder import SuiteFolder
    from mnist_tui.engine.suites.report_model import SuiteReport

COLUMNS = (("n", "#"), ("method", "method"), ("preset", "preset"), ("images", "images"),
           ("seed", "seed"), ("status", "status"), ("acc", "accuracy"), ("time", "time"))


class SuiteTable(DataTable[Any]):
    """One row per member (key: its index from 0)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def show(self, report: SuiteReport, running: int | None) -> None:
        """The report's rows; `running`: the running member's row (from 0), if any."""
        from mnist_tui.engine.suites.report_text import images_cell

        self.clear()
        for i, r in enumerate(report.rows):
            status = r.status
            if i == running:
                status = "running"
            acc = present.percent(r.accuracy, 1)
            self.add_row(str(i + 1), plain(r.method), plain(r.preset),
                         plain(images_cell(r)), plain(r.seed),
                         plain(status, STATE_STYLE.get(status, "")),
                         acc, present.duration(r.total_s, "table") if status != "running" else "…",
                         key=str(i))
        if running is not None and running < self.row_count:
            self.move_cursor(row=running, animate=False)

    def mark_running(self, row: int) -> None:
        key = str(row)
        if key in self.rows:
            self.update_cell(key, "status", Text("running", style=STATE_STYLE.get(
                "running", "bold yellow")))
            self.move_cursor(row=row, animate=False)

    def set_time(self, row: int, seconds: float) -> None:
        key = str(row)
        if key in self.rows:
            self.update_cell(key, "time", present.duration(seconds, "table"))


@dataclass(frozen=True)
class StatusView:
    """What the status line shows (the screen's state, read on the UI thread)."""

    folder: SuiteFolder | None
    report: SuiteReport | None
    running: bool
    cancelling: bool
    live: dict[str, Any] | None
    message: Text | None
    skipped: list[Skipped]


class SuiteStatusLine(Static):
    def draw(self, v: StatusView) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        below = Text()   # the second part wraps: an error must be read whole at 80 columns
        rep = v.report
        if v.folder is not None and rep is not None:
            rows = rep.rows
            done = sum(1 for r in rows if r.status == "finished")
            status = "running" if v.running else rep.status
            text.append(f"{visible(rep.kind)} ", "bold")
            text.append(visible(v.folder.suite_id), "cyan")
            text.append(f" · {visible(status)}", STATE_STYLE.get(status, "bold"))
            text.append(f" · {done}/{len(rows)} members finished")
        else:
            text.append("No suite yet: set the options, ctrl+s starts; l lists past suites",
                        "italic")
        live = v.live
        if v.running and live is not None and not v.cancelling:
            below.append(f"[{live['i']}/{live['n']}] {visible(live['label'])}: ", "bold")
            below.append(visible(live.get("text", "")))
        elif v.message is not None:
            below.append_text(v.message)
        elif rep is not None and not v.running and rep.status != "finished":
            below.append("not finished: r resumes it (finished members are reused)",
                         "bold yellow")
        elif rep is not None and not v.running and v.folder is not None \
                and (v.folder.path / "report.html").is_file():
            below.append(f"report: <runs>/suites/{visible(v.folder.suite_id)}/report.html "
                         "(and .md .json .csv) · l opens another", "dim")
        parts = [text, below]
        if v.skipped:
            parts.append(skipped_text(v.skipped))
        self.update(Group(*parts))
