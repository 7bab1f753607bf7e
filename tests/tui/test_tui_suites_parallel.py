"""Suites screen with several members at once: the form's executor fields (checked by the
engine's `executor_choice`, the message inline), a `parallel 2` sweep on the bundled digits
whose two members are listed running at once with where each runs, followed by the Monitor as
two running jobs at the same time, and both finished."""

from __future__ import annotations

import sys

import pytest
from textual.widgets import Input, Select
from tui_helpers import wait_for, wait_for_text, widget_text

from mnist_tui.tui.app import create_app

TINY = "dataset=digits iterations=300 gmm-inits=1 presets=default"


async def fill(pilot, **values) -> None:
    for name, value in values.items():
        pilot.app.screen.query_one(f"#sf-{name}", Input).value = str(value)
    await pilot.pause()


async def suites_form(pilot) -> None:
    await wait_for(pilot, lambda: pilot.app.screen.query("#sf-parallel"), 10)


def plan_line(app) -> str:
    return widget_text(app, "#suite-plan")


async def test_form_checks_the_executor_values_inline(runs_dir, monkeypatch):
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="suites")
    async with app.run_test(size=(80, 24)) as pilot:
        await suites_form(pilot)
        screen = app.screen
        ray_part = screen.query_one("#sf-ray-part")
        # local: no Ray address to see, and no hidden tab stop for it
        assert not ray_part.display
        assert screen.query_one("#sf-ray") not in screen.focus_chain
        assert screen.query_one("#sf-parallel") in screen.focus_chain

        await fill(pilot, methods="tsne-gmm", sizes="100", seeds="1", options=TINY,
                   parallel="0")
        await wait_for(pilot, lambda: "✘ --parallel: give a whole number of members from 1 to"
                       in plan_line(app), 10)
        await fill(pilot, parallel="two")
        await wait_for(pilot, lambda: "✘ parallel: give a whole number of members at once "
                       "(got 'two')" in plan_line(app), 10)
        await pilot.press("ctrl+s")             # nothing starts: the status line says why
        await wait_for_text(pilot, "✘ parallel: give a whole number")
        assert not screen.running and screen.session is None

        await fill(pilot, parallel="2")
        await wait_for(pilot, lambda: "1 member ×" in plan_line(app)
                       and "✘" not in plan_line(app), 20)

        # ray: its address shows (and is a tab stop); a bad one is said inline
        screen.query_one("#sf-executor", Select).value = "ray"
        await wait_for(pilot, lambda: ray_part.display
                       and screen.query_one("#sf-ray") in screen.focus_chain, 5)
        await fill(pilot, ray="my head:6379")
        await wait_for(pilot, lambda: "✘ --ray-address: give auto, or HOST:PORT"
                       in plan_line(app), 10)
        await pilot.press("ctrl+s")
        await wait_for_text(pilot, "✘ --ray-address")
        assert not screen.running and screen.session is None

        # Ray not installed: the form says how to install it, nothing starts
        monkeypatch.setitem(sys.modules, "ray", None)
        await fill(pilot, ray="auto")
        await wait_for(pilot, lambda: "needs Ray, which is not installed" in plan_line(app), 10)
        await pilot.press("ctrl+s")
        await wait_for_text(pilot, 'pip install -e ".[ray]"')
        assert not screen.running and screen.session is None

        # back to local: the address is hidden again and the form is valid
        screen.query_one("#sf-executor", Select).value = "local"
        await wait_for(pilot, lambda: not ray_part.display and "1 member ×" in plan_line(app)
                       and "✘" not in plan_line(app), 20)


@pytest.mark.slow
async def test_two_members_run_at_once_with_their_place_and_the_monitor_follows_both(
        runs_dir, assert_no_tensorflow):
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="suites")
    async with app.run_test(size=(100, 32)) as pilot:
        await suites_form(pilot)
        screen = app.screen
        await fill(pilot, methods="tsne-gmm", sizes="200,300", seeds="1", options=TINY,
                   parallel="2")
        await pilot.press("ctrl+s")
        # both members listed running at once, each with where it runs (1 of the 2 cores'
        # thread share here: the pool splits the cores between them)
        await wait_for(pilot, lambda: len(screen.members) == 2
                       and all(m.where for m in screen.members.values()), 60)
        wheres = {m.where for m in screen.members.values()}
        assert len(wheres) == 1, screen.members
        where = wheres.pop()
        assert where.endswith("cores)"), where
        await wait_for_text(pilot, *(f"[{i}/2] tsne-gmm default {size} images seed 0 — {where}"
                                     for i, size in ((1, 200), (2, 300))))
        rows = [str(screen.query_one("#suite-table").get_row_at(i)[5]) for i in range(2)]
        assert rows == ["running", "running"]

        # the Monitor follows both as running jobs, at the same time
        run_ids = {m.run_id for m in screen.members.values()}
        jobs = [app.manager.jobs[r] for r in run_ids]
        assert all(j.member and j.state == "running" for j in jobs)
        assert {j.job_id for j in app.manager.running()} == run_ids
        await pilot.press("3")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "MonitorScreen", 10)
        monitor = app.screen
        table = monitor.query_one("DataTable")
        await wait_for(pilot, lambda: table.row_count == 2, 10)
        # the Monitor's cancel leaves a member to its suite (it says so; nothing is asked)
        await pilot.press("c")
        await pilot.pause(0.3)
        assert app.screen is monitor            # no "Cancel this job?" dialog
        assert all(j.state == "running" for j in jobs)

        await wait_for(pilot, lambda: not screen.running, 120)
        assert [j.state for j in jobs] == ["finished", "finished"], [j.error for j in jobs]
        assert all(j.result is not None and j.result.status == "finished" for j in jobs)
        assert all(j.phase for j in jobs)          # their events were folded in
        assert screen.folder.status()["status"] == "finished"
        await pilot.press("6")
        await wait_for(pilot, lambda: app.screen is screen, 10)
        rows = [str(screen.query_one("#suite-table").get_row_at(i)[5]) for i in range(2)]
        assert rows == ["finished", "finished"]
        # members' runs are this window's own: none of them was "re-attached" (followed twice)
        assert sorted(app.manager.jobs) == sorted(run_ids)
        assert not any(j.attached for j in app.manager.jobs.values())
    assert_no_tensorflow()
