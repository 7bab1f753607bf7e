"""The IDX file format MNIST ships in, parsed strictly.

Any byte string either parses into an array or raises a one-line `DataError` that names the
file: a user pointing the tool at the wrong file gets told what is wrong, never a traceback.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from mnist_tui.engine.errors import DataError

# Type code byte → big-endian element type, as the format defines them.
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
IMAGES_MAGIC = 2051  # uint8, 3 dims
LABELS_MAGIC = 2049  # uint8, 1 dim
_MAGIC_KINDS = {IMAGES_MAGIC: "image", LABELS_MAGIC: "label"}


def parse_idx(data: bytes, name: str) -> np.ndarray:
    """Decode one IDX byte string into a native-endian, writeable array of the declared shape."""
    if len(data) < 4:
        raise DataError(f"{name}: not an IDX file: {len(data)} bytes is too short for a header")
    if data[0] or data[1]:
        raise DataError(
            f"{name}: not an IDX file: it starts with bytes {data[:2].hex()}, IDX starts with 0000"
        )
    code, ndim = data[2], data[3]
    if code not in _DTYPES:
        raise DataError(f"{name}: not an IDX file: unknown element type code 0x{code:02x}")
    dtype = _DTYPES[code]
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(
            f"{name}: truncated header: {ndim} dimensions need {header_len:,} bytes, "
            f"file has {len(data):,}"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    count = math.prod(dims)
    expected = count * dtype.itemsize
    have = len(data) - header_len
    if have != expected:
        shape = "×".join(str(d) for d in dims) or "1 (a scalar)"
        size = f" × {dtype.itemsize} bytes" if dtype.itemsize > 1 else ""
        problem = "truncated" if have < expected else "trailing bytes"
        raise DataError(
            f"{name}: {problem}: header says {shape}{size} = {expected:,} bytes of data, "
            f"file has {have:,}"
        )
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=header_len)
    try:
        return flat.astype(dtype.newbyteorder("=")).reshape(dims)
    except ValueError:   # e.g. an empty array whose other dimensions overflow numpy's sizes
        shape = "×".join(str(d) for d in dims)
        raise DataError(f"{name}: header dimensions {shape} are not a valid array") from None


def read_idx(path: Path) -> np.ndarray:
    """Read a raw or gzip-compressed IDX file (gzip is detected by content, not only by name)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: corrupt gzip data: {e}") from None
    elif Path(path).suffix.lower() == ".gz":
        raise DataError(f"{path}: named .gz but is not gzip data")
    return parse_idx(raw, str(path))


def _magic(arr: np.ndarray) -> int:
    """The magic number the array's file had (type code << 8 | ndim), for error messages."""
    code = next(c for c, dt in _DTYPES.items() if dt.newbyteorder("=") == arr.dtype)
    return code << 8 | arr.ndim


def _require_magic(arr: np.ndarray, expected: int, path: Path) -> None:
    found = _magic(arr)
    if found != expected:
        what = f" ({_MAGIC_KINDS[found]}s)" if found in _MAGIC_KINDS else ""
        raise DataError(
            f"{path}: expected an IDX {_MAGIC_KINDS[expected]} file (magic {expected}), "
            f"found magic {found}{what}"
        )


def read_images(path: Path) -> np.ndarray:
    """An MNIST images file: uint8 (N, H, W), with at least one non-empty image."""
    arr = read_idx(path)
    _require_magic(arr, IMAGES_MAGIC, path)
    if 0 in arr.shape:
        raise DataError(f"{path}: no images: header says {'×'.join(map(str, arr.shape))}")
    return arr


def read_labels(path: Path) -> np.ndarray:
    """An MNIST labels file: int64 (N,) with every value a digit 0–9."""
    arr = read_idx(path)
    _require_magic(arr, LABELS_MAGIC, path)
    bad = np.flatnonzero(arr > 9)
    if bad.size:
        raise DataError(
            f"{path}: labels outside 0–9: found {arr[bad[0]]} at index {bad[0]}"
            + (f" ({bad.size:,} such labels)" if bad.size > 1 else "")
        )
    return arr.astype(np.int64)
