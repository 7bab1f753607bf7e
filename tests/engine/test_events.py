"""Events: the JSON-lines round trip, numpy values, unknown types and keys, the throttle."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.engine.jobs.events import (
    EVENT_TYPES,
    TERMINAL_TYPES,
    Cancelled,
    Epoch,
    Event,
    Failed,
    Finished,
    Interrupted,
    Log,
    ModelSummary,
    Phase,
    Progress,
    Snapshot,
    Started,
    Throttle,
    event_from_dict,
    event_from_json,
)
from mnist_tui.engine.jobs.results import RunResult

SAMPLES: list[Event] = [
    Started(t=0.0, job="tsne-gmm", run_id="20240101-000000-tsne-gmm-abcd",
            spec={"job": "tsne-gmm", "seed": 3, "pca": None}, pid=4242),
    Phase(t=0.5, name="tsne", message="t-SNE on 4800 × 50"),
    Progress(t=1.25, phase="tsne", step=250, total=1000, message="kl 3.2",
             metrics={"kl_divergence": 3.2}, eta=12.5),
    Progress(t=1.5, phase="download", step=10, total=None, eta=None),
    Epoch(t=9.0, epoch=2, epochs=10, metrics={"loss": 0.25, "val_accuracy": 0.9}, seconds=3.5),
    Snapshot(t=2.0, iteration=50, points=[[0.5, -1.0], [2.0, 3.0]], labels=[7, 1]),
    ModelSummary(t=0.1, layers=[{"name": "dense", "class": "Dense", "output_shape": [None, 10],
                                 "params": 1290, "trainable": True}],
                 trainable_params=1290, frozen_params=7),
    Log(t=3.0, message="ünïcode — fine", level="warning"),
    Finished(t=10.0, result=RunResult.from_dict({
        "status": "finished", "job": "tsne-gmm", "metrics": {"nmi": 0.8},
        "confusion_matrix": [[1, 0], [0, 1]]})),
    Failed(t=4.0, error="error: bad", kind="input", result=RunResult(status="failed")),
    Cancelled(t=5.0, reason="asked to stop", result=RunResult(status="cancelled")),
    Interrupted(t=6.0, reason="SIGINT", result=RunResult(status="interrupted", history=[])),
]


def test_samples_cover_every_event_type():
    assert {e.type for e in SAMPLES} == set(EVENT_TYPES)
    assert TERMINAL_TYPES == {"finished", "failed", "cancelled", "interrupted"}
    assert TERMINAL_TYPES <= set(EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=[f"{e.type}-{i}" for i, e in enumerate(SAMPLES)])
def test_round_trip_through_json(event):
    line = event.to_json()
    assert "\n" not in line
    data = json.loads(line)
    assert data["type"] == event.type
    back = event_from_json(line)
    assert type(back) is type(event)
    assert back == event
    assert back.to_dict() == event.to_dict() == data


def test_defaults_round_trip():
    for cls in EVENT_TYPES.values():
        ev = cls()
        assert event_from_json(ev.to_json()) == ev


def test_numpy_values_in_metrics_and_result_serialise():
    ev = Progress(t=np.float64(1.5), step=3, metrics={
        "f32": np.float32(0.5), "f64": np.float64(0.25), "i64": np.int64(7), "u8": np.uint8(255),
        "b": np.bool_(True), "vec": np.arange(3), "mat": np.eye(2, dtype=np.float32),
        "nested": {"deep": [np.int32(1), np.array([1.5])]},
    })
    data = json.loads(ev.to_json())
    assert data["t"] == 1.5
    assert data["metrics"] == {"f32": 0.5, "f64": 0.25, "i64": 7, "u8": 255, "b": True,
                               "vec": [0, 1, 2], "mat": [[1.0, 0.0], [0.0, 1.0]],
                               "nested": {"deep": [1, [1.5]]}}
    assert type(data["metrics"]["i64"]) is int and type(data["metrics"]["b"]) is bool

    fin = Finished(t=1.0, result=RunResult.from_dict({
        "confusion_matrix": np.array([[2, 0], [1, 3]], np.int64),
        "accuracy": np.float64(0.75), "run_dir": Path("/runs/r1")}))
    back = event_from_json(fin.to_json())
    assert isinstance(back, Finished) and back.result is not None
    assert back.result.confusion_matrix == [[2, 0], [1, 3]]
    assert back.result.run_dir == "/runs/r1"
    assert back.result.extra == {"accuracy": 0.75}
    assert type(back.result.extra["accuracy"]) is float


def test_compact_json():
    assert Log(t=1.0, message="m").to_json() == (
        '{"type":"log","t":1.0,"message":"m","level":"info"}')


def test_unknown_type_is_a_value_error():
    with pytest.raises(ValueError, match="unknown event type 'teleported'"):
        event_from_json('{"type": "teleported", "t": 1.0}')
    with pytest.raises(ValueError, match="unknown event type None"):
        event_from_dict({"t": 1.0})
    with pytest.raises(ValueError):
        event_from_dict({"type": "event"})              # the base class is not an event type


def test_unknown_extra_keys_are_ignored():
    ev = event_from_json('{"type":"log","t":2.0,"message":"hi","level":"error",'
                         '"colour":"red","future":{"x":1}}')
    assert ev == Log(t=2.0, message="hi", level="error")
    assert not hasattr(ev, "colour")


def test_missing_keys_take_defaults():
    assert event_from_dict({"type": "epoch", "epoch": 4}) == Epoch(epoch=4)


def test_throttle():
    th = Throttle(per_second=0.001)                     # one call per 1000 s
    assert th.ready() is True                           # the first call is allowed
    assert th.ready() is False                          # an immediate second is not
    assert th.ready() is False
    assert th.ready(force=True) is True                 # forced: always
    assert th.ready() is False                          # and a forced call restarts the clock
    assert Throttle(4.0).interval == 0.25


def test_throttle_allows_again_after_the_interval():
    th = Throttle(per_second=50)                        # one call per 20 ms
    assert th.ready()
    assert not th.ready()
    time.sleep(0.03)
    assert th.ready()
