"""Terminal escape injection in the batch front end (issue 22, item 6, batch side).

A folder or run name holding ESC sequences was written raw to the terminal (a colour change, a
window title set by OSC), and a name holding a newline forged a second `error:` line. Now every
human line of `--batch --job` and `--batch --suite` — progress, the dataset and file lines, the
summary, the member headers, the suite table, notes, charts and the report paths — shows control
characters as visible escapes (`\\x1b`, `\\n`); the `--json` output keeps the true value.

Through the real CLI: a `--data-dir` and a `--runs-dir` (and a `--report` folder) whose names
hold the payload, on a pipe, on a pseudo-terminal (the live bar) and in a suite; the suite's
table, notes and charts with hostile presets, run ids and errors read from run records.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fault_helpers import write_run_records
from support import patient
from test_batch_terminal import run_on_terminal

pytestmark = pytest.mark.faults

HOSTILE = "\x1b[31m\x1b]0;pwned\x07\nerror: forged"
SHOWN = "\\x1b[31m\\x1b]0;pwned\\x07\\nerror: forged"    # what a person must see instead
TSNE = ["--job", "tsne-gmm", "--samples", "100", "--iterations", "260", "--gmm-inits", "1"]
SUITE = ["--suite", "sweep", "--methods", "tsne-gmm", "--presets", "default", "--sizes", "100",
         "--seeds", "1", "--dataset", "digits", "--iterations", "260", "--gmm-inits", "1"]
CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")    # what Rich itself draws the bar with


def cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnist_tui", "--batch", *args], env=env,
                          capture_output=True, text=True, timeout=patient(240), check=False)


def shown(path: Path) -> str:
    """`path` as the human output must show it."""
    return str(path).replace(HOSTILE, SHOWN)


def assert_harmless(text: str) -> None:
    """No raw ESC or BEL reached the stream, and no line forged by a name's newline."""
    assert "\x1b" not in text and "\x07" not in text, repr(text[:2000])
    forged = [line for line in text.splitlines() if line.startswith("error: forged")]
    assert forged == [], text


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """An MNIST-format folder (a small mnist.npz) whose name holds the payload."""
    folder = tmp_path / f"data{HOSTILE}"
    folder.mkdir()
    rng = np.random.default_rng(0)
    np.savez(folder / "mnist.npz", x_train=rng.integers(0, 256, (150, 28, 28), dtype=np.uint8),
             y_train=(np.arange(150) % 10).astype(np.uint8))
    return folder


@pytest.fixture
def hostile_runs(tmp_path) -> Path:
    return tmp_path / f"runs{HOSTILE}"


def test_a_job_shows_hostile_folder_names_as_escapes_and_its_json_keeps_them(
        data_dir, hostile_runs, env):
    out = cli([*TSNE, "--data-dir", str(data_dir), "--runs-dir", str(hostile_runs),
               "--json", "-"], env)
    assert out.returncode == 0, out.stderr
    assert_harmless(out.stdout)
    assert_harmless(out.stderr)
    # the progress lines name the data file, the summary the dataset and the run folder
    assert f"{shown(data_dir)}/mnist.npz" in out.stderr
    assert f"run folder {shown(hostile_runs)}/" in out.stderr
    result = json.loads(out.stdout)                       # the true values, untouched
    assert result["run_dir"].startswith(f"{hostile_runs}/")
    assert result["spec"]["data_dir"] == str(data_dir)
    assert Path(result["run_dir"]).is_dir()


def test_on_a_terminal_the_live_bar_and_the_summary_show_escapes(
        tmp_path, data_dir, hostile_runs, env):
    json_file = tmp_path / "result.json"
    code, out = run_on_terminal(
        ["--batch", *TSNE, "--data-dir", str(data_dir), "--runs-dir", str(hostile_runs),
         "--json", str(json_file)], {**env, "TERM": "xterm-256color"}, timeout=240)
    assert code == 0, out
    # Rich draws the bar with CSI sequences of its own; the payload's OSC and BEL must not pass
    assert "\x1b]" not in out and "\x07" not in out, repr(out[-2000:])
    plain = CSI.sub("", out)
    lines = [seg for line in plain.split("\n") for seg in line.split("\r")]
    assert not [line for line in lines if line.startswith("error: forged")], plain
    assert f"{shown(data_dir)}/mnist.npz" in plain
    assert f"run folder {shown(hostile_runs)}/" in plain
    assert json.loads(json_file.read_text())["spec"]["data_dir"] == str(data_dir)


def test_a_suite_shows_hostile_paths_as_escapes_and_its_json_keeps_them(hostile_runs, env):
    hostile_runs.mkdir()
    report = hostile_runs / "report.html"
    out = cli([*SUITE, "--runs-dir", str(hostile_runs), "--report", str(report),
               "--json", "-"], env)
    assert out.returncode == 0, out.stderr
    assert_harmless(out.stdout)
    assert_harmless(out.stderr)
    lines = out.stderr.splitlines()
    assert "[1/1] tsne-gmm default 100 images seed 0" in lines
    assert any(line.startswith("running suite sweep ") and f"(folder {shown(hostile_runs)}/"
               in line for line in lines), out.stderr
    assert any(line.startswith("report: ") and f"{shown(report)}" in line for line in lines)
    suite = json.loads(out.stdout)
    assert suite["suite_dir"].startswith(f"{hostile_runs}/")
    assert report.is_file()


# -- the suite's terminal table, notes, failures and charts: values read from run records ----

PRESET = "p\x1b[2J\x07"
FAILED_ERROR = "boom\nerror: forged\x1b]0;pwned\x07" + "x" * 100_000


def hostile_records(runs_dir: Path) -> list[str]:
    """Two finished runs of a hostile preset (a chart line, a table row) and a failed one whose
    error forges a line, sets the window title and runs on for 100,000 characters; run ids
    hold ESC too."""
    cm = [[1 if i == j else 0 for j in range(10)] for i in range(10)]
    ids = []
    for i, (images, status) in enumerate([(100, "finished"), (200, "finished"),
                                          (200, "failed")]):
        run_id = f"run-{i}\x1b[1m"
        spec = {"job": "tsne-gmm", "preset": PRESET, "seed": i, "samples": images,
                "dataset": "digits"}
        result = {"status": status, "job": "tsne-gmm", "run_id": run_id, "spec": spec,
                  "metrics": {"accuracy_hungarian": 0.8, "accuracy_majority": 0.81,
                              "nmi": 0.7, "ari": 0.5} if status == "finished" else {},
                  "timings": {"tsne": 1.5, "gmm": 0.5, "scoring": 0.1, "total": 3.0},
                  "confusion_matrix": cm,
                  "error": None if status == "finished" else FAILED_ERROR}
        write_run_records(runs_dir, run_id, spec, result)
        ids.append(run_id)
    return ids


def test_the_suite_table_failures_and_charts_show_record_values_as_escapes(tmp_path):
    from mnist_tui.engine.suites.report import build_runs_report
    from mnist_tui.engine.suites.report_text import terminal_charts, terminal_summary

    runs_dir = tmp_path / "runs"
    report = build_runs_report(runs_dir, hostile_records(runs_dir))
    lines = terminal_summary(report)
    for line in lines:
        assert "\n" not in line
        assert_harmless(line)
    header, rule, *rows = lines[:lines.index("")]
    assert rows and all("p\\x1b[2J\\x07" in row for row in rows), lines
    # the escapes are measured as shown: every row's accuracy cell under its header
    column = header.index("accuracy")
    assert all(row[column:].startswith(("80.0%", "–")) for row in rows), "\n".join(lines)
    assert rule.split("  ")[1] == "-" * len("p\\x1b[2J\\x07")
    failure = [line for line in lines if line.startswith("FAILED: ")]
    assert len(failure) == 1, lines
    assert "(run-2\\x1b[1m): boom\\nerror: forged\\x1b]0;pwned\\x07xxx" in failure[0]
    assert len(failure[0]) < 1000 and failure[0].endswith("more characters)"), failure[0][-300:]
    charts = terminal_charts(report)
    assert charts
    assert_harmless(charts)
    assert "tsne-gmm p\\x1b[2J\\x07" in charts
