"""Fault contract, issue 22 items 9 and 10 — secrets in mirror URLs, and reports that a name can
inject into.

9. A mirror URL may carry secrets: a signed URL's query string (`X-Amz-Signature=…`), or
   `user:password@`. The download uses the URL as given; nothing shown or recorded — stdout,
   stderr, the `--json` result, every file of the run folder, the cache folder, the checks a
   form shows before launching — ever holds the secret, on success or on failure.
10. A report's CSV neutralises cells a spreadsheet would run as a formula (OWASP: a leading
   `'` before `= + - @`, tab or CR, strings only: numbers stay numbers), and its Markdown
   escapes cells (`|`, backslashes, HTML) so that a name cannot add columns, rows or markup.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from fault_helpers import (
    closed_port_url,
    published_env,
    run_cli,
    small_idx_files,
    small_npz,
    write_run_records,
)
from support import FolderServer, QuietFiles

from mnist_tui.engine.data.weights import IMAGENET_NOTOP

pytestmark = pytest.mark.faults

SECRET = "SECRET123"
SIGNED = f"?X-Amz-Signature={SECRET}&token={SECRET}"
# A finished clustering run in a few seconds on 200 images (see test_fault_downloads.py).
QUICK_TSNE = ["--job", "tsne-gmm", "--perplexity", "10", "--iterations", "260", "--pca", "10",
              "--gmm-inits", "1", "--tsne-backend", "sklearn"]
VGG_JOB = ["--job", "vgg16", "--dataset", "digits", "--input-size", "32", "--samples", "200",
           "--epochs", "1", "--weights", "imagenet"]


# --- helpers -----------------------------------------------------------------------------------

class _AuthRecorder(QuietFiles):
    """Serves the folder (the query string is ignored, as a signed-URL host would check it) and
    records each request's path with its Authorization header."""

    def do_GET(self) -> None:
        self.server.auth.append((self.path, self.headers.get("Authorization")))
        super().do_GET()


@pytest.fixture
def mirror(tmp_path):
    server = FolderServer(tmp_path / "served", _AuthRecorder)
    server.httpd.auth = []
    yield server
    server.stop()


def with_userinfo(url: str, userinfo: str = f"user:{SECRET}") -> str:
    """`http://127.0.0.1:…` → `http://user:SECRET123@127.0.0.1:…`."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{userinfo}@{rest}"


def leaks(run, *folders: Path) -> list[str]:
    """Every place the secret shows: stdout, stderr, the --json result, and each file (its
    name and its bytes) under `folders`."""
    found = [where for where, text in (("stdout", run.stdout), ("stderr", run.stderr),
                                       ("--json", json.dumps(run.result)))
             if SECRET in text]
    for folder in folders:
        if not folder.exists():
            continue
        for path in sorted(folder.rglob("*")):
            if SECRET in str(path.relative_to(folder)):
                found.append(f"the name {path}")
            elif path.is_file() and SECRET.encode() in path.read_bytes():
                found.append(str(path))
    return found


def run_files(runs: Path) -> set[str]:
    """The record files of the one run folder under `runs`."""
    [folder] = [p for p in runs.iterdir() if p.is_dir()]
    return {p.name for p in folder.iterdir()}


# --- 9. secrets in mirror URLs -----------------------------------------------------------------

@pytest.mark.parametrize("layout", ["npz", "idx"])
def test_a_signed_mirror_url_downloads_but_its_secrets_are_never_shown_or_recorded(
        layout, tmp_path, env, runs, cache, mirror):
    published = {"mnist.npz": small_npz()} if layout == "npz" else small_idx_files()
    for name, data in published.items():
        mirror.put(f"mnist/{name}", data)
    if layout == "npz":       # a signed URL: the secret is in the query string
        url = mirror.url + "mnist/mnist.npz" + SIGNED
    else:                     # a folder behind a password and a shared token (Azure SAS-like)
        url = with_userinfo(mirror.url + "mnist/" + SIGNED)
    env = published_env({**env, "MNIST_TUI_MIRRORS": url}, published, tmp_path)

    run = run_cli([*QUICK_TSNE, "--dataset", "mnist"], env, tmp_path, timeout=120)

    assert run.returncode == 0, run.stdout + run.stderr
    assert run.result["status"] == "finished"
    assert sorted(p.name for p in cache.iterdir()) == sorted(published)
    # the download used the real URL: its query string and its credentials reached the server
    asked = dict(mirror.httpd.auth)
    for name in published:
        path = f"/mnist/{name}{SIGNED}"
        assert path in asked, mirror.httpd.auth
        if layout == "idx":
            assert asked[path] == "Basic dXNlcjpTRUNSRVQxMjM=", asked   # user:SECRET123
    assert {"events.jsonl", "result.json", "meta.json"} <= run_files(runs)
    assert leaks(run, runs, cache) == []


def test_failing_mirrors_name_no_secret_in_the_error_or_the_fallback_note(
        tmp_path, env, runs, cache, hostile):
    """A wrong file from a signed URL, a closed port behind a password, a malformed URL:
    `--dataset mnist` fails with one line, `--dataset auto` falls back to the digits and
    records why in its note — neither names the secrets."""
    hostile.put("mnist.npz" + SIGNED, bytes(1000))          # served at the signed URL only
    mirrors = ",".join([
        hostile.url("wrong", "mnist.npz") + SIGNED,                     # checksum mismatch
        with_userinfo(closed_port_url("mnist/") + SIGNED),              # refused
        f"http://user:{SECRET}@127.0.0.1:notaport/mnist.npz{SIGNED}",   # malformed
    ])
    env = {**env, "MNIST_TUI_MIRRORS": mirrors}

    run = run_cli(["--job", "tsne-gmm", "--dataset", "mnist"], env, tmp_path)

    assert run.returncode == 2, run.stdout + run.stderr
    message = run.one_error_line()
    assert "3 mirrors tried" in message and "checksum mismatch" in message, message
    assert any(p.startswith("/wrong/mnist.npz?X-Amz-Signature=") for p in hostile.requests)
    assert leaks(run, runs, cache) == []

    run = run_cli([*QUICK_TSNE, "--dataset", "auto", "--samples", "200"], env, tmp_path,
                  timeout=120)

    assert run.returncode == 0, run.stdout + run.stderr
    assert run.result["dataset"]["name"] == "digits"
    assert "3 mirrors tried" in run.result["dataset"]["note"]
    assert {"events.jsonl", "result.json", "meta.json"} <= run_files(runs)
    assert leaks(run, runs, cache) == []


def test_a_weights_url_with_secrets_is_never_shown(tmp_path, env, runs, hostile):
    """The VGG16 weights: the "downloading … from HOST" line and the error name no secret."""
    hostile.put(IMAGENET_NOTOP + SIGNED, bytes(1000))
    urls = ",".join([with_userinfo(hostile.url("wrong", IMAGENET_NOTOP) + SIGNED),
                     with_userinfo(closed_port_url("w.h5") + SIGNED)])
    env = {**env, "MNIST_TUI_WEIGHTS_URL": urls}

    run = run_cli(VGG_JOB, env, tmp_path, timeout=120)

    assert run.returncode == 2, run.stdout + run.stderr
    message = run.one_error_line()
    assert "checksum mismatch" in message and "--weights none" in message, message
    assert hostile.requests, "the weights URL was never asked"
    assert leaks(run, runs, Path(env["KERAS_HOME"])) == []


def test_the_checks_before_launching_name_no_secret(tmp_path, monkeypatch, hostile):
    """What a form shows before a job starts (the Launch screen's checks, the weights status
    line): a mirror that answers, and mirrors that do not, named without their secrets."""
    from mnist_tui.engine.data.weights import weights_status
    from mnist_tui.engine.runs.preflight import check_job

    hostile.put("mnist.npz" + SIGNED, small_npz())
    hostile.put(IMAGENET_NOTOP + SIGNED, bytes(1000))
    monkeypatch.setenv("MNIST_TUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    spec = {"job": "vgg16", "dataset": "mnist", "weights": "imagenet"}
    texts = []
    for reachable in (True, False):
        base = hostile.url("file", "") if reachable else closed_port_url("file/")
        monkeypatch.setenv("MNIST_TUI_MIRRORS", with_userinfo(base + "mnist.npz" + SIGNED))
        monkeypatch.setenv("MNIST_TUI_WEIGHTS_URL",
                           with_userinfo(base + IMAGENET_NOTOP + SIGNED))
        checks = check_job(spec, timeout=3, max_age=0)
        texts += [c.message for c in checks] + [weights_status("imagenet")]
        levels = {c.field: c.level for c in checks}
        assert levels["dataset"] == ("note" if reachable else "problem"), checks
    assert texts and not [t for t in texts if SECRET in t], texts
    assert any("127.0.0.1" in t for t in texts), texts        # the host is still named


# --- 10. report injection --------------------------------------------------------------------

FORMULA = '=HYPERLINK("http://x")'
HOSTILE_PRESET = f'{FORMULA}|<script>alert(1)</script>'
HOSTILE_RUN = "@SUM(1+1)|<b>x</b>"            # a folder name: no slash
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def hostile_runs(runs_dir: Path) -> list[str]:
    """Two finished run folders whose names and records carry spreadsheet formulas, table
    pipes, HTML and a newline; one of them failed with a hostile error."""
    cm = [[5 if i == j else 0 for j in range(10)] for i in range(10)]
    ids = []
    for i, (run_id, preset, status) in enumerate([
            (HOSTILE_RUN, HOSTILE_PRESET, "finished"),
            ("2026-run-01", "+cmd|' /C calc'!A0\n| forged | row |", "failed")]):
        spec = {"job": "tsne-gmm", "preset": preset, "seed": i, "samples": 200,
                "dataset": "digits", "data_dir": "-2+3|<i>x</i>"}
        result = {"status": status, "job": "tsne-gmm", "run_id": run_id, "spec": spec,
                  "metrics": {"accuracy_hungarian": 0.8, "accuracy_majority": 0.81,
                              "nmi": 0.7, "ari": -0.05} if status == "finished" else {},
                  "timings": {"tsne": 1.5, "gmm": 0.5, "scoring": 0.1, "total": 3.0},
                  "confusion_matrix": cm,
                  "dataset": {"name": "@digits", "n_samples": 200, "fingerprint": "-abc"},
                  "error": None if status == "finished" else
                  "-boom\n| x | y |\n<img src=x onerror=alert(1)>"}
        write_run_records(runs_dir, run_id, spec, result)
        ids.append(run_id)
    return ids


@pytest.fixture
def report_files(tmp_path) -> dict[str, Path]:
    from mnist_tui.engine.suites.report_files import export_runs_report

    runs_dir = tmp_path / "runs"
    paths = export_runs_report(runs_dir, hostile_runs(runs_dir))
    return {p.suffix: p for p in paths}


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(report_files):
    with open(report_files[".csv"], newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    assert len(body) == 2 and all(len(r) == len(header) for r in body), rows
    cells = [dict(zip(header, r)) for r in body]
    for row in cells:
        for column, cell in row.items():     # a number may start with "-": it is one
            assert not cell.startswith(FORMULA_STARTS) or is_number(cell), (column, cell)
    first, second = cells
    assert first["preset"] == "'" + HOSTILE_PRESET           # the text kept, only neutralised
    assert first["run_id"] == "'" + HOSTILE_RUN
    assert first["dataset"] == "'@digits" and first["dataset_fingerprint"] == "'-abc"
    assert second["preset"].startswith("'+cmd|")
    assert second["error"].startswith("'-boom")
    # a number stays a number, negative included
    assert float(first["ari"]) == -0.05 and float(first["accuracy"]) == 0.8


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every table of a Markdown text: its rows (the separator row left out), each row split on
    the pipes GitHub splits on (those not escaped by a backslash)."""
    import re

    tables: list[list[list[str]]] = []
    previous = False
    for line in text.splitlines():
        is_row = line.startswith("|")
        if is_row and not previous:
            tables.append([])
        if is_row and not re.fullmatch(r"\|(-+\|)+", line):
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            tables[-1].append([c.strip() for c in cells])
        previous = is_row
    return tables


def test_markdown_cells_are_escaped(report_files):
    text = report_files[".md"].read_text()

    tables = markdown_tables(text)
    assert len(tables) == 2, tables                       # no table forged by a newline
    groups, members = tables
    # one header and one row per group / per member, each exactly as wide as its header
    assert len(members) == 1 + 2, members
    assert all(len(r) == len(members[0]) for r in members), members
    assert all(len(r) == len(groups[0]) for r in groups), groups
    assert len(groups) == 1 + 2, groups
    for html in ("<script", "<b>", "<img", "<i>", "</"):
        assert html not in text, html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "\\|" in text                                  # the pipes kept, escaped
    assert "| forged | row |" not in text and "| x | y |" not in text
