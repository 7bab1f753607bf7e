"""The self-contained HTML report: tables, inline SVG charts, confusion matrices, and the
settings and library versions of every run, in one file with no scripts or external files.

The page is the Jinja2 template `templates/report.html.j2`, autoescaped (run ids, paths and
error messages are the user's); this module hands it what it shows: the table cells and notes
of `report_text`, the charts of `charts` placed on an SVG canvas, the confusion matrices summed
per group.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import jinja2

from mnist_tui.engine.present import percent
from mnist_tui.engine.suites.charts import Chart, chart
from mnist_tui.engine.suites.report_model import SuiteReport
from mnist_tui.engine.suites.report_text import (
    TABLE_HEADERS,
    at_once_cell,
    backend_lines,
    degradation_text,
    notes,
    ran_on_cell,
    table_cells,
)
from mnist_tui.engine.text import visible

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
LEFT_COLUMNS = ("method", "preset", "comparison")    # left-aligned columns of the comparison


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("mnist_tui.engine.suites", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=True, finalize=_finalize)


# Control characters a page would not show as written: NUL, ESC and the other C0 and C1
# controls, and the bidirectional overrides that reorder what follows them (`\u202e`); a
# newline or tab stays (the spec block is laid out with them; elsewhere they are blanks).
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _finalize(value: Any) -> Any:
    """Every value the page shows: a missing one as nothing, text from records with its hidden
    characters as the visible escapes the terminal and Markdown show (autoescape then makes
    it HTML-safe): a run id or preset holding U+202E cannot show reversed in the report."""
    if value is None:
        return ""
    if isinstance(value, str) and not hasattr(value, "__html__"):   # a macro's Markup: ours
        return _HIDDEN.sub(lambda m: visible(m.group(0)), value)
    return value


def svg_chart(c: Chart, title: str, y_label: str, width: int = 640,
              height: int = 360) -> dict[str, Any]:
    """Where everything of chart `c` goes on a width × height SVG canvas (a line per series,
    mean ± SD error bars), as the template draws it."""
    left, right, top, bottom = 60, 170, 30, 45
    pw, ph = width - left - right, height - top - bottom
    fx: Callable[[int], float] = lambda v: left + c.x_fraction(v) * pw
    fy: Callable[[float], float] = lambda v: top + ph - c.y_fraction(v) * ph
    lines: list[dict[str, Any]] = []
    for i, (name, pts) in enumerate(c.series.items()):
        marks: list[dict[str, Any]] = []
        for p in pts:
            px, py = fx(p.images), fy(p.mean)
            bar = None
            if p.spread:
                ya, yb = fy(p.low), fy(p.high)
                bar = (f"M{px:.1f},{ya:.1f}V{yb:.1f}M{px - 4:.1f},{ya:.1f}h8"
                       f"M{px - 4:.1f},{yb:.1f}h8")
            tip = f"{name}: {p.images:,} images, mean {p.mean:.4g}" + (
                f" ± {p.spread:.3g}" if p.spread is not None else "") + f" (n={p.n})"
            marks.append({"cx": f"{px:.1f}", "cy": f"{py:.1f}", "bar": bar, "tip": tip})
        lines.append({"name": name, "color": PALETTE[i % len(PALETTE)],
                      "points": " ".join(m["cx"] + "," + m["cy"] for m in marks),
                      "marks": marks, "legend_y": top + 14 + 18 * i})
    return {
        "width": width, "height": height, "left": left, "top": top, "pw": pw, "ph": ph,
        "title": title, "y_label": y_label, "x_label": c.x_label, "lines": lines,
        "y_ticks": [(f"{fy(t):.1f}", f"{fy(t) + 4:.1f}", label)
                    for t, label in zip(c.y_ticks, c.y_labels)],
        "x_ticks": [(f"{fx(x):.1f}", label) for x, label in zip(c.x_ticks, c.x_labels)],
    }


def charts(report: SuiteReport) -> list[dict[str, Any]]:
    """Accuracy and fit time against images, when some line has two points or more."""
    acc = chart(report, "accuracy")
    if acc is None or not any(len(v) > 1 for v in acc.series.values()):
        return []
    out = [svg_chart(acc, "Accuracy against images (mean ± SD over seeds)",
                     "accuracy % (t-SNE+GMM one-to-one)")]
    fit = chart(report, "fit_s")
    if fit is not None:
        out.append(svg_chart(fit, "Fit time against images (mean ± SD)", "fit time s (log)"))
    return out


def confusion_table(cm: list[list[int]], caption: str) -> dict[str, Any]:
    """A matrix's cells with their colours: the diagonal blue, errors red, by share of the
    largest cell."""
    peak = max((max(r) for r in cm), default=1) or 1
    rows = []
    for i, r in enumerate(cm):
        cells = []
        for j, v in enumerate(r):
            a = v / peak
            bg = f"rgba(31,119,180,{a:.2f})" if i == j else f"rgba(214,39,40,{min(1, 3 * a):.2f})"
            fg = "#fff" if a > 0.55 and i == j else "#000"
            cells.append({"value": v, "style": f"background:{bg};color:{fg}"})
        rows.append(cells)
    return {"caption": caption, "columns": list(range(len(cm[0]))), "rows": rows}


def _sum_matrices(given: list[list[list[int]] | None]) -> list[list[int]] | None:
    mats = [m for m in given if m]
    if not mats or any(len(m) != len(mats[0]) for m in mats):
        return None
    return [[sum(m[i][j] for m in mats) for j in range(len(mats[0][i]))]
            for i in range(len(mats[0]))]


def confusion_tables(report: SuiteReport) -> list[dict[str, Any]]:
    """Per group, its runs' confusion matrices summed."""
    by_id = {r.run_id: r for r in report.runs}
    out = []
    for g in report.groups:
        mats = [by_id[i].confusion_matrix for i in g.run_ids if i in by_id]
        total = _sum_matrices(mats)
        if total:
            mapping = next((by_id[i].confusion_mapping for i in g.run_ids if i in by_id), None)
            cap = (f"{g.name} {g.images:,} images, summed over "
                   f"{len(mats)} seed(s)" + (f", {mapping} mapping" if mapping else ""))
            out.append(confusion_table(total, cap))
    return out


def _value(v: float | None, digits: int = 2, pct: bool = False) -> str:
    if v is None:
        return "–"
    return percent(v, 2, missing="–") if pct else f"{v:,.{digits}f}"


def run_rows(report: SuiteReport) -> list[dict[str, Any]]:
    """The Runs table: a member per row, failed ones marked."""
    return [{"bad": r.status not in ("finished", "pending"), "member": r.member,
             "status": r.status, "run_id": r.run_id or "–",
             "cells": [_value(r.accuracy, pct=True), _value(r.accuracy_majority, pct=True),
                       _value(r.fit_s), _value(r.predict_s), _value(r.total_s),
                       _value(r.peak_rss_mb, 0)],
             "eval_on": r.eval_on, "ran_on": ran_on_cell(r), "at_once": at_once_cell(r)}
            for r in report.rows]


def run_details(report: SuiteReport) -> list[dict[str, Any]]:
    """Each run's settings, library versions, machine, data and times."""
    out = []
    for d in report.runs:
        out.append({
            "member": d.member, "run_id": d.run_id, "status": d.status,
            "versions": ", ".join(f"{k} {v}" for k, v in (d.versions or {}).items()),
            "machine": d.machine or {}, "dataset": d.dataset or {},
            "started_at": d.started_at, "finished_at": d.finished_at,
            "timings": ", ".join(f"{k} {v:.2f}s" for k, v in (d.timings or {}).items()
                                 if isinstance(v, (int, float))),
            "spec": json.dumps(d.spec, indent=1, sort_keys=True)})
    return out


def html(report: SuiteReport) -> str:
    groups = [table_cells(g) for g in report.groups]
    return environment().get_template("report.html.j2").render(
        title=report.title,
        report=report, seeds=", ".join(map(str, report.seeds)),
        headers=[(h, "l" if h in LEFT_COLUMNS else "") for h in TABLE_HEADERS],
        groups=[[(c, "l" if i in (0, 1, len(cells) - 1) else "") for i, c in enumerate(cells)]
                for cells in groups],
        notes=notes(report),
        degradation=[degradation_text(d) for d in report.degradation],
        backends=backend_lines(report),
        charts=charts(report), confusion=confusion_tables(report), rows=run_rows(report),
        errors=[r for r in report.rows if r.error], details=run_details(report),
        suite_spec_text=json.dumps(report.suite, indent=1), definitions=report.definitions)
