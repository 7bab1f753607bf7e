"""In-memory datasets: the `Dataset` every job consumes, and scikit-learn's bundled digits.

A dataset is a handful of named splits ("train", "test") of uint8 images (N, H, W) in 0–255
with integer labels 0–9. MNIST files, Keras' npz and the bundled digits all end up here, so a
job never cares where its pixels came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mnist_tui.engine.data import naming
from mnist_tui.engine.errors import DataError

SPLIT_ORDER = ("train", "test")


@dataclass(frozen=True)
class Split:
    """One split: `images` uint8 (N, H, W), `labels` int64 (N,) with values 0–9."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.ndim != 3:
            raise DataError(f"images must be (N, H, W), got shape {self.images.shape}")
        if len(self.images) != len(self.labels):
            raise DataError(
                f"{len(self.images)} images but {len(self.labels)} labels"
            )

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Dataset:
    """A named dataset with its splits and where it came from.

    `source` is a human-readable origin (a path, a URL, "scikit-learn bundled digits");
    `note` explains anything a user should be told loudly (e.g. a fallback); `files` are the
    exact files read (path, split, kind, bytes, sha256), empty for the bundled digits.
    `published` is True for data verified to be the published MNIST files (named "mnist"),
    False for other data in MNIST's format ("mnist-format"), None for other datasets.
    """

    name: str
    source: str
    splits: dict[str, Split]
    note: str | None = None
    files: tuple[dict[str, Any], ...] = ()
    published: bool | None = None
    _fingerprint: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def image_shape(self) -> tuple[int, int]:
        first = next(iter(self.splits.values()))
        height, width = first.images.shape[1:]   # (N, H, W): checked by Split
        return height, width

    @property
    def n_samples(self) -> int:
        return sum(len(s) for s in self.splits.values())

    def split_names(self) -> list[str]:
        return [n for n in SPLIT_ORDER if n in self.splits] + sorted(
            n for n in self.splits if n not in SPLIT_ORDER
        )

    def pool(self, which: str = "all") -> Split:
        """The images a job samples from: one split, or every split concatenated in order."""
        if which == "all":
            names = self.split_names()
            if len(names) == 1:
                return self.splits[names[0]]
            return Split(
                np.concatenate([self.splits[n].images for n in names]),
                np.concatenate([self.splits[n].labels for n in names]),
            )
        if which not in self.splits:
            have = ", ".join(self.split_names())
            raise DataError(f"dataset {self.name} has no {which!r} split (it has: {have})")
        return self.splits[which]

    def fingerprint(self) -> str:
        """SHA-256 over every split's shape, pixels and labels: identifies the exact data a run saw."""
        if not self._fingerprint:
            h = hashlib.sha256()
            for n in self.split_names():
                s = self.splits[n]
                h.update(f"{n}:{s.images.shape}:".encode())
                h.update(np.ascontiguousarray(s.images, dtype=np.uint8).tobytes())
                h.update(np.ascontiguousarray(s.labels, dtype=np.int64).tobytes())
            self._fingerprint.append(h.hexdigest())
        return self._fingerprint[0]

    @property
    def description(self) -> str:
        """One line naming what the data is (MNIST verified, or MNIST-format data from where,
        not the published MNIST), for every summary, record, screen and report."""
        return naming.describe(self.name, self.source, self.published)

    def describe(self) -> dict[str, Any]:
        """The JSON-able summary recorded with every run. `name` stays the short key older
        readers use ("mnist" only for the verified published files); `published` and
        `description` say what the data is."""
        return {
            "name": self.name,
            "published": self.published,
            "description": self.description,
            "source": self.source,
            "splits": {n: len(self.splits[n]) for n in self.split_names()},
            "image_shape": list(self.image_shape),
            "fingerprint": self.fingerprint(),
            "note": self.note,
            "files": [dict(f) for f in self.files],
        }


def load_digits(note: str | None = None) -> Dataset:
    """scikit-learn's 1,797 real 8×8 digits, rescaled from 0–16 to 0–255: works with no network.

    They ship in one piece, so they form a single "train" split.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = np.clip(np.rint(bunch.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    labels = bunch.target.astype(np.int64)
    return Dataset(
        name="digits",
        source="scikit-learn bundled digits (1,797 8×8 images)",
        splits={"train": Split(images, labels)},
        note=note,
    )


def resolve_split(dataset: Dataset, requested: str, supervised: bool) -> str:
    """The split a job really samples from; every job resolves `--split` the same way.

    `auto` is the standard protocol: classifiers train on the train split when there is one
    (and are scored on the test split), clustering uses every image. An explicit split the data
    does not have is an error, never a silent substitute.
    """
    if requested == "auto":
        return "train" if supervised and "train" in dataset.splits else "all"
    if requested != "all" and requested not in dataset.splits:
        have = ", ".join(dataset.split_names())
        raise DataError(f"--split {requested}: dataset {dataset.name} has no {requested} split "
                        f"(it has: {have}); use --split auto or all")
    return requested


def pool_label(dataset: Dataset, split: str) -> str:
    """How a pool is named in results: `train`, `test`, or `train+test` for all."""
    return split if split != "all" else "+".join(dataset.split_names())


def select_subset(n_pool: int, samples: int | None, subset_seed: int) -> np.ndarray:
    """Sorted indices of the images a run uses, drawn without replacement.

    `samples=None` means all of them; `samples` only caps (a cap above the pool is an error, so
    a run never says it used more images than it did).
    """
    if samples is None or samples == n_pool:
        return np.arange(n_pool)
    if samples > n_pool:
        raise DataError(f"--samples {samples} is more than the {n_pool:,} images available")
    return np.sort(np.random.default_rng(subset_seed).choice(n_pool, samples, replace=False))
