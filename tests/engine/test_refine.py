"""Self-training after the clustering (the `refined` preset): what each round keeps, the label-free
confidence, and a whole run that reports both numbers — the clustering alone and after."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from scipy.sparse import csr_matrix
from support import patient

from mnist_tui.engine.jobs.refine import (
    affinity_agreement,
    auto_epochs,
    confidence,
    trusted,
)
from mnist_tui.engine.jobs.specs import build_spec


def test_trust_is_the_threshold_and_no_cluster_is_left_without_an_image():
    labels = np.array([0, 0, 0, 1, 1, 2])
    conf = np.array([0.9, 0.4, 0.6, 0.2, 0.3, 0.5])
    # cluster 1 has nobody at 0.5: its most confident image (0.3) is kept all the same
    assert np.flatnonzero(trusted(labels, conf, 0.5, k=3)).tolist() == [0, 2, 4, 5]


def test_affinity_agreement_is_the_share_of_affinity_on_the_own_cluster():
    P = csr_matrix(np.array([[0, 0.6, 0.4], [0.5, 0, 0.5], [0.2, 0.8, 0]]))
    clusters = np.array([0, 0, 1])
    assert np.allclose(affinity_agreement(P, clusters), [0.6, 0.5, 0.0])


def test_without_affinities_the_neighbours_in_the_features_decide():
    rng = np.random.default_rng(0)
    blobs = np.concatenate([rng.normal(0, 0.1, (40, 2)), rng.normal(5, 0.1, (40, 2))])
    clusters = np.repeat([0, 1], 40)
    clusters[3] = 1                          # a point of the first blob put in the second cluster
    conf = confidence(clusters, posterior=np.full(80, 0.5), features=blobs)
    assert conf[3] == np.float32(0.0 + 0.005)                # none of its neighbours agree
    assert np.all(conf[40:] == np.float32(1.0 + 0.005))      # the clean blob agrees everywhere


def test_auto_epochs_are_the_measured_choices():
    assert (auto_epochs(70_000), auto_epochs(10_000), auto_epochs(250)) == (3, 8, 8)


def test_the_refined_preset_turns_self_training_on_and_the_default_does_not():
    assert build_spec("tsne-gmm", "refined", {}).refine_rounds == 1
    assert build_spec("tsne-gmm", "default", {}).refine_rounds == 0


def test_a_refined_run_reports_both_numbers_and_its_rounds(cli_env, tmp_path):
    out = tmp_path / "r.json"
    run = subprocess.run([sys.executable, "-m", "mnist_tui", "--batch", "--job", "tsne-gmm",
                          "--preset", "refined", "--dataset", "digits", "--samples", "400",
                          "--iterations", "300", "--gmm-inits", "1", "--refine-rounds", "1",
                          "--refine-epochs", "1", "--json", str(out)], env=cli_env,
                         capture_output=True, text=True, timeout=patient(300), check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    alone, after = result["metrics_clustering"], result["metrics"]
    assert set(alone) >= {"accuracy_hungarian", "accuracy_majority", "nmi", "ari"}
    assert after["accuracy_hungarian"] > 0.5 and alone["accuracy_hungarian"] > 0.5
    [record] = result["details"]["refine"]["rounds"]
    assert sum(record["cluster_sizes"]) == 400 and 0.5 <= record["agreement"] <= 1.0
    assert 200 <= record["kept"] <= 400 and not record["rejected"]   # the trusted images
    assert {"tsne", "gmm", "importing", "refine", "rescoring"} <= set(result["timings"])
    # the summary labels both: the clustering alone and after self-training
    assert "after self-training (one-to-one)" in run.stdout
    assert f"clustering alone (one-to-one)          {alone['accuracy_hungarian']:.4f}" \
        in run.stdout
    assert "round 1/1: " in run.stdout and "agree with the previous labels" in run.stdout
