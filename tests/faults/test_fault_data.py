"""Fault contract, row 3 — data that crashed the worker.

All-zero images made openTSNE segfault (exit 3, SIGSEGV, a run folder holding a crash);
1×1 images gave a ValueError from deep inside its PCA initialisation. Now: images smaller
than 4×4 are refused when the data is read (every job, before any run folder exists), and
the clustering job refuses a sample t-SNE cannot embed (blank, or every image the same) with
a DataError — whose run folder the worker then removes. Exit 2, one `error:` line.

The classifiers were checked on the same data: on blank 28×28 and on 4×4 images (the smallest
accepted) the CNN and VGG16 train and report collapsed predictions, they do not crash; 1×1
images are refused before they start, as tested here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fault_helpers import assert_input_error, listing, run_cli
from support import patient

pytestmark = pytest.mark.faults

N = 300
TSNE = ["--job", "tsne-gmm", "--iterations", "260"]


def npz(folder: Path, images: np.ndarray) -> Path:
    path = folder / "mnist.npz"
    np.savez(path, x_train=images.astype(np.uint8), y_train=(np.arange(len(images)) % 10))
    return path


def one_picture() -> np.ndarray:
    picture = np.random.default_rng(0).integers(0, 256, (1, 28, 28))
    return np.repeat(picture, N, axis=0)


CASES = {
    # name: (images, what the message says, whether the run folder existed before the error)
    "blank (all zero)": (np.zeros((N, 28, 28)),
                         "the 300 images chosen are blank (every pixel is 0)", True),
    "constant grey": (np.full((N, 28, 28), 7),
                      "the 300 images chosen are blank (every pixel is 7)", True),
    "one picture repeated": (one_picture(), "the 300 images chosen are all the same picture",
                             True),
    "1×1 images": (np.random.default_rng(1).integers(0, 256, (N, 1, 1)),
                   "images smaller than 4×4 are too small to be digits", False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_images_tsne_cannot_embed_are_refused_before_it_starts(case, tmp_path, env, runs):
    images, expected, in_job = CASES[case]
    path = npz(tmp_path, images)

    run = run_cli([*TSNE, "--data-dir", str(path)], env, tmp_path, timeout=120)

    message = assert_input_error(run)
    assert expected in message, message
    if in_job:     # found by the job's own checks (before or after the run folder is made)
        assert message.startswith("mnist-format (train): ")   # not the published MNIST
    else:
        assert message.startswith(f"{path}: x_train: ")
    assert listing(runs) == []          # no run folder, also when the job had made one
    assert "Traceback" not in run.stdout + run.stderr
    assert run.seconds < patient(60), run.seconds


@pytest.mark.parametrize("job", ["cnn", "vgg16"])
def test_classifiers_refuse_1x1_images_before_they_start(job, tmp_path, env, runs):
    path = npz(tmp_path, np.random.default_rng(1).integers(0, 256, (N, 1, 1)))
    extra = ["--weights", "none", "--input-size", "32"] if job == "vgg16" else []

    run = run_cli(["--job", job, "--data-dir", str(path), "--epochs", "1", *extra], env,
                  tmp_path, timeout=120)

    message = assert_input_error(run)
    assert message == (f"{path}: x_train: declares 300 images of 1×1 pixels: images smaller "
                       "than 4×4 are too small to be digits")
    assert listing(runs) == []
    assert run.seconds < patient(30), run.seconds
