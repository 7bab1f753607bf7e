"""A smoke test of `benchmarks/backends.py`: the CNN on every Keras backend, small (digits, 400
images, 1 epoch, seed 0), through the real CLI. Timings are not judged here (speed belongs to the
benchmark itself): that the table has one row per backend with real numbers, that its JSON says
the same, and that a backend that is not installed (PyTorch in CI) is a skipped row, not an
error. Where torch is importable it runs like the others."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import patient

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "backends.py"
HAS_TORCH = importlib.util.find_spec("torch") is not None
ASKED = ["tensorflow", "jax", "torch"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The script's small run, once for the module: its JSON, the table as printed (cells by
    backend) and the exit code."""
    folder = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in os.environ.items()
           if k not in ("MNIST_TUI_REAL_MNIST", "MNIST_TUI_REAL_MNIST_FULL")}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dataset", "digits",
                           "--samples", "400", "--epochs", "1", "--eval-samples", "300",
                           "--seeds", "0", "--backends", ",".join(ASKED),
                           "--out", str(folder / "out"), "--runs-dir", str(folder / "runs")],
                          env=env, capture_output=True, text=True, timeout=patient(150),
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads((folder / "out" / "backends.json").read_text(encoding="utf-8"))
    lines = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    data["cells"] = {cells[0]: dict(zip(header, cells, strict=True)) for cells in
                     ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])}
    data["stdout"] = proc.stdout
    data["md"] = (folder / "out" / "backends.md").read_text(encoding="utf-8")
    return data


def ran(bench: dict[str, Any]) -> list[str]:
    return ["tensorflow", "jax", *(["torch"] if HAS_TORCH else [])]


def test_one_row_per_backend_with_real_numbers(bench: dict[str, Any]) -> None:
    assert [r["backend"] for r in bench["rows"]] == ASKED
    assert list(bench["cells"]) == ASKED
    by = {r["backend"]: r for r in bench["rows"]}
    for b in ran(bench):
        row = by[b]
        assert row["status"] == "ran", row
        assert row["seeds"] == [0] and len(row["accuracies"]) == 1
        assert 0 < row["mean_accuracy"] <= 1
        assert row["seconds_per_epoch"] > 0 and row["training_s"] >= row["seconds_per_epoch"]
        assert row["importing_s"] > 0 and row["load"] >= 0
        assert row["described"].startswith(f"{b} (")            # the result's details.backend
        assert row["sd"] is None                                  # one seed: no spread
        assert row["verdict"] is None                             # digits: shown, not judged
    assert by["tensorflow"]["diff_points"] == 0
    assert by["jax"]["diff_points"] == pytest.approx(
        (by["jax"]["mean_accuracy"] - by["tensorflow"]["mean_accuracy"]) * 100)
    assert "PASS" not in bench["stdout"] and "FAIL" not in bench["stdout"]


def test_json_matches_the_printed_table(bench: dict[str, Any]) -> None:
    assert bench["table"] in bench["stdout"] and bench["table"] in bench["md"]
    for row in bench["rows"]:
        cells = bench["cells"][row["backend"]]
        if row["status"] != "ran":
            continue
        assert cells["mean accuracy"] == f"{row['mean_accuracy']:.4f}"
        assert cells["accuracy per seed"] == f"0: {row['accuracies'][0]:.4f}"
        assert cells["s/epoch"] == f"{row['seconds_per_epoch']:.1f}"
        assert cells["training s"] == f"{row['training_s']:.1f}"
        assert cells["importing s"] == f"{row['importing_s']:.1f}"
        assert cells["vs TensorFlow (pt)"] == f"{row['diff_points']:+.2f}"
    runs = {r["backend"]: r for r in bench["runs"]}
    assert sorted(runs) == sorted(ran(bench))
    for b, run in runs.items():                     # every run's full result is kept
        assert run["rc"] == 0 and run["result"]["spec"]["backend"] == b
        assert run["result"]["spec"]["epochs"] == 1
        assert run["result"]["dataset"]["n_samples"] == 400 and run["n_eval"] == 300
        assert run["epoch_seconds"] == [h["seconds"] for h in run["result"]["history"]]
    assert bench["settings"]["judged"] is False


def test_a_backend_not_installed_is_a_skipped_row(bench: dict[str, Any]) -> None:
    torch_row = next(r for r in bench["rows"] if r["backend"] == "torch")
    if HAS_TORCH:
        assert torch_row["status"] == "ran" and "torch" not in bench["skipped"]
    else:
        assert torch_row["status"].startswith("skipped: --backend torch: PyTorch is not "
                                              "installed")
        assert bench["cells"]["torch"]["status"] == torch_row["status"]
        assert bench["cells"]["torch"]["mean accuracy"] == "—"
