"""Runs: every run in the store (batch runs and runs from before a restart too), sortable either
way, filtered with `/`; open one, mark two or more and compare them, run again as new jobs,
export a report (its path stays on screen), delete with confirmation.

Rerun, export and delete act on the same rows: the marked ones if any are marked, else the one
under the cursor; the status line says which, and a confirmation names them. The list follows
the runs folder by itself (runs started by another window or a batch run appear, and ended
ones change status): a timer compares the folder's listing and modification times in a thread
and reads the runs again only when they changed, keeping the cursor and the marks.

The table fits 80 columns whatever the values (fixed widths, one column between them): the
widest status ("↯ interrupted"), times like "12m05s", "60,000" images and every preset show
whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar, NamedTuple

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static

from mnist_tui.engine import present
from mnist_tui.engine.runs.store import RunInfo, Skipped
from mnist_tui.engine.text import shown as shown_text
from mnist_tui.tui.exports import export_report
from mnist_tui.tui.host import app_state
from mnist_tui.tui.safe import plain, say, visible
from mnist_tui.tui.summary import (
    STATE_ICON,
    STATE_STYLE,
    main_accuracy,
    short_id,
    total_seconds,
)
from mnist_tui.tui.widgets.keysbar import KeysBar
from mnist_tui.tui.widgets.tables import VIM_BINDINGS, VimTable
from mnist_tui.tui.widgets.wrapped import Wrapped

WATCH_EVERY = 2.0   # seconds between looks at the runs folder while Runs is shown
NAMED = 6           # a confirmation names this many runs, then "and N more"

# What the runs folder looked like: each entry's name and modification time (a run's folder
# changes when a record is created in it: spec, meta, result), and the folder's own.
Signature = tuple[int, frozenset[tuple[str, int]]]


def folder_signature(root: Path) -> Signature | None:
    """The runs folder's look, cheaply (one listing, one stat per entry; no record is read);
    None when it cannot be read."""
    try:
        top = root.stat().st_mtime_ns
        with os.scandir(root) as entries:
            seen = frozenset((e.name, e.stat(follow_symlinks=False).st_mtime_ns)
                             for e in entries if not e.name.startswith("."))
    except OSError:
        return None
    return top, seen


def named_runs(run_ids: Sequence[str]) -> Text:
    """Run ids for a confirmation, one a line (the first NAMED, then how many more)."""
    text = Text()
    for run_id in run_ids[:NAMED]:
        text.append("\n  ")
        text.append(visible(run_id), "bold")
    if len(run_ids) > NAMED:
        text.append(f"\n  … and {len(run_ids) - NAMED} more")
    return text

# What a run is ordered by: None for a run without the value (listed last).
SortKey = Callable[[RunInfo], tuple[float, str] | tuple[str, float] | float | None]


class Sort(NamedTuple):
    """One order of the table: its name, key, first-order reverse flag, and how the order
    reads (first order, reversed)."""

    name: str
    key: SortKey
    first_reverse: bool
    words: tuple[str, str]


SORTS = (
    # RunInfo.started: the UTC start each run recorded (ids and `created` are local time)
    Sort("newest", lambda r: (r.started, r.run_id), True, ("newest first", "oldest first")),
    Sort("accuracy", lambda r: main_accuracy(r.result), True, ("best first", "worst first")),
    Sort("time", lambda r: total_seconds(r.result), False, ("fastest first", "slowest first")),
    Sort("job", lambda r: (r.job, r.started), False, ("A→Z", "Z→A")),
    Sort("status", lambda r: (r.status, r.started), False, ("A→Z", "Z→A")),
)

# key, label, width, right-aligned: 1+13+8+18+8+6+6+7 cells and a column before each = 75,
# which leaves room for the scroll bar at 80 columns.
COLUMNS = (("mark", "✓", 1, False), ("status", "status", 13, False), ("job", "job", 8, False),
           ("run", "run", 18, False), ("acc", "accuracy", 8, True), ("time", "time", 6, True),
           ("n", "images", 6, True), ("preset", "preset", 7, False))


def sort_runs(runs: Sequence[RunInfo], index: int, reverse: bool) -> list[RunInfo]:
    """Runs in the order of SORTS[index] (reversed on request); runs without the value last."""
    _name, key, first_reverse, _words = SORTS[index]
    keyed = [(key(r), r) for r in runs]
    known = [(k, r) for k, r in keyed if k is not None]
    unknown = [r for k, r in keyed if k is None]
    return [r for _k, r in sorted(known, key=lambda kr: kr[0],
                                  reverse=first_reverse != reverse)] + unknown


def matches(run: RunInfo, words: list[str]) -> bool:
    """Every word of the filter appears in the run's job, preset, status or id."""
    hay = " ".join(str(v) for v in (run.job, run.spec.get("preset", ""), run.status,
                                    run.run_id, short_id(run.run_id))).lower()
    return all(w in hay for w in words)


def _cell(value: str | Text, width: int, right: bool) -> Text:
    """A cell's text padded to its column, with the column gap on its left (a str is a value
    from a record: shown as written, its control characters as escapes)."""
    text = value.copy() if isinstance(value, Text) else plain(value)
    text.truncate(width, overflow="ellipsis")
    pad = " " * (width - text.cell_len)
    return Text.assemble(" ", pad, text) if right else Text.assemble(" ", text, pad)


class RunsScreen(Screen[None]):
    """The run store as a table."""

    BINDINGS = [
        Binding("enter", "open", "Open", show=False),
        Binding("o", "open", "Open"),
        Binding("space", "mark", "Mark"),
        Binding("v", "compare", "Compare"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse", "Reverse", key_display="S"),
        Binding("r", "rerun", "Rerun"),
        Binding("e", "export", "Export"),
        Binding("d,delete", "delete", "Delete"),
        Binding("ctrl+r", "reload", "Reload"),
        Binding("escape", "clear_filter", "Clear filter", key_display="esc"),
    ]

    WIDGET_BINDINGS: ClassVar[list[BindingType]] = VIM_BINDINGS   # the table's (`?` lists them)

    def __init__(self) -> None:
        super().__init__()
        self.signature: Signature | None = None   # the runs folder as last listed
        self.all_runs: list[RunInfo] = []
        self.skipped: list[Skipped] = []   # folders the listing could not read
        self.runs: list[RunInfo] = []      # shown: filtered and sorted
        self.marked: set[str] = set()
        self.sort_index = 0
        self.reverse = False
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="runs-status")
        yield Input(placeholder="filter: words from job, preset, status or run id "
                                "(enter keeps it, esc clears)", id="runs-filter", compact=True)
        table = VimTable(id="runs-table", cursor_type="row", zebra_stripes=True,
                         cell_padding=0)
        for key, label, width, right in COLUMNS:
            table.add_column(_cell(label, width, right), key=key, width=width + 1)
        yield table
        yield Wrapped("", id="runs-notice")     # a path in it breaks only at a `/`
        yield KeysBar(lines=2)

    def on_mount(self) -> None:
        app_state(self).runs_changed.subscribe(self, self.on_runs_changed, immediate=True)
        self.query_one("#runs-filter").display = False
        self.query_one("#runs-notice").display = False
        self.query_one("#runs-table", DataTable).focus()
        self.action_reload()
        self.set_interval(WATCH_EVERY, self._watch)

    def on_screen_resume(self) -> None:
        # Runs started elsewhere (--batch in another terminal) appear; the reading thread starts
        # after this screen's first frame, so it does not slow the key press that showed it.
        self.call_after_refresh(self.action_reload)

    def _watch(self) -> None:
        """While this screen is shown: read the runs again if the folder changed."""
        if self.app.screen is self:
            self._look()

    @work(thread=True, exclusive=True, group="runs-watch", exit_on_error=False)
    def _look(self) -> None:
        if folder_signature(app_state(self).runs_dir) != self.signature:
            self._list()

    def on_runs_changed(self, _data: None = None) -> None:
        self.action_reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":
            return bool(self.filter_text) or self.query_one("#runs-filter").display
        return True

    @work(thread=True, exclusive=True, group="runs-list", exit_on_error=False)
    def action_reload(self) -> None:
        self._list()

    def _list(self) -> None:
        """(In a thread) the runs as they are now, shown; what the folder looked like before
        they were read is kept, so a change while reading is seen at the next look."""
        state = app_state(self)
        self.signature = folder_signature(state.runs_dir)
        runs, skipped = state.store.listing()
        self.app.call_from_thread(self._show, runs, skipped)

    def _show(self, runs: Sequence[RunInfo], skipped: Sequence[Skipped] | None = None) -> None:
        self.all_runs = list(runs)
        if skipped is not None:
            self.skipped = list(skipped)
        words = self.filter_text.lower().split()
        shown = [r for r in self.all_runs if matches(r, words)]
        self.runs = sort_runs(shown, self.sort_index, self.reverse)
        self.marked &= {r.run_id for r in self.all_runs}
        table = self.query_one("#runs-table", DataTable)
        current = self._current()
        table.clear()
        for r in self.runs:
            res = r.result
            n = (res.n_images() or res.n_samples if res else None) or r.spec.get("samples")
            values: tuple[str | Text, ...] = (self._mark(r.run_id),
                      plain(f"{STATE_ICON.get(r.status, '?')} {r.status}",
                            STATE_STYLE.get(r.status, "")),
                      r.job, short_id(r.run_id), present.percent(main_accuracy(res)),
                      present.duration(total_seconds(res)), present.count(n),
                      str(r.spec.get("preset", "")))
            table.add_row(*(_cell(v, width, right) for v, (_k, _l, width, right)
                            in zip(values, COLUMNS)), key=r.run_id)
        order = [r.run_id for r in self.runs]
        if current in order:
            table.move_cursor(row=order.index(current), animate=False)
        self._status()

    def _mark(self, run_id: str) -> Text:
        return Text("✓", style="bold green") if run_id in self.marked else Text(" ")

    def _status(self) -> None:
        name, _key, _rev, words = SORTS[self.sort_index]
        shown, total = len(self.runs), len(self.all_runs)
        count = f"{shown} of {total} run(s)" if self.filter_text else f"{total} run(s)"
        order = words[1] if self.reverse else words[0]
        text = Text.assemble((count, "bold"), " · sorted: ",
                             order if name == "newest" else f"{name}, {order}")
        if self.filter_text:
            text.append(" · filter ")
            text.append(visible(self.filter_text), "bold")
        if self.skipped:
            # a folder's name and why it could not be read: escaped, bounded, never markup
            first = self.skipped[0]
            text.append(f" · {len(self.skipped)} unreadable folder(s) skipped: ", "bold yellow")
            text.append(shown_text(f"{first.name} ({first.reason})", 120), "yellow")
        if self.marked:
            text.append(f" · {len(self.marked)} marked: r e d act on them"
                        + (", v compares" if len(self.marked) > 1 else ""), "bold cyan")
        elif not self.all_runs:
            text.append(" · no runs yet: press 2 to launch one", "italic")
        elif not self.runs:
            text.append(" · none match: esc clears the filter", "italic")
        self.query_one("#runs-status", Static).update(text)

    def targets(self) -> list[str]:
        """What rerun, export and delete act on: the marked runs (in the table's order, then
        any hidden by the filter), else the run under the cursor."""
        if self.marked:
            shown = [r.run_id for r in self.runs if r.run_id in self.marked]
            return shown + sorted(self.marked - set(shown))
        current = self._current()
        return [current] if current else []

    def _current(self) -> str | None:
        table = self.query_one("#runs-table", DataTable)
        if not table.row_count or table.cursor_row >= table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def show_notice(self, text: Text) -> None:
        """A notice that stays until the next one (export paths, reruns)."""
        notice = self.query_one("#runs-notice", Wrapped)
        notice.set_text(text)
        notice.display = True

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """A detail line under the table: the cursor's run, its time and what explains it
        (`▸ cnn · 6m52s · load 3.8 · nice 10`: the machine's load average, the worker's nice)."""
        from mnist_tui.tui.summary import time_text

        run = next((r for r in self.runs if r.run_id == event.row_key.value), None)
        detail = next(self.query("#runs-detail").results(Static), None)
        if detail is None:
            detail = Static("", id="runs-detail", markup=False)
            detail.styles.padding = (0, 1)
            self.mount(detail, after="#runs-table")
        detail.update(Text.assemble("▸ ", (visible(run.job), "bold"), " · ",
                                    time_text(run.result) if run.result else run.status)
                      if run is not None else "")

    # -- filter ------------------------------------------------------------------------------
    def action_filter(self) -> None:
        field = self.query_one("#runs-filter", Input)
        field.display = True
        field.focus()

    @on(Input.Changed, "#runs-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._show(self.all_runs)

    @on(Input.Submitted, "#runs-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        # The status line names the filter; `/` shows the field again to change it.
        self.query_one("#runs-filter", Input).display = False
        self.query_one("#runs-table", DataTable).focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#runs-filter", Input)
        field.value = ""             # Input.Changed shows every run again
        self.filter_text = ""
        field.display = False
        self.query_one("#runs-table", DataTable).focus()
        self._show(self.all_runs)

    # -- actions -----------------------------------------------------------------------------
    def action_open(self) -> None:
        from mnist_tui.tui.messages import OpenRun

        run_id = self._current()
        if run_id:
            self.app.post_message(OpenRun(run_id))

    def action_mark(self) -> None:
        run_id = self._current()
        if not run_id:
            return
        self.marked ^= {run_id}
        table = self.query_one("#runs-table", DataTable)
        table.update_cell(run_id, "mark", _cell(self._mark(run_id), 1, False))
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)
        self._status()

    def action_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self.reverse = False
        self._show(self.all_runs)

    def action_reverse(self) -> None:
        self.reverse = not self.reverse
        self._show(self.all_runs)

    def action_export(self) -> None:
        export_report(self, self.targets(), self.show_notice)

    def action_compare(self) -> None:
        from mnist_tui.tui.messages import CompareRuns

        if len(self.marked) < 2:
            self.app.notify("mark two or more runs with space, then press v", severity="warning")
            return
        ordered = [r.run_id for r in self.all_runs if r.run_id in self.marked]
        self.app.post_message(CompareRuns(ordered))

    def action_rerun(self) -> None:
        """The chosen runs' exact specs (their spec records) again, as new jobs; more than one
        is confirmed first, naming them."""
        from mnist_tui.tui.dialogs import ConfirmScreen

        targets = self.targets()
        if len(targets) == 1:
            self._rerun(targets)
        elif targets:
            self.app.push_screen(
                ConfirmScreen(Text.assemble(f"Run these {len(targets)} marked runs again, as "
                                            "new jobs?", named_runs(targets)),
                              yes="Run again", no="Cancel"),
                lambda yes: self._rerun(targets) if yes else None)

    def _rerun(self, run_ids: Sequence[str]) -> None:
        from mnist_tui.engine.jobs.specs import spec_from_dict

        manager = app_state(self).manager
        queued = []
        for run_id in run_ids:
            try:
                spec = spec_from_dict(app_state(self).store.load_spec(run_id))
            except Exception as exc:  # noqa: BLE001 - an old or hand-edited spec record
                self.show_notice(say("cannot run {} again: {}", run_id, exc, style="bold red"))
                return
            queued.append((run_id, manager.submit(spec.to_dict(), rerun_of=run_id).job_id))
        held = manager.held_by
        follow = f" ({'waits: ' + held if held else '3 Monitor follows it'})"
        if len(queued) == 1:
            (run_id, job_id), = queued
            self.show_notice(Text.assemble(("Rerun of ", "bold"), visible(run_id),
                                           (" queued as ", "bold"),
                                           (visible(job_id), "bold cyan"), follow))
        else:
            self.show_notice(Text.assemble((f"{len(queued)} reruns queued: ", "bold"),
                                           (", ".join(visible(j) for _r, j in queued),
                                            "bold cyan"), follow))

    def action_delete(self) -> None:
        from mnist_tui.tui.dialogs import ConfirmScreen

        app, targets = app_state(self), self.targets()
        if not targets:
            return
        active = {j.job_id for j in app.manager.active()} & set(targets)
        if active:
            self.app.notify(f"{sorted(active)[0]} is still running: cancel it first",
                            severity="error")
            return

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            for run_id in targets:
                try:
                    app.store.delete(run_id)
                except Exception as exc:  # noqa: BLE001
                    self.app.notify(f"could not delete {run_id}: {exc}", severity="error")
            self.marked -= set(targets)
            if app.results_run in targets:
                app.results_run = None
            self.app.notify(f"deleted {len(targets)} run(s)")
            self.action_reload()

        which = ("this run" if len(targets) == 1 and not self.marked
                 else f"the {len(targets)} marked run(s)")
        question = Text.assemble(f"Delete {which} and every file in its folder?",
                                 named_runs(targets), "\nThis cannot be undone.")
        self.app.push_screen(ConfirmScreen(question, yes="Delete", no="Keep"), answer)
