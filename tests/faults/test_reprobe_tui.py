"""Second re-probe of issue 22: the TUI (`mnist-tui` without --batch) as a hostile user meets it.

What the re-probe found, each held here on a real app driven by Pilot:

* A suite folder whose suite.json is not JSON, is a FIFO or a link loop was listed (then failed
  on opening) or dropped without a word; unreadable suite folders were skipped silently by the
  Suites screen and its past-suites picker. They are skipped and named, with why.
* A learning curve holding 1e308 (or a KL of Infinity) read from events.jsonl raised inside
  plotext while drawing: the exception ended the whole app.
* One run whose spec.json says `"samples": "many"` (or whose time is Infinity) stopped the Runs
  table at that row: every older run vanished from the screen, and the status line with it.
* A confusion matrix of the wrong shape left the previous run's matrix and per-class scores on
  screen under the new run's title.
* A 10,000-character preset or dataset name filled the Results screen before its numbers.

Payloads already covered elsewhere (markup and ESC in ids and settings, FIFO events) are in
test_hostile_display.py; these are new.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from fault_helpers import run, shows
from support import patient, screen_text

from mnist_tui.tui.app import create_app
from mnist_tui.tui.messages import OpenRun

SIZE = (120, 40)
SPEC = {"job": "cnn", "preset": "default", "dataset": "digits", "seed": 0, "samples": 100,
        "epochs": 1}


def plant_run(runs: Path, run_id: str, spec: dict | None = None, result: str | dict | None = None,
              events: list | None = None) -> Path:
    """A run folder written by hand: `result` as a dict or as raw JSON text (NaN, Infinity)."""
    d = runs / run_id
    d.mkdir()
    (d / "spec.json").write_text(json.dumps(spec or SPEC))
    (d / "meta.json").write_text(json.dumps({"run_id": run_id, "pid": 1,
                                             "created": "2026-01-01T12:00:00+0000"}))
    if result is None:
        result = {"status": "finished", "job": "cnn", "spec": spec or SPEC,
                  "metrics": {"accuracy": 0.5}, "timings": {"total": 1.0}}
    (d / "result.json").write_text(result if isinstance(result, str) else json.dumps(result))
    if events is not None:
        (d / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return d


def app_for(runs: Path, mode: str):
    return create_app(runs_dir=runs, dataset="digits", start_mode=mode, load_data=False)


# -- the Suites screen names the suite folders it skips ------------------------------------------

GOOD_SUITE = "20260101-000000-sweep-good01"
BAD_JSON_SUITE = "20260101-000001-sweep-badjsn"
FIFO_SUITE = "20260101-000002-sweep-fifo00"
LOOP_SUITE = "20260101-000003-sweep-loop00"


@pytest.fixture
def suites(offline):
    """A readable suite and three that cannot be read: suite.json not JSON, a FIFO (with a
    writer that opens and closes it, so code that still reads it gets end-of-file, not a
    hang), a link to itself."""
    from mnist_tui.engine.suites.spec_text import suite_spec_from_text

    root = offline / "suites"
    for sid in (GOOD_SUITE, BAD_JSON_SUITE, FIFO_SUITE, LOOP_SUITE):
        (root / sid).mkdir(parents=True)
    spec = suite_spec_from_text("sweep", methods="tsne-gmm", sizes="100", seeds="1",
                                given={"dataset": "digits"})
    (root / GOOD_SUITE / "suite.json").write_text(json.dumps(spec.to_dict()))
    (root / BAD_JSON_SUITE / "suite.json").write_text('{"suite": "sweep", ')
    fifo = root / FIFO_SUITE / "suite.json"
    os.mkfifo(fifo)
    os.symlink("suite.json", root / LOOP_SUITE / "suite.json")
    writer = threading.Thread(target=lambda: os.close(os.open(fifo, os.O_WRONLY)), daemon=True)
    writer.start()
    yield offline
    if writer.is_alive():
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
    writer.join(patient(10))


def test_scan_suites_skips_and_names_suite_files_it_cannot_read(suites):
    """Not JSON, a FIFO and a link loop are skipped, each with why; the good suite lists (today:
    the torn one was listed as a suite, the FIFO and the loop left out without a word)."""
    from mnist_tui.engine.suites.folder import scan_suites

    ids, skipped = scan_suites(suites)
    assert ids == [GOOD_SUITE]
    why = {s.name: s.reason for s in skipped}
    assert set(why) == {BAD_JSON_SUITE, FIFO_SUITE, LOOP_SUITE}
    assert "not valid JSON" in why[BAD_JSON_SUITE]
    assert "not a regular file" in why[FIFO_SUITE]
    assert "symbolic links" in why[LOOP_SUITE]


def test_the_suites_screen_and_picker_name_skipped_suite_folders(suites):
    """The Suites screen opens the newest readable suite and says which folders it skipped and
    why; `l` (past suites) lists the good one and names the skipped ones."""
    async def scenario() -> None:
        app = app_for(suites, "suites")
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await shows(pilot, GOOD_SUITE, "3 unreadable suite folder(s) skipped:")
            await pilot.press("l")
            text = await shows(pilot, "Past suites", f"skipped {BAD_JSON_SUITE}:",
                               f"skipped {FIFO_SUITE}:", f"skipped {LOOP_SUITE}:")
            assert "not valid JSON" in text and "not a regular file" in text, text
            assert app.is_running

    run(scenario)


# -- Results: values plotext cannot take -------------------------------------------------------

@pytest.mark.parametrize("events", [
    [{"type": "epoch", "epoch": 1, "metrics": {"loss": 0.5, "accuracy": 1e308}},
     {"type": "epoch", "epoch": 2, "metrics": {"loss": 0.4, "accuracy": 0.9}}],
    [{"type": "progress", "step": 10, "metrics": {"kl_divergence": 1e308}},
     {"type": "progress", "step": 20, "metrics": {"kl_divergence": 2.0}}],
], ids=["epoch-accuracy", "kl"])
def test_curves_with_values_plotext_cannot_take_do_not_end_the_app(offline, events):
    """A curve value of 1e308 left out of the plot (today: OverflowError in plotext's render,
    and the app ends)."""
    run_id = "20260101-120000-cnn-huge"
    plant_run(offline, run_id, events=events)

    async def scenario() -> None:
        app = app_for(offline, "runs")
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await shows(pilot, "1 run(s)")
            app.post_message(OpenRun(run_id))
            await shows(pilot, f"Run {run_id}  finished", "50.00%")
            for _ in range(10):          # frames drawn with the plot in them
                await pilot.pause(0.05)
            assert app.is_running and app.return_code is None
            assert f"Run {run_id}" in screen_text(app)

    run(scenario)


# -- Runs: one bad value hides no run ------------------------------------------------------------

def test_a_run_with_values_of_the_wrong_type_hides_no_other_run(offline):
    """The newest run says `"samples": "many"`, the next has NaN accuracy and an Infinity
    time: every run is listed, those values as "—" (today: the table stopped at the first of
    them and the status line was never drawn)."""
    plant_run(offline, "20260101-120300-cnn-strsam", {**SPEC, "samples": "many"})
    plant_run(offline, "20260101-120200-cnn-naninf", result=(
        '{"status": "finished", "job": "cnn", "metrics": {"accuracy": NaN}, '
        '"timings": {"total": Infinity}}'))
    plant_run(offline, "20260101-120100-cnn-plain1")
    plant_run(offline, "20260101-120000-cnn-plain0")

    async def scenario() -> None:
        app = app_for(offline, "runs")
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            text = await shows(pilot, "4 run(s)", "strsam", "naninf", "plain1", "plain0")
            row = next(line for line in text.splitlines() if "naninf" in line)
            assert "%" not in row and row.count("—") == 2, row   # accuracy and time
            assert "many" not in text

    run(scenario)


# -- Results: a malformed confusion matrix -------------------------------------------------------

@pytest.mark.parametrize("matrix", [[[1, 2], [3]], [["a", None], {"x": 1}], [[-1]]],
                         ids=["ragged", "strings", "negative"])
def test_a_malformed_confusion_matrix_is_named_not_left_from_another_run(offline, matrix):
    """A run with a good matrix (its counts 4242) is opened, then one whose matrix is not a
    square table of counts: the second shows a note and none of the first run's counts
    (today: the first run's matrix stayed under the second run's title)."""
    good = [[4242 if i == j else 0 for j in range(10)] for i in range(10)]
    plant_run(offline, "20260101-120000-cnn-goodcm", result={
        "status": "finished", "job": "cnn", "metrics": {"accuracy": 0.5},
        "timings": {"total": 1.0}, "confusion_matrix": good})
    plant_run(offline, "20260101-120100-cnn-badcm0", result={
        "status": "finished", "job": "cnn", "metrics": {"accuracy": 0.25},
        "timings": {"total": 1.0}, "confusion_matrix": matrix})

    async def scenario() -> None:
        app = app_for(offline, "runs")
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await shows(pilot, "2 run(s)")
            app.post_message(OpenRun("20260101-120000-cnn-goodcm"))
            await shows(pilot, "Run 20260101-120000-cnn-goodcm", "4242")
            app.post_message(OpenRun("20260101-120100-cnn-badcm0"))
            text = await shows(pilot, "Run 20260101-120100-cnn-badcm0", "25.00%",
                               "not a square table of counts")
            assert "4242" not in text and "4,242" not in text, text

    run(scenario)


# -- Results: a 10,000-character value -----------------------------------------------------------

def test_a_long_preset_and_dataset_name_are_cut_in_the_results_header(offline):
    """At 80×24 the run's accuracy stays on screen under a 10,000-character preset and
    dataset name, each cut with how much was left out (today: 250 lines of "A" first)."""
    long = "A" * 10_000
    run_id = "20260101-120000-cnn-longpr"
    plant_run(offline, run_id, {**SPEC, "preset": long}, result={
        "status": "finished", "job": "cnn", "metrics": {"accuracy": 0.375},
        "timings": {"total": 1.0}, "dataset": {"name": "B" * 10_000, "n_samples": 100}})

    async def scenario() -> None:
        app = app_for(offline, "runs")
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await shows(pilot, "1 run(s)")
            app.post_message(OpenRun(run_id))
            text = await shows(pilot, f"Run {run_id}", "37.50%", "more characters")
            assert text.count("A") < 400 and text.count("B") < 400

    run(scenario)
