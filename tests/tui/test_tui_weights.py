"""The Launch form says, before launching, where VGG16's weights will come from: Keras' cache, a
download (how big, from where: a real HTTP server on 127.0.0.1), none, or a file."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select
from tui_helpers import screen_text, wait_for, widget_text

from mnist_tui.engine.data.published import IMAGENET_FILE
from mnist_tui.engine.data.weights import IMAGENET_NOTOP
from mnist_tui.tui.app import create_app


@pytest.fixture
def mirror(static_server):
    """A weights mirror on 127.0.0.1 that has the file (its bytes do not matter here):
    (its URL, its host:port)."""
    url = static_server.put(IMAGENET_NOTOP, b"x")
    return url, f"127.0.0.1:{static_server.port}"


async def test_launch_says_where_the_imagenet_weights_come_from(runs_dir, tmp_path, monkeypatch,
                                                                mirror):
    url, host = mirror
    keras_home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setenv("MNIST_TUI_WEIGHTS_URL", url)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="launch")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query("#f-samples"), 10)
        screen = app.screen
        screen.query_one("#job-select", Select).value = "vgg16"
        await wait_for(pilot, lambda: screen.query("#f-weights"), 5)
        await wait_for(pilot, lambda: not screen.checking, 10)
        note = widget_text(app, "#e-weights")
        assert note == (f"ImageNet weights not cached yet: downloaded on first use (58.9 MB "
                        f"from {host}) into {keras_home / 'models'}/")
        assert screen.query_one("#e-weights").has_class("shown")

        weights = screen.query_one("#f-weights", Input)
        weights.value = "none"
        await wait_for(pilot, lambda: "random initialisation" in widget_text(app, "#e-weights"),
                       5)

        # a file of the official size that is not the official file is not "cached"
        path = keras_home / "models" / IMAGENET_NOTOP
        path.parent.mkdir(parents=True)
        with open(path, "wb") as fh:
            fh.truncate(IMAGENET_FILE.size)
        weights.value = "imagenet"
        await pilot.pause()                      # the change is seen, then checked
        await wait_for(pilot, lambda: not screen.checking, 10)
        assert widget_text(app, "#e-weights").startswith(
            "ImageNet weights not cached yet: downloaded again on first use (58.9 MB")

        weights.value = str(tmp_path / "missing.h5")
        await pilot.pause()
        assert screen.checking
        assert widget_text(app, "#e-weights").startswith("no such file:")   # a stat, at once
        await wait_for(pilot, lambda: not screen.checking, 10)
        assert widget_text(app, "#e-weights") == f"✘ --weights {tmp_path / 'missing.h5'}: " \
                                                 "no such file"

        weights.focus()                          # scrolled into view at 80×24: it reads whole
        weights.value = "imagenet"
        await pilot.pause()                      # the change is seen, then checked
        await wait_for(pilot, lambda: not screen.checking, 10)
        text = " ".join(screen_text(app).split())
        assert "downloaded again on first use (58.9 MB from" in text


async def test_other_jobs_show_no_weights_note(runs_dir):
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="launch")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query("#f-samples"), 10)
        assert not app.screen.query("#e-weights")
