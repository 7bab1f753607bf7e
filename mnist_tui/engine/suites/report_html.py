"""The self-contained HTML report: tables, inline SVG charts drawn here, confusion matrices, and
the settings and library versions of every run. No templates, scripts or external files."""

from __future__ import annotations

import json
import math
from html import escape

from mnist_tui.engine.suites.report import (
    DEFINITIONS,
    TABLE_HEADERS,
    notes,
    series,
    table_cells,
)

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f3f3}
td.l,th.l{text-align:left}
.cm td{width:2.6em;padding:.15em .3em;font-size:.85em}
.notes{font-size:.9em;color:#444}
.grid{display:flex;flex-wrap:wrap;gap:1.5em}
pre{background:#f7f7f7;padding:.5em;overflow-x:auto;font-size:.8em}
.bad{color:#b00}
svg text{font-family:system-ui,sans-serif}
"""


def _e(v) -> str:
    return escape("" if v is None else str(v))


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks, v = [], start
    while v <= hi + 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def svg_chart(data: dict[str, list[tuple[int, dict]]], title: str, y_label: str,
              scale: float = 1.0, log_y: bool = False, width: int = 640,
              height: int = 360) -> str:
    """A line chart with mean ± SD error bars; x (images) on a log scale."""
    left, right, top, bottom = 60, 170, 30, 45
    pw, ph = width - left - right, height - top - bottom
    xs = sorted({x for pts in data.values() for x, _ in pts})
    lows = [(s["mean"] - (s["sd"] or 0)) * scale for pts in data.values() for _, s in pts]
    highs = [(s["mean"] + (s["sd"] or 0)) * scale for pts in data.values() for _, s in pts]
    if log_y:
        lows = [v for v in lows if v > 0] or [0.01]
        y0, y1 = math.floor(math.log10(min(lows))), math.ceil(math.log10(max(highs)))
        y1 = max(y1, y0 + 1)
        ticks = [10.0 ** e for e in range(y0, y1 + 1)]
        fy = lambda v: top + ph - (math.log10(max(v, 10.0 ** y0)) - y0) / (y1 - y0) * ph
    else:
        ticks = _nice_ticks(min(lows), max(highs))
        t0, t1 = ticks[0], ticks[-1] if ticks[-1] > ticks[0] else ticks[0] + 1
        fy = lambda v: top + ph - (v - t0) / (t1 - t0) * ph
    lx0, lx1 = math.log10(xs[0]), math.log10(xs[-1])
    span = (lx1 - lx0) or 1.0
    fx = (lambda v: left + (math.log10(v) - lx0) / span * pw) if len(xs) > 1 \
        else (lambda v: left + pw / 2)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
              f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">'),
             f'<text x="{left}" y="18" font-size="14" font-weight="bold">{_e(title)}</text>',
             (f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
              f'stroke="#999"/>')]
    for t in ticks:
        y = fy(t)
        label = f"{t:g}"
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#eee"/><text x="{left - 6}" y="{y + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{label}</text>')
    for x in xs:
        px = fx(x)
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{top}" y2="{top + ph}" '
                     f'stroke="#eee"/><text x="{px:.1f}" y="{top + ph + 16}" font-size="11" '
                     f'text-anchor="middle">{x:,}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 6}" font-size="12" '
                 f'text-anchor="middle">images (log scale)</text>')
    parts.append(f'<text x="14" y="{top + ph / 2}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 14 {top + ph / 2})">{_e(y_label)}</text>')
    for i, (name, pts) in enumerate(data.items()):
        color = PALETTE[i % len(PALETTE)]
        coords = [(fx(x), fy(s["mean"] * scale)) for x, s in pts]
        parts.append('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
            color, " ".join(f"{a:.1f},{b:.1f}" for a, b in coords)))
        for (x, s), (px, py) in zip(pts, coords):
            tip = f"{name}: {x:,} images, mean {s['mean'] * scale:.4g}" + (
                f" ± {s['sd'] * scale:.3g}" if s["sd"] is not None else "") + f" (n={s['n']})"
            if s["sd"]:
                ya, yb = fy((s["mean"] - s["sd"]) * scale), fy((s["mean"] + s["sd"]) * scale)
                parts.append(f'<path d="M{px:.1f},{ya:.1f}V{yb:.1f}M{px - 4:.1f},{ya:.1f}'
                             f'h8M{px - 4:.1f},{yb:.1f}h8" stroke="{color}" fill="none"/>')
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{color}">'
                         f'<title>{_e(tip)}</title></circle>')
        ly = top + 14 + 18 * i
        parts.append(f'<line x1="{left + pw + 12}" x2="{left + pw + 32}" y1="{ly - 4}" '
                     f'y2="{ly - 4}" stroke="{color}" stroke-width="2"/><text '
                     f'x="{left + pw + 38}" y="{ly}" font-size="12">{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def confusion_table(cm: list[list[int]], caption: str) -> str:
    peak = max((max(r) for r in cm), default=1) or 1
    rows = ["<tr><th></th>" + "".join(f"<th>{c}</th>" for c in range(len(cm[0]))) + "</tr>"]
    for i, r in enumerate(cm):
        cells = []
        for j, v in enumerate(r):
            a = v / peak
            bg = f"rgba(31,119,180,{a:.2f})" if i == j else f"rgba(214,39,40,{min(1, 3 * a):.2f})"
            fg = "#fff" if a > 0.55 and i == j else "#000"
            cells.append(f'<td style="background:{bg};color:{fg}">{v}</td>')
        rows.append(f"<tr><th>{i}</th>{''.join(cells)}</tr>")
    return (f'<table class="cm"><caption>{_e(caption)}</caption>{"".join(rows)}</table>')


def _sum_matrices(mats: list) -> list[list[int]] | None:
    mats = [m for m in mats if m]
    if not mats or any(len(m) != len(mats[0]) for m in mats):
        return None
    return [[sum(m[i][j] for m in mats) for j in range(len(mats[0][i]))]
            for i in range(len(mats[0]))]


def html(report: dict) -> str:
    spec = report["suite"]
    title = f"mnist-tui suite {spec['suite']} — {report['suite_id']}"
    out = [(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}"
            f"</title><style>{CSS}</style></head><body>"), f"<h1>{_e(title)}</h1>",
           (f"<p>Status: <b>{_e(report['status'])}</b>. Generated {_e(report['generated'])}. "
            f"Seeds: {_e(', '.join(map(str, spec['seeds'])))}. Folder: "
            f"<code>{_e(report['suite_dir'])}</code></p>")]

    out.append("<h2>Comparison</h2><table><tr>" + "".join(
        f"<th class='{'l' if h in ('method', 'preset', 'comparison') else ''}'>{_e(h)}</th>"
        for h in TABLE_HEADERS) + "</tr>")
    for g in report["groups"]:
        cells = table_cells(g)
        out.append("<tr>" + "".join(
            f"<td class='{'l' if i in (0, 1, len(cells) - 1) else ''}'>{_e(c)}</td>"
            for i, c in enumerate(cells)) + "</tr>")
    out.append("</table><ul class='notes'>" + "".join(f"<li>{_e(n)}</li>"
                                                      for n in notes(report)) + "</ul>")

    if report["degradation"]:
        out.append("<h2>Which method degrades least with less data</h2><ul>")
        for d in report["degradation"]:
            out.append(f"<li>{_e(d['method'])} {_e(d['preset'])}: {100 * d['acc_large']:.1f}% "
                       f"at {d['large']:,} images → {100 * d['acc_small']:.1f}% at "
                       f"{d['small']:,} ({d['change_pts']:+.1f} pts with less data)</li>")
        out.append("</ul>")

    acc = series(report, "accuracy")
    if any(len(v) > 1 for v in acc.values()):
        out.append("<h2>Charts</h2><div class='grid'>")
        out.append(svg_chart(acc, "Accuracy against images (mean ± SD over seeds)",
                             "accuracy % (t-SNE+GMM one-to-one)", scale=100.0))
        fit = series(report, "fit_s")
        if fit:
            out.append(svg_chart(fit, "Fit time against images (mean ± SD)",
                                 "fit time s (log)", log_y=True))
        out.append("</div>")

    by_id = {r["run_id"]: r for r in report["runs"]}
    cms = []
    for g in report["groups"]:
        mats = [by_id[i]["confusion_matrix"] for i in g["run_ids"] if i in by_id]
        total = _sum_matrices(mats)
        if total:
            mapping = next((by_id[i].get("confusion_mapping") for i in g["run_ids"]
                            if i in by_id), None)
            cap = (f"{g['method']} {g['preset']} {g['images']:,} images, summed over "
                   f"{len(mats)} seed(s)" + (f", {mapping} mapping" if mapping else ""))
            cms.append(confusion_table(total, cap))
    if cms:
        out.append("<h2>Confusion matrices</h2><p class='notes'>Rows: true digit; columns: "
                   "predicted digit.</p><div class='grid'>" + "".join(cms) + "</div>")

    out.append("<h2>Runs</h2><table><tr><th class='l'>member</th><th class='l'>status</th>"
               "<th class='l'>run id</th><th>accuracy</th><th>majority</th><th>fit s</th>"
               "<th>predict s</th><th>total s</th><th>peak MB</th><th class='l'>evaluated on"
               "</th></tr>")
    for r in report["rows"]:
        def f(v, d=2, pct=False):
            if v is None:
                return "–"
            return f"{100 * v:.2f}%" if pct else f"{v:,.{d}f}"
        cls = "" if r["status"] in ("finished", "pending") else " class='bad'"
        out.append(f"<tr{cls}><td class='l'>{_e(r['member'])}</td><td class='l'>"
                   f"{_e(r['status'])}</td><td class='l'>{_e(r['run_id'] or '–')}</td>"
                   f"<td>{f(r['accuracy'], pct=True)}</td>"
                   f"<td>{f(r['accuracy_majority'], pct=True)}</td><td>{f(r['fit_s'])}</td>"
                   f"<td>{f(r['predict_s'])}</td><td>{f(r['total_s'])}</td>"
                   f"<td>{f(r['peak_rss_mb'], 0)}</td><td class='l'>{_e(r['eval_on'])}</td></tr>")
    out.append("</table>")
    errors = [r for r in report["rows"] if r["error"]]
    if errors:
        out.append("<h3>Failures</h3><ul>" + "".join(
            f"<li class='bad'>{_e(r['member'])} ({_e(r['run_id'])}): {_e(r['error'])}</li>"
            for r in errors) + "</ul>")

    out.append("<h2>Settings and library versions of every run</h2>")
    for d in report["runs"]:
        versions = ", ".join(f"{k} {v}" for k, v in (d.get("versions") or {}).items())
        ds = d.get("dataset") or {}
        machine = d.get("machine") or {}
        out.append(f"<details><summary>{_e(d['member'])} — {_e(d['run_id'])} "
                   f"({_e(d['status'])})</summary><p>Versions: {_e(versions)}<br>Machine: "
                   f"{_e(machine.get('platform'))}, {_e(machine.get('cpus'))} CPUs, Python "
                   f"{_e(machine.get('python'))}<br>Dataset: {_e(ds.get('name'))} from "
                   f"{_e(ds.get('source'))}, fingerprint <code>{_e(ds.get('fingerprint'))}"
                   f"</code><br>Started {_e(d.get('started_at'))}, finished "
                   f"{_e(d.get('finished_at'))}<br>Timings: "
                   + _e(", ".join(f"{k} {v:.2f}s" for k, v in (d.get("timings") or {}).items()
                                  if isinstance(v, (int, float))))
                   + f"</p><pre>{_e(json.dumps(d['spec'], indent=1, sort_keys=True))}</pre>"
                   "</details>")
    out.append("<h2>Suite spec</h2><pre>" + _e(json.dumps(spec, indent=1)) + "</pre>")
    out.append("<h2>Definitions</h2><ul class='notes'>" + "".join(
        f"<li><b>{_e(k)}</b>: {_e(v)}</li>" for k, v in DEFINITIONS.items()) + "</ul>")
    out.append("</body></html>\n")
    return "\n".join(out)
