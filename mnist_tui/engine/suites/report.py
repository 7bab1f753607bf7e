"""A suite's results: rows from the run folders, seed-aggregated groups, honest comparisons,
and their plain forms (JSON, CSV, Markdown, a terminal table and terminal charts).

Everything is rebuilt from the suite folder and the run folders alone, so a report can be
regenerated at any time (`--resume` of a finished suite, the TUI's export).

Definitions used everywhere (and printed with every table):
- accuracy: classifiers, the fraction right on images never trained on; clustering, the
  one-to-one (Hungarian) mapping of clusters to digits. Clustering also shows the majority-vote
  mapping (many clusters may map to one digit: the notebook's, flattering) labelled as such.
- spread: the sample standard deviation over seeds (n − 1); a single seed has none.
- within noise: the mean ± SD intervals of two groups overlap.
- times: the sum of the named phases, in seconds of wall-clock time in the worker.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path

from mnist_tui.engine.jobs.events import dumps
from mnist_tui.engine.runs import store as runs
from mnist_tui.engine.suites.suite import SuiteFolder

FIT_PHASES = ("preprocess", "pca", "tsne", "gmm", "feature_extraction", "feature_stats",
              "training")
PREDICT_PHASES = ("scoring", "evaluation")
STAT_KEYS = ("accuracy", "accuracy_majority", "accuracy_hungarian", "nmi", "ari", "fit_s",
             "predict_s", "total_s", "peak_rss_mb")
CSV_COLUMNS = ("member", "method", "preset", "images_requested", "images", "seed",
               "subset_seed", "status", "run_id", "accuracy", "accuracy_kind",
               "accuracy_majority", "accuracy_hungarian", "nmi", "ari", "loss", "n_eval",
               "fit_s", "fit_phases", "predict_s", "predict_phases", "total_s", "peak_rss_mb",
               "vgg_input_size", "vgg_weights", "dataset", "dataset_fingerprint", "error")
DEFINITIONS = {
    "accuracy": "classifiers: fraction right on images never trained on; clustering (t-SNE + "
                "GMM): one-to-one (Hungarian) mapping of clusters to digits",
    "accuracy_majority": "clustering only: majority-vote mapping (several clusters may map to "
                         "one digit; the notebook's, flattering)",
    "spread": "± is the sample standard deviation over seeds (n − 1); n = number of seeds; "
              "one seed has no spread",
    "within_noise": "two groups whose mean ± SD accuracy intervals overlap; with one seed "
                    "the noise is unknown and no difference is claimed",
    "fit_s": "sum of the fit phases named per method (fit_phases)",
    "predict_s": "sum of the prediction phases named per method (predict_phases)",
    "total_s": "the worker's whole wall-clock time: also loading and sampling the data, "
               "importing the libraries, building the model",
    "peak_rss_mb": "peak resident memory of the worker process (MB = 10^6 bytes)",
}
METHOD_NAMES = {"tsne-gmm": "t-SNE + GMM", "vgg16": "VGG16 transfer", "cnn": "small CNN"}


# -- rows ------------------------------------------------------------------------------------

WORKER_PEAK_SOURCE = ("the worker's own peak resident set (getrusage ru_maxrss), recorded in its "
                      "result")


def _num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
        else None


def _phase_sum(timings: dict, names) -> tuple[float | None, str]:
    present = [n for n in names if isinstance(timings.get(n), (int, float))]
    if not present:
        return None, ""
    return round(sum(timings[n] for n in present), 4), "+".join(present)


def member_row(member, run_id: str | None, result: dict | None, measurement: dict | None) -> dict:
    """One member's row: the values of its result.json, flattened, plus the derived times."""
    res = result or {}
    if result is None and (measurement or {}).get("status"):   # failed before a run folder
        res = {"status": measurement["status"], "error": measurement.get("error")}
    m = res.get("metrics") or {}
    timings = res.get("timings") or {}
    ds = res.get("dataset") or {}
    clustering = member.job == "tsne-gmm"
    fit_s, fit_phases = _phase_sum(timings, FIT_PHASES)
    predict_s, predict_phases = _phase_sum(timings, PREDICT_PHASES)
    peak = (measurement or {}).get("peak_rss_bytes")
    peak_source = (measurement or {}).get("source") if isinstance(peak, int) else None
    if isinstance(res.get("peak_rss_bytes"), int):          # the worker's own, when it has it
        peak, peak_source = res["peak_rss_bytes"], WORKER_PEAK_SOURCE
    return {
        "member": member.label, "key": member.key, "method": member.job,
        "preset": member.preset, "images_requested": member.size,
        "images": ds.get("n_samples") if isinstance(ds.get("n_samples"), int) else None,
        "seed": member.seed, "subset_seed": member.spec.get("subset_seed"),
        "status": res.get("status", "pending" if run_id is None else "running"),
        "run_id": run_id,
        "accuracy": _num(m.get("accuracy_hungarian") if clustering else m.get("accuracy")),
        "accuracy_kind": "one-to-one (Hungarian)" if clustering else "held-out",
        "accuracy_majority": _num(m.get("accuracy_majority")),
        "accuracy_hungarian": _num(m.get("accuracy_hungarian")),
        "nmi": _num(m.get("nmi")), "ari": _num(m.get("ari")), "loss": _num(m.get("loss")),
        "n_eval": m.get("n_eval", ds.get("n_samples") if clustering else None),
        "eval_on": m.get("eval_split") or ("the clustered images themselves (labels used for "
                                           "scoring only)" if clustering else None),
        "fit_s": fit_s, "fit_phases": fit_phases,
        "predict_s": predict_s, "predict_phases": predict_phases,
        "total_s": _num(timings.get("total")),
        "peak_rss_mb": round(peak / 1e6, 1) if isinstance(peak, int) else None,
        "peak_rss_source": peak_source,
        "vgg_input_size": member.spec.get("input_size") if member.job == "vgg16" else None,
        "vgg_weights": member.spec.get("weights") if member.job == "vgg16" else None,
        "dataset": ds.get("name"), "dataset_fingerprint": ds.get("fingerprint"),
        "error": res.get("error") if res.get("status") not in (None, "finished") else None,
    }


# -- statistics ------------------------------------------------------------------------------

def stat(values: list) -> dict | None:
    vals = [v for v in values if _num(v) is not None]
    if not vals:
        return None
    n = len(vals)
    mean = sum(vals) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else None
    return {"mean": mean, "sd": sd, "min": min(vals), "max": max(vals), "n": n}


def group_rows(rows: list[dict]) -> list[dict]:
    """Rows with the same method, preset and images, aggregated over seeds (finished runs)."""
    order: list[tuple] = []
    by: dict[tuple, list[dict]] = {}
    for r in rows:
        k = (r["method"], r["preset"], r["images_requested"])
        if k not in by:
            order.append(k)
            by[k] = []
        by[k].append(r)
    groups = []
    for k in order:
        members = by[k]
        done = [r for r in members if r["status"] == "finished"]
        # None = the standard protocol (every image): the group shows what the runs used
        images = k[2] if k[2] is not None else next((r["images"] for r in done if r["images"]),
                                                    None)
        g = {"method": k[0], "preset": k[1], "images": images,
             "protocol": "standard" if k[2] is None else "notebook",
             "label": f"{k[0]} {k[1]} " + (f"{k[2]:,}" if k[2] is not None else "all images"),
             "n": len(done), "n_members": len(members),
             "n_failed": sum(1 for r in members if r["status"] not in ("finished", "pending",
                                                                        "running")),
             "seeds": [r["seed"] for r in done],
             "run_ids": [r["run_id"] for r in done],
             "fit_phases": next((r["fit_phases"] for r in done if r["fit_phases"]), ""),
             "predict_phases": next((r["predict_phases"] for r in done if r["predict_phases"]),
                                    ""),
             "vgg_input_size": members[0]["vgg_input_size"],
             "vgg_weights": members[0].get("vgg_weights")}
        for key in STAT_KEYS:
            g[key] = stat([r[key] for r in done])
        groups.append(g)
    return groups


def add_verdicts(groups: list[dict], by_point: bool) -> None:
    """Each group's accuracy against the best it is compared with (same images when by_point)."""
    points: dict = {}
    for g in groups:
        points.setdefault(g["images"] if by_point else None, []).append(g)
    for members in points.values():
        scored = [g for g in members if g["accuracy"]]
        if not scored:
            for g in members:
                g["verdict"] = "no result"
            continue
        best = max(scored, key=lambda g: g["accuracy"]["mean"])
        for g in members:
            g["verdict"] = verdict(g, best)


def verdict(g: dict, best: dict) -> str:
    a, b = g["accuracy"], best["accuracy"]
    if a is None:
        return "no result"
    if g is best:
        return "best" + ("" if a["sd"] is not None else " (1 seed: noise unknown)")
    name = f"{best['method']} {best['preset']}"
    diff = 100 * (a["mean"] - b["mean"])
    if a["sd"] is None or b["sd"] is None:
        return f"{diff:+.1f} pts vs {name} (1 seed: noise unknown)"
    if a["mean"] + a["sd"] >= b["mean"] - b["sd"]:
        return f"within noise of {name} ({diff:+.1f} pts)"
    return f"{diff:+.1f} pts vs {name}"


def degradation(groups: list[dict]) -> list[dict]:
    """Per method and preset: accuracy at the largest and the smallest size, and the change
    (negative = lost with less data), least loss first."""
    series: dict = {}
    for g in groups:
        if g["accuracy"]:
            series.setdefault((g["method"], g["preset"]), []).append(g)
    out = []
    for (method, preset), gs in series.items():
        gs = sorted((g for g in gs if g["protocol"] == "notebook" and g["images"]),
                    key=lambda g: g["images"])
        if len(gs) < 2:
            continue
        lo, hi = gs[0], gs[-1]
        out.append({"method": method, "preset": preset, "small": lo["images"],
                    "large": hi["images"], "acc_small": lo["accuracy"]["mean"],
                    "acc_large": hi["accuracy"]["mean"],
                    "change_pts": 100 * (lo["accuracy"]["mean"] - hi["accuracy"]["mean"])})
    out.sort(key=lambda d: -d["change_pts"])   # the least loss first
    return out


# -- the whole report --------------------------------------------------------------------------

def run_detail(run_id: str, label: str, result: dict, spec: dict) -> dict:
    """What the report keeps of one run: settings, versions, machine, data, matrix, times."""
    keys = ("versions", "machine", "dataset", "confusion_matrix", "confusion_mapping",
            "started_at", "finished_at", "timings", "error")
    return {"run_id": run_id, "member": label, "status": result.get("status"),
            "spec": result.get("spec") or spec, **{k: result.get(k) for k in keys}}


def build_report(folder: SuiteFolder, status: str | None = None) -> dict:
    spec = folder.spec()
    members = spec.members()
    mapping = folder.members()
    measurements = folder.measurements()
    rows, run_details = [], []
    for member in members:
        run_id = mapping.get(member.key)
        result = None
        if run_id:
            p = folder.runs_dir / run_id / runs.RESULT_FILE
            try:
                result = runs.read_json(p) if p.is_file() else None
            except (OSError, ValueError):
                result = None
        rows.append(member_row(member, run_id, result, measurements.get(run_id or "")))
        if result:
            run_details.append(run_detail(run_id, member.label, result, member.spec))
    groups = group_rows(rows)
    add_verdicts(groups, by_point=spec.name == "sweep")
    st = status or folder.status().get("status", "?")
    return {
        "suite_id": folder.suite_id, "suite": spec.to_dict(), "status": st,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "suite_dir": str(folder.path), "definitions": DEFINITIONS,
        "phases": phases_by_method(rows),
        "rows": rows, "groups": groups,
        "degradation": degradation(groups) if spec.name == "sweep" else [],
        "runs": run_details,
    }


def phases_by_method(rows: list[dict]) -> dict:
    """"method" (or "method preset" where presets time different phases) → phase names."""
    per: dict = {}
    for r in rows:
        if r["status"] == "finished":
            per.setdefault(r["method"], {}).setdefault(
                r["preset"], {"fit": r["fit_phases"], "predict": r["predict_phases"]})
    out: dict = {}
    for method, presets in per.items():
        distinct = {json.dumps(v, sort_keys=True) for v in presets.values()}
        if len(distinct) == 1:
            out[method] = next(iter(presets.values()))
        else:
            out.update({f"{method} {p}": v for p, v in presets.items()})
    return out


# -- plain formats -----------------------------------------------------------------------------

def to_json(report: dict) -> str:
    return dumps(report, indent=2) + "\n"


def to_csv(report: dict) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in report["rows"]:
        w.writerow({k: ("" if r.get(k) is None else repr(r[k]) if isinstance(r[k], float)
                        else r[k]) for k in CSV_COLUMNS})
    return buf.getvalue()


def fmt_pct(s: dict | None, digits: int = 1) -> str:
    if not s:
        return "–"
    text = f"{100 * s['mean']:.{digits}f}%"
    return text + (f" ± {100 * s['sd']:.{digits}f}" if s["sd"] is not None else "")


def fmt_num(s: dict | None, digits: int = 1, unit: str = "") -> str:
    if not s:
        return "–"
    text = f"{s['mean']:,.{digits}f}{unit}"
    return text + (f" ± {s['sd']:,.{digits}f}" if s["sd"] is not None else "")


def fmt_ratio(s: dict | None) -> str:
    if not s:
        return "–"
    return f"{s['mean']:.3f}" + (f" ± {s['sd']:.3f}" if s["sd"] is not None else "")


TABLE_HEADERS = ("method", "preset", "images", "seeds", "accuracy", "majority vote", "NMI",
                 "ARI", "fit s", "predict s", "total s", "peak MB", "comparison")


def images_cell(row: dict) -> str:
    """A member row's image count as asked: a number, or `all` for the standard protocol."""
    n = row.get("images_requested")
    return f"{n:,}" if isinstance(n, int) else "all"


def table_cells(g: dict) -> list[str]:
    clustering = g["method"] == "tsne-gmm"
    method = g["method"] + (f" {g['vgg_input_size']}px" if g["vgg_input_size"] else "") + (
        " random weights" if g.get("vgg_weights") == "none" else "")
    images = f"{g['images']:,}" if g["images"] else "all"
    if g.get("protocol") == "standard":
        images += " (standard)"
    seeds = f"{g['n']}" + (f" ({g['n_failed']} failed)" if g["n_failed"] else "") + (
        f" of {g['n_members']}" if g["n"] + g["n_failed"] < g["n_members"] else "")
    return [method, g["preset"], images, seeds,
            fmt_pct(g["accuracy"]) + (" 1:1" if clustering and g["accuracy"] else ""),
            fmt_pct(g["accuracy_majority"]) if clustering else "n/a",
            fmt_ratio(g["nmi"]) if clustering else "n/a",
            fmt_ratio(g["ari"]) if clustering else "n/a",
            fmt_num(g["fit_s"]), fmt_num(g["predict_s"], 2), fmt_num(g["total_s"]),
            fmt_num(g["peak_rss_mb"], 0) if g["peak_rss_mb"] else "n/a",
            g.get("verdict", "")]


def notes(report: dict) -> list[str]:
    """The footnotes every table carries: what the numbers are and what the times include."""
    out = [
        ("accuracy: classifiers on images never trained on; t-SNE + GMM one-to-one "
         "(Hungarian, marked 1:1); majority vote = many-to-one (the notebook's mapping)"),
        ("± = standard deviation over seeds (n − 1); seeds = runs per row; "
         "within noise = mean ± SD intervals overlap; 1 seed: noise unknown"),
    ]
    for method, ph in report["phases"].items():
        out.append(f"{method}: fit = {ph['fit'] or '–'}; predict = {ph['predict'] or '–'}")
    out.append("total = the whole worker run (also data loading, library imports, model "
               "building); peak MB = the worker's peak resident memory")
    if any(g["vgg_input_size"] for g in report["groups"]):
        sizes = sorted({g["vgg_input_size"] for g in report["groups"] if g["vgg_input_size"]})
        out.append(f"VGG16 input: {', '.join(f'{s}×{s}' for s in sizes)} RGB "
                   "(--vgg-input-size; the notebook used 224×224)")
    if any(g.get("vgg_weights") == "none" for g in report["groups"]):
        out.append("VGG16 ran with RANDOM weights (weights=none), not ImageNet's: this is not "
                   "transfer learning, only the VGG16 architecture")
    if any(g.get("protocol") == "standard" for g in report["groups"]):
        out.append("(standard) = the standard protocol: classifiers train on the whole train "
                   "split (validation carved from it) and are scored on the whole test split; "
                   "t-SNE + GMM clusters every image")
    return out


def text_table(headers, rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    lines = ["  ".join(f"{h:<{w}}" for h, w in zip(headers, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(f"{c:<{w}}" for c, w in zip(r, widths)).rstrip() for r in rows]
    return lines


def terminal_summary(report: dict) -> list[str]:
    lines = text_table(TABLE_HEADERS, [table_cells(g) for g in report["groups"]])
    lines.append("")
    lines += notes(report)
    for d in report["degradation"]:
        lines.append(f"{d['method']} {d['preset']}: {100 * d['acc_large']:.1f}% at "
                     f"{d['large']:,} images → {100 * d['acc_small']:.1f}% at {d['small']:,} "
                     f"({d['change_pts']:+.1f} pts with less data)")
    failed = [r for r in report["rows"] if r["status"] not in ("finished", "pending")]
    for r in failed:
        lines.append(f"{r['status'].upper()}: {r['member']} ({r['run_id']}): {r['error']}")
    return lines


def series(report: dict, key: str = "accuracy") -> dict[str, list[tuple[int, dict]]]:
    """(method preset) → [(images, stat)] sorted by images, for charts."""
    out: dict[str, list] = {}
    for g in report["groups"]:
        if g[key] and g["images"]:
            out.setdefault(f"{g['method']} {g['preset']}", []).append((g["images"], g[key]))
    return {k: sorted(v, key=lambda p: p[0]) for k, v in out.items()}


def terminal_charts(report: dict, width: int = 80, height: int = 22,
                    color: bool = False) -> str:
    """Accuracy and fit time against images (log scale), each fitting width × height."""
    import plotext as plt

    out = []
    for key, title, scale in (("accuracy", "accuracy % (mean ± SD over seeds; t-SNE+GMM 1:1)",
                               100.0),
                              ("fit_s", "fit time s (mean ± SD; phases: see notes)", 1.0)):
        data = series(report, key)
        if not data:
            continue
        plt.clf()
        plt.plotsize(width, height)
        plt.title(title)
        plt.xscale("log")
        if key == "fit_s":
            plt.yscale("log")
        ticks = sorted({x for pts in data.values() for x, _ in pts})
        plt.xticks(ticks, [f"{x:,}" for x in ticks])
        markers = ("dot", "x", "+", "o", "*", "#")
        for i, (name, pts) in enumerate(data.items()):
            xs = [x for x, _ in pts]
            ys = [s["mean"] * scale for _, s in pts]
            plt.plot(xs, ys, label=name, marker=markers[i % len(markers)])
            if key == "accuracy" and any(s["sd"] for _, s in pts):
                plt.error(xs, ys, yerr=[(s["sd"] or 0) * scale for _, s in pts])
        plt.xlabel("images (log scale)")
        if not color:
            plt.theme("clear")
        text = plt.build()
        out.append(text if color else plt.uncolorize(text))
    return "\n".join(out)


def markdown(report: dict) -> str:
    spec = report["suite"]
    lines = [f"# mnist-tui suite `{spec['suite']}` — {report['suite_id']}", "",
             (f"Status: **{report['status']}**. Generated {report['generated']}. "
              f"Seeds: {', '.join(map(str, spec['seeds']))}."), ""]
    lines.append("| " + " | ".join(TABLE_HEADERS) + " |")
    lines.append("|" + "|".join("---" for _ in TABLE_HEADERS) + "|")
    for g in report["groups"]:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in table_cells(g)) + " |")
    lines.append("")
    lines += [f"- {n}" for n in notes(report)]
    if report["degradation"]:
        lines += ["", "## Which method degrades least with less data", ""]
        for d in report["degradation"]:
            lines.append(f"- {d['method']} {d['preset']}: {100 * d['acc_large']:.1f}% at "
                         f"{d['large']:,} images → {100 * d['acc_small']:.1f}% at "
                         f"{d['small']:,} ({d['change_pts']:+.1f} pts with less data)")
    if spec["suite"] == "sweep":
        charts = terminal_charts(report)
        if charts:
            lines += ["", "## Charts", "", "```", charts, "```"]
    lines += ["", "## Runs", "", "| member | status | run id | accuracy | fit s | total s |",
              "|---|---|---|---|---|---|"]
    for r in report["rows"]:
        acc = f"{100 * r['accuracy']:.2f}%" if r["accuracy"] is not None else "–"
        fit = f"{r['fit_s']:.2f}" if r["fit_s"] is not None else "–"
        tot = f"{r['total_s']:.2f}" if r["total_s"] is not None else "–"
        lines.append(f"| {r['member']} | {r['status']} | {r['run_id'] or '–'} | {acc} | {fit} "
                     f"| {tot} |")
    failed = [r for r in report["rows"] if r["error"]]
    if failed:
        lines += ["", "## Failures", ""]
        lines += [f"- {r['member']} ({r['run_id']}): {r['error']}" for r in failed]
    return "\n".join(lines) + "\n"


def write_report(report: dict, html_path: Path) -> list[Path]:
    """HTML at `html_path`, and .md, .json, .csv next to it (same stem). Returns the paths."""
    from mnist_tui.engine.suites.report_html import html

    html_path = Path(html_path)
    stem = str(html_path.with_suffix("") if html_path.suffix.lower() in (".html", ".htm")
               else html_path)
    paths = {html_path: html(report), Path(stem + ".md"): markdown(report),
             Path(stem + ".json"): to_json(report), Path(stem + ".csv"): to_csv(report)}
    umask = os.umask(0)
    os.umask(umask)
    for p, text in paths.items():
        runs.atomic_write_text(p, text)
        os.chmod(p, 0o666 & ~umask)      # a report is for sharing (temp files are 0600)
    return list(paths)


# -- a report of arbitrary runs, not a suite (the TUI's export from Results and Runs) --------

def build_runs_report(runs_dir: Path, run_ids: list[str], report_id: str | None = None) -> dict:
    """The same report as a suite's, for chosen run folders: each run is one row (runs with the
    same method, preset and images are grouped as seeds). `report["suite"]["suite"]` is
    "runs"; its "run_ids" lists the runs in order."""
    from mnist_tui.engine.suites.suite import Member, member_key

    runs_dir = Path(runs_dir)
    rows, run_details, seeds = [], [], []
    for run_id in run_ids:
        folder = runs_dir / run_id

        def read(name: str, folder: Path = folder):
            try:
                data = runs.read_json(folder / name) if (folder / name).is_file() else None
            except (OSError, ValueError):
                data = None
            return data if isinstance(data, dict) else None

        result = read(runs.RESULT_FILE)
        spec = read(runs.SPEC_FILE) or (result or {}).get("spec") or {}
        n = spec.get("samples") or ((result or {}).get("dataset") or {}).get("n_samples") or 0
        job, preset, seed = spec.get("job", "?"), spec.get("preset", "?"), spec.get("seed", 0)
        label = f"{job} {preset} {n:,} images seed {seed} ({run_id})"
        member = Member(key=member_key(spec), label=label, job=job, preset=preset,
                        size=int(n), seed=seed, spec=spec)
        rows.append(member_row(member, run_id, result, None))
        seeds.append(seed)
        if result:
            run_details.append(run_detail(run_id, label, result, spec))
    groups = group_rows(rows)
    add_verdicts(groups, by_point=False)
    statuses = {r["status"] for r in rows}
    return {
        "suite_id": report_id or f"runs-{time.strftime('%Y%m%d-%H%M%S')}",
        "suite": {"suite": "runs", "run_ids": list(run_ids),
                  "seeds": sorted(set(seeds), key=str)},
        "status": statuses.pop() if len(statuses) == 1 else "mixed",
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "suite_dir": str(runs_dir), "definitions": DEFINITIONS,
        "phases": phases_by_method(rows), "rows": rows, "groups": groups,
        "degradation": degradation(groups), "runs": run_details,
    }


def export_runs_report(runs_dir: Path, run_ids: list[str]) -> list[Path]:
    """Write the report of `run_ids` under `<runs_dir>/reports/<timestamp>/report.*`
    (HTML, Markdown, JSON, CSV); returns the paths, the HTML first."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(runs_dir) / "reports"
    folder, i = base / stamp, 1
    while folder.exists():       # two exports in the same second
        i += 1
        folder = base / f"{stamp}-{i}"
    folder.mkdir(parents=True)
    report = build_runs_report(runs_dir, run_ids, report_id=f"runs-{folder.name}")
    return write_report(report, folder / "report.html")
