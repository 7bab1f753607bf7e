"""Helpers for the TUI tests: the screen as text, waiting on live jobs, recorded runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

from support import (
    closed_port_url,  # noqa: F401 - the TUI conftest takes it from here
    patient,
    screen_text,  # noqa: F401 - the TUI tests take it from here
)

FIXTURES = Path(__file__).parent / "fixtures"


def widget_text(app, selector: str) -> str:
    """A Static's content as plain text, visible or scrolled away."""
    return str(app.screen.query_one(selector).render())


async def wait_for(pilot, predicate, timeout: float = 30.0, step: float = 0.1) -> None:
    """Let the app run until `predicate()` holds (a live job, a thread worker); fail after
    `patient(timeout)` seconds."""
    timeout = patient(timeout)
    deadline = time.monotonic() + timeout

    def holds() -> bool:
        try:
            return bool(predicate())
        except Exception:  # noqa: BLE001 - e.g. the screen is not built yet
            return False

    while not holds():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}\n"
                                 + screen_text(pilot.app))
        await pilot.pause(step)


async def wait_for_text(pilot, *needles: str, timeout: float = 10.0) -> str:
    """Let the app run until the screen shows every one of `needles`; returns the screen text.
    Then a plain `pilot.pause()`: the messages already queued (a last refresh) are handled."""
    await wait_for(pilot, lambda: all(n in screen_text(pilot.app) for n in needles), timeout)
    await pilot.pause()
    return screen_text(pilot.app)


def install_recorded_run(runs_dir: Path, name: str = "tsne-gmm") -> str:
    """Copy a recorded run (tests/tui/fixtures/<name>) into `runs_dir`; returns its run id."""
    src = FIXTURES / name
    run_id = json.loads((src / "meta.json").read_text())["run_id"]
    dst = runs_dir / run_id
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return run_id


def write_classifier_run(runs_dir: Path, run_id: str = "20260101-130000-cnn-bbb222") -> str:
    """A recorded CNN run on the bundled digits (events, result) written the way the worker does."""
    from mnist_tui.engine.data.datasets import load_digits
    from mnist_tui.engine.jobs.events import (
        Epoch,
        Finished,
        Log,
        ModelSummary,
        Phase,
        Progress,
        Started,
    )
    from mnist_tui.engine.jobs.results import RunResult

    ds = load_digits()
    spec = {"job": "cnn", "preset": "default", "dataset": "digits", "data_dir": None,
            "split": "train", "samples": 1000, "subset_seed": 0, "seed": 0,
            "val_fraction": 0.1, "eval_samples": None, "epochs": 5, "batch_size": 64,
            "optimizer": "adam", "lr": 0.001, "dropout": 0.3, "tensorboard": None,
            "strategy": "none"}
    history = [{"epoch": e, "loss": round(1.6 / e, 4), "accuracy": round(0.70 + 0.05 * e, 4),
                "val_loss": round(1.7 / e + 0.05, 4), "val_accuracy": round(0.68 + 0.05 * e, 4),
                "seconds": 2.0} for e in range(1, 6)]
    matrix = [[78 if i == j else 0 for j in range(10)] for i in range(10)]
    wrong = [(3, 8), (5, 9), (8, 1), (9, 5), (1, 7), (4, 9), (7, 2), (2, 8)]
    labels = ds.splits["train"].labels
    misclassified = []
    for t, p in wrong:
        index = int(next(i for i in range(len(labels)) if labels[i] == t and
                         i not in {m["index"] for m in misclassified}))
        misclassified.append({"index": index, "true": t, "pred": p})
        matrix[t][t] -= 1
        matrix[t][p] += 1
    layers = [{"name": "conv2d", "class": "Conv2D", "output_shape": "(None, 8, 8, 32)",
               "params": 320, "trainable": True},
              {"name": "max_pooling2d", "class": "MaxPooling2D", "output_shape": "(None, 4, 4, 32)",
               "params": 0, "trainable": True},
              {"name": "flatten", "class": "Flatten", "output_shape": "(None, 512)",
               "params": 0, "trainable": True},
              {"name": "dense", "class": "Dense", "output_shape": "(None, 10)",
               "params": 5130, "trainable": True}]
    result = {
        "status": "finished", "job": "cnn", "preset": "default", "seed": 0, "subset_seed": 0,
        "run_id": run_id, "run_dir": f"/runs/{run_id}", "rerun_of": None, "spec": spec,
        "started_at": "2026-01-01T13:00:00+0000", "finished_at": "2026-01-01T13:00:12+0000",
        "dataset": {**ds.describe(), "n_samples": 1000, "available": 1797},
        "metrics": {"accuracy": 0.9897, "loss": 0.05, "eval_split": "held-out digits train "
                    "images not chosen (780 images)", "n_eval": 780,
                    "per_class_precision": None, "per_class_recall": None},
        "confusion_matrix": matrix, "history": history, "misclassified": misclassified,
        "misclassified_total": len(misclassified), "misclassified_pool": "train",
        "timings": {"loading": 1.2, "training": 10.0, "evaluation": 0.4, "total": 11.9},
    }
    events = [Started(t=0.0, job="cnn", run_id=run_id, spec=spec, pid=1),
              Phase(t=0.01, name="loading", message="loading the dataset"),
              Log(t=1.2, message="dataset digits: train 1,797"),
              ModelSummary(t=1.5, layers=layers, trainable_params=5450, frozen_params=0),
              Phase(t=1.6, name="training", message="training 5 epochs")]
    for h in history:
        e = h["epoch"]
        events.append(Progress(t=1.6 + 2 * e - 1, phase="training", step=7, total=15,
                               message=f"epoch {e}/5", metrics={"loss": h["loss"],
                               "accuracy": h["accuracy"], "images_per_s": 450.0}, eta=2.0))
        events.append(Epoch(t=1.6 + 2 * e, epoch=e, epochs=5, seconds=2.0,
                            metrics={k: v for k, v in h.items() if k not in ("epoch", "seconds")}))
    events.append(Finished(t=12.0, result=RunResult.from_dict(result)))
    run_dir = Path(runs_dir) / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "spec.json").write_text(json.dumps(spec))
    (run_dir / "meta.json").write_text(json.dumps({"run_id": run_id, "created":
                                                   "2026-01-01T13:00:00+0000", "pid": 1}))
    (run_dir / "result.json").write_text(json.dumps(result))
    (run_dir / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    return run_id


def replay_job(runs_dir: Path, run_id: str, upto: float | None = None, state: str = "running"):
    """A monitor `Job` rebuilt from a recorded run's events (up to event time `upto`)."""
    from mnist_tui.engine.jobs.events import TERMINAL_TYPES, event_from_dict
    from mnist_tui.tui.jobs import Job

    run_dir = Path(runs_dir) / run_id
    spec = json.loads((run_dir / "spec.json").read_text())
    job = Job(run_id, spec, run_dir, state="running")
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        ev = event_from_dict(json.loads(line))
        if upto is not None and ev.t > upto:
            break
        if ev.type in TERMINAL_TYPES and state != "finished":
            break
        job.apply(ev)
    if state != "finished":
        job.state = state
    return job


# Rows 0-4 of 1,000 images of digits 0-4 with mistakes of every size (0.1 %, 2 %, 8 %, 25 %,
# 61 % of the row), rows 5-9 without one: a confusion matrix that shows every heat-map level.
MISTAKE_SIZES = (1, 20, 80, 250, 614)


def mistakes_matrix() -> list[list[int]]:
    matrix = []
    for i, wrong in enumerate(MISTAKE_SIZES):
        row = [0] * 10
        row[i] = 1000 - wrong
        row[i + 5] = wrong
        matrix.append(row)
    for i in range(5, 10):
        row = [0] * 10
        row[i] = 1000
        matrix.append(row)
    return matrix


def step_points(steps: int) -> list:
    """The Progress events of a 1-epoch run whose `steps` batches each gave a point of the
    per-step curve (loss falling, accuracy rising)."""
    from mnist_tui.engine.jobs.events import Progress

    out = []
    for step in range(1, steps + 1):
        loss, acc = 2.3 - 1.1 * (step / steps) ** 0.5, 0.1 + 0.6 * (step / steps) ** 0.5
        out.append(Progress(t=1.0 + 0.1 * step, phase="training", step=step, total=steps,
                            message="epoch 1/1", metrics={"loss": loss, "accuracy": acc},
                            curve_at=round(step / steps, 6)))
    return out
