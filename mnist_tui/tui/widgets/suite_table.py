"""The Suites screen's member table and its status line (what the suite is, how far it got, the
running members — each with where it runs — or the last message), drawn from the suite's report
and the screen's state; and the past suites as the picker lists them (`past_suites`).

Cells are `Text` (a str cell is markup): methods, presets, suite ids and errors come from disk.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.text import Text
from textual.widgets import DataTable, Static

from mnist_tui.engine import present
from mnist_tui.tui.safe import plain, skipped_text, visible
from mnist_tui.tui.summary import STATE_STYLE

if TYPE_CHECKING:
    from pathlib import Path

    from textual.dom import DOMNode

    from mnist_tui.engine.jobs.events import Event
    from mnist_tui.engine.runs.store import Skipped
    from mnist_tui.engine.suites.folder import SuiteFolder
    from mnist_tui.engine.suites.report_model import SuiteReport

MAX_RUNNING_LINES = 4   # running members listed on the status line (then "… N more")
COLUMNS = (("n", "#"), ("method", "method"), ("preset", "preset"), ("images", "images"),
           ("seed", "seed"), ("status", "status"), ("acc", "accuracy"), ("time", "time"))


class SuiteTable(DataTable[Any]):
    """One row per member (key: its index from 0)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def show(self, report: SuiteReport, running: Collection[int] = ()) -> None:
        """The report's rows; `running`: the running members' rows (from 0)."""
        from mnist_tui.engine.suites.report_text import images_cell

        # Columns too: a cleared DataTable keeps the widths its earlier rows needed, so the
        # table's look depended on what it showed before (the Suites snapshot failed in CI).
        self.clear(columns=True)
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        for i, r in enumerate(report.rows):
            status = r.status
            if i in running:
                status = "running"
            acc = present.percent(r.accuracy, 1)
            self.add_row(str(i + 1), plain(r.method), plain(r.preset),
                         plain(images_cell(r)), plain(r.seed),
                         plain(status, STATE_STYLE.get(status, "")),
                         acc, present.duration(r.total_s, "table") if status != "running" else "…",
                         key=str(i))
        last = max(running, default=None)
        if last is not None and last < self.row_count:
            self.move_cursor(row=last, animate=False)

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


@dataclass
class RunningMember:
    """A running member as the screen knows it from the suite's messages (`i` from 1)."""

    i: int
    n: int
    label: str
    start: float                       # time.monotonic() when it started
    text: str = "starting the worker…"  # its latest phase or progress, as a line
    phase: str = ""
    where: str = ""                    # `Placement.where()`, once placed
    run_id: str | None = None

    def apply(self, ev: Event) -> None:
        """Its line follows its phases and progress (its end is the table's to show)."""
        from mnist_tui.engine.jobs.event_text import live_text
        from mnist_tui.engine.jobs.events import TERMINAL_TYPES

        text = live_text(ev, self.phase)
        if ev.type == "phase":
            self.phase = getattr(ev, "name", "")
        if text is not None and ev.type not in TERMINAL_TYPES:
            self.text = text


@dataclass(frozen=True)
class StatusView:
    """What the status line shows (the screen's state, read on the UI thread)."""

    folder: SuiteFolder | None
    report: SuiteReport | None
    running: bool
    cancelling: bool
    live: list[RunningMember]          # the running members, in order
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
        if v.running and v.live and not v.cancelling:
            below = running_lines(v.live)
        elif v.message is not None:
            below.append_text(v.message)
        elif rep is not None and not v.running and rep.status != "finished":
            below.append("not finished: r resumes it (finished members are reused)",
                         "bold yellow")
        elif rep is not None and not v.running and v.folder is not None \
                and (v.folder.path / "report.html").is_file():
            below.append(f"report: {short_path(v.folder.path / 'report.html')} (and .md .json "
                         ".csv) · e writes it again · l opens another", "dim")
        parts: list[Text] = [text, below]
        if v.skipped:
            parts.append(skipped_text(v.skipped))
        self.update(Group(*parts))


def short_path(path: Path, long: int = 50) -> str:
    """A path as the status line shows it: the real one (control characters as escapes), with
    `~` for the home folder when it is longer than `long` characters."""
    import os

    text = str(path)
    home = os.path.expanduser("~")
    if len(text) > long and home not in ("", "/") and text.startswith(home + os.sep):
        text = "~" + text[len(home):]
    return visible(text)


def export_suite(node: DOMNode, folder: SuiteFolder,
                 say: Callable[[SuiteFolder, Text], object]) -> None:
    """Write `folder`'s report again (the engine's `build_report`, `write_report`: HTML, .md,
    .json, .csv in the suite folder) in a thread; toast its real path (copied too) and `say`
    a line for the status line (or why it was not written)."""
    app = node.app

    def done(paths: list[Path], error: str | None) -> None:
        if error is not None:
            say(folder, plain(f"✘ report of {folder.suite_id} not written: {error}", "bold red"))
            app.notify(f"report not written: {error}", severity="error", timeout=10)
            return
        app.copy_to_clipboard(str(paths[0]))
        app.notify(f"report of {folder.suite_id} written: {paths[0]} (.md .json .csv beside "
                   "it; path copied)", timeout=8)
        say(folder, plain(f"report written: {short_path(paths[0])}", "bold green"))

    def write() -> None:
        from mnist_tui.engine.suites.report import build_report
        from mnist_tui.engine.suites.report_files import write_report

        try:
            paths = write_report(build_report(folder), folder.path / "report.html")
        except Exception as exc:  # noqa: BLE001 - an unreadable suite, a full disk: said
            app.call_from_thread(done, [], str(exc))
            return
        app.call_from_thread(done, paths, None)

    app.run_worker(write, thread=True, group="suite-export", exit_on_error=False)


def running_lines(live: list[RunningMember]) -> Text:
    """A line per running member: `[3/8] tsne-gmm default 500 images seed 1 — host (1 of 2
    cores) — tsne 120/300` (cut at the edge; its place comes from `Placement.where()`)."""
    lines = []
    for m in live[:MAX_RUNNING_LINES]:
        line = Text()
        line.append(f"[{m.i}/{m.n}] {visible(m.label)}", "bold")
        if m.where:
            line.append(f" — {visible(m.where)}", "cyan")
        line.append(f" — {visible(m.text)}")
        lines.append(line)
    if len(live) > MAX_RUNNING_LINES:
        lines.append(Text(f"… and {len(live) - MAX_RUNNING_LINES} more running", "italic"))
    return Text("\n", no_wrap=True, overflow="ellipsis").join(lines)


def past_suites(runs_dir: Path) -> tuple[list[dict[str, str]], list[Skipped]]:
    """The suites in `runs_dir` (newest first) as `dialogs.SuitePicker` lists them, and the
    folders that could not be read; a suite whose runner died is reaped first (not shown
    "running"). Reads the disk: call it from a thread worker."""
    from mnist_tui.engine.suites.folder import SuiteFolder, reap_suites, scan_suites
    from mnist_tui.engine.suites.records import SuiteRecordError

    reap_suites(runs_dir)
    rows = []
    ids, skipped = scan_suites(runs_dir)
    for sid in ids:
        try:
            st = SuiteFolder(runs_dir, sid).read_status()
        except SuiteRecordError:
            status, done = "unreadable", ""
        else:
            status = st.status if st else "?"
            done = f"{st.finished}/{st.members}" if st and st.members is not None else ""
        rows.append({"suite_id": sid, "name": sid.split("-")[2] if sid.count("-") >= 3
                     else "?", "status": status, "done": done})
    return rows, list(skipped)
