"""The worker process and the batch front end under stress: interrupts, kills, noisy libraries,
and an end-to-end run on real MNIST digits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from support import patient

from mnist_tui.engine.jobs.events import event_from_json

SLOW = ["--batch", "--job", "tsne-gmm", "--dataset", "digits", "--samples", "1500",
        "--iterations", "5000", "--gmm-inits", "1"]


def _start(args, env):
    return subprocess.Popen([sys.executable, "-m", "mnist_tui", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_line(proc, needle, timeout=60):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} not seen in {seen}")


def _slow_run_in_tsne(env, tmp_path, *extra):
    """A batch run started and waited on until its t-SNE phase: (process, run folder)."""
    proc = _start([*SLOW, *extra], env)
    seen = _wait_for_line(proc, "tsne ")
    return proc, tmp_path / "runs" / seen[0].split()[1].rstrip(":")


def _worker_pid(run_dir) -> int:
    return json.loads((run_dir / "meta.json").read_text())["pid"]


def test_sigint_records_the_run_as_interrupted_and_exits_130(cli_env, tmp_path):
    proc, run_dir = _slow_run_in_tsne(cli_env, tmp_path, "--json", str(tmp_path / "r.json"))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=patient(60))
    assert proc.returncode == 130, err
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "interrupted"
    assert result["timings"]["tsne"] > 0            # what was measured is kept
    # the images it used, not the whole dataset's 1,797 (what interrupted runs used to show)
    assert result["dataset"]["n_samples"] == 1500 and result["dataset"]["available"] == 1797
    assert result["images"]["clustered"] == ("1,500 images: 1,500 of the 1,797 digits train "
                                             "images (subset seed 0)")
    assert json.loads((tmp_path / "r.json").read_text())["status"] == "interrupted"
    events = (run_dir / "events.jsonl").read_text().splitlines()
    assert json.loads(events[-1])["type"] == "interrupted"
    assert "Traceback" not in err


def test_worker_killed_outright_is_a_recorded_failure_exit_3(cli_env, tmp_path):
    proc, run_dir = _slow_run_in_tsne(cli_env, tmp_path)
    os.kill(_worker_pid(run_dir), signal.SIGKILL)
    proc.communicate(timeout=patient(60))
    assert proc.returncode == 3
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "failed"
    assert "ended without a result" in result["error"]


def test_sigterm_to_worker_is_a_cancel(cli_env, tmp_path):
    proc, run_dir = _slow_run_in_tsne(cli_env, tmp_path)
    os.kill(_worker_pid(run_dir), signal.SIGTERM)
    proc.communicate(timeout=patient(60))
    assert proc.returncode == 130
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "cancelled"
    assert result["dataset"]["n_samples"] == 1500


def test_worker_stdout_is_only_events_even_when_libraries_print(cli_env, tmp_path):
    """sklearn's t-SNE prints its progress to stdout; none of it may reach the event stream."""
    spec = {"job": "tsne-gmm", "dataset": "digits", "samples": 200, "tsne_backend": "sklearn",
            "iterations": 300, "gmm_inits": 1, "pca": None}
    out = subprocess.run(
        [sys.executable, "-m", "mnist_tui.engine.runs.worker", "--run-dir",
         str(tmp_path / "runs" / "r1"), "--spec", json.dumps(spec)],
        env=cli_env, capture_output=True, text=True, timeout=patient(120), check=False)
    assert out.returncode == 0, out.stderr
    events = [event_from_json(line) for line in out.stdout.splitlines()]
    assert events[-1].type == "finished"
    kl = [e for e in events if e.type == "progress" and e.phase == "tsne"]
    assert kl and all("kl_divergence" in e.metrics for e in kl)  # parsed from sklearn's text
    assert [e.step for e in kl] == sorted(e.step for e in kl)


def test_real_mnist_end_to_end(run_cli, cli_env, real_mnist_dir, tmp_path):
    out = run_cli(["--batch", "--job", "tsne-gmm", "--data-dir", str(real_mnist_dir),
                   "--samples", "1000", "--json", "-"], cli_env)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["dataset"]["name"] == "mnist"
    assert result["details"]["deskewed"] is True
    assert result["dataset"]["n_samples"] == 1000 and result["dataset"]["available"] == 10000
    m = result["metrics"]
    assert m["accuracy_hungarian"] >= 0.80, m
    # many-to-one can only gain on one-to-one (each cluster takes its most common digit)
    assert m["accuracy_majority"] >= m["accuracy_hungarian"]
    counts = result["cluster_counts"]
    assert m["accuracy_majority"] == pytest.approx(sum(map(max, counts)) / 1000)
    assert m["nmi"] >= 0.7
    cm = result["confusion_matrix"]
    assert sum(map(sum, cm)) == 1000
    assert sum(cm[i][i] for i in range(10)) == round(m["accuracy_hungarian"] * 1000)
    run_dir = tmp_path / "runs" / result["run_id"]
    assert {p.name for p in run_dir.iterdir()} >= {"spec.json", "meta.json", "events.jsonl",
                                                   "result.json", "embedding.npz", "worker.log"}
