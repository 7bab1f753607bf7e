"""A suite's results as one report (`report_model.SuiteReport`): a row per member from the
run folders, groups of rows aggregated over seeds (mean ± spread), the verdict of each group
against the best it is compared with, and how accuracy degrades with less data.

This is the statistics only; its forms are elsewhere: `report_text` (terminal table and charts,
Markdown, JSON, CSV), `report_html` (the HTML page), `charts` (the data of the charts) and
`report_files` (writing them all). Everything is rebuilt from the suite folder and the run
folders alone, so a report can be regenerated at any time (`--resume` of a finished suite, the
TUI's export).

Definitions used everywhere (and printed with every table):
- accuracy: classifiers, the fraction right on images never trained on; clustering, the
  one-to-one (Hungarian) mapping of clusters to digits. Clustering also shows the majority-vote
  mapping (many clusters may map to one digit: the notebook's, flattering) labelled as such.
- spread: the sample standard deviation over seeds (n − 1); a single seed has none.
- within noise: the mean ± SD intervals of two groups overlap.
- times: the sum of the named phases, in seconds of wall-clock time in the worker; where each
  member ran and how many ran at once (measured from the records) are shown beside them, with a
  warning where compared times were measured on different hardware or concurrency
  (`report_hardware`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mnist_tui.engine.jobs.backends import DEFAULT_BACKEND, uses_keras
from mnist_tui.engine.jobs.results import (
    HELD_OUT,
    HUNGARIAN,
    ClassifierMetrics,
    ClusteringMetrics,
    RunResult,
)
from mnist_tui.engine.runs import records
from mnist_tui.engine.suites.folder import SuiteFolder
from mnist_tui.engine.suites.matching import is_run_id
from mnist_tui.engine.suites.records import Measurement, SuiteRecordError
from mnist_tui.engine.suites.report_hardware import (
    placement_fields,
    ran_on,
    warnings,
    with_concurrency,
)
from mnist_tui.engine.suites.report_model import (
    ALONE,
    NO_RESULT,
    Degradation,
    GroupRow,
    MemberRow,
    PhaseNames,
    RunDetail,
    Stat,
    SuiteReport,
    Verdict,
)
from mnist_tui.engine.suites.spec import Member

FIT_PHASES = ("preprocess", "pca", "tsne", "gmm", "feature_extraction", "feature_stats",
              "training")
PREDICT_PHASES = ("scoring", "evaluation")
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
    "concurrency": "how many of the report's runs ran at once with a run, itself included, at "
                   "most: measured from the runs' recorded start and length, not the "
                   "--parallel setting",
    "where": "the host (and Ray node) a run ran on, with its GPU or its share of the cores "
             "(the thread pools' size); runs recorded without it ran locally, one at a time, "
             "with every core",
}


# -- rows ------------------------------------------------------------------------------------

WORKER_PEAK_SOURCE = ("the worker's own peak resident set (getrusage ru_maxrss), recorded in its "
                      "result")


def _num(v: object) -> float | None:
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
        else None


def _phase_sum(timings: Mapping[str, float], names: Iterable[str]) -> tuple[float | None, str]:
    present = [n for n in names if isinstance(timings.get(n), (int, float))]
    if not present:
        return None, ""
    return round(sum(timings[n] for n in present), 4), "+".join(present)


def member_row(member: Member, run_id: str | None, result: RunResult | None,
               measurement: Measurement | None) -> MemberRow:
    """One member's row: the values of its result record, flattened, plus the derived times."""
    status = result.status if result is not None else (
        "pending" if run_id is None else "running")
    error = result.error if result is not None else None
    if result is None and measurement is not None and measurement.status:
        status, error = measurement.status, measurement.error   # failed before a run folder
    m = result.metrics if result is not None else None
    timings = result.timings if result is not None else {}
    ds = result.dataset if result is not None else None
    clustering = member.job == "tsne-gmm"
    fit_s, fit_phases = _phase_sum(timings, FIT_PHASES)
    predict_s, predict_phases = _phase_sum(timings, PREDICT_PHASES)
    peak = measurement.peak_rss_bytes if measurement is not None else None
    peak_source = measurement.source if measurement is not None and peak is not None else None
    if result is not None and result.peak_rss_bytes is not None:   # the worker's own
        peak, peak_source = result.peak_rss_bytes, WORKER_PEAK_SOURCE
    headline = result.headline().value if result is not None else None
    clust = m if isinstance(m, ClusteringMetrics) else ClusteringMetrics()
    clf = m if isinstance(m, ClassifierMetrics) else ClassifierMetrics()
    n_images = ds.n_samples if ds is not None else None
    return MemberRow(
        member=member.label, key=member.key, method=member.job,
        preset=member.preset, images_requested=member.size,
        images=n_images,
        seed=member.seed, subset_seed=member.spec.get("subset_seed"),
        status=status,
        run_id=run_id,
        accuracy=headline if clustering == isinstance(m, ClusteringMetrics) else None,
        accuracy_kind=HUNGARIAN if clustering else HELD_OUT,
        accuracy_majority=clust.accuracy_majority,
        accuracy_hungarian=clust.accuracy_hungarian,
        nmi=clust.nmi, ari=clust.ari, loss=clf.loss,
        n_eval=clf.n_eval if clf.n_eval is not None else (n_images if clustering else None),
        eval_on=clf.eval_split or ("the clustered images themselves (labels used for "
                                   "scoring only)" if clustering else None),
        fit_s=fit_s, fit_phases=fit_phases,
        predict_s=predict_s, predict_phases=predict_phases,
        total_s=timings.get("total"),
        peak_rss_mb=round(peak / 1e6, 1) if peak is not None else None,
        peak_rss_source=peak_source,
        vgg_input_size=member.spec.get("input_size") if member.job == "vgg16" else None,
        vgg_weights=member.spec.get("weights") if member.job == "vgg16" else None,
        backend=_backend(member.spec),
        backend_version=_backend_version(result),
        dataset=ds.key() if ds is not None and ds.to_dict() else None,
        dataset_fingerprint=ds.fingerprint if ds is not None else None,
        error=error if status != "finished" else None,
        **placement_fields(result),
    )


def _backend(spec: dict[str, Any]) -> str | None:
    """The Keras backend a member's spec trains with (a spec recorded before backends existed
    trained on TensorFlow); None when it never imports Keras."""
    if not uses_keras(spec):
        return None
    backend = spec.get("backend", DEFAULT_BACKEND)
    return backend if isinstance(backend, str) else None


def _backend_version(result: RunResult | None) -> str | None:
    """What the run's result records of its backend (`details.backend`), if anything."""
    details = result.details if result is not None else None
    value = details.get("backend") if isinstance(details, dict) else None
    return value if isinstance(value, str) else None


# -- statistics ------------------------------------------------------------------------------

def stat(values: Sequence[float | None]) -> Stat | None:
    vals = [v for v in values if v is not None and _num(v) is not None]
    if not vals:
        return None
    n = len(vals)
    mean = sum(vals) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else None
    return Stat(mean=mean, sd=sd, min=min(vals), max=max(vals), n=n)


def compared_backends(rows: Sequence[MemberRow]) -> list[str]:
    """The Keras backends the rows ran on, in order, when there are several (a dimension of
    the report); empty otherwise."""
    seen = list(dict.fromkeys(r.backend for r in rows if r.backend))
    return seen if len(seen) > 1 else []


def group_rows(rows: Sequence[MemberRow]) -> list[GroupRow]:
    """Rows with the same method, preset and images (and backend, where the rows ran on
    several), aggregated over seeds (finished runs)."""
    several = bool(compared_backends(rows))
    order: list[tuple[str, str, int | None, str | None]] = []
    by: dict[tuple[str, str, int | None, str | None], list[MemberRow]] = {}
    for r in rows:
        k = (r.method, r.preset, r.images_requested, r.backend if several else None)
        if k not in by:
            order.append(k)
            by[k] = []
        by[k].append(r)
    groups = []
    for k in order:
        members = by[k]
        done = [r for r in members if r.status == "finished"]
        # None = the standard protocol (every image): the group shows what the runs used
        images = k[2] if k[2] is not None else next((r.images for r in done if r.images), None)
        method = k[0] + (f" · {k[3]}" if k[3] else "")
        groups.append(GroupRow(
            method=k[0], preset=k[1], images=images,
            protocol="standard" if k[2] is None else "notebook",
            label=f"{method} {k[1]} " + (f"{k[2]:,}" if k[2] is not None else "all images"),
            n=len(done), n_members=len(members),
            n_failed=sum(1 for r in members if r.failed),
            seeds=tuple(r.seed for r in done),
            run_ids=tuple(r.run_id for r in done),
            fit_phases=next((r.fit_phases for r in done if r.fit_phases), ""),
            predict_phases=next((r.predict_phases for r in done if r.predict_phases), ""),
            vgg_input_size=members[0].vgg_input_size,
            vgg_weights=members[0].vgg_weights,
            backend=k[3],
            accuracy=stat([r.accuracy for r in done]),
            accuracy_majority=stat([r.accuracy_majority for r in done]),
            accuracy_hungarian=stat([r.accuracy_hungarian for r in done]),
            nmi=stat([r.nmi for r in done]), ari=stat([r.ari for r in done]),
            fit_s=stat([r.fit_s for r in done]), predict_s=stat([r.predict_s for r in done]),
            total_s=stat([r.total_s for r in done]),
            peak_rss_mb=stat([r.peak_rss_mb for r in done])))
    return groups


def add_verdicts(groups: Sequence[GroupRow], by_point: bool) -> list[GroupRow]:
    """`groups` with each one's accuracy judged against the best it is compared with (the best
    of the same images when by_point, else of all)."""
    points: dict[int | None, list[GroupRow]] = {}
    for g in groups:
        points.setdefault(g.images if by_point else None, []).append(g)
    judged: dict[int, Verdict] = {}
    for members in points.values():
        scored = [(g, g.accuracy) for g in members if g.accuracy]
        if not scored:
            continue
        best = max(scored, key=lambda gs: gs[1].mean)[0]
        for g in members:
            judged[id(g)] = verdict(g, best)
    return [replace(g, verdict=judged.get(id(g), NO_RESULT)) for g in groups]


def verdict(g: GroupRow, best: GroupRow) -> Verdict:
    a, b = g.accuracy, best.accuracy
    if a is None or b is None:
        return NO_RESULT
    if g is best:
        return Verdict("best", noise_known=a.sd is not None)
    name = best.name
    diff = 100 * (a.mean - b.mean)
    if a.sd is None or b.sd is None:
        return Verdict("behind", name, diff, noise_known=False)
    if a.mean + a.sd >= b.mean - b.sd:
        return Verdict("within noise", name, diff)
    return Verdict("behind", name, diff)


def degradation(groups: Sequence[GroupRow]) -> list[Degradation]:
    """Per method and preset: accuracy at the largest and the smallest size, and the change
    (negative = lost with less data), least loss first."""
    series: dict[tuple[str, str, str | None], list[GroupRow]] = {}
    for g in groups:
        if g.accuracy:
            series.setdefault((g.method, g.preset, g.backend), []).append(g)
    out = []
    for (method, preset, backend), gs in series.items():
        sized = sorted(((g.images, g.accuracy) for g in gs
                        if g.protocol == "notebook" and g.images and g.accuracy),
                       key=lambda x: x[0])
        if len(sized) < 2:
            continue
        (small, lo), (large, hi) = sized[0], sized[-1]
        out.append(Degradation(method=method, preset=preset, small=small, large=large,
                               acc_small=lo.mean, acc_large=hi.mean,
                               change_pts=100 * (lo.mean - hi.mean), backend=backend))
    out.sort(key=lambda d: -d.change_pts)   # the least loss first
    return out


# -- the whole report --------------------------------------------------------------------------

def run_detail(run_id: str, label: str, result: RunResult,
               spec: dict[str, Any]) -> RunDetail:
    """What the report keeps of one run: settings, versions, machine, data, matrix, times."""
    recorded = result.to_dict()
    return RunDetail(
        run_id=run_id, member=label, status=result.status, spec=result.spec or spec,
        versions=recorded.get("versions"), machine=recorded.get("machine"),
        dataset=recorded.get("dataset"), confusion_matrix=recorded.get("confusion_matrix"),
        confusion_mapping=recorded.get("confusion_mapping"),
        started_at=recorded.get("started_at"), finished_at=recorded.get("finished_at"),
        timings=recorded.get("timings"), error=recorded.get("error"))


def build_report(folder: SuiteFolder, status: str | None = None) -> SuiteReport:
    spec = folder.spec()
    members = spec.members()
    mapping = folder.members()
    problems: list[str] = []
    try:
        measurements = folder.measurements().runs
    except SuiteRecordError as exc:    # supplementary: the report goes on without peak memory
        measurements, problems = {}, [f"peak memory not shown: {exc}"]
    rows, run_details, results = [], [], []
    for member in members:
        run_id = mapping.get(member.key)
        if run_id is not None and not is_run_id(run_id):
            problems.append(f"{member.label}: members.json names {run_id!r}, which is not a "
                            "run of this runs folder; not read")
            run_id = None
        result = records.try_read_result(folder.runs_dir / run_id) if run_id else None
        rows.append(member_row(member, run_id, result, measurements.get(run_id or "")))
        results.append(result)
        if result is not None:
            assert run_id is not None   # a result is read only for a member with a run
            run_details.append(run_detail(run_id, member.label, result, member.spec))
    rows = with_concurrency(rows, results)
    groups = add_verdicts(group_rows(rows), by_point=spec.name == "sweep")
    st = status or folder.status().get("status", "?")
    return SuiteReport(
        suite_id=folder.suite_id, suite=spec.to_dict(), status=st,
        generated=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        suite_dir=str(folder.path), definitions=DEFINITIONS,
        phases=phases_by_method(rows),
        rows=tuple(rows), groups=tuple(groups),
        degradation=tuple(degradation(groups)) if spec.name == "sweep" else (),
        runs=tuple(run_details), record_problems=tuple(problems),
        ran_on=ran_on(rows), timing_warnings=tuple(warnings(rows, groups, spec.name == "sweep")),
    )


def phases_by_method(rows: Sequence[MemberRow]) -> dict[str, PhaseNames]:
    """"method" (or "method preset" where presets time different phases) → phase names."""
    per: dict[str, dict[str, PhaseNames]] = {}
    for r in rows:
        if r.status == "finished":
            per.setdefault(r.method, {}).setdefault(
                r.preset, PhaseNames(fit=r.fit_phases, predict=r.predict_phases))
    out: dict[str, PhaseNames] = {}
    for method, presets in per.items():
        if len(set(presets.values())) == 1:
            out[method] = next(iter(presets.values()))
        else:
            out.update({f"{method} {p}": v for p, v in presets.items()})
    return out


# -- a report of arbitrary runs, not a suite (the TUI's export from Results and Runs) --------

def build_runs_report(runs_dir: Path, run_ids: list[str],
                      report_id: str | None = None) -> SuiteReport:
    """The same report as a suite's, for chosen run folders: each run is one row (runs with the
    same method, preset and images are grouped as seeds). Its `kind` is "runs"; its
    `suite["run_ids"]` lists the runs in order."""
    from mnist_tui.engine.suites.spec import Member, member_key

    runs_dir = Path(runs_dir)
    rows, run_details, seeds, results = [], [], [], []
    for run_id in run_ids:
        folder = runs_dir / run_id

        result = records.try_read_result(folder)
        spec = records.try_read_spec(folder) or (result.spec if result is not None else {})
        n = spec.get("samples") or (result.n_images() if result is not None else None) or 0
        job, preset, seed = spec.get("job", "?"), spec.get("preset", "?"), spec.get("seed", 0)
        label = f"{job} {preset} {n:,} images seed {seed} ({run_id})"
        member = Member(key=member_key(spec), label=label, job=job, preset=preset,
                        size=int(n), seed=seed, spec=spec)
        rows.append(member_row(member, run_id, result, None))
        results.append(result)
        seeds.append(seed)
        if result is not None:
            run_details.append(run_detail(run_id, label, result, spec))
    rows = with_concurrency(rows, results)
    groups = group_rows(rows)
    # one group (one run, or seeds of one setting) is compared with nothing: no verdict
    groups = (add_verdicts(groups, by_point=False) if len(groups) > 1
              else [replace(g, verdict=ALONE if g.accuracy else NO_RESULT)
                    for g in groups])
    statuses = {r.status for r in rows}
    return SuiteReport(
        suite_id=report_id or f"runs-{time.strftime('%Y%m%d-%H%M%S')}",
        suite={"suite": "runs", "run_ids": list(run_ids),
               "seeds": sorted(set(seeds), key=str)},
        status=statuses.pop() if len(statuses) == 1 else "mixed",
        generated=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        suite_dir=str(runs_dir), definitions=DEFINITIONS,
        phases=phases_by_method(rows), rows=tuple(rows), groups=tuple(groups),
        degradation=tuple(degradation(groups)), runs=tuple(run_details),
        ran_on=ran_on(rows), timing_warnings=tuple(warnings(rows, groups, False)),
    )
