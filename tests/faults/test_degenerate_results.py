"""Issue 22, item 15: a collapsed embedding never passes as a result.

With `--iterations 260` (the example `--help` gives for suites) openTSNE spent 250 iterations on
early exaggeration, which contracts the whole embedding when the perplexity is large for the
number of images (~1e-14 after 250), and the 10 iterations left could not unfold it: every image
in one cluster, NMI 0, reported as a finished run. Now early exaggeration takes at most half the
run, and a result that still means nothing (an embedding collapsed to a point, one cluster
holding almost every image) is a failed run (exit 3) with the reason — never a finished one.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from fault_helpers import run_cli

pytestmark = pytest.mark.faults

QUICK = ["--job", "tsne-gmm", "--dataset", "digits", "--iterations", "260", "--gmm-inits", "2"]


def idx_bytes(arr: np.ndarray) -> bytes:
    """The IDX file holding `arr` (uint8): MNIST's format."""
    arr = np.asarray(arr, dtype=np.uint8)
    return b"\0\0\x08" + bytes([arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) \
        + arr.tobytes()


def write_nearly_identical(folder: Path, n: int = 300, others: int = 10) -> Path:
    """An MNIST-format test split whose images are all one drawn "0" (a ring) but for `others`
    random pictures: data whose clustering is one group, whatever the algorithm."""
    yy, xx = np.mgrid[:28, :28]
    ring = (np.abs(np.hypot(yy - 14, xx - 14) - 8) < 2) * 255
    images = np.repeat(ring[None], n, axis=0)
    rng = np.random.default_rng(5)
    images[:others] = (rng.random((others, 28, 28)) < 0.2) * 255
    labels = np.zeros(n, dtype=np.uint8)
    labels[:others] = rng.integers(1, 10, others)
    folder.mkdir(parents=True)
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    return folder


def assert_failed_run(run, runs: Path, reason: str) -> dict:
    """Exit 3, a failed (not finished) record with `reason` in --json, result.json and the
    summary; no scores and no embedding kept. Returns the result."""
    assert run.returncode == 3, run.stdout + run.stderr
    result = run.result
    assert result is not None and result["status"] == "failed", result
    assert result["error_kind"] == "job" and result["error"].startswith(reason), result["error"]
    assert "traceback" not in result     # a result that means nothing is no crash
    assert result["metrics"] == {} and result["confusion_matrix"] is None
    (folder,) = runs.iterdir()
    assert json.loads((folder / "result.json").read_text()) == result
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    assert events[-1]["type"] == "failed" and "finished" not in [e["type"] for e in events]
    assert not (folder / "embedding.npz").exists()
    assert "tsne-gmm failed: " in run.stdout and reason in run.stdout, run.stdout
    return result


@pytest.mark.parametrize("samples, perplexity", [(300, 30), (60, 19)])
def test_the_helps_260_iterations_give_a_real_embedding(samples, perplexity, tmp_path, env,
                                                        runs):
    """The collapse's cause fixed: 260 iterations cluster the digits far above chance (0.1),
    also at the largest perplexity 60 images allow (it collapsed there too)."""
    run = run_cli([*QUICK, "--samples", str(samples), "--perplexity", str(perplexity)], env,
                  tmp_path, timeout=240)

    assert run.returncode == 0, run.stdout + run.stderr
    m = run.result["metrics"]
    assert m["accuracy_hungarian"] > 0.4 and m["nmi"] > 0.4, m
    counts = np.array(run.result["cluster_counts"]).sum(axis=1)
    assert counts.max() < 0.5 * samples, counts       # not one cluster holding everything


def test_a_collapsed_embedding_is_a_failed_run_with_the_reason(tmp_path, env, runs):
    """--exaggeration 12 (the largest allowed) keeps contracting 300 digits at perplexity 30:
    the embedding ends ~1e-14 wide. Today that "finished" with NMI 0."""
    run = run_cli([*QUICK, "--samples", "300", "--exaggeration", "12"], env, tmp_path,
                  timeout=240)

    result = assert_failed_run(run, runs, "t-SNE embedding collapsed: spread ")
    spread = float(result["error"].split("spread ")[1].split()[0])
    assert spread < 1e-4, result["error"]


def test_one_cluster_holding_almost_everything_is_a_failed_run(tmp_path, env, runs):
    """290 copies of one picture and 10 others in 2 clusters: one cluster holds 96.7 %."""
    data = write_nearly_identical(tmp_path / "data")

    run = run_cli(["--job", "tsne-gmm", "--data-dir", str(data), "--iterations", "260",
                   "--gmm-inits", "2", "--gmm-components", "2"], env, tmp_path, timeout=240)

    assert_failed_run(run, runs, "degenerate clustering: one cluster holds 96.7% of the 300 "
                                 "images")
