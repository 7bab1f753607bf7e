"""What a dataset would give a job, from headers only: its splits and their sizes.

The checks before launching (`runs.preflight`) and a suite's plan (`suites.plan`) need to know
whether `--data-dir PATH` holds loadable MNIST, and how many images each split has, without
reading a single image. This reads what the loaders read first — the IDX headers through
`idx.read_header`, an npz's .npy headers through `npz_headers` — and finds the files the way
`mnist_files` does (it is the same search), so a folder is refused here for the reasons it
would be refused at load time. The worker still validates everything it reads.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from mnist_tui.engine.data.datasets import SPLIT_ORDER
from mnist_tui.engine.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_header
from mnist_tui.engine.data.mnist_files import (
    canonical_name,
    check_listable,
    find_mnist_files,
    find_places,
)
from mnist_tui.engine.data.npz_headers import check_unique_members, npy_member_header
from mnist_tui.engine.errors import DataError

DIGITS_SPLITS = {"train": 1797}               # scikit-learn's bundled 8×8 digits, one split
MNIST_SPLITS = {"train": 60_000, "test": 10_000}   # what a download brings


@dataclass(frozen=True)
class DataInfo:
    """What a job would read, from headers only: the dataset's name, where it is, and the
    number of images of each split."""

    name: str
    where: str
    splits: dict[str, int]

    def describe(self) -> str:
        parts = ", ".join(f"{name} {n:,}" for name, n in self.splits.items())
        return f"{self.name} ({parts}) from {self.where}"


def idx_count(path: Path, kind: str) -> tuple[int, tuple[int, ...]]:
    """(number of items, shape of one item) from an IDX file's header (`kind`: images or
    labels); the loader's DataError, naming the file, when its header would be refused."""
    _, dims, _ = read_header(path, IMAGES_MAGIC if kind == "images" else LABELS_MAGIC)
    return dims[0], tuple(dims[1:])


def npz_counts(path: Path) -> dict[str, int]:
    """split → images in a Keras-style mnist.npz, from the .npy headers inside it."""
    counts: dict[str, int] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            check_unique_members(zf, path)
            names = set(zf.namelist())
            for split in SPLIT_ORDER:
                x, y = f"x_{split}", f"y_{split}"
                if f"{x}.npy" not in names and f"{y}.npy" not in names:
                    continue
                if f"{x}.npy" not in names or f"{y}.npy" not in names:
                    have, missing = (x, y) if f"{x}.npy" in names else (y, x)
                    raise DataError(f"{path}: has {have} but no {missing}")
                shapes = []
                for key in (x, y):
                    header = npy_member_header(zf, key, path)
                    if header is None:
                        raise ValueError(f"{key}.npy: an .npy format version numpy cannot read")
                    shapes.append(header[0])
                if len(shapes[0]) != 3 or len(shapes[1]) != 1 or shapes[0][0] != shapes[1][0]:
                    raise DataError(f"{path}: {x} {shapes[0]} and {y} {shapes[1]} "
                                    "are not images (N, H, W) with N labels")
                counts[split] = int(shapes[0][0])
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise DataError(f"{path}: not a readable .npz archive: {exc}") from None
    if not counts:
        raise DataError(f"{path}: no x_train/y_train or x_test/y_test arrays")
    return counts


def inspect_path(path: str | Path) -> DataInfo:
    """What `--data-dir PATH` would load, from headers only; DataError (one line) when it would
    not load: no such folder, no MNIST in it, MNIST in several places, a file without its
    partner, images and labels that disagree."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_file():
        if path.suffix.lower() != ".npz":
            raise DataError(f"{path}: expected a directory of MNIST IDX files or an .npz file")
        return DataInfo("mnist", str(path), npz_counts(path))
    if not path.is_dir():
        raise DataError(f"{path}: not a directory")
    check_listable(path)
    found = find_mnist_files(path)     # DataError when MNIST is in several places
    if not found:
        places = find_places(path)
        if places and places[0].kind == "npz":
            return DataInfo("mnist", str(places[0].root), npz_counts(places[0].root))
        raise DataError(f"no MNIST files in {path}: expected train-images-idx3-ubyte[.gz] / "
                        "t10k-images-idx3-ubyte[.gz] (either naming style) or mnist.npz")
    splits, shapes = {}, {}
    for split, files in found.items():
        if files.images is None or files.labels is None:
            have = files.labels if files.images is None else files.images
            assert have is not None   # a split is found only with one of its files
            missing = "images" if files.images is None else "labels"
            raise DataError(f"{path}: found {have.name} but not "
                            f"{canonical_name(split, missing)}[.gz]")
        n_images, shape = idx_count(files.images, "images")
        n_labels, _ = idx_count(files.labels, "labels")
        if n_images != n_labels:
            raise DataError(f"{path}: {files.images.name} has {n_images:,} images but "
                            f"{files.labels.name} has {n_labels:,} labels")
        splits[split], shapes[split] = n_images, shape
    if len(set(shapes.values())) > 1:
        raise DataError(f"{path}: splits have different image sizes")
    return DataInfo("mnist", str(path), splits)


def split_pool(info: DataInfo, requested: str, supervised: bool) -> tuple[str, int]:
    """(split used, images in it) as `datasets.resolve_split` chooses; DataError for a split
    the data lacks."""
    if requested == "auto":
        requested = "train" if supervised and "train" in info.splits else "all"
    if requested == "all":
        return "all", sum(info.splits.values())
    if requested not in info.splits:
        have = ", ".join(info.splits)
        raise DataError(f"--split {requested}: dataset {info.name} has no {requested} split "
                        f"(it has: {have}); use --split auto or all")
    return requested, info.splits[requested]
