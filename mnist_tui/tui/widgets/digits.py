"""Digits drawn in the terminal with half blocks: one cell holds two pixels, so 28×28 → 28×14.

Each cell is "▀" with the top pixel as foreground and the bottom pixel as background, in grey
levels. Textual turns the true-colour greys into the 256-colour palette when the terminal has no
truecolor, and into greys under NO_COLOR (its Monochrome filter), so one renderer serves all.
With `plain=True` (a terminal that shows no colour at all) a shade character per cell is drawn.

At 80 columns a 28×28 digit is too big (ten mean digits would take 280 columns and 14 rows), so
`fit_images` draws a set of digits small: the blank margin every image of the set shares is cut
off, then the rest is averaged down (area weights, never enlarged, aspect kept) to a box. A
`DigitGrid` with `per_row` fits its digits that way so that `per_row` of them share a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from mnist_tui.engine.text import visible

if TYPE_CHECKING:
    import numpy as np  # imported where digits are drawn: none are on the first frame

_SHADES = " ░▒▓█"
_STYLE_CACHE: dict[tuple[int, int], Style] = {}
# Every segment carries a style: Textual's NO_COLOR filter reads `segment.style.color` and
# crashed on the Dataset screen's unstyled segments.
PLAIN = Style()
INK = 0.12   # a pixel above this share of the set's brightest pixel is part of a digit

Cell = tuple[list[list[Segment]], str]     # a digit's rows of segments, and its caption


def _grey(top: int, bottom: int) -> Style:
    key = (top, bottom)
    style = _STYLE_CACHE.get(key)
    if style is None:
        style = Style.parse(f"rgb({top},{top},{top}) on rgb({bottom},{bottom},{bottom})")
        _STYLE_CACHE[key] = style
    return style


def _quantise(image: np.ndarray) -> list[list[int]]:
    """0–255 ints, 16 grey levels (keeps the style cache small), an even number of rows."""
    rows = [[(int(v) >> 4) * 17 for v in row] for row in image]
    if len(rows) % 2:
        rows.append([0] * len(rows[0]))
    return rows


def digit_segments(image: np.ndarray, plain: bool = False) -> list[list[Segment]]:
    """Rows of segments for one image (H×W, 0–255): H/2 rows of W cells."""
    rows = _quantise(image)
    out: list[list[Segment]] = []
    for y in range(0, len(rows), 2):
        top, bottom = rows[y], rows[y + 1]
        if plain:
            line = "".join(_SHADES[min(4, (max(a, b) * 5) // 256)] for a, b in zip(top, bottom))
            out.append([Segment(line, PLAIN)])
        else:
            out.append([Segment("▀", _grey(a, b)) for a, b in zip(top, bottom)])
    return out


def digit_text(image: np.ndarray, plain: bool = False) -> Text:
    """One digit as Rich Text (for Statics and tables)."""
    text = Text()
    for i, row in enumerate(digit_segments(image, plain)):
        if i:
            text.append("\n")
        for seg in row:
            text.append(seg.text, seg.style)
    return text


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) averaging weights: output pixel i is the mean of the input span it covers."""
    import numpy as np

    step = n_in / n_out
    edges = np.arange(n_in + 1, dtype=np.float64)
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = i * step, (i + 1) * step
        weights[i] = np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0, None)
    return weights / step


def ink_box(images: Sequence[np.ndarray]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the part of the images where any of them has ink."""
    import numpy as np

    stack = np.stack([np.asarray(i, dtype=np.float32) for i in images])
    peak = float(stack.max()) if stack.size else 0.0
    h, w = stack.shape[1:]
    if peak <= 0:
        return 0, h, 0, w
    ink = np.asarray((stack > INK * peak).any(axis=0))    # numpy types `any` as maybe a scalar
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def fit_images(images: Sequence[np.ndarray], max_w: int, max_h: int) -> list[np.ndarray]:
    """The images cropped to the set's common ink box and averaged down into at most
    `max_w` × `max_h` pixels (same crop and scale for all, aspect kept, never enlarged)."""
    import numpy as np

    if not len(images):
        return []
    shapes = {np.shape(i) for i in images}
    if len(shapes) > 1:          # mixed sizes: each on its own
        return [fit_images([i], max_w, max_h)[0] for i in images]
    top, bottom, left, right = ink_box(images)
    bh, bw = bottom - top, right - left
    scale = min(1.0, max(1, max_w) / bw, max(1, max_h) / bh)
    h, w = max(1, round(bh * scale)), max(1, round(bw * scale))
    rows, cols = _area_weights(bh, h), _area_weights(bw, w)
    return [np.clip(np.rint(rows @ np.asarray(img, dtype=np.float64)[top:bottom, left:right]
                            @ cols.T), 0, 255).astype(np.uint8) for img in images]


class DigitGrid(Widget):
    """Many digits with captions, wrapped into as many columns as the width allows.

    With `per_row`, the digits are drawn small enough (`fit_images`) that `per_row` of them fit
    the width (never bigger than they are, at most `max_rows` rows tall), and no more than
    `per_row` go in one row: ten classes make ten aligned columns.
    """

    DEFAULT_CSS = """
    DigitGrid { height: auto; width: 1fr; }
    """

    def __init__(self, images: Sequence[np.ndarray] = (), captions: Sequence[str] = (), *,
                 gap: int = 1, per_row: int | None = None, max_rows: int | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.gap = gap
        self.per_row = per_row
        self.max_rows = max_rows
        self._images: list[np.ndarray] = []
        self._captions: list[str] = []
        self._laid_out: tuple[int, list[Cell], int, int] | None = None   # (width, cells, w, h)
        self.set_digits(images, captions)

    @property
    def captions(self) -> list[str]:
        """The captions of the digits shown, in order."""
        return list(self._captions)

    def set_digits(self, images: Sequence[np.ndarray], captions: Sequence[str] = ()) -> None:
        self._images = list(images)
        # Captions are drawn as raw segments: their control characters shown as escapes.
        self._captions = ([visible(c) for c in captions]
                          + [""] * len(self._images))[:len(self._images)]
        self._laid_out = None
        self.refresh(layout=True)

    def _layout(self, width: int) -> tuple[list[Cell], int, int]:
        """(cells, cell width, cell height in rows) for `width` columns, cached per width."""
        key = width if self.per_row else -1
        if self._laid_out is not None and self._laid_out[0] == key:
            return self._laid_out[1:]
        plain = bool(getattr(self.app, "plain_digits", False)) if self.is_attached else False
        images = self._images
        cap_w = max([len(c) for c in self._captions] + [1])
        if self.per_row and images:
            room = (max(1, width) - self.gap * (self.per_row - 1)) // self.per_row
            max_h = 2 * self.max_rows if self.max_rows else 10_000
            images = fit_images(images, max(1, room), max_h)
        cells = [(digit_segments(img, plain), cap) for img, cap in zip(images, self._captions)]
        cell_w, cell_h = 1, 0
        if len(images):
            import numpy as np

            cell_w = max([np.shape(img)[1] for img in images] + [cap_w])
            cell_h = (max(np.shape(img)[0] for img in images) + 1) // 2
        self._laid_out = (key, cells, cell_w, cell_h)
        return cells, cell_w, cell_h

    def _columns(self, width: int, cell_w: int) -> int:
        cols = max(1, (width + self.gap) // (cell_w + self.gap))
        return min(cols, self.per_row) if self.per_row else cols

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        cells, cell_w, cell_h = self._layout(width)
        if not cells:
            return 1
        rows = -(-len(cells) // self._columns(width, cell_w))
        return rows * (cell_h + (1 if any(self._captions) else 0))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        cells, cell_w, cell_h = self._layout(width)
        if not cells:
            return (Strip([Segment("(no images)".ljust(width), PLAIN)]) if y == 0
                    else Strip.blank(width, PLAIN))
        per_row = cell_h + (1 if any(self._captions) else 0)
        cols = self._columns(width, cell_w)
        band, line = divmod(y, per_row)
        segs: list[Segment] = []
        for i, (rows, caption) in enumerate(cells[band * cols:(band + 1) * cols]):
            if i:
                segs.append(Segment(" " * self.gap, PLAIN))
            if line < len(rows):
                row = rows[line]
                left = (cell_w - sum(len(s.text) for s in row)) // 2
                if left > 0:
                    segs.append(Segment(" " * left, PLAIN))
                segs.extend(row)
                pad = cell_w - left - sum(len(s.text) for s in row)
            else:
                segs.append(Segment(caption[:cell_w].center(cell_w), Style(bold=True)))
                pad = 0
            if pad > 0:
                segs.append(Segment(" " * pad, PLAIN))
        return Strip(segs).adjust_cell_length(width, PLAIN)
