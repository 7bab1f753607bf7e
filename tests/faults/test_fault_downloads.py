"""Fault contract, row 2 — downloads with limits (`fetch.fetch_file`, shared by MNIST and
VGG16's weights), and a cache that holds only verified files.

Every test drives the real CLI against the one hostile server of this suite (or a closed port,
offline) with its own caches, and checks: the exit code, the single `error:` line, the JSON
status, no run folder, no file and no part file left in the cache.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_helpers import (
    assert_input_error,
    closed_port_url,
    listing,
    part_files,
    published_env,
    run_cli,
    small_idx_files,
    small_npz,
)
from support import patient

from mnist_tui.engine.data.published import IMAGENET_FILE, KERAS_NPZ
from mnist_tui.engine.data.weights import IMAGENET_NOTOP

pytestmark = pytest.mark.faults

MNIST_JOB = ["--job", "tsne-gmm", "--dataset", "mnist"]
VGG_JOB = ["--job", "vgg16", "--dataset", "digits", "--input-size", "32", "--samples", "200",
           "--epochs", "1"]
# A finished clustering run in a few seconds, on a 200-image dataset (scikit-learn's t-SNE:
# openTSNE's FFT gradients take ~9 s on 200 points on 2 busy cores, scikit-learn's 0.3 s).
QUICK_TSNE = ["--job", "tsne-gmm", "--perplexity", "10", "--iterations", "260", "--pca", "10",
              "--gmm-inits", "1", "--tsne-backend", "sklearn"]


def target(kind: str, env: dict, url_for) -> tuple[list[str], dict, Path, str, int]:
    """(CLI args, env, the cache folder, file name, expected size) for a download of MNIST's
    npz or of VGG16's weights from the URL `url_for(name)` gives."""
    if kind == "mnist":
        return (MNIST_JOB, {**env, "MNIST_TUI_MIRRORS": url_for("mnist.npz")},
                Path(env["MNIST_TUI_CACHE_DIR"]), "mnist.npz", KERAS_NPZ.size)
    return (VGG_JOB, {**env, "MNIST_TUI_WEIGHTS_URL": url_for(IMAGENET_NOTOP)},
            Path(env["KERAS_HOME"]) / "models", IMAGENET_NOTOP, IMAGENET_FILE.size)


# --- a body with no Content-Length -------------------------------------------------------------

@pytest.mark.parametrize("kind", ["mnist", "weights"])
def test_a_body_without_a_length_stops_at_the_expected_size(kind, tmp_path, env, runs,
                                                            hostile):
    args, env, folder, name, size = target(kind, env,
                                           lambda n: hostile.url("endless", n))
    hostile.put(name, b"")

    run = run_cli(args, env, tmp_path, timeout=60)

    message = assert_input_error(run)
    assert f"sent more than the {size:,} bytes of {name}" in message, message
    assert "wrong size" in message or "--weights none" in message
    assert hostile.hung_up.wait(patient(5))                   # the client stopped reading
    # what the server got into the socket: the file's size plus the kernel's buffers at most
    assert hostile.sent["endless"] <= size + 16 * 2**20, hostile.sent
    assert listing(folder) == [] and listing(runs) == []
    assert run.seconds < patient(20), run.seconds


# --- a server trickling a byte at a time ---------------------------------------------------------

@pytest.mark.parametrize("kind", ["mnist", "weights"])
def test_a_trickling_server_hits_the_overall_deadline(kind, tmp_path, env, runs, hostile):
    args, env, folder, name, size = target(kind, env,
                                           lambda n: hostile.url("trickle", n))
    hostile.put(name, bytes(1000))
    env = {**env, "MNIST_TUI_DOWNLOAD_DEADLINE": "2",     # per-read timeout 3 s: a byte
           "MNIST_TUI_DOWNLOAD_TIMEOUT": "3"}             # every 0.2 s never trips it

    run = run_cli(args, env, tmp_path, timeout=60)

    message = assert_input_error(run)
    assert re.search(rf"too slow: \d+ bytes of .* of {re.escape(name)} in 2 s", message), message
    assert "MNIST_TUI_DOWNLOAD_DEADLINE allows longer" in message
    if kind == "mnist":
        assert "1 mirror tried: too slow" in message
    assert 0 < hostile.sent["trickle"] < 30          # a few bytes, then it gave up
    assert listing(folder) == [] and listing(runs) == []
    assert run.seconds < patient(12), run.seconds


# --- the wrong bytes, or too few ------------------------------------------------------------------

@pytest.mark.parametrize("mode, reason", [
    ("wrong", "1 mirror tried: checksum mismatch; last error: checksum mismatch for mnist.npz"),
    ("truncated", "1 mirror tried: offline or unreachable; last error: connection closed after "
                  "5745217 of 11490434 bytes"),
], ids=["wrong", "truncated"])
def test_a_wrong_or_truncated_file_is_refused_and_leaves_nothing(mode, reason, tmp_path, env,
                                                                 runs, cache, hostile):
    hostile.put("mnist.npz", bytes(KERAS_NPZ.size))   # the right size, not Keras' bytes
    env = {**env, "MNIST_TUI_MIRRORS": hostile.url(mode, "mnist.npz")}

    run = run_cli(MNIST_JOB, env, tmp_path)

    message = assert_input_error(run)
    assert reason in message, message
    assert listing(cache) == [] and listing(runs) == []
    assert run.seconds < patient(20), run.seconds


# --- a worker killed mid-download ----------------------------------------------------------------

def test_a_killed_download_leaves_a_part_file_that_the_next_download_removes(
        tmp_path, env, runs, cache, hostile):
    hostile.put("mnist.npz", bytes(100_000))
    slow = {**env, "MNIST_TUI_MIRRORS": hostile.url("trickle", "mnist.npz"),
            "MNIST_TUI_DOWNLOAD_DEADLINE": "120"}
    result = tmp_path / "killed.json"
    proc = subprocess.Popen([sys.executable, "-m", "mnist_tui", "--batch", *MNIST_JOB,
                             "--json", str(result)], env=slow, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + patient(30)
        while not part_files(cache) and time.monotonic() < deadline:
            time.sleep(0.05)
        [part] = part_files(cache)
        # .mnist.npz.<pid>.<random>.part: the pid of the worker writing it
        worker = int(part.name[len(".mnist.npz."):].split(".")[0])
        assert worker != proc.pid
        os.kill(worker, signal.SIGKILL)
        out, err = proc.communicate(timeout=patient(30))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # Truthfully a failed job (exit 3), killed by SIGKILL, with no run folder behind it.
    assert proc.returncode == 3, out + err
    killed = json.loads(result.read_text())
    assert killed["status"] == "failed" and "SIGKILL" in killed["error"], killed
    assert killed["run_dir"] is None and listing(runs) == []
    assert part_files(cache) == [part]               # nothing can clean up after SIGKILL...

    run = run_cli(MNIST_JOB, env, tmp_path)          # ...so the next download does (offline)
    assert_input_error(run)
    assert listing(cache) == []


# --- a cached file that is not the published one -------------------------------------------------

def test_a_same_size_garbage_file_in_the_cache_is_removed_and_fetched_again(
        tmp_path, env, runs, cache, hostile):
    def garbage() -> Path:
        cache.mkdir(parents=True, exist_ok=True)
        path = cache / "mnist.npz"
        with open(path, "wb") as fh:                 # the size the cache used to trust
            fh.truncate(KERAS_NPZ.size)
        return path

    removed = "The cached mnist.npz (SHA-256 mismatch: not the published file) was removed."

    # --dataset mnist, offline: one line saying what happened to it; nothing left
    garbage()
    run = run_cli(MNIST_JOB, env, tmp_path)
    message = assert_input_error(run)
    assert removed in message, message
    assert listing(cache) == [] and listing(runs) == []

    # --dataset auto, offline: falls back to the bundled digits, and the note says why
    garbage()
    run = run_cli([*QUICK_TSNE, "--dataset", "auto", "--samples", "200"], env, tmp_path,
                  timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.result["status"] == "finished"
    assert run.result["dataset"]["name"] == "digits"
    assert removed in run.result["dataset"]["note"]
    assert "scikit-learn's bundled 8×8 digits" in run.result["dataset"]["note"]
    assert removed in run.stdout                     # the batch log says it too
    assert listing(cache) == []

    # online: the bad copy is replaced by the published file (a test file made "published")
    npz = small_npz()
    garbage_path = garbage()
    with open(garbage_path, "wb") as fh:             # same size as *this* published file
        fh.truncate(len(npz))
    hostile.put("mnist.npz", npz)
    online = published_env({**env, "MNIST_TUI_MIRRORS": hostile.url("file", "mnist.npz")},
                           {"mnist.npz": npz}, tmp_path)
    run = run_cli([*QUICK_TSNE, "--dataset", "mnist"], online, tmp_path, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (cache / "mnist.npz").read_bytes() == npz
    assert listing(cache) == ["mnist.npz"]
    assert run.result["dataset"]["files"][0]["path"] == str(cache / "mnist.npz")


def test_a_same_size_garbage_weights_file_is_removed_and_the_job_says_so(tmp_path, env, runs):
    models = Path(env["KERAS_HOME"]) / "models"
    models.mkdir(parents=True)
    with open(models / IMAGENET_NOTOP, "wb") as fh:   # the size the cache used to trust
        fh.truncate(IMAGENET_FILE.size)

    run = run_cli([*VGG_JOB, "--weights", "imagenet"], env, tmp_path)

    message = assert_input_error(run)
    assert (f"(The cached {IMAGENET_NOTOP} (MD5 mismatch: not the published file) was "
            "removed.)") in message, message
    assert message.endswith("or use --weights none")
    assert listing(models) == [] and listing(runs) == []
    assert run.seconds < patient(20), run.seconds


# --- the offline advice, followed literally ---------------------------------------------------

ADVICE = re.compile(r"Put (?P<what>.+), byte for byte as published \(they are verified\), "
                    r"in (?P<folder>\S+), or point --data-dir at a folder that has MNIST")


@pytest.mark.parametrize("layout", ["npz", "idx"])
def test_following_the_offline_advice_literally_works(layout, tmp_path, env, runs):
    published = {"mnist.npz": small_npz(), **small_idx_files()}
    env = published_env({**env, "MNIST_TUI_MIRRORS": closed_port_url("mnist/")}, published,
                        tmp_path)

    run = run_cli(MNIST_JOB, env, tmp_path)
    message = assert_input_error(run)
    advice = ADVICE.search(message)
    assert advice, message
    folder = Path(advice["folder"])
    assert folder == Path(env["MNIST_TUI_CACHE_DIR"])
    options = advice["what"].split(", or ")
    if layout == "npz":
        [npz] = [o for o in options if o.startswith("Keras' ")]
        names = [npz[len("Keras' "):]]
    else:
        [idx] = [o for o in options if o.startswith("the 4 gzip IDX files ")]
        names = idx[len("the 4 gzip IDX files "):].split(", ")
    assert names and all(n in published for n in names), names

    folder.mkdir(parents=True, exist_ok=True)
    for name in names:                              # exactly what the line said, where it said
        (folder / name).write_bytes(published[name])
    run = run_cli([*QUICK_TSNE, "--dataset", "mnist"], env, tmp_path, timeout=120)

    assert run.returncode == 0, run.stdout + run.stderr
    assert run.result["status"] == "finished"
    read = sorted(Path(f["path"]).name for f in run.result["dataset"]["files"])
    assert read == sorted(names)
    assert sorted(listing(folder)) == sorted(names)   # used in place, nothing re-downloaded
