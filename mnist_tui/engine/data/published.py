"""What the publishers published: the checksums and sizes that make a file *the* file.

A download is kept only when it hashes to the published digest, data is named MNIST only when
its bytes are the published MNIST's, and VGG16's ImageNet weights are Keras' file only by Keras'
MD5. Those values are one table, `Published`; the functions that compare against it take it as
an optional `published=` argument, and without one use `published_files()`: the official
table (`OFFICIAL`).

Test hook, and nothing else: $MNIST_TUI_PUBLISHED_FILE names a JSON file whose entries replace
the official ones in every process that inherits it (the CLI, its workers), because a test
cannot make files with the real checksums. It is read here and nowhere else. Its form (every
key optional; a key left out keeps the official value; unknown keys and file names are errors):

    {"mnist_npz": {"digest": HEX, "size": N, "algorithm": "sha256"},
     "mnist_idx_gz": {"train-images-idx3-ubyte.gz": {"digest": HEX, "size": N}, …},
     "mnist_idx_data": {"train/images": {"digest": HEX, "size": N}, …},
     "vgg16_notop": {"digest": HEX, "size": N, "algorithm": "md5"}}
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from mnist_tui.engine.data.transfer import FileSpec

PUBLISHED_FILE_ENV = "MNIST_TUI_PUBLISHED_FILE"   # the test hook (see above)

# Checksums: Keras' keras/src/datasets/mnist.py (file_hash) and tensorflow_datasets'
# url_checksums/mnist.txt (sizes and SHA-256 of the cvdf-datasets IDX files); torchvision's
# ossci-datasets mirror serves the same bytes (its MD5s match the same files).
KERAS_NPZ = FileSpec("731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1", 11_490_434)
IDX_FILES: Mapping[str, FileSpec] = {
    "train-images-idx3-ubyte.gz": FileSpec(
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9_912_422
    ),
    "train-labels-idx1-ubyte.gz": FileSpec(
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28_881
    ),
    "t10k-images-idx3-ubyte.gz": FileSpec(
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1_648_877
    ),
    "t10k-labels-idx1-ubyte.gz": FileSpec(
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4_542
    ),
}
# SHA-256 and size of the *uncompressed* published IDX files (LeCun's, as mirrored by cvdf and
# torchvision; tensorflow_datasets lists the same). Checked against ../shared/mnist-full.
IDX_DATA: Mapping[tuple[str, str], FileSpec] = {
    ("train", "images"): FileSpec(
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016),
    ("train", "labels"): FileSpec(
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008),
    ("test", "images"): FileSpec(
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016),
    ("test", "labels"): FileSpec(
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008),
}
# Keras' own checksum of VGG16's no-top ImageNet weights (keras/src/applications/vgg16.py:
# file_hash, an MD5) and the file's size (the byte count Keras' download bar shows for it).
IMAGENET_FILE = FileSpec("6d6bbae143d832006294945121d1f1fc", 58_889_256, "md5")


@dataclass(frozen=True)
class Published:
    """The published files: Keras' `mnist.npz`, the four gzip IDX downloads (by file name),
    the uncompressed IDX data ((split, "images"|"labels") → SHA-256 and size), and VGG16's
    no-top ImageNet weights file."""

    mnist_npz: FileSpec = KERAS_NPZ
    mnist_idx_gz: Mapping[str, FileSpec] = field(default_factory=lambda: dict(IDX_FILES))
    mnist_idx_data: Mapping[tuple[str, str], FileSpec] = field(
        default_factory=lambda: dict(IDX_DATA))
    vgg16_notop: FileSpec = IMAGENET_FILE


OFFICIAL = Published()

K = TypeVar("K")


def published_files() -> Published:
    """The table in force: `OFFICIAL`, unless the test hook $MNIST_TUI_PUBLISHED_FILE names a
    file (read on every call, so a test can set it for the process it runs in too)."""
    path = os.environ.get(PUBLISHED_FILE_ENV, "").strip()
    return load_published(Path(path)) if path else OFFICIAL


def load_published(path: Path) -> Published:
    """`OFFICIAL` with the entries of the JSON file at `path` (the form in the module's
    docstring) in place of its own. ValueError naming the file when it is not that form."""
    try:
        raw: object = json.loads(Path(path).read_text(encoding="utf-8"))
        return _replaced(OFFICIAL, raw)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"${PUBLISHED_FILE_ENV}={path}: {exc}") from exc


def _replaced(base: Published, raw: object) -> Published:
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object")
    unknown = set(raw) - {f.name for f in dataclasses.fields(Published)}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    table = base
    if "mnist_npz" in raw:
        table = dataclasses.replace(table, mnist_npz=_spec(raw["mnist_npz"]))
    if "vgg16_notop" in raw:
        table = dataclasses.replace(table, vgg16_notop=_spec(raw["vgg16_notop"]))
    if "mnist_idx_gz" in raw:
        gz = _entries(raw["mnist_idx_gz"], {name: name for name in base.mnist_idx_gz})
        table = dataclasses.replace(table, mnist_idx_gz={**base.mnist_idx_gz, **gz})
    if "mnist_idx_data" in raw:
        names = {f"{split}/{kind}": (split, kind) for split, kind in base.mnist_idx_data}
        data = _entries(raw["mnist_idx_data"], names)
        table = dataclasses.replace(table, mnist_idx_data={**base.mnist_idx_data, **data})
    return table


def _entries(raw: object, names: Mapping[str, K]) -> dict[K, FileSpec]:
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object of file specs")
    unknown = set(raw) - set(names)
    if unknown:
        raise ValueError(f"unknown files {sorted(unknown)}")
    return {names[name]: _spec(value) for name, value in raw.items()}


def _spec(raw: object) -> FileSpec:
    """A FileSpec from {"digest": HEX, "size": N (optional), "algorithm": NAME (optional)}."""
    if not isinstance(raw, dict) or not isinstance(raw.get("digest"), str):
        raise ValueError(f"expected {{\"digest\": HEX, …}}, got {raw!r}")
    size, algorithm = raw.get("size"), raw.get("algorithm", "sha256")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
        raise ValueError(f"size must be an integer, got {size!r}")
    if not isinstance(algorithm, str):
        raise ValueError(f"algorithm must be a name, got {algorithm!r}")
    return FileSpec(raw["digest"], size, algorithm)
