"""The standard protocol on the whole real MNIST (60,000 train + 10,000 test), kept small:
caps on the images and one epoch, so the suite stays fast. Skipped without
MNIST_TUI_REAL_MNIST_FULL (CI sets it to ../shared/mnist-full)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist_tui.engine.data.published import IDX_FILES

pytestmark = pytest.mark.realdata

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_the_whole_mnist_loads_from_one_place_with_its_files_recorded(real_mnist_full_dir):
    from mnist_tui.engine.data.mnist_files import load_path

    ds = load_path(real_mnist_full_dir)
    assert ds.split_names() == ["train", "test"]
    assert np.bincount(ds.splits["train"].labels).tolist() == TRAIN_COUNTS
    assert np.bincount(ds.splits["test"].labels).tolist() == TEST_COUNTS
    files = {f["path"].rsplit("/", 1)[1]: f for f in ds.describe()["files"]}
    assert sorted(files) == sorted(IDX_FILES)
    # the t10k files are byte for byte the published ones (../shared/mnist-full/README.md)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert files[name]["sha256"] == IDX_FILES[name].digest
        assert files[name]["bytes"] == IDX_FILES[name].size


def test_a_classifier_trains_on_the_train_split_and_scores_on_the_test_split(
        run_cli, cli_env, real_mnist_full_dir, tmp_path):
    out = run_cli(["--batch", "--job", "cnn", "--data-dir", str(real_mnist_full_dir),
                   "--samples", "2000", "--eval-samples", "1000", "--epochs", "1",
                   "--json", "-"], cli_env)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["details"]["split"] == "train" and result["spec"]["split"] == "auto"
    assert result["images"]["train"] == ("1,800 images: 2,000 of the 60,000 mnist train images "
                                         "(subset seed 0), less the validation images")
    assert result["images"]["evaluation"] == ("1,000 images of the mnist test split (1,000 "
                                              "images, never used in training)")
    assert result["metrics"]["n_eval"] == 1000 and result["metrics"]["accuracy"] > 0.5
    assert "scored on    1,000 images of the mnist test split" in out.stderr
    assert len(result["dataset"]["files"]) == 4


def test_random_weights_vgg16_learns_from_the_first_epoch(run_cli, cli_env, real_mnist_full_dir):
    """With a BatchNormalization head this predicted "3" for every test image (0.101) after one
    epoch on 1,000 images; the head now standardises with the training features' statistics."""
    out = run_cli(["--batch", "--job", "vgg16", "--data-dir", str(real_mnist_full_dir),
                   "--weights", "none", "--input-size", "32", "--samples", "1000",
                   "--epochs", "1", "--eval-samples", "2000", "--json", "-"], cli_env)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["metrics"]["accuracy"] >= 0.5, result["metrics"]
    assert not any("collapsed" in w for w in result["warnings"])
    predicted = [sum(row[c] for row in result["confusion_matrix"]) for c in range(10)]
    assert max(predicted) < 0.5 * sum(predicted)
