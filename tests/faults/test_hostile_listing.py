"""Fault rows of issue 22, items 4 and 11: folders a listing cannot read, and the order of runs.

4. One `chmod 000` run folder, suite folder or meta.json is skipped and named (which, and why)
   by every listing; the rest list, reaping goes on, and `--reuse-runs` / `--resume` of a good
   suite succeed. Root ignores chmod 000, so these run the code as a user it binds: `nobody`
   where that user can start this Python, else root without the capabilities that bypass file
   modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH); they skip when neither is possible.
11. Runs are ordered, and "newest wins" picks, by the UTC start each run records
   (`started_utc`), not by the local time in ids and `created`.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from support import closed_port_url, patient, write_finished_run

from mnist_tui.engine.runs.store import RunStore
from mnist_tui.engine.suites.spec_text import suite_spec_from_text

pytestmark = pytest.mark.faults

NOBODY = 65534
SUITE_FLAGS = ["--suite", "sweep", "--methods", "tsne-gmm", "--presets", "default",
               "--sizes", "100", "--seeds", "1", "--dataset", "digits", "--iterations", "260",
               "--gmm-inits", "1"]
LOCKED_RUN = "20260101-000000-tsne-gmm-locked"      # the run folder itself is chmod 000
LOCKED_META = "20260101-000001-tsne-gmm-metalk"     # its meta.json is chmod 000
LOCKED_SUITE = "20260101-000002-sweep-locked"       # a suite folder chmod 000


# --- running as a user chmod binds ---------------------------------------------------------

def _drop_file_capabilities() -> None:
    """preexec_fn: drop the capabilities that let root ignore file modes from the bounding
    set, so the exec'd Python (and its workers) is bound by chmod like any user."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):           # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:     # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _modes() -> list[tuple[str, dict]]:
    """How a subprocess can be bound by file modes here: as nobody, else root without them."""
    if os.geteuid() != 0:
        return [("self", {})]
    return [("nobody", {"user": NOBODY, "group": NOBODY, "extra_groups": []}),
            ("no-dac-root", {"preexec_fn": _drop_file_capabilities})]


@pytest.fixture(scope="module")
def bound():
    """(mode name, subprocess keyword arguments) that start a process chmod 000 stops; skip
    when this machine offers none."""
    probe = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        os.chmod(probe, 0o755)
        locked = probe / "locked"
        locked.mkdir()
        locked.chmod(0)
        for name, kw in _modes():
            try:
                out = subprocess.run([sys.executable, "-c", "import os, sys; os.listdir(sys.argv[1])",
                                      str(locked)], cwd=probe, capture_output=True,
                                     timeout=patient(60), check=False, **kw)
            except (OSError, subprocess.SubprocessError):
                continue
            if out.returncode != 0 and b"PermissionError" in out.stderr:
                return name, kw
        pytest.skip("cannot run a process that chmod 000 binds (neither setuid to nobody nor "
                    "dropping CAP_DAC_OVERRIDE works here)")
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def _env(home: Path) -> dict:
    """The CLI's environment inside `home`: its runs, caches; offline; this checkout's (or
    PYTHONPATH's) mnist_tui, never the current directory's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MNIST_TUI_") and k != "KERAS_HOME"}
    env.update({
        "MNIST_TUI_RUNS_DIR": str(home / "runs"),
        "MNIST_TUI_CACHE_DIR": str(home / "cache"),
        "MNIST_TUI_MIRRORS": closed_port_url("mnist/"),
        "MNIST_TUI_WEIGHTS_URL": closed_port_url("w.h5"),
        "KERAS_HOME": str(home / "keras"),
        "HOME": str(home),
        "MPLCONFIGDIR": str(home / "mpl"),
        "NUMBA_CACHE_DIR": str(home / "numba"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture(scope="module")
def template():
    """A runs folder holding one real finished tiny suite (one t-SNE + GMM member), made once."""
    home = Path(tempfile.mkdtemp(dir="/tmp"))
    out = subprocess.run([sys.executable, "-m", "mnist_tui", "--batch", *SUITE_FLAGS],
                         cwd=home, env=_env(home), capture_output=True, text=True,
                         timeout=patient(300), check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    yield home / "runs"
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def hostile(template, bound):
    """A copy of the template with one run folder, one meta.json and one suite folder chmod
    000, reachable by the bound process (owned by nobody when that is who runs)."""
    home = Path(tempfile.mkdtemp(dir="/tmp"))
    os.chmod(home, 0o755)
    runs = home / "runs"
    shutil.copytree(template, runs)
    (good_run,) = [p for p in runs.iterdir() if p.name != "suites"]
    (good_suite,) = list((runs / "suites").iterdir())
    shutil.copytree(good_run, runs / LOCKED_RUN)
    shutil.copytree(good_run, runs / LOCKED_META)
    shutil.copytree(good_suite, runs / "suites" / LOCKED_SUITE)
    if bound[0] == "nobody":
        for p in [home, *home.rglob("*")]:
            os.lchown(p, NOBODY, NOBODY)
    (runs / LOCKED_RUN).chmod(0)
    (runs / LOCKED_META / "meta.json").chmod(0)
    (runs / "suites" / LOCKED_SUITE).chmod(0)
    yield home, good_run.name, good_suite.name
    for p in ((runs / LOCKED_RUN), (runs / "suites" / LOCKED_SUITE)):
        p.chmod(0o755)
    shutil.rmtree(home, ignore_errors=True)


def _run(bound, home: Path, args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=home, env=_env(home), capture_output=True, text=True,
                          timeout=patient(timeout), check=False, **bound[1])


LISTING = r"""
import json, sys
from pathlib import Path
from mnist_tui.engine.runs.store import RunStore
from mnist_tui.engine.suites import folder as suite
root = Path(sys.argv[1])
store = RunStore(root)
runs = [r.run_id for r in store.list()]
skipped = {s.name: s.reason for s in store.skipped}
reaped = store.reap()
live = store.live()
ids, suites_skipped = suite.scan_suites(root)
print(json.dumps({"runs": runs, "skipped": skipped, "reaped": reaped,
                  "suites": suite.list_suites(root), "scanned": ids,
                  "suites_skipped": {s.name: s.reason for s in suites_skipped},
                  "reaped_suites": suite.reap_suites(root)}))
"""


# --- item 4: unreadable folders ------------------------------------------------------------

def test_unreadable_folders_are_skipped_and_named_by_every_listing(hostile, bound):
    home, good_run, good_suite = hostile
    out = _run(bound, home, [sys.executable, "-c", LISTING, str(home / "runs")], timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout)
    assert got["runs"] == [good_run]
    assert set(got["skipped"]) == {LOCKED_RUN, LOCKED_META}
    assert "Permission denied" in got["skipped"][LOCKED_RUN]
    assert "meta.json" in got["skipped"][LOCKED_META]
    assert "Permission denied" in got["skipped"][LOCKED_META]
    assert got["reaped"] == []
    assert got["suites"] == got["scanned"] == [good_suite]
    assert list(got["suites_skipped"]) == [LOCKED_SUITE]
    assert "Permission denied" in got["suites_skipped"][LOCKED_SUITE]
    assert got["reaped_suites"] == []


def test_resume_of_a_good_suite_beside_unreadable_folders_succeeds(hostile, bound):
    home, good_run, good_suite = hostile
    out = _run(bound, home, [sys.executable, "-m", "mnist_tui", "--batch", "--resume",
                             good_suite])
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"reusing run {good_run}" in out.stdout
    assert "Traceback" not in out.stderr
    status = json.loads((home / "runs" / "suites" / good_suite / "status.json").read_text())
    assert status["status"] == "finished"


def test_reuse_runs_beside_unreadable_folders_reuses_and_names_them(hostile, bound):
    home, good_run, _ = hostile
    out = _run(bound, home, [sys.executable, "-m", "mnist_tui", "--batch", *SUITE_FLAGS,
                             "--reuse-runs"])
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"reusing run {good_run}" in out.stdout
    warnings = [line for line in out.stdout.splitlines() if "skipped" in line]
    assert any(LOCKED_RUN in line and "Permission denied" in line for line in warnings), \
        out.stdout
    assert any(LOCKED_META in line and "meta.json" in line for line in warnings), out.stdout
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("flag, folder", [("--resume", LOCKED_SUITE), ("--rerun", LOCKED_RUN)],
                         ids=["resume-suite", "rerun-run"])
def test_an_unreadable_suite_or_run_named_on_the_command_line_is_one_error_line(
        hostile, bound, flag, folder):
    """`--resume` of a suite folder, `--rerun` of a run folder we may not enter: one line
    naming it and why, exit 2, never a traceback."""
    home, _, _ = hostile
    out = _run(bound, home, [sys.executable, "-m", "mnist_tui", "--batch", flag, folder],
               timeout=60)
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert folder in lines[0] and "Permission denied" in lines[0]


# --- item 11: order by UTC -----------------------------------------------------------------

def _member_spec() -> dict:
    """The spec of SUITE_FLAGS' one member, as the suite builds it."""
    spec = suite_spec_from_text("sweep", methods="tsne-gmm", presets="default", sizes="100",
                                seeds="1", given={"dataset": "digits", "iterations": "260",
                                                  "gmm_inits": "1"})
    return spec.members()[0].spec


METRICS = {"accuracy_hungarian": 0.9, "accuracy_majority": 0.91, "nmi": 0.8, "ari": 0.7}

# (older run's id and times, newer run's id and times): each pair's local times run backwards.
CASES = {
    # made in Tokyo at 10:00 (01:00 UTC), then in New York at 21:00 the evening before (02:00)
    "time-zones": (("20260301-100000-tsne-gmm-tokyo0", {
        "created": "2026-03-01T10:00:00+0900",
        "started_utc": "2026-03-01T01:00:00.000000+00:00"}),
        ("20260228-210000-tsne-gmm-newyrk", {
            "created": "2026-02-28T21:00:00-0500",
            "started_utc": "2026-03-01T02:00:00.000000+00:00"})),
    # New York's DST fall-back: 01:30 EDT (05:30 UTC), then 01:10 EST (06:10 UTC)
    "dst-fall-back": (("20261101-013000-tsne-gmm-edt000", {
        "created": "2026-11-01T01:30:00-0400",
        "started_utc": "2026-11-01T05:30:00.000000+00:00"}),
        ("20261101-011000-tsne-gmm-est000", {
            "created": "2026-11-01T01:10:00-0500",
            "started_utc": "2026-11-01T06:10:00.000000+00:00"})),
    # runs from before started_utc: `created` names its offset, which orders them
    "old-runs": (("20260301-100000-tsne-gmm-oldtky", {"created": "2026-03-01T10:00:00+0900"}),
                 ("20260228-210000-tsne-gmm-oldnyc", {"created": "2026-02-28T21:00:00-0500"})),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_listing_orders_runs_by_their_utc_start(tmp_path, case):
    (older, older_times), (newer, newer_times) = CASES[case]
    spec = _member_spec()
    write_finished_run(tmp_path, older, spec, 1.0, METRICS, older_times)
    write_finished_run(tmp_path, newer, spec, 1.0, METRICS, newer_times)
    assert [r.run_id for r in RunStore(tmp_path).list()] == [newer, older]


def test_runs_that_say_nothing_of_their_time_still_list(tmp_path):
    """No offset anywhere (hand-made folders): the id's time, read as local time, orders them;
    a run whose id holds no time lists last; nothing is dropped."""
    spec = _member_spec()
    write_finished_run(tmp_path, "20260102-000000-tsne-gmm-second", spec, 1.0, METRICS,
                       {"created": None})
    write_finished_run(tmp_path, "20260101-000000-tsne-gmm-first0", spec, 1.0, METRICS,
                       {"created": "2026-01-01 00:00"})
    write_finished_run(tmp_path, "hand-made", spec, 1.0, METRICS, {"created": None})
    store = RunStore(tmp_path)
    assert [r.run_id for r in store.list()] == ["20260102-000000-tsne-gmm-second",
                                                "20260101-000000-tsne-gmm-first0", "hand-made"]
    assert store.skipped == []


@pytest.mark.parametrize("case", ["time-zones", "dst-fall-back"])
def test_reuse_runs_picks_the_run_truly_newest(tmp_path, case):
    (older, older_times), (newer, newer_times) = CASES[case]
    runs = tmp_path / "runs"
    spec = _member_spec()
    write_finished_run(runs, older, spec, 1.0, METRICS, older_times)
    write_finished_run(runs, newer, spec, 1.0, METRICS, newer_times)
    out = subprocess.run([sys.executable, "-m", "mnist_tui", "--batch", *SUITE_FLAGS,
                          "--reuse-runs"], cwd=tmp_path, env=_env(tmp_path),
                         capture_output=True, text=True, timeout=patient(120), check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"reusing run {newer}" in out.stdout, out.stdout
    (suite_dir,) = list((runs / "suites").iterdir())
    members = json.loads((suite_dir / "members.json").read_text())["members"]
    assert list(members.values()) == [newer]
