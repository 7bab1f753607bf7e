"""Focus that cannot swallow keys: the screen keys (1-6, q, ?, a screen's letters) work unless a
text field is being edited on purpose (tab, a click or enter starts editing; esc or enter ends
it), coming back to a screen never lands in a text field, and keys sent in one burst (a laggy
link) keep their order (Textual #6605: an Input's bound keys overtook the typed ones).

Jobs started here are held in the queue (`manager.hold`): these tests are about keys, and never
start a worker.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input
from tui_helpers import screen_text, wait_for

from mnist_tui.tui.app import create_app

KEY_CHARS = {"backspace": None, "tab": None, "shift+tab": None, "enter": None,
             "escape": None, "ctrl+s": None, "left": None, "home": None}


def burst(app, *keys: str) -> None:
    """Keys posted to the app in one go, as a driver does with one read of a laggy link: no
    pause, no waiting for idle between them."""
    for key in keys:
        app.post_message(events.Key(key, KEY_CHARS.get(key, key)))


def screen_name(app) -> str:
    return type(app.screen).__name__


async def open_launch(pilot, via_key: bool = True):
    app = pilot.app
    app.manager.hold("a key test")                    # submitted jobs wait in the queue
    if via_key:
        await pilot.press("2")
    await wait_for(pilot, lambda: app.screen.query("#f-samples"), 10)
    await wait_for(pilot, lambda: "✔ ready" in screen_text(app), 10)
    return app.screen


async def tab_to(pilot, wid: str, limit: int = 20) -> None:
    """Press tab (one key at a time, like a person) until the widget `wid` has the focus."""
    app = pilot.app
    for _ in range(limit):
        if app.focused is not None and app.focused.id == wid:
            return
        await pilot.press("tab")
    raise AssertionError(f"tab never reached #{wid}\n" + screen_text(app))


async def test_the_reported_sequence_no_longer_types_screen_keys(runs_dir):
    """80×24: 2, tab to samples, 1000, ctrl+s, then 2, 3 — was: still on Launch, "10003",
    "✔ ready"."""
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False)
    async with app.run_test(size=(80, 24)) as pilot:
        launch = await open_launch(pilot)
        field = launch.query_one("#f-samples", Input)
        await tab_to(pilot, "f-samples")
        await pilot.press("1", "0", "0", "0")
        assert field.value == "1000"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.manager.jobs, 5)
        job = next(iter(app.manager.jobs.values()))
        assert job.spec["samples"] == 1000
        await wait_for(pilot, lambda: screen_name(app) == "MonitorScreen", 5)
        await pilot.press("2")
        await wait_for(pilot, lambda: screen_name(app) == "LaunchScreen", 5)
        assert not isinstance(app.focused, Input)      # back on Launch: not in a text field
        await pilot.press("3")
        await wait_for(pilot, lambda: screen_name(app) == "MonitorScreen", 5)
        assert field.value == "1000"


async def test_a_focused_field_not_being_edited_lets_screen_keys_through(runs_dir):
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False)
    async with app.run_test(size=(80, 24)) as pilot:
        launch = await open_launch(pilot)
        field = launch.query_one("#f-samples", Input)
        await tab_to(pilot, "f-samples")
        await pilot.press("5", "0", "0", "escape")     # esc: done editing, the focus stays
        assert app.focused is field and not field.editing and field.value == "500"
        assert "Edit field" in screen_text(app)         # the key bar says how to edit again
        await pilot.press("3")
        await wait_for(pilot, lambda: screen_name(app) == "MonitorScreen", 5)
        assert field.value == "500"
        await pilot.press("2")
        await wait_for(pilot, lambda: screen_name(app) == "LaunchScreen", 5)
        assert app.focused is not field
        # enter on a field edits it, enter again is done; then 4 is a screen key
        field.focus()
        await pilot.pause()
        assert not field.editing                        # focus alone is not editing
        await pilot.press("9")
        assert field.value == "500"
        await pilot.press("enter")
        assert field.editing
        await pilot.press("end", "1", "enter", "4")
        await wait_for(pilot, lambda: screen_name(app) == "ResultsScreen", 5)
        assert field.value == "5001"


async def test_a_click_or_a_paste_starts_editing(runs_dir):
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False)
    async with app.run_test(size=(80, 24)) as pilot:
        launch = await open_launch(pilot)
        field = launch.query_one("#f-samples", Input)
        await pilot.click("#f-samples")
        await wait_for(pilot, lambda: field.editing, 5)
        await pilot.press("end", "ctrl+u", "7", "7")
        assert field.value == "77"
        await pilot.press("escape")
        assert not field.editing
        app.post_message(events.Paste("5"))            # pasted text is meant for the field
        await wait_for(pilot, lambda: field.value == "775", 5)
        assert field.editing
        await pilot.press("escape", "6")
        await wait_for(pilot, lambda: screen_name(app) == "SuitesScreen", 5)
        assert field.value == "775"


async def test_a_burst_keeps_its_order_in_a_field(runs_dir):
    """"BSpace 5" sent together used to leave 1000 (the backspace ran after the 5)."""
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False)
    async with app.run_test(size=(80, 24)) as pilot:
        launch = await open_launch(pilot)
        field = launch.query_one("#f-samples", Input)
        await tab_to(pilot, "f-samples")
        burst(app, "1", "0", "0", "0", "backspace", "5")
        await wait_for(pilot, lambda: field.value == "1005", 5)
        # home; backspace (nothing left of the cursor); 9; left; two backspaces (nothing); 8
        burst(app, "home", "backspace", "9", "left", "backspace", "backspace", "8")
        await wait_for(pilot, lambda: field.value == "891005", 5)
        assert screen_name(app) == "LaunchScreen" and field.editing


async def test_a_burst_that_ends_editing_then_switches_screens(runs_dir):
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False)
    async with app.run_test(size=(80, 24)) as pilot:
        launch = await open_launch(pilot)
        field = launch.query_one("#f-samples", Input)
        await tab_to(pilot, "f-samples")
        burst(app, "4", "0", "0", "enter", "3")         # typed, done, then a screen key
        await wait_for(pilot, lambda: screen_name(app) == "MonitorScreen", 5)
        assert field.value == "400"
        # Start from Runs, so that the Monitor is reached only once the burst's last key is
        # handled as a screen key; the screens it passes through are recorded as they show.
        await pilot.press("5")
        await wait_for(pilot, lambda: screen_name(app) == "RunsScreen", 5)
        shown: list[str] = []
        app.screen_change_signal.subscribe(app, lambda screen: shown.append(type(screen).__name__))
        burst(app, "2", "tab", "tab", "3")              # back on Launch, not in a field
        await wait_for(pilot, lambda: screen_name(app) == "MonitorScreen", 5)
        assert shown == ["LaunchScreen", "MonitorScreen"]
        assert field.value == "400"


async def test_a_burst_typed_then_started_then_switched(runs_dir):
    """"1000 ctrl+s 2 3" in one read: the job gets 1000 (the start waits for the keys already
    typed), and 2 and 3 are screen keys."""
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False)
    async with app.run_test(size=(80, 24)) as pilot:
        launch = await open_launch(pilot)
        field = launch.query_one("#f-samples", Input)
        await tab_to(pilot, "f-samples")
        burst(app, "1", "0", "0", "0", "ctrl+s", "2", "3")
        await wait_for(pilot, lambda: app.manager.jobs, 5)
        job = next(iter(app.manager.jobs.values()))
        assert job.spec["samples"] == 1000
        await wait_for(pilot, lambda: screen_name(app) == "MonitorScreen", 5)
        assert field.value == "1000"


async def test_tab_into_a_field_in_a_burst_types_there(runs_dir):
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False)
    async with app.run_test(size=(80, 24)) as pilot:
        launch = await open_launch(pilot)
        seed = launch.query_one("#f-seed", Input)
        await tab_to(pilot, "f-subset_seed")
        burst(app, "escape", "tab", "4", "2")          # leave one field, tab into the next
        await wait_for(pilot, lambda: seed.value == "42", 5)
        assert seed.editing and screen_name(app) == "LaunchScreen"


async def test_suites_letter_keys_and_fields(runs_dir):
    """On Suites, a focused field not being edited leaves x, l and the screen keys alone; one
    being edited types them."""
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="suites")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.query("#sf-options"), 10)
        options = screen.query_one("#sf-options", Input)
        assert not isinstance(app.focused, Input)
        await tab_to(pilot, "sf-options")
        assert options.editing
        await pilot.press("ctrl+u", "x", "=", "1")
        assert options.value == "x=1"
        await pilot.press("escape", "x")               # x is Cancel again: nothing runs
        await wait_for(pilot, lambda: "none is running" in screen_text(app), 5)
        assert options.value == "x=1"
        await pilot.press("1")
        await wait_for(pilot, lambda: screen_name(app) == "DatasetScreen", 5)
        await pilot.press("6")
        await wait_for(pilot, lambda: screen_name(app) == "SuitesScreen", 5)
        assert not isinstance(app.focused, Input)
