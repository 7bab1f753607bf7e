"""Issue 22, data items: what `--data-dir` reads cannot fool the tool.

- 8: two sparse 8 GB files named like MNIST in two subfolders were hashed whole (70 s and more,
  growing with their apparent size) before being refused. Headers and sizes are compared first;
  a file is hashed only when it could be loaded, so the refusal comes at once.
- 13a: an npz holding two members for one array silently used the last one: refused.
- 14: other data in MNIST's format (Kuzushiji-MNIST, say) was reported everywhere as "dataset
  mnist". Now only the published files (verified by SHA-256) are named MNIST; anything else is
  "MNIST-format data from PATH, not the published MNIST" in the summary, --json and records.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fault_helpers import assert_input_error, listing, npy_header, run_cli
from support import patient

pytestmark = pytest.mark.faults

TSNE = ["--job", "tsne-gmm", "--iterations", "260"]
EIGHT_GB = 8 << 30


def idx_bytes(arr: np.ndarray) -> bytes:
    """The IDX file holding `arr` (uint8): MNIST's format, whatever the data."""
    arr = np.asarray(arr, dtype=np.uint8)
    return b"\0\0\x08" + bytes([arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) \
        + arr.tobytes()


def write_other_data(folder: Path, n_train: int = 300, n_test: int = 100) -> Path:
    """Random 28×28 "digits" with random labels as the four MNIST files: MNIST's format, but
    not MNIST (what Kuzushiji-MNIST or Fashion-MNIST look like to a loader)."""
    rng = np.random.default_rng(22)
    folder.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
            idx_bytes(rng.integers(0, 256, (n, 28, 28))))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(rng.integers(0, 10, n)))
    return folder


# -- 8: no hashing before headers and sizes ----------------------------------------------------

HEADERS = {
    # a header that promises 60,000 28×28 images (47 MB) on an 8 GB file
    "valid-looking header": b"\0\0\x08\x03" + struct.pack(">3I", 60_000, 28, 28),
    "not an IDX header": b"PK\x03\x04 not MNIST at all",
}


def sparse_file(path: Path, header: bytes, size: int = EIGHT_GB) -> Path:
    """`header`, then zeros up to `size` bytes: sparse, so it costs no disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(header)
        fh.truncate(size)
    return path


@pytest.mark.parametrize("header", list(HEADERS))
def test_two_sparse_8gb_files_are_refused_without_hashing_them(header, tmp_path, env, runs):
    data = tmp_path / "data"
    for sub in ("a", "b"):
        sparse_file(data / sub / "train-images-idx3-ubyte", HEADERS[header])

    run = run_cli([*TSNE, "--data-dir", str(data)], env, tmp_path, timeout=10)

    message = assert_input_error(run)
    assert "found in 2 places" in message and "a/ (train)" in message \
        and "b/ (train)" in message, message
    assert run.seconds < patient(10), run.seconds      # a hang bound: it was 70 s and more
    assert listing(runs) == []
    assert "Traceback" not in run.stdout + run.stderr


def test_identical_copies_still_count_as_one_place(tmp_path, env, runs):
    """Kaggle ships every file twice: byte-identical copies (raw or gzip) are still one place,
    hashed because they could load — only impossible files are spared the hash."""
    data = write_other_data(tmp_path / "data" / "one")
    twin = tmp_path / "data" / "two"
    twin.mkdir()
    for f in data.iterdir():
        (twin / (f.name + ".gz")).write_bytes(gzip.compress(f.read_bytes(), mtime=0))
        (data / (f.name + ".gz")).write_bytes(gzip.compress(f.read_bytes(), mtime=0))
        f.unlink()

    run = run_cli([*TSNE, "--data-dir", str(tmp_path / "data"), "--samples", "200"], env,
                  tmp_path, timeout=120)

    assert run.returncode == 0, run.stdout + run.stderr
    assert run.result["dataset"]["n_samples"] == 200


def test_same_size_same_header_different_data_is_two_places(tmp_path, env, runs):
    """Sizes and headers agree, so the hash decides: different data is refused, naming both."""
    write_other_data(tmp_path / "data" / "a")
    other = write_other_data(tmp_path / "other")
    shutil.copytree(other, tmp_path / "data" / "b")
    raw = bytearray((tmp_path / "data" / "b" / "train-images-idx3-ubyte").read_bytes())
    raw[-1] ^= 0xFF                  # one pixel of the last image differs
    (tmp_path / "data" / "b" / "train-images-idx3-ubyte").write_bytes(bytes(raw))

    run = run_cli([*TSNE, "--data-dir", str(tmp_path / "data")], env, tmp_path, timeout=60)

    message = assert_input_error(run)
    assert "found in 2 places" in message and "a/ (train, test)" in message \
        and "b/ (train, test)" in message, message


# -- 13a: an npz naming one array twice ---------------------------------------------------------

def npy(arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr)
    return npy_header(arr.shape, arr.dtype.str) + arr.tobytes()


def npz_with(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # zipfile warns about the duplicate: we mean it
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members:
                zf.writestr(name, data)
    return path


@pytest.mark.parametrize("second", ["x_train.npy", "x_train"])
def test_npz_with_two_members_for_one_array_is_refused(second, tmp_path, env, runs):
    rng = np.random.default_rng(13)
    first, last = (rng.integers(0, 256, (300, 28, 28), dtype=np.uint8) for _ in range(2))
    labels = (np.arange(300) % 10).astype(np.uint8)
    path = npz_with(tmp_path / "mnist.npz", [("x_train.npy", npy(first)),
                                             ("y_train.npy", npy(labels)),
                                             (second, npy(last))])

    run = run_cli([*TSNE, "--data-dir", str(path), "--samples", "200"], env, tmp_path,
                  timeout=120)

    message = assert_input_error(run)
    assert message.startswith(f"{path}: the archive holds two members "), message
    assert "x_train" in message and "ambiguous" in message, message
    assert listing(runs) == []
    assert "Traceback" not in run.stdout + run.stderr


# -- 14: data named for what it is ---------------------------------------------------------------

PLAIN_MNIST = re.compile(r"(?<![\w-])mnist(?![\w-])", re.IGNORECASE)


def plain_mnist_names(text: str) -> list[str]:
    """Every place `text` calls the data plain "mnist"/"MNIST" without saying it is not the
    published MNIST (the phrase "not the published MNIST" is the one allowed use)."""
    return PLAIN_MNIST.findall(text.replace("not the published MNIST", ""))


def test_other_data_in_mnist_format_is_not_named_mnist(tmp_path, env, runs):
    data = write_other_data(tmp_path / "kuzushiji")
    said = f"MNIST-format data from {data}, not the published MNIST"

    run = run_cli([*TSNE, "--data-dir", str(data), "--samples", "200"], env, tmp_path,
                  timeout=120)

    assert run.returncode == 0, run.stdout + run.stderr
    summary = next(line for line in run.stdout.splitlines() if line.startswith("dataset "))
    assert summary == f"dataset   {said} (200 images)", summary
    (folder,) = runs.iterdir()
    records = {"--json": run.result,
               "result.json": json.loads((folder / "result.json").read_text()),
               "meta.json": json.loads((folder / "meta.json").read_text())}
    for where, record in records.items():
        ds = record["dataset"]
        assert ds["name"] == "mnist-format" and ds["published"] is False, (where, ds)
        assert ds["description"] == said, (where, ds)
        assert not plain_mnist_names(json.dumps(ds)), (where, ds)
    assert not plain_mnist_names(run.stdout), run.stdout


def test_old_records_named_mnist_say_they_were_not_checked():
    """A result.json from before datasets were verified keeps loading, and its summary no longer
    vouches for data nobody checked."""
    from mnist_tui.batch import format_summary
    from mnist_tui.engine.jobs.results import RunResult

    old = {"job": "tsne-gmm", "status": "finished",
           "dataset": {"name": "mnist", "source": "/data/kmnist", "n_samples": 1000}}

    line = next(x for x in format_summary(RunResult.from_dict(old))
                if x.startswith("dataset "))

    assert line == ("dataset   mnist from /data/kmnist (recorded before data was checked "
                    "against the published MNIST) (1,000 images)"), line


@pytest.mark.realdata
def test_the_published_files_are_named_mnist_verified(real_mnist_dir, tmp_path, env, runs):
    run = run_cli([*TSNE, "--data-dir", str(real_mnist_dir), "--samples", "200"], env,
                  tmp_path, timeout=120)

    assert run.returncode == 0, run.stdout + run.stderr
    ds = run.result["dataset"]
    assert ds["name"] == "mnist" and ds["published"] is True, ds
    folder = Path(real_mnist_dir).resolve()      # the loader names the folder it really read
    assert ds["description"] == f"MNIST from {folder} (published files, verified)"
    assert f"dataset   MNIST from {folder} (published files, verified) (200 images)" \
        in run.stdout.splitlines()


@pytest.mark.realdata
def test_one_changed_pixel_of_the_published_files_is_not_mnist(real_mnist_dir, tmp_path):
    from mnist_tui.engine.data.mnist_files import load_path

    copy = tmp_path / "copy"
    shutil.copytree(real_mnist_dir, copy)
    images = next(copy.glob("t10k-images*"))
    raw = bytearray(gzip.decompress(images.read_bytes()) if images.suffix == ".gz"
                    else images.read_bytes())
    raw[-1] ^= 0x01
    images.unlink()
    (copy / "t10k-images-idx3-ubyte").write_bytes(bytes(raw))

    assert load_path(real_mnist_dir).name == "mnist"
    changed = load_path(copy)
    assert changed.name == "mnist-format" and changed.published is False
