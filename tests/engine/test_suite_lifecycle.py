"""A suite's life outside one terminal: it always ends in a terminal status, a stale "running"
is reaped, one runner per suite folder, members keyed by the settings the suite sets, and its
records typed and versioned (the files older versions wrote still read).

Members are real, tiny workers: t-SNE + GMM on 100 of the bundled digits."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_tui.engine.errors import MnistTuiError
from mnist_tui.engine.runs import store as runs
from mnist_tui.engine.runs.procs import process_alive, process_start_time
from mnist_tui.engine.suites.folder import SuiteFolder
from mnist_tui.engine.suites.listener import SuiteListener
from mnist_tui.engine.suites.runner import run_suite
from mnist_tui.engine.suites.spec import SuiteSpec, member_key

TINY = {"dataset": "digits", "iterations": 260, "gmm_inits": 1}
REAPED = "the runner process ended without finishing (killed, or its terminal closed)"


def tiny_spec(**overrides) -> SuiteSpec:
    return SuiteSpec(name="sweep", methods=("tsne-gmm",), sizes=(100,), seeds=(0,),
                     presets=("default",), overrides={**TINY, **overrides}).validate()


def status_file(folder: SuiteFolder) -> dict:
    return json.loads((folder.path / "status.json").read_text())


def run_dirs(runs_dir: Path) -> list[str]:
    return sorted(p.name for p in runs_dir.iterdir() if p.name != "suites")


# -- 1. a suite always ends in a terminal status ----------------------------------------------

def test_a_listener_that_raises_leaves_the_suite_failed_with_the_reason(tmp_path):
    class Broken(SuiteListener):
        def member_start(self, i, n, member):
            raise RuntimeError("the listener broke")

    folder = SuiteFolder.create(tmp_path / "runs", tiny_spec())
    with pytest.raises(RuntimeError, match="the listener broke"):
        run_suite(folder, Broken())
    st = status_file(folder)
    assert st["status"] == "failed"
    assert st["reason"] == "RuntimeError: the listener broke"


def test_a_listener_that_raises_mid_member_stops_its_worker(tmp_path):
    """The member's worker does not run on, unobserved, after the suite gave up."""
    seen: dict = {}

    class BrokenOnEvents(SuiteListener):
        def event(self, ev):
            if ev.type == "started":
                seen["pid"] = ev.pid
            if seen.get("pid"):
                raise ValueError("bad event handler")

    long = SuiteSpec(name="sweep", methods=("tsne-gmm",), presets=("default",), sizes=(1000,), seeds=(0,),
                     overrides={**TINY, "iterations": 5000}).validate()
    folder = SuiteFolder.create(tmp_path / "runs", long)
    try:
        with pytest.raises(ValueError, match="bad event handler"):
            run_suite(folder, BrokenOnEvents())
        assert seen.get("pid")
        assert not process_alive(seen["pid"])
        assert status_file(folder)["status"] == "failed"
        assert status_file(folder)["reason"] == "ValueError: bad event handler"
    finally:
        if seen.get("pid") and process_alive(seen["pid"]):   # before the fix: do not leak it
            os.kill(seen["pid"], signal.SIGKILL)


def test_batch_suite_that_cannot_write_its_records_fails_with_one_error_line(cli_env, run_cli):
    runs_dir = Path(cli_env["MNIST_TUI_RUNS_DIR"])
    folder = SuiteFolder.create(runs_dir, tiny_spec())
    (folder.path / "measurements.json").unlink()
    (folder.path / "measurements.json").mkdir()      # written after the member: OSError
    r = run_cli(["--batch", "--resume", folder.suite_id], cli_env)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    st = status_file(folder)
    assert st["status"] == "failed" and st["reason"].startswith("IsADirectoryError"), st


# -- 2. stale "running" suites are reaped ------------------------------------------------------

def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_running(runs_dir: Path, suite_id: str, runner: dict | None,
                  status: str = "running") -> SuiteFolder:
    spec = tiny_spec()
    folder = SuiteFolder(runs_dir, suite_id)
    folder.path.mkdir(parents=True)
    runs.atomic_write_json(folder.path / "suite.json", spec.to_dict())
    st = {"schema_version": 1, "suite_id": suite_id, "status": status,
          "created": "2026-01-01T12:00:00+0000", "updated": "2026-01-01T12:00:00+0000"}
    if runner is not None:
        st["runner"] = runner
    runs.atomic_write_json(folder.path / "status.json", st)
    return folder


def test_suites_whose_runner_is_gone_are_reaped_as_interrupted(tmp_path):
    from mnist_tui.engine.suites.folder import reap_suites

    runs_dir = tmp_path / "runs"
    host, me = socket.gethostname(), os.getpid()
    dead = write_running(runs_dir, "20260101-120001-sweep-aaaaaa",
                         {"pid": dead_pid(), "host": host, "start_time": 1})
    mine = write_running(runs_dir, "20260101-120002-sweep-bbbbbb",
                         {"pid": me, "host": host, "start_time": process_start_time(me)})
    reused = write_running(runs_dir, "20260101-120003-sweep-cccccc",
                           {"pid": me, "host": host,
                            "start_time": process_start_time(me) - 1})   # pid reused since
    created = write_running(runs_dir, "20260101-120004-sweep-dddddd",
                            {"pid": dead_pid(), "host": host, "start_time": 7},
                            status="created")
    elsewhere = write_running(runs_dir, "20260101-120005-sweep-eeeeee",
                              {"pid": dead_pid(), "host": host + "-other", "start_time": 1})
    unknown = write_running(runs_dir, "20260101-120006-sweep-ffffff", None)  # version 0
    (runs_dir / "suites" / "20260101-120007-sweep-000000").mkdir()
    (runs_dir / "suites" / "20260101-120007-sweep-000000" / "suite.json").write_text("{}")
    (runs_dir / "suites" / "20260101-120007-sweep-000000" / "status.json").write_text("[oops")

    reaped = reap_suites(runs_dir)

    assert sorted(reaped) == sorted([dead.suite_id, reused.suite_id, created.suite_id])
    for f in (dead, reused, created):
        st = status_file(f)
        assert st["status"] == "interrupted" and st["reason"] == REAPED, st
    for f in (mine, elsewhere, unknown):
        assert status_file(f)["status"] == "running"
    assert reap_suites(runs_dir) == []       # once


def test_a_suite_whose_lock_is_held_is_not_reaped(tmp_path):
    """A new runner holds the lock before it writes its own pid: the old pid is dead, but the
    suite is running."""
    from mnist_tui.engine.suites.folder import reap_suites

    runs_dir = tmp_path / "runs"
    folder = write_running(runs_dir, "20260101-120001-sweep-aaaaaa",
                           {"pid": dead_pid(), "host": socket.gethostname(), "start_time": 1})
    runner = SuiteFolder.open(runs_dir, folder.suite_id)
    runner.lock.acquire()
    try:
        assert reap_suites(runs_dir) == []
    finally:
        runner.lock.release()
    assert reap_suites(runs_dir) == [folder.suite_id]


def test_the_runner_is_recorded_in_status_json(tmp_path):
    folder = SuiteFolder.create(tmp_path / "runs", tiny_spec())
    st = status_file(folder)
    assert st["schema_version"] == 1 and st["status"] == "created"
    assert st["runner"] == {"pid": os.getpid(), "host": socket.gethostname(),
                            "start_time": process_start_time(os.getpid())}


# -- 3. one runner per suite folder ------------------------------------------------------------

def test_a_second_runner_of_a_suite_is_refused(cli_env, run_cli):
    runs_dir = Path(cli_env["MNIST_TUI_RUNS_DIR"])
    folder = SuiteFolder.create(runs_dir, tiny_spec())
    holder = SuiteFolder.open(runs_dir, folder.suite_id)
    holder.lock.acquire()
    try:
        r = run_cli(["--batch", "--resume", folder.suite_id], cli_env)
    finally:
        holder.lock.release()
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.splitlines() == [f"error: suite {folder.suite_id} is already running "
                                     f"(pid {os.getpid()} on {socket.gethostname()})"]
    assert run_dirs(runs_dir) == []                  # nothing ran
    assert status_file(folder)["status"] == "created"


def test_the_lock_names_its_holder_and_dies_with_it(tmp_path):
    from mnist_tui.engine.suites.lock import SuiteBusyError

    folder = SuiteFolder.create(tmp_path / "runs", tiny_spec())
    code = ("import sys; from pathlib import Path; from mnist_tui.engine.suites.folder import "
            "SuiteFolder; f = SuiteFolder.open(Path(sys.argv[1]), sys.argv[2]); "
            "f.lock.acquire(); print('held', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder.runs_dir), folder.suite_id],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(SuiteBusyError, match=rf"already running \(pid {proc.pid} on "):
            folder.lock.acquire()
        assert isinstance(SuiteBusyError("x"), MnistTuiError)
    finally:
        proc.kill()
        proc.wait()
    folder.lock.acquire()           # the kernel dropped the dead holder's lock
    folder.lock.acquire()           # reentrant for its holder
    folder.lock.release()
    folder.lock.release()
    assert not folder.lock.held


# -- 4. members keyed by the settings that define them ----------------------------------------

def test_a_member_recorded_before_its_spec_changed_shape_is_reused(tmp_path):
    """The recorded spec and today's differ only in fields the suite does not set: one added
    since (missing from spec.json) and one removed since (only in spec.json). members.json is
    what the old code wrote: version 0, keyed by the whole recorded spec."""
    folder = SuiteFolder.create(tmp_path / "runs", tiny_spec())
    first = run_suite(folder)
    assert first.status == "finished" and len(first.ran) == 1
    run_id = first.ran[0]
    spec_path = folder.runs_dir / run_id / "spec.json"
    old = json.loads(spec_path.read_text())
    del old["covariance"]
    old["retired_setting"] = 3
    runs.atomic_write_json(spec_path, old)
    runs.atomic_write_json(folder.path / "members.json", {member_key(old): run_id})

    started = []

    class Listener(SuiteListener):
        def member_start(self, i, n, member):
            started.append(member.label)

    again = run_suite(folder, Listener())
    assert (again.status, again.reused, again.ran, started) == ("finished", [run_id], [], [])
    member = folder.spec().members()[0]
    assert folder.members() == {member.key: run_id}


def _store_run(runs_dir: Path, run_id: str, spec: dict, status: str = "finished") -> None:
    d = runs_dir / run_id
    d.mkdir(parents=True)
    runs.atomic_write_json(d / "spec.json", spec)
    runs.atomic_write_json(d / "meta.json", {"run_id": run_id, "created": run_id,
                                             "pid": 1, "host": socket.gethostname()})
    runs.atomic_write_json(d / "result.json", {"status": status, "job": spec["job"],
                                               "run_id": run_id, "spec": spec, "metrics": {},
                                               "timings": {}})


def test_reuse_runs_matches_the_suites_settings_and_refuses_other_values(tmp_path):
    from mnist_tui.engine.suites.matching import finished_runs_by_key

    runs_dir = tmp_path / "runs"
    spec = tiny_spec()
    m = spec.members()[0]
    older_shape = {k: v for k, v in m.spec.items() if k != "covariance"}
    _store_run(runs_dir, "20260101-120000-tsne-gmm-aaaaaa", older_shape)
    _store_run(runs_dir, "20260101-120001-tsne-gmm-bbbbbb", {**m.spec, "perplexity": 5.0})
    _store_run(runs_dir, "20260101-120002-tsne-gmm-cccccc", {**m.spec, "seed": 1})
    _store_run(runs_dir, "20260101-120003-tsne-gmm-dddddd", m.spec, status="failed")
    assert finished_runs_by_key(runs_dir, spec.members()) == {
        m.key: "20260101-120000-tsne-gmm-aaaaaa"}


def test_a_members_key_is_the_settings_the_suite_sets():
    spec = SuiteSpec(name="seed", methods=("tsne-gmm", "vgg16"), sizes=(300,),
                     supervised_samples=100, overrides={"dataset": "digits", "epochs": 1},
                     protocols=("notebook", "standard")).validate()
    keys = [json.loads(m.key) for m in spec.members()]
    assert keys[0] == {"job": "tsne-gmm", "preset": "seed", "samples": 300, "seed": 0,
                       "dataset": "digits"}
    assert {"job": "vgg16", "preset": "default", "samples": None, "seed": 0,
            "input_size": 32, "dataset": "digits", "epochs": 1} in keys
    assert len({m.key for m in spec.members()}) == len(keys)


# -- 5. typed, versioned records ---------------------------------------------------------------

def test_version_0_status_and_members_files_still_read(tmp_path):
    from mnist_tui.engine.suites.records import SuiteMembers, SuiteStatus

    v0_status = {"suite_id": "20260101-120000-sweep-abc123", "status": "finished",
                 "created": "2026-01-01T12:00:00+0000", "updated": "2026-01-01T12:01:00+0000",
                 "members": 4, "finished": 3, "failed": ["cnn default 100 images seed 0"],
                 "rerun_of": None}
    st = SuiteStatus.from_dict(v0_status)
    assert (st.schema_version, st.status, st.members, st.finished, st.failed, st.runner) == (
        0, "finished", 4, 3, ("cnn default 100 images seed 0",), None)
    assert SuiteStatus.from_dict(st.to_dict()).to_dict() == st.to_dict()
    assert st.to_dict()["schema_version"] == 1

    m = SuiteMembers.from_dict({'{"job":"cnn","seed":0}': "r1"})
    assert (m.schema_version, m.members) == (0, {'{"job":"cnn","seed":0}': "r1"})
    assert SuiteMembers.from_dict(m.to_dict()) == SuiteMembers({'{"job":"cnn","seed":0}': "r1"})

    # through the folder: the old shapes, as the old code wrote them
    spec = tiny_spec()
    folder = SuiteFolder(tmp_path / "runs", v0_status["suite_id"])
    folder.path.mkdir(parents=True)
    runs.atomic_write_json(folder.path / "suite.json", spec.to_dict())
    runs.atomic_write_json(folder.path / "status.json", v0_status)
    runs.atomic_write_json(folder.path / "members.json",
                           {json.dumps(spec.members()[0].spec, sort_keys=True,
                                       separators=(",", ":")): "r1"})
    assert folder.read_status() == st
    assert folder.members() == {spec.members()[0].key: "r1"}


def test_measurements_are_a_versioned_record_and_a_version_0_file_still_reads(tmp_path):
    from mnist_tui.engine.suites.records import Measurement

    folder = SuiteFolder.create(tmp_path / "runs", tiny_spec())
    folder.set_measurement("r1", Measurement(peak_rss_bytes=5_000_000, source="/proc"))
    folder.set_measurement("r2", Measurement(status="failed", error="error: no such file"))
    on_disk = json.loads((folder.path / "measurements.json").read_text())
    assert on_disk == {"schema_version": 1, "runs": {
        "r1": {"peak_rss_bytes": 5_000_000, "source": "/proc"},
        "r2": {"status": "failed", "error": "error: no such file"}}}
    # version 0, as the old code wrote it: a flat {run id: values}
    runs.atomic_write_json(folder.path / "measurements.json",
                           {"r1": {"peak_rss_bytes": 7, "source": "/proc"}})
    record = folder.measurements()
    assert record.schema_version == 0
    assert record.runs == {"r1": Measurement(peak_rss_bytes=7, source="/proc")}


@pytest.mark.parametrize("text, needle", [
    ('{"r1": {"peak_rss_bytes": "lots"}}', "r1: peak_rss_bytes must be a non-negative integer"),
    ('{"schema_version": 1, "runs": {"r1": 3}}', "r1: a measurement must be an object"),
    ('{"schema_version": 1, "runs": []}', "expected run ids mapped to measurements"),
    ("not json", "cannot be read"),
])
def test_an_unreadable_measurements_file_costs_the_report_its_peaks_not_the_report(
        tmp_path, text, needle):
    from mnist_tui.engine.suites.records import Measurement
    from mnist_tui.engine.suites.report import build_report
    from mnist_tui.engine.suites.report_text import terminal_summary

    folder = SuiteFolder.create(tmp_path / "runs", tiny_spec())
    (folder.path / "measurements.json").write_text(text)
    with pytest.raises(MnistTuiError, match=needle):
        folder.measurements()
    report = build_report(folder)
    assert [r.peak_rss_mb for r in report.rows] == [None] * len(report.rows)
    problem = next(line for line in terminal_summary(report) if "peak memory not shown" in line)
    assert str(folder.path / "measurements.json") in problem
    # the next member's measurement replaces the unreadable file
    folder.set_measurement("r9", Measurement(peak_rss_bytes=1, source="/proc"))
    assert folder.measurements().runs == {"r9": Measurement(peak_rss_bytes=1, source="/proc")}


@pytest.mark.parametrize("name, text, needle", [
    ("status.json", "not json", "cannot be read"),
    ("status.json", "[1, 2]", "expected a JSON object"),
    ("status.json", '{"suite_id": "x", "status": "running", "created": "a", "updated": "b", '
                    '"members": "three"}', "members must be an integer"),
    ("status.json", '{"suite_id": "x", "status": "odd", "created": "a", "updated": "b"}',
     "unknown status 'odd'"),
    ("status.json", '{"schema_version": 9, "suite_id": "x", "status": "running", '
                    '"created": "a", "updated": "b"}', "newer than this mnist-tui reads"),
    ("members.json", '{"k": 3}', "expected member keys mapped to run ids"),
    ("members.json", '{"schema_version": 1, "members": []}', "expected member keys"),
    ("members.json", "\x00", "cannot be read"),
])
def test_bad_records_are_one_line_errors_naming_the_file(tmp_path, name, text, needle):
    folder = SuiteFolder.create(tmp_path / "runs", tiny_spec())
    (folder.path / name).write_text(text)
    read = folder.read_status if name == "status.json" else folder.members
    with pytest.raises(MnistTuiError, match=needle) as info:
        read()
    assert str(folder.path / name) in str(info.value) and "\n" not in str(info.value)


def test_a_bad_members_file_stops_resume_with_one_error_line(cli_env, run_cli):
    runs_dir = Path(cli_env["MNIST_TUI_RUNS_DIR"])
    folder = SuiteFolder.create(runs_dir, tiny_spec())
    (folder.path / "members.json").write_text("{broken")
    r = run_cli(["--batch", "--resume", folder.suite_id], cli_env)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "members.json" in lines[0]
    assert run_dirs(runs_dir) == []


# -- a Ctrl-C that Python swallowed still stops the suite -------------------------------------

@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the point
@pytest.mark.parametrize("inherited", [signal.default_int_handler, signal.SIG_IGN],
                         ids=["python-handler", "ignored"])
def test_a_ctrl_c_swallowed_by_a_finalizer_still_stops_the_suite(tmp_path, inherited):
    """Python ignores an exception raised in `__del__`: a SIGINT landing while an object is
    finalised (the finished member's Popen, as its frame goes) used to be lost, and the suite
    ran on to the end (exit 0 instead of 130). The same when the process started with SIGINT
    ignored (a script's background job): the suite used to leave it ignored and ran on."""
    previous = signal.signal(signal.SIGINT, inherited)
    try:
        _ctrl_c_at_the_first_member_end(tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c_at_the_first_member_end(tmp_path):
    class Finalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)   # its KeyboardInterrupt is "ignored"

    class CtrlCAtTheEnd(SuiteListener):
        def member_end(self, i, n, member, result):
            Finalised()

    spec = SuiteSpec(name="sweep", methods=("tsne-gmm",), presets=("default",), sizes=(100, 150), seeds=(0,),
                     overrides=TINY).validate()
    folder = SuiteFolder.create(tmp_path / "runs", spec)
    out = run_suite(folder, CtrlCAtTheEnd())
    assert out.status == "interrupted" and len(out.ran) == 1
    assert status_file(folder)["status"] == "interrupted"
