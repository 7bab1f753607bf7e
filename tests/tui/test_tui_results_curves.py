"""Per-step curves on Results and the batch's epoch lines in the Monitor's log (issue 26).

Results draws a run's learning curves as the Monitor does (`tui/curves.learning_curves`): the
training loss and accuracy per step where the run recorded steps, the epochs' validation on
top; a run recorded per epoch only still draws its epochs. The Monitor's log shows each epoch
as `mnist-tui --batch` prints it. Read from the rendered cells of the real widgets."""

from __future__ import annotations

import json
from pathlib import Path

from textual.geometry import Region
from tui_helpers import replay_job, step_points, wait_for, widget_text, write_classifier_run

from mnist_tui.engine.jobs.event_text import event_line
from mnist_tui.engine.jobs.events import Epoch, Finished, Log, Phase, Started
from mnist_tui.engine.jobs.results import RunResult
from mnist_tui.tui.app import create_app
from mnist_tui.tui.messages import OpenRun
from mnist_tui.tui.widgets.plots import CurvePlot

STEPS = 9          # 540 training images in batches of 64: 9 batches, each a point
EPOCH = Epoch(t=2.5, epoch=1, epochs=1, seconds=1.5,
              metrics={"loss": 1.2, "accuracy": 0.7, "val_loss": 1.05, "val_accuracy": 0.74})


def write_step_run(runs_dir: Path, run_id: str = "20260103-100000-cnn-steps1") -> str:
    """A finished 1-epoch CNN run (events and result record, as the worker writes them) whose
    9 batches each gave a point of the per-step curve."""
    spec = {"job": "cnn", "preset": "default", "dataset": "digits", "samples": 600,
            "epochs": 1, "batch_size": 64, "seed": 0}
    history = [{"epoch": 1, **EPOCH.metrics, "seconds": EPOCH.seconds}]
    result = {"status": "finished", "job": "cnn", "preset": "default", "seed": 0,
              "run_id": run_id, "spec": spec, "history": history,
              "metrics": {"accuracy": 0.8805, "loss": 0.4533}}
    events = [Started(t=0.0, job="cnn", run_id=run_id, spec=spec, pid=1),
              Log(t=0.5, message="540 training and 60 validation images from digits (train)"),
              Phase(t=1.0, name="training", message="1 epoch(s) of 9 batches of 64")]
    events += step_points(STEPS)
    events += [EPOCH, Finished(t=3.0, result=RunResult.from_dict(result))]
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "spec.json").write_text(json.dumps(spec))
    (run_dir / "meta.json").write_text(json.dumps({"run_id": run_id, "pid": 1,
                                                   "created": "2026-01-03T10:00:00+0000"}))
    (run_dir / "result.json").write_text(json.dumps(result))
    (run_dir / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    return run_id


def rows(widget) -> list[str]:
    """The widget's rendered lines as text."""
    strips = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return ["".join(segment.text for segment in strip) for strip in strips]


def plotted_columns(lines: list[str], glyph: str) -> set[int]:
    """The columns of the plot area (inside the frame) where `glyph` is drawn."""
    top = next(i for i, line in enumerate(lines) if "┌" in line)
    bottom = next(i for i, line in enumerate(lines) if "└" in line)
    left, right = lines[top].index("┌"), lines[top].rindex("┐")
    return {c for r in range(top + 1, bottom) for c in range(left + 1, right)
            if lines[r][c] == glyph}


async def test_results_draw_a_one_epoch_run_per_step_with_its_validation_on_top(runs_dir):
    steps = write_step_run(runs_dir)
    epochs = write_classifier_run(runs_dir)      # recorded per epoch only (5 epochs)
    app = create_app(runs_dir=runs_dir, load_data=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.post_message(OpenRun(steps))
        await wait_for(pilot, lambda: "val loss" in "".join(
            rows(app.screen.query_one("#res-plot-a", CurvePlot))), 15)
        loss = app.screen.query_one("#res-plot-a", CurvePlot)
        drawn = {line.name: pts for line, _, _, pts in loss.styled()}
        # the 9 step points (epochs done: 1/9 … 1), the epoch's validation loss at 1
        assert [round(x, 3) for x, _ in drawn["loss"]] == [round(s / STEPS, 3)
                                                          for s in range(1, STEPS + 1)]
        assert drawn["val loss"] == [(1.0, 1.05)]
        lines = rows(loss)
        assert len(plotted_columns(lines, "•")) > 2, lines      # a curve, not one point
        assert plotted_columns(lines, "x"), lines               # the validation point
        accuracy = app.screen.query_one("#res-plot-b", CurvePlot)
        assert len(plotted_columns(rows(accuracy), "•")) > 2
        # a run recorded before step points: its epochs, as before
        app.post_message(OpenRun(epochs))
        await wait_for(pilot, lambda: {line.name: len(pts) for line, _, _, pts in
                                       app.screen.query_one("#res-plot-a", CurvePlot).styled()}
                       == {"loss": 5, "val loss": 5}, 15)


async def test_the_monitor_log_shows_each_epoch_as_the_batch_prints_it(runs_dir):
    run_id = write_step_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="monitor")
    async with app.run_test(size=(140, 40)) as pilot:
        app.manager.add_replay(replay_job(runs_dir, run_id, state="finished"))
        expected = event_line(EPOCH)
        assert expected is not None and "] epoch 1/1  loss 1.2000" in expected
        await wait_for(pilot, lambda: expected in widget_text(app, "#job-log"), 10)
        log = widget_text(app, "#job-log").splitlines()
        assert log[-2:] == ["540 training and 60 validation images from digits (train)",
                            expected], log
