"""Untrusted text as screen text: shown exactly as written, never obeyed.

Run ids and folder names, `--data-dir`, spec values, error messages, dataset file names: any of
them can hold `[/]` (which Textual and Rich would parse as markup: a `MarkupError` ends the app,
and `mnist [backup]` would show as `mnist `) or ESC sequences and newlines (which the terminal
would obey, or which forge lines). Every such string reaches a widget as a Rich `Text` built
here, never as a `str` (a `str` given to `Static.update`, `notify`, a `DataTable` cell or a Rich
`Table` is markup), and through `engine.text.visible`, which shows control characters as `\\x1b`,
`\\n`. The app's `notify` goes through `notice` (app.py), so no call site can forget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.style import StyleType
from rich.text import Text

from mnist_tui.engine.text import shown, visible

if TYPE_CHECKING:
    from mnist_tui.engine.runs.store import Skipped

__all__ = ["lines", "notice", "plain", "say", "skipped_text", "visible"]


def plain(value: object, style: StyleType = "") -> Text:
    """One value (or a one-line message holding values) as text: no markup, and its control
    characters, a newline too, shown as escapes so it stays one line."""
    return Text(visible(value), style=style)


def say(template: str, *values: object, style: StyleType = "") -> Text:
    """`template` with each `{}` filled by a value shown through `visible`: the template's own
    newlines stay line breaks, a value's newline is shown as `\\n`. A value that is already a
    `Text` (built here) goes in as it is; a `(value, style)` pair is styled."""
    pieces = template.split("{}")
    if len(pieces) != len(values) + 1:
        raise ValueError(f"{len(pieces) - 1} placeholder(s) for {len(values)} value(s)")
    text = Text(pieces[0], style=style)
    for value, piece in zip(values, pieces[1:]):
        if isinstance(value, Text):
            text.append_text(value)
        elif isinstance(value, tuple) and len(value) == 2:
            text.append(visible(value[0]), value[1])
        else:
            text.append(visible(value))
        text.append(piece)
    return text


def lines(value: object, style: StyleType = "", indent: str = "") -> Text:
    """A multi-line value (an error, a traceback) line by line: each line through `visible`,
    the line breaks kept (after `indent`): other control characters never reach the terminal."""
    parts = str(value).splitlines() or [""]
    return Text(("\n" + indent).join(visible(p) for p in parts), style=style)


def notice(message: object) -> str:
    """A notification's text: one line, control characters as escapes. The app shows it with
    markup off, so `[/]` is shown as written."""
    return visible(message)


def skipped_text(skipped: Sequence[Skipped], what: str = "suite folder(s)",
                 limit: int = 120) -> Text:
    """The folders a listing could not read (`store.Skipped`: name and reason): how many, and
    the first named with why, escaped and cut at `limit` characters (a folder name is chosen
    by whoever made it)."""
    text = Text(f"{len(skipped)} unreadable {what} skipped: ", "bold yellow")
    first = skipped[0]
    text.append(shown(f"{first.name} ({first.reason})", limit), "yellow")
    return text
