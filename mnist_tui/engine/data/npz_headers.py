"""An npz archive's members judged from their headers, before numpy reads any of them.

`np.load` allocates a whole declared array before reading it, and zipfile silently picks one of
two members with the same name, so both are checked here first. The loader (`mnist_files`)
runs these checks before loading; the data preflight (`inspection`) counts images with the same
ones, so both accept and refuse the same archives for the same reasons.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_tui.engine.data.idx import check_fits_memory, check_image_dims, check_label_count
from mnist_tui.engine.errors import DataError
from mnist_tui.engine.text import shown

if TYPE_CHECKING:
    from _typeshed import SupportsRead


def one_line(e: Exception) -> str:
    """An exception's message on one line (numpy's and zipfile's may span several)."""
    return " ".join(str(e).split()) or type(e).__name__


def npy_header(fp: SupportsRead[bytes]) -> tuple[tuple[int, ...], np.dtype] | None:
    """(shape, dtype) from the header of the .npy stream `fp`, leaving `fp` after it; None for
    a format version this numpy has no public reader for (np.load then reads it as usual)."""
    fmt = np.lib.format
    version = fmt.read_magic(fp)
    if version == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, _, dtype = fmt.read_array_header_2_0(fp)
    elif hasattr(fmt, "_read_array_header"):    # 3.0: utf-8 field names
        shape, _, dtype = fmt._read_array_header(fp, version)
    else:
        return None
    return tuple(int(d) for d in shape), dtype


def npy_member_header(zf: zipfile.ZipFile, key: str,
                      path: Path) -> tuple[tuple[int, ...], np.dtype] | None:
    """(shape, dtype) of the array `key` (member `key.npy`) once its header passed the loader's
    limits; None when there is no such .npy member, or its format version has no public
    reader (np.load then says what it is). Refuses an absurd shape, or more bytes than the
    member holds, before numpy allocates it: a header saying (2³¹, 28, 28) was a MemoryError,
    not an error message."""
    try:
        info = zf.getinfo(f"{key}.npy")
    except KeyError:      # a member that is not .npy: np.load says what it is
        return None
    where = f"{path}: {key}"
    try:
        with zf.open(info) as fp:
            header = npy_header(fp)
            header_len = fp.tell()
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError,
            NotImplementedError) as e:   # (encrypted, an unsupported compression method)
        raise DataError(f"{where}: not a readable .npy array: {one_line(e)}") from None
    if header is None:
        return None
    shape, dtype = header
    if dtype.hasobject:   # np.load refuses it (allow_pickle=False) with its own words
        return header
    said = "declares"
    if key.startswith("x_"):
        if len(shape) != 3 or 0 in shape:
            raise DataError(f"{where} must be non-empty images (N, H, W), got shape {shape}")
        check_image_dims(*shape, where, said)
    elif key.startswith("y_"):
        if len(shape) != 1:
            raise DataError(f"{where} must be integer labels (N,), got {dtype} shape {shape}")
        check_label_count(shape[0], where, said)
    nbytes = math.prod(shape) * dtype.itemsize
    check_fits_memory(nbytes, where, said)
    have = info.file_size - header_len
    if nbytes > have:
        raise DataError(f"{where}: truncated: declares shape {shape} of {dtype} = {nbytes:,} "
                        f"bytes, the archive member holds {max(have, 0):,}")
    return header


def check_unique_members(zf: zipfile.ZipFile, path: Path) -> None:
    """Refuse an archive holding two members for one array (one name twice, or `x_train` beside
    `x_train.npy`): zipfile, and so numpy, silently reads one of them, so which array a run used
    would depend on an accident of the archive's layout."""
    seen: dict[str, str] = {}
    for name in zf.namelist():
        key = name[:-4] if name.endswith(".npy") else name
        if key in seen:
            which = (f'two members named "{shown(name, 80)}"' if seen[key] == name else
                     f'two members for "{shown(key, 80)}" ({shown(seen[key], 80)} and '
                     f'{shown(name, 80)})')
            raise DataError(f"{path}: the archive holds {which}; which one is the data is "
                            "ambiguous, so it is refused")
        seen[key] = name
