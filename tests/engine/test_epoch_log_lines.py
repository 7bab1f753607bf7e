"""The Monitor's log reads like the batch output (issue 26): the progress fold adds, for each
epoch, the very line `mnist-tui --batch` prints for it (`event_text.event_line`, one source of
that text), live or replayed; an epoch event from a planted file never breaks the fold.

The fixture is a real run (`fixtures/cnn/`, recorded with `mnist-tui --batch` on the bundled
digits: a CNN on 300 images, 3 epochs)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

from mnist_tui.batch import Reporter
from mnist_tui.engine.jobs.event_text import event_line
from mnist_tui.engine.jobs.events import Epoch, Event, Log, Phase, event_from_dict
from mnist_tui.engine.runs.progress import RunProgress, replay

FIXTURES = Path(__file__).parent / "fixtures"


def recorded(name: str) -> list[Event]:
    lines = (FIXTURES / name / "events.jsonl").read_text().splitlines()
    return [event_from_dict(json.loads(line)) for line in lines]


def batch_output(events: list[Event]) -> list[str]:
    """What the batch front end prints for these events in a log (not a terminal)."""
    out = io.StringIO()
    reporter = Reporter(out)
    for ev in events:
        reporter.event(ev)
    return out.getvalue().splitlines()


def test_a_replayed_run_logs_each_epoch_as_the_batch_output_prints_it():
    events = recorded("cnn")
    epochs = [ev for ev in events if isinstance(ev, Epoch)]
    assert [e.epoch for e in epochs] == [1, 2, 3]
    p = replay(events, job="cnn")
    # the log: the Log events' messages and, in their place among them, each epoch's line
    expected = [("info", event_line(ev)) if isinstance(ev, Epoch) else (ev.level, ev.message)
                for ev in events if isinstance(ev, (Epoch, Log))]
    assert list(p.logs) == expected
    epoch_lines = [message for _, message in p.logs if " epoch " in message]
    assert epoch_lines == [event_line(ev) for ev in epochs]
    # the very lines the batch front end printed for the same events
    printed = batch_output(events)
    assert epoch_lines == [line for line in printed if "] epoch " in line]
    assert epoch_lines[0] == ("[   10.3s] epoch 1/3  accuracy 0.2741  loss 2.3295  "
                              "val_accuracy 0.2000  val_loss 2.2510  (3.1s)")
    assert epoch_lines[2].startswith("[   10.6s] epoch 3/3  accuracy 0.7037")


def test_the_live_fold_logs_the_same_epoch_lines_as_the_replay():
    events = recorded("cnn")
    live = RunProgress(job="cnn", planned_epochs=3, started_at=500.0)
    for ev in events:
        live.apply(ev)
    assert list(live.logs) == list(replay(events, job="cnn").logs)
    assert sum("epoch" in m and m.startswith("[") for _, m in live.logs) == 3


def test_a_diverged_epoch_is_logged_with_its_nan_as_the_batch_prints_it():
    ev = Epoch(t=4.25, epoch=2, epochs=5, seconds=1.5,
               metrics={"loss": math.nan, "accuracy": 0.1})
    p = replay([Phase(t=1.0, name="training"), ev], job="cnn")
    assert list(p.logs) == [("info", "[    4.2s] epoch 2/5  loss nan  accuracy 0.1000  (1.5s)")]
    assert p.logs[-1][1] == event_line(ev) == batch_output([ev])[0]


def test_a_planted_epoch_event_is_logged_from_its_checked_values_or_not_at_all():
    lines = [
        # a stamp that is text, metrics that are not numbers, a time that is a list
        {"type": "epoch", "t": "soon", "epoch": 1, "epochs": 2, "seconds": [3],
         "metrics": {"loss": 0.5, "accuracy": "high", "val_loss": None, "flag": True}},
        # metrics that are not a mapping
        {"type": "epoch", "t": 2.0, "epoch": 2, "epochs": 2, "metrics": ["loss", 1]},
        # counts that are not counts: the epoch is in the history, not in the log
        {"type": "epoch", "t": 3.0, "epoch": "three", "epochs": 2, "metrics": {"loss": 0.1}},
        {"type": "epoch", "t": 4.0, "epoch": 3, "epochs": -1, "metrics": {"loss": 0.1}},
        {"type": "epoch", "t": 5.0, "epoch": True, "epochs": 2, "metrics": {"loss": 0.1}},
    ]
    p = replay(lines, job="cnn")
    assert list(p.logs) == [("info", "[    0.0s] epoch 1/2  loss 0.5000  (—)"),
                            ("info", "[    2.0s] epoch 2/2    (0.0s)")]   # no seconds: 0
    assert len(p.epochs) == 5
