"""A one-line key bar: the screen's bindings as text, redrawn in one widget.

Textual's Footer recomposes a widget per binding every time the bindings change (every screen
switch, every focus move): measured here at ~50 ms of CPU per switch, most of the cost of a key
press. This bar renders the same information — the active bindings with `show=True`, disabled
ones dimmed — as a single Text, which keeps a key press well under a frame.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


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

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self._redraw)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        if screen is self.screen:
            self._redraw()

    def _redraw(self) -> None:
        seen: set[str] = set()
        text = Text(no_wrap=True, overflow="ellipsis")
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            key = self.app.get_key_display(binding)
            style = "" if enabled else "dim"
            text.append(f" {key} ", style=f"bold reverse {style}".strip())
            text.append(f" {binding.description} ", style=style)
        self.update(text)
