"""Hostile output places and streams (issue 22, items 1, 7 and the `error:`-line half of 13).

- A suite's `--json` and `--report` are checked before any member runs, with the checks of a
  single `--batch --job`, and written through devices, FIFOs and links (never renamed over);
  the report's .md/.json/.csv are refused next to a device.
- A stdout that is closed (`>&-`), full (`> /dev/full`) or read-only loses the human lines, not
  the run; only a `--json -` that cannot be written is an error (exit 2).
- Every `error:` line is one short line: control characters escaped, huge values cut.

Device nodes are our own clones (mknod, root only) in a tmp folder: the real /dev is never
named as an output here.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fault_helpers import QUICK, SUITE
from support import patient

pytestmark = pytest.mark.faults



def cli(args, env, stdout=subprocess.PIPE, timeout=180, preexec_fn=None):
    return subprocess.run([sys.executable, "-m", "mnist_tui", *args], env=env, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=patient(timeout),
                          check=False, preexec_fn=preexec_fn)


def error_lines(out) -> list[str]:
    return [line for line in out.stderr.splitlines() if line.startswith("error:")]


def one_error_line(out) -> str:
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    return lines[0]


def entries(root: Path) -> list[str]:
    """What the runs folder holds: run folders and the suites folder."""
    return sorted(os.listdir(root)) if root.is_dir() else []


def finished_runs(root: Path) -> list[dict]:
    return [json.loads((p / "result.json").read_text()) for p in sorted(root.iterdir())
            if p.name != "suites" and (p / "result.json").is_file()]


def close_stdout() -> None:
    """In the child, after the redirections: what `>&-` does."""
    os.close(1)


def char_device(path: Path, minor: int) -> Path:
    """A clone of /dev/null (minor 3) or /dev/full (minor 7) at `path` (root only, skipped
    where this system does not let us make or open one)."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
        os.close(os.open(path, os.O_WRONLY))
    except OSError as exc:
        pytest.skip(f"cannot make a character device here: {exc.strerror}")
    return path


def assert_same_device(path: Path, minor: int) -> None:
    st = os.lstat(path)
    assert stat.S_ISCHR(st.st_mode), "the device was replaced by a regular file"
    assert st.st_rdev == os.makedev(1, minor)


def fifo_reader(path: Path) -> tuple[threading.Thread, list[str]]:
    os.mkfifo(path)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(path.read_text()), daemon=True)
    reader.start()
    return reader, got


# --- item 1: a suite's outputs --------------------------------------------------------------

@pytest.mark.parametrize("make, target, words", [
    (lambda t: None, "no/report.json", "does not exist"),            # a missing folder
    (lambda t: t.mkdir(), "out.json", "is a folder"),
])
def test_a_suite_json_target_that_cannot_be_written_is_refused_before_any_member(
        env, runs, tmp_path, make, target, words):
    """Bug: every member ran, then `cannot write` (exit 2) at the very end."""
    path = tmp_path / target
    make(path)
    out = cli([*SUITE, "--json", str(path)], env, timeout=60)
    assert out.returncode == 2, out.stderr
    line = one_error_line(out)
    assert line.startswith("error: --json: ") and words in line
    assert entries(runs) == []                       # no member ran, no suite recorded


def test_a_suite_with_stdout_closed_writes_json_to_a_fifo_and_a_report_through_a_link(
        env, runs, tmp_path):
    """Bug: exit 3 (`'NoneType' object has no attribute 'isatty'`) with stdout closed; and the
    FIFO and the link were replaced by regular files."""
    fifo = tmp_path / "suite.fifo"
    reader, got = fifo_reader(fifo)
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "shared.html"
    link.symlink_to(real / "report.html")
    out = cli([*SUITE, "--json", str(fifo), "--report", str(link)], env,
              preexec_fn=close_stdout)
    reader.join(patient(30))
    assert out.returncode == 0, out.stderr
    assert error_lines(out) == []
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    report = json.loads(got[0])
    assert report["status"] == "finished" and len(report["rows"]) == 1
    assert link.is_symlink() and os.readlink(link) == str(real / "report.html")
    assert (real / "report.html").read_text().startswith("<!DOCTYPE html>")
    for suffix in (".md", ".json", ".csv"):         # made next to the name given
        assert (tmp_path / f"shared{suffix}").is_file()
    assert json.loads((tmp_path / "shared.json").read_text())["suite_id"] == report["suite_id"]


def test_a_suite_json_through_a_link_to_a_device_keeps_both(env, runs, tmp_path):
    """Bug: as root the temp file was renamed over the link (a /dev/null clone behind it)."""
    null = char_device(tmp_path / "null", 3)
    link = tmp_path / "out.json"
    link.symlink_to(null)
    out = cli([*SUITE, "--json", str(link)], env)
    assert out.returncode == 0, out.stderr
    assert link.is_symlink() and os.readlink(link) == str(null)
    assert_same_device(null, 3)
    (result,) = finished_runs(runs)
    assert result["status"] == "finished"


def test_a_suite_json_to_a_full_device_is_exit_2_and_the_device_stays(env, runs, tmp_path):
    """A full device cannot be known before writing: the suite runs and is recorded, then one
    `error:` line and exit 2. Bug: exit 0, the device renamed over (a file holding the JSON)."""
    full = char_device(tmp_path / "full", 7)
    out = cli([*SUITE, "--json", str(full)], env)
    assert out.returncode == 2, out.stderr
    assert one_error_line(out) == (f"error: --json: cannot write {full}: No space left on "
                                   "device")
    assert_same_device(full, 7)
    (result,) = finished_runs(runs)
    assert result["status"] == "finished"


def test_a_report_at_a_device_is_refused_before_any_member_and_nothing_is_made_beside_it(
        env, runs, tmp_path):
    """Bug: every member ran, then the device was replaced by the HTML and report.md, .json
    and .csv were created next to it (as root, `--report /dev/null` made /dev/null a file)."""
    place = tmp_path / "out"
    place.mkdir()
    null = char_device(place / "null", 3)
    via_link = place / "stdout-like"
    via_link.symlink_to(null)                        # as /dev/stdout is a link
    for target in (null, via_link):
        out = cli([*SUITE, "--report", str(target)], env, timeout=60)
        assert out.returncode == 2, out.stderr
        line = one_error_line(out)
        assert line.startswith(f"error: --report: {target} is a device"), line
        assert_same_device(null, 3)
        assert sorted(os.listdir(place)) == ["null", "stdout-like"]   # no .md/.json/.csv
        assert entries(runs) == []


def test_a_report_whose_sibling_is_a_folder_is_refused_before_any_member(env, runs, tmp_path):
    """The .json copy would land on a folder: found at the end before."""
    (tmp_path / "r.json").mkdir()
    out = cli([*SUITE, "--report", str(tmp_path / "r.html")], env, timeout=60)
    assert out.returncode == 2, out.stderr
    assert one_error_line(out) == f"error: --report: {tmp_path / 'r.json'} is a folder; give " \
                                  "a file name in it"
    assert entries(runs) == []


# --- item 7: closed or full stdout --------------------------------------------------------

@pytest.mark.parametrize("how", ["closed", "full", "read-only"])
def test_progress_that_cannot_be_written_is_dropped_and_the_run_finishes(env, runs, how):
    """Bug: exit 3 `internal error` and no run, for `>&-` and `> /dev/full`."""
    if how == "full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    if how == "closed":
        out = cli(QUICK, env, preexec_fn=close_stdout)
    else:
        with open("/dev/full" if how == "full" else os.devnull,
                  "w" if how == "full" else "r") as sink:
            out = cli(QUICK, env, stdout=sink)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    (result,) = finished_runs(runs)
    assert result["status"] == "finished"


@pytest.mark.parametrize("how, words", [("closed", "stdout is closed"),
                                        ("read-only", "stdout is not open for writing")])
def test_json_to_a_closed_stdout_is_exit_2_before_any_work(env, runs, how, words):
    """Bug: the job ran and was recorded, then exit 3 `internal error`."""
    if how == "closed":
        out = cli([*QUICK, "--json", "-"], env, preexec_fn=close_stdout, timeout=60)
    else:
        with open(os.devnull) as read_only:
            out = cli([*QUICK, "--json", "-"], env, stdout=read_only, timeout=60)
    assert out.returncode == 2
    assert one_error_line(out) == f"error: --json -: {words}; give a file with --json PATH"
    assert entries(runs) == []


def test_json_to_a_full_stdout_is_exit_2_after_the_recorded_run(env, runs):
    """A full stdout is known only when written: the run is recorded, then exit 2 with one
    `error:` line. Bug: exit 3 `internal error: OSError`."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        out = cli([*QUICK, "--json", "-"], env, stdout=full)
    assert out.returncode == 2, out.stderr
    assert error_lines(out) == ["error: --json: cannot write to stdout: No space left on "
                                "device"]
    assert out.stderr.rstrip().endswith(error_lines(out)[0])
    (result,) = finished_runs(runs)
    assert result["status"] == "finished"


# --- item 13, second half: `error:` lines ------------------------------------------------

@pytest.mark.parametrize("digits", [4000, 5000])    # 5,000: past Python's int() limit too
def test_an_absurd_number_is_a_short_error_line(env, runs, digits):
    """Bug: a 4 KB `error:` line echoing every digit."""
    out = cli(["--batch", "--job", "tsne-gmm", "--dataset", "digits", "--iterations",
               "9" * digits], env, timeout=60)
    assert out.returncode == 2
    line = one_error_line(out)
    assert line.startswith("error: --iterations: ")
    assert len(line) < 500 and "more characters" in line
    assert entries(runs) == []


FORGED = "x\nerror: forged\x1b[2J"


@pytest.mark.parametrize("args", [
    ["--batch", FORGED],                                           # argparse's own message
    [*QUICK, "--json", f"/nonexistent/{FORGED}/r.json"],           # --json's folder
    [*SUITE, "--json", f"/nonexistent/{FORGED}/r.json"],           # a suite's
    [*SUITE, "--report", f"/nonexistent/{FORGED}/r.html"],
])
def test_a_newline_or_escape_in_a_value_cannot_forge_or_colour_an_error_line(env, args):
    """Bug: `error: unrecognized arguments: x` then a second line `error: forged` (and an ESC
    sequence reached the terminal raw)."""
    out = cli(args, env, timeout=60)
    assert out.returncode == 2
    line = one_error_line(out)
    assert "x\\nerror: forged\\x1b[2J" in line and "\x1b" not in out.stderr
