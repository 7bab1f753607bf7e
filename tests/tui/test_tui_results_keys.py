"""Results, Dataset, exports, key bar and help (issue 26 bugs 8, 11, 12; vim keys)."""

from __future__ import annotations

import io
import re

from support import closed_port_url
from test_tui_navigation import fake_mnist
from tui_helpers import (
    install_recorded_run,
    screen_text,
    wait_for,
    wait_for_text,
    write_classifier_run,
)

from mnist_tui.tui.app import create_app
from mnist_tui.tui.messages import OpenRun


async def test_results_key_bar_shows_its_own_keys_and_the_page_moves_with_vim_keys(runs_dir):
    """Bug 12: Results' key bar listed every screen (1 Dataset … 6 Suites) beside its two keys.
    Now: its own keys, j/k g/G, one "1-6 Screens" item; G and g go to the bottom and top."""
    run_id = write_classifier_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="results")
    async with app.run_test(size=(80, 24)) as pilot:
        app.post_message(OpenRun(run_id))
        await wait_for_text(pilot, "confusion matrix")
        bar = screen_text(app).splitlines()[-1]
        assert " e Export report" in bar.replace("  ", " ") and "j/k g/G" in bar
        assert "1-6" in bar and "Screens" in bar
        for name in ("Dataset", "Launch", "Monitor", "Runs", "Suites"):
            assert name not in bar, bar
        body = app.screen.query_one("#results-body")
        await wait_for(pilot, lambda: body.max_scroll_y > 0, 5)
        await pilot.press("G")
        await wait_for(pilot, lambda: body.scroll_y == body.max_scroll_y, 5)
        await pilot.press("g")
        await wait_for(pilot, lambda: body.scroll_y == 0, 5)
        await pilot.press("j")
        await wait_for(pilot, lambda: body.scroll_y == 1, 5)


async def test_an_export_notice_stays_with_its_run(runs_dir):
    """Bug 8 and 12: the export's message followed the user to another run, its toast said
    "its path is below the table" on a screen without one, and a single run's report was
    titled as a suite with "best (1 seed: noise unknown)"."""
    cnn = write_classifier_run(runs_dir)
    tsne = install_recorded_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="results")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        app.post_message(OpenRun(cnn))
        await wait_for_text(pilot, "confusion matrix")
        await pilot.press("e")
        await wait_for(pilot, lambda: (runs_dir / "reports").is_dir()
                       and any((runs_dir / "reports").glob("*/report.md")), 15)
        report = next((runs_dir / "reports").glob("*/report.md"))
        await wait_for_text(pilot, f"Report of run {cnn} written")
        await wait_for(pilot, lambda: app.screen.query("Toast"), 5)
        toasts = " ".join(" ".join(str(t.render()).split()) for t in app.screen.query("Toast"))
        assert f"run {cnn}: report written to" in toasts, toasts
        assert "below the table" not in toasts
        md = report.read_text()
        assert md.splitlines()[0] == f"# mnist-tui run {cnn}"
        assert "suite" not in md.splitlines()[0] and "noise unknown" not in md
        assert "best" not in md.split("## Runs")[0]

        app.post_message(OpenRun(tsne))          # another run: the notice does not follow
        await wait_for(pilot, lambda: app.screen.view is not None
                       and app.screen.view.run_id == tsne, 10)
        await pilot.pause()
        assert f"Report of run {cnn}" not in screen_text(app)


async def test_help_lists_each_action_once_with_its_keys(runs_dir):
    """Bug 12: help listed both `x` and `ctrl+x` for Cancel (and `q`, `ctrl+q, ctrl+c` for
    Quit): one entry per action, its keys joined. The tables' and pages' j/k g/G are listed."""
    from rich.console import Console
    from textual.widgets import Static

    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen", 5)
        console = Console(width=100, file=io.StringIO(), record=True)
        console.print(app.screen.query_one("#help-table", Static).content)
        text = console.export_text()
        assert re.search(r"x, ctrl\+x\s+Cancel\b", text), text
        assert not re.search(r"^\s*ctrl\+x\s", text, re.M)
        assert re.search(r"q, ctrl\+q, ctrl\+c\s+Quit", text)
        assert len(re.findall(r"\sQuit\s*$", text, re.M)) == 1
        assert text.count("j/k, g/G") >= 3          # Dataset and Results pages, Runs table


async def test_dataset_offers_no_download_retry_for_a_data_folder(runs_dir, tmp_path):
    """Bug 12: Dataset showed "r Retry download" for --data-dir data."""
    folder = fake_mnist(tmp_path / "mnist")
    app = create_app(runs_dir=runs_dir, data_dir=str(folder))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None, 30)
        text = await wait_for_text(pilot, "Each class", "j/k g/G")
        assert "Retry" not in text and "retries" not in text
        await pilot.press("r")
        await pilot.pause()
        assert "download MNIST again" not in screen_text(app)


async def test_a_url_is_never_broken_mid_word_at_80_columns(runs_dir, monkeypatch):
    """Bug 11: at 80×24 the fallback note broke a mirror's URL mid-word. Every part of the
    URL between its slashes shows whole on one line, and `r` is offered (a download failed)."""
    parts = ["mirror-of-the-published-files", "mnist-idx-gzip-copies-2026", "nested-folder"]
    url = closed_port_url("/".join(parts) + "/")
    monkeypatch.setenv("MNIST_TUI_MIRRORS", url)
    app = create_app(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None, 30)
        text = await wait_for_text(pilot, "MNIST could not be had", "r retries the download",
                                   "Retry download")
        assert parts[0] in text
        # the note's lines joined (a border and a space start each): the whole URL as shown
        joined = "".join(line.strip(" █▌▎┃│") for line in text.splitlines())
        shown = re.findall(re.escape(url) + r"[\w.-]*", joined)
        assert shown, text
        for whole in shown:
            for part in whole.split("/"):
                assert part in text, (part, text)   # each part on one line, never split
