"""MNIST, downloaded once and kept in a cache trusted by hash only: the mirrors, the cache
folder, and one line saying what to do when every mirror fails.

Two kinds of MNIST mirror hold the same data: Keras' single `mnist.npz`, or a base URL with the
four gzip IDX files. Mirrors are tried in order (each file through `fetch.fetch_file`: bounded,
verified, part files cleaned); any network error or checksum mismatch moves on to the next,
and only when all fail does `fetch_mnist` raise one `DownloadError` line saying what to do
instead (naming the exact files the cache would use). The checksums are the published ones
(`published.Published`: an argument, or the table in force), whichever mirror serves them.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from mnist_tui.engine.data.fetch import (
    FetchError,
    cache_problem,
    fetch_file,
    is_cached,
    remove_stale_parts,
)
from mnist_tui.engine.data.published import Published, published_files
from mnist_tui.engine.data.transfer import DownloadProgress, FileSpec, join_url_path
from mnist_tui.engine.errors import DownloadError
from mnist_tui.engine.text import redact_url

CACHE_DIR_ENV = "MNIST_TUI_CACHE_DIR"
MIRRORS_ENV = "MNIST_TUI_MIRRORS"
NPZ_NAME = "mnist.npz"

KERAS_NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
IDX_MIRROR_URLS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",   # torchvision's
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's
)


@dataclass(frozen=True)
class Mirror:
    """One place to get MNIST from.

    kind "npz": `url` is the full URL of one Keras-style npz file; `files` has exactly one entry,
    the name it is cached under (normally "mnist.npz").
    kind "idx": `url` is a base URL (a folder) holding the files named in `files`.
    `files` maps file name → `FileSpec` (a bare SHA-256 string is accepted too).
    """

    kind: str
    url: str
    files: Mapping[str, FileSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("npz", "idx"):
            raise ValueError(f"mirror kind must be 'npz' or 'idx', got {self.kind!r}")
        files = {
            name: spec if isinstance(spec, FileSpec) else FileSpec(str(spec))
            for name, spec in self.files.items()
        }
        if not files:
            raise ValueError(f"mirror {redact_url(self.url)} lists no files")
        if self.kind == "npz" and len(files) != 1:
            raise ValueError(f"an npz mirror holds exactly one file, got {sorted(files)}")
        url = self.url
        if self.kind == "idx":
            url = join_url_path(url, "")  # a folder: so that base + name is the file's URL
        object.__setattr__(self, "files", files)
        object.__setattr__(self, "url", url)

    def file_url(self, name: str) -> str:
        """The URL that serves `name` on this mirror (a base URL's query string, a shared
        token, stays the query string of each file's URL)."""
        return self.url if self.kind == "npz" else join_url_path(self.url, name)

    def cached_path(self, cache_dir: Path) -> Path:
        """What `fetch_mnist` returns for this mirror: the npz file, or the folder of IDX files."""
        return cache_dir / next(iter(self.files)) if self.kind == "npz" else cache_dir


def npz_mirror(url: str, published: Published | None = None) -> Mirror:
    """A mirror of Keras' mnist.npz at `url` (checked against Keras' published checksum)."""
    table = published if published is not None else published_files()
    return Mirror("npz", url, {NPZ_NAME: table.mnist_npz})


def idx_mirror(base_url: str, published: Published | None = None) -> Mirror:
    """A mirror of the four gzip IDX files under `base_url`."""
    table = published if published is not None else published_files()
    return Mirror("idx", base_url, dict(table.mnist_idx_gz))


def default_mirrors(published: Published | None = None) -> tuple[Mirror, ...]:
    """The official mirrors: Keras' npz first, then the IDX files' two homes."""
    table = published if published is not None else published_files()
    return (npz_mirror(KERAS_NPZ_URL, table), *(idx_mirror(u, table) for u in IDX_MIRROR_URLS))


def default_cache_dir() -> Path:
    """$MNIST_TUI_CACHE_DIR if set, else the per-user cache folder (…/mnist-tui/mnist)."""
    env = os.environ.get(CACHE_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("mnist-tui")) / "mnist"


def mirrors_from_env(published: Published | None = None) -> list[Mirror] | None:
    """Mirrors from $MNIST_TUI_MIRRORS (comma-separated URLs), or None when it is unset/empty.

    For users behind an internal mirror (and for tests): a URL ending in `.npz` is a copy of
    Keras' mnist.npz, any other URL a folder holding the four IDX files. Checksums stay the
    published ones, so an internal mirror cannot serve different data.
    """
    raw = os.environ.get(MIRRORS_ENV, "")
    urls = [u.strip() for u in raw.split(",") if u.strip()]
    if not urls:
        return None
    table = published if published is not None else published_files()
    return [
        npz_mirror(u, table) if u.lower().split("?", 1)[0].endswith(".npz")
        else idx_mirror(u, table)
        for u in urls
    ]


def download_mirrors(mirrors: Sequence[Mirror] | None = None,
                     published: Published | None = None) -> list[Mirror]:
    """The mirrors a download tries, in order: `mirrors`, else $MNIST_TUI_MIRRORS, else the
    official ones."""
    if mirrors is not None:
        return list(mirrors)
    return mirrors_from_env(published) or list(default_mirrors(published))


def _lookup_mirrors(mirrors: Sequence[Mirror] | None, published: Published) -> list[Mirror]:
    """The layouts a cache lookup accepts: `mirrors` (default: $MNIST_TUI_MIRRORS) and every
    official one, so a cached copy in either layout is found whichever mirrors download."""
    first = list(mirrors) if mirrors is not None else (mirrors_from_env(published) or [])
    return [*first, *default_mirrors(published)]


def cached_mnist(
    cache_dir: Path | None = None, mirrors: Sequence[Mirror] | None = None,
    published: Published | None = None,
) -> Path | None:
    """The cached copy (npz file, or folder with every IDX file) if complete, else None.

    `mirrors` says which files count (default: those of `mirrors_from_env()` and of
    `default_mirrors()`, which carry the same published checksums, so switching mirrors never
    re-downloads); the first mirror whose files are all present and verified wins.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if mirrors is None:
        table = published if published is not None else published_files()
        mirrors = _lookup_mirrors(None, table)
    for mirror in mirrors:
        if all(is_cached(cache_dir / n, s) for n, s in mirror.files.items()):
            return mirror.cached_path(cache_dir)
    return None


def cache_advice(cache_dir: Path, mirrors: Sequence[Mirror] | None = None,
                 published: Published | None = None) -> str:
    """What to put where so that the cache uses it: the exact file names it looks for."""
    table = published if published is not None else published_files()
    layouts: list[str] = []
    for mirror in _lookup_mirrors(mirrors, table):
        names = list(mirror.files)
        if mirror.kind == "npz":
            text = f"Keras' {names[0]}"
        else:
            text = f"the {len(names)} gzip IDX files {', '.join(names)}"
        if text not in layouts:
            layouts.append(text)
    return (f"Put {', or '.join(layouts)}, byte for byte as published (they are verified), "
            f"in {cache_dir}, or point --data-dir at a folder that has MNIST in any layout, "
            "or use --dataset digits.")


def _indexed(progress: Callable[[DownloadProgress], None] | None,
             index: int) -> Callable[[DownloadProgress], None] | None:
    """`progress` with `mirror_index` set to `index` (fetch_file counts its own URLs)."""
    if progress is None:
        return None
    return lambda p: progress(dataclasses.replace(p, mirror_index=index))


def fetch_mnist(
    cache_dir: Path | None = None,
    mirrors: list[Mirror] | None = None,
    progress: Callable[[DownloadProgress], None] | None = None,
    timeout: float | None = None,
    deadline: float | None = None,
    published: Published | None = None,
) -> Path:
    """The path of a verified MNIST copy: the cached one (in any official layout, or that of
    `mirrors`), else downloaded from the first mirror that works (the npz file, or the cache
    folder holding the IDX files).

    `timeout`/`deadline`: see `fetch_file`. `progress` is called from this thread; raising
    from it aborts the download cleanly. `published`: the checksums the official layouts (and
    the mirrors this makes) are held to (default `published_files()`). Raises `DownloadError`
    (one line naming the cache folder, the files it would use, and `--data-dir`) if all fail.
    """
    table = published if published is not None else published_files()
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    lookup = _lookup_mirrors(mirrors, table)
    cached = cached_mnist(cache_dir, lookup)
    if cached is not None:
        return cached
    advice = cache_advice(cache_dir, mirrors, table)
    mirror_list = download_mirrors(mirrors, table)
    if not mirror_list:
        raise DownloadError(f"could not download MNIST (no mirrors configured). {advice}")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"cannot create the MNIST cache folder {cache_dir}: {exc.strerror or exc}. "
            "Point --data-dir at a folder that has MNIST, or use --dataset digits."
        ) from None

    # a killed download of any file this cache holds leaves its part file: gone now
    remove_stale_parts(cache_dir, [n for m in lookup for n in m.files])
    removed = _remove_bad_files(cache_dir, lookup)
    failures: list[tuple[str, str]] = []  # (kind, reason), in the order they happened
    for index, mirror in enumerate(mirror_list):
        try:
            for name, spec in mirror.files.items():
                # a file verified earlier (e.g. from a previous mirror) is kept
                fetch_file([mirror.file_url(name)], cache_dir / name, spec,
                           _indexed(progress, index), timeout, deadline)
        except FetchError as exc:
            failures.extend(exc.failures)
            if exc.removed and exc.removed not in removed:
                removed.append(exc.removed)
            continue
        except OSError as exc:  # the cache folder itself (disk full, permissions)
            raise DownloadError(
                f"cannot write MNIST into {cache_dir}: {exc.strerror or exc}. "
                "Point --data-dir at a folder that has MNIST, or use --dataset digits."
            ) from None
        return mirror.cached_path(cache_dir)
    raise DownloadError(_failure_message(failures, advice, removed))


def _remove_bad_files(cache_dir: Path, mirrors: Sequence[Mirror]) -> list[str]:
    """Remove every file in the cache that has the name of a file the cache holds but is not
    that file (a same-size copy of something else, a damaged one): it would never be used, and
    only hide what is wrong. Returns one "the cached X (why) was removed" per file."""
    specs: dict[str, list[FileSpec]] = {}
    for mirror in mirrors:
        for name, spec in mirror.files.items():
            specs.setdefault(name, []).append(spec)
    removed = []
    for name, candidates in specs.items():
        path = cache_dir / name
        if not path.is_file():
            continue
        problems = [cache_problem(path, spec) for spec in candidates]
        if all(problems):
            try:
                path.unlink()
            except OSError:
                continue
            removed.append(f"the cached {name} ({problems[-1]}) was removed")
    return removed


def summarise_failures(failures: list[tuple[str, str]]) -> str:
    """What went wrong, counted: "offline or unreachable", "1 checksum mismatch, 1 offline or
    unreachable", … (a kind shared by every failure is named without its count)."""
    counts = Counter(kind for kind, _ in failures)
    labels = {"checksum": ("checksum mismatch", "checksum mismatches"),
              "size": ("wrong size", "wrong sizes"),
              "slow": ("too slow", "too slow"),
              "network": ("offline or unreachable", "offline or unreachable")}
    if len(counts) == 1:
        kind, n = next(iter(counts.items()))
        if kind in ("network", "slow") or n == 1:
            return labels[kind][0]
        return f"{n} {labels[kind][1]}"
    return ", ".join(f"{counts[k]} {labels[k][0] if counts[k] == 1 else labels[k][1]}"
                     for k in labels if counts[k])


def _failure_message(failures: list[tuple[str, str]], advice: str,
                     removed: Sequence[str] = ()) -> str:
    """One line: how many mirrors, why they failed (checksum named when it was a reason), and
    any cached copy removed because it failed its check."""
    tried = len(failures)
    gone = "".join(f" ({r[0].upper()}{r[1:]}.)" for r in removed)
    line = (f"could not download MNIST ({tried} mirror{'s' if tried != 1 else ''} tried: "
            f"{summarise_failures(failures)}; last error: {failures[-1][1]}).{gone} {advice}")
    return " ".join(line.split())  # guarantee a single line
