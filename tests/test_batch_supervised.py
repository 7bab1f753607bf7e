"""The vgg16 and cnn jobs through `mnist-tui --batch` (worker process): the JSON contract,
weights from the Keras cache, one-line input errors, cancellation and a mirrored strategy.

Few TensorFlow processes on purpose (each costs seconds to import); the input-error cases fail
before TensorFlow is imported.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
from support import patient, wait_until

NOTOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG_SMALL = ["--batch", "--job", "vgg16", "--input-size", "32", "--samples", "200",
             "--eval-samples", "100", "--epochs", "1", "--batch-size", "32", "--split", "test"]


def _runs(env) -> list:
    d = os.path.join(env["MNIST_TUI_RUNS_DIR"])
    return os.listdir(d) if os.path.isdir(d) else []


def test_imagenet_weights_are_read_from_the_keras_cache_without_network(run_cli, cli_env, tmp_path,
                                                                         real_mnist_dir):
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(7)
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    models = tmp_path / "keras_home" / "models"
    models.mkdir(parents=True)
    with h5py.File(models / NOTOP, "w", libver="latest") as f:   # Keras' own file's layout
        legacy_h5_format.save_weights_to_hdf5_group(f, base)
    # The cache is trusted only by the published hash: the test makes this file count as the
    # published one (the real hash cannot be produced here).
    from faults.fault_helpers import published_env

    env = published_env({**cli_env, "KERAS_HOME": str(tmp_path / "keras_home")},
                        {NOTOP: (models / NOTOP).read_bytes()}, tmp_path)
    out = run_cli([*VGG_SMALL, "--data-dir", str(real_mnist_dir), "--weights", "imagenet",
                   "--tensorboard", str(tmp_path / "tb"), "--json", "-"], env, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "\r" not in out.stderr and "━" not in out.stderr        # no Keras progress bar
    result = json.loads(out.stdout)
    assert result["status"] == "finished"
    assert result["details"]["weights"].startswith("imagenet (") and NOTOP in \
        result["details"]["weights"]
    assert [h["epoch"] for h in result["history"]] == [1]
    assert result["metrics"]["eval_split"].startswith("held-out")
    run_dir = tmp_path / "runs" / result["run_id"]
    for name in ("history.csv", "model.keras", "predictions.npz", "result.json"):
        assert (run_dir / name).is_file(), name
    assert any((tmp_path / "tb").rglob("events.out.tfevents.*"))
    saved = keras.models.load_model(run_dir / "model.keras")
    kernel = saved.get_layer("vgg16").get_layer("block3_conv2").get_weights()[0]
    np.testing.assert_array_equal(kernel, base.get_layer("block3_conv2").get_weights()[0])
    events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds.index("model_summary") < kinds.index("epoch") < kinds.index("finished")
    assert [e["name"] for e in events if e["type"] == "phase"] == [
        "loading", "importing", "building", "feature_extraction", "feature_stats", "training",
        "evaluation"]


def test_missing_imagenet_weights_fail_at_once_naming_the_file(run_cli, cli_env, tmp_path):
    env = {**cli_env, "KERAS_HOME": str(tmp_path / "empty_keras_home")}
    # at once: bounded like a hang (patient(30) through run_cli), never a 10-minute download
    out = run_cli([*VGG_SMALL, "--dataset", "digits", "--split", "train",
                   "--weights", "imagenet"], env, timeout=30)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert NOTOP in lines[0] and str(tmp_path / "empty_keras_home" / "models") in lines[0]
    assert "--weights none" in lines[0]
    assert _runs(env) == []


def test_a_weights_path_that_is_not_a_weights_file_is_exit_2_and_leaves_nothing(run_cli, cli_env,
                                                                                tmp_path):
    bad = tmp_path / "weights.h5"
    bad.write_bytes(b"this is not HDF5 at all")
    out = run_cli([*VGG_SMALL, "--dataset", "digits", "--split", "train", "--weights",
                   str(bad)], cli_env, timeout=60)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "not an HDF5" in lines[0], out.stderr
    assert _runs(cli_env) == []


def test_sigterm_mid_epoch_cancels_and_keeps_the_finished_epochs(cli_env, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "mnist_tui", "--batch", "--job", "cnn",
                             "--dataset", "digits", "--epochs", "300", "--batch-size", "16"],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    run_id = None
    deadline = time.monotonic() + patient(120)
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("run "):
            run_id = line.split()[1].rstrip(":")
        if "] epoch 2/300 " in line:          # the epoch summary, not a progress line
            break
    assert run_id, "the run never started"
    run_dir = tmp_path / "runs" / run_id
    meta = json.loads((run_dir / "meta.json").read_text())
    events = run_dir / "events.jsonl"
    wait_until(lambda: "epoch 3/300" in events.read_text(), 60, "epoch 3 under way")
    os.kill(meta["pid"], signal.SIGTERM)
    # stopped within the epoch, not after the 300 (minutes): the bound is a hang's
    proc.communicate(timeout=patient(30))
    assert proc.returncode == 130
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "cancelled"
    epochs = [h["epoch"] for h in result["history"]]
    assert epochs[:2] == [1, 2] and len(epochs) < 300
    assert len((run_dir / "history.csv").read_text().splitlines()) == len(epochs) + 1


def test_mirrored_strategy_on_two_logical_cpus(run_cli, cli_env):
    env = {**cli_env, "MNIST_TUI_CPU_DEVICES": "2"}
    out = run_cli(["--batch", "--job", "cnn", "--dataset", "digits", "--epochs", "1",
                   "--strategy", "mirrored", "--json", "-"], env, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    strategy = result["details"]["strategy"]
    assert strategy["name"] == "mirrored" and strategy["replicas"] == 2, strategy
    assert result["metrics"]["accuracy"] > 0.3
