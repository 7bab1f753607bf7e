"""The learning curves from a run's progress: the training loss and accuracy per step (the
epoch's running values, `RunProgress.curve`) as a line, the epochs' validation points on top.
A run recorded before there were step points draws its epochs, as it always did. The Monitor
draws them; any screen with a run's curve and history can."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mnist_tui.tui.summary import history_series
from mnist_tui.tui.widgets.plots import Line

MAX_POINTS = 400     # a series drawn with more points is thinned (a screen has fewer columns)


def thin(points: Sequence[tuple[float, float]], most: int = MAX_POINTS) -> list[tuple[float,
                                                                                         float]]:
    """At most about `most` of `points`, evenly taken, the last one always kept."""
    if len(points) <= most:
        return list(points)
    stride = -(-len(points) // most)
    kept = list(points[::stride])
    if kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def learning_curves(curve: Sequence[tuple[float, Mapping[str, float]]],
                    history: list[dict[str, float]]) -> tuple[list[Line], list[Line]]:
    """(loss lines, accuracy lines) of a run's per-step `curve` (`RunProgress.curve`) and epoch
    `history`: per step where the run recorded steps, with its epochs' validation values on
    top; per epoch otherwise."""
    if not curve:
        loss, acc = history_series(history)
        return ([Line(n, xs, ys) for n, xs, ys in loss],
                [Line(n, xs, ys) for n, xs, ys in acc])
    charts: tuple[list[Line], list[Line]] = ([], [])
    for lines, key in zip(charts, ("loss", "accuracy")):
        steps = thin([(at, m[key]) for at, m in curve if key in m])
        if steps:
            lines.append(Line(key, [x for x, _ in steps], [y for _, y in steps]))
        val = [(h["epoch"], h[f"val_{key}"]) for h in history
               if "epoch" in h and f"val_{key}" in h]
        if val:
            lines.append(Line(f"val {key}", [x for x, _ in val], [y for _, y in val]))
    return charts
