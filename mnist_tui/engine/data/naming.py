"""What a dataset is called: MNIST only when its bytes are the published MNIST.

Other datasets ship in MNIST's IDX format (Kuzushiji-MNIST, Fashion-MNIST, EMNIST, a user's own
digits), and every loader here reads them alike. So the format says nothing about what the data
is: a split is named MNIST only when its images and labels are byte for byte the published
files (the SHA-256 of the uncompressed IDX data, which also holds for a recompressed copy or
Keras' npz, or the SHA-256 of the published download itself). Anything else in MNIST's format is
"mnist-format", and says where it came from and that it is not the published MNIST, so no
summary, record or report table can present other data as MNIST.

Light on purpose (no numpy import): front ends use `dataset_label` on recorded results.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from mnist_tui.engine.data.published import Published

MNIST = "mnist"                    # the published files, verified
MNIST_FORMAT = "mnist-format"      # data in MNIST's file format that is not the published MNIST
VERIFIED = "published files, verified"
NOT_PUBLISHED = "not the published MNIST"

def _idx_digest(arr: np.ndarray, magic: bytes) -> str:
    """SHA-256 of the IDX file (uint8, big-endian dimensions) that holds exactly `arr`."""
    header = magic + struct.pack(f">{arr.ndim}I", *arr.shape)
    h = hashlib.sha256(header)
    h.update(arr.astype("u1", copy=False).tobytes())
    return h.hexdigest()


def _matches(arr: np.ndarray, split: str, kind: str, magic: bytes,
             published: Published) -> bool:
    """Whether `arr` is the published (split, kind) file's data; hashed only when its size
    already agrees, so other data costs nothing."""
    expected = published.mnist_idx_data.get((split, kind))
    if expected is None:
        return False
    if len(magic) + 4 * arr.ndim + arr.size != expected.size:
        return False
    if arr.dtype.kind in "iu" and arr.size and (arr.min() < 0 or arr.max() > 255):
        return False
    return _idx_digest(arr, magic) == expected.digest


def split_is_published(split: str, images: np.ndarray, labels: np.ndarray,
                       published: Published | None = None) -> bool:
    """Whether one split's images and labels are the published MNIST split's, byte for byte
    (the uncompressed IDX data's SHA-256 in `published`, default `published_files()`)."""
    from mnist_tui.engine.data.published import published_files

    table = published if published is not None else published_files()
    return (_matches(images, split, "images", b"\0\0\x08\x03", table)
            and _matches(labels, split, "labels", b"\0\0\x08\x01", table))


def files_are_published(files: Iterable[Mapping[str, Any]],
                        published: Mapping[str, str]) -> bool:
    """Whether every file read is a published download by its own SHA-256 (`published`: file
    name → SHA-256, e.g. the mirrors' .gz files and Keras' mnist.npz)."""
    files = list(files)
    return bool(files) and all(
        published.get(str(f.get("path", "")).rsplit("/", 1)[-1]) == f.get("sha256")
        for f in files)


def name_for(published: bool) -> str:
    """The name data in MNIST's format is recorded under."""
    return MNIST if published else MNIST_FORMAT


def describe(name: str, source: str, published: bool | None) -> str:
    """One line saying what the data is, for summaries, records, screens and reports."""
    if published is True:
        return f"MNIST from {source} ({VERIFIED})"
    if published is False:
        return f"MNIST-format data from {source}, {NOT_PUBLISHED}"
    return f"{name} from {source}"


def dataset_label(info: Mapping[str, Any]) -> str:
    """How a recorded dataset (the result record's "dataset") is shown: its description; a record
    from before data was verified (named "mnist" without "published") says it was not checked."""
    description = info.get("description")
    if isinstance(description, str) and description:
        return description
    name, source = info.get("name"), info.get("source")
    if name == MNIST and "published" not in info:
        return (f"mnist from {source} (recorded before data was checked against the "
                "published MNIST)")
    return f"{name} from {source}"


def dataset_key(info: Mapping[str, Any]) -> str | None:
    """A recorded dataset's short name for tables ("mnist", "mnist-format", "digits"); a record
    from before data was verified is "mnist (unchecked)", never plain "mnist"."""
    name = info.get("name")
    if name == MNIST and "published" not in info:
        return f"{MNIST} (unchecked)"
    return name if isinstance(name, str) else None
