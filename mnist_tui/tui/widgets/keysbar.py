"""A one-line key bar: the screen's bindings as text, redrawn in one widget.

Textual's Footer recomposes a widget per binding every time the bindings change (every screen
switch, every focus move): measured here at ~50 ms of CPU per switch, most of the cost of a key
press. This bar renders the same information — the active bindings with `show=True`, disabled
ones dimmed — as a single Text, which keeps a key press well under a frame.

The bar is about the screen's own keys: they come first; the six screen keys are always one
"1-6 Screens" item (the header names the current one, `?` lists them), and "? Keys" (which lists
every binding) and "q Quit" stay pinned at the right edge: a key dropped for lack of room is
never the one that shows the others. A screen with many keys (Runs) asks for a bar of up to two
lines (`KeysBar(lines=2)`), which takes its second line only when one does not hold them all.
The vim-style movement keys of a focused table or page (`widgets/tables.py`) are one item,
"j/k g/G Move", after the screen's keys.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static

from mnist_tui.tui.widgets.tables import VIM_ACTIONS, VIM_KEYS_TEXT


class Key(NamedTuple):
    key: str
    description: str
    enabled: bool
    action: str


def _width(items: list[Key], pad: int) -> int:
    """Cells taken by `items`: " key " then "desc " (`pad` more spaces before desc)."""
    return sum(len(k.key) + len(k.description) + 3 + pad for k in items)


def _append(text: Text, item: Key, pad: int) -> None:
    style = "" if item.enabled else "dim"
    text.append(f" {item.key} ", style=f"bold reverse {style}".strip())
    text.append(f"{' ' * pad}{item.description} ", style=style)


def _fill(own: list[Key], rooms: list[int]) -> tuple[list[list[Key]], list[Key]]:
    """Keys in order into lines of `rooms` cells (the last keeps a column for "…"); the rest."""
    rows: list[list[Key]] = [[] for _ in rooms]
    rest = list(own)
    for k, room in enumerate(rooms):
        spare = 1 if k == len(rooms) - 1 else 0
        while rest and _width([*rows[k], rest[0]], 0) <= room - spare:
            rows[k].append(rest.pop(0))
    return rows, rest


def layout(items: list[Key], width: int, lines: int = 1) -> Text:
    """The bar's text for `width` columns, on up to `lines` lines (see the module docstring)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    nav = [k for k in items if k.action.startswith("show(")]
    pinned = [k for k in items if k.action in ("help", "quit_app")]
    own = [k for k in items if k not in nav and k not in pinned]
    right = ([Key(f"{nav[0].key}-{nav[-1].key}", "Screens", True, "nav")] if len(nav) > 1
             else nav) + pinned
    if _width(own + right, 1) <= width:      # room to breathe: a space before each label
        for item in own:
            _append(text, item, 1)
        text.append(" " * (width - _width(own + right, 1)))
        for item in right:
            _append(text, item, 1)
        return text
    last_room = width - _width(right, 0) - 1
    for n in range(1, max(1, lines) + 1):      # as few lines as hold every key
        rows, rest = _fill(own, [width] * (n - 1) + [last_room])
        if not rest:
            break
    for k, row in enumerate(rows):
        if k:
            text.append("\n")
        for item in row:
            _append(text, item, 0)
    used = _width(rows[-1], 0)
    if rest:
        text.append("…", style="dim")
        used += 1
    text.append(" " * max(1, width - used - _width(right, 0)))
    for item in right:
        _append(text, item, 0)
    return text


class KeysBar(Static):
    """Docked at the bottom of a screen; follows `screen.active_bindings`."""

    DEFAULT_CSS = """
    KeysBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    """

    def __init__(self, lines: int = 1, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines = lines

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self._redraw)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self) -> None:
        self._redraw()

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if screen is self.screen:
            self._redraw()

    def keys(self) -> list[Key]:
        seen: set[str] = set()
        items, vim = [], False
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.action in VIM_ACTIONS:
                vim = True
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            items.append(Key(self.app.get_key_display(binding), binding.description, enabled,
                             binding.action))
        if vim:     # after the screen's own keys, before the screen keys
            at = next((i for i, k in enumerate(items)
                       if k.action.startswith("show(") or k.action in ("help", "quit_app")),
                      len(items))
            items.insert(at, Key(VIM_KEYS_TEXT, "Move", True, "vim"))
        return items

    def _redraw(self) -> None:
        text = layout(self.keys(), self.size.width or self.app.size.width, self.lines)
        self.styles.height = text.plain.count("\n") + 1
        self.update(text)
