"""The run store: atomic writes, run ids, listing, path safety, events, reaping, deleting."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support import fake_worker_dir, patient, start_fake_worker, wait_until

from mnist_tui.engine.errors import MnistTuiError
from mnist_tui.engine.jobs.events import Epoch, Log, Started
from mnist_tui.engine.runs.procs import process_start_time
from mnist_tui.engine.runs.records import RunMeta, write_meta
from mnist_tui.engine.runs.store import (
    EVENTS_FILE,
    META_FILE,
    RESULT_FILE,
    SPEC_FILE,
    RunStore,
    atomic_write_json,
    atomic_write_text,
    new_run_id,
    pid_alive,
    read_json,
    record_unfinished,
)

HOST = socket.gethostname()


def make_run(root: Path, run_id: str, *, spec: dict | None = None, meta: dict | None = None,
             result: dict | None = None, events: list[str] | None = None) -> Path:
    """A run folder written by hand: the files given, and nothing else."""
    d = root / run_id
    d.mkdir(parents=True)
    (d / SPEC_FILE).write_text(json.dumps(spec if spec is not None else
                                          {"job": "tsne-gmm", "preset": "default", "seed": 0}))
    if meta is not None:
        (d / META_FILE).write_text(json.dumps(meta))
    if result is not None:
        (d / RESULT_FILE).write_text(json.dumps(result))
    if events is not None:
        (d / EVENTS_FILE).write_text("".join(line + "\n" for line in events))
    return d


def dead_pid() -> int:
    """The pid of a child process that has exited and been waited for."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- atomic writes -------------------------------------------------------------------------------

def test_atomic_write_json_writes_parseable_file_and_no_temp(tmp_path):
    target = tmp_path / "result.json"
    obj = {"a": 1, "b": [1.5, None], "n": np.int64(3), "arr": np.arange(3), "p": Path("/x/y")}
    atomic_write_json(target, obj)
    assert os.listdir(tmp_path) == ["result.json"]
    assert read_json(target) == {"a": 1, "b": [1.5, None], "n": 3, "arr": [0, 1, 2], "p": "/x/y"}
    assert target.read_text().endswith("}\n")
    atomic_write_json(target, {"a": 2})                 # overwrite
    assert read_json(target) == {"a": 2}
    assert os.listdir(tmp_path) == ["result.json"]


def test_atomic_write_replaces_the_file_rather_than_rewriting_it(tmp_path):
    target = tmp_path / "meta.json"
    atomic_write_json(target, {"version": 1})
    with open(target, encoding="utf-8") as old:        # a reader that opened the old file
        atomic_write_json(target, {"version": 2, "pad": "x" * 10000})
        assert json.loads(old.read()) == {"version": 1}     # still sees a whole old file
    assert read_json(target)["version"] == 2


def test_atomic_write_json_writes_non_finite_numbers_as_null(tmp_path):
    """A diverged loss (NaN/inf) must not make the result unwritable, nor write invalid JSON."""
    target = tmp_path / "result.json"
    atomic_write_json(target, {"ok": False, "loss": float("nan"),
                               "history": [{"loss": np.float32("inf")}, {"loss": 1.5}]})
    assert json.loads(target.read_text()) == {"ok": False, "loss": None,
                                              "history": [{"loss": None}, {"loss": 1.5}]}
    assert os.listdir(tmp_path) == ["result.json"]


def test_atomic_write_text_failing_mid_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "notes.txt"
    atomic_write_text(target, "old\n")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "new " * 1000 + "\ud800")   # a lone surrogate cannot be encoded
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["notes.txt"]


# -- run ids -------------------------------------------------------------------------------------

def test_new_run_id_format():
    before = time.time()
    run_id = new_run_id("tsne-gmm")
    after = time.time()
    m = re.fullmatch(r"(\d{8}-\d{6})-tsne-gmm-([0-9a-f]{6})", run_id)
    assert m, run_id
    stamp = time.mktime(time.strptime(m.group(1), "%Y%m%d-%H%M%S"))
    assert int(before) - 1 <= stamp <= after + 1


def test_new_run_ids_are_unique_and_sortable():
    ids = [new_run_id("job") for _ in range(2000)]
    # 6 random hex digits (16.7 M values): 2,000 ids collide 0.12 times on average, so more
    # than 5 collisions is a ~1e-8 event; with 4 hex digits (65,536 values) ~30 would collide
    assert len(set(ids)) >= 1995
    assert all(re.fullmatch(r"\d{8}-\d{6}-job-[0-9a-f]{6}", i) for i in ids)
    # sortable: an id made in a later second sorts after, whatever the job name says
    first = new_run_id("zzz")
    stamp = first[:15]
    deadline = time.monotonic() + patient(5)
    while time.strftime("%Y%m%d-%H%M%S") == stamp:    # the next second (at most ~1 s)
        assert time.monotonic() < deadline, "the clock did not move"
        time.sleep(0.01)
    later = new_run_id("aaa")
    assert later[:15] > stamp and sorted([later, first]) == [first, later]


# -- listing -------------------------------------------------------------------------------------

def test_list_newest_first_with_statuses_skipping_unreadable(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "r1", meta={"created": "2024-01-01T10:00:00"},
             result={"status": "finished", "metrics": {"accuracy": 0.9}})
    make_run(root, "r2", meta={"created": "2024-01-03T10:00:00"}, result={"status": "cancelled"})
    make_run(root, "r3", meta={"created": "2024-01-02T10:00:00"})            # no result: running
    make_run(root, "r4", meta={"created": "2024-01-04T10:00:00"}, result={"error": "boom"})
    make_run(root, "r5", spec={"preset": "x"})                    # no meta, no job → "?"
    make_run(root, "r6", meta={"created": "2024-01-02T10:00:00"},
             result={"status": "interrupted"})                   # same time as r3: id decides
    # unreadable: no spec, torn spec, torn result, a stray file
    (root / "no-spec").mkdir()
    (root / "no-spec" / META_FILE).write_text("{}")
    make_run(root, "torn-spec")
    (root / "torn-spec" / SPEC_FILE).write_text('{"job": "tsne')
    make_run(root, "torn-result", meta={"created": "2030-01-01"})
    (root / "torn-result" / RESULT_FILE).write_text('{"status": "fin')
    (root / "binary").mkdir()
    (root / "binary" / SPEC_FILE).write_bytes(b"\xff\xfe\x00garbage")
    (root / "notes.txt").write_text("not a run")

    runs = RunStore(root).list()
    assert [r.run_id for r in runs] == ["r4", "r2", "r6", "r3", "r1"]
    assert [r.status for r in runs] == ["failed", "cancelled", "interrupted", "running",
                                        "finished"]
    by_id = {r.run_id: r for r in runs}
    assert by_id["r1"].job == "tsne-gmm"
    assert by_id["r1"].created == "2024-01-01T10:00:00"
    assert by_id["r1"].result.status == "finished"
    assert by_id["r1"].result.metrics.to_dict() == {"accuracy": 0.9}
    assert by_id["r1"].result.schema_version == 1      # read in the current shape
    assert by_id["r1"].path == root / "r1"
    assert by_id["r1"].spec == {"job": "tsne-gmm", "preset": "default", "seed": 0}
    assert by_id["r3"].result is None
    skipped = {s.name: s.reason for s in RunStore(root).listing()[1]}
    assert "unknown job None" in skipped["r5"]


def test_list_of_missing_or_empty_root_is_empty(tmp_path):
    assert RunStore(tmp_path / "nowhere").list() == []
    assert RunStore(tmp_path).list() == []


def test_runs_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_TUI_RUNS_DIR", str(tmp_path / "r"))
    assert RunStore().root == tmp_path / "r"


@pytest.mark.parametrize("name,text", [(SPEC_FILE, "null"), (SPEC_FILE, "[1, 2]"),
                                       (META_FILE, "null"), (RESULT_FILE, '["finished"]')])
def test_list_skips_run_whose_json_is_not_an_object(tmp_path, name, text):
    make_run(tmp_path, "good", meta={"created": "2024"})
    make_run(tmp_path, "bad", meta={"created": "2024"})
    (tmp_path / "bad" / name).write_text(text)
    assert [r.run_id for r in RunStore(tmp_path).list()] == ["good"]


# -- paths ---------------------------------------------------------------------------------------

def test_path_accepts_a_run_and_rejects_unknown_ids_and_tricks(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "r1")
    make_run(root, ".hidden")
    make_run(tmp_path, "outside")                        # ../outside would be a real run folder
    (root / "nospec").mkdir()
    make_run(root / "nested", "inner")
    store = RunStore(root)
    assert store.path("r1") == root / "r1"
    for bad in ["nope", "../outside", ".hidden", "", "nospec", "nested/inner", "..", ".",
                str(tmp_path / "outside"), "r1/"]:
        with pytest.raises(MnistTuiError, match=r"^no run "):
            store.path(bad)


def test_load_spec_and_result(tmp_path):
    store = RunStore(tmp_path)
    make_run(tmp_path, "done", spec={"job": "tsne-gmm", "seed": 3}, result={"status": "finished"})
    make_run(tmp_path, "going")
    assert store.load_spec("done") == {"job": "tsne-gmm", "seed": 3}
    assert store.load_result("done").status == "finished"
    assert store.load_result("going") is None
    with pytest.raises(MnistTuiError):
        store.load_spec("../done")


# -- events --------------------------------------------------------------------------------------

def test_events_skips_a_torn_last_line(tmp_path):
    lines = [Started(t=0.0, job="tsne-gmm", run_id="r").to_json(),
             Log(t=1.0, message="hello").to_json(),
             Epoch(t=2.0, epoch=1, epochs=2, metrics={"loss": 0.5}).to_json()]
    make_run(tmp_path, "r", events=lines)
    with open(tmp_path / "r" / EVENTS_FILE, "a", encoding="utf-8") as fh:
        fh.write('{"type":"epoch","t":3.0,"epo')           # the writer was killed here
    events = RunStore(tmp_path).events("r")
    assert [e.type for e in events] == ["started", "log", "epoch"]
    assert events[2] == Epoch(t=2.0, epoch=1, epochs=2, metrics={"loss": 0.5}, seconds=0.0)


def test_events_of_run_without_events_file(tmp_path):
    make_run(tmp_path, "r")
    assert RunStore(tmp_path).events("r") == []


# -- unfinished runs -----------------------------------------------------------------------------

EPOCH_LINES = [
    Started(t=0.0, job="tsne-gmm", run_id="r").to_json(),
    Epoch(t=1.0, epoch=1, epochs=3, metrics={"loss": 0.9, "accuracy": 0.5}).to_json(),
    Log(t=1.5, message="between").to_json(),
    Epoch(t=2.0, epoch=2, epochs=3, metrics={"loss": 0.4, "accuracy": 0.8}).to_json(),
    '{"type":"epoch","t":3.0,"epoch":3,"epochs":3,"metr',       # torn
]


def meta_keys_recorded():
    return ("status", "error", "job", "preset", "seed", "run_id", "run_dir", "dataset",
            "metrics", "confusion_matrix", "timings", "history", "spec")


def test_record_unfinished_keeps_epoch_history(tmp_path):
    spec = {"job": "tsne-gmm", "preset": "seed", "seed": 4}
    meta = {"created": "2024-01-01", "dataset": {"name": "digits"}, "pid": 1, "host": HOST}
    run = make_run(tmp_path, "r", spec=spec, meta=meta, events=EPOCH_LINES)
    record = record_unfinished(run, "interrupted", "killed")
    result = record.to_dict()
    assert read_json(run / RESULT_FILE) == result
    assert record.stopped_by is None and record.schema_version == 1
    result["meta"] = {k: result["meta"][k] for k in meta}
    assert {k: result[k] for k in (*meta_keys_recorded(), "meta")} == {
        "status": "interrupted", "error": "killed", "job": "tsne-gmm", "preset": "seed",
        "seed": 4, "run_id": "r", "run_dir": str(run), "dataset": {"name": "digits"},
        "metrics": {}, "confusion_matrix": None, "timings": {},
        "history": [{"epoch": 1, "loss": 0.9, "accuracy": 0.5},
                    {"epoch": 2, "loss": 0.4, "accuracy": 0.8}],
        "spec": spec, "meta": meta,
    }
    assert sorted(os.listdir(run)) == [EVENTS_FILE, META_FILE, RESULT_FILE, SPEC_FILE]


def test_record_unfinished_never_overwrites_a_result(tmp_path):
    run = make_run(tmp_path, "r", result={"status": "finished", "metrics": {"accuracy": 1.0}},
                   events=EPOCH_LINES)
    before = (run / RESULT_FILE).read_bytes()
    assert record_unfinished(run, "interrupted", "killed") is None
    assert (run / RESULT_FILE).read_bytes() == before
    # and a second call after a first one keeps the first
    run2 = make_run(tmp_path, "r2")
    first = record_unfinished(run2, "cancelled", "asked to stop")
    assert first.history == [] and first.dataset is None and first.extra["meta"] == {}
    assert record_unfinished(run2, "interrupted", "other") is None
    assert read_json(run2 / RESULT_FILE)["status"] == "cancelled"


def test_record_unfinished_without_spec_does_nothing(tmp_path):
    (tmp_path / "r").mkdir()
    assert record_unfinished(tmp_path / "r", "interrupted", "x") is None
    assert os.listdir(tmp_path / "r") == []


# -- reaping -------------------------------------------------------------------------------------

def test_pid_alive():
    assert pid_alive(os.getpid())
    assert not pid_alive(dead_pid())
    assert not pid_alive(0)
    assert not pid_alive(-1)


def test_reap_marks_dead_worker_interrupted_and_leaves_live_one(tmp_path):
    dead = make_run(tmp_path, "dead", meta={"created": "2024-01-01", "pid": dead_pid(),
                                            "host": HOST}, events=EPOCH_LINES)
    alive = make_run(tmp_path, "alive")
    worker = start_fake_worker(fake_worker_dir(), alive)     # a live worker of exactly that run
    try:
        wait_until(lambda: b"worker" in Path(f"/proc/{worker.pid}/cmdline").read_bytes(),
                   patient(10), "the fake worker")
        write_meta(alive, RunMeta(created="2024-01-02", pid=worker.pid, host=HOST,
                                  pid_start=process_start_time(worker.pid)))
        _reap_leaves_the_live_worker(tmp_path, dead, alive)
    finally:
        worker.kill()
        worker.wait()


def _reap_leaves_the_live_worker(tmp_path: Path, dead: Path, alive: Path) -> None:
    nometa = make_run(tmp_path, "nometa")
    done = make_run(tmp_path, "done", meta={"created": "2024-01-03", "pid": dead_pid(),
                                            "host": HOST}, result={"status": "finished"})
    done_before = (done / RESULT_FILE).read_bytes()
    store = RunStore(tmp_path)

    assert sorted(store.reap()) == ["dead", "nometa"]
    result = read_json(dead / RESULT_FILE)
    assert result["status"] == "interrupted"
    assert "ended without a result" in result["error"]
    assert [h["epoch"] for h in result["history"]] == [1, 2]
    assert read_json(nometa / RESULT_FILE)["status"] == "interrupted"
    assert not (alive / RESULT_FILE).exists()
    assert (done / RESULT_FILE).read_bytes() == done_before
    statuses = {r.run_id: r.status for r in store.list()}
    assert statuses == {"dead": "interrupted", "nometa": "interrupted", "alive": "running",
                        "done": "finished"}
    assert store.reap() == []                            # nothing left to reap


# -- deleting ------------------------------------------------------------------------------------

def test_delete(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "a", events=EPOCH_LINES, result={"status": "finished"})
    make_run(root, "b")
    make_run(tmp_path, "outside")
    store = RunStore(root)
    store.delete("a")
    assert not (root / "a").exists()
    assert [r.run_id for r in store.list()] == ["b"]
    for bad in ["a", "../outside", "", "."]:
        with pytest.raises(MnistTuiError):
            store.delete(bad)
    assert (tmp_path / "outside" / SPEC_FILE).is_file()
    assert (root / "b" / SPEC_FILE).is_file()


def test_record_dead_worker_keeps_history_names_the_signal_and_the_last_line(tmp_path):
    import tempfile

    from mnist_tui.engine.runs.launch import record_dead_worker, stderr_tail

    run = make_run(tmp_path, "killed", meta={"created": "2024-01-01", "pid": dead_pid(),
                                             "host": HOST}, events=EPOCH_LINES)
    with tempfile.TemporaryFile() as err:
        err.write(b"loading\nMemoryError: cannot allocate\n")
        tail = stderr_tail(err, run, 12)
    assert tail.splitlines()[-1] == "MemoryError: cannot allocate"
    reason, result = record_dead_worker(run, "failed", -9, tail)
    assert reason == ("the worker process ended without a result (killed by SIGKILL: most "
                      "often the kernel's out-of-memory killer (see `dmesg`), or kill -9)")
    assert result.status == "failed"
    assert result.stopped_by == "signal"
    assert result.error.endswith("or kill -9): MemoryError: cannot allocate")
    assert [h["epoch"] for h in result.history] == [1, 2]
    # A second call (the run already has its result) returns that result untouched.
    again_reason, again = record_dead_worker(run, "cancelled", 1, "")
    assert again_reason.endswith("(exit code 1)")
    assert again.to_dict() == result.to_dict()


def test_lower_priority_reaches_a_new_sessions_autogroup():
    """Workers start in their own session; under autogroup scheduling only the group's nice
    keeps them below the app, so both the threads' and the group's nice are set."""
    from mnist_tui.engine.runs.launch import lower_priority

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                            start_new_session=True)
    try:
        lower_priority(proc.pid, 10)
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == 10
        group = Path(f"/proc/{proc.pid}/autogroup")
        if group.is_file() and Path("/proc/sys/kernel/sched_autogroup_enabled").read_text() \
                .strip() == "1":
            text = group.read_text()
            deadline = time.monotonic() + patient(5)
            while "nice 10" not in text and time.monotonic() < deadline:
                time.sleep(0.05)        # the kernel rate-limits changes (EAGAIN): again
                lower_priority(proc.pid, 10)
                text = group.read_text()
            assert text.strip().endswith("nice 10"), text
    finally:
        proc.kill()
        proc.wait()
