"""`scripts/gpu_check.sh --cpu`: the GPU check's own script, run here on the CPU with this venv and
the bundled digits (docs/gpu_check.md), so that it works the first time a GPU appears. Its four
runs (the CNN on torch and on JAX, VGG16 with the feature cache on and off) must each leave a
finished `--json` result on the backend asked for, and `table.md` one row per run with real
numbers. A backend that is not importable here (torch in CI) is a row that says so, not a
failure. TensorFlow is hidden from the runs, as the GPU machine has none. Timings are not judged (a loaded 2-core machine says nothing about a GPU)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import env_without, patient

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu_check.sh"
RUNS = {"cnn-torch": ("cnn", "torch", None), "cnn-jax": ("cnn", "jax", None),
        "vgg16-torch-cache": ("vgg16", "torch", "on"),
        "vgg16-torch-nocache": ("vgg16", "torch", "off")}
if importlib.util.find_spec("torch") is None:    # the script runs VGG16 on JAX then
    RUNS = {**{k: v for k, v in RUNS.items() if k.startswith("cnn")},
            "vgg16-jax-cache": ("vgg16", "jax", "on"), "vgg16-jax-nocache": ("vgg16", "jax", "off")}


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items()
           if k not in ("MNIST_TUI_DATA_DIR", "MNIST_TUI_RUNS_DIR")}
    out["PYTHON"] = sys.executable       # this venv, whatever the repo's .venv is
    return out


@pytest.fixture(scope="module")
def check(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The check's runs, on a Python that cannot import TensorFlow (as on the GPU machine, which
    has none): nothing on the JAX or torch path may need it."""
    folder = tmp_path_factory.mktemp("gpucheck")
    out = folder / "out"
    proc = subprocess.run(["bash", str(SCRIPT), str(out), "--cpu",
                           "--runs-dir", str(folder / "runs")],
                          env=env_without(folder / "no-tensorflow", env(), "tensorflow",
                                          "tensorboard"), capture_output=True,
                          text=True, timeout=patient(600), check=False)
    table = (out / "table.md").read_text(encoding="utf-8") if (out / "table.md").exists() else ""
    rows = {}
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    head = [c.strip() for c in lines[0].strip("|").split("|")] if lines else []
    for line in lines[1:]:
        cells = dict(zip(head, (c.strip() for c in line.strip("|").split("|"))))
        rows[cells["run"]] = cells
    return {"proc": proc, "out": out, "rows": rows}


def test_every_run_finishes_on_its_backend_with_a_result(check: dict[str, Any]) -> None:
    proc = check["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name, (job, backend, cache) in RUNS.items():
        row = check["rows"][name]
        assert (row["job"], row["backend"]) == (job, backend)
        if importlib.util.find_spec(backend) is None:
            assert row["status"] == f"{backend}: not installed"
            assert not (check["out"] / f"{name}.json").exists()
            continue
        result = json.loads((check["out"] / f"{name}.json").read_text(encoding="utf-8"))
        assert result["status"] == "finished"
        assert result["job"] == job
        assert result["spec"]["backend"] == backend
        assert result["details"]["backend"].startswith(backend + " (")
        assert isinstance(result["system"], dict)
        assert result["system"]["gpus"] == [] or result["system"]["gpus"][0]["name"]
        assert row["status"] == "finished"
        assert row["device"] == "CPU"
        assert row["epochs"] == "1" == str(len(result["history"]))
        assert row["test acc"] == f"{result['metrics']['accuracy']:.4f}"
        assert 0.3 < float(row["test acc"]) <= 1.0         # 10 classes: chance is 0.1
        assert 0 < float(row["s/epoch"]) <= float(row["total s"])
        assert float(row["total s"]) == pytest.approx(result["timings"]["total"], abs=0.051)
        if cache is not None:
            assert row["cache"] == cache
            assert result["spec"]["feature_cache"] is (cache == "on")


def test_the_table_has_one_row_per_run_and_the_machine_is_recorded(
        check: dict[str, Any]) -> None:
    assert sorted(check["rows"]) == sorted(RUNS)
    system = (check["out"] / "system.txt").read_text(encoding="utf-8")
    assert "mode: cpu" in system
    assert "system line: CPU" in system           # the batch's own system line, NVML or not
    log = (check["out"] / "log.txt").read_text(encoding="utf-8")
    assert all(f"== {name}: exit 0" in log for name in RUNS
               if importlib.util.find_spec(RUNS[name][1]) is not None)


def test_the_gpu_check_refuses_to_start_without_the_whole_mnist(tmp_path: Path) -> None:
    proc = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "out")], env=env(),
                          capture_output=True, text=True, timeout=patient(120), check=False)
    assert proc.returncode == 2
    assert "error: the GPU check needs the whole MNIST" in proc.stderr
    assert not list((tmp_path / "out").glob("*.json"))
