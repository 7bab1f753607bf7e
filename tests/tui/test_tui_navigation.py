"""80 columns and navigation: the header names the screen, nothing is cut at 80×24, one meaning
per key across screens, the Runs screen's filter / reverse sort / rerun / delete, export paths
that stay on screen whole, Results opening at the top, and digits drawn small enough that the
Dataset screen's essentials fit one 80×24 page."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable
from tui_helpers import (
    install_recorded_run,
    screen_text,
    wait_for,
    widget_text,
    write_classifier_run,
)

from mnist_tui.tui.app import SCREENS, create_app, screen_class
from mnist_tui.tui.messages import OpenRun
from mnist_tui.tui.widgets.digits import DigitGrid


def name(app) -> str:
    return type(app.screen).__name__


def header(app) -> str:
    return screen_text(app).splitlines()[0]


def write_run(runs_dir: Path, run_id: str, status: str, job: str, *, accuracy: float | None,
              seconds: float | None, images: int | None, preset: str = "default",
              created: str = "2026-01-02T10:00:00+0000") -> str:
    """A run folder as the worker leaves it (spec, meta, result), with chosen values."""
    run = runs_dir / run_id
    run.mkdir()
    spec = {"job": job, "preset": preset, "dataset": "digits", "samples": images}
    (run / "spec.json").write_text(json.dumps(spec))
    (run / "meta.json").write_text(json.dumps({"run_id": run_id, "created": created}))
    result = {"status": status, "job": job, "metrics": {}, "timings": {},
              "dataset": {"n_samples": images}}
    if accuracy is not None:   # what each job's worker writes: a classifier has no clusters
        result["metrics"]["accuracy_hungarian" if job == "tsne-gmm" else "accuracy"] = accuracy
    if seconds is not None:
        result["timings"]["total"] = seconds
    (run / "result.json").write_text(json.dumps(result))
    return run_id


async def test_the_header_names_the_current_screen(runs_dir):
    install_recorded_run(runs_dir)
    write_classifier_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False)
    async with app.run_test(size=(80, 24)) as pilot:
        for mode, key, label in [*SCREENS[1:], SCREENS[0]]:
            await pilot.press(key)
            await wait_for(pilot, lambda: name(app) == screen_class(mode).__name__, 10)
            await wait_for(pilot, lambda: f"mnist-tui — {key} {label}" in header(app), 5)
        await pilot.press("5")
        await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 2, 10)
        await pilot.press("space", "space", "v")
        await wait_for(pilot, lambda: name(app) == "CompareScreen", 5)
        await wait_for(pilot, lambda: "5 Runs › Compare" in header(app), 5)


async def test_runs_at_80_columns_cuts_nothing(runs_dir):
    """The widest values of each column and every key of the screen, whole at 80×24."""
    write_run(runs_dir, "20260102-100000-tsne-gmm-aaa111", "interrupted", "tsne-gmm",
              accuracy=0.9731, seconds=725, images=60000, preset="default")
    write_run(runs_dir, "20260102-110000-vgg16-bbb222", "cancelled", "vgg16",
              accuracy=1.0, seconds=4000, images=6000, preset="seed",
              created="2026-01-02T11:00:00+0000")
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, 10)
        # the table's heading and the whole two-line key bar are drawn
        await wait_for(pilot, lambda: any("status" in line and "preset" in line
                                          for line in screen_text(app).splitlines())
                       and " d Delete" in screen_text(app), 5)
        lines = screen_text(app).splitlines()
        heading = next(line for line in lines if "status" in line and "preset" in line)
        for word in ("status", "job", "run", "accuracy", "time", "images", "preset"):
            assert f" {word}" in heading, heading
        rows = [line for line in lines if "aaa111" in line or "bbb222" in line]
        assert len(rows) == 2
        slow, tsne = rows
        for cell in ("■ cancelled", "vgg16", "01-02 11:00 bbb222", "100.00%", "1h06m", "6,000",
                     "seed"):
            assert cell in slow, (cell, slow)
        for cell in ("↯ interrupted", "tsne-gmm", "01-02 10:00 aaa111", "97.31%", "12m05s",
                     "60,000", "default"):
            assert cell in tsne, (cell, tsne)
        bar = "\n".join(lines[-2:])
        for key, label in (("o", "Open"), ("space", "Mark"), ("v", "Compare"), ("/", "Filter"),
                           ("s", "Sort"), ("S", "Reverse"), ("r", "Rerun"), ("e", "Export"),
                           ("d", "Delete"), ("^r", "Reload"), ("?", "Keys"), ("q", "Quit")):
            assert f" {key} {label}" in bar, (key, bar)
        assert "…" not in bar


CONTEXT_KEYS = {"enter", "escape", "tab", "shift+tab", "backspace"}   # act on what has focus


def test_a_key_means_one_thing_on_every_screen():
    """Runs compared with `c` (Monitor's cancel) and deleted with `x` (Suites' cancel). Now a key
    of the Dataset, Results, Runs and Compare screens is either theirs alone or means the same
    on every screen that has it ("r" is "again": retry a download, resume a suite, rerun)."""
    from mnist_tui.tui.screens.compare import CompareScreen

    families = {"retry": "again", "resume": "again", "rerun": "again",
                "back": "close", "leave_field": "close", "clear_filter": "close"}

    def meanings(cls) -> dict[str, str]:
        out = {}
        for b in Binding.make_bindings(getattr(cls, "BINDINGS", [])):
            action = b.action.split("(")[0]
            out[b.key] = families.get(action, action)
        return out

    mine = {c.__name__: meanings(c) for c in (screen_class("dataset"), screen_class("results"),
                                              screen_class("runs"), CompareScreen)}
    others = {c.__name__: meanings(c) for c in (screen_class("launch"), screen_class("monitor"),
                                                screen_class("suites"))}
    everyone = {**mine, **others}
    for screen, keys in mine.items():
        for key, meaning in keys.items():
            if key in CONTEXT_KEYS:
                continue
            for other, their in everyone.items():
                if key in their:
                    assert their[key] == meaning, (key, screen, meaning, other, their[key])
    runs = mine["RunsScreen"]
    assert runs["v"] == "compare" and runs["d"] == "delete" and runs["delete"] == "delete"
    assert "c" not in runs and "x" not in runs


async def test_runs_filter_and_reverse_sort(runs_dir):
    install_recorded_run(runs_dir)
    write_classifier_run(runs_dir)
    write_run(runs_dir, "20260102-100000-tsne-gmm-ccc333", "interrupted", "tsne-gmm",
              accuracy=None, seconds=None, images=None, preset="seed")
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 3, 10)
        newest = [r.run_id for r in screen.runs]
        assert newest[0].endswith("ccc333")
        await pilot.press("S")                               # oldest first
        await wait_for(pilot, lambda: [r.run_id for r in screen.runs] == newest[::-1], 5)
        assert "oldest first" in widget_text(app, "#runs-status")
        await pilot.press("slash", *"tsne")
        await wait_for(pilot, lambda: table.row_count == 2, 5)
        assert all(r.job == "tsne-gmm" for r in screen.runs)
        await pilot.press("space", *"seed", "enter")   # words: all must match
        await wait_for(pilot, lambda: table.row_count == 1, 5)
        assert screen.runs[0].run_id.endswith("ccc333")
        assert "1 of 3 run(s)" in screen_text(app) and "tsne seed" in screen_text(app)
        assert screen.focused is table                     # enter went back to the table
        await pilot.press("escape")                       # clears the filter
        await wait_for(pilot, lambda: table.row_count == 3, 5)
        assert "filter" not in widget_text(app, "#runs-status")
        await pilot.press("s")                             # by accuracy, best first
        await wait_for(pilot, lambda: "accuracy, best first" in widget_text(app,
                                                                            "#runs-status"), 5)
        accuracies = [r.run_id[-6:] for r in screen.runs]
        assert accuracies == ["bbb222", "aaa111", "ccc333"]        # none last
        await pilot.press("S")
        await wait_for(pilot, lambda: [r.run_id[-6:] for r in screen.runs]
                       == ["aaa111", "bbb222", "ccc333"], 5)      # worst first, none last


async def test_rerun_starts_the_selected_runs_spec_as_a_new_job(runs_dir):
    tsne = install_recorded_run(runs_dir)
    spec = json.loads((runs_dir / tsne / "spec.json").read_text())
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        app.manager.hold("the test: nothing starts")          # the job stays queued
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 1, 10)
        await pilot.press("r")
        await wait_for(pilot, lambda: len(app.manager.jobs) == 1, 5)
        job = next(iter(app.manager.jobs.values()))
        assert job.job_id != tsne and job.state == "queued"
        # the recorded spec exactly; fields added since it was recorded take their defaults
        assert {k: job.spec[k] for k in spec} == spec
        assert job.spec.get("refine_rounds", 0) == 0
        await wait_for(pilot, lambda: job.job_id in widget_text(app, "#runs-notice"), 5)
        assert "Rerun of" in screen_text(app)
        app.manager.cancel(job.job_id)


async def test_a_rerun_records_and_shows_the_run_it_repeats(runs_dir):
    tsne = install_recorded_run(runs_dir)        # t-SNE + GMM on 300 bundled digits: seconds
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 1, 10)
        await pilot.press("r")
        await wait_for(pilot, lambda: len(app.manager.jobs) == 1, 5)
        job = next(iter(app.manager.jobs.values()))
        await wait_for(pilot, lambda: job.state == "finished", 120)
        for record in ("meta.json", "result.json"):
            assert json.loads((runs_dir / job.job_id / record).read_text())["rerun_of"] == tsne
        await pilot.press("4")                   # Results shows the finished job it follows
        await wait_for(pilot, lambda: job.job_id in widget_text(app, "#res-title"), 10)
        assert f"rerun of {tsne}" in widget_text(app, "#res-title")


async def test_delete_asks_first(runs_dir):
    install_recorded_run(runs_dir)
    write_classifier_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, 10)
        await pilot.press("x", "c")                         # other screens' keys: nothing
        await pilot.pause()                                 # (once they are handled)
        assert name(app) == "RunsScreen" and len(app.store.list()) == 2
        await pilot.press("d")
        await wait_for(pilot, lambda: name(app) == "ConfirmScreen", 5)
        await pilot.press("n")
        await wait_for(pilot, lambda: name(app) == "RunsScreen", 5)
        assert len(app.store.list()) == 2
        await pilot.press("delete")
        await wait_for(pilot, lambda: name(app) == "ConfirmScreen", 5)
        await pilot.press("y")
        await wait_for(pilot, lambda: len(app.store.list()) == 1, 5)


def _unwrapped(app) -> str:
    """The screen's lines joined without their breaks (a long path wraps at 80 columns)."""
    return "".join(line.strip() for line in screen_text(app).splitlines())


async def test_export_paths_stay_on_screen_whole_and_copied(runs_dir):
    tsne = install_recorded_run(runs_dir)
    cnn = write_classifier_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, 10)
        await pilot.press("space", "space", "e")
        await wait_for(pilot, lambda: "report.html" in widget_text(app, "#runs-notice"), 30)
        reports = sorted((runs_dir / "reports").glob("*/report.html"))
        assert len(reports) == 1
        path = str(reports[0])
        assert app.clipboard == path
        assert path in _unwrapped(app)
        for _ in range(3):                      # it stays (a notification would go)
            await pilot.press("down", "up")
        await pilot.pause()
        assert path in _unwrapped(app)
        # on the screen's own notice line, not in a toast that times out
        assert not any(path in str(toast.render()) for toast in app.screen.query("Toast"))

        app.post_message(OpenRun(cnn))
        await wait_for(pilot, lambda: name(app) == "ResultsScreen", 5)
        await wait_for(pilot, lambda: cnn in screen_text(app), 10)
        await pilot.press("e")
        await wait_for(pilot, lambda: len(list((runs_dir / "reports").glob("*/report.html")))
                       == 2, 30)
        newest = max((runs_dir / "reports").glob("*/report.html"), key=lambda p: p.stat().st_mtime)
        await wait_for(pilot, lambda: str(newest) in _unwrapped(app), 10)
        assert app.clipboard == str(newest)
        assert tsne not in widget_text(app, "#res-notice")


async def test_results_open_at_the_top(runs_dir):
    tsne = install_recorded_run(runs_dir)
    cnn = write_classifier_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="results")
    app.results_run = cnn
    async with app.run_test(size=(80, 24)) as pilot:
        body = app.screen.query_one("#results-body")
        await wait_for(pilot, lambda: cnn in screen_text(app) and body.max_scroll_y > 5, 10)
        body.scroll_end(animate=False)
        await wait_for(pilot, lambda: body.scroll_y > 5, 5)
        await pilot.press("5")
        await wait_for(pilot, lambda: name(app) == "RunsScreen", 5)
        app.post_message(OpenRun(tsne))
        await wait_for(pilot, lambda: name(app) == "ResultsScreen"
                       and tsne in screen_text(app), 10)
        await wait_for(pilot, lambda: body.scroll_y == 0, 5)
        assert screen_text(app).splitlines()[1].startswith(f" Run {tsne}")


def _write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file (the MNIST format): magic with the type (ubyte) and rank, sizes, bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I",
                                                                        *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def fake_mnist(folder: Path) -> Path:
    """MNIST-shaped data (28×28, train and test, four IDX files) from the bundled digits,
    enlarged three times and centred, so the screen draws real digit shapes."""
    from mnist_tui.engine.data.datasets import load_digits

    split = load_digits().splits["train"]
    big = np.kron(split.images, np.ones((1, 3, 3), dtype=np.uint8))
    images = np.pad(big, ((0, 0), (2, 2), (2, 2)))
    folder.mkdir()
    for prefix, part in (("train", slice(0, 1500)), ("t10k", slice(1500, None))):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte", images[part])
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte", split.labels[part])
    return folder


async def test_dataset_essentials_fit_one_80x24_page(runs_dir, tmp_path):
    """28×28 images and four files read: where the data came from, split sizes, pixel
    statistics, and for every class its mean digit, images and share — on the first page."""
    folder = fake_mnist(tmp_path / "mnist")
    app = create_app(runs_dir=runs_dir, data_dir=str(folder))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None, 30)
        assert app.stats.image_shape == (28, 28) and len(app.stats.files) == 4
        await wait_for(pilot, lambda: "Each class" in screen_text(app)
                       and "j/k g/G" in screen_text(app).splitlines()[-1], 10)
        text = screen_text(app)
        lines = text.splitlines()
        assert "mnist-tui — 1 Dataset" in lines[0]
        assert "Dataset mnist" in text
        for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                  "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
            assert f in text
        assert "train 1,500 · test 297 · all 1,797" in text and "pixels" in text
        counts = app.stats.total_class_counts
        row = next(line for line in lines if line.lstrip().startswith("images "))
        assert row.split()[1:] == [f"{c:,}" for c in counts]
        share = next(line for line in lines if line.lstrip().startswith("share "))
        assert len(share.split()) == 11
        digits = [line for line in lines if "▀" in line]
        assert 2 <= len(digits) <= 7                  # the ten mean digits: a few rows each
        assert all(line.count("▀") >= 10 for line in digits[:2])
        assert "Retry download" not in lines[-1]      # a data folder: nothing to download


class Grid(App):
    def compose(self) -> ComposeResult:
        yield DigitGrid(id="grid", per_row=10, max_rows=5)


async def test_a_gallery_of_28x28_digits_is_drawn_small():
    """Forty 28×28 digits at 80 columns: ten to a row, four rows of digits and a caption each
    (the Results gallery and the Dataset samples); they were 28 columns × 14 rows each."""
    rng = np.random.default_rng(0)
    images = np.zeros((40, 28, 28), np.uint8)
    images[:, 4:24, 6:22] = rng.integers(0, 256, (40, 20, 16))
    app = Grid()
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.query_one(DigitGrid)
        grid.set_digits(list(images), [f"{i % 10}→{(i + 1) % 10}" for i in range(40)])
        await wait_for(pilot, lambda: grid.render_line(0).text.count("▀") > 0, 5)
        assert grid.captions[:2] == ["0→1", "1→2"]
        assert grid.size.height <= 4 * (5 + 1)
        first = grid.render_line(0).text
        assert first.count("▀") >= 10 * 5              # ten digits side by side
