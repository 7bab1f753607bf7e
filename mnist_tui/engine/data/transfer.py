"""One URL's bytes, bounded: what a downloaded file must be (`FileSpec`), what a download
reports (`DownloadProgress`), and the HTTP stream that holds to both.

Every transfer is bounded: a connect/read timeout, a size cap (the expected size when known)
enforced while streaming, so a server that never stops sending cannot fill the disk, and a
deadline for the whole file (sized from the expected size), so a server trickling a byte every
few seconds cannot hold a job forever. A URL's secrets (its query string, `user:password@`)
are sent, never shown: every message and progress report names it redacted.

Nothing here knows about files on disk, caches or MNIST (`fetch.py` puts a verified file in
place; `download.py` and `weights.py` decide which). Standard library only (urllib).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mnist_tui.engine import present
from mnist_tui.engine.text import redact_url

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

DEADLINE_ENV = "MNIST_TUI_DOWNLOAD_DEADLINE"  # seconds for a whole file, from one URL
CHUNK_SIZE = 64 * 1024
PROGRESS_INTERVAL_S = 0.1  # at most ~10 progress events a second (plus start and end)
USER_AGENT = "mnist-tui"
# The cap on a file whose size is not known: far above anything fetched here (MNIST 11 MB,
# VGG16 59 MB), far below a full disk.
UNKNOWN_SIZE_CAP = 1 << 30
# The default deadline for a whole file: its expected size at this rate (100 kB/s: VGG16's
# 58.9 MB weights get ~10 minutes, MNIST's 11.5 MB ~2), never less than MIN_DEADLINE_S.
SLOWEST_RATE = 100_000
MIN_DEADLINE_S = 60.0
UNKNOWN_SIZE_DEADLINE_S = 600.0
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


# --- URLs ---------------------------------------------------------------------------------------

def join_url_path(base: str, name: str) -> str:
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


# --- why a URL failed ---------------------------------------------------------------------------

class UrlFailure(Exception):
    """A URL did not deliver the file; `kind` says how (counted in failure summaries), the
    message names the URL without its secrets."""

    kind = "network"


class NetworkFailure(UrlFailure):
    """Unreachable, an HTTP error, a timeout, a body cut short."""

    kind = "network"


class ChecksumFailure(UrlFailure):
    """A file whose hash is not the published one."""

    kind = "checksum"


class SizeFailure(UrlFailure):
    """More bytes announced or sent than the file has: stopped before the disk fills."""

    kind = "size"


class SlowFailure(UrlFailure):
    """The whole file did not arrive within the download's deadline."""

    kind = "slow"


# What a failing URL can raise: URLError/HTTPError, refused/reset connections, timeouts and
# TLS errors are OSErrors; HTTPException covers malformed responses; ValueError a malformed
# URL (e.g. a typo in $MNIST_TUI_MIRRORS). Only network calls are wrapped in these, so a disk
# error or an exception from the progress callback is never mistaken for a bad mirror.
_NETWORK_ERRORS = (OSError, http.client.HTTPException, ValueError)


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


# --- the bounded stream -------------------------------------------------------------------------

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


def stream(
    url: str,
    out: SupportsWrite[bytes],
    name: str,
    spec: FileSpec,
    index: int,
    progress: Callable[[DownloadProgress], None] | None,
    timeout: float,
    deadline: float,
) -> str:
    """Copy the response body of `url` (file `name`) to `out`, never more than `spec.max_bytes`
    and never for longer than `deadline` seconds; returns its hex digest under `spec.algorithm`.
    A body shorter than announced (or than the expected size) is a network error. Raises a
    `UrlFailure` (network, size, slow) when the URL fails. Messages and progress (reported as
    mirror `index`) name the URL without its secrets (`redact_url`); the request uses it whole."""
    shown = redact_url(url)

    def report(done_bytes: int, total: int | None, done: bool = False) -> None:
        if progress is not None:
            progress(DownloadProgress(shown, name, done_bytes, total, index, done))

    hasher = hashlib.new(spec.algorithm, usedforsecurity=False)  # an integrity check (FIPS)
    cap = spec.max_bytes
    bytes_done = 0
    total: int | None = spec.size

    def too_slow() -> SlowFailure:
        got = (f"{present.size(bytes_done, 'download')} of {present.size(total, 'download')}"
               if total else present.size(bytes_done, "download"))
        return SlowFailure(f"too slow: {got} of {name} in {deadline:g} s, the most one download "
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
            raise NetworkFailure(_describe_network_error(exc, url, timeout)) from exc
        with response:
            length = response.headers.get("Content-Length", "").strip()
            announced = int(length) if length.isdigit() else None
            if announced is not None and announced > cap:
                raise SizeFailure(f"{shown} announced {announced:,} bytes for {name}, more "
                                  f"than its {cap:,}")
            total = announced if announced is not None else spec.size
            report(0, total)
            last_report = time.monotonic()
            while True:
                try:
                    chunk = response.read1(CHUNK_SIZE)
                except _NETWORK_ERRORS as exc:
                    if limit.expired:
                        raise too_slow() from exc
                    raise NetworkFailure(_describe_network_error(exc, url, timeout)) from exc
                if limit.expired:
                    raise too_slow()
                if not chunk:
                    break
                if bytes_done + len(chunk) > cap:
                    raise SizeFailure(f"{shown} sent more than the {cap:,} bytes of {name}")
                hasher.update(chunk)
                out.write(chunk)
                bytes_done += len(chunk)
                now = time.monotonic()
                if now - last_report >= PROGRESS_INTERVAL_S:
                    last_report = now
                    report(bytes_done, total)
    if total is not None and bytes_done < total:
        raise NetworkFailure(f"connection closed after {bytes_done} of {total} bytes "
                             f"({shown})")
    report(bytes_done, total, done=True)
    return hasher.hexdigest()
