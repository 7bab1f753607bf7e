"""`mnist-tui --batch --suite …` end to end on tiny budgets: every member recorded, the table
complete, an interrupted suite resumed (finished runs reused), the report files parsed back
against the run folders, failures and usage errors."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import patient

from mnist_tui.engine.suites import report_text
from mnist_tui.engine.suites.report_model import Stat

REAL = os.environ.get("MNIST_TUI_REAL_MNIST")
DATA = (["--dataset", "mnist", "--data-dir", REAL] if REAL and Path(REAL).is_dir()
        else ["--dataset", "digits"])
TINY_SWEEP = ["--batch", "--suite", "sweep", "--methods", "tsne-gmm,cnn", "--sizes", "100,150",
              "--seeds", "2", *DATA, "--iterations", "260", "--gmm-inits", "1", "--epochs", "1",
              "--eval-samples", "100", "--presets", "default"]


def _read(p: Path):
    return json.loads(p.read_text())


def _suite_dir(env, suite_id) -> Path:
    return Path(env["MNIST_TUI_RUNS_DIR"]) / "suites" / suite_id


def _check_report_against_runs(html_path: Path, runs_dir: Path, n_rows: int) -> dict:
    """The JSON/CSV values equal result.json's; HTML and Markdown show the formatted numbers."""
    stem = html_path.with_suffix("")
    data = _read(stem.with_suffix(".json"))
    rows = list(csv.DictReader(io.StringIO(stem.with_suffix(".csv").read_text())))
    md, page = stem.with_suffix(".md").read_text(), html_path.read_text()
    assert len(data["rows"]) == len(rows) == n_rows
    for jrow, crow in zip(data["rows"], rows):
        assert jrow["status"] == crow["status"] == "finished", jrow
        res = _read(runs_dir / jrow["run_id"] / "result.json")
        assert res["status"] == "finished" and crow["run_id"] == jrow["run_id"]
        m, t = res["metrics"], res["timings"]
        acc = m["accuracy_hungarian"] if jrow["method"] == "tsne-gmm" else m["accuracy"]
        assert jrow["accuracy"] == acc and float(crow["accuracy"]) == acc
        if jrow["method"] == "tsne-gmm":
            for k in ("accuracy_majority", "nmi", "ari"):
                assert jrow[k] == m[k] and float(crow[k]) == m[k]
        assert jrow["total_s"] == t["total"] == float(crow["total_s"])
        fit = round(sum(t[p] for p in jrow["fit_phases"].split("+")), 4)
        assert jrow["fit_s"] == fit == float(crow["fit_s"])
        assert int(crow["images"]) == res["dataset"]["n_samples"] == jrow["images"]
        assert jrow["peak_rss_mb"] and jrow["peak_rss_mb"] > 10       # measured
        shown = f"{100 * acc:.2f}%"
        assert shown in md and shown in page
        assert jrow["run_id"] in md and jrow["run_id"] in page
    for g in data["groups"]:
        assert g["n"] == g["n_members"] and g["accuracy"] is not None
        acc = Stat(**g["accuracy"])
        assert report_text.fmt_pct(acc) in md and report_text.fmt_pct(acc) in page
    assert "<svg" in page or data["suite"]["suite"] == "seed"
    return data


def test_sweep_interrupted_after_the_first_member_resumes_reusing_it(cli_env, tmp_path,
                                                                     run_cli):
    # Started the way a script's background job is, with SIGINT ignored: `kill -INT` must
    # stop it all the same (it used to run every member to the end).
    proc = subprocess.Popen([sys.executable, "-m", "mnist_tui", *TINY_SWEEP], env=cli_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    suite_id, seen, deadline = None, [], time.monotonic() + patient(120)
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("running suite sweep "):
            suite_id = line.split()[3].rstrip(":")
        if line.startswith("  → "):
            break
    assert suite_id and seen[-1].startswith("  → ") and ": finished" in seen[-1], seen
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=patient(120))
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"--resume {suite_id}" in out
    folder = _suite_dir(cli_env, suite_id)
    assert _read(folder / "status.json")["status"] == "interrupted"
    members = _read(folder / "members.json")["members"]
    first_key, first_id = next(iter(members.items()))
    assert json.loads(first_key)["job"] == "tsne-gmm"
    runs_dir = Path(cli_env["MNIST_TUI_RUNS_DIR"])
    assert _read(runs_dir / first_id / "result.json")["status"] == "finished"

    report = tmp_path / "rep" / "suite.html"
    report.parent.mkdir()
    r = run_cli(["--batch", "--resume", suite_id, "--report", str(report)], cli_env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"[1/8] tsne-gmm default 100 images seed 0: finished before, reusing run " \
           f"{first_id}" in r.stdout
    assert "[2/8] cnn default 100 images seed 0" in r.stdout
    after = _read(folder / "members.json")["members"]
    assert after[first_key] == first_id and len(after) == 8
    assert _read(folder / "status.json")["status"] == "finished"
    for run_id in after.values():                      # every member run recorded
        assert _read(runs_dir / run_id / "result.json")["status"] == "finished"
        assert (runs_dir / run_id / "spec.json").is_file()
    data = _check_report_against_runs(report, runs_dir, 8)
    assert [g["n"] for g in data["groups"]] == [2, 2, 2, 2]
    for name in ("report.html", "report.md", "report.json", "report.csv"):
        assert (folder / name).is_file()
    assert "accuracy %" in r.stdout and "images (log scale)" in r.stdout     # terminal chart

    # A finished suite resumed again reuses everything and runs nothing.
    again = run_cli(["--batch", "--resume", suite_id, "--json", "-"], cli_env)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("finished before, reusing run") == 8
    assert {row["run_id"] for row in json.loads(again.stdout)["rows"]} == set(after.values())


def test_seed_suite_tiny_budget_table_complete(cli_env, tmp_path, run_cli):
    report = tmp_path / "seed.html"
    r = run_cli(["--batch", "--suite", "seed", "--protocols", "notebook", "--sizes", "300",
                 "--presets", "seed,default", "--samples", "100", *DATA,
                 "--iterations", "260", "--gmm-inits", "1", "--epochs", "1",
                 "--eval-samples", "100", "--batch-size", "16", "--weights", "none",
                 "--report", str(report)], cli_env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "[2/5] vgg16 seed 100 images seed 0" in r.stdout
    assert "[1/5] tsne-gmm seed 300 images seed 0" in r.stdout
    assert "VGG16 input: 32×32 RGB" in r.stdout
    data = _check_report_against_runs(report, Path(cli_env["MNIST_TUI_RUNS_DIR"]), 5)
    labels = [(g["method"], g["preset"]) for g in data["groups"]]
    assert labels == [("tsne-gmm", "seed"), ("vgg16", "seed"), ("tsne-gmm", "default"),
                      ("vgg16", "default"), ("cnn", "default")]
    tsne = data["groups"][0]
    assert tsne["accuracy_majority"] and tsne["nmi"] and tsne["ari"]
    assert all(g["verdict"] for g in data["groups"])
    md = report.with_suffix(".md").read_text()
    assert "1 seed: noise unknown" in md and "majority vote" in md
    # the notebook's VGG16 re-runs the base every epoch; ours extracts features once
    assert "vgg16 seed: fit = training; predict = evaluation" in md
    assert ("vgg16 default: fit = feature_extraction+feature_stats+training; predict = "
            "evaluation") in md


def test_a_failed_member_does_not_stop_the_suite_exit_3(cli_env, tmp_path, run_cli):
    bad = tmp_path / "bad.h5"
    # HDF5 magic, so the preflight lets it through; the member fails when Keras reads it
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"not weights" * 10)
    r = run_cli(["--batch", "--suite", "sweep", "--methods", "vgg16,cnn", "--sizes", "100",
                 "--seeds", "1", "--dataset", "digits", "--epochs", "1", "--eval-samples",
                 "50", "--weights", str(bad), "--json", str(tmp_path / "s.json")], cli_env)
    assert r.returncode == 3, r.stdout + r.stderr
    data = _read(tmp_path / "s.json")
    assert [row["status"] for row in data["rows"]] == ["failed", "finished"]
    assert "does not fit VGG16" in data["rows"][0]["error"]
    assert "FAILED: vgg16 default 100 images seed 0" in r.stdout
    assert data["status"] == "failed"


@pytest.mark.parametrize("args, needle", [
    (["--batch", "--suite", "sweep", "--sizes", "10"], "--sizes: 10 is below the minimum 20"),
    (["--batch", "--suite", "sweep", "--samples", "100"], "use --sizes"),
    (["--batch", "--suite", "sweep", "--seed", "1"], "use --seeds"),
    (["--batch", "--suite", "sweep", "--input-size", "48"], "use --vgg-input-size"),
    (["--batch", "--suite", "sweep", "--methods", "cnn", "--iterations", "300"],
     "--iterations does not apply"),
    (["--batch", "--suite", "sweep", "--job", "cnn"], "--job cannot be used with --suite"),
    (["--batch", "--suite", "sweep", "--seeds", "x"], "--seeds: expected a count"),
    (["--batch", "--suite", "nope"], "invalid choice"),
    (["--batch", "--resume", "nope"], "no suite 'nope'"),
    (["--suite", "sweep"], "--suite needs --batch"),
    (["--batch", "--job", "cnn", "--report", "r.html"], "--report needs --suite"),
    (["--batch", "--suite", "sweep", "--report", "/no/such/dir/r.html"], "--report: folder"),
    (["--batch", "--suite", "sweep", "--methods", "cnn", "--dataset", "digits", "--sizes",
      "5000"], "5,000 images asked for, but digits has 1,797"),
    (["--batch", "--suite", "seed", "--methods", "vgg16", "--dataset", "digits", "--sizes",
      "100", "--samples", "100"], "are not in Keras' cache and could not be downloaded"),
])
def test_usage_errors_are_one_line_exit_2(cli_env, tmp_path, run_cli, args, needle):
    env = {**cli_env, "KERAS_HOME": str(tmp_path / "keras")}
    r = run_cli(args, env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert needle in r.stderr
    assert not (Path(env["MNIST_TUI_RUNS_DIR"]) / "suites").exists()   # nothing created


def test_a_recorded_suite_cannot_be_changed_on_resume(cli_env, run_cli):
    from mnist_tui.engine.suites.folder import SuiteFolder
    from mnist_tui.engine.suites.spec import SuiteSpec

    spec = SuiteSpec(name="sweep", methods=("cnn",), sizes=(100,),
                     overrides={"dataset": "digits"}).validate()
    folder = SuiteFolder.create(Path(cli_env["MNIST_TUI_RUNS_DIR"]), spec)
    r = run_cli(["--batch", "--resume", folder.suite_id, "--sizes", "200"], cli_env)
    assert r.returncode == 2 and "--sizes cannot be changed for a recorded suite" in r.stderr
