"""Runs (issue 26): rerun, export and delete act on the same rows and the confirmations name
them; the list follows the runs folder by itself; j/k g/G move in the table."""

from __future__ import annotations

import json

from tui_helpers import screen_text, wait_for, wait_for_text, write_classifier_run

from mnist_tui.tui.app import create_app

IDS = ("20260101-130000-cnn-aaa111", "20260101-130000-cnn-bbb222", "20260101-130000-cnn-ccc333")


def cursor_run(app) -> str:
    table = app.screen.query_one("#runs-table")
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value


def three_runs(runs_dir) -> None:
    """Three finished runs (listed ccc333, bbb222, aaa111: newest id first); aaa111's spec
    record cannot be run again, so a rerun of it queues nothing."""
    for run_id in IDS:
        write_classifier_run(runs_dir, run_id)
    spec_file = runs_dir / IDS[0] / "spec.json"
    spec_file.write_text(json.dumps({**json.loads(spec_file.read_text()), "epochs": -5}))


async def test_rerun_export_and_delete_act_on_the_marked_rows_and_name_them(runs_dir):
    """Bug 10: `r` acted on the cursor row while `d` acted on the marked rows. Marked rows
    (ccc333, bbb222) with the cursor on an unmarked one (aaa111): each of r, d names the
    marked two, never the cursor's run."""
    three_runs(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(pilot, "ccc333", "bbb222", "aaa111")
        await pilot.press("space", "space")          # marks ccc333, bbb222; cursor to aaa111
        assert cursor_run(app) == IDS[0]
        await wait_for_text(pilot, "2 marked: r e d act on them")

        await pilot.press("r")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", 5)
        text = screen_text(app)
        assert "Run these 2 marked runs again" in text
        assert IDS[2] in text and IDS[1] in text and IDS[0] not in text
        await pilot.press("n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RunsScreen", 5)
        assert not app.manager.jobs                    # nothing was queued

        await pilot.press("d")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", 5)
        text = screen_text(app)
        assert "Delete the 2 marked run(s)" in text
        assert IDS[2] in text and IDS[1] in text and IDS[0] not in text
        await pilot.press("y")
        await wait_for(pilot, lambda: not (runs_dir / IDS[2]).exists()
                       and not (runs_dir / IDS[1]).exists(), 10)
        assert (runs_dir / IDS[0]).is_dir()

        # nothing marked now: the cursor's run, named in the status line and in the dialog
        await wait_for_text(pilot, "1 run(s)")
        await pilot.press("d")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", 5)
        text = screen_text(app)
        assert "Delete this run" in text and IDS[0] in text
        await pilot.press("n")


async def test_the_list_follows_the_runs_folder_keeping_cursor_and_marks(runs_dir):
    """Bug 10: runs made by another window or a batch run never showed until a key press.
    A run written into the folder while Runs is shown appears by itself; the mark and the
    cursor stay on their runs."""
    write_classifier_run(runs_dir, IDS[1])
    write_classifier_run(runs_dir, IDS[0])
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(pilot, "2 run(s)")
        await pilot.press("space")                   # marks bbb222, cursor to aaa111
        assert cursor_run(app) == IDS[0]
        write_classifier_run(runs_dir, IDS[2])        # another process's run, newest
        await wait_for_text(pilot, "3 run(s)", "ccc333", timeout=15)
        assert cursor_run(app) == IDS[0]
        assert "1 marked" in screen_text(app)
        assert app.screen.marked == {IDS[1]}


async def test_vim_keys_move_the_table_and_show_in_the_key_bar(runs_dir):
    three_runs(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(pilot, "3 run(s)")
        assert cursor_run(app) == IDS[2]
        await pilot.press("G")
        assert cursor_run(app) == IDS[0]
        await pilot.press("k")
        assert cursor_run(app) == IDS[1]
        await pilot.press("g")
        assert cursor_run(app) == IDS[2]
        await pilot.press("j")
        assert cursor_run(app) == IDS[1]
        bar = "\n".join(screen_text(app).splitlines()[-2:])
        assert " j/k g/G Move" in bar and " ^r Reload" in bar
