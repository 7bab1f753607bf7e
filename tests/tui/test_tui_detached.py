"""Jobs that outlive the app: quitting leaves them running, a new app re-attaches to them (its
Monitor caught up from the first event), and can cancel them."""

from __future__ import annotations

import json
import subprocess

from support import patient, wait_until
from textual.worker import WorkerCancelled
from tui_helpers import screen_text, wait_for

from mnist_tui.engine.jobs.specs import build_spec
from mnist_tui.engine.runs import records
from mnist_tui.engine.runs.launch import worker_argv, worker_env
from mnist_tui.engine.runs.procs import process_alive
from mnist_tui.tui.app import create_app


def _spec(iterations: int) -> dict:
    return build_spec("tsne-gmm", "default", {"dataset": "digits", "samples": 1500,
                                              "iterations": iterations, "gmm_inits": 1}).to_dict()


def _start_detached(runs_dir, run_id: str, iterations: int) -> subprocess.Popen:
    """A job started as a previous app would have: detached, its stdout read by nobody."""
    proc = subprocess.Popen(worker_argv(_spec(iterations), runs_dir / run_id, detached=True),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=worker_env(), start_new_session=True)
    wait_until(lambda: b'"tsne"' in (runs_dir / run_id / "events.jsonl").read_bytes()
          if (runs_dir / run_id / "events.jsonl").exists() else False, 60, "its t-SNE phase")
    return proc


async def test_quit_leave_running_keeps_the_worker_and_it_finishes(runs_dir):
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False)
    async with app.run_test(size=(80, 24)) as pilot:
        job = app.manager.submit(_spec(2500))
        await wait_for(pilot, lambda: job.phase == "tsne" and job.step > 0, 60)
        await pilot.press("q")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "QuitScreen", 5)
        assert "Leave running" in screen_text(app)
        await pilot.press("l")
        await wait_for(pilot, lambda: not app.is_running, 10)
    meta = records.read_meta(job.run_dir)
    assert meta.detached and process_alive(meta.pid, meta.pid_start)   # the app is gone
    result = wait_until(lambda: records.read_result(job.run_dir), 180, "the job's result")
    assert result.status == "finished"


async def test_a_new_app_reattaches_to_a_live_job_from_its_first_event(runs_dir):
    run_id = "20261125-120000-tsne-gmm-aaaaaa"
    proc = _start_detached(runs_dir, run_id, 2500)
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: run_id in app.manager.jobs, 20)
        job = app.manager.jobs[run_id]
        assert job.attached and job.pid == proc.pid
        await wait_for(pilot, lambda: job.kl, 20)
        assert job.kl[0][0] <= 50              # caught up from the start, not from "now"
        await wait_for(pilot, lambda: run_id[-6:] in screen_text(app), 10)
        await wait_for(pilot, lambda: job.state == "finished", 180)
        assert job.result.metrics.accuracy_hungarian > 0.5
        await wait_for(pilot, lambda: "finished" in screen_text(app), 10)
    proc.wait(patient(10))


async def test_a_reattached_job_can_be_cancelled(runs_dir):
    run_id = "20261125-120000-tsne-gmm-bbbbbb"
    proc = _start_detached(runs_dir, run_id, 5000)
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: run_id in app.manager.jobs, 20)
        assert app.manager.cancel(run_id)
        job = app.manager.jobs[run_id]
        await wait_for(pilot, lambda: job.state == "cancelled", 30)
    assert proc.wait(patient(10)) == 4
    result = records.read_result(runs_dir / run_id)
    assert (result.status, result.stopped_by) == ("cancelled", "tui")


async def test_a_run_whose_worker_vanished_unseen_is_recorded_once(runs_dir):
    """Two apps on one folder: both see the dead run; one record, never two."""
    run_id = "20261125-120000-tsne-gmm-cccccc"
    proc = _start_detached(runs_dir, run_id, 5000)
    proc.kill()
    proc.wait(patient(10))
    first = create_app(runs_dir=runs_dir, dataset="digits", load_data=False)
    second = create_app(runs_dir=runs_dir, dataset="digits", load_data=False)
    async with first.run_test(size=(80, 24)) as p1, second.run_test(size=(80, 24)):
        await wait_for(p1, lambda: (runs_dir / run_id / "result.json").exists(), 20)
        # the second app looks too (what it does every few seconds), after the first recorded;
        # its own periodic look may replace ours (one look at a time): then look again
        for _ in range(5):
            try:
                await second.reap_runs().wait()
                break
            except WorkerCancelled:
                continue
        else:
            raise AssertionError("the second app's look never completed")
    result = records.read_result(runs_dir / run_id)
    assert (result.status, result.stopped_by) == ("interrupted", "reaped")
    assert json.loads((runs_dir / run_id / "result.json").read_text()) == result.to_dict()
