"""Choosing where a dataset comes from: local files, the download cache, a download, or the digits.

    --data-dir PATH     read those files, nothing else
    --dataset mnist     cache → download; never falls back
    --dataset digits    scikit-learn's bundled 8×8 digits
    --dataset auto      like mnist, but falls back to digits (and says so loudly) when MNIST
                        cannot be had
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_tui.engine.data.datasets import Dataset, load_digits
from mnist_tui.engine.errors import DownloadError, SpecError

if TYPE_CHECKING:
    from mnist_tui.engine.data.transfer import DownloadProgress


def load_dataset(dataset: str = "auto", data_dir: str | Path | None = None,
                 progress: Callable[[DownloadProgress], None] | None = None, cache_dir: Path | None = None) -> Dataset:
    """The dataset a spec asks for. Raises DataError / DownloadError with a one-line message."""
    from mnist_tui.engine.data import download
    from mnist_tui.engine.data.mnist_files import load_idx_folder, load_path

    if dataset not in ("auto", "mnist", "digits"):
        raise SpecError(f"--dataset: unknown dataset {dataset!r} (choose from auto, mnist, digits)")
    if data_dir:
        if dataset == "digits":
            raise SpecError("--data-dir reads MNIST files; it cannot be used with --dataset digits")
        return load_path(Path(data_dir).expanduser())
    if dataset == "digits":
        return load_digits()
    cache_dir = cache_dir or download.default_cache_dir()
    try:
        path = download.fetch_mnist(cache_dir=cache_dir, mirrors=download.mirrors_from_env(),
                                    progress=progress)
    except DownloadError as exc:
        if dataset == "mnist":
            raise
        return load_digits(note=f"MNIST could not be had, so scikit-learn's bundled 8×8 digits "
                                f"are used instead. {exc}")
    # The cache folder holds verified files only; read exactly what the download put there.
    return load_idx_folder(path) if path.is_dir() else load_path(path)
