"""`mnist-tui --batch --suite … --parallel 2` end to end, and the executor flags' errors.

A Ctrl-C while two members run at once stops both (each records what it measured), exits 130
and leaves the suite resumable; `--resume ID --parallel 2` (executor flags say how, not what)
reuses the finished members and runs the rest two at a time. Every wrong executor flag is one
`error:` line, exit 2, nothing created.

When members ran is read from their result records (`started_utc`, microseconds, plus the
job's own `timings.total`), as in tests/engine/test_suite_parallel.py."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support import patient

SUITE = ["--batch", "--suite", "sweep", "--methods", "tsne-gmm", "--seeds", "1",
         "--dataset", "digits", "--iterations", "260", "--gmm-inits", "1",
         "--presets", "default"]
NO_RAY = "import sys; sys.modules['ray'] = None; from mnist_tui.cli import main; sys.exit(main())"


def _read(p: Path) -> dict:
    return json.loads(p.read_text())


def _interval(res: dict) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(res["started_utc"])
    return start, start + timedelta(seconds=res["timings"]["total"])


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_ctrl_c_stops_both_running_members_and_resume_with_parallel_2_finishes(cli_env,
                                                                               run_cli):
    runs_dir = Path(cli_env["MNIST_TUI_RUNS_DIR"])
    proc = subprocess.Popen([sys.executable, "-m", "mnist_tui", *SUITE, "--sizes",
                             "100,150,200", "--parallel", "2"], env=cli_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    suite_id, seen, ended = None, [], set()
    started: set[int] = set()
    deadline = time.monotonic() + patient(120)
    # Wait, on the output, until a member of the first two ended and the third one is past
    # loading (its run folder exists: it starts t-SNE): then two members run (the third, and
    # the first two's other unless it just ended too).
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("running suite sweep "):
            suite_id = line.split()[3].rstrip(":")
        if m := re.match(r"\[(\d)\] \[ *[\d.]+s\] tsne: ", line):
            started.add(int(m[1]))
        if m := re.match(r"  → tsne-gmm default (\d+) images", line):
            ended.add(int(m[1]))
        if 3 in started:
            break
    assert suite_id and 3 in started and ended and 200 not in ended, "".join(seen)
    assert "executor: local, 2 members at once\n" in seen
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=patient(60))
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err
    assert f"--resume {suite_id}" in out
    # the stopped member was delivered before the suite ended (its line, then the table)
    assert "  → tsne-gmm default 200 images seed 0: interrupted" in out
    assert "RUNNING:" not in out
    folder = runs_dir / "suites" / suite_id
    status = _read(folder / "status.json")
    assert status["status"] == "interrupted"
    assert status["executor"] == {"kind": "local", "parallel": 2, "address": None}
    members = _read(folder / "members.json")["members"]
    assert len(members) == 3
    results = {json.loads(key)["samples"]: _read(runs_dir / run_id / "result.json")
               for key, run_id in members.items()}
    # every member that had not ended when the Ctrl-C came was stopped and recorded (one that
    # ended in that instant is recorded finished); the third had just started
    assert results[200]["status"] == "interrupted"
    for size, res in results.items():
        assert res["status"] == "finished" if size in ended else (
            res["status"] in ("interrupted", "finished")), (size, res["status"])
        assert res["placement"]["parallel"] == 2 and res["placement"]["threads"] == 1
    # the first two ran at once (their recorded intervals intersect)
    assert _overlap(_interval(results[100]), _interval(results[150]))
    finished = {size for size, res in results.items() if res["status"] == "finished"}

    r = run_cli(["--batch", "--resume", suite_id, "--parallel", "2"], cli_env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.count("finished before, reusing run") == len(finished) >= 1
    for key, run_id in members.items():
        if json.loads(key)["samples"] in finished:
            assert f"reusing run {run_id}" in r.stdout
    after = _read(folder / "members.json")["members"]
    assert len(after) == 3
    for key, run_id in after.items():
        res = _read(runs_dir / run_id / "result.json")
        assert res["status"] == "finished"
        if json.loads(key)["samples"] in finished:
            assert run_id == members[key]          # reused, not run again
    status = _read(folder / "status.json")
    assert (status["status"], status["finished"]) == ("finished", 3)
    assert status["executor"] == {"kind": "local", "parallel": 2, "address": None}


@pytest.mark.parametrize("args, needle", [
    (["--parallel", "0"], "--parallel: give a whole number of members from 1 to 256 (got 0)"),
    (["--parallel", "x"], "--parallel: give a whole number of members (got 'x')"),
    (["--parallel", "999"], "from 1 to 256 (got 999)"),
    (["--executor", "gpu"], "--executor: unknown executor 'gpu' (choose from local, ray)"),
    (["--ray-address", "10.0.0.1:6379"], "--ray-address needs --executor ray"),
    (["--executor", "local", "--ray-address", "auto"], "--ray-address needs --executor ray"),
    (["--executor", "ray", "--ray-address", ""], "--ray-address: give auto, or HOST:PORT"),
    (["--executor", "ray", "--ray-address", "head:6379\nx"], "--ray-address: give auto"),
])
def test_executor_flag_errors_are_one_line_exit_2(cli_env, run_cli, args, needle):
    r = run_cli([*SUITE, "--sizes", "100", *args], cli_env)
    _one_error_line(r, cli_env, needle)


@pytest.mark.parametrize("args, needle", [
    (["--batch", "--job", "tsne-gmm", "--parallel", "2"], "--parallel needs --suite"),
    (["--batch", "--job", "tsne-gmm", "--executor", "ray"], "--executor needs --suite"),
    (["--parallel", "2"], "--parallel needs --batch"),     # never starts the TUI
])
def test_executor_flags_need_a_suite(cli_env, run_cli, args, needle):
    r = run_cli(args, cli_env)
    _one_error_line(r, cli_env, needle)


def test_ray_not_installed_says_how_to_install_it(cli_env):
    r = subprocess.run([sys.executable, "-c", NO_RAY, *SUITE, "--sizes", "100",
                        "--executor", "ray"], env=cli_env, capture_output=True, text=True,
                       timeout=patient(60))
    _one_error_line(r, cli_env, 'pip install -e ".[ray]"')
    assert "not installed" in r.stderr


def test_a_ray_address_where_nothing_answers_is_one_line_within_seconds(cli_env, run_cli):
    began = time.monotonic()
    r = run_cli([*SUITE, "--sizes", "100", "--executor", "ray", "--ray-address",
                 "127.0.0.1:1"], cli_env)
    took = time.monotonic() - began
    _one_error_line(r, cli_env, "--ray-address 127.0.0.1:1: nothing answers there")
    assert took < patient(15), took     # a few seconds (Ray's own wait is minutes)


def _one_error_line(r: subprocess.CompletedProcess, env: dict, needle: str) -> None:
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert needle in lines[0], lines[0]
    assert not (Path(env["MNIST_TUI_RUNS_DIR"]) / "suites").exists()   # nothing created


def test_ctrl_c_to_the_terminal_group_with_the_suites_own_ray_records_every_member(cli_env):
    """A Ctrl-C in a terminal reaches its whole process group, and a Ray the suite started for
    itself (`--ray-address local`) ran in that group: its GCS, raylet and workers got the
    SIGINT too and died under the members (one recorded "the worker process ended without a
    result (exit code 1)"). Ray's processes now start deaf to it; only the driver hears the
    Ctrl-C, and stops every member through the executor, each recording what it measured."""
    pytest.importorskip("ray")
    runs_dir = Path(cli_env["MNIST_TUI_RUNS_DIR"])
    env = {**cli_env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.Popen([sys.executable, "-m", "mnist_tui", *SUITE, "--sizes", "300,400",
                             "--iterations", "5000", "--executor", "ray", "--ray-address",
                             "local", "--parallel", "2"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert proc.stdout is not None
    seen, in_tsne = [], set()
    deadline = time.monotonic() + patient(120)
    try:
        while time.monotonic() < deadline and len(in_tsne) < 2:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            # both well into t-SNE: progress lines come every 5 s per member
            if (m := re.match(r"\[(\d)\] \[ *[\d.]+s\] tsne ([\d,]+)/5,000", line)) \
                    and int(m[2].replace(",", "")) >= 250:
                in_tsne.add(m[1])
        assert len(in_tsne) == 2, "".join(seen[-20:])
        os.killpg(proc.pid, signal.SIGINT)     # as a terminal's Ctrl-C: the whole group
        out, _ = proc.communicate(timeout=patient(90))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = "".join(seen) + out
    assert proc.returncode == 130, text[-3000:]
    results = [_read(p) for p in runs_dir.glob("*/result.json")]
    assert len(results) == 2, text[-3000:]
    for res in results:
        assert res["status"] == "interrupted"
        assert res["stopped_by"] == "ctrl-c"           # the worker's own record of the stop
        assert res["placement"]["executor"] == "ray"
        assert res["timings"]["tsne"] > 0              # what it measured is kept
    assert "--resume" in text
