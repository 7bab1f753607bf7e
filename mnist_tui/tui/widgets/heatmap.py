"""The confusion matrix as a heat map with counts (memray's gradient-coloured table, in Rich text).

Cell colour is the share of the true digit's row: the diagonal on a green ramp, mistakes on a red
ramp. Colours are chosen from the xterm 256-colour cube so they look the same over an SSH link
with no truecolor. Intensity is also carried by text attributes (reverse for ≥ 50 % of the row,
bold for ≥ 5 %, dim for 0) so the map still reads under NO_COLOR or on a monochrome terminal.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.text import Text

# xterm-256 indices, light → strong
_GOOD = (22, 28, 34, 40, 46)     # greens
_BAD = (52, 88, 124, 160, 196)   # reds


def _ramp(share: float, diagonal: bool) -> Style:
    if share <= 0:
        return Style(dim=True)
    ramp = _GOOD if diagonal else _BAD
    level = min(len(ramp) - 1, int(share * len(ramp)))
    colour = f"color({ramp[level]})"
    return Style(bgcolor=colour, color="white" if level < 3 else "black", bold=share >= 0.05)


def confusion_text(matrix: Sequence[Sequence[int]], labels: Sequence[str] | None = None,
                   plain: bool = False) -> Text:
    """Rows = true digit, columns = predicted. `plain` (NO_COLOR): attributes instead of colours."""
    n = len(matrix)
    labels = list(labels or [str(i) for i in range(n)])
    big = max((max(row) for row in matrix if len(row)), default=0)
    w = max(3, len(str(big))) + 1
    text = Text()
    text.append("true╲pred".ljust(6)[:6], Style(dim=True))
    for lab in labels:
        text.append(lab.rjust(w), Style(bold=True))
    for i, row in enumerate(matrix):
        text.append("\n")
        text.append(f"{labels[i]:>4}  ", Style(bold=True))
        total = sum(row) or 1
        for j, count in enumerate(row):
            share = count / total
            cell = str(count).rjust(w)
            if plain:
                style = Style(dim=True) if count == 0 else Style(
                    reverse=share >= 0.5, bold=share >= 0.05, underline=(i == j))
            else:
                style = _ramp(share, i == j)
            text.append(cell, style)
    return text


def per_class_text(matrix: Sequence[Sequence[int]], precision: Sequence | None = None,
                   recall: Sequence | None = None) -> Text:
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
        text.append(_pct(rec).rjust(6), _score_style(rec))
        text.append("  ")
        text.append(_pct(prec).rjust(9), _score_style(prec))
        text.append(f"  {support:>7,}")
    return text


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def _score_style(v) -> Style:
    if v is None:
        return Style(dim=True)
    if v >= 0.95:
        return Style(color="color(40)", bold=True)
    if v >= 0.8:
        return Style(color="color(178)")
    return Style(color="color(196)", bold=True)
