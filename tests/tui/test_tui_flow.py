"""End to end with real worker processes: launch from the form, finish, results; cancel; crash."""

from __future__ import annotations

import os
import signal

import pytest
from textual.widgets import Select
from tui_helpers import screen_text, wait_for

from mnist_tui.tui.app import create_app

pytestmark = pytest.mark.slow


async def fill_form(pilot, **values) -> None:
    screen = pilot.app.screen
    for name, value in values.items():
        widget = screen.query_one(f"#f-{name}")
        if isinstance(widget, Select):
            widget.value = str(value)
        else:
            widget.value = str(value)
    await pilot.pause()


async def test_launch_finish_results(runs_dir, assert_no_tensorflow):
    app = create_app(runs_dir=runs_dir, dataset="digits")
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: app.screen.query("#f-samples"))
        await fill_form(pilot, dataset="digits", samples=300, iterations=260, gmm_inits=1)
        assert app.screen.problems == {}
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.manager.jobs, 5)
        job = next(iter(app.manager.jobs.values()))
        assert type(app.screen).__name__ == "MonitorScreen"
        await wait_for(pilot, lambda: job.state == "running" and job.phase, 30)
        await wait_for(pilot, lambda: job.state == "finished", 90)
        assert job.kl and job.snapshot is not None
        await wait_for(pilot, lambda: "finished" in screen_text(app), 5)   # the 4 Hz redraw
        await pilot.press("o")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ResultsScreen", 5)
        await wait_for(pilot, lambda: "confusion matrix" in screen_text(app), 10)
        text = screen_text(app)
        assert "one-to-one (Hungarian)" in text and "majority vote" in text
        assert job.job_id in text
        # The UI process never imported TensorFlow.
        assert_no_tensorflow()


async def test_cancel_running_job(runs_dir):
    app = create_app(runs_dir=runs_dir, dataset="digits")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: app.screen.query("#f-samples"))
        await fill_form(pilot, dataset="digits", samples=1500, iterations=5000, gmm_inits=1)
        await pilot.press("ctrl+s")
        job = next(iter(app.manager.jobs.values()))
        await wait_for(pilot, lambda: job.phase == "tsne" and job.step > 0, 60)
        await pilot.press("c")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", 5)
        await pilot.press("y")
        await wait_for(pilot, lambda: job.state == "cancelled", 30)
        assert (job.run_dir / "result.json").is_file()
        assert job.result and job.result.status == "cancelled"
        # the Monitor redraws on its 4 Hz tick: give a loaded machine a few of them
        await wait_for(pilot, lambda: "cancelled" in screen_text(app), 5)


async def test_killed_worker_shows_error_and_app_goes_on(runs_dir):
    app = create_app(runs_dir=runs_dir, dataset="digits")
    async with app.run_test(size=(80, 24)) as pilot:
        spec = {"job": "tsne-gmm", "dataset": "digits", "samples": 1500, "iterations": 5000,
                "gmm_inits": 1}
        from mnist_tui.engine.jobs.specs import build_spec

        job = app.manager.submit(build_spec("tsne-gmm", "default", {
            k: v for k, v in spec.items() if k != "job"}).to_dict())
        await pilot.press("3")
        await wait_for(pilot, lambda: job.phase == "tsne" and job.step > 0, 60)
        os.kill(job.pid, signal.SIGKILL)
        await wait_for(pilot, lambda: job.state == "failed", 20)
        assert "SIGKILL" in job.error
        await wait_for(pilot, lambda: "failed" in screen_text(app)
                       and "without a result" in screen_text(app), 5)
        assert (job.run_dir / "result.json").is_file()
        # the app goes on: keys still work
        await pilot.press("5")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RunsScreen", 5)
        await wait_for(pilot, lambda: "failed" in screen_text(app), 5)


async def test_input_failure_has_no_run_folder(runs_dir, tmp_path):
    """A data folder that vanished after validation: the job fails with its message."""
    app = create_app(runs_dir=runs_dir, dataset="digits")
    async with app.run_test(size=(80, 24)) as pilot:
        from mnist_tui.engine.jobs.specs import build_spec

        spec = build_spec("tsne-gmm", "default", {"dataset": "mnist", "samples": 300,
                                                  "data_dir": str(tmp_path / "gone")})
        job = app.manager.submit(spec.to_dict())
        await pilot.press("3")
        await wait_for(pilot, lambda: job.state == "failed", 30)
        assert "gone" in job.error
        await wait_for(pilot, lambda: "failed" in screen_text(app), 5)
        # the job failed on its input: nothing was recorded in the runs folder
        assert sorted(p.name for p in runs_dir.iterdir()) == []
