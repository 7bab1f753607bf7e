"""Check before launching (Launch form and Suites screen): a missing data folder, a split the
data lacks, VGG16 weights that cannot be had (a closed port: tests/conftest.py) are shown before
launching and stop the start; the checks run in workers (a server that never answers does not
make the form laggy); a suite shows its size and a time from past runs, and a large one (or `x`
on a running one) asks first.

Launched jobs are held in the queue (`manager.hold`): no worker starts except in the one suite
test marked slow.
"""

from __future__ import annotations

import gzip
import os
import socket
import struct
from pathlib import Path

import pytest
from support import meta_path_without, write_finished_run
from textual.widgets import Input, Select
from tui_helpers import screen_text, wait_for, widget_text

from mnist_tui.engine.data.weights import IMAGENET_NOTOP
from mnist_tui.tui.app import create_app


def write_mnist(folder: Path, n_train: int, n_test: int | None = None) -> Path:
    """A real (gzip) IDX dataset of blank 28×28 digits."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        if n is None:
            continue
        images = struct.pack(">BBBBIII", 0, 0, 8, 3, n, 28, 28) + bytes(n * 28 * 28)
        labels = struct.pack(">BBBBI", 0, 0, 8, 1, n) + bytes(i % 10 for i in range(n))
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(images, 1))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels, 1))
    return folder


@pytest.fixture
def silent_url():
    """A port that takes connections and never answers (a laggy, dead link)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield f"http://127.0.0.1:{s.getsockname()[1]}/{IMAGENET_NOTOP}"
    s.close()


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


async def launch_form(pilot, job: str = "tsne-gmm"):
    app = pilot.app
    app.manager.hold("a preflight test")              # submitted jobs wait in the queue
    await wait_for(pilot, lambda: app.screen.query("#f-samples"), 10)
    if job != "tsne-gmm":
        app.screen.query_one("#job-select", Select).value = job
        await wait_for(pilot, lambda: app.screen.job == job
                       and app.screen.query(f"#f-{'weights' if job == 'vgg16' else 'epochs'}"),
                       10)

    def built() -> bool:   # every Select of the new form has drawn its current value
        return all(sel.query("#label") for sel in app.screen.query("#form Select"))

    await wait_for(pilot, built, 10)
    return app.screen


async def set_fields(pilot, **values) -> None:
    screen = pilot.app.screen
    for name, value in values.items():
        screen.query_one(f"#f-{name}").value = str(value)
    await pilot.pause()


def status(app) -> str:
    return widget_text(app, "#form-status")


# -- Launch ----------------------------------------------------------------------------------
async def test_a_missing_data_folder_is_not_ready_and_does_not_start(runs_dir, tmp_path):
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="launch")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await launch_form(pilot)
        folder = tmp_path / "mnist"
        await set_fields(pilot, dataset="mnist", data_dir=folder, samples=300)
        await wait_for(pilot, lambda: "no such file or directory" in
                       widget_text(app, "#e-data_dir"), 10)
        assert widget_text(app, "#e-data_dir") == f"✘ {folder}: no such file or directory"
        assert status(app).startswith("✘ not ready")
        assert "✔ ready" not in screen_text(app)
        await pilot.press("ctrl+s")                  # checks again: still missing
        await wait_for(pilot, lambda: not screen.start_waiting and not screen.checking, 10)
        assert app.manager.jobs == {}
        assert type(app.screen).__name__ == "LaunchScreen"
        # the folder appears (and has the split, and enough images): ctrl+s checks and starts
        write_mnist(folder, 400)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.manager.jobs, 10)
        job = next(iter(app.manager.jobs.values()))
        assert job.spec["data_dir"] == str(folder) and job.spec["samples"] == 300
        assert type(app.screen).__name__ == "MonitorScreen"


async def test_a_split_the_data_lacks_and_more_images_than_it_has(runs_dir, tmp_path):
    folder = write_mnist(tmp_path / "mnist", 60)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="launch")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await launch_form(pilot, "cnn")
        await set_fields(pilot, dataset="mnist", data_dir=folder, split="test", samples=50,
                         batch_size=8)
        await wait_for(pilot, lambda: "has no test split" in widget_text(app, "#e-split"), 10)
        assert widget_text(app, "#e-split").startswith("✘ --split test: dataset mnist has no "
                                                       "test split (it has: train)")
        assert widget_text(app, "#e-data_dir") == f"mnist (train 60) from {folder}"
        await set_fields(pilot, split="auto", samples=80)
        await wait_for(pilot, lambda: "80 images asked for" in widget_text(app, "#e-samples"),
                       10)
        assert widget_text(app, "#e-samples") == ("✘ 80 images asked for, but mnist has 60 in "
                                                  "its train split")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not screen.start_waiting and not screen.checking, 10)
        assert app.manager.jobs == {}
        # the bundled digits have one train split: known at once, without a worker
        await set_fields(pilot, data_dir="none", dataset="digits", split="test", samples=50)
        assert not screen.checking
        assert "has no test split" in widget_text(app, "#e-split")


async def test_vgg16_weights_that_cannot_be_had_show_before_launching(runs_dir, keras_home,
                                                                      static_server, monkeypatch):
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="launch")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await launch_form(pilot, "vgg16")
        await set_fields(pilot, dataset="digits", samples=200, epochs=1)
        # tests/conftest.py points MNIST_TUI_WEIGHTS_URL at a closed port
        await wait_for(pilot, lambda: not screen.checking, 10)
        note = widget_text(app, "#e-weights")
        assert note.startswith("✘ ImageNet weights neither cached nor downloadable (connection "
                               "refused from 127.0.0.1:")
        assert "58.9 MB" in note and str(keras_home / "models") in note
        assert status(app).startswith("✘ not ready")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not screen.start_waiting and not screen.checking, 10)
        assert app.manager.jobs == {}
        # a mirror that has the file: a download of 58.9 MB from it, on first use
        (static_server.root / IMAGENET_NOTOP).write_bytes(b"x")
        monkeypatch.setenv("MNIST_TUI_WEIGHTS_URL", static_server.url + IMAGENET_NOTOP)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.manager.jobs, 10)
        assert next(iter(app.manager.jobs.values())).spec["weights"] == "imagenet"
        await pilot.press("2")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "LaunchScreen", 5)
        port = static_server.port
        assert widget_text(app, "#e-weights").startswith(
            f"ImageNet weights not cached yet: downloaded on first use (58.9 MB from "
            f"127.0.0.1:{port})")
        await set_fields(pilot, weights="none")
        await wait_for(pilot, lambda: "✔ ready" in status(app), 10)
        assert "random initialisation" in widget_text(app, "#e-weights")


async def test_the_check_runs_off_the_ui_thread(runs_dir, keras_home, silent_url, monkeypatch):
    """A weights URL that takes the connection and never answers: the check waits its 3 s in a
    worker while the form keeps taking keys at once."""
    monkeypatch.setenv("MNIST_TUI_WEIGHTS_URL", silent_url)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="launch")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await launch_form(pilot, "vgg16")
        await set_fields(pilot, dataset="digits", samples=200)
        # the check's delay is over: it waits on the silent server
        await wait_for(pilot, lambda: screen.checking and status(app).startswith(
            "… checking the data and the weights"), 10)
        field = screen.query_one("#f-epochs", Input)
        field.focus()
        await pilot.press("enter", "end", "backspace", "backspace", "3", "enter")
        # The keys were handled while the check still waits (no wall-clock bound, which a
        # loaded machine breaks): a check on the UI thread would have ended before them.
        assert field.value == "3" and screen.checking
        await wait_for(pilot, lambda: not screen.checking, 15)
        assert "no answer within 3 s" in widget_text(app, "#e-weights")


# -- Suites ----------------------------------------------------------------------------------
async def fill_suite(pilot, **values) -> None:
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.query("#sf-methods"), 10)
    for name, value in values.items():
        screen.query_one(f"#sf-{name}", Input).value = str(value)
    await wait_for(pilot, lambda: screen.plan_for == screen.form_key(), 15)


def plan_text(app) -> str:
    return widget_text(app, "#suite-plan")


async def test_suite_plan_shows_its_size_and_a_time_from_past_runs(runs_dir):
    from mnist_tui.engine.jobs.specs import build_spec

    spec = build_spec("tsne-gmm", "default", {"dataset": "digits", "samples": 100,
                                              "iterations": 260, "gmm_inits": 1}).to_dict()
    scored = {"accuracy_hungarian": 0.6}
    write_finished_run(runs_dir, "20260101-120000-tsne-gmm-aaa001", spec, 3.0, scored)
    write_finished_run(runs_dir, "20260101-120001-tsne-gmm-aaa002", {**spec, "seed": 4}, 5.0,
                       scored)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="suites")
    async with app.run_test(size=(80, 24)) as pilot:
        await fill_suite(pilot, methods="tsne-gmm", sizes="100", seeds="2",
                         options="dataset=digits iterations=260 gmm-inits=1 presets=default")
        assert plan_text(app) == "2 members × 100 images = 200 images · about 8s from past runs"
        await fill_suite(pilot, sizes="100,200")
        assert plan_text(app) == ("4 members × 100–200 images = 600 images · about 8s from "
                                  "past runs (2 member(s) without an estimate)")
        await fill_suite(pilot, sizes="300")
        assert plan_text(app) == "2 members × 300 images = 600 images · no estimate (no past runs)"
        await fill_suite(pilot, sizes="2000")
        assert "✘ 2 member(s) ask for more than the 1,797 images digits has" in plan_text(app)


async def test_a_missing_data_folder_stops_the_suite_before_it_starts(runs_dir, tmp_path):
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="suites")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await fill_suite(pilot, methods="tsne-gmm", sizes="100", seeds="1",
                         options=f"dataset=mnist data-dir={tmp_path / 'gone'} presets=default")
        assert "✘ " in plan_text(app) and "no such file or directory" in plan_text(app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "not started" in screen_text(app), 10)
        assert not screen.running
        assert not (runs_dir / "suites").exists()


async def test_a_large_suite_or_a_typo_asks_before_it_starts(runs_dir, tmp_path):
    """12 members, or one member of 25,500 images (a typo for 2,500?), ask first; no starts."""
    folder = write_mnist(tmp_path / "mnist", 30_000, 10)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="suites")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await fill_suite(pilot, methods="tsne-gmm,cnn", sizes="100,200,300", seeds="2",
                         options="dataset=digits iterations=260 gmm-inits=1 epochs=1 presets=default")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", 10)
        text = screen_text(app)
        assert "12 members × 100–300 images = 2,400 images" in text
        assert "12 members (more than 10)" in text
        await pilot.press("n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "SuitesScreen", 5)
        assert not screen.running and not (runs_dir / "suites").exists()
        await fill_suite(pilot, methods="tsne-gmm", sizes="25500", seeds="1",
                         options=f"dataset=mnist data-dir={folder} presets=default")
        assert plan_text(app).startswith("1 member × 25,500 images = 25,500 images")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", 10)
        assert "a member uses 25,500 images (more than 10,000)" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "SuitesScreen", 5)
        assert not screen.running and not (runs_dir / "suites").exists()
        assert "not started" in screen_text(app)


@pytest.mark.slow
async def test_a_confirmed_suite_starts_and_x_asks_before_cancelling(runs_dir):
    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="suites")
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        await fill_suite(pilot, methods="tsne-gmm", sizes="100", seeds="11",
                         options="dataset=digits iterations=260 gmm-inits=1 presets=default")
        assert plan_text(app).startswith("11 members")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", 10)
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.running and screen.live is not None
                       and screen.listener.pid, 60)
        await pilot.press("x")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", 5)
        assert "Cancel the running suite?" in screen_text(app)
        await pilot.press("n")                       # keep running
        await wait_for(pilot, lambda: type(app.screen).__name__ == "SuitesScreen", 5)
        assert screen.running and not screen.cancelling
        await pilot.press("x")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", 5)
        await pilot.press("y")
        await wait_for(pilot, lambda: not screen.running, 60)
        assert screen.folder.status()["status"] == "interrupted"
        assert "r resumes" in screen_text(app)
        assert os.path.isdir(screen.folder.path)


async def test_a_backend_this_machine_lacks_shows_on_its_field_and_does_not_start(
        runs_dir, monkeypatch):
    import sys

    monkeypatch.setattr(sys, "meta_path", meta_path_without("torch"))
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="launch")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await launch_form(pilot, "cnn")
        await set_fields(pilot, dataset="digits", samples=200, epochs=1, backend="torch")
        await wait_for(pilot, lambda: "PyTorch is not installed" in
                       widget_text(app, "#e-backend"), 10)
        assert widget_text(app, "#e-backend").startswith(
            '✘ --backend torch: PyTorch is not installed here (pip install -e ".[torch]"')
        assert status(app).startswith("✘ not ready")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not screen.start_waiting and not screen.checking, 10)
        assert app.manager.jobs == {}
        # back to TensorFlow: ready, and it starts
        await set_fields(pilot, backend="tensorflow")
        await wait_for(pilot, lambda: widget_text(app, "#e-backend") == "", 10)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.manager.jobs, 10)
        assert next(iter(app.manager.jobs.values())).spec["backend"] == "tensorflow"
