"""The run lifecycle's promises, each from a bug that broke it: a final record nothing can
replace, meta.json before spec.json, record modes from the umask, the true reason for every stop,
detached workers that outlive their caller, and a second Ctrl-C that still ends cleanly."""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support import patient, wait_until

from mnist_tui.engine.jobs.events import event_from_json
from mnist_tui.engine.jobs.results import RunResult
from mnist_tui.engine.jobs.specs import spec_from_dict
from mnist_tui.engine.runs import records
from mnist_tui.engine.runs.procs import process_alive, process_start_time
from mnist_tui.engine.runs.store import RunStore, atomic_write_json

SLOW_SPEC = {"job": "tsne-gmm", "dataset": "digits", "samples": 1500, "iterations": 5000,
             "gmm_inits": 1}
TINY_SPEC = {"job": "tsne-gmm", "dataset": "digits", "samples": 300, "iterations": 300,
             "gmm_inits": 1}


# -- the final record ---------------------------------------------------------------------------

@pytest.fixture
def keep_stderr():
    """run_job is a worker's main: it points fd 2 at the run's worker.log and blocks the stop
    signals for good (children would inherit that mask). Give both back."""
    from mnist_tui.engine.runs import worker

    saved = os.dup(2)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    handlers = {sig: signal.getsignal(sig) for sig in worker.STOP_SIGNALS}
    yield
    os.dup2(saved, 2)
    os.close(saved)
    for sig in worker.STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)          # drop anything pending and blocked
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def test_a_stop_signal_after_the_result_cannot_turn_a_finished_run_into_a_cancelled_one(
        tmp_path, keep_stderr):
    """Bug: SIGTERM landing while `finish("finished")` emitted its event was caught by the job's
    own `except`, which rewrote result.json as cancelled with empty metrics."""
    from mnist_tui.engine.runs import worker

    run_dir = tmp_path / "runs" / "r1"
    sent = []

    class Sink(worker.EventSink):
        def __call__(self, event):
            super().__call__(event)
            if event.type == "finished" and not sent:
                sent.append(True)
                os.kill(os.getpid(), signal.SIGTERM)   # lands right after the result was written

    sink = Sink(io.StringIO())
    signal.signal(signal.SIGTERM, worker.on_stop_signal)
    # A worker has library threads that were started before any mask: the kernel may hand the
    # signal to one of them, and Python still runs the handler in the main thread.
    idle = threading.Event()
    threading.Thread(target=idle.wait, daemon=True).start()
    try:
        code = worker.run_job(spec_from_dict(TINY_SPEC), run_dir, sink)
    finally:
        idle.set()
    assert sent and code == 0
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "finished"
    assert result["metrics"]["accuracy_hungarian"] > 0.5


def test_the_final_record_is_created_once(tmp_path):
    assert records.create_result(
        tmp_path, RunResult.from_dict({"status": "finished", "metrics": {"a": 1.0}}))
    assert not records.create_result(tmp_path, RunResult.from_dict({"status": "cancelled"}))
    assert records.read_result(tmp_path).status == "finished"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]   # no temp file left


def test_meta_is_written_before_spec(tmp_path, keep_stderr, monkeypatch):
    """Bug: spec.json came first; a TUI listing in between saw a run with no pid and reaped it."""
    from mnist_tui.engine.runs import worker

    order = []
    real_replace = os.replace

    def spy(src, dst, *a, **kw):
        order.append(Path(dst).name)
        return real_replace(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", spy)
    worker.run_job(spec_from_dict(TINY_SPEC), tmp_path / "runs" / "r1",
                   worker.EventSink(io.StringIO()))
    assert order.index("meta.json") < order.index("spec.json")


def test_records_get_the_umasks_mode_like_any_other_file(tmp_path):
    """Bug: mkstemp's 0600 stayed on every record, hiding runs from a group-shared folder."""
    old = os.umask(0o002)
    try:
        atomic_write_json(tmp_path / "spec.json", {"job": "cnn"})
        records.create_result(tmp_path, RunResult.from_dict({"status": "finished"}))
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"spec.json": 0o664, "result.json": 0o664, "plain.txt": 0o664}


# -- records written by the previous version still read ---------------------------------------

def test_version_0_records_read_in_the_current_shape(tmp_path):
    run = tmp_path / "old"
    run.mkdir()
    (run / "spec.json").write_text(json.dumps({"job": "cnn", "seed": 1}))
    (run / "meta.json").write_text(json.dumps({"run_id": "old", "created": "2026-01-01",
                                               "pid": 1, "host": "h", "dataset": {}}))
    (run / "result.json").write_text(json.dumps({"status": "finished", "metrics": {"a": 1},
                                                 "details": {"x": 1}}))
    info = RunStore(tmp_path).list()[0]
    assert info.meta.pid == 1 and info.meta.pid_start is None and info.meta.schema_version == 1
    assert info.result.details == {"x": 1} and info.result.schema_version == 1
    assert info.spec == {"job": "cnn", "seed": 1}


def test_a_record_from_a_newer_version_is_skipped_and_reported(tmp_path):
    run = tmp_path / "new"
    run.mkdir()
    (run / "spec.json").write_text(json.dumps({"job": "cnn", "schema_version": 99}))
    store = RunStore(tmp_path)
    assert store.list() == []
    assert "schema version 99" in store.skipped[0].reason


# -- reaping: pid and start time -----------------------------------------------------------

def _run_folder(root: Path, name: str, pid, pid_start) -> Path:
    p = root / name
    p.mkdir(parents=True)
    records.write_meta(p, records.RunMeta(run_id=name, created="2026", pid=pid,
                                          pid_start=pid_start, host=os.uname().nodename))
    records.write_spec(p, {"job": "cnn"})
    return p


def test_a_reused_pid_is_not_the_run(tmp_path):
    me, start = os.getpid(), process_start_time(os.getpid())
    _run_folder(tmp_path, "live", me, start)
    _run_folder(tmp_path, "reused", me, start - 1)       # same pid, another process
    store = RunStore(tmp_path)
    # pid and start time are not enough either: this process is not a worker of "live" (its
    # command line says so; see tests/faults/test_hostile_runs.py for true workers)
    assert store.live() == []
    assert sorted(store.reap()) == ["live", "reused"]
    assert store.load_result("reused").stopped_by == "reaped"


# -- stop reasons and detached workers (real worker processes) ---------------------------------

def _worker(spec, run_dir, *extra, env):
    return subprocess.Popen(
        [sys.executable, "-m", "mnist_tui.engine.runs.worker", "--run-dir", str(run_dir),
         "--spec", json.dumps(spec), *extra], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, start_new_session=True)


def _until_tsne(proc):
    for line in proc.stdout:
        ev = event_from_json(line)
        if ev.type == "progress" and ev.phase == "tsne":
            return
    raise AssertionError("the worker ended before t-SNE")


@pytest.mark.parametrize("sig, status, by, words", [
    (signal.SIGUSR1, "cancelled", "tui", "cancelled from the TUI"),
    (signal.SIGHUP, "interrupted", "hangup", "terminal closed"),
    (signal.SIGTERM, "cancelled", "signal", "SIGTERM"),
    (signal.SIGINT, "interrupted", "ctrl-c", "Ctrl-C"),
])
def test_every_stop_records_its_true_reason(cli_env, tmp_path, sig, status, by, words):
    """Bug: every SIGINT was "interrupted (SIGINT)", every SIGTERM "cancelled by the user"."""
    run_dir = tmp_path / "runs" / "r1"
    proc = _worker(SLOW_SPEC, run_dir, env=cli_env)
    _until_tsne(proc)
    proc.send_signal(sig)
    proc.communicate(timeout=patient(60))
    result = records.read_result(run_dir)
    assert (result.status, result.stopped_by) == (status, by)
    assert words in result.error


def _spawn_and_leave(args, env) -> int:
    """A parent that starts the worker and exits once it trains (a TUI quitting, a dropped
    SSH)."""
    code = ("import os, subprocess, sys; args = [a.replace('CALLER', str(os.getpid())) "
            "for a in sys.argv[1:]]; p = subprocess.Popen(args, "
            "stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True, text=True); "
            "next(line for line in p.stdout if '\"tsne\"' in line); print(p.pid)")
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                         text=True, timeout=patient(60), check=True)
    return int(out.stdout)


def test_a_detached_worker_outlives_its_caller_and_finishes(cli_env, tmp_path):
    run_dir = tmp_path / "runs" / "r1"
    spec = {**TINY_SPEC, "iterations": 1500}
    pid = _spawn_and_leave([sys.executable, "-m", "mnist_tui.engine.runs.worker", "--run-dir",
                            str(run_dir), "--spec", json.dumps(spec), "--detached"], cli_env)
    meta = wait_until(lambda: records.read_meta(run_dir) if (run_dir / "spec.json").exists()
                    else None, what="the run folder")
    assert meta.pid == pid and meta.detached and process_alive(pid, meta.pid_start)
    result = wait_until(lambda: records.read_result(run_dir), timeout=120, what="its result")
    assert result.status == "finished"
    events = RunStore(run_dir.parent).events("r1")
    assert events[0].type == "started" and events[-1].type == "finished"


def test_an_attached_worker_whose_caller_dies_records_why(cli_env, tmp_path):
    run_dir = tmp_path / "runs" / "r1"
    _spawn_and_leave([sys.executable, "-m", "mnist_tui.engine.runs.worker", "--run-dir",
                      str(run_dir), "--spec", json.dumps(SLOW_SPEC), "--caller-pid", "CALLER"],
                     cli_env)
    result = wait_until(lambda: records.read_result(run_dir) if run_dir.is_dir() else None,
                      timeout=120, what="its result")
    assert (result.status, result.stopped_by) == ("interrupted", "caller-gone")


# -- the batch front end --------------------------------------------------------------------

def _batch(args, env):
    return subprocess.Popen([sys.executable, "-m", "mnist_tui", "--batch", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run_dir_of(proc, runs: Path) -> Path:
    for line in proc.stdout:
        if "tsne " in line:
            break
    return wait_until(lambda: next(iter(runs.iterdir()), None), what="the run folder")


SLOW_ARGS = ["--job", "tsne-gmm", "--dataset", "digits", "--samples", "1500",
             "--iterations", "5000", "--gmm-inits", "1"]


def test_a_second_ctrl_c_still_ends_cleanly_with_summary_and_json(cli_env, tmp_path):
    """Bug: a second Ctrl-C during the stop wait printed a KeyboardInterrupt traceback and lost
    the summary and the JSON."""
    out_json = tmp_path / "r.json"
    proc = _batch([*SLOW_ARGS, "--json", str(out_json)], cli_env)
    run_dir = _run_dir_of(proc, tmp_path / "runs")
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=patient(60))
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"run folder {run_dir}" in out
    saved = json.loads(out_json.read_text())
    assert saved["status"] == "interrupted"
    assert records.read_result(run_dir).status == "interrupted"


def test_a_batch_run_whose_terminal_hangs_up_is_recorded_as_such(cli_env, tmp_path):
    proc = _batch(SLOW_ARGS, cli_env)
    run_dir = _run_dir_of(proc, tmp_path / "runs")
    proc.send_signal(signal.SIGHUP)
    proc.communicate(timeout=patient(60))
    assert proc.returncode == 130
    result = records.read_result(run_dir)
    assert (result.status, result.stopped_by) == ("interrupted", "hangup")
    assert "terminal closed" in result.error


@pytest.mark.parametrize("sig, status, by", [
    (signal.SIGINT, "interrupted", "ctrl-c"),
    (signal.SIGTERM, "cancelled", "signal"),
])
def test_a_stop_the_worker_outlives_is_still_recorded_as_that_stop(tmp_path, sig, status, by):
    """Bug: a worker that did not end within the grace period after Ctrl-C (TensorFlow slow to
    unwind on a loaded machine) was killed and recorded as "killed by a signal", and a SIGTERM
    as interrupted: the user's stop was lost."""
    from mnist_tui.engine.runs.launch import WorkerRun

    worker = WorkerRun(spec_from_dict(SLOW_SPEC).to_dict(), tmp_path / "runs")
    worker.start()
    try:
        for ev in worker.events():
            if ev.type == "progress" and ev.phase == "tsne":
                break
        os.kill(worker.proc.pid, signal.SIGSTOP)   # it cannot act on the stop in time…
        worker.stop(sig, grace=0.5)                 # …so it is killed after the grace period
    finally:
        if worker.proc.poll() is None:
            worker.proc.kill()
    result = worker.outcome("interrupted")
    assert (result.status, result.stopped_by) == (status, by)
    assert "did not end within 0 s of it and was killed" in result.error   # 0.5 → "0 s"
    assert records.read_result(worker.run_dir).status == status
