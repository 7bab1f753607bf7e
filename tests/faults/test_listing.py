"""Fault rows of the run listing the TUI, --rerun and --reuse-runs rely on: one bad folder is
skipped and reported, never fatal, never a hang, never a memory blow-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from support import patient

from mnist_tui.engine.jobs.results import RunResult
from mnist_tui.engine.runs import records
from mnist_tui.engine.runs.store import RunStore

pytestmark = pytest.mark.faults


def good_run(root, name="good"):
    p = root / name
    p.mkdir(parents=True)
    records.write_meta(p, records.RunMeta(run_id=name, created="2026-01-01", pid=1,
                                          host="elsewhere"))
    records.write_spec(p, {"job": "tsne-gmm", "dataset": "digits", "samples": 100,
                           "iterations": 300, "gmm_inits": 1})
    records.create_result(p, RunResult.from_dict(
        {"status": "finished", "metrics": {"accuracy_hungarian": 0.9}}))
    return p


def bad_run(root, name, **files):
    p = root / name
    p.mkdir(parents=True)
    (p / "spec.json").write_text(json.dumps({"job": "cnn"}))
    for fname, text in files.items():
        (p / fname.replace("_", ".")).write_text(text)
    return p


@pytest.mark.parametrize("name, files", [
    ("meta-created-5", {"meta_json": '{"created": 5}'}),
    ("meta-null", {"meta_json": "null"}),
    ("meta-list", {"meta_json": "[1]"}),
    ("pid-text", {"meta_json": '{"pid": "abc", "created": "x"}'}),
    ("pid-list", {"meta_json": '{"pid": [1]}'}),
    ("events-5", {"events_jsonl": "5\n[1]\n\"x\"\n"}),
    ("deep-result", {"result_json": "[" * 100_000 + "]" * 100_000}),
    ("random-spec", {"spec_json": "\udcff".encode("utf-8", "surrogateescape").decode(
        "latin-1") * 3}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_one_bad_folder_never_breaks_the_listing(tmp_path, name, files):
    good_run(tmp_path)
    bad_run(tmp_path, name, **files)
    store = RunStore(tmp_path)
    listed = {r.run_id: r for r in store.list()}
    assert "good" in listed and listed["good"].status == "finished"
    if name in listed:                       # readable enough to list: typed, defaults filled
        assert isinstance(listed[name].created, str)
    else:
        assert name in [s.name for s in store.skipped]
    store.reap()                             # and reaping does not trip on it either
    store.events(name) if name in listed else None


def test_a_spec_that_is_a_fifo_or_dev_zero_neither_hangs_nor_eats_memory(tmp_path):
    good_run(tmp_path)
    fifo = tmp_path / "fifo-spec"
    fifo.mkdir()
    os.mkfifo(fifo / "spec.json")
    zero = tmp_path / "zero-spec"
    zero.mkdir()
    (zero / "spec.json").symlink_to("/dev/zero")
    t0 = time.monotonic()
    store = RunStore(tmp_path)
    assert [r.run_id for r in store.list()] == ["good"]
    assert time.monotonic() - t0 < patient(5)
    assert sorted(s.name for s in store.skipped) == ["fifo-spec", "zero-spec"]


@pytest.mark.parametrize("text, words", [
    ('{"job": []}', "job"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ("\xff\xfe garbage", "not valid JSON"),
], ids=["job-list", "deep", "bytes"])
def test_a_bad_config_is_one_error_line(cli_env, tmp_path, text, words):
    config = tmp_path / "spec.json"
    config.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    out = subprocess.run([sys.executable, "-m", "mnist_tui", "--batch", "--config", str(config)],
                         env=cli_env, capture_output=True, text=True, timeout=patient(60), check=False)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], out.stderr


def test_config_dev_zero_is_refused_at_once(cli_env):
    out = subprocess.run([sys.executable, "-m", "mnist_tui", "--batch", "--config", "/dev/zero"],
                         env=cli_env, capture_output=True, text=True, timeout=patient(60), check=False)
    assert out.returncode == 2
    assert "not a regular file" in out.stderr


def test_rerun_of_a_run_whose_spec_is_random_bytes_is_one_error_line(cli_env, tmp_path):
    runs = tmp_path / "runs"
    p = runs / "20260101-000000-cnn-abcdef"
    p.mkdir(parents=True)
    (p / "spec.json").write_bytes(os.urandom(200))
    out = subprocess.run([sys.executable, "-m", "mnist_tui", "--batch", "--rerun", p.name,
                          "--runs-dir", str(runs)], env=cli_env, capture_output=True,
                         text=True, timeout=patient(60), check=False)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr


def test_a_200_kb_spec_is_one_short_error_line(cli_env, tmp_path):
    """Bug: a 200 KB data_dir reached the worker's command line: exit 3 `Argument list too
    long`; an unknown 200 KB preset was echoed whole."""
    for field, value in (("data_dir", "/tmp/" + "x" * 200_000), ("preset", "x" * 200_000)):
        config = tmp_path / f"{field}.json"
        config.write_text(json.dumps({"job": "tsne-gmm", field: value}))
        out = subprocess.run([sys.executable, "-m", "mnist_tui", "--batch", "--config",
                              str(config)], env=cli_env, capture_output=True, text=True,
                             timeout=patient(60), check=False)
        assert out.returncode == 2
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "too long" in lines[0] and len(lines[0]) < 200
