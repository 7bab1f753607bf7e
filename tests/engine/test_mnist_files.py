"""Finding MNIST on disk in every layout users have, and refusing everything else clearly."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest

from mnist_tui.engine.data.mnist_files import (
    find_mnist_files,
    load_mnist_dir,
    load_npz,
    load_path,
)
from mnist_tui.engine.errors import DataError

REAL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def error_of(fn, path) -> str:
    with pytest.raises(DataError) as err:
        fn(path)
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message, message
    return message


# --- layouts that must load ---------------------------------------------------------------


@pytest.mark.parametrize("style", ["dash", "dot"])
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("kaggle", [False, True])
def test_both_splits_in_every_layout(tmp_path, make_split, style, gz, kaggle):
    make_split(tmp_path, "train", 40, style=style, gz=gz, kaggle=kaggle)
    make_split(tmp_path, "test", 20, style=style, gz=gz, kaggle=kaggle)
    ds = load_mnist_dir(tmp_path)
    assert ds.name == "mnist-format" and ds.source == str(tmp_path)   # not the published files
    assert ds.split_names() == ["train", "test"]
    assert len(ds.splits["train"]) == 40 and len(ds.splits["test"]) == 20
    assert ds.image_shape == (28, 28)
    test = ds.splits["test"]
    assert test.images.dtype == np.uint8 and test.labels.dtype == np.int64
    assert test.labels.tolist() == [i % 10 for i in range(20)]


def test_test_split_only(tmp_path, make_split):
    make_split(tmp_path, "test", 12, gz=True)
    ds = load_mnist_dir(tmp_path)
    assert list(ds.splits) == ["test"]
    assert len(ds.splits["test"]) == 12


def test_files_in_one_subfolder(tmp_path, make_split):
    make_split(tmp_path / "mnist", "test", 10)
    assert len(load_mnist_dir(tmp_path).splits["test"]) == 10


def test_one_split_in_two_layouts_is_refused(tmp_path, make_split):
    """Images loose, labels in Kaggle folders: two places, so nothing is read."""
    make_split(tmp_path, "train", 10, kinds=("images",), style="dot", gz=True)
    make_split(tmp_path, "train", 10, kinds=("labels",), kaggle=True)
    message = error_of(load_mnist_dir, tmp_path)
    assert "MNIST found in 2 places" in message
    assert "the folder itself (train)" in message and "(Kaggle layout: train)" in message


def test_kaggle_download_with_every_file_twice_loads_once(tmp_path, make_split):
    """Kaggle's MNIST ships each file loose (`t10k-images.idx3-ubyte`) and again in a folder of
    its own (`t10k-images-idx3-ubyte/t10k-images-idx3-ubyte`), byte-identical."""
    loose = make_split(tmp_path, "test", 10, style="dot")
    inner = make_split(tmp_path, "test", 10, style="dash", kaggle=True)
    ds = load_mnist_dir(tmp_path)
    assert len(ds.splits["test"]) == 10
    read = [f["path"] for f in ds.describe()["files"]]
    assert read == [str(loose["images"]), str(loose["labels"])]
    assert str(inner["images"]) not in read


def test_a_split_in_two_folders_is_refused(tmp_path, make_split):
    """The issue's case: a/ holds another dataset's test split, b/ holds MNIST (both splits).
    Taking each file from the first place that has it trained on b and scored on a."""
    make_split(tmp_path / "a", "test", 7)
    make_split(tmp_path / "b", "train", 20)
    make_split(tmp_path / "b", "test", 10)
    message = error_of(load_mnist_dir, tmp_path)
    assert "MNIST found in 2 places: a/ (test), b/ (train, test)" in message
    assert "point --data-dir at one of them" in message
    assert len(load_mnist_dir(tmp_path / "b").splits["test"]) == 10


def test_two_complete_datasets_are_refused(tmp_path, make_split):
    for name, n in (("one", 20), ("two", 30)):
        make_split(tmp_path / name, "train", n)
        make_split(tmp_path / name, "test", n // 2)
    message = error_of(load_mnist_dir, tmp_path)
    assert "one/ (train, test), two/ (train, test)" in message


def test_splits_in_different_folders_are_refused(tmp_path, make_split):
    make_split(tmp_path / "tr", "train", 20)
    make_split(tmp_path / "te", "test", 10)
    assert "2 places" in error_of(load_mnist_dir, tmp_path)


def test_the_folder_and_a_subfolder_both_holding_a_split_are_refused(tmp_path, make_split):
    make_split(tmp_path, "test", 10)
    make_split(tmp_path / "other", "test", 5)
    with pytest.raises(DataError, match=r"the folder itself \(test\), other/ \(test\)"):
        find_mnist_files(tmp_path)


def test_idx_files_beside_an_npz_are_refused(tmp_path, make_split):
    make_split(tmp_path, "test", 10)
    save_npz(tmp_path / "mnist.npz", **keras_arrays())
    message = error_of(load_mnist_dir, tmp_path)
    assert "the folder itself (test)" in message and "mnist.npz" in message


def test_two_different_files_for_one_part_are_refused(tmp_path, make_split):
    make_split(tmp_path, "test", 10, gz=True)
    make_split(tmp_path, "test", 12, gz=False)
    message = error_of(load_mnist_dir, tmp_path)
    assert "two different files for t10k-images-idx3-ubyte" in message and "keep one" in message


def test_files_read_are_recorded_with_size_and_hash(tmp_path, make_split):
    import hashlib

    paths = {**{f"train-{k}": v for k, v in make_split(tmp_path, "train", 20, gz=True).items()},
             **{f"test-{k}": v for k, v in make_split(tmp_path, "test", 10).items()}}
    files = load_mnist_dir(tmp_path).describe()["files"]
    assert [(f["split"], f["kind"]) for f in files] == [
        ("train", "images"), ("train", "labels"), ("test", "images"), ("test", "labels")]
    for f in files:
        path = paths[f"{f['split']}-{f['kind']}"]
        assert f["path"] == str(path) and f["bytes"] == path.stat().st_size
        assert f["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_find_reports_half_splits(tmp_path, make_split):
    paths = make_split(tmp_path, "train", 10, kinds=("labels",))
    found = find_mnist_files(tmp_path)
    assert found["train"].images is None and found["train"].labels == paths["labels"]


def test_find_in_missing_directory_is_empty(tmp_path):
    assert find_mnist_files(tmp_path / "nope") == {}


# --- directory errors ---------------------------------------------------------------------


def test_missing_directory(tmp_path):
    assert "no such directory" in error_of(load_mnist_dir, tmp_path / "nope")


def test_file_instead_of_directory(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    assert "not a directory" in error_of(load_mnist_dir, path)


def test_no_mnist_files(tmp_path):
    (tmp_path / "readme.txt").write_text("hello")
    message = error_of(load_mnist_dir, tmp_path)
    assert message == (
        f"no MNIST files in {tmp_path}: expected train-images-idx3-ubyte[.gz] / "
        "t10k-images-idx3-ubyte[.gz] (either naming style) or mnist.npz"
    )


def test_images_without_labels(tmp_path, make_split):
    make_split(tmp_path, "test", 10, gz=True, kinds=("images",))
    message = error_of(load_mnist_dir, tmp_path)
    assert message == (
        f"{tmp_path}: found t10k-images-idx3-ubyte.gz but not t10k-labels-idx1-ubyte[.gz]"
    )


def test_labels_without_images(tmp_path, make_split):
    make_split(tmp_path, "train", 10, kinds=("labels",), style="dot", kaggle=True)
    message = error_of(load_mnist_dir, tmp_path)
    assert "found train-labels.idx1-ubyte/train-labels.idx1-ubyte" in message
    assert "but not train-images-idx3-ubyte[.gz]" in message


def test_count_mismatch(tmp_path, make_split):
    make_split(tmp_path, "test", 10, n_labels=9)
    message = error_of(load_mnist_dir, tmp_path)
    assert "10 images but t10k-labels-idx1-ubyte has 9 labels" in message


def test_bad_file_inside_is_named(tmp_path, make_split):
    paths = make_split(tmp_path, "test", 10)
    paths["labels"].write_bytes(paths["labels"].read_bytes() + b"!")
    message = error_of(load_mnist_dir, tmp_path)
    assert message.startswith(str(paths["labels"])) and "trailing" in message


def test_splits_with_different_image_sizes(tmp_path, make_idx, make_split):
    make_split(tmp_path, "train", 10)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(make_idx(np.zeros((3, 8, 8), np.uint8)))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(make_idx(np.zeros(3, np.uint8)))
    assert "different image sizes" in error_of(load_mnist_dir, tmp_path)


# --- Keras mnist.npz ----------------------------------------------------------------------


def keras_arrays(n_train: int = 30, n_test: int = 20) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }


def save_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_both_splits(tmp_path):
    arrays = keras_arrays()
    ds = load_npz(save_npz(tmp_path / "mnist.npz", **arrays))
    assert ds.name == "mnist-format" and ds.source == str(tmp_path / "mnist.npz")
    assert ds.split_names() == ["train", "test"]
    np.testing.assert_array_equal(ds.splits["test"].images, arrays["x_test"])
    assert ds.splits["train"].labels.dtype == np.int64


def test_npz_test_only_and_int_pixels_cast(tmp_path):
    arrays = keras_arrays()
    x_test = arrays["x_test"].astype(np.int64)
    ds = load_npz(save_npz(tmp_path / "m.npz", x_test=x_test, y_test=arrays["y_test"]))
    assert list(ds.splits) == ["test"]
    assert ds.splits["test"].images.dtype == np.uint8
    np.testing.assert_array_equal(ds.splits["test"].images, arrays["x_test"])


def test_npz_in_directory(tmp_path):
    save_npz(tmp_path / "mnist.npz", **keras_arrays())
    assert load_mnist_dir(tmp_path).split_names() == ["train", "test"]


def test_npz_one_level_down(tmp_path):
    (tmp_path / "keras").mkdir()
    npz = save_npz(tmp_path / "keras" / "mnist.npz", **keras_arrays())
    ds = load_mnist_dir(tmp_path)
    assert ds.source == str(npz)
    [record] = ds.describe()["files"]
    assert record["path"] == str(npz) and record["kind"] == "npz"
    assert record["split"] == "train+test" and record["bytes"] == npz.stat().st_size


def test_npz_with_object_array(tmp_path):
    arrays = keras_arrays()
    arrays["x_test"] = np.array([arrays["x_test"][0], "evil"], dtype=object)
    message = error_of(load_npz, save_npz(tmp_path / "mnist.npz", **arrays))
    assert "x_test" in message and "allow_pickle" in message


def test_npz_that_is_a_pickle(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(pickle.dumps(keras_arrays()))
    assert "not a zip file" in error_of(load_npz, path)


def test_npz_not_a_zip(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"hello world")
    assert "not an .npz archive" in error_of(load_npz, path)


def test_npz_truncated(tmp_path):
    path = save_npz(tmp_path / "mnist.npz", **keras_arrays())
    path.write_bytes(path.read_bytes()[:5000])
    error_of(load_npz, path)


def test_npz_member_that_is_not_npy(tmp_path):
    path = tmp_path / "mnist.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x_test", b"raw bytes")
        z.writestr("y_test.npy", b"not npy either")
    assert "x_test" in error_of(load_npz, path)


def test_npz_missing_label_key(tmp_path):
    arrays = keras_arrays()
    del arrays["y_train"]
    path = save_npz(tmp_path / "m.npz", **arrays)
    assert "has x_train but no y_train" in error_of(load_npz, path)


def test_npz_without_mnist_keys(tmp_path):
    message = error_of(load_npz, save_npz(tmp_path / "m.npz", a=np.zeros(3)))
    assert "no x_train/y_train or x_test/y_test" in message and "it has: a" in message


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("x_test", np.zeros((20, 28, 28), np.float32), "integer pixels"),
        ("x_test", np.full((20, 28, 28), 300, np.int32), "0–255"),
        ("x_test", np.full((20, 28, 28), -1, np.int32), "0–255"),
        ("x_test", np.zeros((20, 784), np.uint8), "(N, H, W)"),
        ("y_test", np.full(20, 10, np.int64), "labels outside 0–9: found 10 at index 0"),
        ("y_test", np.full(20, -1, np.int64), "labels outside 0–9"),
        ("y_test", np.zeros(20, np.float64), "integer labels"),
        ("y_test", np.zeros(19, np.uint8), "20 images but y_test has 19 labels"),
    ],
)
def test_npz_bad_arrays(tmp_path, key, value, expected):
    arrays = keras_arrays()
    arrays[key] = value
    assert expected in error_of(load_npz, save_npz(tmp_path / "m.npz", **arrays))


def test_npz_missing(tmp_path):
    assert "no such file" in error_of(load_npz, tmp_path / "mnist.npz")


# --- load_path ----------------------------------------------------------------------------


def test_load_path_directory_and_npz(tmp_path, make_split):
    make_split(tmp_path / "d", "test", 10)
    assert len(load_path(tmp_path / "d").splits["test"]) == 10
    npz = save_npz(tmp_path / "mnist.npz", **keras_arrays())
    assert load_path(npz).split_names() == ["train", "test"]


def test_load_path_other_file(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(b"x")
    assert "expected a directory of MNIST IDX files or an .npz file" in error_of(load_path, path)


def test_load_path_missing(tmp_path):
    assert "no such file or directory" in error_of(load_path, tmp_path / "nope")


# --- real data ----------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_mnist_test_set(real_mnist_dir):
    ds = load_path(real_mnist_dir)
    assert ds.name == "mnist" and ds.source == str(real_mnist_dir)
    assert list(ds.splits) == ["test"]
    test = ds.splits["test"]
    assert test.images.shape == (10000, 28, 28) and test.images.dtype == np.uint8
    assert np.bincount(test.labels, minlength=10).tolist() == REAL_COUNTS
