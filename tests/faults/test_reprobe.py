"""Issue 22's re-probe: hostile inputs of the issue's classes with payloads the issue and the
first fixes did not try, each of which got through.

- A part file planted in the download cache whose name holds a pid no process can have
  (`…gz.99999999999999999999999.x.part`, `…gz.²³.x.part`) crashed every download with a
  traceback (OverflowError, ValueError: exit 3); `…gz.0.x.part` was kept for ever (pid 0 asks
  our own process group, which is alive).
- An empty output path (`--json "$OUT"` with OUT unset) read as "not given": the job ran, exit
  0, and the JSON asked for was never written.
- An output inside a recorded run's or suite's folder replaced its records: `--report
  runs/suites/S/members.html` wrote members.json over that suite's (it could no longer be
  resumed), `--json runs/R/result.json` replaced a final result.
- Report cells: a CSV cell starting with NUL (OWASP ASVS 1.2.10) or a full-width `＝＋－＠`
  was left as it was; the HTML page showed NUL, ESC, C1 controls and U+202E raw (U+202E shows
  what follows it reversed).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fault_helpers import QUICK, SUITE, assert_input_error, run_cli, write_run_records
from support import patient

pytestmark = pytest.mark.faults



def cli(args: list[str], env: dict, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnist_tui", *args], env=env,
                          capture_output=True, text=True, timeout=patient(timeout), check=False)


def one_error_line(out: subprocess.CompletedProcess) -> str:
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), \
        (out.returncode, out.stdout[-2000:], out.stderr[-2000:])
    return lines[0]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative path → bytes): what must stay as it was."""
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


# -- a planted part file in the download cache ----------------------------------------------

@pytest.mark.parametrize("pid, removed", [
    ("99999999999999999999999", True),   # past a C long: os.kill raised OverflowError
    ("0", True),                         # kill(0, 0) is our own group: "alive" for ever
    ("²³", False),                       # str.isdigit() says yes, int() says no
])
def test_a_part_file_naming_an_impossible_pid_is_no_crash(pid, removed, tmp_path, env, cache):
    """The download (here: every mirror closed) ends as it does without the planted file: one
    `error:` line, exit 2. A number no process can have is nobody's part file, so it is
    removed; a name that is no number is left to the hour-old rule of older part files."""
    cache.mkdir(parents=True)
    part = cache / f".train-images-idx3-ubyte.gz.{pid}.x7Yq.part"
    part.write_bytes(b"\0" * 100)
    run = run_cli(["--job", "tsne-gmm", "--dataset", "mnist", "--samples", "200"], env,
                  tmp_path, timeout=60)
    message = assert_input_error(run)
    assert "could not download" in message and "Traceback" not in run.stderr + run.stdout
    assert part.exists() is not removed


# -- empty output paths ----------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    [*QUICK, "--json", ""],
    [*SUITE, "--report", ""],
    [*QUICK, "--runs-dir", ""],
], ids=["job --json", "suite --report", "job --runs-dir"])
def test_an_empty_output_path_is_a_usage_error_before_any_work(args, env, runs):
    out = cli(args, env)
    line = one_error_line(out)
    assert "empty" in line, line
    assert not runs.exists() or sorted(p.name for p in runs.iterdir()) == []


# -- outputs inside a recorded run's or suite's folder -------------------------------------

def plant_records(runs: Path) -> tuple[Path, Path]:
    """A finished run's folder and a suite's folder, holding the records their writers leave
    (their contents do not matter here: they must only stay as they are)."""
    run = runs / "20260101-120000-tsne-gmm-aaaaaa"
    suite = runs / "suites" / "20260101-120000-sweep-bbbbbb"
    for folder, names in ((run, ("spec.json", "meta.json", "result.json", "events.jsonl")),
                          (suite, ("suite.json", "status.json", "members.json",
                                   "measurements.json"))):
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).write_text(json.dumps({"record": name}) + "\n")
    return run, suite


def test_a_report_beside_a_suites_records_is_refused_before_any_member(env, runs):
    """Bug: `--report runs/suites/S/members.html` ran every member, then wrote the report's
    .json sibling over that suite's members.json."""
    run, suite = plant_records(runs)
    before = snapshot(runs)
    out = cli([*SUITE, "--report", str(suite / "members.html")], env)
    line = one_error_line(out)
    assert "--report" in line and "recorded run or suite" in line, line
    assert snapshot(runs) == before      # no member ran, no suite made, no record touched


@pytest.mark.parametrize("name", ["result.json", "notes.json"])
def test_json_into_a_run_folder_is_refused_before_any_work(name, env, runs, tmp_path):
    """Bug: `--json runs/R/result.json` replaced run R's final result (which is created once and
    never replaced); any other name put a foreign file among its records. Through a link too."""
    run, _ = plant_records(runs)
    link = tmp_path / "out.json"
    link.symlink_to(run / name)
    before = snapshot(runs)
    for target in (run / name, link):
        out = cli([*QUICK, "--json", str(target)], env)
        line = one_error_line(out)
        assert "--json" in line and "recorded run or suite" in line, line
        assert snapshot(runs) == before


def test_a_report_elsewhere_is_still_written(env, runs, tmp_path):
    """The refusal is only for a run's or suite's folder: a folder that merely holds a
    spec.json (a copied spec, given to --config) still takes the outputs."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "spec.json").write_text("{}")
    out = cli([*QUICK, "--json", str(tmp_path / "mine" / "result.json")], env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads((tmp_path / "mine" / "result.json").read_text())["status"] == "finished"


# -- report cells -------------------------------------------------------------------------------

PAYLOADS = ["\0=1+1", "\uff1dHYPERLINK(\"http://x.test\")", "\uff0b1", "\uff0dA1",
            "\uff20SUM(A1)", "a\u202eexe.txt", "b\x1b[31mred", "c\x9b31m"]


@pytest.fixture
def hostile_report(tmp_path) -> dict[str, Path]:
    """A runs report of failed runs whose preset, dataset and error each hold one payload."""
    from mnist_tui.engine.suites.report_files import export_runs_report

    runs = tmp_path / "runs"
    ids = []
    for i, payload in enumerate(PAYLOADS):
        run_id = f"2026-run-{i:02d}"
        spec = {"job": "tsne-gmm", "preset": payload, "seed": i, "samples": 200,
                "dataset": "digits"}
        result = {"status": "failed", "job": "tsne-gmm", "run_id": run_id, "spec": spec,
                  "metrics": {}, "timings": {"total": 3.0},
                  "dataset": {"name": payload, "n_samples": 200}, "error": payload}
        write_run_records(runs, run_id, spec, result)
        ids.append(run_id)
    return {p.suffix: p for p in export_runs_report(runs, ids)}


def test_csv_cells_after_a_nul_or_with_full_width_signs_are_neutralised(hostile_report):
    with open(hostile_report[".csv"], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_preset = {row["preset"].removeprefix("'"): row for row in rows}
    assert sorted(by_preset) == sorted(PAYLOADS)
    for payload in PAYLOADS[:5]:
        row = by_preset[payload]
        for column in ("preset", "error", "dataset"):
            assert row[column] == "'" + payload, (column, row[column])
    assert by_preset["a\u202eexe.txt"]["preset"] == "a\u202eexe.txt"   # no formula: as it is


def test_the_html_report_shows_hidden_characters_as_escapes(hostile_report):
    page = hostile_report[".html"].read_text(encoding="utf-8")
    for raw in ("\0", "\u202e", "\x1b", "\x9b"):
        assert raw not in page, repr(raw)
    for escaped in ("\\x00=1+1", "a\\u202eexe.txt", "b\\x1b[31mred", "c\\x9b31m"):
        assert escaped in page, escaped


# -- events whose values are not what a writer of ours writes ------------------------------------

VIEW = """
import json, sys
from mnist_tui.engine.runs.store import RunStore
from mnist_tui.engine.runs.view import load_run_view
view = load_run_view(RunStore(sys.argv[1]), sys.argv[2])
print(json.dumps({"kl": view.kl, "history": view.history, "notes": view.notes}))
"""


def test_events_with_values_of_the_wrong_type_cost_only_those_values(tmp_path):
    """Bug: one event whose `metrics` is a list (or a string) raised AttributeError in
    load_run_view, and Results and Compare lost the whole run; text, NaN and Infinity reached
    the curves. Deep nesting is still only a skipped line."""
    root = tmp_path / "runs"
    run = root / "20260101-120000-cnn-aaaaaa"
    run.mkdir(parents=True)
    (run / "spec.json").write_text(json.dumps({"job": "cnn", "preset": "default"}))
    (run / "result.json").write_text(json.dumps({"status": "finished", "job": "cnn"}))
    lines = [
        {"type": "progress", "phase": "tsne", "step": 25, "metrics": [1, 2]},
        {"type": "progress", "phase": "tsne", "step": 50, "metrics": "kl 2.0"},
        {"type": "progress", "phase": "tsne", "step": "x", "metrics": {"kl_divergence": 3.0}},
        {"type": "progress", "phase": "tsne", "step": 75, "metrics": {"kl_divergence": "NaN"}},
        {"type": "progress", "phase": "tsne", "step": 100, "metrics": {"kl_divergence": 2.5}},
        {"type": "epoch", "epoch": 1, "metrics": "loss 0.5"},
        {"type": "epoch", "epoch": 2, "metrics": {"loss": 0.25, "accuracy": [1], "note": "x"}},
        {"type": "snapshot", "step": 1, "points": "not a list"},
    ]
    text = "\n".join(json.dumps(line) for line in lines)
    text += '\n{"type": "epoch", "epoch": 3, "metrics": {"loss": Infinity, "val_loss": NaN}}'
    text += "\n" + "[" * 100_000 + "]" * 100_000 + "\n"
    (run / "events.jsonl").write_text(text)
    out = subprocess.run([sys.executable, "-c", VIEW, str(root), run.name], capture_output=True,
                         text=True, timeout=patient(60), check=False, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout)
    assert seen["kl"] == [[100, 2.5]]
    assert seen["history"] == [{"epoch": 1}, {"epoch": 2, "loss": 0.25}, {"epoch": 3}]


def test_a_config_naming_a_key_twice_is_refused(tmp_path, env):
    """`{"job": "tsne-gmm", "job": "cnn"}`: JSON keeps the last value silently (it ran the
    CNN); a spec or record naming a key twice is one error: line, exit 2, before any work."""
    config = tmp_path / "spec.json"
    config.write_text('{"job": "tsne-gmm", "dataset": "digits", "job": "cnn"}')
    run = run_cli(["--batch", "--config", str(config)], env, tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    line = run.one_error_line()
    assert '"job"' in line and "twice" in line, line
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
