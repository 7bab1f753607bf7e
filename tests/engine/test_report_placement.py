"""Honest timings in the suite report: where each member ran, how many ran at once (measured
from the records, not the --parallel setting), one summary line, and warnings where the report
compares times measured on different hardware or at different concurrency.

The real case runs tiny t-SNE members on the bundled digits through `SuiteSession` with a
`LocalPoolExecutor` of two; the two-host case writes run records through the records API with
the placements two Ray nodes would record."""

from __future__ import annotations

import csv
import io
import json
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

from mnist_tui.engine.jobs.results import Placement, RunResult
from mnist_tui.engine.placement import usable_cpus
from mnist_tui.engine.runs import records
from mnist_tui.engine.runs.records import RunMeta
from mnist_tui.engine.suites import report_text
from mnist_tui.engine.suites.folder import SuiteFolder
from mnist_tui.engine.suites.local_pool import LocalPoolExecutor
from mnist_tui.engine.suites.records import Measurement
from mnist_tui.engine.suites.report import build_report, build_runs_report
from mnist_tui.engine.suites.report_hardware import concurrency, placement_of
from mnist_tui.engine.suites.report_html import html
from mnist_tui.engine.suites.session import SuiteSession
from mnist_tui.engine.suites.spec import Member, SuiteSpec

TSNE = {"dataset": "digits", "iterations": 300, "gmm_inits": 1}
# the report's JSON keys before placement was recorded: kept, in this order, new keys after
OLD_ROW_KEYS = ["member", "key", "method", "preset", "images_requested", "images", "seed",
                "subset_seed", "status", "run_id", "accuracy", "accuracy_kind",
                "accuracy_majority", "accuracy_hungarian", "nmi", "ari", "loss", "n_eval",
                "eval_on", "fit_s", "fit_phases", "predict_s", "predict_phases", "total_s",
                "peak_rss_mb", "peak_rss_source", "vgg_input_size", "vgg_weights", "dataset",
                "dataset_fingerprint", "error"]
OLD_REPORT_KEYS = ["suite_id", "suite", "status", "generated", "suite_dir", "definitions",
                   "phases", "rows", "groups", "degradation", "runs", "record_problems"]


def test_concurrency_is_the_most_open_at_one_moment():
    # a long run beside three short ones that never overlap each other: 2 at once, not 4
    assert concurrency([(0, 100), (0, 10), (20, 30), (40, 50)]) == [2, 2, 2, 2]
    # one ending as the next begins did not run beside it; an unknown interval is unknown
    assert concurrency([(0, 10), (10, 20), None]) == [1, 1, None]
    assert concurrency([(0, 10), (5, 15), (6, 7), (12, 20)]) == [3, 3, 3, 2]


def test_a_run_recorded_without_placement_ran_locally_alone_with_every_core():
    old = RunResult.from_dict({"status": "finished", "machine": {"host": "box", "cpus": 4}})
    p = placement_of(old)
    assert (p.executor, p.host, p.parallel, p.threads, p.attempt) == ("local", "box", 1, None, 1)
    assert p.where() == "box (all 4 cores)"


# -- the real case: two members at once on this machine ------------------------------------------

def test_two_members_at_once_are_reported_with_their_share_and_concurrency(tmp_path):
    runs_dir = tmp_path / "runs"
    pair = SuiteSpec(name="sweep", methods=("tsne-gmm",), sizes=(100,), seeds=(0, 1),
                     presets=("default",), overrides=TSNE).validate()
    done = SuiteSession(runs_dir, pair, executor=LocalPoolExecutor(runs_dir, 2, cpus=2)).run()
    assert done.status == "finished"
    report = done.report
    host, cores = socket.gethostname(), usable_cpus()

    # the intervals, read here from the result records themselves: both ran at once
    spans = []
    for row in report.rows:
        res = json.loads((runs_dir / str(row.run_id) / "result.json").read_text())
        start = datetime.fromisoformat(res["started_utc"]).timestamp()
        spans.append((start, start + res["timings"]["total"]))
    (s0, e0), (s1, e1) = spans
    assert s0 < e1 and s1 < e0
    for row in report.rows:
        assert (row.executor, row.host, row.node, row.attempt) == ("local", host, None, 1)
        assert (row.threads, row.cpus, row.concurrency) == (1, cores, 2)
        assert row.where == f"{host} (1 of {cores} cores)"
    line = f"ran on: local, up to 2 at once ({host}: 1 of {cores} cores each)"
    assert report.ran_on == line and report.timing_warnings == ()
    assert line in report_text.terminal_summary(report)

    # the files the session wrote: old keys kept in order, the new ones after them
    data = json.loads(next(p for p in done.paths if p.name == "report.json").read_text())
    assert list(data)[:len(OLD_REPORT_KEYS)] == OLD_REPORT_KEYS
    assert list(data)[len(OLD_REPORT_KEYS):] == ["ran_on", "timing_warnings"]
    assert list(data["rows"][0])[:len(OLD_ROW_KEYS)] == OLD_ROW_KEYS
    assert [r["concurrency"] for r in data["rows"]] == [2, 2]
    table = list(csv.DictReader(io.StringIO(
        next(p for p in done.paths if p.name == "report.csv").read_text())))
    assert [(r["executor"], r["where"], r["concurrency"]) for r in table] == \
        [("local", f"{host} (1 of {cores} cores)", "2")] * 2

    # a third seed of the same group, run alone: a report comparing all three says so
    alone = SuiteSpec(name="sweep", methods=("tsne-gmm",), sizes=(100,), seeds=(2,),
                      presets=("default",), overrides=TSNE).validate()
    single = SuiteSession(runs_dir, alone).run()
    assert single.status == "finished"
    [lone] = single.report.rows
    assert (lone.concurrency, lone.threads, lone.where) == (1, None, f"{host} (all {cores} cores)")
    chosen = [str(r.run_id) for r in report.rows] + [str(lone.run_id)]
    mixed = build_runs_report(runs_dir, chosen)
    assert [r.concurrency for r in mixed.rows] == [2, 2, 1]
    assert mixed.ran_on == (f"ran on: local, up to 2 at once ({host}: 1 of {cores} cores, "
                            f"all {cores} cores)")
    assert list(mixed.timing_warnings) == [
        f"tsne-gmm default 100: seeds ran with different thread shares (1 of {cores} cores, "
        f"all {cores} cores)",
        "tsne-gmm default 100: times compared across concurrency 1 and 2"]
    md = report_text.markdown(mixed)
    assert "- warning: tsne-gmm default 100: times compared across concurrency 1 and 2" in md
    assert f"| local: {host} (all {cores} cores) | 1 |" in md


# -- two hosts, as two Ray nodes record it ---------------------------------------------------------

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
NODE_A, NODE_B = "a" * 56, "b" * 56


def write_run(folder: SuiteFolder, member: Member, run_id: str, acc: float, start_s: float,
              total_s: float, placement: Placement) -> None:
    """A finished member run as the worker records it (spec, meta and result records)."""
    run_dir = folder.runs_dir / run_id
    run_dir.mkdir(parents=True)
    started = (T0 + timedelta(seconds=start_s)).isoformat(timespec="microseconds")
    records.write_meta(run_dir, RunMeta(run_id=run_id, created=started, started_utc=started,
                                        placement=placement.to_dict()))
    records.write_spec(run_dir, member.spec)
    clustering = member.job == "tsne-gmm"
    metrics = ({"kind": "clustering", "accuracy_hungarian": acc, "accuracy_majority": acc,
                "nmi": 0.7, "ari": 0.6} if clustering else
               {"kind": "classifier", "accuracy": acc, "n_eval": 50,
                "eval_split": "held-out"})
    assert records.create_result(run_dir, RunResult.from_dict({
        "status": "finished", "job": member.job, "preset": member.preset, "seed": member.seed,
        "run_id": run_id, "spec": member.spec, "started_utc": started,
        "started_at": started, "metrics": metrics,
        "timings": {"training" if not clustering else "tsne": total_s - 1, "total": total_s},
        "dataset": {"name": "digits", "n_samples": member.size, "fingerprint": "f" * 64},
        "placement": placement.to_dict()}))
    folder.set_member(member.key, run_id)


def test_two_hosts_and_gpus_are_summed_up_and_warned_about(tmp_path):
    spec = SuiteSpec(name="sweep", methods=("tsne-gmm", "cnn"), sizes=(100,), seeds=(0, 1, 2),
                     presets=("default",), overrides={"dataset": "digits", "epochs": 1}
                     ).validate()
    folder = SuiteFolder.create(tmp_path / "runs", spec)
    tsne0, cnn0, tsne1, cnn1, tsne2, _cnn2 = spec.members()
    cpu = dict(executor="ray", parallel=2, threads=1, cpus=8)
    write_run(folder, tsne0, "run-tsne0", 0.70, 0, 10, Placement(host="node-a", node=NODE_A,
                                                                 **cpu))
    write_run(folder, tsne1, "run-tsne1", 0.72, 1, 10, Placement(host="node-b", node=NODE_B,
                                                                 **cpu))
    gpu = dict(executor="ray", parallel=2, threads=1, cpus=8, host="node-a", node=NODE_A,
               gpu="0")
    write_run(folder, cnn0, "run-cnn0", 0.90, 20, 10, Placement(gpu_name="NVIDIA A100", **gpu))
    write_run(folder, cnn1, "run-cnn1", 0.91, 40, 10, Placement(
        gpu_name="NVIDIA H100", attempt=2, retried_after="node bbbbbbbb died", **gpu))
    # tsne seed 2 failed on node-b before it had a run folder (the runner keeps the reason)
    mismatch = ("dataset fingerprint mismatch on node-b: this machine's data (digits) has "
                "fingerprint 0123456789ab…, the suite's is ffffffffffff…")
    folder.set_member(tsne2.key, "run-tsne2")
    folder.set_measurement("run-tsne2", Measurement(status="failed", error=mismatch))

    report = build_report(folder, "failed")
    rows = {r.run_id: r for r in report.rows}
    assert [(r.host, r.node, r.where, r.attempt, r.concurrency) for r in report.rows] == [
        ("node-a", "aaaaaaaa", "node-a (1 of 8 cores)", 1, 2),
        ("node-a", "aaaaaaaa", "node-a (GPU 0: NVIDIA A100)", 1, 1),
        ("node-b", "bbbbbbbb", "node-b (1 of 8 cores)", 1, 2),
        ("node-a", "aaaaaaaa", "node-a (GPU 0: NVIDIA H100)", 2, 1),
        (None, None, None, None, None),                  # failed before its run folder
        (None, None, None, None, None)]                  # pending
    assert rows["run-cnn1"].retried_after == "node bbbbbbbb died"
    assert rows["run-tsne2"].status == "failed" and rows["run-tsne2"].error == mismatch

    assert report.ran_on == (
        "ran on: ray: 4 members on 2 nodes (node-a node aaaaaaaa: 3, node-b node bbbbbbbb: 1), "
        "up to 2 at once, 1 of 8 cores, GPU 0: NVIDIA A100, GPU 0: NVIDIA H100, "
        "1 retried after a failed first attempt")
    assert list(report.timing_warnings) == [
        "tsne-gmm default 100: seeds ran on 2 hosts (node-a, node-b)",
        "cnn default 100: seeds ran on different devices (NVIDIA A100, NVIDIA H100)",
        "groups compared at 100 images ran on 2 hosts (node-a, node-b)",
        "groups compared at 100 images ran on different devices (CPU, NVIDIA A100, "
        "NVIDIA H100)",
        "groups compared at 100 images: times compared across concurrency 1 and 2"]

    # every form says it: the terminal, Markdown, HTML and JSON
    term = report_text.terminal_summary(report)
    md = report_text.markdown(report)
    page = html(report)
    data = json.loads(report_text.to_json(report))
    assert report.ran_on in term and f"- {report.ran_on}" in md
    assert data["ran_on"] == report.ran_on
    assert data["timing_warnings"] == list(report.timing_warnings)
    for w in report.timing_warnings:
        assert f"warning: {w}" in term and f"- warning: {w}" in md
        assert f"<li>warning: {w}</li>" in page
    assert "ray: node-a (GPU 0: NVIDIA H100) node aaaaaaaa, attempt 2 (after: node bbbbbbbb " \
           "died)" in md
    # the member whose data differed is listed with that reason in every form
    assert f"FAILED: tsne-gmm default 100 images seed 2 (run-tsne2): {mismatch}" in term
    assert f"(run-tsne2): {report_text.md_cell(mismatch)}" in md
    assert "run-tsne2): dataset fingerprint mismatch on node-b" in page
    assert data["rows"][4]["error"] == mismatch


def test_a_report_without_placement_says_it_ran_alone(tmp_path: Path):
    """Runs recorded before placement existed: no warnings, and the line says what was true
    then (local, one at a time)."""
    spec = SuiteSpec(name="sweep", methods=("cnn",), sizes=(100,), seeds=(0, 1),
                     presets=("default",), overrides={"dataset": "digits"}).validate()
    folder = SuiteFolder.create(tmp_path / "runs", spec)
    for i, m in enumerate(spec.members()):
        run_dir = folder.runs_dir / f"old-{i}"
        run_dir.mkdir(parents=True)
        records.write_spec(run_dir, m.spec)
        started = (T0 + timedelta(seconds=30 * i)).strftime("%Y-%m-%dT%H:%M:%S%z")
        records.create_result(run_dir, RunResult.from_dict({
            "status": "finished", "job": "cnn", "run_id": run_dir.name, "spec": m.spec,
            "started_at": started, "timings": {"total": 20.0},
            "metrics": {"kind": "classifier", "accuracy": 0.9},
            "machine": {"host": "old-box", "cpus": 2}}))
        folder.set_member(m.key, run_dir.name)
    report = build_report(folder, "finished")
    assert [(r.executor, r.where, r.concurrency) for r in report.rows] == \
        [("local", "old-box (all 2 cores)", 1)] * 2
    assert report.ran_on == "ran on: local, one at a time (old-box: all 2 cores)"
    assert report.timing_warnings == ()
