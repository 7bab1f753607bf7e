"""Fault contract, row 1 — bounded decompression.

A 3 MB gzip bomb named like an IDX file used to be inflated whole before its header was read
(6.2 GB peak, 35 s); an npz whose array header declared (2³¹, 28, 28) was a MemoryError (exit
3). Each hostile file here is small on disk; the CLI runs with its address space limited to
2 GB, and must answer exit 2 with one `error:` line naming the file, within seconds, leaving
no run folder.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
from pathlib import Path

import pytest
from fault_helpers import assert_input_error, gzip_bomb, listing, npy_header, run_cli
from support import patient

pytestmark = pytest.mark.faults


def _labels_gz(folder: Path, n: int) -> None:
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(struct.pack(">2I", 2049, n) + bytes(n)))


def idx_gzip_bomb(folder: Path) -> Path:
    """The issue's bomb: a header saying 60,000 28×28 images, then 3 GB of zeros (3 MB)."""
    gzip_bomb(folder / "train-images-idx3-ubyte.gz", struct.pack(">4I", 2051, 60000, 28, 28),
              3 * 2**30)
    _labels_gz(folder, 60000)
    return folder


def idx_honest_huge(folder: Path) -> Path:
    """A header that honestly promises 7 million images (5.5 GB) and a body that delivers
    them (5 MB of gzip): more than the memory there is to hold them."""
    gzip_bomb(folder / "train-images-idx3-ubyte.gz",
              struct.pack(">4I", 2051, 7_000_000, 28, 28), 5_488_000_000)
    _labels_gz(folder, 10)
    return folder


def idx_absurd_count(folder: Path) -> Path:
    (folder / "train-images-idx3-ubyte").write_bytes(struct.pack(">4I", 2051, 2**31, 28, 28))
    _labels_gz(folder, 10)
    return folder


def idx_absurd_side(folder: Path) -> Path:
    (folder / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(struct.pack(">4I", 2051, 10, 50_000, 50_000)))
    _labels_gz(folder, 10)
    return folder


def _npz(folder: Path, x_header: bytes, x_body: bytes) -> Path:
    path = folder / "mnist.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x_train.npy", x_header + x_body)
        z.writestr("y_train.npy", npy_header((10,)) + bytes(10))
    return path


def npz_absurd_shape(folder: Path) -> Path:
    """The issue's npz: x_train's header declares (2³¹, 28, 28)."""
    return _npz(folder, npy_header((2**31, 28, 28)), bytes(100_000))


def npz_beyond_member(folder: Path) -> Path:
    """A plausible shape, (600,000, 28, 28) = 470 MB, in a member holding 100 kB."""
    return _npz(folder, npy_header((600_000, 28, 28)), bytes(100_000))


CASES = {
    # name: (builder, the file the message must start with, fragments it must contain)
    "idx gzip bomb": (idx_gzip_bomb, "train-images-idx3-ubyte.gz",
                      ["trailing bytes", "60000×28×28 = 47,040,000 bytes",
                       "its gzip data inflates to more than"]),
    "idx header honest but huge": (idx_honest_huge, "train-images-idx3-ubyte.gz",
                                   ["5,488,000,000 bytes of data", "of memory available"]),
    "idx absurd image count": (idx_absurd_count, "train-images-idx3-ubyte",
                               ["2,147,483,648 images of 28×28 pixels",
                                "more than 10,000,000 images"]),
    "idx absurd image size": (idx_absurd_side, "train-images-idx3-ubyte.gz",
                              ["10 images of 50000×50000 pixels", "larger than 1024×1024"]),
    "npz absurd shape": (npz_absurd_shape, "mnist.npz: x_train",
                         ["declares 2,147,483,648 images", "more than 10,000,000 images"]),
    "npz shape beyond its member": (npz_beyond_member, "mnist.npz: x_train",
                                    ["truncated", "(600000, 28, 28)", "470,400,000 bytes",
                                     "the archive member holds 100,000"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_data_files_are_refused_from_their_headers(case, tmp_path, env, runs):
    build, file_name, fragments = CASES[case]
    folder = tmp_path / "data"
    folder.mkdir()
    target = build(folder)
    on_disk = sum(p.stat().st_size for p in folder.iterdir())
    assert on_disk < 8 * 2**20          # small on disk, whatever it claims to hold

    run = run_cli(["--job", "tsne-gmm", "--data-dir", str(target)], env, tmp_path,
                  bounded_memory=True, timeout=60)

    message = assert_input_error(run)
    assert message.startswith(str(folder / file_name)), message
    for fragment in fragments:
        assert fragment in message, message
    assert run.seconds < patient(15), run.seconds
    assert listing(runs) == []                       # no run folder
    assert "Traceback" not in run.stdout + run.stderr
