"""IDX parsing: every malformed input is a one-line DataError naming the file, never a crash."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mnist_tui.engine.data.idx import parse_idx, read_idx, read_images, read_labels
from mnist_tui.engine.errors import DataError

NAME = "t10k-images-idx3-ubyte.gz"


def assert_one_line_naming(err: pytest.ExceptionInfo, name: str) -> str:
    message = str(err.value)
    assert message.startswith(str(name)), message
    assert "\n" not in message
    return message


# --- parse_idx: happy paths ---------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
)
def test_parse_roundtrips_every_dtype(make_idx, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    out = parse_idx(make_idx(arr), NAME)
    assert out.dtype == np.dtype(dtype)  # native byte order
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, arr)
    out[0, 0, 0] = 1  # writeable: callers may normalise in place


def test_parse_big_endian_values(make_header):
    data = make_header(0x0C, (2,)) + bytes([0, 0, 1, 0, 0xFF, 0xFF, 0xFF, 0xFE])
    np.testing.assert_array_equal(parse_idx(data, NAME), [256, -2])


def test_parse_empty_dimension(make_header):
    assert parse_idx(make_header(0x08, (0, 28, 28)), NAME).shape == (0, 28, 28)


# --- parse_idx: errors --------------------------------------------------------------------


def test_bad_magic(make_idx):
    data = b"\x12\x34" + make_idx(np.zeros((2, 2, 2), np.uint8))[2:]
    with pytest.raises(DataError) as err:
        parse_idx(data, NAME)
    assert "not an IDX file" in assert_one_line_naming(err, NAME)


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x00\x08"])
def test_too_short_for_header(data):
    with pytest.raises(DataError) as err:
        parse_idx(data, NAME)
    assert "too short" in assert_one_line_naming(err, NAME)


def test_unknown_dtype_code(make_header):
    with pytest.raises(DataError) as err:
        parse_idx(make_header(0x0A, (1,)) + b"\x00", NAME)
    assert "0x0a" in assert_one_line_naming(err, NAME)


def test_truncated_header(make_header):
    data = make_header(0x08, (10000, 28, 28))[:9]
    with pytest.raises(DataError) as err:
        parse_idx(data, NAME)
    assert "truncated header" in assert_one_line_naming(err, NAME)


def test_truncated_data(make_header):
    data = make_header(0x08, (10000, 28, 28)) + bytes(1234)
    with pytest.raises(DataError) as err:
        parse_idx(data, NAME)
    message = assert_one_line_naming(err, NAME)
    assert "truncated" in message
    assert "10000×28×28 = 7,840,000 bytes" in message
    assert "file has 1,234" in message


def test_truncated_multibyte_data_mentions_item_size(make_header):
    with pytest.raises(DataError) as err:
        parse_idx(make_header(0x0E, (3,)) + bytes(10), NAME)
    assert "3 × 8 bytes = 24 bytes" in assert_one_line_naming(err, NAME)


def test_trailing_bytes(make_idx):
    with pytest.raises(DataError) as err:
        parse_idx(make_idx(np.zeros(5, np.uint8)) + b"junk", NAME)
    message = assert_one_line_naming(err, NAME)
    assert "trailing" in message and "file has 9" in message


def test_huge_dims_do_not_allocate(make_header):
    with pytest.raises(DataError, match="truncated"):
        parse_idx(make_header(0x0E, (0xFFFFFFFF,) * 8), NAME)


# --- read_idx -----------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_read_raw_and_gzip(tmp_path, make_idx, gz):
    arr = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    path = tmp_path / ("f.idx.gz" if gz else "f.idx")
    data = make_idx(arr)
    path.write_bytes(gzip.compress(data) if gz else data)
    np.testing.assert_array_equal(read_idx(path), arr)


def test_raw_file_holding_gzip_is_decompressed(tmp_path, make_idx):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(gzip.compress(make_idx(np.arange(7, dtype=np.uint8))))
    np.testing.assert_array_equal(read_idx(path), np.arange(7))


def test_named_gz_but_not_gzip(tmp_path, make_idx):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(make_idx(np.arange(7, dtype=np.uint8)))
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert assert_one_line_naming(err, path) == f"{path}: named .gz but is not gzip data"


@pytest.mark.parametrize("damage", ["truncate", "flip", "trailing-garbage"])
def test_corrupt_gzip(tmp_path, make_idx, damage):
    packed = gzip.compress(make_idx(np.arange(200, dtype=np.uint8) % 10))
    if damage == "truncate":
        packed = packed[: len(packed) // 2]
    elif damage == "flip":
        packed = packed[:20] + bytes([packed[20] ^ 0xFF]) + packed[21:]
    else:
        packed += b"garbage!"
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(packed)
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert "gzip" in assert_one_line_naming(err, path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope-idx3-ubyte"
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert "cannot read" in assert_one_line_naming(err, path)


def test_directory_is_not_readable_as_file(tmp_path):
    with pytest.raises(DataError) as err:
        read_idx(tmp_path)
    assert_one_line_naming(err, tmp_path)


# --- read_images / read_labels ------------------------------------------------------------


def test_read_images_and_labels(tmp_path, make_idx):
    images = np.arange(2 * 28 * 28, dtype=np.uint32).reshape(2, 28, 28).astype(np.uint8)
    (tmp_path / "i").write_bytes(make_idx(images))
    (tmp_path / "l").write_bytes(make_idx(np.array([3, 9], np.uint8)))
    out = read_images(tmp_path / "i")
    assert out.dtype == np.uint8 and out.shape == (2, 28, 28)
    labels = read_labels(tmp_path / "l")
    assert labels.dtype == np.int64
    assert labels.tolist() == [3, 9]


def test_images_file_that_holds_labels(tmp_path, make_idx):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(make_idx(np.arange(5, dtype=np.uint8)))
    with pytest.raises(DataError) as err:
        read_images(path)
    message = assert_one_line_naming(err, path)
    assert "expected an IDX image file (magic 2051), found magic 2049 (labels)" in message


def test_labels_file_that_holds_images(tmp_path, make_idx):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(make_idx(np.zeros((1, 2, 2), np.uint8)))
    with pytest.raises(DataError) as err:
        read_labels(path)
    assert "(magic 2049), found magic 2051 (images)" in assert_one_line_naming(err, path)


def test_images_with_wrong_dtype(tmp_path, make_idx):
    path = tmp_path / "imgs"
    path.write_bytes(make_idx(np.zeros((1, 2, 2), np.float32)))
    with pytest.raises(DataError) as err:
        read_images(path)
    assert "found magic 3331" in assert_one_line_naming(err, path)


def test_images_file_with_no_images(tmp_path, make_header):
    path = tmp_path / "imgs"
    path.write_bytes(make_header(0x08, (0, 28, 28)))
    with pytest.raises(DataError) as err:
        read_images(path)
    assert "no images" in assert_one_line_naming(err, path)


def test_labels_outside_0_to_9(tmp_path, make_idx):
    labels = np.zeros(50, np.uint8)
    labels[42] = 11
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(make_idx(labels))
    with pytest.raises(DataError) as err:
        read_labels(path)
    assert "labels outside 0–9: found 11 at index 42" in assert_one_line_naming(err, path)


# --- property tests: never anything but an array or a DataError ------------------------------

_DTYPES = st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
_SHAPES = st.lists(st.integers(0, 5), max_size=4).map(tuple)
# Valid IDX bytes for (shape, dtype), cut at a random point (None: kept whole), plus a random tail;
# encoded inside the tests because the encoder comes from a fixture.
_DAMAGE = st.tuples(_SHAPES, _DTYPES, st.none() | st.integers(0, 1000), st.binary(max_size=16))
_INPUTS = st.one_of(st.binary(max_size=64), _DAMAGE)


def _bytes_for(drawn: bytes | tuple, make_idx) -> bytes:
    if isinstance(drawn, bytes):
        return drawn
    shape, dtype, cut, tail = drawn
    return make_idx(np.zeros(shape, dtype))[:cut] + tail


def _array_or_data_error(fn, *args) -> None:
    try:
        out = fn(*args)
    except DataError as e:
        assert "\n" not in str(e)
    else:
        assert isinstance(out, np.ndarray)


@settings(max_examples=200, deadline=None)
@given(drawn=_INPUTS)
def test_parse_idx_never_crashes(make_idx, drawn):
    _array_or_data_error(parse_idx, _bytes_for(drawn, make_idx), NAME)


@settings(max_examples=200, deadline=None)
@given(drawn=_INPUTS, gz=st.booleans(), gz_name=st.booleans())
def test_read_idx_never_crashes(tmp_path_factory, make_idx, drawn, gz, gz_name):
    data = _bytes_for(drawn, make_idx)
    path = tmp_path_factory.mktemp("prop") / ("f.gz" if gz_name else "f")
    path.write_bytes(gzip.compress(data) if gz else data)
    for read in (read_idx, read_images, read_labels):
        _array_or_data_error(read, path)


@settings(max_examples=100, deadline=None)
@given(drawn=_DAMAGE, cut=st.integers(0, 200))
def test_read_idx_never_crashes_on_damaged_gzip(tmp_path_factory, make_idx, drawn, cut):
    path = tmp_path_factory.mktemp("prop") / "f.gz"
    path.write_bytes(gzip.compress(_bytes_for(drawn, make_idx))[:cut])
    _array_or_data_error(read_idx, path)


def test_valid_idx_roundtrips_through_parse(make_idx):
    for shape in [(), (0,), (3,), (2, 0, 4), (1, 2, 3, 4)]:
        arr = np.ones(shape, np.int16)
        np.testing.assert_array_equal(parse_idx(make_idx(arr), NAME), arr)


# --- real data ----------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_test_set_loads(real_mnist_dir):
    """How fast is `benchmarks/quick_paths.py --data-dir` (target: under 0.5 s)."""
    images = read_images(real_mnist_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_labels(real_mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))


def test_zero_dimension_with_huge_others_is_a_data_error(tmp_path):
    """Found by the damaged-gzip property test: 0 images of 0x025c987e × 0x00b0f0f9 × … pixels
    has no data to be short of, but numpy cannot shape it."""
    path = tmp_path / "f"
    path.write_bytes(b"\x00\x00\x08\x04" + struct.pack(">4I", 0, 0x025C987E, 0x00B0F0F9,
                                                        0xF8000000))
    with pytest.raises(DataError, match="header dimensions 0×39622782×11596025×4160749568 "
                                        "are not a valid array"):
        read_idx(path)
