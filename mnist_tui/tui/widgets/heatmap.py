"""The confusion matrix as a heat map with counts (memray's gradient-coloured table, in Rich text).

Rows are the true digit, columns the prediction. Each cell is shaded by its share of the true
digit's row: the diagonal (right answers) in greens, mistakes in reds on a roughly logarithmic
scale (under 1 %, 1–5 %, 5–15 %, 15–40 %, 40 % and more), so one stray error never looks like a
merged class. A zero off the diagonal is a neutral dim "·", not a colour.

Every palette has to read:

* 256 colours / truecolor: the ramps below (xterm-256 indices, the same over an SSH link).
* 16 colours (TERM=xterm, screen): every red of the ramp becomes the one ANSI red, so the levels
  are built to differ without colour too: small mistakes are red *text* (bold from 1 %), larger
  ones a red *background* (bold from 15 %, underlined from 40 %).
* NO_COLOR (`plain`): no colour at all; size shows through attributes — normal, bold, reverse,
  reverse bold, reverse bold underlined — and the diagonal is underlined.

`legend_text` prints the scale in the same styles under the matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.text import Text

from mnist_tui.engine.present import percent

ERROR_STEPS = (0.01, 0.05, 0.15, 0.40)      # level 1 below 1 %, … level 5 from 40 %
ERROR_LABELS = ("<1%", "1–5%", "5–15%", "15–40%", "≥40%")
ZERO = "·"

# Colour: small mistakes as text, large ones as backgrounds; attributes grow with the level so
# that 16 colours (one red) still tell them apart.
_ERROR_COLOUR = (
    Style(color="color(167)"),                                    # 1: soft red text
    Style(color="color(203)", bold=True),                         # 2: red text, bold
    Style(color="color(231)", bgcolor="color(88)"),               # 3: dark red background
    Style(color="color(231)", bgcolor="color(160)", bold=True),   # 4: red background, bold
    Style(color="color(231)", bgcolor="color(196)", bold=True, underline=True),  # 5: + underline
)
_ERROR_PLAIN = (
    Style(),
    Style(bold=True),
    Style(reverse=True),
    Style(reverse=True, bold=True),
    Style(reverse=True, bold=True, underline=True),
)
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


def error_level(count: int, row_total: int) -> int:
    """0 for no mistake, else 1–5 by the mistake's share of its true row."""
    if count <= 0 or row_total <= 0:
        return 0
    share = count / row_total
    return 1 + sum(share >= step for step in ERROR_STEPS)


def _diagonal_style(recall: float, plain: bool) -> Style:
    """Right answers: green backgrounds from 80 % of the row, green text from 50 %, amber
    below (a digit mostly missed is no success); underlined where there is no background."""
    if plain:
        return Style(underline=True, bold=recall >= 0.95)
    if recall >= 0.95:
        return Style(color="color(231)", bgcolor="color(28)", bold=True)
    if recall >= 0.8:
        return Style(color="color(231)", bgcolor="color(22)")
    if recall >= 0.5:
        return Style(color="color(71)", bold=True, underline=True)
    return Style(color="color(178)", bold=True, underline=True)


def cell_style(count: int, row_total: int, diagonal: bool, plain: bool = False) -> Style:
    """The style of one cell (public for the tests and the legend)."""
    if diagonal:
        return _diagonal_style(count / row_total if row_total else 0.0, plain)
    level = error_level(count, row_total)
    if level == 0:
        return _ZERO_STYLE
    return (_ERROR_PLAIN if plain else _ERROR_COLOUR)[level - 1]


def confusion_text(matrix: Sequence[Sequence[int]], labels: Sequence[str] | None = None,
                   plain: bool = False) -> Text:
    """Rows = true digit, columns = predicted. `plain` (NO_COLOR): attributes instead of colours."""
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
            style = cell_style(count, total, i == j, plain)
            shown = ZERO if count == 0 and i != j else str(count)
            text.append(" " * (w - len(shown) - 1))
            text.append(" " + shown, style)
    return text


def legend_text(plain: bool = False) -> Text:
    """One line: what the shades of mistakes mean (share of the true digit's row)."""
    text = Text()
    text.append("mistakes, share of the row: ", "dim")
    text.append(ZERO, _ZERO_STYLE)
    text.append(" none")
    for level, label in enumerate(ERROR_LABELS, 1):
        text.append("  ")
        text.append(f" {label} ", (_ERROR_PLAIN if plain else _ERROR_COLOUR)[level - 1])
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
