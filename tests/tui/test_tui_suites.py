"""Suites screen: a tiny sweep run live from the form (real worker processes on the bundled
digits), a past suite opened, a cancelled suite resumed, the report exported from Results and
Runs; a snapshot of a recorded suite at 80×24."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from textual.widgets import Input
from tui_helpers import screen_text, wait_for, wait_for_text, write_classifier_run

from mnist_tui.engine.suites.records import Measurement
from mnist_tui.tui.app import create_app

TINY_OPTIONS = "dataset=digits iterations=260 gmm-inits=1 presets=default"


async def fill(pilot, **values) -> None:
    for name, value in values.items():
        pilot.app.screen.query_one(f"#sf-{name}", Input).value = str(value)
    await pilot.pause()


async def start_suite(pilot, **values):
    """Wait for the Suites form, fill it, press ctrl+s; the Suites screen."""
    await wait_for(pilot, lambda: pilot.app.screen.query("#sf-methods"), 10)
    await fill(pilot, **values)
    await pilot.press("ctrl+s")
    return pilot.app.screen


def table_rows(app) -> list[list[str]]:
    table = app.screen.query_one("#suite-table")
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def write_recorded_suite(runs_dir: Path, suite_id: str = "20260101-120000-sweep-abc123") -> str:
    """A finished sweep (t-SNE + GMM and CNN at 100 and 200 images, one seed) written the way
    the suite and its workers write it: suite folder and run folders with fixed numbers."""
    from mnist_tui.engine.runs import store as runs
    from mnist_tui.engine.suites.folder import SuiteFolder
    from mnist_tui.engine.suites.spec import SuiteSpec

    spec = SuiteSpec(name="sweep", methods=("tsne-gmm", "cnn"), presets=("default",), sizes=(100, 200), seeds=(0,),
                     overrides={"dataset": "digits", "iterations": 260, "gmm_inits": 1,
                                "epochs": 1}).validate()
    folder = SuiteFolder(runs_dir, suite_id)
    folder.path.mkdir(parents=True)
    runs.atomic_write_json(folder.path / "suite.json", spec.to_dict())
    acc = {("tsne-gmm", 100): 0.62, ("tsne-gmm", 200): 0.81, ("cnn", 100): 0.35,
           ("cnn", 200): 0.58}
    members = spec.members()
    for i, m in enumerate(members):
        run_id = f"{suite_id[:8]}-12000{i}-{m.job}-{suite_id[-3:]}00{i}"
        d = runs_dir / run_id
        d.mkdir()
        a = acc[(m.job, m.size)]
        metrics = ({"accuracy_hungarian": a, "accuracy_majority": a + 0.02, "nmi": 0.7,
                    "ari": 0.6} if m.job == "tsne-gmm" else {"accuracy": a, "loss": 1.0})
        timings = ({"preprocess": 0.1, "pca": 0.1, "tsne": 2.0 + i, "gmm": 0.3, "scoring": 0.01,
                    "total": 3.5 + i} if m.job == "tsne-gmm"
                   else {"training": 1.0 + i, "evaluation": 0.1, "total": 3.4 + i})
        result = {"status": "finished", "job": m.job, "run_id": run_id, "spec": m.spec,
                  "metrics": metrics, "timings": timings,
                  "dataset": {"name": "digits", "n_samples": m.size}}
        (d / "spec.json").write_text(json.dumps(m.spec))
        (d / "meta.json").write_text(json.dumps({"run_id": run_id, "created":
                                                 f"2026-01-01T12:00:0{i}+0000", "pid": 1}))
        (d / "result.json").write_text(json.dumps(result))
        folder.set_member(m.key, run_id)
        folder.set_measurement(run_id, Measurement(peak_rss_bytes=150_000_000 + i, source="test"))
    runs.atomic_write_json(folder.path / "status.json", {
        "suite_id": suite_id, "status": "finished", "created": "2026-01-01T12:00:00+0000",
        "updated": "2026-01-01T12:01:00+0000", "members": len(members),
        "finished": len(members), "failed": []})
    return suite_id


@pytest.mark.slow
async def test_tiny_sweep_runs_live_and_fills_the_table(runs_dir, assert_no_tensorflow):
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="suites")
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await start_suite(pilot, methods="tsne-gmm", sizes="100,200", seeds="1",
                                   options=TINY_OPTIONS)
        await wait_for(pilot, lambda: screen.running and screen.live is not None, 30)
        await wait_for(pilot, lambda: "[1/2] tsne-gmm default 100 images seed 0"
                       in screen_text(app), 10)
        await wait_for(pilot, lambda: not screen.running, 90)
        rows = table_rows(app)
        assert len(rows) == 2
        assert all(r[5] == "finished" and r[6].endswith("%") for r in rows), rows
        assert [r[3] for r in rows] == ["100", "200"]
        assert screen.query_one("#suite-plot").display
        assert sum(len(v) for v in screen.query_one("#suite-plot").data.values()) == 2
        folder = screen.folder
        assert folder.status()["status"] == "finished"
        for ext in ("html", "md", "json", "csv"):
            assert (folder.path / f"report.{ext}").is_file()
        report = json.loads((folder.path / "report.json").read_text())
        for r, row in zip(report["rows"], rows):
            assert row[6] == f"{100 * r['accuracy']:.1f}%"
        assert "finished: report" in screen_text(app)
        # The UI process never imported TensorFlow.
        assert_no_tensorflow()


@pytest.mark.slow
async def test_cancel_then_resume_reuses_the_finished_member(runs_dir):
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="suites")
    async with app.run_test(size=(100, 32)) as pilot:
        # the second member is much slower (many more t-SNE iterations): time to cancel it
        screen = await start_suite(pilot, methods="tsne-gmm", sizes="100,300", seeds="1",
                                   options="dataset=digits iterations=260 gmm-inits=1 presets=default")
        await wait_for(pilot, lambda: screen.live is not None and screen.live["i"] == 2
                       and screen.listener.pid, 60)
        await pilot.press("x")                         # cancelling asks first
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", 5)
        await pilot.press("y")
        await wait_for(pilot, lambda: not screen.running, 30)
        assert screen.folder.status()["status"] == "interrupted"
        assert "r resumes" in screen_text(app)
        assert [r[5] for r in table_rows(app)] == ["finished", "interrupted"]
        first_run = screen.report.rows[0].run_id
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.running, 10)
        await wait_for(pilot, lambda: not screen.running, 90)
        assert screen.folder.status()["status"] == "finished"
        assert screen.report.rows[0].run_id == first_run      # reused, not re-run
        assert [r[5] for r in table_rows(app)] == ["finished", "finished"]
        assert "reused 1" in screen_text(app)


async def test_open_a_past_suite(runs_dir):
    newer = write_recorded_suite(runs_dir, "20260102-120000-sweep-def456")
    older = write_recorded_suite(runs_dir, "20260101-120000-sweep-abc123")
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="suites")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.loaded, 10)
        assert screen.folder.suite_id == newer          # the newest opens by itself
        await pilot.press("l")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "SuitePicker", 10)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.folder.suite_id == older, 10)
        await wait_for(pilot, lambda: len(table_rows(app)) == 4, 10)
        rows = table_rows(app)
        assert [r[1] for r in rows] == ["tsne-gmm", "cnn", "tsne-gmm", "cnn"]
        assert [r[6] for r in rows] == ["62.0%", "35.0%", "81.0%", "58.0%"]
        assert screen.query_one("#sf-methods", Input).value == "tsne-gmm,cnn"
        assert screen.query_one("#sf-sizes", Input).value == "100,200"
        assert older in screen_text(app)


def _latest_report(runs_dir: Path) -> Path:
    found = sorted((runs_dir / "reports").glob("*/report.html"))
    assert found, "no report written"
    return found[-1]


async def test_export_from_results_and_runs(runs_dir):
    cnn = write_classifier_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="results")
    app.results_run = cnn
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.view is not None, 10)
        await pilot.press("e")
        await wait_for(pilot, lambda: (runs_dir / "reports").is_dir()
                       and list((runs_dir / "reports").glob("*/report.csv")), 10)
        html = _latest_report(runs_dir)
        data = json.loads(html.with_suffix(".json").read_text())
        assert [r["run_id"] for r in data["rows"]] == [cnn]
        assert data["rows"][0]["accuracy"] == 0.9897
        assert "98.97%" in html.read_text() and "98.97%" in html.with_suffix(".md").read_text()
        assert "0.9897" in html.with_suffix(".csv").read_text()
        # the whole path stays on screen (wrapped at 80 columns; also copied to the clipboard)
        await wait_for(pilot, lambda: str(html) in "".join(
            line.strip() for line in screen_text(app).splitlines()), 5)
        # Runs: the marked runs (here the only one)
        from tui_helpers import install_recorded_run

        tsne = install_recorded_run(runs_dir)
        await pilot.press("5")
        await wait_for(pilot, lambda: app.screen.query_one("DataTable").row_count == 2, 10)
        before = set((runs_dir / "reports").iterdir())
        await pilot.press("space", "space", "e")
        await wait_for(pilot, lambda: len(set((runs_dir / "reports").iterdir())) > len(before)
                       and list((set((runs_dir / "reports").iterdir()) - before).pop()
                                .glob("report.csv")), 10)
        new = (set((runs_dir / "reports").iterdir()) - before).pop()
        data = json.loads((new / "report.json").read_text())
        assert sorted(r["run_id"] for r in data["rows"]) == sorted([cnn, tsne])


def test_snapshot_recorded_suite(snap_compare, runs_dir):
    write_recorded_suite(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="suites")

    async def ready(pilot):
        await wait_for(pilot, lambda: app.screen.loaded, 10)
        await wait_for(pilot, lambda: app.screen.plan_for == app.screen.form_key(), 10)
        await wait_for_text(pilot, "4 members × 100–200 images", "4/4 members finished",
                            "accuracy % vs images")

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


@pytest.mark.slow
async def test_quitting_during_a_suite_asks_then_interrupts_it_and_holds_jobs(runs_dir):
    """While a suite runs, launched jobs wait (they would share its cores and timings); `q`
    asks first, then interrupts the running member and the suite records itself interrupted —
    the app does not hang waiting for the suite's thread."""
    from mnist_tui.engine.jobs.specs import build_spec

    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="suites")
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await start_suite(pilot, methods="tsne-gmm", sizes="1000", seeds="1",
                                   options="dataset=digits iterations=5000 gmm-inits=1 presets=default")
        await wait_for(pilot, lambda: screen.live is not None and screen.listener.pid, 60)
        pid = screen.listener.pid
        job = app.manager.submit(build_spec("tsne-gmm", "default", {
            "dataset": "digits", "samples": 100}).to_dict())
        await pilot.pause()
        assert job.state == "queued" and app.manager.held_by
        await pilot.press("q")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "QuitScreen", 5)
        said = " ".join(screen_text(app).replace("█", " ").split())   # the dialog's words
        assert f"suite {screen.folder.suite_id} (it stops with the app" in said, said
        await pilot.press("s")
        await wait_for(pilot, lambda: not app.is_running, 30)
    assert screen.folder.status()["status"] == "interrupted"
    assert job.state == "cancelled"
    with pytest.raises(ProcessLookupError):
        for _ in range(50):   # reaped by the suite thread: gone, not a zombie left running
            os.kill(pid, 0)
            time.sleep(0.1)


async def test_a_suite_does_not_start_beside_a_running_job(runs_dir):
    from mnist_tui.tui.jobs import Job

    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="suites")
    async with app.run_test(size=(100, 32)) as pilot:
        job = Job("20260101-150000-cnn-ddd444", {"job": "cnn"}, runs_dir / "x", state="running")
        app.manager.jobs[job.job_id] = job
        await start_suite(pilot, methods="tsne-gmm", sizes="100", seeds="1",
                          options=TINY_OPTIONS)
        await wait_for(pilot, lambda: "1 job(s) running" in screen_text(app), 5)
        assert not app.screen.running and app.manager.held_by is None
        assert not (runs_dir / "suites").exists() or not any((runs_dir / "suites").iterdir())
        job.state = "finished"


async def test_resume_is_refused_while_another_process_runs_the_suite(runs_dir):
    """One runner per suite: `r` on a suite that a `--batch --resume` (here: this test holding
    its lock) runs now says so and starts nothing."""
    from mnist_tui.engine.suites.folder import SuiteFolder

    sid = write_recorded_suite(runs_dir)
    SuiteFolder(runs_dir, sid).write_status("interrupted")
    other = SuiteFolder(runs_dir, sid)
    other.lock.acquire()
    try:
        app = create_app(runs_dir=runs_dir, load_data=False, start_mode="suites")
        async with app.run_test(size=(100, 32)) as pilot:
            screen = app.screen
            await wait_for(pilot, lambda: screen.loaded, 10)
            await pilot.press("r")
            await wait_for(pilot, lambda: f"suite {sid} is already running (pid {os.getpid()}"
                           in screen_text(app), 5)
            assert not screen.running and app.manager.held_by is None
    finally:
        other.lock.release()
    assert SuiteFolder(runs_dir, sid).status()["status"] == "interrupted"


async def test_a_suite_whose_runner_died_opens_as_interrupted(runs_dir):
    """A suite left "running" by a runner that was killed is reaped when the screen lists it."""
    import socket
    import subprocess
    import sys

    from mnist_tui.engine.runs import store as runs

    sid = write_recorded_suite(runs_dir)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    status = runs.read_json(runs_dir / "suites" / sid / "status.json")
    runs.atomic_write_json(runs_dir / "suites" / sid / "status.json", {
        **status, "status": "running",
        "runner": {"pid": proc.pid, "host": socket.gethostname(), "start_time": 1}})
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="suites")
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.loaded, 10)
        assert screen.report.status == "interrupted"
        assert "interrupted" in screen_text(app)
    st = runs.read_json(runs_dir / "suites" / sid / "status.json")
    assert st["reason"].startswith("the runner process ended without finishing")
