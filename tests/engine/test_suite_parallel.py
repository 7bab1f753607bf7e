"""`--parallel N` on one machine (`local_pool.LocalPoolExecutor`): members overlap in time,
their numbers equal a sequential run's, each worker's thread pools are sized to its share of
the cores, a classifier member owns a GPU (faked by injection: this machine has none), a
member whose data is not the suite's fails with the reason while the suite goes on, and a
Ctrl-C while members start stops and records every one.

When members ran is read from their result records: `started_utc` (microseconds, UTC) plus
`timings.total` (the job's own clock, from the same start), so an interval is precise to well
under the seconds a tiny member runs; `finished_at` has whole seconds only.

Members are real, tiny workers on the bundled digits."""

from __future__ import annotations

import json
import os
import signal
import threading
from datetime import datetime, timedelta
from pathlib import Path

from mnist_tui.engine.jobs.events import Event, Started
from mnist_tui.engine.jobs.results import Placement
from mnist_tui.engine.placement import Gpu
from mnist_tui.engine.runs import records
from mnist_tui.engine.runs.records import RunResult
from mnist_tui.engine.suites.executor import LocalSerialExecutor
from mnist_tui.engine.suites.folder import SuiteFolder
from mnist_tui.engine.suites.listener import SuiteListener
from mnist_tui.engine.suites.local_pool import LocalPoolExecutor
from mnist_tui.engine.suites.report import build_report
from mnist_tui.engine.suites.runner import run_suite
from mnist_tui.engine.suites.session import SuiteResult, SuiteSession
from mnist_tui.engine.suites.spec import Member, SuiteSpec

TSNE = {"dataset": "digits", "iterations": 260, "gmm_inits": 1}
CNN = {"dataset": "digits", "epochs": 1, "eval_samples": 50}


def spec(methods: tuple[str, ...], sizes: tuple[int, ...], overrides: dict) -> SuiteSpec:
    return SuiteSpec(name="sweep", methods=methods, sizes=sizes, seeds=(3,),
                     presets=("default",), overrides=overrides).validate()


class Watcher(SuiteListener):
    """Where each member was placed, and what its live worker's /proc says: its environment
    (read when it says it started) and the most threads it had at any of its events."""

    def __init__(self) -> None:
        self.placed: dict[int, Placement] = {}
        self.env: dict[int, dict[str, str]] = {}
        self.max_threads: dict[int, int] = {}
        self.threads: set[str] = set()
        self.pids: dict[int, int] = {}

    def member_placed(self, index: int, member: Member, run_id: str,
                      placement: Placement) -> None:
        self.placed[index] = placement

    def member_event(self, index: int, member: Member, ev: Event) -> None:
        self.threads.add(threading.current_thread().name)
        if isinstance(ev, Started):
            self.pids[index] = ev.pid
            self.env[index] = proc_environ(ev.pid)
        pid = self.pids.get(index)
        if pid:
            n = proc_threads(pid)
            if n is not None:
                self.max_threads[index] = max(n, self.max_threads.get(index, 0))


def proc_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def proc_threads(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def interval(result: RunResult) -> tuple[datetime, datetime]:
    """When the member's job ran: its UTC start and that plus its own total time."""
    assert result.started_utc and result.timings.get("total")
    start = datetime.fromisoformat(result.started_utc)
    return start, start + timedelta(seconds=result.timings["total"])


def overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def results_of(done: SuiteResult) -> dict[str, RunResult]:
    """member key → its result, read back from the run folders by the records' own reader."""
    out = {}
    for key, run_id in done.folder.members().items():
        res = records.read_result(done.folder.runs_dir / run_id)
        assert res is not None, run_id
        out[key] = res
    return out


def test_two_members_at_once_overlap_and_equal_a_sequential_run(tmp_path):
    watcher = Watcher()
    # GPUs faked: these t-SNE members must see none (a classifier would own one)
    pool = LocalPoolExecutor(tmp_path / "par", 2, gpus=[Gpu(0, "A"), Gpu(1, "B")])
    par = SuiteSession(tmp_path / "par", spec(("tsne-gmm",), (200, 300), TSNE),
                       listener=watcher, executor=pool).run()
    # the 300-image member again, alone, one at a time with every core
    seq_watcher = Watcher()
    seq = SuiteSession(tmp_path / "seq", spec(("tsne-gmm",), (300,), TSNE),
                       listener=seq_watcher,
                       executor=LocalSerialExecutor(tmp_path / "seq")).run()
    assert par.status == seq.status == "finished"
    assert len(par.outcome.ran) == 2

    got, want = results_of(par), results_of(seq)
    a, b = (interval(r) for r in got.values())
    assert overlap(a, b), (a, b)            # both ran at once
    # Same spec, same seed: the same numbers, exactly, whatever the thread count (openTSNE
    # with 1 thread or every core, BLAS likewise) — t-SNE + GMM here is deterministic.
    assert len(want) == 1 and want.keys() <= got.keys()
    for key in want:
        g, w = got[key].metrics, want[key].metrics
        for name in ("accuracy_hungarian", "accuracy_majority", "nmi", "ari"):
            assert getattr(g, name) == getattr(w, name), (key, name)
            assert getattr(g, name) is not None

    # Thread pools sized to the share: 2 cores // 2 members = 1 thread each, recorded by the
    # worker from what it was handed, and really in its environment while it ran.
    cpus = pool.cpus
    share = max(1, cpus // 2)
    for res in got.values():
        p = res.placement
        assert p is not None
        assert (p.executor, p.parallel, p.threads, p.cpus) == ("local", 2, share, cpus)
        assert p.gpu == "" and p.gpu_name is None          # sees no GPU
        meta = records.read_meta(par.folder.runs_dir / res.run_id)
        assert meta is not None and meta.placement and meta.placement["threads"] == share
    assert set(watcher.env) == {1, 2}
    for env in watcher.env.values():
        assert env["MNIST_TUI_THREADS"] == str(share)
        assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == str(share)
        assert json.loads(env["MNIST_TUI_PLACEMENT"])["parallel"] == 2
        assert env["CUDA_VISIBLE_DEVICES"] == ""
    assert all(p.threads == share for p in watcher.placed.values())
    # ... and its pools were that small: a worker with a share had fewer threads than the one
    # with every core (on 2 cores: 3 against 6, BLAS and openTSNE pools included; /proc's
    # count at every event, BLAS's pool starts with numpy, so it is always seen)
    assert set(watcher.max_threads) == {1, 2} and set(seq_watcher.max_threads) == {1}
    if share < cpus:
        assert max(watcher.max_threads.values()) < seq_watcher.max_threads[1], (
            watcher.max_threads, seq_watcher.max_threads)
    # the sequential run's members had every core: no share recorded
    assert all(r.placement is not None and r.placement.threads is None
               and r.placement.parallel == 1 for r in want.values())
    # the pool delivers from its members' threads, never the caller's
    assert threading.current_thread().name not in watcher.threads


def test_each_classifier_member_owns_a_gpu(tmp_path):
    runs_dir = tmp_path / "runs"
    watcher = Watcher()
    pool = LocalPoolExecutor(runs_dir, 2, gpus=[Gpu(0, "A"), Gpu(1, "B")], cpus=2)
    done = SuiteSession(runs_dir, spec(("cnn",), (100, 150), CNN),
                        listener=watcher, executor=pool).run()
    assert done.status == "finished"
    got = results_of(done)
    assert len(got) == 2
    names = {"0": "A", "1": "B"}
    runs: list[tuple[str, tuple[datetime, datetime]]] = []
    for res in got.values():
        p = res.placement
        assert p is not None and p.threads == 1 and p.parallel == 2
        assert p.gpu in names, p
        assert p.gpu_name == names[p.gpu]      # the executor's name for it, recorded
        runs.append((p.gpu, interval(res)))
    # what each worker saw: its own GPU
    assert set(watcher.env) == set(watcher.placed) == {1, 2}
    for index, placement in watcher.placed.items():
        assert watcher.env[index]["CUDA_VISIBLE_DEVICES"] == placement.gpu
    # both ran at once, never on the same GPU
    (gpu_a, when_a), (gpu_b, when_b) = runs
    assert overlap(when_a, when_b) and gpu_a != gpu_b


def test_a_member_reading_other_data_fails_with_why_and_the_suite_goes_on(tmp_path):
    runs_dir = tmp_path / "runs"
    suite = spec(("tsne-gmm",), (200, 250), TSNE)
    folder = SuiteFolder.create(runs_dir, suite)
    wrong, right = suite.members()
    outcome = run_suite(folder, executor=LocalPoolExecutor(runs_dir, 2),
                        datasets={wrong.key: "0" * 64})
    assert outcome.status == "failed" and outcome.failed == [wrong.label]
    bad = outcome.results[wrong.key]
    assert bad.status == "failed" and bad.error
    assert bad.error.startswith("dataset fingerprint mismatch on ")
    assert outcome.results[right.key].status == "finished"
    # nothing half-written: no run folder for the failed member, only the good one's
    bad_id = folder.members()[wrong.key]
    assert not (runs_dir / bad_id).exists()
    assert sorted(p.name for p in runs_dir.iterdir() if p.name != "suites") == [
        folder.members()[right.key]]
    status = json.loads((folder.path / "status.json").read_text())
    assert status["status"] == "failed" and status["failed"] == [wrong.label]
    report = build_report(folder, outcome.status)
    rows = {row.run_id: row for row in report.rows}
    assert rows[bad_id].status == "failed"
    assert "dataset fingerprint mismatch" in (rows[bad_id].error or "")


class CtrlC(SuiteListener):
    """Sends this process SIGINT (a Ctrl-C) once both members' workers started; notes each
    member's end."""

    def __init__(self) -> None:
        self.started: set[int] = set()
        self.ended: dict[int, str] = {}

    def member_event(self, index: int, member: Member, ev: Event) -> None:
        if isinstance(ev, Started):
            self.started.add(index)
            if self.started == {1, 2}:
                os.kill(os.getpid(), signal.SIGINT)

    def member_end(self, index: int, total: int, member: Member, result: RunResult) -> None:
        self.ended[index] = result.status


def test_a_ctrl_c_while_members_start_stops_and_records_every_one(tmp_path):
    # The Ctrl-C lands while the suite's thread waits for the pool (drain): in CPython 3.11 a
    # Thread.join it interrupts marks the live member thread stopped, and the pool used to
    # return before the members were delivered (no end, no record: "running" in the report).
    runs_dir = tmp_path / "runs"
    heard = CtrlC()
    done = SuiteSession(runs_dir, spec(("tsne-gmm",), (200, 250), TSNE), listener=heard,
                        executor=LocalPoolExecutor(runs_dir, 2)).run()
    assert done.status == "interrupted"
    assert heard.ended == {1: "interrupted", 2: "interrupted"}
    assert [r.status for r in done.outcome.results.values()] == ["interrupted"] * 2
    measured = done.folder.measurements().runs
    for run_id in done.folder.members().values():
        # recorded: its run folder's result (stopped after loading), or the suite's
        # measurement (stopped before its folder existed)
        res = records.read_result(runs_dir / run_id)
        status = res.status if res is not None else measured[run_id].status
        assert status == "interrupted", run_id
    assert json.loads((done.folder.path / "status.json").read_text())["status"] == (
        "interrupted")
    assert [row.status for row in done.report.rows] == ["interrupted"] * 2
