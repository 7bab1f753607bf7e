"""The Launch form a keyboard user counts through (issue 26, bugs 3, 11, 12): every tab stop is a
visible field with a label, the focused one is marked `▶` in the rendered cells (under NO_COLOR
too: not a shade), digits typed after counting tabs go into the field, switching the job keeps
what was typed, and the status line and a field's help are whole at 80×24.

Jobs are held in the queue (`manager.hold`): nothing here starts a worker."""

from __future__ import annotations

from textual.widgets import Input, Select
from tui_helpers import screen_text, wait_for

from mnist_tui.engine.jobs.specs import flag_name, spec_fields
from mnist_tui.tui.app import create_app


async def open_launch(pilot):
    app = pilot.app
    app.manager.hold("a form test")
    await wait_for(pilot, lambda: app.screen.query("#f-samples"), 10)
    await wait_for(pilot, lambda: "✔ ready" in screen_text(app), 10)
    return app.screen


def label_of(wid: str) -> str:
    """The label a person reads before the widget `wid`."""
    if wid.startswith("f-"):
        return flag_name(wid[2:])
    return {"job-select": "Job", "preset-select": "Preset"}[wid]


def marked_lines(app) -> list[str]:
    return [line for line in screen_text(app).splitlines() if "▶" in line]


async def test_every_tab_stop_is_a_labelled_field_marked_under_no_color(runs_dir, monkeypatch):
    """Tab once round the whole form: each stop is a field whose label is on screen with `▶`
    before it — the only mark on screen — read from the rendered cells under NO_COLOR (was: a
    scroll container with no label after Preset, and focus shown by a 234→235 background)."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="launch")
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        screen = await open_launch(pilot)
        fields = [f"f-{f.name}" for f in spec_fields(screen.job) if f.name != "preset"]
        expected = ["job-select", "preset-select", *fields]
        seen = []
        for _ in range(len(expected) + 1):
            focused = app.focused
            assert focused is not None and focused.id in expected, (
                f"a tab stop that is not a field: {focused!r}")
            seen.append(focused.id)
            await pilot.pause()
            lines = marked_lines(app)
            assert len(lines) == 1 and f"▶ {label_of(focused.id)} " in lines[0], (
                focused.id, lines)
            await pilot.press("tab")
        assert seen == [*expected, "job-select"]          # round the form, nothing else


async def test_digits_typed_after_counting_tabs_edit_the_field(runs_dir):
    """Job → Preset → dataset → data-dir → split → samples is five tabs; then 300 is typed into
    samples (was: the fifth tab reached split, and 3 switched to the Monitor)."""
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="launch")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_launch(pilot)
        assert app.focused is not None and app.focused.id == "job-select"
        await pilot.press(*["tab"] * 5, "3", "0", "0")
        await pilot.pause()
        assert app.screen is screen
        assert screen.query_one("#f-samples", Input).value == "300"
        assert "▶ samples 300" in screen_text(app)


async def test_switching_the_job_keeps_typed_values(runs_dir):
    """seed and samples typed for t-SNE + GMM are still there once the job is the CNN; a field
    nobody typed into takes the CNN's own preset value."""
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="launch")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_launch(pilot)
        for name, text in (("seed", "7"), ("samples", "300")):
            screen.query_one(f"#f-{name}", Input).focus()
            await pilot.press("enter", "ctrl+u", *text, "enter")
        await wait_for(pilot, lambda: screen.query_one("#f-samples", Input).value == "300", 5)
        screen.query_one("#job-select", Select).value = "cnn"
        await wait_for(pilot, lambda: screen.job == "cnn" and screen.query("#f-epochs"), 10)
        await wait_for(pilot, lambda: "✔ ready" in screen_text(app), 10)
        assert screen.query_one("#f-seed", Input).value == "7"
        assert screen.query_one("#f-samples", Input).value == "300"
        from mnist_tui.engine.jobs.specs import SPEC_CLASSES

        epochs = SPEC_CLASSES["cnn"]().epochs
        assert screen.query_one("#f-epochs", Input).value == str(epochs)
        # ctrl+d still resets to the preset
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: screen.query_one("#f-seed", Input).value == "0", 10)


async def test_status_line_and_field_help_are_whole_at_80x24(runs_dir):
    """The ready line ends before the Start button (was cut: "… (jobs run"), and the longest
    help of a field is shown whole under the form (was cut after 2 lines)."""
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="launch")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_launch(pilot)
        line = next(r for r in screen_text(app).splitlines() if "✔ ready" in r)
        assert "…" not in line and line.rstrip().endswith("Start (ctrl+s)"), line
        assert "✔ ready: t-SNE + GMM (clustering), preset default" in line
        screen.query_one("#job-select", Select).value = "cnn"
        await wait_for(pilot, lambda: screen.job == "cnn" and screen.query("#f-epochs"), 10)
        field = max((f for f in spec_fields("cnn") if f.name != "preset"),
                    key=lambda f: len(f.metadata["help"]))
        screen.query_one(f"#f-{field.name}").focus()
        await pilot.pause()
        words = " ".join(screen_text(app).split())
        assert " ".join(f"{flag_name(field.name)}: {field.metadata['help']}".split()) in words, (
            field.name, screen_text(app))
