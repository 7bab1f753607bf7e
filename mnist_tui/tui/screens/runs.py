"""Runs: every run in the store (batch runs and runs from before a restart too), sortable;
open one, mark two or more and compare them, delete with confirmation.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from mnist_tui.tui.summary import (
    STATE_ICON,
    STATE_STYLE,
    fmt_pct,
    fmt_seconds,
    main_accuracy,
    short_id,
    total_seconds,
)
from mnist_tui.tui.widgets.keysbar import KeysBar

SORTS = (
    ("newest", lambda r: r.created or r.run_id, True),
    ("accuracy", lambda r: main_accuracy(r.result) or -1.0, True),
    ("time", lambda r: total_seconds(r.result) or 0.0, False),
    ("job", lambda r: (r.job, r.created), False),
    ("status", lambda r: (r.status, r.created), False),
)


class RunsScreen(Screen):
    """The run store as a table."""

    BINDINGS = [
        Binding("enter", "open", "Open", show=False),
        Binding("o", "open", "Open"),
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare marked"),
        Binding("s", "sort", "Sort"),
        Binding("x,delete", "delete", "Delete"),
        Binding("g", "reload", "Reload"),
        Binding("e", "export", "Export report"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs = []
        self.marked: set[str] = set()
        self.sort_index = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="runs-status")
        table = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        for key, label in (("mark", "✓"), ("status", "status"), ("job", "job"),
                           ("run", "run"), ("acc", "accuracy"), ("time", "time"),
                           ("n", "images"), ("preset", "preset")):
            table.add_column(label, key=key)
        yield table
        yield KeysBar()

    def on_mount(self) -> None:
        self.query_one("#runs-table", DataTable).focus()
        self.action_reload()

    def on_screen_resume(self) -> None:
        # Runs started elsewhere (--batch in another terminal) appear; the reading thread starts
        # after this screen's first frame, so it does not slow the key press that showed it.
        self.call_after_refresh(self.action_reload)

    def on_runs_changed(self) -> None:
        self.action_reload()

    @work(thread=True, exclusive=True, group="runs-list", exit_on_error=False)
    def action_reload(self) -> None:
        runs = self.app.store.list()
        self.app.call_from_thread(self._show, runs)

    def _show(self, runs) -> None:
        name, key, reverse = SORTS[self.sort_index]
        self.runs = sorted(runs, key=key, reverse=reverse)
        ids = {r.run_id for r in self.runs}
        self.marked &= ids
        table = self.query_one("#runs-table", DataTable)
        current = None
        if table.row_count and table.cursor_row < len(table.rows):
            try:
                current = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            except Exception:  # noqa: BLE001
                current = None
        table.clear()
        for r in self.runs:
            res = r.result or {}
            n = (res.get("dataset") or {}).get("n_samples") or res.get("n_samples") \
                or r.spec.get("samples")
            table.add_row(self._mark(r.run_id),
                          Text(f"{STATE_ICON.get(r.status, '?')} {r.status}",
                               style=STATE_STYLE.get(r.status, "")),
                          r.job, short_id(r.run_id), fmt_pct(main_accuracy(res)),
                          fmt_seconds(total_seconds(res)), "—" if n is None else f"{n:,}",
                          str(r.spec.get("preset", "")), key=r.run_id)
        order = [r.run_id for r in self.runs]
        if current in order:
            table.move_cursor(row=order.index(current), animate=False)
        self._status()

    def _mark(self, run_id: str) -> Text:
        return Text("✓", style="bold green") if run_id in self.marked else Text(" ")

    def _status(self) -> None:
        name = SORTS[self.sort_index][0]
        text = Text.assemble((f"{len(self.runs)} run(s)", "bold"),
                             f" · sorted by {name} (s)")
        if self.marked:
            text.append(f" · {len(self.marked)} marked: c compares", "bold cyan")
        elif not self.runs:
            text.append(" · no runs yet: press 2 to launch one", "italic")
        self.query_one("#runs-status", Static).update(text)

    def _current(self) -> str | None:
        table = self.query_one("#runs-table", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

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
        table.update_cell(run_id, "mark", self._mark(run_id))
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)
        self._status()

    def action_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self._show(self.runs)

    def action_export(self) -> None:
        from mnist_tui.tui.screens.suites import export_runs

        marked = [r.run_id for r in self.runs if r.run_id in self.marked]
        export_runs(self.app, marked or [self._current()])

    def action_compare(self) -> None:
        from mnist_tui.tui.screens.compare import CompareScreen

        if len(self.marked) < 2:
            self.app.notify("mark two or more runs with space, then press c", severity="warning")
            return
        ordered = [r.run_id for r in self.runs if r.run_id in self.marked]
        self.app.push_screen(CompareScreen(ordered))

    def action_delete(self) -> None:
        from mnist_tui.tui.screens.modals import ConfirmScreen

        targets = sorted(self.marked) or ([self._current()] if self._current() else [])
        if not targets:
            return
        active = {j.job_id for j in self.app.manager.active()}
        if active & set(targets):
            self.app.notify("a marked run is still running: cancel it first", severity="error")
            return

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            for run_id in targets:
                try:
                    self.app.store.delete(run_id)
                except Exception as exc:  # noqa: BLE001
                    self.app.notify(f"could not delete {run_id}: {exc}", severity="error")
            self.marked -= set(targets)
            if self.app.results_run in targets:
                self.app.results_run = None
            self.app.notify(f"deleted {len(targets)} run(s)")
            self.action_reload()

        what = targets[0] if len(targets) == 1 else f"{len(targets)} runs"
        self.app.push_screen(ConfirmScreen(f"Delete {what} and every file in its folder?\n"
                                           "This cannot be undone.", yes="Delete",
                                           no="Keep"), answer)
