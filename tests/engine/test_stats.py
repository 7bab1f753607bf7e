"""Dataset statistics: exact on small hand-checkable data, right at MNIST's size and on real
MNIST. How long they take is measured in benchmarks/quick_paths.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist_tui.engine.data.datasets import Dataset, Split, load_digits
from mnist_tui.engine.data.mnist_files import load_mnist_dir
from mnist_tui.engine.data.stats import dataset_stats
from mnist_tui.engine.errors import DataError

REAL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def tiny() -> Dataset:
    """Train: digit 0 twice (all 0 / all 4), digit 1 once (all 8); test: digit 1 (all 2)."""
    train = Split(
        np.stack([np.full((2, 3), v, np.uint8) for v in (0, 4, 8)]),
        np.array([0, 0, 1], np.int64),
    )
    test = Split(np.full((1, 2, 3), 2, np.uint8), np.array([1], np.int64))
    return Dataset("tiny", "hand-made", {"train": train, "test": test}, note="a note")


def test_exact_values_on_tiny_dataset():
    s = dataset_stats(tiny(), samples_per_class=5)
    assert (s.name, s.source, s.note, s.image_shape) == ("tiny", "hand-made", "a note", (2, 3))
    assert s.split_sizes == {"train": 3, "test": 1}
    assert s.class_counts == {"train": [2, 1] + [0] * 8, "test": [0, 1] + [0] * 8}
    assert s.total_class_counts == [2, 2] + [0] * 8
    assert s.pixel_mean_255 == pytest.approx(3.5)  # (0 + 4 + 8 + 2) / 4
    assert s.pixel_std_255 == pytest.approx(np.std([0, 4, 8, 2]))
    assert s.zero_fraction == pytest.approx(0.25)
    assert s.class_means.dtype == np.float32 and s.class_means.shape == (10, 2, 3)
    np.testing.assert_allclose(s.class_means[0], 2.0)
    np.testing.assert_allclose(s.class_means[1], 5.0)  # over both splits: (8 + 2) / 2
    np.testing.assert_array_equal(s.class_means[2:], 0.0)  # absent digits: zeros, not NaN


def test_samples_cover_every_split_and_match_refs():
    ds = tiny()
    s = dataset_stats(ds, samples_per_class=5)
    assert s.sample_refs[0] == [("train", 0), ("train", 1)]
    assert s.sample_refs[1] == [("train", 2), ("test", 0)]
    for digit in range(10):
        refs, images = s.sample_refs[digit], s.samples[digit]
        assert images.dtype == np.uint8 and images.shape == (len(refs), 2, 3)
        for (split, i), image in zip(refs, images):
            np.testing.assert_array_equal(image, ds.splits[split].images[i])
            assert ds.splits[split].labels[i] == digit


def test_samples_are_seeded_and_capped():
    ds = load_digits()
    a = dataset_stats(ds, samples_per_class=4, seed=7)
    b = dataset_stats(ds, samples_per_class=4, seed=7)
    c = dataset_stats(ds, samples_per_class=4, seed=8)
    assert a.sample_refs == b.sample_refs
    assert a.sample_refs != c.sample_refs
    assert all(len(r) == 4 for r in a.sample_refs)
    assert all(len(set(r)) == 4 for r in a.sample_refs)  # no repeats
    assert all(img.shape == (4, 8, 8) for img in a.samples)
    assert all(len(r) == 0 for r in dataset_stats(ds, samples_per_class=0).sample_refs)


def test_matches_direct_numpy_computation():
    ds = load_digits()
    s = dataset_stats(ds)
    pixels = ds.pool().images.astype(np.float64)
    labels = ds.pool().labels
    assert s.pixel_mean_255 == pytest.approx(pixels.mean())
    assert s.pixel_std_255 == pytest.approx(pixels.std())
    assert s.zero_fraction == pytest.approx((pixels == 0).mean())
    for digit in range(10):
        expected = pixels[labels == digit].mean(axis=0)
        np.testing.assert_allclose(s.class_means[digit], expected, rtol=1e-6)


def test_to_dict_is_json_and_has_both_scales():
    d = dataset_stats(tiny()).to_dict()
    again = json.loads(json.dumps(d))
    assert again == d
    assert d["pixel_mean_01"] == pytest.approx(3.5 / 255)
    assert d["sample_refs"][1] == [["train", 2], ["test", 0]]
    assert "samples" not in d and "class_means" not in d


def test_empty_dataset_is_an_error():
    nothing = Split(np.zeros((0, 2, 2), np.uint8), np.zeros(0, np.int64))
    empty = Dataset("e", "nowhere", {"test": nothing})
    with pytest.raises(DataError, match="no images"):
        dataset_stats(empty)


def test_at_mnist_size_the_chunked_counts_agree_with_numpy():
    """70,000 images: the pixel histogram runs over many chunks; each number matches NumPy's own
    computation over the whole array."""
    rng = np.random.default_rng(0)
    train = Split(rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 60000))
    test = Split(rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 10000))
    ds = Dataset("big", "random", {"train": train, "test": test})
    s = dataset_stats(ds)
    images = np.concatenate([train.images, test.images])
    labels = np.concatenate([train.labels, test.labels])
    assert s.split_sizes == {"train": 60000, "test": 10000}
    assert s.total_class_counts == np.bincount(labels, minlength=10).tolist()
    assert sum(s.total_class_counts) == 70000
    assert s.pixel_mean_255 == pytest.approx(images.mean(dtype=np.float64), rel=1e-12)
    assert s.pixel_std_255 == pytest.approx(images.std(dtype=np.float64), rel=1e-9)
    assert s.zero_fraction == pytest.approx(float((images == 0).mean()), rel=1e-12)
    np.testing.assert_allclose(s.class_means[3], images[labels == 3].mean(axis=0), rtol=1e-6)


@pytest.mark.realdata
def test_real_mnist_stats(real_mnist_dir):
    s = dataset_stats(load_mnist_dir(real_mnist_dir))
    assert s.split_sizes == {"test": 10000}
    assert s.class_counts == {"test": REAL_COUNTS}
    assert s.image_shape == (28, 28)
    # Well-known MNIST facts: mean ≈ 0.13, std ≈ 0.31 on the 0–1 scale; mostly background.
    assert s.pixel_mean_255 / 255 == pytest.approx(0.1325, abs=0.002)
    assert s.pixel_std_255 / 255 == pytest.approx(0.3105, abs=0.002)
    assert 0.75 < s.zero_fraction < 0.85
    # A mean "1" is a thin vertical stroke: its centre column is brighter than its edges.
    one = s.class_means[1]
    assert one[:, 13:15].mean() > 4 * one[:, :5].mean()
    assert all(img.shape == (8, 28, 28) for img in s.samples)
