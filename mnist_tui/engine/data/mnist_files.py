"""Finding and loading MNIST from what users actually have on disk.

MNIST circulates as four IDX files in two naming styles (`train-images-idx3-ubyte` from LeCun's
site, `train-images.idx3-ubyte` from Kaggle), raw or gzipped, loose in a folder, one folder per
file (Kaggle), or as Keras' `mnist.npz`. All of these load into the same `Dataset`.

Every file of a dataset comes from **one place**: one folder of IDX files, one Kaggle
folder-per-file layout, or one `mnist.npz`. `--data-dir` looks at the folder and its visible
subfolders; when it finds MNIST in more than one place (two datasets, or a split in two places)
it refuses and names them, instead of silently training on one and scoring on another. Copies
that are byte for byte the same (Kaggle ships every file twice) count as one place. The dataset
records the exact files it read, with their sizes and SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.engine.data import naming
from mnist_tui.engine.data.datasets import SPLIT_ORDER, Dataset, Split
from mnist_tui.engine.data.idx import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    declared_bytes,
    is_gzip,
    read_images,
    read_labels,
)
from mnist_tui.engine.data.npz_headers import check_unique_members, npy_member_header, one_line
from mnist_tui.engine.data.published import Published, published_files
from mnist_tui.engine.errors import DataError

_PREFIX = {"train": "train", "test": "t10k"}
_KIND = {"images": "idx3", "labels": "idx1"}
_MAGIC = {"images": IMAGES_MAGIC, "labels": LABELS_MAGIC}
_HEAD_BYTES = 64 * 1024       # compared before any hashing: differing files mostly differ here
_GZIP_OVERHEAD = 64 * 1024    # gzip header fields and trailer, beyond deflate's own overhead
KINDS = ("images", "labels")
NPZ_NAME = "mnist.npz"


@dataclass(frozen=True)
class SplitFiles:
    """The files found for one split; a side is None when that file is missing."""

    images: Path | None
    labels: Path | None


@dataclass
class Place:
    """One place MNIST can come from: a folder of IDX files ("idx"), a Kaggle folder-per-file
    layout ("kaggle", `root/<name>/<name>`), or an `mnist.npz` file ("npz", `root` is the file).

    `files` maps (split, kind) → every candidate file found for it there.
    """

    kind: str
    root: Path
    files: dict[tuple[str, str], list[Path]] = field(default_factory=dict)

    def splits(self) -> list[str]:
        if self.kind == "npz":
            return ["npz"]
        return [s for s in SPLIT_ORDER if any((s, k) in self.files for k in KINDS)]

    def describe(self, base: Path) -> str:
        """`a/ (test)`, `. (Kaggle layout: train, test)`, `keras/mnist.npz`."""
        try:
            rel = self.root.relative_to(base).as_posix() or "."
        except ValueError:
            rel = str(self.root)
        if self.kind == "npz":
            return rel
        what = ", ".join(self.splits())
        shown = "the folder itself" if rel == "." else rel + "/"
        return f"{shown} ({'Kaggle layout: ' if self.kind == 'kaggle' else ''}{what})"


def canonical_name(split: str, kind: str) -> str:
    """The LeCun-style file name, e.g. `t10k-images-idx3-ubyte` (used in messages)."""
    return f"{_PREFIX[split]}-{kind}-{_KIND[kind]}-ubyte"


def _candidates(split: str, kind: str) -> list[str]:
    """Accepted file names, most preferred first."""
    dash = canonical_name(split, kind)
    dot = f"{_PREFIX[split]}-{kind}.{_KIND[kind]}-ubyte"
    return [dash, dash + ".gz", dot, dot + ".gz"]


_NAMES = {name: (split, kind) for split in SPLIT_ORDER for kind in KINDS
          for name in _candidates(split, kind)}


def _listing(directory: Path) -> list[Path]:
    try:
        return sorted(directory.iterdir())
    except OSError:
        return []


def check_listable(directory: Path) -> None:
    """DataError when a folder that exists cannot be listed: it may well hold MNIST, so saying
    "no MNIST files" would send the user looking for the wrong problem."""
    try:
        with os.scandir(directory):
            pass
    except PermissionError:
        raise DataError(f"{directory}: permission denied (the folder cannot be listed)") from None
    except OSError as exc:
        raise DataError(f"{directory}: cannot be listed ({exc.strerror})") from None


def _is_kaggle_folder(path: Path) -> bool:
    """A folder named like an IDX file that holds it (Kaggle's folder-per-file layout)."""
    return path.name in _NAMES and path.is_dir()


def _places_in(root: Path) -> list[Place]:
    """The places directly in `root`: its loose IDX files, its Kaggle folders, its mnist.npz."""
    flat, kaggle = Place("idx", root), Place("kaggle", root)
    npz = []
    for p in _listing(root):
        if p.name in _NAMES and p.is_file():
            flat.files.setdefault(_NAMES[p.name], []).append(p)
        elif _is_kaggle_folder(p):
            for inner in _listing(p):
                if inner.name in _NAMES and _NAMES[inner.name] == _NAMES[p.name] \
                        and inner.is_file():
                    kaggle.files.setdefault(_NAMES[p.name], []).append(inner)
        elif p.name == NPZ_NAME and p.is_file():
            npz.append(Place("npz", p))
    return [pl for pl in (flat, kaggle) if pl.files] + npz


def _search_roots(directory: Path) -> list[Path]:
    """The directory itself, then its visible subfolders (not Kaggle's per-file folders)."""
    subdirs = [p for p in _listing(directory)
               if p.is_dir() and not p.name.startswith(".") and not _is_kaggle_folder(p)]
    return [directory, *subdirs]


def _digest(path: Path) -> str:
    with open(path, "rb") as fh:
        if sys.version_info >= (3, 11):
            return hashlib.file_digest(fh, "sha256").hexdigest()
        hasher = hashlib.sha256()   # hashlib.file_digest is new in Python 3.11
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            hasher.update(chunk)
        return hasher.hexdigest()


def _loadable_size(path: Path, kind: str) -> int | None:
    """The size of `path` when it could load as an IDX file of `kind`, else None: its header is
    refused (the loader's limits), or its size is not what that header allows (raw: exactly
    the declared bytes; gzip: at most those plus deflate's worst-case growth). Reads the header
    only, so a sparse 8 GB file costs what a 1 kB one does."""
    try:
        size = path.stat().st_size
        declared = declared_bytes(path, _MAGIC[kind])
    except (OSError, DataError):
        return None
    if is_gzip(path):   # stored blocks add 5 bytes per 64 kB: well under 1/1000
        return size if size <= declared + declared // 1000 + _GZIP_OVERHEAD else None
    return size if size == declared else None


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(_HEAD_BYTES)


def _same_bytes(paths: list[Path], kind: str) -> bool:
    """Whether every path holds the very same bytes, cheapest evidence first: one file reached
    by several links is; otherwise each must be a file that could load (a file that cannot is never hashed: it is refused either way), the
    sizes must agree, then the first 64 kB; only then the SHA-256 — of files within the
    loader's size bounds, so never more than loading them would read."""
    try:
        if len({(st.st_dev, st.st_ino) for st in (p.stat() for p in paths)}) == 1:
            return True        # one file reached twice (links): the same bytes, unread
        sizes = {_loadable_size(p, kind) for p in paths}
        if None in sizes or len(sizes) > 1:
            return False
        if len({_head(p) for p in paths}) > 1:
            return False
        return len({_digest(p) for p in paths}) == 1
    except OSError:
        return False


def _same_place(a: Place, b: Place) -> bool:
    """Two places holding byte-identical copies of the same files (Kaggle ships both layouts)."""
    if a.kind == "npz" or b.kind == "npz" or set(a.files) != set(b.files):
        return False
    return all(_same_bytes([*a.files[k], *b.files[k]], k[1]) for k in a.files)


def find_places(directory: Path) -> list[Place]:
    """Every distinct place below `directory` (itself and its visible subfolders) holding MNIST."""
    places: list[Place] = []
    for root in _search_roots(Path(directory)):
        for place in _places_in(root):
            if not any(_same_place(place, kept) for kept in places):
                places.append(place)
    return places


def _choose_file(place: Place, split: str, kind: str) -> Path | None:
    """The one file for (split, kind) in a place; two different candidates is ambiguous."""
    found = place.files.get((split, kind), [])
    if len(found) > 1 and not _same_bytes(found, kind):
        names = " and ".join(p.name for p in found)
        raise DataError(f"{place.root}: two different files for {canonical_name(split, kind)} "
                        f"({names}); keep one")
    return found[0] if found else None


def find_mnist_files(directory: Path) -> dict[str, SplitFiles]:
    """The split files of the one place below `directory` (DataError if there are several);
    only splits with at least one file appear."""
    place = _one_place(Path(directory))
    if place is None or place.kind == "npz":
        return {}
    return _split_files(place)


def _split_files(place: Place) -> dict[str, SplitFiles]:
    found = {}
    for split in SPLIT_ORDER:
        files = SplitFiles(_choose_file(place, split, "images"),
                           _choose_file(place, split, "labels"))
        if files.images or files.labels:
            found[split] = files
    return found


def _one_place(directory: Path) -> Place | None:
    places = find_places(directory)
    if len(places) > 1:
        listed = ", ".join(p.describe(directory) for p in places)
        raise DataError(f"{directory}: MNIST found in {len(places)} places: {listed}; a dataset "
                        "is read from one place only, so point --data-dir at one of them")
    return places[0] if places else None


def _check_shapes(splits: dict[str, Split], where: object) -> None:
    """Every split must share one image size, or pooling and models would break later."""
    shapes = {name: s.images.shape[1:] for name, s in splits.items()}
    if len(set(shapes.values())) > 1:
        sizes = ", ".join(f"{n} {'×'.join(map(str, hw))}" for n, hw in shapes.items())
        raise DataError(f"{where}: splits have different image sizes: {sizes}")


def file_record(path: Path, split: str, kind: str) -> dict[str, Any]:
    """What a run records of a file it read: where, which part, how many bytes, SHA-256."""
    return {"path": str(path), "split": split, "kind": kind, "bytes": path.stat().st_size,
            "sha256": _digest(path)}


def load_mnist_dir(directory: Path) -> Dataset:
    """The one MNIST dataset in a directory: its IDX files (loose or Kaggle layout) or its
    `mnist.npz`, also one subfolder down. DataError when there is none, or more than one."""
    directory = Path(directory)
    if not directory.exists():
        raise DataError(f"{directory}: no such directory")
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory")
    check_listable(directory)
    place = _one_place(directory)
    if place is None:
        raise DataError(
            f"no MNIST files in {directory}: expected train-images-idx3-ubyte[.gz] / "
            f"t10k-images-idx3-ubyte[.gz] (either naming style) or {NPZ_NAME}"
        )
    if place.kind == "npz":
        return load_npz(place.root)
    return _load_idx_place(place, directory)


def load_idx_folder(directory: Path) -> Dataset:
    """The IDX files lying directly in one folder (the download cache), nothing else."""
    directory = Path(directory)
    place = next((p for p in _places_in(directory) if p.kind == "idx"), None)
    if place is None:
        raise DataError(f"no MNIST IDX files in {directory}")
    return _load_idx_place(place, directory)


def _published_downloads(published: Published) -> dict[str, str]:
    """File name → SHA-256 of the files the MNIST mirrors publish (the gzip IDX files, Keras'
    mnist.npz): a file read whose own hash is one of these is the published file."""
    specs = {**published.mnist_idx_gz, NPZ_NAME: published.mnist_npz}
    return {name: spec.digest for name, spec in specs.items() if spec.algorithm == "sha256"}


def _named(splits: dict[str, Split], source: str, records: tuple[dict[str, Any], ...]) \
        -> Dataset:
    """The dataset read from MNIST-format files, named for what it is: "mnist" only when every
    split is the published MNIST's, byte for byte (its IDX data, or the published downloads
    themselves), otherwise "mnist-format" — data in MNIST's format, not MNIST."""
    table = published_files()   # the official checksums (or the tests' hook)
    published = all(naming.split_is_published(n, s.images, s.labels, table)
                    for n, s in splits.items()) \
        or naming.files_are_published(records, _published_downloads(table))
    return Dataset(name=naming.name_for(published), source=source, splits=splits,
                   files=records, published=published)


def _load_idx_place(place: Place, shown_from: Path) -> Dataset:
    splits, records = {}, []
    for split, files in _split_files(place).items():
        if files.images is None or files.labels is None:
            have, missing = (
                (files.labels, "images") if files.images is None else (files.images, "labels")
            )
            assert have is not None   # a split is kept only when it has one of its files
            raise DataError(
                f"{shown_from}: found {have.relative_to(shown_from)} "
                f"but not {canonical_name(split, missing)}[.gz]"
            )
        images, labels = read_images(files.images), read_labels(files.labels)
        if len(images) != len(labels):
            raise DataError(
                f"{shown_from}: {files.images.name} has {len(images):,} images "
                f"but {files.labels.name} has {len(labels):,} labels"
            )
        splits[split] = Split(images, labels)
        records += [file_record(files.images, split, "images"),
                    file_record(files.labels, split, "labels")]
    _check_shapes(splits, place.root)
    return _named(splits, str(place.root), tuple(records))


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
    assert npz.zip is not None   # open: `load_npz` reads inside `with npz`
    npy_member_header(npz.zip, key, path)   # its limits, before numpy allocates it
    try:
        arr = npz[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        # ValueError is how allow_pickle=False refuses object arrays.
        raise DataError(f"{path}: cannot load {key}: {one_line(e)}") from None
    except MemoryError:
        raise DataError(f"{path}: {key} is too large to load into this machine's memory") \
            from None
    if not isinstance(arr, np.ndarray):  # a zip member that is not an .npy file
        raise DataError(f"{path}: {key} is not a NumPy array")
    return arr


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
        raise DataError(f"{path}: not a readable .npz archive: {one_line(e)}") from None
    with npz:
        assert npz.zip is not None   # np.load of a zip archive: open until `with` ends
        check_unique_members(npz.zip, path)
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
    return _named(splits, str(path), (file_record(path, "+".join(splits), "npz"),))


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
