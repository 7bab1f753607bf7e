"""Download MNIST once, verify it, keep it in a cache.

Every byte that lands in the cache has passed its SHA-256 check: a file is streamed into a
temporary file beside its final name and only `os.replace`d into place after the hash matched,
so an interrupted or corrupted download never leaves a bad file behind. That is why
`cached_mnist` can trust what it finds without re-hashing 11 MB on every start.

Two kinds of mirror hold the same data: Keras' single `mnist.npz`, or a base URL with the four
gzip IDX files. Mirrors are tried in order; any network error or checksum mismatch moves on to
the next, and only when all fail does `fetch_mnist` raise one `DownloadError` line saying what
to do instead. Standard library only (urllib), so no new dependency and no Textual/TensorFlow.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from mnist_tui.engine.errors import DownloadError

CACHE_DIR_ENV = "MNIST_TUI_CACHE_DIR"
MIRRORS_ENV = "MNIST_TUI_MIRRORS"

NPZ_NAME = "mnist.npz"
CHUNK_SIZE = 64 * 1024
PROGRESS_INTERVAL_S = 0.1  # at most ~10 progress events a second (plus start and end)
USER_AGENT = "mnist-tui"


@dataclass(frozen=True)
class FileSpec:
    """What a downloaded file must be: its SHA-256 (hex) and, where known, its size in bytes."""

    sha256: str
    size: int | None = None


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
            raise ValueError(f"mirror {self.url} lists no files")
        if self.kind == "npz" and len(files) != 1:
            raise ValueError(f"an npz mirror holds exactly one file, got {sorted(files)}")
        url = self.url
        if self.kind == "idx" and not url.endswith("/"):
            url += "/"  # so that base + name is the file's URL
        object.__setattr__(self, "files", files)
        object.__setattr__(self, "url", url)

    def file_url(self, name: str) -> str:
        """The URL that serves `name` on this mirror."""
        return self.url if self.kind == "npz" else self.url + name

    def cached_path(self, cache_dir: Path) -> Path:
        """What `fetch_mnist` returns for this mirror: the npz file, or the folder of IDX files."""
        return cache_dir / next(iter(self.files)) if self.kind == "npz" else cache_dir


# Checksums: Keras' keras/src/datasets/mnist.py (file_hash) and tensorflow_datasets'
# url_checksums/mnist.txt (sizes and SHA-256 of the cvdf-datasets IDX files); torchvision's
# ossci-datasets mirror serves the same bytes (its MD5s match the same files).
KERAS_NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_NPZ = FileSpec("731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1", 11_490_434)
IDX_FILES: dict[str, FileSpec] = {
    "train-images-idx3-ubyte.gz": FileSpec(
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9_912_422
    ),
    "train-labels-idx1-ubyte.gz": FileSpec(
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28_881
    ),
    "t10k-images-idx3-ubyte.gz": FileSpec(
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1_648_877
    ),
    "t10k-labels-idx1-ubyte.gz": FileSpec(
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4_542
    ),
}


def npz_mirror(url: str) -> Mirror:
    """A mirror of Keras' mnist.npz at `url` (checked against Keras' published checksum)."""
    return Mirror("npz", url, {NPZ_NAME: KERAS_NPZ})


def idx_mirror(base_url: str) -> Mirror:
    """A mirror of the four gzip IDX files under `base_url`."""
    return Mirror("idx", base_url, dict(IDX_FILES))


DEFAULT_MIRRORS: tuple[Mirror, ...] = (
    npz_mirror(KERAS_NPZ_URL),
    idx_mirror("https://ossci-datasets.s3.amazonaws.com/mnist/"),  # torchvision's
    idx_mirror("https://storage.googleapis.com/cvdf-datasets/mnist/"),  # TensorFlow's
)


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report. `bytes_total` is None when the server sent no Content-Length;
    `done` marks the last report for a file (all bytes received, about to be verified)."""

    url: str
    file_name: str
    bytes_done: int
    bytes_total: int | None
    mirror_index: int
    done: bool = False

    @property
    def fraction(self) -> float | None:
        """0–1 when the size is known, else None."""
        if not self.bytes_total:
            return None
        return min(1.0, self.bytes_done / self.bytes_total)


def default_cache_dir() -> Path:
    """$MNIST_TUI_CACHE_DIR if set, else the per-user cache folder (…/mnist-tui/mnist)."""
    env = os.environ.get(CACHE_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("mnist-tui")) / "mnist"


def mirrors_from_env() -> list[Mirror] | None:
    """Mirrors from $MNIST_TUI_MIRRORS (comma-separated URLs), or None when it is unset/empty.

    For users behind an internal mirror (and for tests): a URL ending in `.npz` is a copy of
    Keras' mnist.npz, any other URL a folder holding the four IDX files. Checksums stay the
    official ones, so an internal mirror cannot serve different data.
    """
    raw = os.environ.get(MIRRORS_ENV, "")
    urls = [u.strip() for u in raw.split(",") if u.strip()]
    if not urls:
        return None
    return [
        npz_mirror(u) if u.lower().split("?", 1)[0].endswith(".npz") else idx_mirror(u)
        for u in urls
    ]


def _is_cached(path: Path, spec: FileSpec) -> bool:
    """A file in the cache was verified when written; only its presence and size are checked."""
    try:
        st = path.stat()
    except OSError:
        return False
    return path.is_file() and (spec.size is None or st.st_size == spec.size)


def cached_mnist(
    cache_dir: Path | None = None, mirrors: Sequence[Mirror] | None = None
) -> Path | None:
    """The cached copy (npz file, or folder with every IDX file) if complete, else None.

    `mirrors` says which files count (default: those of `mirrors_from_env()` and of
    `DEFAULT_MIRRORS`, which carry the same official checksums, so switching mirrors never
    re-downloads); the first mirror whose files are all present wins.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if mirrors is None:
        mirrors = [*(mirrors_from_env() or []), *DEFAULT_MIRRORS]
    for mirror in mirrors:
        if all(_is_cached(cache_dir / n, s) for n, s in mirror.files.items()):
            return mirror.cached_path(cache_dir)
    return None


def _resolve_mirrors(mirrors: Sequence[Mirror] | None) -> list[Mirror]:
    if mirrors is not None:
        return list(mirrors)
    return mirrors_from_env() or list(DEFAULT_MIRRORS)


class _NetworkError(Exception):
    """A mirror could not deliver a file (unreachable, HTTP error, timeout, cut short)."""


class _ChecksumError(Exception):
    """A mirror delivered a file whose SHA-256 is not the published one."""


# What a failing mirror can raise: URLError/HTTPError, refused/reset connections, timeouts and
# TLS errors are OSErrors; HTTPException covers malformed responses; ValueError a malformed
# URL (e.g. a typo in $MNIST_TUI_MIRRORS). Only network calls are wrapped in these, so a disk
# error or an exception from the progress callback is never mistaken for a bad mirror.
_NETWORK_ERRORS = (OSError, http.client.HTTPException, ValueError)


def _describe_network_error(exc: BaseException, url: str, timeout: float) -> str:
    """A short, single-line reason for a failed request."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason} from {url}"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):  # socket.timeout is an alias
        return f"timed out after {timeout:g} s at {url}"
    text = str(reason) or type(reason).__name__
    return f"{text} ({url})"


def _download_file(
    url: str,
    dest: Path,
    spec: FileSpec,
    mirror_index: int,
    progress: Callable[[DownloadProgress], None] | None,
    timeout: float,
) -> None:
    """Stream `url` into a temp file beside `dest`, hashing as it goes; move it into place
    only when the SHA-256 matched. Whatever happens, no temp file is left behind."""
    name = dest.name
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _stream(url, out, name, mirror_index, progress, timeout)
        if digest != spec.sha256.lower():
            raise _ChecksumError(
                f"checksum mismatch for {name} from {url} "
                f"(SHA-256 {digest[:12]}…, expected {spec.sha256[:12]}…)"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _stream(
    url: str,
    out,
    name: str,
    mirror_index: int,
    progress: Callable[[DownloadProgress], None] | None,
    timeout: float,
) -> str:
    """Copy the response body to `out`; returns its SHA-256 hex digest."""

    def report(done_bytes: int, total: int | None, done: bool = False) -> None:
        if progress is not None:
            progress(DownloadProgress(url, name, done_bytes, total, mirror_index, done))

    hasher = hashlib.sha256()
    bytes_done = 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except _NETWORK_ERRORS as exc:
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()  # it holds the error response's connection
        raise _NetworkError(_describe_network_error(exc, url, timeout)) from exc
    with response:
        length = response.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else None
        report(0, total)
        last_report = time.monotonic()
        while True:
            try:
                chunk = response.read1(CHUNK_SIZE)
            except _NETWORK_ERRORS as exc:
                raise _NetworkError(_describe_network_error(exc, url, timeout)) from exc
            if not chunk:
                break
            hasher.update(chunk)
            out.write(chunk)
            bytes_done += len(chunk)
            now = time.monotonic()
            if now - last_report >= PROGRESS_INTERVAL_S:
                last_report = now
                report(bytes_done, total)
    if total is not None and bytes_done < total:
        raise _NetworkError(f"connection closed after {bytes_done} of {total} bytes ({url})")
    report(bytes_done, total, done=True)
    return hasher.hexdigest()


def fetch_mnist(
    cache_dir: Path | None = None,
    mirrors: list[Mirror] | None = None,
    progress: Callable[[DownloadProgress], None] | None = None,
    timeout: float = 15.0,
) -> Path:
    """The path of a verified MNIST copy: the cached one, else downloaded from the first mirror
    that works (the npz file, or the cache folder holding the IDX files).

    `progress` is called from this thread; raising from it aborts the download cleanly.
    Raises `DownloadError` (one line naming the cache folder and `--data-dir`) if all fail.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cached_mnist(cache_dir, mirrors)
    if cached is not None:
        return cached
    advice = (
        f"Put mnist.npz or the IDX files in {cache_dir}, or point --data-dir at a folder "
        "that has them, or use --dataset digits."
    )
    mirror_list = _resolve_mirrors(mirrors)
    if not mirror_list:
        raise DownloadError(f"could not download MNIST (no mirrors configured). {advice}")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"cannot create the MNIST cache folder {cache_dir}: {exc.strerror or exc}. "
            "Point --data-dir at a folder that has MNIST, or use --dataset digits."
        ) from None

    failures: list[tuple[str, str]] = []  # (kind, reason), in the order they happened
    for index, mirror in enumerate(mirror_list):
        try:
            for name, spec in mirror.files.items():
                dest = cache_dir / name
                if _is_cached(dest, spec):  # verified earlier, e.g. from a previous mirror
                    continue
                _download_file(mirror.file_url(name), dest, spec, index, progress, timeout)
        except _NetworkError as exc:
            failures.append(("network", str(exc)))
            continue
        except _ChecksumError as exc:
            failures.append(("checksum", str(exc)))
            continue
        except OSError as exc:  # the cache folder itself (disk full, permissions)
            raise DownloadError(
                f"cannot write MNIST into {cache_dir}: {exc.strerror or exc}. "
                "Point --data-dir at a folder that has MNIST, or use --dataset digits."
            ) from None
        return mirror.cached_path(cache_dir)
    raise DownloadError(_failure_message(failures, advice))


def _failure_message(failures: list[tuple[str, str]], advice: str) -> str:
    """One line: how many mirrors, why they failed (checksum named when it was a reason)."""
    tried = len(failures)
    bad = sum(1 for kind, _ in failures if kind == "checksum")
    if bad == tried:
        why = "checksum mismatch" if bad == 1 else f"{bad} checksum mismatches"
    elif bad:
        why = (f"{bad} checksum mismatch{'es' if bad != 1 else ''}, "
               f"{tried - bad} offline or unreachable")
    else:
        why = "offline or unreachable"
    line = (f"could not download MNIST ({tried} mirror{'s' if tried != 1 else ''} tried: "
            f"{why}; last error: {failures[-1][1]}). {advice}")
    return " ".join(line.split())  # guarantee a single line
