"""Digits drawn in the terminal with half blocks: one cell holds two pixels, so 28×28 → 28×14.

Each cell is "▀" with the top pixel as foreground and the bottom pixel as background, in grey
levels. Textual turns the true-colour greys into the 256-colour palette when the terminal has no
truecolor, and into greys under NO_COLOR (its Monochrome filter), so one renderer serves all.
With `plain=True` (a terminal that shows no colour at all) a shade character per cell is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

_SHADES = " ░▒▓█"
_STYLE_CACHE: dict[tuple[int, int], Style] = {}
# Every segment carries a style: Textual's NO_COLOR filter reads `segment.style.color` and
# crashed on the Dataset screen's unstyled segments.
PLAIN = Style()


def _grey(top: int, bottom: int) -> Style:
    key = (top, bottom)
    style = _STYLE_CACHE.get(key)
    if style is None:
        style = Style.parse(f"rgb({top},{top},{top}) on rgb({bottom},{bottom},{bottom})")
        _STYLE_CACHE[key] = style
    return style


def _quantise(image) -> list[list[int]]:
    """0–255 ints, 16 grey levels (keeps the style cache small), an even number of rows."""
    rows = [[(int(v) >> 4) * 17 for v in row] for row in image]
    if len(rows) % 2:
        rows.append([0] * len(rows[0]))
    return rows


def digit_segments(image, plain: bool = False) -> list[list[Segment]]:
    """Rows of segments for one image (H×W, 0–255): H/2 rows of W cells."""
    rows = _quantise(image)
    out = []
    for y in range(0, len(rows), 2):
        top, bottom = rows[y], rows[y + 1]
        if plain:
            line = "".join(_SHADES[min(4, (max(a, b) * 5) // 256)] for a, b in zip(top, bottom))
            out.append([Segment(line, PLAIN)])
        else:
            out.append([Segment("▀", _grey(a, b)) for a, b in zip(top, bottom)])
    return out


def digit_text(image, plain: bool = False) -> Text:
    """One digit as Rich Text (for Statics and tables)."""
    text = Text()
    for i, row in enumerate(digit_segments(image, plain)):
        if i:
            text.append("\n")
        for seg in row:
            text.append(seg.text, seg.style)
    return text


class DigitGrid(Widget):
    """Many digits with captions, wrapped into as many columns as the width allows."""

    DEFAULT_CSS = """
    DigitGrid { height: auto; width: 1fr; }
    """

    def __init__(self, images: Sequence = (), captions: Sequence[str] = (), *, gap: int = 1,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.gap = gap
        self._cells: list[tuple[list[list[Segment]], str]] = []
        self._cell_w = self._cell_h = 0
        self.set_digits(images, captions)

    def set_digits(self, images: Sequence, captions: Sequence[str] = ()) -> None:
        plain = bool(getattr(self.app, "plain_digits", False)) if self.is_attached else False
        captions = list(captions) + [""] * (len(images) - len(captions))
        self._cells = [(digit_segments(img, plain), cap) for img, cap in zip(images, captions)]
        self._cell_w = max([len(img[0]) for img in images] + [len(c) for c in captions] + [1]) \
            if len(images) else 1
        self._cell_h = (max(len(img) for img in images) + 1) // 2 if len(images) else 0
        self._has_caption = any(captions)
        self.refresh(layout=True)

    def _columns(self, width: int) -> int:
        return max(1, (width + self.gap) // (self._cell_w + self.gap))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not self._cells:
            return 1
        rows = -(-len(self._cells) // self._columns(width))
        return rows * (self._cell_h + (1 if self._has_caption else 0))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if not self._cells:
            return (Strip([Segment("(no images)".ljust(width), PLAIN)]) if y == 0
                    else Strip.blank(width, PLAIN))
        per_row = self._cell_h + (1 if self._has_caption else 0)
        cols = self._columns(width)
        band, line = divmod(y, per_row)
        cells = self._cells[band * cols:(band + 1) * cols]
        segs: list[Segment] = []
        for i, (rows, caption) in enumerate(cells):
            if i:
                segs.append(Segment(" " * self.gap, PLAIN))
            if line < len(rows):
                row = rows[line]
                segs.extend(row)
                pad = self._cell_w - sum(len(s.text) for s in row)
            else:
                cap = caption[: self._cell_w].center(self._cell_w)
                segs.append(Segment(cap, Style(bold=True)))
                pad = 0
            if pad > 0:
                segs.append(Segment(" " * pad, PLAIN))
        return Strip(segs).adjust_cell_length(width, PLAIN)
