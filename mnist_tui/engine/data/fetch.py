"""A verified file on disk, fetched once: `fetch_file` and the cache checks around it.

Every byte that lands in a cache has passed its checksum: `fetch_file` streams a file
(`transfer.stream`: timeouts, size cap, deadline) into a part file beside its final name,
hashing as it goes, and only `os.replace`s it into place after the hash matched, so an
interrupted or corrupted download never leaves a bad file behind. A cached file is trusted only
once its hash matched too (hashed once per process: MNIST is 11 MB, VGG16's weights 59 MB); one
that fails (a same-size copy of something else, a disk error) is removed and fetched again.

`MNIST_TUI_DOWNLOAD_TIMEOUT` and `MNIST_TUI_DOWNLOAD_DEADLINE` (seconds) override the
timeouts. Part files carry the downloading process's id and are locked while written; one left
by a killed process is removed by the next download of that file.

Which files, from where, and what a failure tells the user is the callers' business
(`download.py` for MNIST, `weights.py` for VGG16's weights).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from mnist_tui.engine.data.transfer import (
    CHUNK_SIZE,
    DEADLINE_ENV,
    ChecksumFailure,
    DownloadProgress,
    FileSpec,
    UrlFailure,
    stream,
)
from mnist_tui.engine.errors import DownloadError
from mnist_tui.engine.pids import pid_exists
from mnist_tui.engine.text import redact_url

TIMEOUT_ENV = "MNIST_TUI_DOWNLOAD_TIMEOUT"    # seconds per connect and per read
DEFAULT_TIMEOUT_S = 15.0  # per connect and per read, not for the whole file
STALE_LEGACY_PART_S = 3600.0   # part files from before pids were in their names: this old = stale


def _env_seconds(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise DownloadError(f"{name}={raw}: expected a number of seconds greater than 0")
    return value


def download_timeout(default: float = DEFAULT_TIMEOUT_S) -> float:
    """The connect/read timeout: $MNIST_TUI_DOWNLOAD_TIMEOUT, else `default`."""
    return _env_seconds(TIMEOUT_ENV) or default


def download_deadline(spec: FileSpec) -> float:
    """The most seconds a whole file may take: $MNIST_TUI_DOWNLOAD_DEADLINE, else sized from
    the file (`FileSpec.default_deadline`)."""
    return _env_seconds(DEADLINE_ENV) or spec.default_deadline


# --- hashing and the cache check ----------------------------------------------------------------

# (path, inode, size, mtime, ctime, algorithm) → the file's digest: a file is hashed once per
# process unless it changes.
_digests: dict[tuple[str, int, int, int, int, str], str] = {}
_digests_lock = threading.Lock()


def _digest_key(path: Path, algorithm: str) -> tuple[str, int, int, int, int, str]:
    st = os.stat(path)
    return (str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, algorithm)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file (remembered for this process while the file is unchanged)."""
    key = _digest_key(path, algorithm)
    with _digests_lock:
        if key in _digests:
            return _digests[key]
    with open(path, "rb") as fh:
        if sys.version_info >= (3, 11):
            digest = hashlib.file_digest(
                fh, lambda: hashlib.new(algorithm, usedforsecurity=False)).hexdigest()
        else:   # hashlib.file_digest is new in Python 3.11
            hasher = hashlib.new(algorithm, usedforsecurity=False)
            for chunk in iter(lambda: fh.read(CHUNK_SIZE), b""):
                hasher.update(chunk)
            digest = hasher.hexdigest()
    with _digests_lock:
        _digests[key] = digest
    return digest


def cache_problem(path: Path, spec: FileSpec) -> str | None:
    """Why the cached `path` cannot be used for `spec` ("missing", the wrong size, the wrong
    checksum, unreadable), or None when it is exactly that file."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if not path.is_file():
        return "not a file"
    if spec.size is not None and st.st_size != spec.size:
        return f"{st.st_size:,} bytes, not {spec.size:,}"
    try:
        digest = file_digest(path, spec.algorithm)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if digest != spec.digest:
        return f"{spec.hash_name} mismatch: not the published file"
    return None


def is_cached(path: Path, spec: FileSpec) -> bool:
    """Whether `path` holds exactly the file `spec` describes: the right size and checksum
    (hashed once per process while the file is unchanged)."""
    return cache_problem(path, spec) is None


# --- fetching -----------------------------------------------------------------------------------

class FetchError(DownloadError):
    """`fetch_file` got the file from none of its URLs. `failures` holds one (kind, reason)
    per URL, in order: kind is "network", "checksum", "size" or "slow"; each reason names its
    URL. `removed` says why a cached copy that failed its check was removed (else None)."""

    def __init__(self, message: str, failures: list[tuple[str, str]],
                 removed: str | None = None) -> None:
        super().__init__(message)
        self.failures = failures
        self.removed = removed


def fetch_file(
    urls: Sequence[str],
    dest: Path,
    spec: FileSpec,
    progress: Callable[[DownloadProgress], None] | None = None,
    timeout: float | None = None,
    deadline: float | None = None,
) -> Path:
    """`dest`, downloaded from the first of `urls` that delivers exactly the file `spec`
    describes (a file already there that passes its checksum is used as it is; one that
    fails is removed first). Returns `dest`.

    `timeout` bounds each connect and read (default `download_timeout()`), `deadline` the
    whole file from one URL (default `download_deadline(spec)`).
    Raises `FetchError` (one line; `.failures` per URL) when no URL delivered it; an OSError
    from the destination folder itself (permissions, disk full) is left to the caller to word.
    `progress` is called from this thread; raising from it aborts the download cleanly.
    """
    dest = Path(dest)
    problem = cache_problem(dest, spec)
    if problem is None:
        return dest
    timeout = timeout if timeout is not None else download_timeout()
    deadline = deadline if deadline is not None else download_deadline(spec)
    removed = None
    if problem != "missing":
        dest.unlink(missing_ok=True)   # a directory there: the OSError is the caller's to word
        removed = f"the cached {dest.name} ({problem}) was removed"
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(dest.parent, [dest.name])
    failures: list[tuple[str, str]] = []
    for index, url in enumerate(urls):
        try:
            _download_file(url, dest, spec, index, progress, timeout, deadline)
        except UrlFailure as exc:
            failures.append((exc.kind, str(exc)))
            continue
        return dest
    note = f"; {removed}" if removed else ""
    if not failures:
        raise FetchError(f"could not download {dest.name}: no URL to download it from{note}",
                         [], removed)
    reasons = "; ".join(reason for _, reason in failures)
    raise FetchError(" ".join(f"could not download {dest.name} ({reasons}){note}".split()),
                     failures, removed)


# --- part files ---------------------------------------------------------------------------------

def _part_prefix(name: str) -> str:
    return f".{name}."


def remove_stale_parts(folder: Path, names: Sequence[str]) -> list[Path]:
    """Remove the part files of the files `names` in `folder` that no download is writing any
    more (their process is gone and nobody holds their lock); returns the paths removed.

    Part files are `.<name>.<pid>.<random>.part`, locked (flock) by their writer: a killed
    worker's stays behind, and this is where it goes. Part files from before the pid was in
    the name are removed once unlocked and an hour old.
    """
    removed: list[Path] = []
    prefixes = tuple(_part_prefix(n) for n in names)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        prefix = next((p for p in prefixes if name.startswith(p)), None)
        if prefix is None or not name.endswith(".part"):
            continue
        middle = name[len(prefix):-len(".part")]
        pid_text, dot, _ = middle.partition(".")
        try:
            if dot and pid_text.isascii() and pid_text.isdigit():   # not `²`: int() fails
                if pid_exists(int(pid_text)):    # a name anyone can plant: any number
                    continue
            elif time.time() - entry.stat(follow_symlinks=False).st_mtime < STALE_LEGACY_PART_S:
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:          # a live writer holds it (another host, a reused pid)
            os.close(fd)
            continue
        try:
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def _download_file(
    url: str,
    dest: Path,
    spec: FileSpec,
    index: int,
    progress: Callable[[DownloadProgress], None] | None,
    timeout: float,
    deadline: float,
) -> None:
    """Stream `url` into a part file beside `dest` (named with this process's id, locked while
    written), hashing as it goes; move it into place only when the hash matched. Whatever
    happens short of SIGKILL, no part file is left behind (and a killed one's is removed by
    the next download)."""
    name = dest.name
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, suffix=".part",
                                    prefix=f"{_part_prefix(dest.name)}{os.getpid()}.")
    tmp = Path(tmp_name)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:   # a file system without locks: the pid in the name still protects it
            pass
        with os.fdopen(fd, "wb") as out:
            digest = stream(url, out, name, spec, index, progress, timeout, deadline)
            if digest != spec.digest:
                raise ChecksumFailure(
                    f"checksum mismatch for {name} from {redact_url(url)} "
                    f"({spec.hash_name} {digest[:12]}…, expected {spec.digest[:12]}…)"
                )
            out.flush()
            os.replace(tmp, dest)      # still locked: nobody takes it for a stale part
        key = _digest_key(dest, spec.algorithm)
        with _digests_lock:            # verified while written: no need to hash it again
            _digests[key] = digest
    finally:
        tmp.unlink(missing_ok=True)
