"""Finding and loading MNIST from what users actually have on disk.

MNIST circulates as four IDX files in two naming styles (`train-images-idx3-ubyte` from LeCun's
site, `train-images.idx3-ubyte` from Kaggle), raw or gzipped, loose in a folder, one folder per
file (Kaggle), or as Keras' `mnist.npz`. All of these load into the same `Dataset`.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_tui.engine.datasets import SPLIT_ORDER, Dataset, Split
from mnist_tui.engine.errors import DataError
from mnist_tui.engine.idx import read_images, read_labels

_PREFIX = {"train": "train", "test": "t10k"}
_KIND = {"images": "idx3", "labels": "idx1"}
NPZ_NAME = "mnist.npz"


@dataclass(frozen=True)
class SplitFiles:
    """The files found for one split; a side is None when that file is missing."""

    images: Path | None
    labels: Path | None


def canonical_name(split: str, kind: str) -> str:
    """The LeCun-style file name, e.g. `t10k-images-idx3-ubyte` (used in messages)."""
    return f"{_PREFIX[split]}-{kind}-{_KIND[kind]}-ubyte"


def _candidates(split: str, kind: str) -> list[str]:
    """Accepted file names, most preferred first (raw before .gz: it reads faster)."""
    dash = canonical_name(split, kind)
    dot = f"{_PREFIX[split]}-{kind}.{_KIND[kind]}-ubyte"
    return [dash, dash + ".gz", dot, dot + ".gz"]


def _files_in(directory: Path) -> dict[str, Path]:
    try:
        return {p.name: p for p in directory.iterdir() if p.is_file()}
    except OSError:
        return {}


def _search_roots(directory: Path) -> list[Path]:
    """The directory itself, then its visible subfolders (Kaggle's folder-per-file, `mnist/`)."""
    try:
        subdirs = sorted(
            p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
    except OSError:
        subdirs = []
    return [directory, *subdirs]


def find_mnist_files(directory: Path) -> dict[str, SplitFiles]:
    """Locate each split's images and labels files; only splits with at least one file appear."""
    listings = [_files_in(root) for root in _search_roots(Path(directory))]

    def find(split: str, kind: str) -> Path | None:
        for files in listings:
            for name in _candidates(split, kind):
                if name in files:
                    return files[name]
        return None

    found = {}
    for split in SPLIT_ORDER:
        files = SplitFiles(find(split, "images"), find(split, "labels"))
        if files.images or files.labels:
            found[split] = files
    return found


def _find_npz(directory: Path) -> Path | None:
    for root in _search_roots(directory):
        if (root / NPZ_NAME).is_file():
            return root / NPZ_NAME
    return None


def _check_shapes(splits: dict[str, Split], where: object) -> None:
    """Every split must share one image size, or pooling and models would break later."""
    shapes = {name: s.images.shape[1:] for name, s in splits.items()}
    if len(set(shapes.values())) > 1:
        sizes = ", ".join(f"{n} {'×'.join(map(str, hw))}" for n, hw in shapes.items())
        raise DataError(f"{where}: splits have different image sizes: {sizes}")


def load_mnist_dir(directory: Path) -> Dataset:
    """Every split found in a directory of IDX files, or its `mnist.npz` if it has no IDX files."""
    directory = Path(directory)
    if not directory.exists():
        raise DataError(f"{directory}: no such directory")
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory")
    found = find_mnist_files(directory)
    if not found:
        npz = _find_npz(directory)
        if npz is not None:
            return load_npz(npz)
        raise DataError(
            f"no MNIST files in {directory}: expected train-images-idx3-ubyte[.gz] / "
            f"t10k-images-idx3-ubyte[.gz] (either naming style) or {NPZ_NAME}"
        )
    splits = {}
    for split, files in found.items():
        if files.images is None or files.labels is None:
            have, missing = (
                (files.labels, "images") if files.images is None else (files.images, "labels")
            )
            raise DataError(
                f"{directory}: found {have.relative_to(directory)} "
                f"but not {canonical_name(split, missing)}[.gz]"
            )
        images, labels = read_images(files.images), read_labels(files.labels)
        if len(images) != len(labels):
            raise DataError(
                f"{directory}: {files.images.name} has {len(images):,} images "
                f"but {files.labels.name} has {len(labels):,} labels"
            )
        splits[split] = Split(images, labels)
    _check_shapes(splits, directory)
    return Dataset(name="mnist", source=str(directory), splits=splits)


def _npz_images(arr: np.ndarray, key: str, path: Path) -> np.ndarray:
    if arr.ndim != 3 or 0 in arr.shape:
        raise DataError(f"{path}: {key} must be non-empty images (N, H, W), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise DataError(f"{path}: {key} must hold integer pixels 0–255, got dtype {arr.dtype}")
    lo, hi = arr.min(), arr.max()
    if lo < 0 or hi > 255:
        raise DataError(f"{path}: {key} pixels must be 0–255, found values {lo}–{hi}")
    return arr.astype(np.uint8, copy=False)


def _npz_labels(arr: np.ndarray, key: str, path: Path) -> np.ndarray:
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise DataError(
            f"{path}: {key} must be integer labels (N,), got {arr.dtype} shape {arr.shape}"
        )
    bad = np.flatnonzero((arr < 0) | (arr > 9))
    if bad.size:
        raise DataError(
            f"{path}: {key} labels outside 0–9: found {arr[bad[0]]} at index {bad[0]}"
        )
    return arr.astype(np.int64, copy=False)


def _npz_array(npz: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    try:
        arr = npz[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        # ValueError is how allow_pickle=False refuses object arrays.
        raise DataError(f"{path}: cannot load {key}: {_one_line(e)}") from None
    if not isinstance(arr, np.ndarray):  # a zip member that is not an .npy file
        raise DataError(f"{path}: {key} is not a NumPy array")
    return arr


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def load_npz(path: Path) -> Dataset:
    """Keras' `mnist.npz` (x_train/y_train, x_test/y_test; either pair may be absent).

    Loaded with allow_pickle=False: an npz from the internet must never run code on load.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not an .npz archive (not a zip file)")
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(f"{path}: not a readable .npz archive: {_one_line(e)}") from None
    with npz:
        keys = set(npz.files)
        splits = {}
        for split in SPLIT_ORDER:
            x, y = f"x_{split}", f"y_{split}"
            if x not in keys and y not in keys:
                continue
            if x not in keys or y not in keys:
                have, missing = (x, y) if x in keys else (y, x)
                raise DataError(f"{path}: has {have} but no {missing}")
            images = _npz_images(_npz_array(npz, x, path), x, path)
            labels = _npz_labels(_npz_array(npz, y, path), y, path)
            if len(images) != len(labels):
                raise DataError(
                    f"{path}: {x} has {len(images):,} images but {y} has {len(labels):,} labels"
                )
            splits[split] = Split(images, labels)
    if not splits:
        listed = ", ".join(sorted(keys)) or "none"
        raise DataError(f"{path}: no x_train/y_train or x_test/y_test arrays (it has: {listed})")
    _check_shapes(splits, path)
    return Dataset(name="mnist", source=str(path), splits=splits)


def load_path(path: Path) -> Dataset:
    """What a user passes on the command line: a directory of MNIST files or an `.npz` file."""
    path = Path(path)
    if path.is_dir():
        return load_mnist_dir(path)
    if path.suffix.lower() == ".npz":
        return load_npz(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    raise DataError(f"{path}: expected a directory of MNIST IDX files or an .npz file")
