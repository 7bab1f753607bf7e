"""Times that explain themselves (issue 26): each run records how busy the machine was (the
1-minute load average at its start, its end and on average) and the worker's nice level, in the
result's typed `load`; a record from before it still reads, without one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from support import patient

from mnist_tui.engine.jobs.results import MachineLoad, RunResult
from mnist_tui.engine.runs import records
from mnist_tui.engine.runs.sysmon import SelfMonitor

NICER = 7    # the batch run below starts this much nicer than the test


def test_a_tiny_real_run_records_the_load_and_the_worker_s_real_nice(cli_env, tmp_path):
    expected_nice = min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICER)
    runs_dir = tmp_path / "runs"
    out = subprocess.run(
        ["nice", "-n", str(NICER), sys.executable, "-m", "mnist_tui", "--batch",
         "--job", "tsne-gmm", "--dataset", "digits", "--samples", "300", "--iterations", "300",
         "--gmm-inits", "1", "--runs-dir", str(runs_dir), "--json", "-"],
        env=cli_env, capture_output=True, text=True, timeout=patient(180), check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    printed = json.loads(out.stdout)
    load = printed["load"]
    for key in ("load_start", "load_end", "load_mean"):
        assert isinstance(load[key], float) and load[key] >= 0, load
    assert load["nice"] == expected_nice, (load, expected_nice)
    assert isinstance(load["cpus"], int) and load["cpus"] >= 1

    # The record on disk is the same, and reads back typed.
    res = records.read_result(runs_dir / printed["run_id"])
    assert res is not None and res.load is not None
    assert res.load.to_dict() == load
    assert res.load.load() == load["load_mean"]
    assert res.load.text() == f"load {load['load_mean']:.1f} · nice {expected_nice}"


def test_the_monitor_reads_the_load_average_and_this_process_s_nice():
    monitor = SelfMonitor(interval=0.05).start()
    monitor.sample()
    monitor.stop()
    load = monitor.load()
    assert load["nice"] == os.getpriority(os.PRIO_PROCESS, 0)
    assert all(isinstance(load[k], float) and load[k] >= 0
               for k in ("load_start", "load_end", "load_mean"))
    assert len(monitor.loads) >= 3                       # start, a sample, the end


def test_an_old_record_without_load_still_reads_and_a_bad_one_is_dropped():
    old = RunResult.from_dict({"status": "finished", "job": "cnn", "timings": {"total": 12.0}})
    assert old.load is None and "load" not in old.to_dict()
    bad = RunResult.from_dict({"status": "finished", "load": "busy"})
    assert bad.load is None and "load" in bad.dropped
    partial = RunResult.from_dict({"status": "finished",
                                   "load": {"load_start": 1.25, "load_end": 3.5, "nice": "x"}})
    assert partial.load is not None and partial.load.model_dump() == {
        "load_start": 1.25, "load_end": 3.5, "load_mean": None, "cpus": None, "nice": None}
    assert partial.load.text() == "load 3.5"              # no mean: the larger of the two
    assert MachineLoad().text() == ""
