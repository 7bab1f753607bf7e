"""A report's plain forms: the terminal table and charts (`--batch --suite`), Markdown, JSON and
CSV, and the table cells and notes the HTML page shows too. Nothing here computes a number: the
statistics are `report.py`'s, the charts' series and ticks `charts.py`'s.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import replace

from mnist_tui.engine.jobs.jsonvalues import dumps
from mnist_tui.engine.present import percent
from mnist_tui.engine.suites.chart_plotext import draw_chart
from mnist_tui.engine.suites.charts import chart
from mnist_tui.engine.suites.report_model import (
    Degradation,
    GroupRow,
    MemberRow,
    Stat,
    SuiteReport,
)
from mnist_tui.engine.text import shown, visible

CSV_COLUMNS = ("member", "method", "preset", "images_requested", "images", "seed",
               "subset_seed", "status", "run_id", "accuracy", "accuracy_kind",
               "accuracy_majority", "accuracy_hungarian", "nmi", "ari", "loss", "n_eval",
               "fit_s", "fit_phases", "predict_s", "predict_phases", "total_s", "peak_rss_mb",
               "vgg_input_size", "vgg_weights", "dataset", "dataset_fingerprint", "error",
               "executor", "host", "node", "where", "gpu_name", "threads", "attempt",
               "retried_after", "concurrency", "backend", "backend_version")


def to_json(report: SuiteReport) -> str:
    return dumps(report.to_dict(), indent=2) + "\n"


# What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection"): `=`, `+`, `-`,
# `@`, and a tab or carriage return in front of one; a NUL in front of one (OWASP ASVS 1.2.10
# lists it); the full-width signs (`＝＋－＠`), which Excel in East Asian locales reads as the
# ASCII ones.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: object) -> object:
    """One CSV cell: None empty, a float its exact repr, a number as it is (a negative number
    is a number, not a formula: a spreadsheet must keep it one), and a string that a
    spreadsheet would run as a formula (`=HYPERLINK(…)`, `@SUM(…)`, `-2+3`) neutralised with a
    leading `'`, as OWASP recommends: names, presets and errors come from files anyone can
    write, and a report is for sharing. Quoting is the csv module's."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(report: SuiteReport) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in report.rows:
        row = r.to_dict()
        w.writerow({k: csv_cell(row.get(k)) for k in CSV_COLUMNS})
    return buf.getvalue()


# -- Markdown: text from records escaped, so that a name adds no column, row, link or HTML --

_MD_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")
_MD_ESCAPES = {"\\": "\\\\", "|": "\\|", "`": "\\`", "[": "\\[", "]": "\\]",
               "&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_SPECIAL = re.compile("[" + re.escape("".join(_MD_ESCAPES)) + "]")
_MD_BLOCK_START = re.compile(r"^(\d+(?=[.)])|)([#+=*.)-])")


def md_cell(text: object) -> str:
    """`text` as inline Markdown that shows it literally: one line (line breaks become
    spaces: a newline would end the table row), `|` (a new column), backslashes, backticks
    and brackets (code spans, links) escaped, `& < >` as entities (no raw HTML), and other
    control characters as visible escapes."""
    one_line = _MD_BREAKS.sub(" ", str(text))
    return visible(_MD_SPECIAL.sub(lambda m: _MD_ESCAPES[m.group(0)], one_line))


def md_text(text: object) -> str:
    """`md_cell`, for the start of a list item or a line too: a leading `#`, `-`, `+`, `=`,
    `*` or `1.` (a heading, a nested list, a rule) is escaped."""
    return _MD_BLOCK_START.sub(r"\1\\\2", md_cell(text))


def md_code(text: object) -> str:
    """`text` as a code span (shown as typed: HTML inside one is text), fenced with more
    backticks than it holds in a row, on one line."""
    one_line = visible(_MD_BREAKS.sub(" ", str(text)))
    ticks = "`" * (max((len(run) for run in re.findall("`+", one_line)), default=0) + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{ticks}{pad}{one_line}{pad}{ticks}"


def md_fence(block: str) -> list[str]:
    """`block` as a fenced code block whose fence is longer than any run of backticks in it
    (a label holding ``` cannot close the block early)."""
    longest = max((len(run) for run in re.findall("`+", block)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, block, fence]


def fmt_pct(s: Stat | None, digits: int = 1) -> str:
    if not s:
        return "–"
    text = percent(s.mean, digits, missing="–")
    return text + (f" ± {100 * s.sd:.{digits}f}" if s.sd is not None else "")


def fmt_num(s: Stat | None, digits: int = 1, unit: str = "") -> str:
    if not s:
        return "–"
    text = f"{s.mean:,.{digits}f}{unit}"
    return text + (f" ± {s.sd:,.{digits}f}" if s.sd is not None else "")


def fmt_ratio(s: Stat | None) -> str:
    if not s:
        return "–"
    return f"{s.mean:.3f}" + (f" ± {s.sd:.3f}" if s.sd is not None else "")


TABLE_HEADERS = ("method", "preset", "images", "seeds", "accuracy", "majority vote", "NMI",
                 "ARI", "fit s", "predict s", "total s", "peak MB", "comparison")


def images_cell(row: MemberRow) -> str:
    """A member row's image count as asked: a number, or `all` for the standard protocol."""
    n = row.images_requested
    return f"{n:,}" if isinstance(n, int) else "all"


def table_cells(g: GroupRow) -> list[str]:
    clustering = g.method == "tsne-gmm"
    method = g.method_name + (f" {g.vgg_input_size}px" if g.vgg_input_size else "") + (
        " random weights" if g.vgg_weights == "none" else "")
    images = f"{g.images:,}" if g.images else "all"
    if g.protocol == "standard":
        images += " (standard)"
    seeds = f"{g.n}" + (f" ({g.n_failed} failed)" if g.n_failed else "") + (
        f" of {g.n_members}" if g.n + g.n_failed < g.n_members else "")
    return [method, g.preset, images, seeds,
            fmt_pct(g.accuracy) + (" 1:1" if clustering and g.accuracy else ""),
            fmt_pct(g.accuracy_majority) if clustering else "n/a",
            fmt_ratio(g.nmi) if clustering else "n/a",
            fmt_ratio(g.ari) if clustering else "n/a",
            fmt_num(g.fit_s), fmt_num(g.predict_s, 2), fmt_num(g.total_s),
            fmt_num(g.peak_rss_mb, 0) if g.peak_rss_mb else "n/a",
            g.verdict.text]


def notes(report: SuiteReport) -> list[str]:
    """The footnotes every table carries: what the numbers are and what the times include."""
    out = [
        ("accuracy: classifiers on images never trained on; t-SNE + GMM one-to-one "
         "(Hungarian, marked 1:1); majority vote = many-to-one (the notebook's mapping)"),
    ]
    if not report.single_run:      # one run has no seeds to spread over, nothing to compare
        out.append("± = standard deviation over seeds (n − 1); seeds = runs per row; "
                   "within noise = mean ± SD intervals overlap; 1 seed: noise unknown")
    for method, ph in report.phases.items():
        out.append(f"{method}: fit = {ph.fit or '–'}; predict = {ph.predict or '–'}")
    out.append("total = the whole worker run (also data loading, library imports, model "
               "building); peak MB = the worker's peak resident memory")
    if any(g.vgg_input_size for g in report.groups):
        sizes = sorted({g.vgg_input_size for g in report.groups if g.vgg_input_size})
        out.append(f"VGG16 input: {', '.join(f'{s}×{s}' for s in sizes)} RGB "
                   "(--vgg-input-size; the notebook used 224×224)")
    if any(g.vgg_weights == "none" for g in report.groups):
        out.append("VGG16 ran with RANDOM weights (weights=none), not ImageNet's: this is not "
                   "transfer learning, only the VGG16 architecture")
    if any(g.protocol == "standard" for g in report.groups):
        out.append("(standard) = the standard protocol: classifiers train on the whole train "
                   "split (validation carved from it) and are scored on the whole test split; "
                   "t-SNE + GMM clusters every image")
    backends = backend_note(report)
    if backends:
        out.append(backends)
    if report.ran_on:
        out.append(report.ran_on)
    out += [f"warning: {w}" for w in report.timing_warnings]
    out += report.problems
    return out


def backend_note(report: SuiteReport) -> str | None:
    """Which Keras backends trained the report's models, as their results describe them
    (`jax (JAX 0.10.2, Keras 3.15.1)`), where that is news: several backends, or not the
    default one. None for a report of TensorFlow runs (as every report before backends)."""
    from mnist_tui.engine.jobs.backends import DEFAULT_BACKEND

    used = list(dict.fromkeys(r.backend for r in report.rows if r.backend))
    if not used or used == [DEFAULT_BACKEND]:
        return None
    described = []
    for b in used:
        version = next((r.backend_version for r in report.rows
                        if r.backend == b and r.backend_version), None)
        described.append(version or b)
    return "Keras backend" + ("s" if len(used) > 1 else "") + ": " + "; ".join(described)


def backend_lines(report: SuiteReport) -> list[str]:
    """Where the report compares backends: per method, preset and images, each backend's
    accuracy, fit time and total time side by side (`cnn default 200: tensorflow 91.0%, fit
    3.1 s, total 9.0 s | jax …`), with each fit time against the fastest."""
    by: dict[tuple[str, str, int | None, str], list[GroupRow]] = {}
    for g in report.groups:
        if g.backend:
            by.setdefault((g.method, g.preset, g.images, g.protocol), []).append(g)
    out = []
    for (method, preset, images, protocol), gs in by.items():
        if len(gs) < 2:
            continue
        fits = [g.fit_s.mean for g in gs if g.fit_s and g.fit_s.mean > 0]
        fastest = min(fits) if fits else None
        parts = []
        for g in gs:
            ratio = (f" (×{g.fit_s.mean / fastest:.1f})" if fastest and g.fit_s
                     and len(fits) > 1 else "")
            parts.append(f"{g.backend} {fmt_pct(g.accuracy)}, fit {fmt_num(g.fit_s)} s"
                         f"{ratio}, total {fmt_num(g.total_s)} s")
        shown_images = f"{images:,}" if images else "all"
        if protocol == "standard":
            shown_images += " (standard)"
        out.append(f"{method} {preset} {shown_images}: " + " | ".join(parts))
    return out


def ran_on_cell(row: MemberRow) -> str:
    """Where a member ran, for the Runs tables: `Placement.where()`, its Ray node, and which
    attempt when it was retried (and why); `–` with no run record."""
    if row.where is None:
        return "–"
    node = f" node {row.node}" if row.node else ""
    retry = (f", attempt {row.attempt}" + (f" (after: {row.retried_after})"
                                           if row.retried_after else "")
             if row.attempt and row.attempt > 1 else "")
    return f"{row.executor}: {row.where}{node}{retry}"


def at_once_cell(row: MemberRow) -> str:
    """How many members ran at once with it (itself included), or `–` unknown."""
    return str(row.concurrency) if row.concurrency is not None else "–"


def degradation_text(d: Degradation) -> str:
    """One line of `report.degradation`: accuracy at the largest and the smallest size."""
    method = d.method + (f" · {d.backend}" if d.backend else "")
    return (f"{method} {d.preset}: {percent(d.acc_large, 1)} at {d.large:,} "
            f"images → {percent(d.acc_small, 1)} at {d.small:,} ({d.change_pts:+.1f} "
            "pts with less data)")


def text_table(headers: Sequence[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    lines = ["  ".join(f"{h:<{w}}" for h, w in zip(headers, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(f"{c:<{w}}" for c, w in zip(r, widths)).rstrip() for r in rows]
    return lines


def terminal_summary(report: SuiteReport) -> list[str]:
    """The report for a terminal: the table, notes, degradation and failures. Presets, run
    ids, errors and the notes' paths come from records anyone can write: every value is made
    `visible` (cells before the columns are measured, so escapes keep the table aligned)."""
    rows = [[visible(c) for c in table_cells(g)] for g in report.groups]
    lines = text_table(TABLE_HEADERS, rows)
    lines.append("")
    lines += [visible(n) for n in notes(report)]
    compared = backend_lines(report)
    if compared:
        lines += ["", "backends side by side (accuracy, fit and total time; ×: fit time against "
                  "the fastest):"]
        lines += [visible(f"  {b}") for b in compared]
    lines += [visible(degradation_text(d)) for d in report.degradation]
    failed = [r for r in report.rows if r.status not in ("finished", "pending")]
    for r in failed:
        lines.append(visible(f"{r.status.upper()}: {r.member} ({r.run_id}): ")
                     + shown(r.error, 300))
    return lines


TERMINAL_TITLES = {"accuracy": "accuracy % (mean ± SD over seeds; t-SNE+GMM 1:1)",
                   "fit_s": "fit time s (mean ± SD; phases: see notes)"}


def terminal_charts(report: SuiteReport, width: int = 80, height: int = 22,
                    color: bool = False) -> str:
    """Accuracy and fit time against images (log scale), each fitting width × height: the
    `charts.chart` of each drawn with plotext, on the chart's own ticks and limits."""
    import plotext as plt

    out = []
    for key, title in TERMINAL_TITLES.items():
        c = chart(report, key)
        if c is None:
            continue
        # the legend's labels are "method preset" from records: shown with visible escapes
        c = replace(c, series={visible(name): pts for name, pts in c.series.items()})
        plt.clf()
        plt.plotsize(width, height)
        draw_chart(plt, c, title, error_bars=key == "accuracy", rows=height)
        plt.xlabel(c.x_label)
        if not color:
            plt.theme("clear")
        text = plt.build()
        out.append(text if color else plt.uncolorize(text))
    return "\n".join(out)


def markdown(report: SuiteReport) -> str:
    """The report as Markdown. Every value that comes from a record or a name (presets, run
    ids, members, errors, notes) goes through `md_cell`/`md_text`/`md_code`: the table keeps
    its columns and rows, and no HTML or link reaches the page."""
    heading = (f"# {md_text(report.title)}" if report.kind == "runs" else
               f"# mnist-tui suite {md_code(report.kind)} — {md_cell(report.suite_id)}")
    lines = [heading, "",
             (f"Status: **{md_cell(report.status)}**. Generated "
              f"{md_cell(report.generated)}. "
              f"Seeds: {md_cell(', '.join(map(str, report.seeds)))}."), ""]
    lines.append("| " + " | ".join(TABLE_HEADERS) + " |")
    lines.append("|" + "|".join("---" for _ in TABLE_HEADERS) + "|")
    for g in report.groups:
        lines.append("| " + " | ".join(md_cell(c) for c in table_cells(g)) + " |")
    lines.append("")
    lines += [f"- {md_text(n)}" for n in notes(report)]
    compared = backend_lines(report)
    if compared:
        lines += ["", "## Backends side by side", "",
                  "Accuracy, fit and total time per Keras backend (mean ± SD over seeds; ×: fit "
                  "time against the fastest).", ""]
        lines += [f"- {md_text(b)}" for b in compared]
    if report.degradation:
        lines += ["", "## Which method degrades least with less data", ""]
        lines += [f"- {md_text(degradation_text(d))}" for d in report.degradation]
    if report.kind == "sweep":
        charts = terminal_charts(report)
        if charts:
            lines += ["", "## Charts", "", *md_fence(charts)]
    lines += ["", "## Runs", "", "| member | status | run id | accuracy | fit s | total s | "
              "ran on | at once |", "|---|---|---|---|---|---|---|---|"]
    for r in report.rows:
        acc = percent(r.accuracy, 2, missing="–")
        fit = f"{r.fit_s:.2f}" if r.fit_s is not None else "–"
        tot = f"{r.total_s:.2f}" if r.total_s is not None else "–"
        lines.append(f"| {md_cell(r.member)} | {md_cell(r.status)} | "
                     f"{md_cell(r.run_id or '–')} | {acc} | {fit} | {tot} | "
                     f"{md_cell(ran_on_cell(r))} | {at_once_cell(r)} |")
    failed = [r for r in report.rows if r.error]
    if failed:
        lines += ["", "## Failures", ""]
        lines += [f"- {md_text(r.member)} ({md_cell(r.run_id)}): {md_cell(r.error)}"
                  for r in failed]
    return "\n".join(lines) + "\n"
