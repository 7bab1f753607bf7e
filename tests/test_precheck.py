"""Inputs the loaded data makes impossible are refused before the run folder exists and before
any framework is imported (issue 26): a refused run leaves no folder for other windows to
follow as "interrupted", and the batch answers in a moment, not after TensorFlow's import."""

from __future__ import annotations

import pytest

CASES = {
    "cnn": (["--samples", "99999", "--epochs", "1"],
            "error: --samples 99999 is more than the 1,797 images available"),
    "vgg16": (["--samples", "99999", "--weights", "none", "--input-size", "32"],
              "error: --samples 99999 is more than the 1,797 images available"),
    "tsne-gmm": (["--samples", "5000"],
                 "error: --samples 5000 is more than the 1,797 images available"),
}


@pytest.mark.parametrize("job", sorted(CASES))
def test_impossible_for_this_data_is_refused_before_any_import(run_cli, cli_env, tmp_path, job):
    args, needle = CASES[job]
    out = run_cli(["--batch", "--job", job, "--dataset", "digits", *args], cli_env)
    assert out.returncode == 2, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(needle), last
    assert "importing" not in out.stdout + out.stderr   # no framework started to refuse it
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())
