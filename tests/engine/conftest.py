"""Shared fixtures for the engine tests: IDX bytes crafted by hand, fake MNIST folders, real MNIST.

The helpers are session-scoped fixtures returning plain functions, so Hypothesis tests can use
them too (it rejects function-scoped fixtures).
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_header(code: int, dims: tuple[int, ...]) -> bytes:
    return struct.pack(">BBBB", 0, 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)


def encode_idx(arr: np.ndarray) -> bytes:
    """A valid IDX file holding `arr` (header from its dtype and shape, big-endian data)."""
    arr = np.asarray(arr)
    data = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    return idx_header(CODES[arr.dtype], arr.shape) + data


def fake_images(n: int, h: int = 28, w: int = 28, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w), dtype=np.uint8)


def fake_labels(n: int) -> np.ndarray:
    return (np.arange(n) % 10).astype(np.uint8)


def write_idx_file(path: Path, data: bytes, gz: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_split(
    directory: Path,
    split: str,
    n: int = 30,
    *,
    style: str = "dash",
    gz: bool = False,
    kaggle: bool = False,
    kinds: tuple[str, ...] = ("images", "labels"),
    n_labels: int | None = None,
) -> dict[str, Path]:
    """Write one split of a fake MNIST in the given naming style / layout; returns the paths."""
    prefix = {"train": "train", "test": "t10k"}[split]
    payload = {
        "images": encode_idx(fake_images(n)),
        "labels": encode_idx(fake_labels(n if n_labels is None else n_labels)),
    }
    paths = {}
    for kind in kinds:
        idx = "idx3" if kind == "images" else "idx1"
        sep = "-" if style == "dash" else "."
        base = f"{prefix}-{kind}{sep}{idx}-ubyte"
        name = base + (".gz" if gz else "")
        path = directory / base / name if kaggle else directory / name
        paths[kind] = write_idx_file(path, payload[kind], gz)
    return paths


@pytest.fixture(scope="session")
def make_idx() -> Callable[[np.ndarray], bytes]:
    return encode_idx


@pytest.fixture(scope="session")
def make_header() -> Callable[[int, tuple[int, ...]], bytes]:
    return idx_header


@pytest.fixture(scope="session")
def make_split() -> Callable[..., dict[str, Path]]:
    return write_split
