"""Benchmark: the CNN on every Keras backend (TensorFlow, JAX, PyTorch), side by side in one run
through the real CLI.

    python benchmarks/backends.py [--data-dir DIR | --dataset digits] [--backends LIST]
                                  [--seeds 0,1,2] [--samples N] [--epochs N]
                                  [--eval-samples N] [--out DIR] [--runs-dir DIR]

Each run is `mnist-tui --batch --job cnn --backend B --json -` in its own process, on the
standard protocol by default: the whole MNIST from --data-dir (default
$MNIST_TUI_REAL_MNIST_FULL), trained on the 60,000 training images (less validation), scored on
the 10,000 test images. Runs alternate backends (seed 0: tensorflow, jax, torch; seed 1: …) so
that the machine's noise spreads evenly over them. --backends defaults to every installed one
of tensorflow, jax, torch; one that is not installed is listed as skipped, not run.

One markdown table, a row per backend:
- accuracy: the test accuracy of each seed and their mean, sd (sample standard deviation);
- vs TensorFlow: the mean's difference to TensorFlow's mean, in points, and PASS/FAIL against
  the tolerance of 0.2 points; with --dataset digits the difference is shown, not judged;
- s/epoch: the mean of the runs' `history[*].seconds` (the first epoch carries tracing and
  compilation: JAX and PyTorch compile there); training s and importing s: the runs' phases
  (`timings.training`, `timings.importing`), means over the seeds;
- load: the 1-minute load average while the runs ran (sampled every 2 s, mean): on a shared
  machine timings are only comparable within one run, and only at a similar load.
--out DIR writes the table (backends.md) and every run's full result (backends.json) there.
Options for a smaller run: --samples, --epochs, --eval-samples, --dataset digits.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mnist_tui.engine.jobs.backends import BACKENDS, missing_message

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE_POINTS = 0.2
REFERENCE = "tensorflow"
LOAD_EVERY_S = 2.0


class LoadSampler:
    """The 1-minute load average, sampled every `interval` s while the `with` block runs."""

    def __init__(self, interval: float = LOAD_EVERY_S) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LoadSampler:
        self.samples.append(os.getloadavg()[0])
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append(os.getloadavg()[0])

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples)


@dataclass
class Run:
    """One `mnist-tui --batch` run: what it was and what its result said."""

    backend: str
    seed: int
    rc: int
    wall_s: float
    load_mean: float
    load_before: float
    load_after: float
    accuracy: float | None = None
    epoch_seconds: list[float] = field(default_factory=list)
    training_s: float | None = None
    importing_s: float | None = None
    n_eval: int | None = None
    backend_described: str | None = None
    error: str | None = None
    result: dict[str, Any] | None = None


@dataclass
class Row:
    """One backend's line of the table (means over its finished runs)."""

    backend: str
    status: str                         # "ran" | "skipped: …" | "failed: …"
    described: str | None = None        # "jax (JAX 0.10.2, Keras 3.15.1)"
    seeds: list[int] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)
    mean_accuracy: float | None = None
    sd: float | None = None
    diff_points: float | None = None    # mean − TensorFlow's mean, in points
    verdict: str | None = None          # PASS | FAIL | None (not judged)
    seconds_per_epoch: float | None = None
    training_s: float | None = None
    importing_s: float | None = None
    load: float | None = None


def cli_args(a: argparse.Namespace, backend: str, seed: int) -> list[str]:
    """The CLI's arguments for one run."""
    data = (["--dataset", "digits"] if a.dataset == "digits"
            else ["--dataset", "mnist", "--data-dir", a.data_dir])
    extra: list[str] = []
    for flag, value in (("--samples", a.samples), ("--epochs", a.epochs),
                        ("--eval-samples", a.eval_samples)):
        if value is not None:
            extra += [flag, str(value)]
    return ["--batch", "--job", "cnn", "--backend", backend, "--seed", str(seed), *data, *extra]


def run_one(a: argparse.Namespace, backend: str, seed: int, runs_dir: str) -> Run:
    """One run in its own worker (the real CLI, `--json -`), the load sampled while it ran."""
    cmd = [sys.executable, "-m", "mnist_tui", *cli_args(a, backend, seed),
           "--runs-dir", runs_dir, "--json", "-"]
    t = time.perf_counter()
    with LoadSampler() as load:
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    run = Run(backend=backend, seed=seed, rc=out.returncode, wall_s=time.perf_counter() - t,
              load_mean=load.mean, load_before=load.samples[0], load_after=load.samples[-1])
    try:
        result = json.loads(out.stdout) if out.stdout.strip() else None
    except ValueError:
        result = None
    if out.returncode != 0 or not isinstance(result, dict) or result.get("status") != "finished":
        tail = out.stderr.strip().splitlines()[-3:]
        run.error = f"exit {out.returncode}: " + " / ".join(tail)
        run.result = result
        return run
    run.result = result
    run.accuracy = float(result["metrics"]["accuracy"])
    run.n_eval = result["metrics"].get("n_eval")
    run.epoch_seconds = [float(h["seconds"]) for h in result.get("history", [])
                         if h.get("seconds") is not None]
    timings = result.get("timings", {})
    run.training_s = timings.get("training")
    run.importing_s = timings.get("importing")
    run.backend_described = result.get("details", {}).get("backend")
    return run


def mean_of(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return statistics.fmean(got) if got else None


def summarise(backends: list[str], skipped: dict[str, str], runs: list[Run],
              judged: bool) -> list[Row]:
    """A row per backend, in the order asked; the TensorFlow mean is the reference."""
    rows: list[Row] = []
    for b in backends:
        if b in skipped:
            rows.append(Row(backend=b, status=f"skipped: {skipped[b]}"))
            continue
        mine = [r for r in runs if r.backend == b]
        done = [r for r in mine if r.accuracy is not None]
        failed = [r for r in mine if r.accuracy is None]
        row = Row(backend=b, status="ran" if not failed else
                  "failed: " + "; ".join(f"seed {r.seed} {r.error}" for r in failed))
        row.described = next((r.backend_described for r in done if r.backend_described), None)
        row.seeds = [r.seed for r in done]
        row.accuracies = [r.accuracy for r in done if r.accuracy is not None]
        if row.accuracies:
            row.mean_accuracy = statistics.fmean(row.accuracies)
            row.sd = statistics.stdev(row.accuracies) if len(row.accuracies) > 1 else None
        row.seconds_per_epoch = mean_of([s for r in done for s in r.epoch_seconds])
        row.training_s = mean_of([r.training_s for r in done])
        row.importing_s = mean_of([r.importing_s for r in done])
        row.load = mean_of([r.load_mean for r in mine])
        rows.append(row)
    ref = next((r.mean_accuracy for r in rows if r.backend == REFERENCE), None)
    for row in rows:
        if row.mean_accuracy is None or ref is None:
            continue
        row.diff_points = (row.mean_accuracy - ref) * 100
        if judged and not row.status.startswith("failed"):
            row.verdict = "PASS" if abs(row.diff_points) <= TOLERANCE_POINTS else "FAIL"
    return rows


def num(value: float | None, fmt: str = ".1f") -> str:
    return "—" if value is None else format(value, fmt)


HEADER = ("backend", "accuracy per seed", "mean accuracy", "sd", "vs TensorFlow (pt)",
          "s/epoch", "training s", "importing s", "load", "status")


def table(rows: list[Row]) -> str:
    """The markdown table (the same numbers as the JSON's rows, as printed)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    for r in rows:
        if r.status.startswith("skipped"):
            lines.append(f"| {r.backend} |" + " — |" * (len(HEADER) - 2) + f" {r.status} |")
            continue
        per_seed = ", ".join(f"{s}: {a:.4f}" for s, a in zip(r.seeds, r.accuracies, strict=True))
        diff = "—" if r.diff_points is None else f"{r.diff_points:+.2f}"
        if r.verdict and r.backend != REFERENCE:
            diff += f" {r.verdict}"
        lines.append(f"| {r.backend} | {per_seed or '—'} | {num(r.mean_accuracy, '.4f')} | "
                     f"{num(r.sd, '.4f')} | {diff} | {num(r.seconds_per_epoch)} | "
                     f"{num(r.training_s)} | {num(r.importing_s)} | {num(r.load)} | "
                     f"{r.status} |")
    return "\n".join(lines)


def parse_backends(text: str | None) -> tuple[list[str], dict[str, str]]:
    """(backends in order, backend → why it is skipped); default: every installed one."""
    if not text:
        chosen = [b for b in BACKENDS if missing_message(b) is None]
        return chosen, {}
    chosen = [b.strip() for b in text.split(",") if b.strip()]
    unknown = [b for b in chosen if b not in BACKENDS]
    if unknown:
        raise SystemExit(f"error: unknown backend(s) {', '.join(unknown)} "
                         f"(choose from {', '.join(BACKENDS)})")
    skipped = {b: msg for b in chosen if (msg := missing_message(b))}
    return chosen, skipped


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("MNIST_TUI_REAL_MNIST_FULL"),
                    help="the whole MNIST (default $MNIST_TUI_REAL_MNIST_FULL)")
    ap.add_argument("--dataset", choices=("mnist", "digits"), default="mnist",
                    help="digits: scikit-learn's 8×8 digits, differences shown, not judged")
    ap.add_argument("--backends", help="comma-separated (default: every installed one of "
                                       + ", ".join(BACKENDS) + ")")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated (default 0,1,2)")
    ap.add_argument("--samples", type=int)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--eval-samples", type=int)
    ap.add_argument("--out", help="folder for backends.md (the table) and backends.json")
    ap.add_argument("--runs-dir", help="where the runs are recorded (default: a temporary one)")
    a = ap.parse_args()
    if a.dataset == "mnist" and not (a.data_dir and Path(a.data_dir).exists()):
        raise SystemExit("error: no data: pass --data-dir (the whole MNIST), set "
                         "MNIST_TUI_REAL_MNIST_FULL or use --dataset digits")
    seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    backends, skipped = parse_backends(a.backends)
    for b, why in skipped.items():
        print(f"{b}: skipped: {why}", file=sys.stderr, flush=True)
    to_run = [b for b in backends if b not in skipped]
    judged = a.dataset == "mnist"

    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-backends-") as tmp:
        runs_dir = a.runs_dir or tmp
        for seed in seeds:                  # alternating: every backend once per seed
            for b in to_run:
                r = run_one(a, b, seed, runs_dir)
                runs.append(r)
                what = (f"accuracy {r.accuracy:.4f}, {num(mean_of(list(r.epoch_seconds)))} "
                        f"s/epoch, training {num(r.training_s)} s"
                        if r.accuracy is not None else r.error)
                print(f"{b} seed {seed}: {what} (wall {r.wall_s:.0f} s, load "
                      f"{r.load_before:.1f}→{r.load_after:.1f})", file=sys.stderr, flush=True)

    rows = summarise(backends, skipped, runs, judged)
    text = table(rows)
    n_evals = sorted({r.n_eval for r in runs if r.n_eval is not None})
    settings = {"dataset": a.dataset, "data_dir": a.data_dir if judged else None,
                "seeds": seeds, "samples": a.samples, "epochs": a.epochs,
                "eval_samples": a.eval_samples, "judged": judged,
                "tolerance_points": TOLERANCE_POINTS, "cores": os.cpu_count()}
    notes = [f"{os.cpu_count()} CPU cores; seeds {', '.join(map(str, seeds))}; scored on "
             f"{', '.join(f'{n:,}' for n in n_evals) or '—'} images; "
             + (f"PASS: within {TOLERANCE_POINTS} points of TensorFlow's mean" if judged
                else "differences shown, not judged (--dataset digits)")]
    if any(v is not None for v in (a.samples, a.epochs, a.eval_samples)):
        notes.append("not the standard protocol's defaults: "
                     + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in
                                 (("samples", a.samples), ("epochs", a.epochs),
                                  ("eval_samples", a.eval_samples)) if v is not None))
    described = [f"{r.backend}: {r.described}" for r in rows if r.described]
    if described:
        notes.append("; ".join(described))
    print(text)
    print()
    for line in notes:
        print(line)
    if a.out:
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "backends.md").write_text(text + "\n\n" + "\n".join(notes) + "\n",
                                         encoding="utf-8")
        (out / "backends.json").write_text(json.dumps(
            {"settings": settings, "skipped": skipped, "rows": [asdict(r) for r in rows],
             "runs": [asdict(r) for r in runs], "table": text, "notes": notes}, indent=1),
            encoding="utf-8")
    return 1 if any(r.accuracy is None for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
