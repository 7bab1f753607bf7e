"""The IDX file format MNIST ships in, parsed strictly and read with bounded memory.

Any byte string either parses into an array or raises a one-line `DataError` that names the
file: a user pointing the tool at the wrong file gets told what is wrong, never a traceback.

Files are read as a stream: the header (magic, dimensions) first, checked, then at most the
data it declares plus a little slack to tell trailing bytes apart. A gzip bomb named like an
IDX file (3 MB that inflate to gigabytes) is therefore refused after inflating no more than its
header promised, and a header promising an absurd size (more images than any MNIST-style
dataset, images larger than 1024×1024, more bytes than the machine has memory) is refused
before anything is inflated.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_tui.engine import present
from mnist_tui.engine.errors import DataError

if TYPE_CHECKING:
    from _typeshed import SupportsRead

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

# What an MNIST-style dataset can be. Real ones: MNIST 70,000 28×28 images, EMNIST ~814,000,
# QMNIST 120,000; anything past these limits is a damaged or hostile header, refused before a
# byte of its data is read.
MAX_IMAGES = 10_000_000
MAX_SIDE = 1024
MIN_SIDE = 4            # smaller images are not digits (t-SNE and the models break on them)
TRAILING_SLACK = 64 * 1024   # read this far past the declared data to count trailing bytes
_CHUNK = 1 << 20


def memory_bytes() -> int | None:
    """The most memory data may take here: this machine's physical memory, what it has
    available now, and this process's address-space limit, whichever is least (None when the
    system says none of them)."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, ValueError, OSError):
        pass
    return min(limits) if limits else None


def check_image_dims(n: int, h: int, w: int, where: str, said: str = "header says") -> None:
    """Refuse image counts and sizes no MNIST-style dataset has, before reading any pixels.

    `where` starts the message (a file, "file: key"); `said` introduces the numbers."""
    shape = f"{n:,} images of {h}×{w} pixels"
    if n > MAX_IMAGES:
        raise DataError(f"{where}: {said} {shape}: more than {MAX_IMAGES:,} images is not an "
                        "MNIST-style dataset (a damaged or hostile file?)")
    if h > MAX_SIDE or w > MAX_SIDE:
        raise DataError(f"{where}: {said} {shape}: images larger than {MAX_SIDE}×{MAX_SIDE} "
                        "are not MNIST-style digits (a damaged or hostile file?)")
    if n and (h < MIN_SIDE or w < MIN_SIDE):
        raise DataError(f"{where}: {said} {shape}: images smaller than {MIN_SIDE}×{MIN_SIDE} "
                        "are too small to be digits")


def check_label_count(n: int, where: str, said: str = "header says") -> None:
    if n > MAX_IMAGES:
        raise DataError(f"{where}: {said} {n:,} labels: more than {MAX_IMAGES:,} is not an "
                        "MNIST-style dataset (a damaged or hostile file?)")


def check_fits_memory(nbytes: int, where: str, said: str = "header says") -> None:
    """Refuse data larger than this machine's memory: it could never be loaded."""
    memory = memory_bytes()
    if memory is not None and nbytes > memory:
        raise DataError(f"{where}: {said} {nbytes:,} bytes of data "
                        f"({present.size(nbytes, 'GB')}), more than the "
                        f"{present.size(memory, 'GB')} of memory available to load it (a "
                        "damaged or hostile file?)")


def _shape_text(dims: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in dims) or "1 (a scalar)"


def _parse_header(data: bytes, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """(element type, dimensions, header length) of the IDX bytes starting `data`."""
    if len(data) < 4:
        raise DataError(f"{name}: not an IDX file: {len(data)} bytes is too short for a header")
    if data[0] or data[1]:
        raise DataError(
            f"{name}: not an IDX file: it starts with bytes {data[:2].hex()}, IDX starts with 0000"
        )
    code, ndim = data[2], data[3]
    if code not in _DTYPES:
        raise DataError(f"{name}: not an IDX file: unknown element type code 0x{code:02x}")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(
            f"{name}: truncated header: {ndim} dimensions need {header_len:,} bytes, "
            f"file has {len(data):,}"
        )
    return _DTYPES[code], struct.unpack(f">{ndim}I", data[4:header_len]), header_len


def _size_error(name: str, dims: tuple[int, ...], dtype: np.dtype, have: str,
                truncated: bool, has: str = "file has") -> DataError:
    expected = math.prod(dims) * dtype.itemsize
    size = f" × {dtype.itemsize} bytes" if dtype.itemsize > 1 else ""
    problem = "truncated" if truncated else "trailing bytes"
    return DataError(f"{name}: {problem}: header says {_shape_text(dims)}{size} = "
                     f"{expected:,} bytes of data, {has} {have}")


def _to_array(buffer: bytes | bytearray, dtype: np.dtype, dims: tuple[int, ...], offset: int,
              name: str) -> np.ndarray:
    flat = np.frombuffer(buffer, dtype=dtype, count=math.prod(dims), offset=offset)
    try:
        # One-byte types need no swap: a view of a writeable buffer, no second copy.
        out = flat.astype(dtype.newbyteorder("="), copy=dtype.itemsize > 1 or
                          not isinstance(buffer, bytearray))
        return out.reshape(dims)
    except ValueError:   # e.g. an empty array whose other dimensions overflow numpy's sizes
        raise DataError(f"{name}: header dimensions {_shape_text(dims)} are not a valid "
                        "array") from None


def parse_idx(data: bytes, name: str) -> np.ndarray:
    """Decode one IDX byte string into a native-endian, writeable array of the declared shape."""
    dtype, dims, header_len = _parse_header(data, name)
    expected = math.prod(dims) * dtype.itemsize
    have = len(data) - header_len
    if have != expected:
        raise _size_error(name, dims, dtype, f"{have:,}", truncated=have < expected)
    return _to_array(data, dtype, dims, header_len, name)


def _read_upto(stream: SupportsRead[bytes], n: int, into: bytearray) -> None:
    """Append up to `n` bytes of `stream` to `into` (fewer only at the end of the stream)."""
    while n > 0:
        chunk = stream.read(min(n, _CHUNK))
        if not chunk:
            return
        into += chunk
        n -= len(chunk)


def _check_header(dtype: np.dtype, dims: tuple[int, ...], expect: int | None,
                  name: str) -> None:
    """The limits a header must meet before its data is read."""
    code = next(c for c, dt in _DTYPES.items() if dt == dtype)
    found = code << 8 | len(dims)
    if expect is not None and found != expect:
        what = f" ({_MAGIC_KINDS[found]}s)" if found in _MAGIC_KINDS else ""
        raise DataError(
            f"{name}: expected an IDX {_MAGIC_KINDS[expect]} file (magic {expect}), "
            f"found magic {found}{what}"
        )
    if expect == IMAGES_MAGIC:
        if 0 in dims:
            raise DataError(f"{name}: no images: header says {_shape_text(dims)}")
        n, h, w = dims   # 3 dimensions: the magic number says so (checked above)
        check_image_dims(n, h, w, name)
    elif expect == LABELS_MAGIC:
        check_label_count(dims[0], name)
    check_fits_memory(math.prod(dims) * dtype.itemsize, name)


def _read_stream(stream: SupportsRead[bytes], name: str, expect: int | None,
                 has: str = "file has") -> np.ndarray:
    buf = bytearray()
    _read_upto(stream, 4, buf)
    if len(buf) == 4 and not (buf[0] or buf[1]) and buf[2] in _DTYPES:
        _read_upto(stream, 4 * buf[3], buf)
    dtype, dims, header_len = _parse_header(bytes(buf), name)
    _check_header(dtype, dims, expect, name)
    expected = math.prod(dims) * dtype.itemsize
    _read_upto(stream, expected + TRAILING_SLACK + 1, buf)
    have = len(buf) - header_len
    if have < expected:
        raise _size_error(name, dims, dtype, f"{have:,}", truncated=True, has=has)
    if have > expected:   # reading stopped here: a bomb inflates no further than this
        more = "more than " if have > expected + TRAILING_SLACK else ""
        raise _size_error(name, dims, dtype, f"{more}{min(have, expected + TRAILING_SLACK):,}",
                          truncated=False, has=has)
    return _to_array(buf, dtype, dims, header_len, name)


def read_idx(path: Path, expect: int | None = None) -> np.ndarray:
    """Read a raw or gzip-compressed IDX file (gzip is detected by content, not only by name).

    `expect` (IMAGES_MAGIC, LABELS_MAGIC) checks the magic number and that kind's limits from
    the header, before the data is read. Memory stays bounded by what the header declares
    (after those limits), however much a compressed file would inflate to.
    """
    path = Path(path)
    name = str(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head == _GZIP_MAGIC:
                with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
                    return _read_stream(gz, name, expect, "its gzip data inflates to")
            if path.suffix.lower() == ".gz":
                raise DataError(f"{path}: named .gz but is not gzip data")
            return _read_stream(fh, name, expect)
    except DataError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: corrupt gzip data: {e}") from None
    except MemoryError:
        raise DataError(f"{path}: too large to load into this machine's memory") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None


def read_header(path: Path, expect: int) -> tuple[np.dtype, tuple[int, ...], int]:
    """(element type, dimensions, header length) of the raw or gzip IDX file `path`, once its
    header passed the limits of `expect` (the loader's own checks); DataError when it does not.
    Reads the header only (inflating no more than it for gzip), so it costs the same for 1 kB
    and for 8 GB: the data's preflight counts images with it, without reading any."""
    path = Path(path)
    name = str(path)
    try:
        with open(path, "rb") as fh:
            stream: SupportsRead[bytes] = fh
            if fh.read(2) == _GZIP_MAGIC:
                fh.seek(0)
                stream = gzip.GzipFile(fileobj=fh, mode="rb")
            else:
                fh.seek(0)
            buf = bytearray()
            _read_upto(stream, 4, buf)
            if len(buf) == 4 and not (buf[0] or buf[1]) and buf[2] in _DTYPES:
                _read_upto(stream, 4 * buf[3], buf)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: corrupt gzip data: {e}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    dtype, dims, header_len = _parse_header(bytes(buf), name)
    _check_header(dtype, dims, expect, name)
    return dtype, dims, header_len


def declared_bytes(path: Path, expect: int) -> int:
    """The size of the IDX data (header included) that the header of `path` declares
    (`read_header`): callers use it to rule a file out before reading, let alone hashing, all
    of it."""
    dtype, dims, header_len = read_header(path, expect)
    return header_len + math.prod(dims) * dtype.itemsize


def is_gzip(path: Path) -> bool:
    """Whether a file starts like gzip data (False when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == _GZIP_MAGIC
    except OSError:
        return False


def read_images(path: Path) -> np.ndarray:
    """An MNIST images file: uint8 (N, H, W), at least one image, at least 4×4 pixels."""
    return read_idx(path, IMAGES_MAGIC)


def read_labels(path: Path) -> np.ndarray:
    """An MNIST labels file: int64 (N,) with every value a digit 0–9."""
    arr = read_idx(path, LABELS_MAGIC)
    bad = np.flatnonzero(arr > 9)
    if bad.size:
        raise DataError(
            f"{path}: labels outside 0–9: found {arr[bad[0]]} at index {bad[0]}"
            + (f" ({bad.size:,} such labels)" if bad.size > 1 else "")
        )
    return arr.astype(np.int64)
