"""SVG snapshots of every screen at 80×24 and 120×40, from recorded runs (never live training).

Update them after an intended change with `pytest tests/tui --snapshot-update`.
"""

from __future__ import annotations

import pytest
from tui_helpers import (
    install_recorded_run,
    replay_job,
    wait_for,
    wait_for_text,
    write_classifier_run,
)

from mnist_tui.tui.app import create_app

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def recorded(runs_dir):
    tsne = install_recorded_run(runs_dir)
    cnn = write_classifier_run(runs_dir)
    return runs_dir, tsne, cnn


def _clock():
    return 0.0


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_dataset(snap_compare, runs_dir, size):
    app = create_app(runs_dir=runs_dir, dataset="digits")

    async def ready(pilot):
        await wait_for(pilot, lambda: app.stats is not None, 30)
        await wait_for_text(pilot, "class balance", "Samples of each class")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_launch(snap_compare, runs_dir, size):
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="launch")

    async def ready(pilot):
        await wait_for(pilot, lambda: app.screen.query("#f-samples"), 10)
        app.screen.query_one("#f-samples").value = "abc"     # one bad field shows its message
        app.set_focus(None)
        await wait_for_text(pilot, "expected an integer, got 'abc'", "need attention: samples")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("which", ["tsne", "cnn"])
def test_monitor(snap_compare, recorded, size, which):
    runs_dir, tsne, cnn = recorded
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="monitor", clock=_clock)

    async def ready(pilot):
        if which == "tsne":
            app.manager.add_replay(replay_job(runs_dir, tsne, upto=9.5))
        else:
            app.manager.add_replay(replay_job(runs_dir, cnn, upto=9.0))
        # Under load the first redraw can lag: wait for the job's row, then for the throttled
        # (4/s) redraw to have drawn the plots with the replayed job's last numbers.
        await wait_for(pilot, lambda: app.screen.query_one("#jobs").row_count > 0, 30)
        if which == "tsne":
            await wait_for_text(pilot, "125/260", "t-SNE embedding (iteration 125)", timeout=30)
        else:
            await wait_for_text(pilot, "ep4/5", "val accuracy", timeout=30)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("which", ["tsne", "cnn"])
def test_results(snap_compare, recorded, size, which):
    runs_dir, tsne, cnn = recorded
    app = create_app(runs_dir=runs_dir, dataset="digits", start_mode="results")
    app.results_run = tsne if which == "tsne" else cnn

    async def ready(pilot):
        await wait_for(pilot, lambda: app.stats is not None, 30)
        await wait_for(pilot, lambda: "misclassified" in str(
            app.screen.query_one("#res-gallery-title").render()), 30)
        await wait_for_text(pilot, "confusion matrix", "98.97%" if which == "cnn"
                            else "majority vote")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_runs(snap_compare, recorded, size):
    runs_dir, tsne, cnn = recorded
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")

    async def ready(pilot):
        await wait_for(pilot, lambda: app.screen.query_one("DataTable").row_count == 2, 10)
        await pilot.press("space")
        await wait_for_text(pilot, "1 marked")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_compare(snap_compare, recorded, size):
    runs_dir, tsne, cnn = recorded
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")

    async def ready(pilot):
        await wait_for(pilot, lambda: app.screen.query_one("DataTable").row_count == 2, 10)
        await pilot.press("space", "space", "v")
        await wait_for(pilot, lambda: getattr(app.screen, "loaded", False), 10)
        await wait_for_text(pilot, "settings that differ")

    assert snap_compare(app, terminal_size=size, run_before=ready)


def test_help(snap_compare, runs_dir):
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    assert snap_compare(app, terminal_size=(80, 24), press=["question_mark"])
