"""Fault contract, concurrency: several runs started in the same second into one runs folder,
two resumes of one suite at once, and a listing taken while runs are being written. Each run
keeps its own whole folder, one suite has one runner, and nothing reads a run half-made as
broken.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import patient

from mnist_tui.engine.runs.store import RunStore
from mnist_tui.engine.suites.folder import SuiteFolder
from mnist_tui.engine.suites.spec import SuiteSpec

pytestmark = pytest.mark.faults

QUICK = ["--batch", "--job", "tsne-gmm", "--dataset", "digits", "--samples", "150",
         "--iterations", "260", "--gmm-inits", "1", "--tsne-backend", "sklearn"]
STATUSES = {"running", "finished", "failed", "cancelled", "interrupted"}


def start(args: list[str], env: dict) -> subprocess.Popen:
    """The CLI, its summary dropped (nothing reads it while they run: a full pipe would block)."""
    return subprocess.Popen([sys.executable, "-m", "mnist_tui", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 180) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=patient(timeout))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


def test_runs_started_together_keep_their_own_whole_folders(env, runs, tmp_path):
    outs = [tmp_path / f"r{i}.json" for i in range(4)]
    procs = [start([*QUICK, "--seed", str(i), "--json", str(out)], env)
             for i, out in enumerate(outs)]

    # Listing while they are being created and written never fails and never shows a status
    # that is not one of the five (a half-made folder is "running" or skipped, not broken).
    store = RunStore(runs)
    while any(p.poll() is None for p in procs):
        assert {r.status for r in store.list()} <= STATUSES
        time.sleep(0.05)
    ended = [finish(p) for p in procs]

    assert [code for code, _, _ in ended] == [0, 0, 0, 0], [err for _, _, err in ended]
    results = [json.loads(out.read_text()) for out in outs]
    folders = {r["run_dir"] for r in results}
    assert len(folders) == 4                                  # four runs, four folders
    assert sorted(str(runs / name) for name in
                  (p.name for p in runs.iterdir())) == sorted(folders)
    listed = {r.run_id: r for r in store.list()}
    for result in results:
        run = listed[Path(result["run_dir"]).name]
        assert run.status == "finished" and run.result.seed == result["seed"]
        assert run.result.metrics.to_dict() == result["metrics"]  # each folder has its own run


def test_two_resumes_of_one_suite_at_once_run_it_once(env, runs):
    spec = SuiteSpec(name="sweep", methods=("tsne-gmm",), presets=("default",), sizes=(100,), seeds=(0, 1),
                     overrides={"dataset": "digits", "iterations": 260, "gmm_inits": 1,
                                "tsne_backend": "sklearn"}).validate()
    folder = SuiteFolder.create(runs, spec)

    procs = [start(["--batch", "--resume", folder.suite_id], env) for _ in range(2)]
    ended = sorted((finish(p) for p in procs), key=lambda e: e[0])

    (won, _, won_err), (lost, _, lost_err) = ended
    assert (won, lost) == (0, 2), (won_err, lost_err)
    assert lost_err.splitlines() == [line for line in lost_err.splitlines()
                                     if line.startswith("error: ")]
    assert len(lost_err.splitlines()) == 1
    assert f"suite {folder.suite_id} is already running" in lost_err
    status = json.loads((folder.path / "status.json").read_text())
    assert status["status"] == "finished", status
    member_runs = [p.name for p in runs.iterdir() if p.name != "suites"]
    assert len(member_runs) == 2                              # each member ran once
