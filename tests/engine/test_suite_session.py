"""The suite session: what a front end hears (in order), a resumed suite reusing its finished
member, a cancel from another thread stopping the running worker (recorded, resumable), and
a second session of a running suite refused.

Members are real, tiny workers: t-SNE + GMM on the bundled digits."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from support import wait_until

from mnist_tui.engine.runs.procs import process_alive
from mnist_tui.engine.runs.records import RunResult
from mnist_tui.engine.suites.listener import SuiteListener
from mnist_tui.engine.suites.lock import SuiteBusyError
from mnist_tui.engine.suites.session import SuiteResult, SuiteSession
from mnist_tui.engine.suites.spec import SuiteSpec

TINY = {"dataset": "digits", "iterations": 260, "gmm_inits": 1}
SLOW = {"dataset": "digits", "iterations": 5000, "gmm_inits": 1}


def spec(sizes: tuple[int, ...], overrides: dict) -> SuiteSpec:
    return SuiteSpec(name="sweep", methods=("tsne-gmm",), sizes=sizes, seeds=(0,),
                     presets=("default",), overrides=overrides).validate()


class Recorder(SuiteListener):
    """Every call, in order, with what identifies it; the threads they came on."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.threads: set[str] = set()
        self.results: list[RunResult] = []
        self.ended: SuiteResult | None = None

    def _note(self, *call: object) -> None:
        self.calls.append(call)
        self.threads.add(threading.current_thread().name)

    def suite_ready(self, folder, spec, resumed) -> None:
        self._note("ready", folder.suite_id, len(spec.members()), resumed)

    def member_start(self, index, total, member) -> None:
        self._note("start", index, total, member.size)

    def member_reused(self, index, total, member, run_id) -> None:
        self._note("reused", index, total, run_id)

    def event(self, ev) -> None:
        if ev.type in ("started", "finished", "interrupted", "failed"):
            self._note("event", ev.type)

    def member_end(self, index, total, member, result) -> None:
        self.results.append(result)
        self._note("end", index, total, result.status)

    def suite_end(self, result) -> None:
        self.ended = result
        self._note("suite_end", result.status)

    def suite_error(self, error) -> None:
        self._note("suite_error", type(error).__name__)


def status_file(result: SuiteResult) -> dict:
    return json.loads((result.folder.path / "status.json").read_text())


def report_rows(result: SuiteResult) -> list[dict]:
    """The rows of the report.json the session wrote."""
    path = next(p for p in result.paths if p.name == "report.json")
    return json.loads(path.read_text())["rows"]


def test_a_suite_is_told_in_order_and_reported(tmp_path):
    runs_dir = tmp_path / "runs"
    heard = Recorder()
    session = SuiteSession(runs_dir, spec((100, 150), TINY), listener=heard)
    done = session.run()

    sid = done.folder.suite_id
    assert heard.calls == [
        ("ready", sid, 2, False),
        ("start", 1, 2, 100), ("event", "started"), ("event", "finished"),
        ("end", 1, 2, "finished"),
        ("start", 2, 2, 150), ("event", "started"), ("event", "finished"),
        ("end", 2, 2, "finished"),
        ("suite_end", "finished")]
    assert heard.threads == {threading.current_thread().name}   # run(): the caller's thread
    assert heard.ended is done and session.result is done and not session.running
    # the members' results are the typed record, with their run ids and accuracies
    assert [r.run_id for r in heard.results] == done.outcome.ran
    assert all(isinstance(r, RunResult) and 0 < r.headline().value <= 1
               for r in heard.results)
    # the report: a row per member, written next to the suite's records
    rows = report_rows(done)
    assert [row["run_id"] for row in rows] == done.outcome.ran
    assert [row["status"] for row in rows] == ["finished", "finished"]
    assert {p.name for p in done.paths} == {"report.html", "report.md", "report.json",
                                            "report.csv"}
    assert all(p.parent == done.folder.path and p.is_file() for p in done.paths)
    st = status_file(done)
    assert (st["status"], st["members"], st["finished"], st["failed"]) == ("finished", 2, 2, [])


def test_resuming_reuses_the_finished_member_and_a_second_session_is_refused(tmp_path):
    runs_dir = tmp_path / "runs"
    first = SuiteSession(runs_dir, spec((100,), TINY)).run()
    run_id = first.outcome.ran[0]

    heard = Recorder()
    resumed = SuiteSession(runs_dir, first.folder.suite_id, listener=heard)
    assert resumed.resumed and resumed.folder.suite_id == first.folder.suite_id
    resumed.claim()     # its lock, before anything runs: another session of it is refused
    other = SuiteSession(runs_dir, first.folder.suite_id)
    with pytest.raises(SuiteBusyError, match="is already running"):
        other.run()
    done = resumed.run()

    assert heard.calls == [("ready", first.folder.suite_id, 1, True),
                           ("reused", 1, 1, run_id), ("suite_end", "finished")]
    assert (done.outcome.reused, done.outcome.ran) == ([run_id], [])
    assert not first.folder.lock.held
    other.run()          # released: a later session runs it (reusing the member again)


def test_a_rerun_is_a_new_suite_of_the_same_spec(tmp_path):
    runs_dir = tmp_path / "runs"
    first = SuiteSession(runs_dir, spec((100,), TINY)).run()
    again = SuiteSession(runs_dir, first.folder.suite_id, rerun=True).run()
    assert again.folder.suite_id != first.folder.suite_id
    assert again.folder.spec() == first.folder.spec()
    assert again.outcome.ran and again.outcome.ran != first.outcome.ran   # run again
    assert status_file(again)["rerun_of"] == first.folder.suite_id


def test_cancel_from_another_thread_interrupts_the_member_and_stops_the_suite(tmp_path):
    """`start()` runs the suite on the session's thread; `cancel()` from here interrupts the
    running worker (it records what it has), the next member never starts, and the suite
    records itself interrupted."""
    runs_dir = tmp_path / "runs"
    heard = Recorder()
    session = SuiteSession(runs_dir, spec((1000, 1500), SLOW), listener=heard)
    session.start()
    try:
        assert session.running
        pid = wait_until(lambda: session.pid, 60, "the first member's worker")
        session.cancel()
        wait_until(lambda: not session.running, 60, "the session to end")
    finally:
        if session.running:
            session.kill()
            session.join(30)
    done = session.result
    assert done is not None and done.status == "interrupted"
    assert [c for c in heard.calls if c[0] in ("start", "end", "suite_end")] == [
        ("start", 1, 2, 1000), ("end", 1, 2, "interrupted"), ("suite_end", "interrupted")]
    assert heard.threads == {"suite-session"}
    assert not process_alive(pid)
    assert status_file(done)["status"] == "interrupted"
    rows = report_rows(done)
    assert rows[0]["status"] == "interrupted"
    assert rows[1]["run_id"] is None          # never started


def test_a_session_cancelled_before_its_members_records_the_suite_interrupted(tmp_path):
    heard = Recorder()
    session = SuiteSession(tmp_path / "runs", spec((100,), TINY), listener=heard)
    session.cancel()
    done = session.run()
    assert done.status == "interrupted" and done.outcome.ran == []
    assert [c[0] for c in heard.calls] == ["ready", "suite_end"]
    st = status_file(done)
    assert (st["status"], st["members"], st["finished"]) == ("interrupted", 1, 0)


def test_an_error_of_the_suite_is_told_and_recorded(tmp_path):
    class Broken(Recorder):
        def member_start(self, index, total, member) -> None:
            raise RuntimeError("the listener broke")

    from mnist_tui.engine.suites.session import SuiteFailed

    heard = Broken()
    session = SuiteSession(Path(tmp_path / "runs"), spec((100,), TINY), listener=heard)
    with pytest.raises(SuiteFailed, match="RuntimeError: the listener broke") as info:
        session.run()
    assert heard.calls[-1] == ("suite_error", "SuiteFailed")
    assert isinstance(session.error, SuiteFailed) and not session.running
    folder = session.folder
    assert folder is not None and info.value.suite_id == folder.suite_id
    st = json.loads((folder.path / "status.json").read_text())
    assert (st["status"], st["reason"]) == ("failed", "RuntimeError: the listener broke")
