"""One progress model for the live Monitor and a replayed run, folded from recorded events.

The fixtures are real runs (`fixtures/<job>/`, recorded with `mnist-tui --batch` on the bundled
digits): a t-SNE + GMM on 200 images (260 iterations) and a CNN on 300 images (3 epochs).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mnist_tui.engine.jobs.events import Event, Phase, Progress, event_from_dict
from mnist_tui.engine.runs.progress import RunProgress, replay
from mnist_tui.engine.runs.store import RunStore
from mnist_tui.engine.runs.view import load_run_view

FIXTURES = Path(__file__).parent / "fixtures"


def recorded(name: str) -> list[Event]:
    lines = (FIXTURES / name / "events.jsonl").read_text().splitlines()
    return [event_from_dict(json.loads(line)) for line in lines]


def phases(events: list[Event]) -> list[str]:
    return [ev.name for ev in events if isinstance(ev, Phase)]


# -- a clustering run --------------------------------------------------------------------------

def test_a_recorded_clustering_run_folds_to_its_phases_kl_curve_and_last_snapshot():
    events = recorded("tsne-gmm")
    assert phases(events) == ["loading", "sampling", "preprocess", "pca", "tsne", "gmm",
                              "scoring"]
    p = replay(events, job="tsne-gmm")
    assert p.events_seen == 36
    # one KL point per reported step; the first progress (step 0, affinities) has no KL
    assert [s for s, _ in p.kl] == [25, 50, 75, 100, 125, 155, 180, 205, 230, 255, 260]
    assert p.kl[0] == (25, 1.8187365476033945) and p.kl[-1] == (260, 0.8440762877042786)
    assert p.snapshot is not None and p.snapshot["iteration"] == 260 and p.snapshot_count == 11
    assert len(p.snapshot["points"]) == len(p.snapshot["labels"]) == 200
    assert p.snapshot["points"][0] == [2.85, -0.21] and p.snapshot["labels"][:3] == [4, 8, 3]
    # the end: its last phase had no measure, the clock stopped at the terminal event
    assert (p.phase, p.step, p.total, p.share()) == ("scoring", 0, None, None)
    assert p.ended_t == p.elapsed(10_000.0) == 13.1929
    assert p.result is not None and p.result.status == "finished"
    assert p.result.headline().value == 0.695
    assert p.epochs == [] and p.history() == [] and p.model_summary is None
    assert [level for level, _ in p.logs] == ["info", "info", "warning"]
    assert p.logs[-1][1].startswith("deskewing skipped: 8×8 images are too small")


def test_a_clustering_run_replayed_to_mid_t_sne_has_its_rate_and_eta_from_event_stamps():
    p = replay(recorded("tsne-gmm"), job="tsne-gmm", upto=6.1)
    assert (p.phase, p.step, p.total) == ("tsne", 100, 260)
    assert p.phase_message == "2-D t-SNE (opentsne), perplexity 30, 260 iterations"
    assert p.progress_message == "early exaggeration"
    assert p.metrics == {"kl_divergence": 1.8187365479300266}
    # the series began with the step-0 progress at 1.3733 s; the latest event (a snapshot)
    # is at 6.0253 s: the worker gave no ETA, so it is the pace so far
    rate = 100 / (6.0253 - 1.3733)
    assert p.rate() == pytest.approx(rate)
    assert p.phase_eta() == p.remaining() == pytest.approx(160 / rate)
    assert p.share() == pytest.approx(100 / 260)
    assert p.epoch_progress() is None                # t-SNE has no epochs
    assert p.elapsed(0.0) == 6.0253                  # replayed: the recorded clock
    assert p.in_phase(0.0) == pytest.approx(6.0253 - 1.3592)
    assert p.ended_t is None and p.result is None


# -- a classifier --------------------------------------------------------------------------------

CNN_HISTORY = [
    {"epoch": 1, "accuracy": 0.27407407760620117, "loss": 2.329519748687744,
     "val_accuracy": 0.20000000298023224, "val_loss": 2.250964641571045},
    {"epoch": 2, "accuracy": 0.6074073910713196, "loss": 1.4803894758224487,
     "val_accuracy": 0.9333333373069763, "val_loss": 0.7926119565963745},
    {"epoch": 3, "accuracy": 0.7037037014961243, "loss": 1.182064175605774,
     "val_accuracy": 0.9333333373069763, "val_loss": 0.8231346011161804},
]


def test_a_recorded_classifier_folds_to_its_epochs_model_and_result():
    events = recorded("cnn")
    assert phases(events) == ["loading", "importing", "building", "training", "evaluation"]
    p = replay(events, job="cnn", planned_epochs=3)
    assert p.history() == CNN_HISTORY
    assert [(e.epoch, e.epochs, e.seconds) for e in p.epochs] == [(1, 3, 3.056), (2, 3, 0.147),
                                                                  (3, 3, 0.103)]
    assert p.model_summary is not None and len(p.model_summary["layers"]) == 18
    assert p.model_summary["layers"][-1]["name"] == "predictions"
    assert (p.model_summary["trainable_params"], p.model_summary["frozen_params"]) == \
        (640778, 1024)
    assert (p.phase, p.step, p.total, p.share()) == ("evaluation", 1497, 1497, 1.0)
    assert p.epoch_progress() is None                # evaluating: no longer training
    assert p.ended_t == 11.4119 and p.result is not None
    assert p.result.headline().value == pytest.approx(0.9031396125584502)
    assert p.kl == [] and p.snapshot is None


def test_before_its_first_epoch_ends_a_classifier_s_eta_is_the_worker_s():
    p = replay(recorded("cnn"), job="cnn", planned_epochs=3, upto=9.9)
    assert p.epoch_progress() == (1, 3, pytest.approx((1 / 5) / 3))
    assert p.remaining() == 36.6 and p.progress_message == "epoch 1/3"
    assert p.metrics == {"accuracy": 0.078125, "loss": 2.753035068511963, "images_per_s": 24.5}


def test_after_an_epoch_a_classifier_s_eta_is_the_epochs_left_at_their_mean_time():
    p = replay(recorded("cnn"), job="cnn", planned_epochs=3, upto=10.35)   # epoch 2, batch 1/5
    current, epochs, share = p.epoch_progress()
    assert (current, epochs) == (2, 3) and share == pytest.approx((1 + 1 / 5) / 3)
    assert p.share() == share
    assert p.remaining() == pytest.approx((1 - share) * 3 * 3.056)   # not the worker's 4.7
    assert p.phase_eta() == 4.7
    # the epoch count comes from the events once one ended, not from what was planned
    assert replay(recorded("cnn"), job="cnn", planned_epochs=9, upto=10.35).epoch_progress() \
        == (current, epochs, share)


# -- live and replayed: one fold, two clocks ---------------------------------------------------

@pytest.mark.parametrize("name", ["tsne-gmm", "cnn"])
def test_live_and_replayed_folds_agree_event_by_event_but_for_the_clock(name):
    events = recorded(name)
    live = RunProgress(job=name, planned_epochs=3, started_at=1000.0)
    for i, ev in enumerate(events):
        live.apply(ev)
        again = replay(events[: i + 1], job=name, planned_epochs=3)
        for what in ("phase", "phase_message", "step", "total", "progress_message", "eta",
                     "metrics", "kl", "epochs", "snapshot", "model_summary", "last_t",
                     "ended_t", "error"):
            assert getattr(live, what) == getattr(again, what), (i, what)
        assert (live.share(), live.rate(), live.remaining(), live.epoch_progress()) == \
            (again.share(), again.rate(), again.remaining(), again.epoch_progress())
        assert list(live.logs) == list(again.logs)
        if live.ended_t is None:
            # live: the app's clock runs; replayed: the latest event's stamp
            assert live.elapsed(1042.0) == 42.0
            assert again.elapsed(1042.0) == again.last_t
        else:
            assert live.elapsed(5000.0) == again.elapsed(5000.0) == events[-1].t


def test_a_live_run_that_ended_unseen_stops_at_the_app_s_clock():
    live = RunProgress(job="cnn", started_at=100.0)
    live.apply(Phase(t=1.0, name="training"))
    live.ended_at = 130.0        # the worker died without a terminal event
    assert live.elapsed(500.0) == 30.0


@pytest.mark.parametrize("name", ["tsne-gmm", "cnn"])
def test_the_run_view_draws_the_same_fold_as_the_monitor(name, tmp_path):
    run_id = json.loads((FIXTURES / name / "meta.json").read_text())["run_id"]
    shutil.copytree(FIXTURES / name, tmp_path / run_id)
    view = load_run_view(RunStore(tmp_path), run_id)
    live = replay(recorded(name))
    assert view.notes == [] and view.kl == live.kl
    assert view.snapshot == live.snapshot and view.summary == live.model_summary
    # the result's history is the record: the events' epochs and the seconds each took
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in view.history] == \
        live.history()
    if name == "cnn":
        assert [h["seconds"] for h in view.history] == [3.056, 0.147, 0.103]


# -- events anyone can write -----------------------------------------------------------------------

def test_values_of_the_wrong_type_are_left_out_not_raised_nor_drawn():
    lines = [
        {"type": "phase", "t": "soon", "name": 7, "message": None},
        {"type": "progress", "t": 1.0, "phase": "tsne", "step": 25, "metrics": [1, 2]},
        {"type": "progress", "t": 2.0, "phase": "tsne", "step": "x",
         "metrics": {"kl_divergence": 3.0}},
        {"type": "progress", "t": 3.0, "phase": "tsne", "step": 75, "total": "all",
         "metrics": {"kl_divergence": float("nan"), "loss": True}},
        {"type": "progress", "t": 4.0, "phase": "tsne", "step": 100,
         "metrics": {"kl_divergence": 2.5, "note": "x"}},
        {"type": "epoch", "t": 5.0, "epoch": "one", "epochs": "3", "seconds": "2",
         "metrics": {"loss": 0.25, "accuracy": [1]}},
        {"type": "snapshot", "t": 6.0, "iteration": 3, "points": "not a list"},
        {"type": "model_summary", "t": 7.0, "layers": "x", "trainable_params": "many"},
        {"type": "log", "t": 8.0, "message": 5, "level": None},
        {"type": "no such event", "t": 9.0},
        {"type": "finished", "t": float("inf"), "result": ["not", "a", "result"]},
    ]
    p = replay(lines, job="cnn")
    assert p.events_seen == 10                           # the unknown type is not an event
    assert (p.phase, p.phase_message, p.phase_t0) == ("tsne", "", 0.0)
    assert p.kl == [(100, 2.5)] and p.metrics == {"kl_divergence": 2.5}
    assert p.step == 0 and p.total is None               # the epoch reset the batches
    assert p.history() == [{"loss": 0.25}] and p.epochs[0].seconds is None
    assert p.snapshot is None and p.snapshot_count == 0
    assert p.model_summary == {"layers": [], "trainable_params": 0, "frozen_params": 0}
    assert list(p.logs) == [("", "")]
    assert p.result is None and p.ended_t == 8.0         # no stamp: the latest one


def test_a_new_progress_series_restarts_the_rate():
    p = RunProgress(job="vgg16")
    p.apply(Phase(t=1.0, name="download"))
    p.apply(Progress(t=1.0, phase="download", step=0, total=1000))
    p.apply(Progress(t=3.0, phase="download", step=500, total=1000))
    assert p.rate() == 250.0 and p.phase_eta() == 2.0
    p.apply(Progress(t=4.0, phase="download", step=100, total=400))   # the next file
    p.apply(Progress(t=5.0, phase="download", step=300, total=400))
    assert p.rate() == 200.0 and p.phase_eta() == 0.5
