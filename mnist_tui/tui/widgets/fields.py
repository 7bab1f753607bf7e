"""Text fields you edit on purpose, and the keys of the screens that have them (Launch, Suites).

The design: a text field takes typed keys only while it is being edited. Tab or shift+tab into
a field, a click on it, enter on it (or a paste into it) starts editing; esc or enter stops
editing and leaves the focus on the field, where 1-6, q, ? and the screen's own letter keys work
again (a focused field that is not being edited types nothing). Leaving a screen stops the
editing and takes the focus out of the field, so coming back never lands in one.

Keys in a burst (a laggy link delivers "backspace 5", or "1000 ctrl+s 3", in one read) keep
their order:

- Textual decides where a key goes on the app's queue, in order, but a field handles printable
  keys in its own queue and its editing keys (backspace, arrows, …) only after they bubble back
  to the app, so "backspace 5" inserted the 5 before deleting (Textual issue #6605, open; the
  fix in PR #6631 is not released). `FieldInput` runs its own bindings inline, in its queue.
- What routes keys is decided on the app's queue too: the screen keys are priority bindings,
  which a field consumes (`check_consume_key`) only while editing, and tab, shift+tab, enter and
  esc are priority bindings of the screen, so whether the next key is typed or is a screen key
  is settled before that key is looked at. The field's own view of "editing" changes through a
  message in its queue, behind the keys already sent to it: "1000 enter 3" types 1000, then 3
  switches screens.
- Starting (ctrl+s) waits for the keys already sent to the field being edited (`after_typing`).

The focused field is shown by a mark, not a shade: its `FieldLabel` (the label just before it)
reads `▶ name` in bold while it (or its open list) has the focus — seen in every palette, in 16
colours and under NO_COLOR, where a background change of one step is not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import Field
from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Label


# Tab, shift+tab, enter and esc are priority bindings of a screen with fields: they change what
# the next key means, so they must run in the order the keys came (see the module docstring).
def field_bindings(show_edit: bool = True) -> list[Binding]:
    """The bindings of a screen with fields; `show_edit=False` keeps "enter Edit field" out of
    the key bar (a screen whose own keys need the room: `?` still lists it)."""
    return [
        Binding("tab", "move_focus(1)", "Next field", show=False, priority=True),
        Binding("shift+tab", "move_focus(-1)", "Previous field", show=False, priority=True),
        Binding("enter", "edit_field", "Edit field", show=show_edit, priority=True),
        Binding("enter", "leave_field", "Done editing", show=False, priority=True),
        Binding("escape", "leave_field", "Done editing", key_display="esc", priority=True),
    ]


FIELD_BINDINGS = field_bindings()


FOCUS_MARK = "▶"


class FieldLabel(Label):
    """A field's label, put just before its field: `▶ name` while the field has the focus,
    `  name` otherwise (the mark's two cells are kept, so nothing moves)."""

    DEFAULT_CSS = """
    FieldLabel.-focus { text-style: bold; color: $text; }
    """

    def __init__(self, text: str, *, classes: str | None = None) -> None:
        super().__init__(Text(f"  {text}"), classes=classes)
        self.text = text

    def mark(self, on: bool) -> None:
        self.set_class(on, "-focus")
        self.update(Text(f"{FOCUS_MARK if on else ' '} {self.text}"))


def field_help(f: Field[Any]) -> str:
    """A spec field's help line: `flag: help (≥ min, ≤ max, none allowed)`."""
    from mnist_tui.engine.jobs.specs import flag_name

    meta, bounds = f.metadata, []
    if meta["minimum"] is not None:
        bounds.append(f"≥ {meta['minimum']:g}")
    if meta["maximum"] is not None:
        bounds.append(f"≤ {meta['maximum']:g}")
    if meta["optional"]:
        bounds.append("none allowed")
    return f"{flag_name(f.name)}: {meta['help']}" + (f" ({', '.join(bounds)})" if bounds else "")


def field_label(widget: Widget) -> FieldLabel | None:
    """The label of the field `widget` is, or is inside (a Select's open list): the FieldLabel
    just before it, or before one of its two nearest ancestors."""
    node: Widget | None = widget
    for _ in range(3):
        parent = node.parent if node is not None else None
        if node is None or not isinstance(parent, Widget):
            return None
        siblings = list(parent.children)
        at = siblings.index(node)
        before = siblings[at - 1] if at > 0 else None
        if isinstance(before, FieldLabel):
            return before
        node = parent
    return None


class FieldInput(Input):
    """An Input that types only while it is being edited (see the module docstring)."""

    DEFAULT_CSS = """
    FieldInput:focus { background: $primary 25%; }
    FieldInput:focus > .input--cursor { background: $primary 25%; color: $foreground;
                                        text-style: none; }
    FieldInput.-editing:focus { background: $accent 35%; }
    FieldInput.-editing:focus > .input--cursor { background: $input-cursor-background;
                                                 color: $input-cursor-foreground;
                                                 text-style: $input-cursor-text-style; }
    """

    class Typing(Message, bubble=False):
        """Sets `typing` in the field's own queue, behind the keys already sent to it."""

        def __init__(self, on: bool) -> None:
            super().__init__()
            self.on = on

    def __init__(self, value: str | None = None, placeholder: str = "", *,
                 id: str | None = None, classes: str | None = None,
                 compact: bool = False) -> None:
        super().__init__(value, placeholder, id=id, classes=classes, compact=compact)
        self.editing = False     # what the app's key routing sees (changes at once)
        self.typing = False      # what this field's queue sees (changes in order with keys)

    # -- editing on and off ----------------------------------------------------------------
    def start_editing(self) -> None:
        """Typed keys go into this field from now on (called from the app's key routing)."""
        if not self.editing:
            self.editing = True
            self.add_class("-editing")
            self.post_message(self.Typing(True))
            self._bindings_changed()

    def stop_editing(self) -> None:
        """Keys are screen keys again; those already sent to the field are still typed."""
        if self.editing:
            self.editing = False
            self.remove_class("-editing")
            self.post_message(self.Typing(False))
            self._bindings_changed()

    def _bindings_changed(self) -> None:
        if self.is_attached:
            self.screen.refresh_bindings()

    def on_field_input_typing(self, message: Typing) -> None:
        self.typing = message.on

    def check_consume_key(self, key: str, character: str | None) -> bool:
        """Printable keys are this field's only while it is being edited: otherwise the app's
        and screen's keys (1-6, q, ?, x …) keep working with the focus here."""
        return self.editing and super().check_consume_key(key, character)

    # -- keys --------------------------------------------------------------------------------
    async def on_key(self, event: events.Key) -> None:
        """Runs before Input's own handler. Not typing: nothing is typed or edited. Typing:
        the field's own bindings run here, in order with the printable keys (Textual #6605)."""
        binding = _input_bindings().get(event.key)
        if not self.typing:
            if event.is_printable or binding is not None:
                event.stop()
                event.prevent_default()
            return
        if binding is not None and not event.is_printable:
            event.stop()
            event.prevent_default()
            await self.run_action(binding.action)

    def on_paste(self, event: events.Paste) -> None:
        """A paste is text put here on purpose: it starts editing (and is inserted)."""
        if not self.typing:
            self.start_editing()
            self.typing = True

    def on_mouse_down(self, event: events.MouseDown) -> None:
        """A click starts editing (the focus came with the same click)."""
        if not self.editing:
            self.start_editing()
        self.typing = True

    def on_blur(self, event: events.Blur) -> None:
        self.editing = self.typing = False
        self.remove_class("-editing")


_BINDINGS: dict[str, Binding] = {}


def _input_bindings() -> dict[str, Binding]:
    """Input's own key bindings by key (backspace, arrows, home, ctrl+w …)."""
    if not _BINDINGS:
        for binding in Binding.make_bindings(Input.BINDINGS):
            _BINDINGS.setdefault(binding.key, binding)
    return _BINDINGS


class FieldKeys(Screen[None]):
    """A Screen with `FieldInput`s (subclass it instead of `Screen`); put `FIELD_BINDINGS` in
    its BINDINGS."""

    _marked: FieldLabel | None = None

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Mark the focused field's label (see the module docstring)."""
        label = field_label(event.widget)
        if label is not self._marked:
            if self._marked is not None:
                self._marked.mark(False)
            if label is not None:
                label.mark(True)
            self._marked = label

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        label = field_label(event.widget)
        if label is not None and label is self._marked and self.focused is None:
            label.mark(False)
            self._marked = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        field = self.editing_field(any_state=True)
        if action == "edit_field":
            return field is not None and not field.editing
        if action == "leave_field":
            return field is not None and field.editing
        return True

    def editing_field(self, any_state: bool = False) -> FieldInput | None:
        """The focused field if it is being edited (or, with any_state, if it is focused)."""
        focused = self.focused
        if isinstance(focused, FieldInput) and (any_state or focused.editing):
            return focused
        return None

    def action_move_focus(self, direction: int) -> None:
        """Tab / shift+tab: the next widget; a field reached this way is being edited."""
        old = self.editing_field()
        if old is not None:
            old.stop_editing()
        new = self.focus_next() if direction > 0 else self.focus_previous()
        if isinstance(new, FieldInput):
            new.start_editing()

    def action_edit_field(self) -> None:
        field = self.editing_field(any_state=True)
        if field is not None:
            field.start_editing()

    def action_leave_field(self) -> None:
        field = self.editing_field()
        if field is not None:
            field.stop_editing()

    def leave_fields(self, unfocus: bool = False) -> None:
        """Stop editing; with `unfocus`, also take the focus out of a field (leaving the
        screen: coming back never lands in a text field)."""
        field = self.editing_field(any_state=True)
        if field is None:
            return
        field.stop_editing()
        if unfocus:
            self.set_focus(None)

    def after_typing(self, callback: Callable[[], object]) -> None:
        """Stop editing, then call `callback` once the field has handled every key already
        sent to it (at once when no field is being edited)."""
        field = self.editing_field()
        if field is None:
            callback()
            return
        field.stop_editing()
        field.call_later(callback)


def leave_fields(screen: Screen[object], unfocus: bool = True) -> None:
    """What the app does to the screen it leaves (any screen: those without fields ignore it)."""
    if isinstance(screen, FieldKeys):
        screen.leave_fields(unfocus=unfocus)
