"""Summary statistics of a dataset: what the data explorer shows before anything is trained.

Everything is vectorised (a pixel histogram, per-class sums) so 70,000 images take well under a
second, and the sample images are picked with a seeded generator so a screen is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from mnist_tui.engine.data.datasets import Dataset
from mnist_tui.engine.errors import DataError

N_CLASSES = 10
_CHUNK = 1 << 16  # pixels per bincount call: its int64 copy stays in cache (2–3× faster)


@dataclass(frozen=True)
class DatasetStats:
    """Statistics over every split together unless a field says per split.

    Pixel statistics are on the stored 0–255 scale; `to_dict` adds the 0–1 equivalents.
    `sample_refs[d][i]` is the (split, index within split) of `samples[d][i]`.
    """

    name: str
    source: str
    note: str | None
    image_shape: tuple[int, int]
    split_sizes: dict[str, int]
    class_counts: dict[str, list[int]]  # per split, 10 ints (digits 0–9)
    pixel_mean_255: float
    pixel_std_255: float
    zero_fraction: float  # share of pixels that are exactly 0
    class_means: np.ndarray  # float32 (10, H, W) on 0–255; zeros for a digit with no images
    samples: list[np.ndarray]  # per digit, uint8 (k, H, W) with k <= samples_per_class
    sample_refs: list[list[tuple[str, int]]]
    files: tuple[dict[str, Any], ...] = ()   # the exact files read (path, split, kind, bytes, sha256)
    published: bool | None = None   # the published MNIST (True), other MNIST-format data (False)
    description: str = ""           # what the data is, in one line (Dataset.description)

    @property
    def total_class_counts(self) -> list[int]:
        return [sum(c[d] for c in self.class_counts.values()) for d in range(N_CLASSES)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary. Images (class means, samples) are left out; sample refs stay."""
        return {
            "name": self.name,
            "published": self.published,
            "description": self.description,
            "source": self.source,
            "note": self.note,
            "image_shape": list(self.image_shape),
            "split_sizes": dict(self.split_sizes),
            "class_counts": {n: list(c) for n, c in self.class_counts.items()},
            "total_class_counts": self.total_class_counts,
            "pixel_mean_255": self.pixel_mean_255,
            "pixel_std_255": self.pixel_std_255,
            "pixel_mean_01": self.pixel_mean_255 / 255.0,
            "pixel_std_01": self.pixel_std_255 / 255.0,
            "zero_fraction": self.zero_fraction,
            "sample_refs": [[[s, i] for s, i in refs] for refs in self.sample_refs],
            "files": [dict(f) for f in self.files],
        }


def _pixel_histogram(images: np.ndarray) -> np.ndarray:
    """Counts of each value 0–255: exact mean, std and zero share without a float copy."""
    flat = images.reshape(-1)
    hist = np.zeros(256, dtype=np.int64)
    for start in range(0, flat.size, _CHUNK):
        hist += np.bincount(flat[start : start + _CHUNK], minlength=256)
    return hist


def _class_sums(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-digit pixel sums (10, H, W), one vectorised reduction per digit."""
    sums = np.zeros((N_CLASSES, *images.shape[1:]), dtype=np.int64)
    for digit in range(N_CLASSES):
        mask = labels == digit
        if mask.any():
            sums[digit] = images[mask].sum(axis=0, dtype=np.int64)
    return sums


def dataset_stats(ds: Dataset, samples_per_class: int = 8, seed: int = 0) -> DatasetStats:
    """Sizes, class balance, pixel statistics, mean digit images and seeded example images."""
    if samples_per_class < 0:
        raise ValueError(f"samples_per_class must be >= 0, got {samples_per_class}")
    if not ds.n_samples:
        raise DataError(f"dataset {ds.name} has no images")
    names = ds.split_names()
    splits = [ds.splits[n] for n in names]
    # `splits` is not empty (n_samples > 0), so each sum() adds arrays and is never its start, 0.
    hist = cast(np.ndarray, sum(_pixel_histogram(s.images) for s in splits))
    counts = {n: np.bincount(s.labels, minlength=N_CLASSES) for n, s in zip(names, splits)}
    total = cast(np.ndarray, sum(counts.values()))
    sums = cast(np.ndarray, sum(_class_sums(s.images, s.labels) for s in splits))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / total[:, None, None]
    class_means = np.nan_to_num(means).astype(np.float32)

    values = np.arange(256, dtype=np.float64)
    n_pixels = hist.sum()
    mean = float(hist @ values / n_pixels)
    std = float(np.sqrt(hist @ (values - mean) ** 2 / n_pixels))

    # Pick from the concatenation of splits (in split order), then map back to (split, index).
    all_labels = np.concatenate([s.labels for s in splits])
    offsets = np.cumsum([0] + [len(s) for s in splits])
    rng = np.random.default_rng(seed)
    samples, refs = [], []
    for digit in range(N_CLASSES):
        pool = np.flatnonzero(all_labels == digit)
        k = min(samples_per_class, pool.size)
        chosen = np.sort(rng.choice(pool, size=k, replace=False)) if k else pool[:0]
        where = np.searchsorted(offsets, chosen, side="right") - 1
        local = chosen - offsets[where]
        refs.append([(names[w], int(i)) for w, i in zip(where, local)])
        samples.append(
            np.stack([splits[w].images[i] for w, i in zip(where, local)])
            if k
            else np.zeros((0, *ds.image_shape), dtype=np.uint8)
        )

    return DatasetStats(
        name=ds.name,
        source=ds.source,
        note=ds.note,
        image_shape=ds.image_shape,
        split_sizes={n: len(s) for n, s in zip(names, splits)},
        class_counts={n: [int(v) for v in c] for n, c in counts.items()},
        pixel_mean_255=mean,
        pixel_std_255=std,
        zero_fraction=float(hist[0] / n_pixels),
        class_means=class_means,
        samples=samples,
        sample_refs=refs,
        files=tuple(ds.files),
        published=ds.published,
        description=ds.description,
    )
