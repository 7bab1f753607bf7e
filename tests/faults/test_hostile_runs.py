"""Hostile run folders (issue 22, items 2 and 3): a meta.json naming someone else's process
must never make us follow or signal it, a `job` we do not know is a skipped folder, and an
events.jsonl that is a FIFO, a device or huge costs its run the curves (with a note), never a
hang, a memory blow-up or the listing."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fault_helpers import MEMORY_LIMIT
from support import fake_worker_dir, patient, start_fake_worker, wait_until

from mnist_tui.engine.runs import records
from mnist_tui.engine.runs.procs import process_alive, process_start_time
from mnist_tui.engine.runs.store import RunStore

pytestmark = pytest.mark.faults

SPEC = {"job": "tsne-gmm", "preset": "default", "dataset": "digits", "samples": 100,
        "iterations": 300, "gmm_inits": 1}
NOBODY = 65534


def sleeper(**kw) -> subprocess.Popen:
    """An unrelated process that stays alive (a shell, a database: anything of the user's)."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], **kw)


def plant_run(root: Path, run_id: str, pid: int | None, spec: dict | None = None,
              events: bytes | None = b"") -> Path:
    """A run folder as a worker leaves it while running, but naming `pid` (with its true kernel
    start time) in meta.json: what anyone who can write the runs folder can plant."""
    d = root / run_id
    d.mkdir(parents=True)
    start = process_start_time(pid) if pid else None
    (d / "meta.json").write_text(json.dumps({
        "schema_version": 1, "run_id": run_id, "created": "2026-01-01T12:00:00+0000",
        "pid": pid, "pid_start": start, "host": socket.gethostname(), "detached": True}))
    (d / "spec.json").write_text(json.dumps(spec or SPEC))
    if events is not None:
        (d / "events.jsonl").write_bytes(events)
    return d


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(patient(10))


# -- item 2: a planted meta.json never makes us follow or signal a process -----------------

def test_a_planted_run_naming_an_unrelated_process_is_reaped_and_the_process_lives(tmp_path):
    root = tmp_path / "runs"
    proc = sleeper()
    try:
        run = plant_run(root, "20260101-120000-tsne-gmm-aaaaaa", proc.pid)
        store = RunStore(root)
        assert [r.run_id for r in store.list()] == [run.name]   # it lists (running) …
        assert store.live() == []                                # … but is nobody's live run
        assert store.reap() == [run.name]
        result = records.read_result(run)
        assert (result.status, result.stopped_by) == ("interrupted", "reaped")
        assert proc.poll() is None and process_alive(proc.pid)
    finally:
        stop(proc)


def test_a_worker_command_line_of_another_user_is_not_our_worker(tmp_path):
    """Same command line, same folder: ours is followed, another user's is not (and is reaped)."""
    if os.getuid() != 0:
        pytest.skip("starting a process as another user needs root")
    import shutil

    top = fake_worker_dir()
    root = tmp_path / "runs"
    mine_dir, theirs_dir = root / "20260101-120000-tsne-gmm-aaaaaa", \
        root / "20260101-120001-tsne-gmm-bbbbbb"
    mine = start_fake_worker(top, mine_dir, None)
    try:
        theirs = start_fake_worker(top, theirs_dir, NOBODY)
    except (OSError, subprocess.SubprocessError) as exc:
        stop(mine)
        shutil.rmtree(top, ignore_errors=True)
        pytest.skip(f"cannot start a process as nobody: {exc}")
    try:
        for proc in (mine, theirs):     # both must really run the module (not die at once)
            wait_until(lambda p=proc: b"worker" in Path(f"/proc/{p.pid}/cmdline").read_bytes()
                       and p.poll() is None, 10, "the fake worker")
        plant_run(root, mine_dir.name, mine.pid)
        plant_run(root, theirs_dir.name, theirs.pid)
        store = RunStore(root)
        assert [r.run_id for r in store.live()] == [mine_dir.name]
        assert store.reap() == [theirs_dir.name]
        assert mine.poll() is None and theirs.poll() is None
    finally:
        stop(mine)
        stop(theirs)
        shutil.rmtree(top, ignore_errors=True)


def test_a_worker_of_another_folder_is_not_this_runs_worker(tmp_path):
    """A real worker command line naming run A, planted into run B's meta.json."""
    top = fake_worker_dir()
    root = tmp_path / "runs"
    a = root / "20260101-120000-tsne-gmm-aaaaaa"
    proc = start_fake_worker(top, a, None)
    try:
        wait_until(lambda: b"worker" in Path(f"/proc/{proc.pid}/cmdline").read_bytes(), 10,
                   "the fake worker")
        plant_run(root, a.name, proc.pid)
        b = plant_run(root, "20260101-120001-tsne-gmm-bbbbbb", proc.pid)
        store = RunStore(root)
        assert [r.run_id for r in store.live()] == [a.name]
        assert store.reap() == [b.name]
        assert proc.poll() is None
    finally:
        stop(proc)
        import shutil

        shutil.rmtree(top, ignore_errors=True)


async def _until(pilot, condition, timeout: float, what: str) -> None:
    """Let the app run until `condition()` holds; fail after `patient(timeout)` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patient(timeout)
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def _quit_stopping_jobs(app, pilot) -> None:
    """`q`, and "Stop them" if the app asks (it asks only while it follows jobs)."""
    await pilot.press("q")
    await _until(pilot, lambda: not app.is_running
                 or type(app.screen).__name__ == "QuitScreen", 10, "the quit dialog")
    if app.is_running:
        await pilot.press("s")
        await _until(pilot, lambda: not app.is_running, 30, "the app to exit")


def test_the_tui_neither_reattaches_nor_stops_a_planted_runs_process(offline):
    from mnist_tui.tui.app import create_app

    root = offline
    proc = sleeper()
    try:
        run = plant_run(root, "20260101-120000-tsne-gmm-aaaaaa", proc.pid)

        async def scenario() -> None:
            app = create_app(runs_dir=root, dataset="digits", load_data=False,
                             start_mode="monitor")
            async with app.run_test(size=(100, 30)) as pilot:
                await _until(pilot, lambda: (run / "result.json").exists()
                             or run.name in app.manager.jobs, 20, "the app's look at the runs")
                assert run.name not in app.manager.jobs
                await _quit_stopping_jobs(app, pilot)

        asyncio.run(scenario())
        assert proc.poll() is None and process_alive(proc.pid)
        assert records.read_result(run).stopped_by == "reaped"
    finally:
        stop(proc)


def test_an_unknown_job_name_is_a_skipped_folder_and_the_monitor_stands(offline):
    from mnist_tui.tui.app import create_app

    root = offline
    proc = sleeper()
    try:
        bad = plant_run(root, "20260101-120000-x-aaaaaa", proc.pid, spec={**SPEC, "job": "[/]"})
        good = plant_run(root, "20260101-120001-tsne-gmm-bbbbbb", None)
        store = RunStore(root)
        assert [r.run_id for r in store.list()] == [good.name]
        assert [s.name for s in store.skipped] == [bad.name]
        assert "unknown job" in store.skipped[0].reason

        async def scenario() -> None:
            app = create_app(runs_dir=root, dataset="digits", load_data=False,
                             start_mode="monitor")
            async with app.run_test(size=(100, 30)) as pilot:
                await _until(pilot, lambda: (good / "result.json").exists()
                             or bad.name in app.manager.jobs, 20, "the app's look at the runs")
                await pilot.pause()
                assert app.is_running and type(app.screen).__name__ == "MonitorScreen"
                assert bad.name not in app.manager.jobs
                await _quit_stopping_jobs(app, pilot)

        asyncio.run(scenario())
        assert proc.poll() is None
    finally:
        stop(proc)


# -- item 3: events.jsonl is read like every other record ----------------------------------

PROBE = textwrap.dedent("""
    import json, sys
    from mnist_tui.engine.runs.store import RunStore
    from mnist_tui.engine.runs.view import load_run_view
    store = RunStore(sys.argv[1])
    reaped = store.reap()
    listed = [r.run_id for r in store.list()]
    view = load_run_view(store, sys.argv[2])
    print(json.dumps({"reaped": reaped, "listed": listed, "notes": view.notes,
                      "kl": view.kl, "warnings": view.result.warnings}))
""")


def probe(root: Path, run_id: str, timeout: float = 30) -> dict:
    """reap(), list() and load_run_view() in a process of bounded memory and time: a
    regression fails here (timeout, MemoryError) rather than hanging or eating the machine."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    out = subprocess.run([sys.executable, "-c", PROBE, str(root), run_id], capture_output=True,
                         text=True, timeout=patient(timeout), preexec_fn=limit, check=False,
                         cwd=root.parent)   # not this checkout: PYTHONPATH decides
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


KL_LINE = json.dumps({"type": "progress", "t": 1.0, "phase": "tsne", "step": 50, "total": 300,
                      "metrics": {"kl_divergence": 2.5}}).encode() + b"\n"


def test_a_fifo_events_file_neither_hangs_reaping_nor_the_view(tmp_path):
    root = tmp_path / "runs"
    run = plant_run(root, "20260101-120000-tsne-gmm-aaaaaa", dead_pid(), events=None)
    os.mkfifo(run / "events.jsonl")
    try:
        seen = probe(root, run.name, timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail("reap()/load_run_view() blocked on an events.jsonl FIFO")
    assert seen["reaped"] == [run.name] and seen["listed"] == [run.name]
    assert seen["notes"] == ["events.jsonl unreadable: not a regular file"]
    assert seen["warnings"] == ["events.jsonl unreadable: not a regular file"]


def test_events_linked_to_dev_zero_are_not_read(tmp_path):
    root = tmp_path / "runs"
    run = plant_run(root, "20260101-120000-tsne-gmm-aaaaaa", dead_pid(), events=None)
    (run / "events.jsonl").symlink_to("/dev/zero")
    seen = probe(root, run.name)
    assert seen["reaped"] == [run.name] and seen["listed"] == [run.name]
    assert seen["notes"] == ["events.jsonl unreadable: not a regular file"]


def test_a_huge_sparse_events_file_is_refused_whole(tmp_path):
    root = tmp_path / "runs"
    run = plant_run(root, "20260101-120000-tsne-gmm-aaaaaa", dead_pid(), events=KL_LINE)
    with open(run / "events.jsonl", "r+b") as fh:
        fh.truncate(300 * 10**6)               # sparse: 300 MB that take no disk
    seen = probe(root, run.name)
    assert seen["reaped"] == [run.name] and seen["listed"] == [run.name]
    assert len(seen["notes"]) == 1 and "300,000,000 bytes" in seen["notes"][0]
    assert seen["kl"] == []


def test_a_10_mb_event_line_is_skipped_and_the_rest_read(tmp_path):
    root = tmp_path / "runs"
    huge = json.dumps({"type": "log", "message": "x" * (10 * 10**6)}).encode() + b"\n"
    run = plant_run(root, "20260101-120000-tsne-gmm-aaaaaa", dead_pid(),
                    events=KL_LINE + huge + KL_LINE.replace(b"50", b"100"))
    seen = probe(root, run.name)
    assert seen["reaped"] == [run.name] and seen["listed"] == [run.name]
    assert seen["kl"] == [[50, 2.5], [100, 2.5]]
    assert len(seen["notes"]) == 1 and "1 line(s) longer than" in seen["notes"][0]


# -- a suite's lock file is never followed out of its folder --------------------------------

def test_a_planted_lock_symlink_never_truncates_its_target(tmp_path):
    from mnist_tui.engine.runs import store as runs
    from mnist_tui.engine.suites.folder import SuiteFolder, reap_suites
    from mnist_tui.engine.suites.spec import SuiteSpec

    root = tmp_path / "runs"
    victim = tmp_path / "precious.txt"
    victim.write_text("the user's own file\n")
    spec = SuiteSpec(name="sweep", methods=("tsne-gmm",), sizes=(100,), seeds=(0,),
                     presets=("default",)).validate()
    folder = SuiteFolder(root, "20260101-120000-sweep-aaaaaa")
    folder.path.mkdir(parents=True)
    runs.atomic_write_json(folder.path / "suite.json", spec.to_dict())
    runs.atomic_write_json(folder.path / "status.json", {
        "schema_version": 1, "suite_id": folder.suite_id, "status": "running",
        "created": "2026-01-01T12:00:00+0000", "updated": "2026-01-01T12:00:00+0000",
        "runner": {"pid": dead_pid(), "host": socket.gethostname(), "start_time": 1}})
    (folder.path / "lock").symlink_to(victim)
    reap_suites(root)
    assert victim.read_text() == "the user's own file\n"
