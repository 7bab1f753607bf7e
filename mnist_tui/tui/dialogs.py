"""Modals: every key binding (`?`), yes/no confirmation, quitting with work in progress, "enlarge
the terminal", and the list of past suites to open."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Static

from mnist_tui.engine.text import shown
from mnist_tui.tui.safe import plain, say
from mnist_tui.tui.summary import STATE_STYLE
from mnist_tui.tui.widgets.tables import VIM_ACTIONS, VIM_HELP, VimTable

if TYPE_CHECKING:
    from mnist_tui.engine.runs.store import Skipped


def as_text(question: str | Text) -> Text:
    """A question as text, never markup: a caller with names in it builds it with
    `safe.say` (their control characters shown as escapes)."""
    return question if isinstance(question, Text) else Text(question)


def _key_name(b: Binding) -> str:
    if b.key_display:
        return b.key_display
    return ", ".join({"question_mark": "?", "space": "space", "escape": "esc",
                      "enter": "enter", "delete": "del"}.get(k.strip(), k.strip())
                     for k in b.key.split(","))


def _by_action(bindings: Iterable[Binding]) -> list[tuple[str, str]]:
    """One (keys, description) row per action, in first-seen order: an action bound to
    several keys (x and ctrl+x for Cancel; q and ctrl+q for Quit) is one entry, its keys
    joined."""
    rows: dict[str, tuple[list[str], str]] = {}
    for b in bindings:
        description = b.description or b.action
        keys, _ = rows.setdefault(description, ([], description))
        name = _key_name(b)
        if name not in keys:
            keys.append(name)
    return [(", ".join(keys), description) for keys, description in rows.values()]


def bindings_table(app_bindings: Iterable[BindingType],
                   screens: Iterable[tuple[str, type[DOMNode]]]) -> Table:
    """Every binding of the app and of each screen, grouped: what `?` shows. `screens` is
    [(label, screen class)] in the order the app numbers them."""
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column("key", style="bold", no_wrap=True, width=14)
    table.add_column("action")
    table.add_row(Text("everywhere", style="bold underline"), "")
    for keys, description in _by_action(b for b in app_bindings
                                        if isinstance(b, Binding) and b.description):
        table.add_row(keys, description)
    table.add_row("tab, shift+tab", "move between fields, tables and buttons")
    table.add_row("esc", "leave a text field (then single keys work again) / close")
    from mnist_tui.tui.widgets.fields import FIELD_BINDINGS

    for label, screen_cls in screens:
        rows = [b for b in getattr(screen_cls, "BINDINGS", []) if isinstance(b, Binding)]
        fields = [b for b in rows if b in FIELD_BINDINGS]
        rows = [b for b in rows if b not in FIELD_BINDINGS]
        vim = any(isinstance(b, Binding) and b.action in VIM_ACTIONS
                  for b in getattr(screen_cls, "WIDGET_BINDINGS", []))
        if rows or fields or vim:
            table.add_row("", "")
            table.add_row(Text(label, style="bold underline"), "")
            for keys, description in _by_action(rows):
                table.add_row(keys, description)
            if vim:      # its table's or page's movement keys (widgets/tables.py)
                table.add_row(*VIM_HELP)
            if fields:   # the text fields' keys, once (widgets/fields.py)
                table.add_row("tab, enter", "edit a text field (or click it)")
                table.add_row("esc, enter", "done editing: 1-6 and letters are keys again")
    return table


class HelpScreen(ModalScreen[None]):
    """Every key, grouped by screen."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, app_bindings: Iterable[BindingType],
                 screens: Iterable[tuple[str, type[DOMNode]]]) -> None:
        super().__init__()
        self._table = bindings_table(app_bindings, screens)

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box", classes="modal-box"):
            yield Static("[b]Keys[/b]  (esc closes)", classes="modal-title")
            with VerticalScroll():
                yield Static(self._table, id="help-table")

    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A question with two buttons; y / n / esc work too."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str | Text, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.yes, self.no = as_text(question), yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box confirm-box"):
            yield Static(self.question, classes="modal-question")
            with Horizontal(classes="modal-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button(f"{self.no} (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class QuitScreen(ModalScreen[str]):
    """Quitting with work in progress: leave jobs running (default), stop them, or stay."""

    BINDINGS = [Binding("l", "choose('leave')", "Leave running"),
                Binding("s", "choose('stop')", "Stop them"),
                Binding("escape,n", "choose('stay')", "Stay")]

    def __init__(self, question: str | Text) -> None:
        super().__init__()
        self.question = as_text(question)

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box confirm-box"):
            yield Static(self.question, classes="modal-question")
            with Horizontal(classes="modal-buttons"):
                yield Button("Leave running (l)", id="leave", variant="primary")
                yield Button("Stop them (s)", id="stop", variant="error")
                yield Button("Stay (esc)", id="stay")

    def on_mount(self) -> None:
        self.query_one("#leave", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)


class TooSmallScreen(ModalScreen[None]):
    """Shown instead of a squashed layout; goes away when the terminal is big enough again."""

    def __init__(self, min_width: int, min_height: int) -> None:
        super().__init__()
        self.min_width, self.min_height = min_width, min_height

    def compose(self) -> ComposeResult:
        yield Static(f"The terminal is too small.\n\nPlease enlarge it to at least "
                     f"{self.min_width}×{self.min_height}\n(it is {self.app.size.width}×"
                     f"{self.app.size.height}).\n\nq quits.", id="too-small")

    def on_resize(self) -> None:
        self.query_one("#too-small", Static).update(
            f"The terminal is too small.\n\nPlease enlarge it to at least {self.min_width}×"
            f"{self.min_height}\n(it is {self.app.size.width}×{self.app.size.height}).\n\nq quits.")


class SuitePicker(ModalScreen[str | None]):
    """The suites recorded under `<runs>/suites/`, newest first; enter opens one (j/k g/G
    move)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]
    DEFAULT_CSS = """
    SuitePicker #picker-box { width: 76; max-width: 95%; height: 80%; border: thick $accent;
                              background: $surface; padding: 0 1; }
    SuitePicker DataTable { height: 1fr; }
    """

    def __init__(self, suites: Sequence[Mapping[str, str]],
                 skipped: Sequence[Skipped] | None = None) -> None:
        super().__init__()
        self.suites = suites
        self.skipped = list(skipped or [])     # store.Skipped: folders it could not read

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Static(Text("Past suites — enter opens, j/k g/G move, esc closes",
                               style="bold"))
            for s in self.skipped[:3]:      # which folder, and why: escaped, cut, no markup
                yield Static(say("skipped {}: {}", shown(s.name, 60), shown(s.reason, 140),
                                 style="yellow"), classes="picker-skipped")
            if len(self.skipped) > 3:
                yield Static(Text(f"… and {len(self.skipped) - 3} more unreadable suite "
                                  "folder(s)", style="yellow"))
            table = VimTable(id="picker-table", cursor_type="row", zebra_stripes=True)
            table.add_columns("suite id", "kind", "status", "done")
            for row in self.suites:
                table.add_row(plain(row["suite_id"]), plain(row["name"]),
                              plain(row["status"], STATE_STYLE.get(row["status"], "")),
                              plain(row["done"]), key=row["suite_id"])
            yield table

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.dismiss(event.row_key.value)
