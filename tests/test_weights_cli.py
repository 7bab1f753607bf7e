"""VGG16 weights through `mnist-tui --batch`: the ImageNet file that cannot be downloaded is one
`error:` line within seconds and leaves nothing behind; a weights file given by path is loaded.

The download itself (good file, bad hashes, truncation, caps) is tested in-process against a
local server in tests/engine/test_weights_download.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

NOTOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
SMALL = ["--batch", "--job", "vgg16", "--dataset", "digits", "--input-size", "32",
         "--samples", "200", "--epochs", "1"]


def test_imagenet_weights_offline_is_one_error_line_fast_and_leaves_nothing(run_cli, cli_env,
                                                                            tmp_path):
    keras_home = tmp_path / "empty_keras_home"
    keras_home.mkdir()
    env = {**cli_env, "KERAS_HOME": str(keras_home)}   # MNIST_TUI_WEIGHTS_URL: a closed port
    url = env["MNIST_TUI_WEIGHTS_URL"]

    # "fast": no wait on the download's 5 s timeouts or 10-minute deadline. The bound is a
    # hang's (patient(30), through run_cli), not a speed target: speed is in benchmarks/.
    out = run_cli(SMALL, env, timeout=30)

    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    line = lines[0]
    assert f"ImageNet weights {NOTOP} (58.9 MB)" in line
    assert f"Put the file in {keras_home / 'models'}/" in line
    assert url in line and "refused" in line.lower()
    assert line.endswith("--weights none")
    runs = Path(env["MNIST_TUI_RUNS_DIR"])
    assert not runs.exists() or os.listdir(runs) == []          # the run folder was removed
    models = keras_home / "models"
    assert not models.exists() or os.listdir(models) == []      # no file, no *.part
    # the batch front end said what it was fetching before it failed
    assert f"download: downloading the ImageNet weights {NOTOP} (58.9 MB)" in out.stdout


def test_a_weights_file_given_by_path_is_loaded(run_cli, cli_env, tmp_path):
    import keras

    keras.utils.set_random_seed(3)
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "mine.weights.h5"              # Keras 3 wants this suffix
    base.save_weights(path)

    out = run_cli([*SMALL, "--split", "all", "--eval-samples", "100", "--weights", str(path),
                   "--json", "-"], cli_env, timeout=300)

    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["details"]["weights"] == f"file {path}"
    saved = keras.models.load_model(Path(result["run_dir"]) / "model.keras")
    kernel = saved.get_layer("vgg16").get_layer("block4_conv3").get_weights()[0]
    np.testing.assert_array_equal(kernel, base.get_layer("block4_conv3").get_weights()[0])


def test_the_batch_front_end_shows_downloads_in_megabytes():
    import io

    from mnist_tui.batch import Reporter
    from mnist_tui.engine.jobs.events import Phase, Progress

    out = io.StringIO()                 # not a terminal: plain lines, the last one always
    r = Reporter(out)
    r.event(Phase(t=1.0, name="download", message=f"downloading the ImageNet weights {NOTOP}"))
    r.event(Progress(t=1.1, phase="download", step=0, total=58_889_256,
                     message=f"downloading {NOTOP}"))
    r.event(Progress(t=9.0, phase="download", step=58_889_256, total=58_889_256,
                     message=f"downloading {NOTOP}"))
    r.event(Progress(t=9.5, phase="other", step=3, total=None))   # not bytes: a plain count
    lines = out.getvalue().splitlines()
    assert lines[1] == f"[    1.1s] download 0.0/58.9 MB downloading {NOTOP}"
    assert lines[2] == f"[    9.0s] download 58.9/58.9 MB downloading {NOTOP}"
    assert lines[3] == "[    9.5s] other 3"

    r = Reporter(out := io.StringIO())
    r.event(Progress(t=2.0, phase="download", step=1_500_000, total=None, message="x"))
    assert out.getvalue() == "[    2.0s] download 1.5 MB x\n"
