"""The Keras backend in the TUI: Compare shows a differing backend as the run's result describes
it, and the Suites form's backends field becomes the suite's backends (and shows a recorded
suite's)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input
from tui_helpers import wait_for

from mnist_tui.engine.jobs.results import RunResult
from mnist_tui.engine.runs.view import RunView
from mnist_tui.tui.app import create_app
from mnist_tui.tui.screens.compare import setting
from mnist_tui.tui.widgets.suite_form import SuiteForm


def _view(spec: dict, details: dict | None) -> RunView:
    result = RunResult.from_dict({"status": "finished", "details": details})
    return RunView(run_id="r", result=result, spec=spec, kl=[], summary=None, history=[],
                   snapshot=None, path=Path("r"))


def test_compare_shows_the_backend_as_recorded():
    jax = _view({"job": "cnn", "backend": "jax"}, {"backend": "jax (JAX 0.10.2, Keras 3.15.1)"})
    assert setting(jax, "backend") == "jax (JAX 0.10.2, Keras 3.15.1)"
    assert setting(jax, "job") == "cnn"
    old = _view({"job": "cnn"}, None)                # recorded before backends: no such setting
    assert setting(old, "backend") == "—"
    running = _view({"job": "cnn", "backend": "torch"}, {})
    assert setting(running, "backend") == "torch"


async def test_the_suites_form_reads_and_shows_backends(runs_dir):
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="suites")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.screen.query("#sf-backends"), 10)
        form = app.screen.query_one(SuiteForm)
        for name, value in (("methods", "cnn"), ("sizes", "200"), ("seeds", "1"),
                            ("backends", "tensorflow,jax"), ("options", "dataset=digits")):
            app.screen.query_one(f"#sf-{name}", Input).value = value
        spec = form.read_spec(None)
        assert spec.backends == ("tensorflow", "jax")
        assert [m.label for m in spec.members()] == ["cnn · tensorflow default 200 images seed 0",
                                                     "cnn · jax default 200 images seed 0"]
        form.fill({**spec.to_dict(), "backends": ["jax"]})
        assert app.screen.query_one("#sf-backends", Input).value == "jax"
        form.fill({k: v for k, v in spec.to_dict().items() if k != "backends"})
        assert app.screen.query_one("#sf-backends", Input).value == ""
