"""Text wrapped for its width without cutting a name: lines break at spaces, and a word wider
than a line (a URL, a file's path) at its separators — after a `/` first, then after `-`, `_`,
`.` and the like — so a URL or a path reads whole, part after part (Rich's own wrapping folds
such a word at the edge, mid-name: issue 26's "URL broken mid-word" at 80×24)."""

from __future__ import annotations

import re

from rich.text import Text
from textual.widgets import Static

# Where a word too long for a line may be broken: after a `/` (a URL's or a path's parts), and
# only where a part is itself too long, after one of the others.
SEPARATORS = ("/", "-_.?&=:,")


def _pieces(word: str, width: int, level: int = 0) -> list[str]:
    """A word wider than `width` in pieces of at most `width`, each ending at a separator
    where there is one (a piece without any is cut at `width`: nothing else is possible)."""
    if level == len(SEPARATORS):
        return [word[i:i + width] for i in range(0, len(word), width)]
    seps = re.escape(SEPARATORS[level])
    out, line = [], ""
    for part in re.findall(f"[^{seps}]*[{seps}]+|[^{seps}]+", word):
        if len(line) + len(part) > width and line:
            out.append(line)
            line = ""
        if len(part) > width:
            *whole, line = _pieces(part, width, level + 1)
            out += whole
        else:
            line += part
    return [*out, line] if line else out


def wrap_unbroken(text: Text, width: int) -> Text:
    """`text` (its styles kept) in lines of at most `width` characters, broken at spaces, and
    a word wider than a line at its separators only: a URL or a path is never cut mid-name."""
    if width <= 0:
        return text
    plain, out, first = text.plain, Text(), True
    at = 0
    for para in plain.split("\n"):
        if not first:
            out.append("\n")
        first = False
        indent = len(para) - len(para.lstrip(" "))
        col = end = 0
        for m in re.finditer(r"\S+", para):
            word_at, word = at + m.start(), m.group()
            space = m.start() - end if col else indent   # the gap as written; indent kept
            end = m.end()
            if col and col + space + len(word) > width:
                out.append("\n")
                col, space = 0, 0
            if col + space + len(word) <= width:
                out.append(" " * space)
                out.append_text(text[word_at:word_at + len(word)])
                col += space + len(word)
                continue
            if col:          # a long word starts on its own line
                out.append("\n")
                col = 0
            offset = word_at
            pieces = _pieces(word, width)
            for k, piece in enumerate(pieces):
                if k:
                    out.append("\n")
                out.append_text(text[offset:offset + len(piece)])
                offset += len(piece)
            col = len(pieces[-1])
        at += len(para) + 1
    return out


class Wrapped(Static):
    """A Static whose text is wrapped by `wrap_unbroken` for its width (again on resize)."""

    def __init__(self, text: str | Text = "", *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.source = Text(text) if isinstance(text, str) else text
        self.update(self.source)

    def set_text(self, text: str | Text) -> None:
        self.source = Text(text) if isinstance(text, str) else text
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        width = self.content_size.width
        self.update(wrap_unbroken(self.source, width) if width else self.source)
