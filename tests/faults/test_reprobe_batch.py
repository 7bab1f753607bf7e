"""Issue 22's second re-probe of the batch front end and the engine: payloads neither the issue
nor the first re-probe tried, each of which got through.

- A suite.json whose lists are not lists (`"methods": 5`, `null`, `[["x"]]`, `"overrides": 5`,
  `"protocols": 7`) ended `--resume` with "internal error: TypeError" (exit 3); `"methods":
  "tsne-gmm"` was read as the methods t, s, n, e, …
- A suite of absurd size (`--sizes` and `--seeds` lists of 15,000 values each, or a suite.json
  with a million seeds) planned every member spec before a word was said: minutes and
  gigabytes, then nothing.
- members.json naming a "run id" that is a path (`/tmp/x`, `../x`) made the suite's report read
  that folder's result.json: a result from outside the runs folder shown as the member's.
- A `file://` mirror in $MNIST_TUI_MIRRORS naming a FIFO blocked in open() past every download
  deadline (the deadline watches sockets); `ftp://` and `data:` were fetched too.
- A `--json` file made read-only (chmod 444) was replaced all the same (the atomic write's
  rename needs only the folder): the shell's `>` refuses it.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import patient

pytestmark = pytest.mark.faults

QUICK = ["--batch", "--job", "tsne-gmm", "--dataset", "digits", "--samples", "200",
         "--iterations", "300", "--gmm-inits", "1"]
NOBODY = 65534


def cli(args: list[str], env: dict, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """`python -m mnist_tui ARGS`; a run past `timeout` fails the test (TimeoutExpired)."""
    return subprocess.run([sys.executable, "-m", "mnist_tui", *args], env=env,
                          capture_output=True, text=True, timeout=patient(timeout), check=False,
                          **kw)


def one_error_line(out: subprocess.CompletedProcess) -> str:
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), \
        (out.returncode, out.stdout[-2000:], out.stderr[-2000:])
    return lines[0]


def plant_suite(runs: Path, suite_id: str, spec: dict) -> Path:
    """A suite folder holding only its suite.json (what `--resume` reads first)."""
    folder = runs / "suites" / suite_id
    folder.mkdir(parents=True)
    (folder / "suite.json").write_text(json.dumps(spec))
    return folder


# -- suite.json of the wrong shape ------------------------------------------------------------

@pytest.mark.parametrize("setting, value, words", [
    ("methods", 5, "methods must be a list"),
    ("methods", None, "methods must be a list"),
    ("methods", "tsne-gmm", "methods must be a list"),     # was: methods t, s, n, e, …
    ("methods", [["tsne-gmm"]], "methods must be a list of names"),
    ("presets", [["default"]], "presets must be a list of names"),
    ("protocols", 7, "protocols must be a list"),
    ("overrides", 5, "overrides must be an object"),
])
def test_a_suite_json_of_the_wrong_shape_is_one_error_line(setting, value, words, env, runs):
    spec = {"suite": "sweep", "methods": ["tsne-gmm"], "presets": ["default"], "sizes": [100],
            "seeds": [0], "overrides": {"dataset": "digits"}, setting: value}
    plant_suite(runs, "20260101-000000-sweep-shaped", spec)
    out = cli(["--batch", "--resume", "20260101-000000-sweep-shaped"], env, timeout=60)
    line = one_error_line(out)
    assert words in line and "internal error" not in line, line
    assert sorted(p.name for p in runs.iterdir()) == ["suites"]    # no member ran


# -- a suite of absurd size -------------------------------------------------------------------

def test_a_suite_of_absurd_size_is_refused_before_planning_it(env, runs):
    """15,000 sizes × 15,000 seeds: 225 million members. Refused at once, with the count."""
    sizes = ",".join(map(str, range(100, 15_100)))
    seeds = ",".join(map(str, range(15_000)))
    out = cli(["--batch", "--suite", "sweep", "--methods", "tsne-gmm", "--presets", "default",
               "--sizes", sizes, "--seeds", seeds, "--dataset", "digits"], env, timeout=20)
    line = one_error_line(out)
    assert "225,000,000 member runs" in line, line
    assert not runs.exists() or not any(runs.iterdir())


def test_a_recorded_suite_of_a_million_seeds_is_refused_before_planning_it(env, runs):
    plant_suite(runs, "20260101-000000-sweep-million",
                {"suite": "sweep", "methods": ["tsne-gmm"], "presets": ["default"],
                 "sizes": [100], "seeds": list(range(1_000_000)),
                 "overrides": {"dataset": "digits"}})
    out = cli(["--batch", "--resume", "20260101-000000-sweep-million"], env, timeout=20)
    line = one_error_line(out)
    assert "1,000,000 member runs" in line, line


def test_the_largest_suite_a_user_asks_for_is_still_planned():
    """Every method, every preset, the six sweep sizes and 100 seeds: within the bound."""
    from mnist_tui.engine.suites.spec import SuiteSpec

    spec = SuiteSpec(name="sweep", seeds=tuple(range(100))).validate()
    assert len(spec.members()) == 2_400


# -- members.json naming paths -------------------------------------------------------------------

def test_a_members_json_naming_paths_outside_the_runs_folder_is_not_read(tmp_path):
    """The report shows those members as pending (no run), and says why; the forged results
    outside the runs folder are not shown as theirs."""
    from mnist_tui.engine.suites.folder import SuiteFolder
    from mnist_tui.engine.suites.report import build_report
    from mnist_tui.engine.suites.spec import SuiteSpec

    runs = tmp_path / "runs"
    spec = SuiteSpec(name="sweep", methods=("tsne-gmm",), presets=("default",),
                     sizes=(100, 120), seeds=(0,), overrides={"dataset": "digits"}).validate()
    folder = plant_suite(runs, "20260101-000000-sweep-paths", spec.to_dict())
    forged = {"status": "finished", "metrics": {"accuracy_hungarian": 0.999}}
    for where in (tmp_path / "outside", runs.parent / "elsewhere"):
        where.mkdir()
        (where / "result.json").write_text(json.dumps(forged))
    first, second = spec.members()
    (folder / "members.json").write_text(json.dumps({"schema_version": 1, "members": {
        first.key: str(tmp_path / "outside"), second.key: "../elsewhere"}}))
    report = build_report(SuiteFolder(runs, "20260101-000000-sweep-paths"))
    assert [(r.status, r.run_id, r.accuracy) for r in report.rows] == \
        [("pending", None, None), ("pending", None, None)]
    assert report.runs == ()
    assert len(report.problems) == 2
    assert all("not a run of this runs folder" in p for p in report.problems)


# -- mirrors that are not HTTP ------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["file", "ftp"])
def test_a_mirror_that_is_not_http_is_not_fetched(scheme, tmp_path, env, runs):
    """A `file://` mirror whose file is a FIFO hung in open() for ever (the download deadline
    watches sockets only); now any non-HTTP mirror fails as a mirror that cannot be reached."""
    served = tmp_path / "served"
    served.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "mnist.npz"):
        os.mkfifo(served / name)
    url = f"file://{served}/" if scheme == "file" else "ftp://127.0.0.1:9/mnist/"
    try:
        out = cli([*QUICK[:4], "mnist", *QUICK[5:]],
                  {**env, "MNIST_TUI_MIRRORS": url, "MNIST_TUI_DOWNLOAD_DEADLINE": "5"},
                  timeout=40)
    finally:
        _release_readers(served)
    line = one_error_line(out)
    assert "could not download" in line and f"unknown url type: {scheme}" in line, line


def _release_readers(folder: Path) -> None:
    """Open each FIFO for writing and close it: a reader still blocked on one (a worker left
    behind when the test timed out) gets end-of-file and ends."""
    for fifo in folder.iterdir():
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:      # ENXIO: nobody is reading it
            pass


# -- a read-only output file ---------------------------------------------------------------------

def _drop_file_capabilities() -> None:
    """preexec_fn: root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, bound by file modes."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:     # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _bound_by_modes(tmp_path: Path) -> dict:
    """Keyword arguments for a process that chmod 444 binds; skip when none can be had."""
    if os.geteuid() != 0:
        return {}
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0o444)
    try:
        out = subprocess.run([sys.executable, "-c", "open(__import__('sys').argv[1], 'a')",
                              str(probe)], capture_output=True, timeout=patient(30),
                             check=False, preexec_fn=_drop_file_capabilities)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("cannot drop CAP_DAC_OVERRIDE here")
    if b"PermissionError" not in out.stderr:
        pytest.skip("a process without CAP_DAC_OVERRIDE still writes read-only files here")
    return {"preexec_fn": _drop_file_capabilities}


def test_a_read_only_json_file_is_not_replaced(tmp_path, env, runs):
    kw = _bound_by_modes(tmp_path)
    target = tmp_path / "keep.json"
    target.write_text('{"mine": 1}\n')
    target.chmod(0o444)
    out = cli([*QUICK, "--json", str(target)], env, **kw)
    line = one_error_line(out)
    assert "--json" in line and "read-only" in line, line
    assert target.read_text() == '{"mine": 1}\n' and (target.stat().st_mode & 0o777) == 0o444
    assert not runs.exists() or not any(runs.iterdir())    # refused before any work
