"""The Suites form and its screen at 80×24 (issue 26, bugs 8, 9, 11): the presets each method runs
are a field (the engine's default, the one `--help` states), the estimate follows finished runs,
the key bar shows `r Resume`, and a suite's report is written again by `e` and named by its
real path (`~` for the home folder when long)."""

from __future__ import annotations

from test_tui_suites import write_recorded_suite
from textual.widgets import Input
from tui_helpers import screen_text, wait_for

from mnist_tui.engine.suites.spec import DEFAULT_PRESETS
from mnist_tui.tui.app import create_app

TINY = "dataset=digits iterations=260 gmm-inits=1 epochs=1"


def plan_line(app) -> str:
    return str(app.screen.query_one("#suite-plan").render())


async def set_field(pilot, name: str, value: str) -> None:
    """A person's edit: focus the field, enter, clear it, type, enter."""
    pilot.app.screen.query_one(f"#sf-{name}", Input).focus()
    await pilot.press("enter", "ctrl+u", *value, "enter")


async def test_the_presets_are_a_field_that_agrees_with_help(runs_dir):
    """The sweep's presets are shown (default,refined: 2 members for one method, size and
    seed, where a user expected 1), follow the methods, and an edit changes the members."""
    from mnist_tui.cli import build_parser

    sweep = ",".join(DEFAULT_PRESETS["sweep"])
    assert f"sweep {sweep}" in " ".join(build_parser().format_help().split())
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="suites")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.query("#sf-presets"), 10)
        presets = screen.query_one("#sf-presets", Input)
        assert presets.value == sweep
        assert f"presets {sweep}" in screen_text(app)
        await set_field(pilot, "methods", "cnn")           # the CNN has no refined preset
        await wait_for(pilot, lambda: presets.value == "default", 5)
        await set_field(pilot, "methods", "tsne-gmm")
        await wait_for(pilot, lambda: presets.value == sweep, 5)
        await set_field(pilot, "sizes", "100")
        await set_field(pilot, "seeds", "1")
        await set_field(pilot, "options", "dataset=digits iterations=260 gmm-inits=1")
        await wait_for(pilot, lambda: plan_line(app).startswith("2 members × 100 images"), 10)
        await set_field(pilot, "presets", "default")
        await wait_for(pilot, lambda: plan_line(app).startswith("1 member"), 10)
        await set_field(pilot, "methods", "tsne-gmm,vgg16")  # edited: no longer follows
        await wait_for(pilot, lambda: plan_line(app).startswith("2 members"), 10)
        assert presets.value == "default"


async def test_the_estimate_uses_runs_that_finished_meanwhile(runs_dir):
    """"no estimate" until runs of the same job and size finish; then (the signal a suite
    member's end sends) the plan uses their times, without touching the form."""
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="suites")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.query("#sf-presets"), 10)
        for name, value in (("methods", "tsne-gmm,cnn"), ("sizes", "100,200"), ("seeds", "1"),
                            ("presets", "default"), ("options", TINY)):
            await set_field(pilot, name, value)
        await wait_for(pilot, lambda: "4 members" in plan_line(app)
                       and "no estimate" in plan_line(app), 10)
        write_recorded_suite(runs_dir)       # four finished runs of these jobs and sizes
        app.runs_changed.publish(None)
        await wait_for(pilot, lambda: "from past runs" in plan_line(app)
                       and "no estimate" not in plan_line(app), 10)


async def test_the_key_bar_shows_resume_and_report_at_80x24(runs_dir):
    """With the table focused, and with a field focused (not being edited: r and e work)."""
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="suites")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query("#sf-presets"), 10)
        for focus in ("#suite-table", "#sf-sizes"):
            app.screen.query_one(focus).focus()
            await pilot.pause()
            bar = screen_text(app).splitlines()[-1]
            for item in ("^s Start", "x Cancel", "r Resume", "e Report", "? Keys", "q Quit"):
                assert item in bar, (focus, bar)


async def test_e_writes_the_report_and_the_line_names_its_real_path(runs_dir, tmp_path,
                                                                     monkeypatch):
    """A recorded suite (no report yet): `e` writes report.html/.md/.json/.csv in its folder,
    toasts its real path, and the status line names it with ~ for the home folder."""
    monkeypatch.setenv("HOME", str(tmp_path))
    sid = write_recorded_suite(runs_dir)
    html = runs_dir / "suites" / sid / "report.html"
    assert not html.exists()
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="suites")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.loaded, 10)
        await pilot.press("e")
        await wait_for(pilot, lambda: html.with_suffix(".csv").is_file(), 10)
        assert all(html.with_suffix(ext).is_file() for ext in (".html", ".md", ".json"))
        assert sid in html.read_text()
        await wait_for(pilot, lambda: str(html) in toast_text(app), 5)
        text = screen_text(app)
        assert f"report written: ~/runs/suites/{sid}/report.html" in text
        assert "<runs>" not in text


def toast_text(app) -> str:
    """The toasts' text joined (a wrapped path reads whole): each line's cells right of a
    toast's left edge "▌" up to its right end (Textual's toasts stop 2 cells before the
    screen's edge), not the screen behind."""
    out = []
    for line in screen_text(app).splitlines():
        at = line.find("▌ ")
        if at >= 0:
            out.append(line[at + 2:app.size.width - 2].strip())
    return "".join(out)
