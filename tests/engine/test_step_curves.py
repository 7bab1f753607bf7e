"""Learning curves per step (issue 26): the Keras event callback makes some progress events
points of the per-step curve (`curve_at`: epochs done), bounded per epoch and per second, and
the progress model folds them, live or replayed; runs recorded before them replay as before."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mnist_tui.engine.jobs.events import Epoch, Progress, event_from_dict
from mnist_tui.engine.jobs.keras_train import CURVE_FLOOR, CURVE_PER_EPOCH, CurvePoints
from mnist_tui.engine.runs.progress import replay

FIXTURES = Path(__file__).parent / "fixtures"


def points_of_an_epoch(steps: int) -> list[int]:
    """The batches (counted from 1) that give a point, batches ending as fast as Python goes."""
    curve = CurvePoints(steps)
    curve.new_epoch()
    return [done for done in range(1, steps + 1) if curve.due(done, done == steps)]


@pytest.mark.parametrize("steps", [1, 9, 844, 100_000])
def test_an_epoch_gives_a_bounded_number_of_points_that_ends_at_its_last_batch(steps):
    points = points_of_an_epoch(steps)
    assert points[-1] == steps                                  # the epoch's end is a point
    assert len(points) <= CURVE_PER_EPOCH + 1                   # however fast the batches
    assert len(points) >= min(steps, CURVE_FLOOR)               # however fast: a curve
    stride = math.ceil(steps / CURVE_PER_EPOCH)
    gaps = [b - a for a, b in zip([0, *points], points)]
    assert all(g >= stride for g in gaps[:-1]), gaps
    if steps <= CURVE_FLOOR:
        assert points == list(range(1, steps + 1))              # a short epoch: every batch


def test_curve_points_fold_in_order_and_bad_values_are_left_out():
    events = [Progress(t=1, phase="training", step=s, total=4, curve_at=at,
                       metrics={"loss": 2.0 - s / 10, "accuracy": s / 10, "images_per_s": 9.0})
              for s, at in ((1, 0.25), (2, 0.5), (3, 0.5), (4, 0.4))]
    events += [Progress(t=2, phase="training", step=1, total=4, curve_at=bad,
                        metrics={"loss": 1.0})
               for bad in ("0.75", math.nan, math.inf, True, -1.0, 0.0)]
    events += [Progress(t=3, phase="training", step=2, total=4, curve_at=0.75,
                        metrics={"images_per_s": 9.0}),            # no loss, no accuracy
               Progress(t=3, phase="training", step=2, total=4, metrics={"loss": 0.5}),
               Progress(t=4, phase="training", step=4, total=4, curve_at=1.0,
                        metrics={"loss": 1.5, "accuracy": "0.6"})]
    p = replay(events, job="cnn")
    assert p.curve == [(0.25, {"loss": 1.9, "accuracy": 0.1}),
                       (0.5, {"loss": 1.8, "accuracy": 0.2}),
                       (1.0, {"loss": 1.5})]


def test_a_run_recorded_before_step_curves_replays_as_before():
    lines = (FIXTURES / "cnn" / "events.jsonl").read_text().splitlines()
    assert not any("curve_at" in line for line in lines)
    p = replay((json.loads(line) for line in lines), job="cnn")
    assert p.curve == []
    assert [h["epoch"] for h in p.history()] == [1, 2, 3]


def test_a_small_cnn_records_its_loss_and_accuracy_per_step(run_cli, cli_env, tmp_path):
    out = run_cli(["--batch", "--job", "cnn", "--dataset", "digits", "--samples", "600",
                   "--epochs", "2", "--runs-dir", str(tmp_path / "runs"), "--json", "-"],
                  cli_env, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    events_file = tmp_path / "runs" / result["run_id"] / "events.jsonl"
    events = [event_from_dict(json.loads(line)) for line in events_file.read_text().splitlines()]
    points = [ev for ev in events if isinstance(ev, Progress) and ev.curve_at is not None]
    epochs = [ev for ev in events if isinstance(ev, Epoch)]
    assert [e.epoch for e in epochs] == [1, 2]
    # 540 training images in batches of 64: 9 batches an epoch, each a point (a short epoch)
    steps = math.ceil(540 / 64)
    assert [p.curve_at for p in points] == [round(e + s / steps, 6) for e in range(2)
                                            for s in range(1, steps + 1)]
    for p in points:
        assert p.phase == "training" and {"loss", "accuracy"} <= set(p.metrics)
    # the last point of an epoch is that epoch's training loss and accuracy
    for epoch in epochs:
        last = next(p for p in points if p.curve_at == epoch.epoch)
        for key in ("loss", "accuracy"):
            assert last.metrics[key] == pytest.approx(epoch.metrics[key], rel=1e-5)
    # replayed: the progress model has every point, in order
    progress = replay(events, job="cnn")
    assert [at for at, _ in progress.curve] == [p.curve_at for p in points]
    assert progress.curve[0][1] == {k: points[0].metrics[k] for k in ("loss", "accuracy")}
    assert len(progress.history()) == 2
