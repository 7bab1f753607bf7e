"""Jobs where they belong: several windows on one runs folder (issue 26). A window's quit stops
only what it started; another window's suite members are followed, named, and never stopped nor
toasted about; a run its worker refused shows why; `p` freezes the whole Monitor; a cancel that
comes too late says so, and the Monitor keeps updating under the question."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support import fake_worker_dir, patient, start_fake_worker, wait_until
from textual.widgets import DataTable, Input
from tui_helpers import screen_text, wait_for

from mnist_tui.engine.jobs.specs import build_spec
from mnist_tui.engine.runs import records
from mnist_tui.tui import app as app_module
from mnist_tui.tui.app import MnistApp


class RecordingApp(MnistApp):
    """The real app, keeping every notification it showed (what a person saw as toasts)."""

    CSS_PATH = Path(app_module.__file__).parent / "app.tcss"   # relative to the app's module

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.toasts: list[str] = []

    def notify(self, message: str, **kwargs) -> None:
        self.toasts.append(message)
        super().notify(message, **kwargs)


def _app(runs_dir, mode: str) -> RecordingApp:
    return RecordingApp(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode=mode)


def _tsne(samples: int, iterations: int) -> dict:
    return build_spec("tsne-gmm", "default", {"dataset": "digits", "samples": samples,
                                              "iterations": iterations, "gmm_inits": 1}).to_dict()


@pytest.mark.slow
async def test_two_windows_quitting_one_stops_nothing_of_the_others_suite(runs_dir):
    a, b = _app(runs_dir, "suites"), _app(runs_dir, "monitor")
    async with a.run_test(size=(100, 32)) as pa, b.run_test(size=(100, 32)) as pb:
        await wait_for(pa, lambda: a.screen.query("#sf-methods"), 10)
        for name, value in (("methods", "tsne-gmm"), ("sizes", "400"), ("seeds", "1"),
                            ("options", "dataset=digits iterations=1500 gmm-inits=1 "
                                        "presets=default")):
            a.screen.query_one(f"#sf-{name}", Input).value = value
        await pa.pause()
        suites = a.screen
        await pa.press("ctrl+s")
        await wait_for(pa, lambda: suites.running and suites.live is not None, 60)
        # Window B follows A's member from its run folder, and knows whose it is.
        await wait_for(pb, lambda: any(j.attached for j in b.manager.jobs.values()), 60)
        member = next(j for j in b.manager.jobs.values() if j.attached)
        assert member.owner is not None and member.owner.kind == "suite"
        assert not member.ours and "suite" in member.owned_by()
        # B starts a job of its own, then quits choosing "Stop them".
        own = b.manager.submit(_tsne(1000, 10000))
        # running for real (its folder made): a cancel before that leaves no run to check
        await wait_for(pb, lambda: own.state == "running" and own.phase == "tsne", 90)
        await pb.press("q")
        await wait_for(pb, lambda: type(b.screen).__name__ == "QuitScreen", 5)
        question = screen_text(b)
        assert own.job_id[-6:] in question and member.job_id[-6:] in question
        assert "Not this window's" in question
        await pb.press("s")
        await wait_for(pb, lambda: not b.is_running, 60)
        await wait_for(pa, lambda: not suites.running, 180)
        assert suites.folder.status()["status"] == "finished"
        # A followed its own member as its suite's (never re-attached it as a stray job); B's
        # own job, which A may have seen, is named as another window's.
        assert not any(j.attached and j.owner is not None and j.owner.kind == "suite"
                       for j in a.manager.jobs.values())
        seen = a.manager.jobs.get(own.job_id)
        assert seen is None or seen.owned_by().startswith("a window (pid ")
    result = records.read_result(runs_dir / member.job_id)
    assert result.status == "finished"               # the quit in B stopped nothing of A's
    own_result = wait_until(lambda: records.read_result(own.run_dir), 30, "B's own job's end")
    assert (own_result.status, own_result.stopped_by) == ("cancelled", "tui")
    for app in (a, b):
        assert not [t for t in app.toasts if "re-attached" in t], app.toasts


async def test_a_run_its_worker_refused_shows_failed_with_why_not_interrupted(runs_dir):
    """A worker that refused its input removes the folder it had made and exits: a window
    following it says so (before: "interrupted: the worker process ended without a result")."""
    top = fake_worker_dir()
    run_id = "20261207-120000-tsne-gmm-aaa111"
    run_dir = runs_dir / run_id
    proc = start_fake_worker(top, run_dir)
    try:
        from mnist_tui.engine.runs.procs import process_start_time

        start = wait_until(lambda: process_start_time(proc.pid), 10, "the fake worker")
        run_dir.mkdir()
        (run_dir / "spec.json").write_text(json.dumps({"job": "tsne-gmm", "dataset": "digits"}))
        meta = records.RunMeta(run_id=run_id, created="2026-12-07T12:00:00+0000",
                               pid=proc.pid, pid_start=start, detached=True)
        records.write_meta(run_dir, meta)
        app = _app(runs_dir, "monitor")
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: run_id in app.manager.jobs, 20)
            job = app.manager.jobs[run_id]
            shutil.rmtree(run_dir)
            proc.kill()
            proc.wait(patient(10))
            await wait_for(pilot, lambda: not job.active, 20)
            assert job.state == "failed" and "refused" in job.error
            await wait_for(pilot, lambda: "refused by its worker" in screen_text(app), 10)
            # an ended job can be taken off the list
            await pilot.press("backspace")
            await wait_for(pilot, lambda: run_id[-6:] not in screen_text(app), 10)
        assert not run_dir.exists()      # nothing was recorded for a refused run
    finally:
        proc.kill()
        shutil.rmtree(top, ignore_errors=True)


def _state_cell(app) -> str:
    """The first row's state in the Monitor's table, wherever the Monitor is in the stack."""
    monitor = next(s for s in app.screen_stack if s.query("#jobs"))
    return str(monitor.query_one("#jobs", DataTable).get_cell_at((0, 0)))


@pytest.mark.slow
async def test_pause_freezes_the_whole_monitor_and_a_late_cancel_says_so(runs_dir):
    app = _app(runs_dir, "monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        job = app.manager.submit(_tsne(500, 1500))
        await wait_for(pilot, lambda: job.phase == "tsne" and job.step > 0, 90)
        await pilot.press("p")
        frozen = screen_text(app)
        assert "paused" in frozen
        step = job.step
        await wait_for(pilot, lambda: job.step >= step + 100 or not job.active, 60)
        await pilot.pause(0.6)                     # a few of the Monitor's 4 Hz ticks
        # the table, title, progress, activity and system lines all hold still (the clock
        # too); the top of the screen, which no toast covers
        assert screen_text(app).splitlines()[1:8] == frozen.splitlines()[1:8]
        await pilot.press("p")
        await wait_for(pilot, lambda: screen_text(app) != frozen, 5)
        # Cancel asked while the job runs; it ends while the question is open.
        await pilot.press("c")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", 5)
        await wait_for(pilot, lambda: job.state == "finished", 120)
        # the Monitor behind the dialog shows it finished
        await wait_for(pilot, lambda: "finished" in _state_cell(app), 5)
        await pilot.press("y")
        await wait_for(pilot, lambda: any("too late to cancel" in t for t in app.toasts), 5)


async def test_a_job_cancelled_before_it_started_says_so_not_waiting_for_data(runs_dir):
    app = _app(runs_dir, "monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        app.manager.hold("a test")                  # it stays queued
        job = app.manager.submit(_tsne(300, 300))
        assert app.manager.cancel(job.job_id)
        await wait_for(pilot, lambda: "KL divergence — none: cancelled" in screen_text(app), 10)
        assert "waiting" not in screen_text(app)
