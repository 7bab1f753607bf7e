"""Pilot tests of each screen with recorded runs (no live training)."""

from __future__ import annotations

import asyncio
import sys

from textual.widgets import DataTable, Input
from tui_helpers import (
    install_recorded_run,
    replay_job,
    screen_text,
    wait_for,
    widget_text,
    write_classifier_run,
)

from mnist_tui.tui.app import create_app


async def test_dataset_screen_falls_back_to_digits_without_mnist(runs_dir, assert_no_tensorflow):
    """dataset auto, no MNIST reachable (closed port, empty cache): the digits, said loudly."""
    app = create_app(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None or app.dataset_error, 30)
        assert app.stats.name == "digits" and app.stats.note
        # the note is drawn in steps on a loaded machine: wait for the whole of it, in one frame
        said = ("Dataset digits", "MNIST could not be had", "r retries the download")
        await wait_for(pilot, lambda: all(map(screen_text(app).__contains__, said)), 5)
        assert_no_tensorflow()


async def test_dataset_screen_draws_digits(runs_dir):
    app = create_app(runs_dir=runs_dir, dataset="digits")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None, 30)
        await wait_for(pilot, lambda: "class balance" in screen_text(app), 5)
        text = screen_text(app)
        assert "class balance" in text and "1,797" in text
        assert "▀" in text   # half-block digits


async def test_invalid_form_shows_messages_and_refuses_to_start(runs_dir):
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: app.screen.query("#f-samples"))
        screen = app.screen
        screen.query_one("#f-samples", Input).value = "abc"
        screen.query_one("#f-perplexity", Input).value = "1"
        screen.query_one("#f-iterations", Input).value = "100"
        await wait_for(pilot, lambda: set(screen.problems) == {"samples", "perplexity",
                                                               "iterations"}, 5)
        assert "expected an integer" in screen.problems["samples"]
        assert "at least 2" in screen.problems["perplexity"]
        await pilot.press("ctrl+s")
        await pilot.pause()                 # the key is handled: it was refused
        assert app.manager.jobs == {}
        assert type(app.screen).__name__ == "LaunchScreen"
        # cross-field check from the spec itself
        screen.query_one("#f-samples", Input).value = "50"
        screen.query_one("#f-perplexity", Input).value = "30"
        screen.query_one("#f-iterations", Input).value = "300"
        await wait_for(pilot, lambda: list(screen.problems) == ["perplexity"], 5)
        assert "too large" in screen.problems["perplexity"]
        screen.query_one("#f-samples", Input).value = "300"
        await wait_for(pilot, lambda: screen.problems == {}, 5)


async def test_launch_switches_job_kind_and_presets(runs_dir):
    app = create_app(runs_dir=runs_dir, load_data=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: app.screen.query("#f-samples"))
        from textual.widgets import Select

        app.screen.query_one("#job-select", Select).value = "vgg16"
        await wait_for(pilot, lambda: app.screen.query("#f-input_size"), 5)
        assert app.screen.query_one("#f-input_size", Input).value == "64"
        app.screen.query_one("#preset-select", Select).value = "seed"
        await wait_for(pilot, lambda: app.screen.query_one("#f-input_size", Input).value == "224",
                       5)
        assert app.screen.problems == {}


async def test_monitor_shows_replayed_tsne_job(runs_dir):
    run_id = install_recorded_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        app.manager.add_replay(replay_job(runs_dir, run_id, upto=4.0))
        await wait_for(pilot, lambda: "KL" in screen_text(app), 5)      # the 4 Hz redraw
        assert "tsne" in screen_text(app)
        await pilot.press("p")
        await wait_for(pilot, lambda: "paused" in screen_text(app), 5)
        assert app.screen.paused


async def test_results_of_clustering_and_classifier_runs(runs_dir):
    tsne = install_recorded_run(runs_dir)
    cnn = write_classifier_run(runs_dir)
    app = create_app(runs_dir=runs_dir, dataset="digits")
    async with app.run_test(size=(120, 40)) as pilot:
        from mnist_tui.tui.messages import OpenRun

        app.post_message(OpenRun(tsne))
        await wait_for(pilot, lambda: "misclassified images" in widget_text(app, "#res-gallery-title"), 30)
        text = screen_text(app)
        assert "one-to-one (Hungarian)" in text and "majority vote" in text
        assert "confusion matrix" in text and "recall" in text
        app.post_message(OpenRun(cnn))
        await wait_for(pilot, lambda: cnn in screen_text(app), 10)
        await wait_for(pilot, lambda: "8 of 8 misclassified" in widget_text(app, "#res-gallery-title"), 30)
        assert "98.97%" in screen_text(app)
        assert app.screen.query_one("#res-gallery").captions[0] == "3→8"


async def test_results_tolerate_missing_fields(runs_dir):
    import json

    run = runs_dir / "20260101-140000-vgg16-ccc333"
    run.mkdir()
    (run / "spec.json").write_text(json.dumps({"job": "vgg16"}))
    (run / "result.json").write_text(json.dumps({"status": "failed", "error": "boom"}))
    app = create_app(runs_dir=runs_dir, load_data=False)
    async with app.run_test(size=(80, 24)) as pilot:
        from mnist_tui.tui.messages import OpenRun

        app.post_message(OpenRun(run.name))
        await wait_for(pilot, lambda: "boom" in screen_text(app), 10)


async def test_runs_sort_compare_delete(runs_dir):
    tsne = install_recorded_run(runs_dir)
    cnn = write_classifier_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, 10)
        await pilot.press("s")          # by accuracy
        await wait_for(pilot, lambda: "accuracy" in screen_text(app), 5)
        await pilot.press("space", "space", "v")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen", 5)
        await wait_for(pilot, lambda: "settings that differ" in screen_text(app), 10)
        text = screen_text(app)
        assert "job" in text and "tsne-gmm" in text and "cnn" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RunsScreen", 5)
        table.move_cursor(row=0)
        app.screen.marked.clear()
        await pilot.press("d")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", 5)
        await pilot.press("n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RunsScreen", 5)
        assert len(app.store.list()) == 2
        await pilot.press("d")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", 5)
        await pilot.press("y")
        await wait_for(pilot, lambda: len(app.store.list()) == 1, 5)
        await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 1, 5)
        [left] = [r.run_id for r in app.store.list()]
        [gone] = {tsne, cnn} - {left}
        assert not (runs_dir / gone).exists() and (runs_dir / left).is_dir()


async def test_help_lists_every_binding(runs_dir):
    app = create_app(runs_dir=runs_dir, load_data=False)
    async with app.run_test(size=(80, 40)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen", 5)
        import io

        from rich.console import Console
        from textual.widgets import Static

        # the whole table (some rows are scrolled away on screen), via Static's public content
        console = Console(width=80, file=io.StringIO(), record=True)
        console.print(app.screen.query_one("#help-table", Static).content)
        text = console.export_text()
        for words in ("Dataset", "Launch", "Monitor", "Results", "Runs", "Hide ended",
                      "Zoom", "Start job", "Compare", "Rerun", "Retry download"):
            assert words in text, words
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ != "HelpScreen", 5)


async def test_switching_back_to_a_built_screen_does_not_hold_frames(runs_dir, monkeypatch):
    """Textual holds frames 50 ms on every switch_mode (its public `App.delay_update`); the app
    keeps that only for a screen's first build. Watched by wrapping Textual's method (the call
    goes through): back on a built screen no hold is asked for."""
    from textual.app import App

    holds = []
    textual_delay_update = App.delay_update

    def recording_delay_update(self, delay=0.05):
        holds.append(type(self.screen).__name__)
        textual_delay_update(self, delay)

    monkeypatch.setattr(App, "delay_update", recording_delay_update)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RunsScreen", 5)
        assert holds, "the first visit to Runs keeps Textual's hold"
        holds.clear()
        for mode, name in (("monitor", "MonitorScreen"), ("runs", "RunsScreen")):
            app.action_show(mode)          # what keys 3 and 5 do
            for _ in range(5):             # a few turns of the event loop, no timers
                await asyncio.sleep(0)
            assert type(app.screen).__name__ == name
            assert holds == [], f"frames held on the switch back to {name}"
        await pilot.press("1")   # first visit: Textual's hold applies, then ends
        await wait_for(pilot, lambda: "Retry download" in screen_text(app), 5)
        assert len(holds) == 1


async def test_too_small_terminal_says_so(runs_dir):
    app = create_app(runs_dir=runs_dir, load_data=False)
    async with app.run_test(size=(50, 15)) as pilot:
        await wait_for(pilot, lambda: "enlarge" in screen_text(app), 5)


async def test_quit_with_running_job_asks_first(runs_dir):
    app = create_app(runs_dir=runs_dir, load_data=False)
    async with app.run_test(size=(80, 24)) as pilot:
        from mnist_tui.tui.jobs import Job

        job = Job("20260101-150000-cnn-ddd444", {"job": "cnn"}, runs_dir / "x", state="queued")
        app.manager.jobs[job.job_id] = job
        await pilot.press("q")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "QuitScreen", 5)
        await pilot.press("escape")                      # stay
        await wait_for(pilot, lambda: type(app.screen).__name__ != "QuitScreen", 5)
        assert app.is_running
        await pilot.press("q")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "QuitScreen", 5)
        assert "(dropped either way)" in screen_text(app)
        await pilot.press("s")
        await wait_for(pilot, lambda: not app.is_running, 10)
        assert job.state == "cancelled"


def test_app_module_imports_nothing_heavy():
    import subprocess

    code = ("import sys, mnist_tui.tui.app; bad=[m for m in ('tensorflow','keras','sklearn',"
            "'textual_plotext') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
