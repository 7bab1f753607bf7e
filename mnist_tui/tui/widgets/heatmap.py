"""The confusion matrix as a heat map with counts (memray's gradient-coloured table, in Rich text).

Rows are the true digit, columns the prediction. Each cell is shaded by its share of the true
digit's row: the diagonal (right answers) in greens, mistakes in reds on a roughly logarithmic
scale, so one stray error never looks like a merged class. A zero off the diagonal is a neutral
dim "·", not a colour.

A palette shows only as many levels of mistakes as it can tell apart (`Palette`, `levels`):

* `full` (256 colours, truecolor): five levels (under 1 %, 1–5 %, 5–15 %, 15–40 %, 40 % and
  more), a red ramp (xterm-256 indices, the same over an SSH link) with text for small
  mistakes and backgrounds for large ones.
* `sixteen` (TERM=xterm, screen): the ramp's reds become one or two ANSI reds, and bold on a
  bright colour barely shows, so four levels (under 1 %, 1–5 %, 5–40 %, 40 % and more), each
  told from the next by something other than colour or weight: red text, red text underlined,
  a red block, a red block underlined.
* `plain` (NO_COLOR): the same four levels through attributes alone — normal, underlined,
  reverse, reverse underlined (and bold) — and the diagonal in bold, never underlined, so that
  no right answer looks like a mistake.

`legend_text` prints the palette's levels in the same styles under the matrix; the tests read
them back from the rendered cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.style import Style
from rich.text import Text

from mnist_tui.engine.present import percent

Palette = Literal["full", "sixteen", "plain"]
ZERO = "·"


@dataclass(frozen=True)
class Level:
    """One shade of mistakes: from `low` (share of the true row) on, its label and style."""

    low: float
    label: str
    style: Style


_RED_TEXT = "color(203)"
_WHITE = "color(231)"
LEVELS: dict[Palette, tuple[Level, ...]] = {
    # Colour: small mistakes as text, large ones as backgrounds; the ramp carries the size.
    "full": (
        Level(0.0, "<1%", Style(color="color(167)")),
        Level(0.01, "1–5%", Style(color=_RED_TEXT, bold=True)),
        Level(0.05, "5–15%", Style(color=_WHITE, bgcolor="color(88)")),
        Level(0.15, "15–40%", Style(color=_WHITE, bgcolor="color(160)", bold=True)),
        Level(0.40, "≥40%", Style(color=_WHITE, bgcolor="color(196)", bold=True,
                                  underline=True)),
    ),
    # 16 colours: text or block, underlined or not (bold only on top, never the difference).
    "sixteen": (
        Level(0.0, "<1%", Style(color=_RED_TEXT)),
        Level(0.01, "1–5%", Style(color=_RED_TEXT, underline=True)),
        Level(0.05, "5–40%", Style(color=_WHITE, bgcolor="color(160)")),
        Level(0.40, "≥40%", Style(color=_WHITE, bgcolor="color(196)", bold=True,
                                  underline=True)),
    ),
    # NO_COLOR: attributes only.
    "plain": (
        Level(0.0, "<1%", Style()),
        Level(0.01, "1–5%", Style(underline=True)),
        Level(0.05, "5–40%", Style(reverse=True)),
        Level(0.40, "≥40%", Style(reverse=True, bold=True, underline=True)),
    ),
}
_ZERO_STYLE = Style(dim=True)
MAX_CLASSES = 100      # a confusion matrix wider than this is not one of ours


def counts_matrix(value: object) -> list[list[int]] | None:
    """`value` when it is a confusion matrix this module can draw: a square list of lists of
    counts (non-negative ints, no bools), 1 to MAX_CLASSES wide; None for anything else a
    planted result record may hold (rows of two lengths, strings, NaN, a dict)."""
    if not isinstance(value, list) or not 0 < len(value) <= MAX_CLASSES:
        return None
    n = len(value)
    for row in value:
        if not isinstance(row, list) or len(row) != n or not all(
                isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in row):
            return None
    return value


def scores(value: object) -> list[float | None] | None:
    """Per-class scores as recorded: a list whose entries are finite numbers (others None),
    or None when it is not a list."""
    import math

    if not isinstance(value, list):
        return None
    return [v if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            else None for v in value]


def palette_for(color_system: str | None, no_color: bool) -> Palette:
    """The palette a terminal can show: `plain` under NO_COLOR (or with no colours at all),
    `sixteen` for the 16 standard colours (Rich's "standard" and "windows"), else `full`."""
    if no_color or color_system is None:
        return "plain"
    return "sixteen" if color_system in ("standard", "windows") else "full"


def levels(palette: Palette = "full") -> tuple[Level, ...]:
    """The levels of mistakes `palette` tells apart, smallest first."""
    return LEVELS[palette]


def _palette(plain: bool, palette: Palette | None) -> Palette:
    return palette if palette is not None else "plain" if plain else "full"


def error_level(count: int, row_total: int, palette: Palette = "full") -> int:
    """0 for no mistake, else 1 to len(levels(palette)) by the mistake's share of its row."""
    if count <= 0 or row_total <= 0:
        return 0
    share = count / row_total
    return sum(share >= level.low for level in LEVELS[palette])


def _diagonal_style(recall: float, palette: Palette) -> Style:
    """Right answers: green backgrounds from 80 % of the row, green text from 50 %, amber
    below (a digit mostly missed is no success). Underlined (where there is no background) in
    full colour only: in 16 colours and NO_COLOR underline marks mistakes, and the diagonal
    is bold instead."""
    if palette == "plain":
        return Style(bold=True)
    mark = palette == "full"
    if recall >= 0.95:
        return Style(color=_WHITE, bgcolor="color(28)", bold=True)
    if recall >= 0.8:
        return Style(color=_WHITE, bgcolor="color(22)")
    if recall >= 0.5:
        return Style(color="color(71)", bold=True, underline=mark)
    return Style(color="color(178)", bold=True, underline=mark)


def cell_style(count: int, row_total: int, diagonal: bool, plain: bool = False,
               palette: Palette | None = None) -> Style:
    """The style of one cell (public for the tests and the legend); `palette` wins over
    `plain` (NO_COLOR), which is `palette="plain"`."""
    chosen = _palette(plain, palette)
    if diagonal:
        return _diagonal_style(count / row_total if row_total else 0.0, chosen)
    level = error_level(count, row_total, chosen)
    if level == 0:
        return _ZERO_STYLE
    return LEVELS[chosen][level - 1].style


def confusion_text(matrix: Sequence[Sequence[int]], labels: Sequence[str] | None = None,
                   plain: bool = False, palette: Palette | None = None) -> Text:
    """Rows = true digit, columns = predicted, in `palette` (`plain`: NO_COLOR's)."""
    chosen = _palette(plain, palette)
    n = len(matrix)
    labels = list(labels or [str(i) for i in range(n)])
    big = max((max(row) for row in matrix if len(row)), default=0)
    w = max(3, len(str(big))) + 1
    text = Text()
    text.append("t╲p".ljust(6), Style(dim=True))
    for lab in labels:
        text.append(lab.rjust(w), Style(bold=True))
    for i, row in enumerate(matrix):
        text.append("\n")
        text.append(f"{labels[i]:>4}  ", Style(bold=True))
        total = sum(row)
        for j, count in enumerate(row):
            style = cell_style(count, total, i == j, palette=chosen)
            shown = ZERO if count == 0 and i != j else str(count)
            text.append(" " * (w - len(shown) - 1))
            text.append(" " + shown, style)
    return text


def legend_text(plain: bool = False, palette: Palette | None = None) -> Text:
    """One line: what the shades of mistakes mean (share of the true digit's row), only the
    levels `palette` tells apart, each in its style."""
    text = Text()
    text.append("mistakes, share of the row: ", "dim")
    text.append(ZERO, _ZERO_STYLE)
    text.append(" none")
    for level in LEVELS[_palette(plain, palette)]:
        text.append("  ")
        text.append(f" {level.label} ", level.style)
    return text


def per_class_text(matrix: Sequence[Sequence[int]],
                   precision: Sequence[float | None] | None = None,
                   recall: Sequence[float | None] | None = None) -> Text:
    """Per-digit recall and precision (from the result when given, else from the matrix)."""
    n = len(matrix)
    col_sums = [sum(matrix[i][j] for i in range(n)) for j in range(n)]
    text = Text()
    text.append("digit  recall  precision  support", Style(bold=True))
    for d in range(n):
        support = sum(matrix[d])
        rec = recall[d] if recall is not None and d < len(recall) else (
            matrix[d][d] / support if support else None)
        prec = precision[d] if precision is not None and d < len(precision) else (
            matrix[d][d] / col_sums[d] if col_sums[d] else None)
        text.append(f"\n{d:>5}  ")
        text.append(percent(rec, 1).rjust(6), _score_style(rec))
        text.append("  ")
        text.append(percent(prec, 1).rjust(9), _score_style(prec))
        text.append(f"  {support:>7,}")
    return text


def _score_style(v: float | None) -> Style:
    if v is None:
        return Style(dim=True)
    if v >= 0.95:
        return Style(color="color(40)", bold=True)
    if v >= 0.8:
        return Style(color="color(178)")
    return Style(color="color(196)", bold=True)
