"""`mnist-tui --batch --suite sweep --backends …` end to end: a bad or missing backend is one
`error:` line before anything runs, and a real two-backend suite (TensorFlow and JAX, one tiny
CNN each) reports both backends side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import env_without

SUITE = ["--batch", "--suite", "sweep", "--methods", "cnn", "--sizes", "200", "--seeds", "1",
         "--dataset", "digits", "--epochs", "1", "--eval-samples", "100"]

def _one_error(r) -> str:
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def test_an_unknown_backend_is_one_line_naming_the_choices(cli_env, run_cli):
    line = _one_error(run_cli([*SUITE, "--backends", "tensorflow,nope"], cli_env))
    assert line == ("error: --backends: unknown backend 'nope' (choose from tensorflow, jax, "
                    "torch)")
    line = _one_error(run_cli([*SUITE, "--backends", "jax", "--backend", "torch"], cli_env))
    assert "--backend cannot be used with --backends" in line
    assert not (Path(cli_env["MNIST_TUI_RUNS_DIR"]) / "suites").exists()


def test_a_backend_not_installed_is_refused_before_any_member_runs(cli_env, run_cli, tmp_path):
    env = env_without(tmp_path / "hide", cli_env, "torch")     # as on a machine without it
    line = _one_error(run_cli([*SUITE, "--backends", "tensorflow,torch"], env))
    assert line.startswith("error: cnn · torch default 200 images seed 0: --backend torch: "
                           "PyTorch is not installed here")
    assert '".[torch]"' in line
    runs_dir = Path(cli_env["MNIST_TUI_RUNS_DIR"])
    assert not runs_dir.exists() or not any(runs_dir.iterdir())   # no suite, no run


@pytest.mark.slow
def test_a_suite_over_two_backends_reports_them_side_by_side(cli_env, run_cli, tmp_path):
    pytest.importorskip("jax")
    report = tmp_path / "out" / "report.html"
    report.parent.mkdir()
    r = run_cli([*SUITE, "--backends", "tensorflow,jax", "--report", str(report)], cli_env,
                timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[1/2] cnn · tensorflow default 200 images seed 0" in r.stdout
    assert "[2/2] cnn · jax default 200 images seed 0" in r.stdout

    data = json.loads(report.with_suffix(".json").read_text())
    assert data["suite"]["backends"] == ["tensorflow", "jax"]
    runs_dir = Path(cli_env["MNIST_TUI_RUNS_DIR"])
    for row, backend in zip(data["rows"], ("tensorflow", "jax"), strict=True):
        result = json.loads((runs_dir / row["run_id"] / "result.json").read_text())
        assert result["status"] == "finished" and result["spec"]["backend"] == backend
        assert row["backend"] == backend
        assert row["backend_version"] == result["details"]["backend"]
        assert row["backend_version"].startswith(f"{backend} (")
    groups = data["groups"]
    assert [(g["method"], g["backend"], g["n"]) for g in groups] == [
        ("cnn", "tensorflow", 1), ("cnn", "jax", 1)]

    md = report.with_suffix(".md").read_text()
    table = [line for line in md.splitlines() if line.startswith("| cnn · ")
             and " | default | 200 | " in line]      # the comparison, not the Runs table
    assert [line.split(" | ")[0] for line in table] == ["| cnn · tensorflow", "| cnn · jax"]
    assert "## Backends side by side" in md
    side = next(line for line in md.splitlines() if line.startswith("- cnn default 200: "))
    assert "tensorflow " in side and "jax " in side and side.count("fit ") == 2
    assert "Keras backends: tensorflow (TensorFlow " in md and "jax (JAX " in md
