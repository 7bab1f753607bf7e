"""The Launch form says, before launching, where VGG16's weights will come from."""

from __future__ import annotations

from textual.widgets import Input, Select
from tui_helpers import screen_text, wait_for, widget_text

from mnist_tui.engine.weights import IMAGENET_FILE, IMAGENET_NOTOP
from mnist_tui.tui.app import create_app


async def test_launch_says_whether_imagenet_weights_are_cached(runs_dir, tmp_path, monkeypatch):
    keras_home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setenv("MNIST_TUI_WEIGHTS_URL", "https://mirror.example:8443/vgg16.h5")
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="launch")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query("#f-samples"), 10)
        app.screen.query_one("#job-select", Select).value = "vgg16"
        await wait_for(pilot, lambda: app.screen.query("#f-weights"), 5)
        await pilot.pause(0.1)
        note = widget_text(app, "#e-weights")
        assert note.startswith("ImageNet weights not cached yet: downloaded on first use")
        assert "58.9 MB from mirror.example:8443" in note
        assert str(keras_home / "models") in note
        assert app.screen.query_one("#e-weights").has_class("shown")

        weights = app.screen.query_one("#f-weights", Input)
        weights.value = "none"
        await pilot.pause(0.1)
        assert "random initialisation" in widget_text(app, "#e-weights")

        path = keras_home / "models" / IMAGENET_NOTOP
        path.parent.mkdir(parents=True)
        with open(path, "wb") as fh:             # sparse, of the official size: "cached"
            fh.truncate(IMAGENET_FILE.size)
        weights.value = "imagenet"
        await pilot.pause(0.1)
        assert widget_text(app, "#e-weights") == f"ImageNet weights cached: {path}"

        weights.value = str(tmp_path / "missing.h5")
        await pilot.pause(0.1)
        assert widget_text(app, "#e-weights").startswith("no such file:")

        weights.focus()                          # scrolled into view at 80×24: it reads whole
        weights.value = "imagenet"
        await pilot.pause(0.2)
        text = " ".join(screen_text(app).split())
        assert "ImageNet weights cached:" in text


async def test_other_jobs_show_no_weights_note(runs_dir):
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="launch")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query("#f-samples"), 10)
        assert not app.screen.query("#e-weights")
