"""Times that explain themselves (issue 26): Compare shows beside the times each run's machine
load (the 1-minute load average over the run) and its worker's nice level; a run recorded before
them shows "—"; Runs' detail line puts them beside the cursor run's time."""

from __future__ import annotations

import json
import re

from tui_helpers import screen_text, wait_for, write_classifier_run

from mnist_tui.tui.app import create_app

OLD, LOADED = "20260101-130000-cnn-aaa111", "20260101-140000-cnn-bbb222"
LOAD = {"load_start": 3.1, "load_end": 4.5, "load_mean": 3.84, "cpus": 2, "nice": 10}


def _runs(runs_dir) -> None:
    write_classifier_run(runs_dir, OLD)                 # a record from before `load`
    write_classifier_run(runs_dir, LOADED)
    result_file = runs_dir / LOADED / "result.json"
    result = json.loads(result_file.read_text())
    result["load"] = LOAD
    result_file.write_text(json.dumps(result))


def _row(text: str, label: str) -> list[str]:
    """The cells after `label` on the screen's line that holds it."""
    line = next(line for line in text.splitlines() if label in line)
    return re.split(r"\s{2,}|\s(?=\S)", line.split(label, 1)[1].strip())


async def test_compare_shows_load_and_nice_beside_the_times(runs_dir):
    _runs(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    async with app.run_test(size=(80, 40)) as pilot:
        table = app.screen.query_one("#runs-table")
        await wait_for(pilot, lambda: table.row_count == 2, 10)
        await pilot.press("space", "space", "v")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen", 5)
        await wait_for(pilot, lambda: "worker nice" in screen_text(app), 10)
        text = screen_text(app)
        lines = text.splitlines()
        # Beside the times: right after the phases' rows, ending with the total.
        total = next(i for i, line in enumerate(lines) if line.strip().startswith("total"))
        assert "load average (1 min)" in lines[total + 1], text
        assert "worker nice" in lines[total + 2], text
        # Columns: newest first as Runs lists them, or in the order marked; either way the
        # loaded run shows 3.8 and 10, the old one "—".
        order = [OLD, LOADED] if text.index("aaa111") < text.index("bbb222") else [LOADED, OLD]
        expect = {OLD: ("—", "—"), LOADED: ("3.8", "10")}
        assert _row(text, "load average (1 min)") == [expect[r][0] for r in order], text
        assert _row(text, "worker nice") == [expect[r][1] for r in order], text


async def test_runs_detail_line_shows_the_cursor_run_s_time_load_and_nice(runs_dir):
    _runs(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one("#runs-table")
        await wait_for(pilot, lambda: table.row_count == 2, 10)
        # Newest first: the cursor is on the run that recorded its load.
        await wait_for(pilot, lambda: "▸ cnn · 12s · load 3.8 · nice 10" in screen_text(app), 5)
        await pilot.press("down")
        await wait_for(pilot, lambda: "load 3.8" not in screen_text(app), 5)
        line = next(line for line in screen_text(app).splitlines() if "▸ cnn" in line)
        assert line.strip() == "▸ cnn · 12s"          # an old record: its time alone
