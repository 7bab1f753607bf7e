"""Vim-style movement in tables and scrolled pages: j/k down/up, g/G first/last (top/bottom).

`VimTable` is a DataTable and `VimScroll` a VerticalScroll with those four keys (the arrows,
home/end and page keys keep working). The keys are the focused widget's bindings, so they win
over a screen's binding of the same letter while the table or page has focus. The key bar folds
them into one item ("j/k g/G Move", `widgets/keysbar.py`) and `?` lists them for every screen
whose class names them in `WIDGET_BINDINGS` (`dialogs.bindings_table`).

To give another screen's table these keys (the Monitor's job table): build a `VimTable` where
it builds a `DataTable` (same arguments), and set `WIDGET_BINDINGS = VIM_BINDINGS` on the
screen class so `?` lists them.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable

# What a table's keys do; a page (VimScroll) maps the same keys to its scroll actions.
VIM_BINDINGS: list[BindingType] = [
    Binding("j", "cursor_down", "Down", show=False),
    Binding("k", "cursor_up", "Up", show=False),
    Binding("g", "scroll_top", "First", show=False),
    Binding("G", "scroll_bottom", "Last", key_display="G", show=False),
]
# The actions above and their page counterparts: the key bar shows all of them as one item.
VIM_ACTIONS = frozenset({"cursor_down", "cursor_up", "scroll_top", "scroll_bottom",
                         "vim_down", "vim_up", "vim_top", "vim_bottom"})
VIM_KEYS_TEXT = "j/k g/G"
VIM_HELP = ("j/k, g/G", "move down/up; to the first/last row (top/bottom of a page)")


class VimTable(DataTable[Text]):
    """A DataTable with j/k/g/G (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = VIM_BINDINGS


class VimScroll(VerticalScroll):
    """A scrolled page with j/k (one line) and g/G (top/bottom)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "vim_down", "Down", show=False),
        Binding("k", "vim_up", "Up", show=False),
        Binding("g", "vim_top", "Top", show=False),
        Binding("G", "vim_bottom", "Bottom", key_display="G", show=False),
    ]

    def action_vim_down(self) -> None:
        self.scroll_down(animate=False)

    def action_vim_up(self) -> None:
        self.scroll_up(animate=False)

    def action_vim_top(self) -> None:
        self.scroll_home(animate=False)

    def action_vim_bottom(self) -> None:
        self.scroll_end(animate=False)
