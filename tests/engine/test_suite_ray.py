"""`--executor ray` on a simulated two-node cluster (tests/ray_cluster.py, one for the whole
session): members spread over both nodes, a classifier member owning its node's fake GPU; a
node that dies under a member (retried once elsewhere, then recorded failed, the suite going
on); a cancel stopping every running member on every node, the suite resumable; the run folders
that come home read by the records' own readers; a node whose data differs failing its member,
the report saying so; the same numbers as on this machine; the real CLI as a Ray driver.

Members are real, tiny workers: t-SNE + GMM and a one-epoch CNN on the bundled digits."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from support import patient, wait_until

pytest.importorskip("ray")

from mnist_tui.engine.jobs.results import Placement, RunResult  # noqa: E402
from mnist_tui.engine.runs import records  # noqa: E402
from mnist_tui.engine.runs.store import RunStore  # noqa: E402
from mnist_tui.engine.suites.executor import LocalSerialExecutor  # noqa: E402
from mnist_tui.engine.suites.listener import SuiteListener  # noqa: E402
from mnist_tui.engine.suites.ray_executor import RayExecutor  # noqa: E402
from mnist_tui.engine.suites.report import build_report  # noqa: E402
from mnist_tui.engine.suites.session import SuiteResult, SuiteSession  # noqa: E402
from mnist_tui.engine.suites.spec import SuiteSpec  # noqa: E402

TSNE = {"dataset": "digits", "iterations": 300, "gmm_inits": 1}
CNN = {"epochs": 1, "eval_samples": 60, "batch_size": 32}


def sweep(methods: tuple[str, ...], sizes: tuple[int, ...], seeds: tuple[int, ...] = (0,),
          overrides: dict[str, Any] | None = None) -> SuiteSpec:
    return SuiteSpec(name="sweep", methods=methods, sizes=sizes, seeds=seeds,
                     presets=("default",), overrides=overrides or TSNE).validate()


class Watcher(SuiteListener):
    """Where each member runs (every attempt), its events, its end (from executor threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.placed: list[tuple[int, str, Placement]] = []      # (index, run id, placement)
        self.events: dict[int, list[str]] = {}
        self.ended: dict[int, RunResult] = {}
        self.reused: list[str] = []

    def member_placed(self, index: int, member: Any, run_id: str,
                      placement: Placement) -> None:
        with self.lock:
            self.placed.append((index, run_id, placement))

    def member_event(self, index: int, member: Any, ev: Any) -> None:
        with self.lock:
            self.events.setdefault(index, []).append(ev.type)

    def member_end(self, index: int, total: int, member: Any, result: RunResult) -> None:
        with self.lock:
            self.ended[index] = result

    def member_reused(self, index: int, total: int, member: Any, run_id: str) -> None:
        with self.lock:
            self.reused.append(run_id)

    def attempt(self, index: int, attempt: int) -> Placement | None:
        """Where attempt `attempt` of member `index` runs, once its task said so."""
        with self.lock:
            for i, _, p in self.placed:
                if i == index and p.attempt == attempt and p.node:
                    return p
        return None

    def progressed(self, index: int, since: int = 0) -> bool:
        """Member `index` sent progress events (beyond the first `since`)."""
        with self.lock:
            return self.events.get(index, []).count("progress") > since

    def progress_count(self, index: int) -> int:
        with self.lock:
            return self.events.get(index, []).count("progress")


def run_on_ray(runs_dir: Path, spec: SuiteSpec | str, parallel: int = 0,
               listener: SuiteListener | None = None) -> SuiteSession:
    return SuiteSession(runs_dir, spec, listener=listener,
                        executor=RayExecutor(runs_dir, parallel=parallel))


def member_results(result: SuiteResult, runs_dir: Path) -> list[RunResult]:
    """Each member's result record, in member order (from the report's rows)."""
    out = []
    for row in result.report.rows:
        assert row.run_id, row
        rec = records.read_result(runs_dir / row.run_id)
        assert rec is not None, row.run_id
        out.append(rec)
    return out


def test_members_spread_over_both_nodes_and_a_classifier_owns_a_gpu(ray_cluster, tmp_path):
    runs = tmp_path / "runs"
    watcher = Watcher()
    spec = sweep(("cnn", "tsne-gmm"), (150,), overrides={**TSNE, **CNN})
    result = run_on_ray(runs, spec, listener=watcher).run()

    assert result.status == "finished", result.outcome
    cnn, tsne = member_results(result, runs)
    assert (cnn.job, tsne.job) == ("cnn", "tsne-gmm")
    assert cnn.status == tsne.status == "finished"
    assert cnn.placement is not None and tsne.placement is not None
    # both ran at once, one on each one-CPU node
    assert {ray_cluster.name_of(cnn.placement.node),
            ray_cluster.name_of(tsne.placement.node)} == {"a", "b"}
    # the classifier got its node's (fake) GPU from Ray; t-SNE none
    assert cnn.placement.gpu == "0"
    assert tsne.placement.gpu == ""
    for rec in (cnn, tsne):
        assert rec.placement.executor == "ray"
        assert rec.placement.threads == 1
        assert rec.placement.attempt == 1 and rec.placement.retried_after is None
    # the suite heard where each ran while it ran
    placed = {run_id: p for _, run_id, p in watcher.placed}
    assert placed[cnn.run_id].node == cnn.placement.node
    assert status_executor(result) == {"kind": "ray", "parallel": 2,
                                       "address": "auto"}


def status_executor(result: SuiteResult) -> dict[str, Any]:
    return dict(json.loads((result.folder.path / "status.json").read_text())["executor"])


def test_run_folders_that_come_home_are_valid_records(ray_cluster, tmp_path):
    runs = tmp_path / "runs"
    result = run_on_ray(runs, sweep(("tsne-gmm",), (120,))).run()
    assert result.status == "finished"
    (row,) = result.report.rows
    run_dir = runs / row.run_id
    # the records' own readers accept every file the node wrote
    res = records.read_result(run_dir)
    meta = records.read_meta(run_dir)
    spec = records.read_spec(run_dir)
    assert res is not None and meta is not None
    assert res.status == "finished" and res.run_id == row.run_id
    assert res.run_dir == str(run_dir)            # rehomed: the local folder, not the node's
    assert spec["job"] == "tsne-gmm" and spec["samples"] == 120
    assert meta.run_id == row.run_id
    assert meta.placement is not None and meta.placement["executor"] == "ray"
    assert ray_cluster.name_of(meta.placement["node"]) in ("a", "b")
    store = RunStore(runs)
    listed, skipped = store.listing()
    assert [r.run_id for r in listed] == [row.run_id] and skipped == []
    events = store.events(row.run_id)
    assert events[0].type == "started" and events[-1].type == "finished"
    assert any(ev.type == "progress" for ev in events)
    # nothing half-unpacked is left beside the runs
    assert sorted(p.name for p in runs.iterdir()) == sorted([row.run_id, "suites"])


def test_a_node_that_dies_under_a_member_is_retried_then_recorded_failed(ray_cluster,
                                                                         tmp_path):
    """Member 1: its node dies mid-run → retried on another node, finishes. Member 2: its node
    dies, then the retry's node dies too → recorded failed with the reason. Member 3 runs:
    the suite goes on. (One member at a time, so the order is known; each dead node is
    replaced by a new one with its name, for the tests after this one.)"""
    runs = tmp_path / "runs"
    watcher = Watcher()
    spec = sweep(("tsne-gmm",), (150,), seeds=(0, 1, 2),
                 overrides={**TSNE, "iterations": 500})
    session = run_on_ray(runs, spec, parallel=1, listener=watcher)
    session.start()
    try:
        def kill_under(index: int, attempt: int) -> str:
            placed = wait_until(lambda: watcher.attempt(index, attempt), 120,
                                f"member {index} attempt {attempt} placed")
            before = watcher.progress_count(index)
            wait_until(lambda: watcher.progressed(index, before), 120,
                       f"member {index} attempt {attempt} running")
            assert placed.node is not None
            return ray_cluster.replace(placed.node)

        kill_under(1, 1)
        kill_under(2, 1)
        kill_under(2, 2)
        assert session.join(patient(120))
    finally:
        session.cancel()
        session.join(patient(60))
    result = session.result
    assert result is not None, session.error
    first, second, third = (watcher.ended[i] for i in (1, 2, 3))

    assert first.status == "finished"
    assert first.placement is not None and first.placement.attempt == 2
    assert first.placement.retried_after and "node" in first.placement.retried_after
    died_on = watcher.attempt(1, 1)
    assert died_on is not None and died_on.node != first.placement.node
    assert records.read_result(runs / str(first.run_id)) is not None

    assert second.status == "failed"
    assert second.error and "after a retry" in second.error and "died" in second.error

    assert third.status == "finished"
    assert result.status == "failed"          # a member failed; the suite still ran them all
    status = json.loads((result.folder.path / "status.json").read_text())
    assert status["finished"] == 2


def test_a_cancel_stops_every_running_member_and_the_suite_resumes(ray_cluster, tmp_path):
    runs = tmp_path / "runs"
    watcher = Watcher()
    # long enough that the members running at the cancel are still running when their tasks
    # read the stop flag (with 500 iterations they ended first under CI's load: "finished")
    spec = sweep(("tsne-gmm",), (100,), seeds=(0, 1, 2, 3),
                 overrides={**TSNE, "iterations": 1500})
    session = run_on_ray(runs, spec, parallel=2, listener=watcher)
    session.start()

    def two_running_after_an_end() -> bool:
        with watcher.lock:
            placed = {i for i, _, _ in watcher.placed}
            ended = set(watcher.ended)
        running = placed - ended
        return bool(ended) and len(running) == 2 and all(
            watcher.progressed(i) for i in running)

    try:
        wait_until(two_running_after_an_end, 120, "a member's end, then two members running")
    finally:
        session.cancel()              # from another thread, as the TUI does
    assert session.join(patient(90))
    result = session.result
    assert result is not None, session.error
    assert result.status == "interrupted"
    statuses = {i: r.status for i, r in watcher.ended.items()}
    finished = sorted(i for i, st in statuses.items() if st == "finished")
    stopped = sorted(i for i, st in statuses.items() if st == "interrupted")
    assert finished and stopped and len(finished) + len(stopped) == len(statuses), statuses
    assert len(statuses) < 4 or stopped            # nothing started after the cancel
    for index in stopped:
        # its run folder came home, recorded interrupted by the worker itself (what it
        # measured, and where it ran), not killed after the grace
        rec = records.read_result(runs / str(watcher.ended[index].run_id))
        assert rec is not None and rec.status == "interrupted", index
        assert rec.stopped_by == "ctrl-c" and "killed" not in (rec.error or "")
        assert rec.placement is not None and rec.placement.executor == "ray"
        assert rec.timings.get("loading") is not None
    status = json.loads((result.folder.path / "status.json").read_text())
    assert status["status"] == "interrupted" and status["finished"] == len(finished)

    # resumed: the finished members are reused, whichever node ran them
    again = Watcher()
    done = run_on_ray(runs, result.folder.suite_id, listener=again).run()
    assert done.status == "finished"
    assert sorted(again.reused) == sorted(str(watcher.ended[i].run_id) for i in finished)
    assert sorted(again.ended) == sorted(set(range(1, 5)) - set(finished))
    assert all(r.status == "finished" for r in again.ended.values())


def test_a_node_with_other_data_fails_its_member_and_the_report_says_so(ray_cluster,
                                                                        tmp_path,
                                                                        monkeypatch):
    """`--dataset mnist` from each node's own cache: node a's copy is the suite's (the driver
    reads it), node b's differs. Two members at once run one on each node."""
    for key, value in ray_cluster.driver_env.items():
        monkeypatch.setenv(key, value)
    runs = tmp_path / "runs"
    watcher = Watcher()
    spec = sweep(("tsne-gmm",), (100,), seeds=(0, 1),
                 overrides={**TSNE, "dataset": "mnist"})
    result = run_on_ray(runs, spec, parallel=2, listener=watcher).run()
    by_node = {}
    for index in (1, 2):
        placed = watcher.attempt(index, 1)
        assert placed is not None and placed.node is not None
        by_node[ray_cluster.name_of(placed.node)] = watcher.ended[index]
    assert set(by_node) == {"a", "b"}
    assert by_node["a"].status == "finished"
    assert by_node["b"].status == "failed"
    assert by_node["b"].error is not None
    assert by_node["b"].error.startswith("dataset fingerprint mismatch on ")
    report = build_report(result.folder, result.status)
    failed = [row for row in report.rows if row.status == "failed"]
    assert len(failed) == 1 and failed[0].error is not None
    assert "dataset fingerprint mismatch" in failed[0].error
    md = next(p for p in result.paths if p.name == "report.md").read_text()
    assert "dataset fingerprint mismatch" in md


def test_the_same_spec_and_seed_give_the_same_numbers_as_on_this_machine(ray_cluster,
                                                                         tmp_path):
    spec = sweep(("tsne-gmm",), (150,))
    on_ray = run_on_ray(tmp_path / "ray", spec).run()
    here = SuiteSession(tmp_path / "local", spec,
                        executor=LocalSerialExecutor(tmp_path / "local")).run()
    (r,) = member_results(on_ray, tmp_path / "ray")
    (h,) = member_results(here, tmp_path / "local")
    assert r.placement is not None and r.placement.executor == "ray"
    assert r.metrics.model_dump() == h.metrics.model_dump()


def test_the_cli_drives_a_suite_on_the_cluster(ray_cluster, tmp_path, cli_env, run_cli):
    env = {**cli_env, **ray_cluster.common}
    out = run_cli(["--batch", "--suite", "sweep", "--methods", "tsne-gmm", "--presets",
                   "default", "--sizes", "100", "--seeds", "1", "--dataset", "digits",
                   "--iterations", "300", "--gmm-inits", "1", "--executor", "ray",
                   "--ray-address", ray_cluster.address], env, timeout=60)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    runs = Path(env["MNIST_TUI_RUNS_DIR"])
    listed = RunStore(runs).list()      # (--seeds N: that many seeds)
    assert listed
    for info in listed:
        rec = records.read_result(runs / info.run_id)
        assert rec is not None and rec.status == "finished"
        assert rec.placement is not None and rec.placement.executor == "ray"
        assert ray_cluster.name_of(str(rec.placement.node)) in ("a", "b")
