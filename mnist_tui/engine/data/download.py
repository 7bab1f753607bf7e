"""Download files once, verify them, keep them in a cache (MNIST here; VGG16's weights too).

Every byte that lands in a cache has passed its checksum: `fetch_file` streams a file into a
part file beside its final name, hashing as it goes, and only `os.replace`s it into place
after the hash matched, so an interrupted or corrupted download never leaves a bad file behind.
A cached file is trusted only once its hash matched too (hashed once per process: MNIST is
11 MB, VGG16's weights 59 MB); one that fails (a same-size copy of something else, a disk
error) is removed and fetched again.

Every download is bounded: a connect/read timeout, a size cap (the expected size when known)
enforced while streaming, so a server that never stops sending cannot fill the disk, and a
deadline for the whole file (sized from the expected size), so a server trickling a byte every
few seconds cannot hold a job forever. `MNIST_TUI_DOWNLOAD_TIMEOUT` and
`MNIST_TUI_DOWNLOAD_DEADLINE` (seconds) override them. Part files carry the downloading
process's id and are locked while written; one left by a killed process is removed by the next
download of that file.

Two kinds of MNIST mirror hold the same data: Keras' single `mnist.npz`, or a base URL with the
four gzip IDX files. Mirrors are tried in order; any network error or checksum mismatch moves
on to the next, and only when all fail does `fetch_mnist` raise one `DownloadError` line saying
what to do instead (naming the exact files the cache would use). Standard library only
(urllib), so no new dependency and no Textual/TensorFlow.
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import hashlib
import http.client
import os
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from mnist_tui.engine.errors import DownloadError
from mnist_tui.engine.text import redact_url

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

CACHE_DIR_ENV = "MNIST_TUI_CACHE_DIR"
MIRRORS_ENV = "MNIST_TUI_MIRRORS"
TIMEOUT_ENV = "MNIST_TUI_DOWNLOAD_TIMEOUT"    # seconds per connect and per read
DEADLINE_ENV = "MNIST_TUI_DOWNLOAD_DEADLINE"  # seconds for a whole file, from one URL

NPZ_NAME = "mnist.npz"
CHUNK_SIZE = 64 * 1024
PROGRESS_INTERVAL_S = 0.1  # at most ~10 progress events a second (plus start and end)
USER_AGENT = "mnist-tui"
DEFAULT_TIMEOUT_S = 15.0  # per connect and per read, not for the whole file
# The cap on a file whose size is not known: far above anything fetched here (MNIST 11 MB,
# VGG16 59 MB), far below a full disk.
UNKNOWN_SIZE_CAP = 1 << 30
# The default deadline for a whole file: its expected size at this rate (100 kB/s: VGG16's
# 58.9 MB weights get ~10 minutes, MNIST's 11.5 MB ~2), never less than MIN_DEADLINE_S.
SLOWEST_RATE = 100_000
MIN_DEADLINE_S = 60.0
UNKNOWN_SIZE_DEADLINE_S = 600.0
STALE_LEGACY_PART_S = 3600.0   # part files from before pids were in their names: this old = stale
HASH_NAMES = {"sha256": "SHA-256", "md5": "MD5", "sha1": "SHA-1", "sha512": "SHA-512"}


@dataclass(frozen=True)
class FileSpec:
    """What a downloaded file must be: its hex `digest` under `algorithm` (SHA-256 unless a
    publisher only gives another one: Keras publishes MD5s for its weights) and, where known,
    its size in bytes (then also the most bytes a download may receive)."""

    digest: str
    size: int | None = None
    algorithm: str = "sha256"

    def __post_init__(self) -> None:
        if self.algorithm not in HASH_NAMES:
            raise ValueError(f"unsupported hash {self.algorithm!r} (choose from "
                             f"{', '.join(HASH_NAMES)})")
        object.__setattr__(self, "digest", self.digest.strip().lower())

    @property
    def max_bytes(self) -> int:
        """The size cap while streaming: the expected size, else `UNKNOWN_SIZE_CAP`."""
        return self.size if self.size is not None else UNKNOWN_SIZE_CAP

    @property
    def hash_name(self) -> str:
        return HASH_NAMES[self.algorithm]

    @property
    def default_deadline(self) -> float:
        """Seconds a whole download may take unless $MNIST_TUI_DOWNLOAD_DEADLINE says."""
        if self.size is None:
            return UNKNOWN_SIZE_DEADLINE_S
        return max(MIN_DEADLINE_S, self.size / SLOWEST_RATE)


def _join_path(base: str, name: str) -> str:
    """`base` (a folder's URL) with `name` appended to its path, not to its query string:
    `https://h/m/?sig=x` + `a.gz` is `https://h/m/a.gz?sig=x` (a signed folder URL)."""
    try:
        parts = urllib.parse.urlsplit(base)
    except ValueError:          # malformed: left for the download to report, redacted
        return base.rstrip("/") + "/" + name
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urllib.parse.urlunsplit(parts._replace(path=path + name))


def url_request(url: str, headers: Mapping[str, str]) -> urllib.request.Request:
    """A request for `url`. Its `user:password@`, which urllib would take for part of the host
    name, is sent as HTTP Basic authorization instead, to this host only (an unredirected
    header: a redirect to another host never receives it). ValueError for a malformed URL."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return urllib.request.Request(url, headers=dict(headers))
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    request = urllib.request.Request(urllib.parse.urlunsplit(parts._replace(netloc=host)),
                                     headers=dict(headers))
    pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
    token = base64.b64encode(pair.encode()).decode("ascii")
    request.add_unredirected_header("Authorization", f"Basic {token}")
    return request


def scrub_url(text: str, url: str) -> str:
    """`text` (an exception's message, which may quote the URL it failed on) with `url`
    redacted, and its query string, fragment and credentials removed wherever they appear
    on their own: what may be shown of a failure at a signed URL."""
    text = text.replace(url, redact_url(url))
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return text
    secrets = [parts.query, parts.fragment]
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        secrets += [userinfo, userinfo.partition(":")[2]]
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:    # a shorter one would mangle the text, not hide a secret
            text = text.replace(secret, "***")
    return text


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
            url = _join_path(url, "")  # a folder: so that base + name is the file's URL
        object.__setattr__(self, "files", files)
        object.__setattr__(self, "url", url)

    def file_url(self, name: str) -> str:
        """The URL that serves `name` on this mirror (a base URL's query string, a shared
        token, stays the query string of each file's URL)."""
        return self.url if self.kind == "npz" else _join_path(self.url, name)

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
    """One progress report. `bytes_total` is the server's Content-Length, else the expected
    size, else None; `mirror_index` is the place in the list of mirrors (or URLs) being tried;
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


# (path, inode, size, mtime, ctime, algorithm) → the file's digest: a file is hashed once per
# process unless it changes.
_digests: dict[tuple[str, int, int, int, int, str], str] = {}
_digests_lock = threading.Lock()


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file (remembered for this process while the file is unchanged)."""
    st = os.stat(path)
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, algorithm)
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


def _lookup_mirrors(mirrors: Sequence[Mirror] | None) -> list[Mirror]:
    """The layouts a cache lookup accepts: `mirrors` (default: $MNIST_TUI_MIRRORS) and every
    official one, so a cached copy in either layout is found whichever mirrors download."""
    first = list(mirrors) if mirrors is not None else (mirrors_from_env() or [])
    return [*first, *DEFAULT_MIRRORS]


def cached_mnist(
    cache_dir: Path | None = None, mirrors: Sequence[Mirror] | None = None
) -> Path | None:
    """The cached copy (npz file, or folder with every IDX file) if complete, else None.

    `mirrors` says which files count (default: those of `mirrors_from_env()` and of
    `DEFAULT_MIRRORS`, which carry the same official checksums, so switching mirrors never
    re-downloads); the first mirror whose files are all present and verified wins.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if mirrors is None:
        mirrors = _lookup_mirrors(None)
    for mirror in mirrors:
        if all(is_cached(cache_dir / n, s) for n, s in mirror.files.items()):
            return mirror.cached_path(cache_dir)
    return None


def cache_advice(cache_dir: Path, mirrors: Sequence[Mirror] | None = None) -> str:
    """What to put where so that the cache uses it: the exact file names it looks for."""
    layouts: list[str] = []
    for mirror in _lookup_mirrors(mirrors):
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


def _resolve_mirrors(mirrors: Sequence[Mirror] | None) -> list[Mirror]:
    if mirrors is not None:
        return list(mirrors)
    return mirrors_from_env() or list(DEFAULT_MIRRORS)


class _NetworkError(Exception):
    """A URL could not deliver a file (unreachable, HTTP error, timeout, cut short)."""


class _ChecksumError(Exception):
    """A URL delivered a file whose hash is not the published one."""


class _SizeError(Exception):
    """A URL announced or sent more bytes than the file has: stopped before the disk fills."""


class _SlowError(Exception):
    """A URL did not deliver the whole file within the download's deadline."""


_FAILURE_KIND = {_NetworkError: "network", _ChecksumError: "checksum", _SizeError: "size",
                 _SlowError: "slow"}


class FetchError(DownloadError):
    """`fetch_file` got the file from none of its URLs. `failures` holds one (kind, reason)
    per URL, in order: kind is "network", "checksum", "size" or "slow"; each reason names its
    URL. `removed` says why a cached copy that failed its check was removed (else None)."""

    def __init__(self, message: str, failures: list[tuple[str, str]],
                 removed: str | None = None) -> None:
        super().__init__(message)
        self.failures = failures
        self.removed = removed


# What a failing URL can raise: URLError/HTTPError, refused/reset connections, timeouts and
# TLS errors are OSErrors; HTTPException covers malformed responses; ValueError a malformed
# URL (e.g. a typo in $MNIST_TUI_MIRRORS). Only network calls are wrapped in these, so a disk
# error or an exception from the progress callback is never mistaken for a bad mirror.
_NETWORK_ERRORS = (OSError, http.client.HTTPException, ValueError)


def human_size(n: int | None) -> str:
    """58889256 → "58.9 MB" (decimal units, as download tools show them)."""
    if n is None:
        return "size unknown"
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} MB"
    if n >= 1_000:
        return f"{n / 1e3:.1f} kB"
    return f"{n} bytes"


def _describe_network_error(exc: BaseException, url: str, timeout: float) -> str:
    """A short, single-line reason for a failed request, naming `url` without its secrets
    (the exception's own text may quote the URL too: scrubbed)."""
    shown = redact_url(url)
    if isinstance(exc, urllib.error.HTTPError):
        return scrub_url(f"HTTP {exc.code} {exc.reason} from {shown}", url)
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):  # socket.timeout is an alias
        return f"timed out after {timeout:g} s at {shown}"
    text = str(reason) or type(reason).__name__
    return scrub_url(f"{text} ({shown})", url)


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
        except (_NetworkError, _ChecksumError, _SizeError, _SlowError) as exc:
            failures.append((_FAILURE_KIND[type(exc)], str(exc)))
            continue
        return dest
    note = f"; {removed}" if removed else ""
    if not failures:
        raise FetchError(f"could not download {dest.name}: no URL to download it from{note}",
                         [], removed)
    reasons = "; ".join(reason for _, reason in failures)
    raise FetchError(" ".join(f"could not download {dest.name} ({reasons}){note}".split()),
                     failures, removed)


def _part_prefix(name: str) -> str:
    return f".{name}."


def _pid_alive(pid: int) -> bool:
    """Does process `pid` (read from a part file's name, which anyone can plant) exist? A
    number no process can have (0 would ask our own process group; one past the C range would
    raise) is no writer."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:     # someone else's process
        return True
    return True


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
                if _pid_alive(int(pid_text)):
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
            digest = _stream(url, out, name, spec, index, progress, timeout, deadline)
            if digest != spec.digest:
                raise _ChecksumError(
                    f"checksum mismatch for {name} from {redact_url(url)} "
                    f"({spec.hash_name} {digest[:12]}…, expected {spec.digest[:12]}…)"
                )
            out.flush()
            os.replace(tmp, dest)      # still locked: nobody takes it for a stale part
        with _digests_lock:            # verified while written: no need to hash it again
            st = os.stat(dest)
            _digests[(str(dest), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                      spec.algorithm)] = digest
    finally:
        tmp.unlink(missing_ok=True)


class _Deadline:
    """Ends a download that runs past `seconds`, whatever stage it is in: when the time is up,
    every connection it opened is shut down, so a blocked read returns at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            if self.expired:
                self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._socks:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:   # the plain socket's shutdown (an SSLSocket's own would drop its TLS state)
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass

    def opener(self) -> urllib.request.OpenerDirector:
        """A urllib opener (proxies, redirects as usual) whose connections this deadline ends.

        It speaks HTTP and HTTPS only: urllib's default opener also reads `file://` (a mirror
        naming a local FIFO blocked in open() past every deadline, which watches sockets only),
        `ftp://` and `data:` URLs, none of which a mirror or a redirect has any business with;
        they fail as an unknown URL type, like any other mirror that cannot be reached."""
        watch = self.watch

        # urllib passes a connection class (HTTPConnection, HTTPSConnection), typed as any
        # callable that makes a connection.
        def tracked(
            http_class: Callable[..., http.client.HTTPConnection],
        ) -> Callable[..., http.client.HTTPConnection]:
            # a subclass of a class known only at run time: mypy cannot check that base
            class Tracked(http_class):  # type: ignore[misc, valid-type]
                def connect(self) -> None:
                    super().connect()
                    watch(self.sock)
            return Tracked

        class HTTP(urllib.request.HTTPHandler):
            def do_open(self, http_class: Callable[..., http.client.HTTPConnection],
                        req: urllib.request.Request,
                        **kwargs: Any) -> http.client.HTTPResponse:
                return super().do_open(tracked(http_class), req, **kwargs)

        class HTTPS(urllib.request.HTTPSHandler):
            def do_open(self, http_class: Callable[..., http.client.HTTPConnection],
                        req: urllib.request.Request,
                        **kwargs: Any) -> http.client.HTTPResponse:
                return super().do_open(tracked(http_class), req, **kwargs)

        opener = urllib.request.OpenerDirector()
        for handler in (urllib.request.ProxyHandler(), urllib.request.UnknownHandler(), HTTP(),
                        HTTPS(), urllib.request.HTTPDefaultErrorHandler(),
                        urllib.request.HTTPRedirectHandler(),
                        urllib.request.HTTPErrorProcessor()):
            opener.add_handler(handler)
        return opener


def _stream(
    url: str,
    out: SupportsWrite[bytes],
    name: str,
    spec: FileSpec,
    index: int,
    progress: Callable[[DownloadProgress], None] | None,
    timeout: float,
    deadline: float,
) -> str:
    """Copy the response body to `out`, never more than `spec.max_bytes` and never for longer
    than `deadline` seconds; returns its hex digest. A body shorter than announced (or than
    the expected size) is a network error. Messages and progress name the URL without its
    secrets (`redact_url`); the request itself uses it whole."""
    shown = redact_url(url)

    def report(done_bytes: int, total: int | None, done: bool = False) -> None:
        if progress is not None:
            progress(DownloadProgress(shown, name, done_bytes, total, index, done))

    hasher = hashlib.new(spec.algorithm, usedforsecurity=False)  # an integrity check (FIPS)
    cap = spec.max_bytes
    bytes_done = 0
    total: int | None = spec.size

    def too_slow() -> _SlowError:
        got = f"{human_size(bytes_done)} of {human_size(total)}" if total else \
            human_size(bytes_done)
        return _SlowError(f"too slow: {got} of {name} in {deadline:g} s, the most one download "
                          f"may take ({shown}; {DEADLINE_ENV} allows longer)")

    with _Deadline(deadline) as limit:
        try:
            request = url_request(url, {"User-Agent": USER_AGENT})   # ValueError: malformed
            response = limit.opener().open(request, timeout=timeout)
        except _NETWORK_ERRORS as exc:
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()  # it holds the error response's connection
            if limit.expired:
                raise too_slow() from exc
            raise _NetworkError(_describe_network_error(exc, url, timeout)) from exc
        with response:
            length = response.headers.get("Content-Length", "").strip()
            announced = int(length) if length.isdigit() else None
            if announced is not None and announced > cap:
                raise _SizeError(f"{shown} announced {announced:,} bytes for {name}, more than "
                                 f"its {cap:,}")
            total = announced if announced is not None else spec.size
            report(0, total)
            last_report = time.monotonic()
            while True:
                try:
                    chunk = response.read1(CHUNK_SIZE)
                except _NETWORK_ERRORS as exc:
                    if limit.expired:
                        raise too_slow() from exc
                    raise _NetworkError(_describe_network_error(exc, url, timeout)) from exc
                if limit.expired:
                    raise too_slow()
                if not chunk:
                    break
                if bytes_done + len(chunk) > cap:
                    raise _SizeError(f"{shown} sent more than the {cap:,} bytes of {name}")
                hasher.update(chunk)
                out.write(chunk)
                bytes_done += len(chunk)
                now = time.monotonic()
                if now - last_report >= PROGRESS_INTERVAL_S:
                    last_report = now
                    report(bytes_done, total)
    if total is not None and bytes_done < total:
        raise _NetworkError(f"connection closed after {bytes_done} of {total} bytes "
                            f"({shown})")
    report(bytes_done, total, done=True)
    return hasher.hexdigest()


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
) -> Path:
    """The path of a verified MNIST copy: the cached one (in any official layout, or that of
    `mirrors`), else downloaded from the first mirror that works (the npz file, or the cache
    folder holding the IDX files).

    `timeout`/`deadline`: see `fetch_file`. `progress` is called from this thread; raising
    from it aborts the download cleanly. Raises `DownloadError` (one line naming the cache
    folder, the files it would use, and `--data-dir`) if all fail.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cached_mnist(cache_dir, _lookup_mirrors(mirrors))
    if cached is not None:
        return cached
    advice = cache_advice(cache_dir, mirrors)
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

    # a killed download of any file this cache holds leaves its part file: gone now
    remove_stale_parts(cache_dir, [n for m in _lookup_mirrors(mirrors) for n in m.files])
    removed = _remove_bad_files(cache_dir, _lookup_mirrors(mirrors))
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
