"""Where VGG16's weights come from, settled before anything slow (and without TensorFlow).

`--weights imagenet` means Keras' own no-top file in Keras' own cache, so Keras and this tool
share one copy. When it is missing we download it once, as Keras would, but through the
engine's bounded, verified downloader (`fetch.fetch_file`: timeouts, a size cap, Keras'
MD5 checked before the file is moved into place), with progress events, and with one clear
line when it cannot be had — Keras' own `get_file` would hang offline or print a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from mnist_tui.engine import present
from mnist_tui.engine.data.fetch import FetchError, download_timeout, fetch_file, is_cached
from mnist_tui.engine.data.published import Published, published_files
from mnist_tui.engine.data.transfer import DownloadProgress, FileSpec
from mnist_tui.engine.errors import DataError, DownloadError
from mnist_tui.engine.text import redact_url

IMAGENET_NOTOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
                + IMAGENET_NOTOP)
WEIGHTS_URL_ENV = "MNIST_TUI_WEIGHTS_URL"
DOWNLOAD_TIMEOUT_S = 5.0   # per connect and per read: offline fails within seconds
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"

Progress = Callable[[DownloadProgress], None]


def keras_home() -> Path:
    """Keras' cache folder, found the way Keras finds it (KERAS_HOME, else ~/.keras or /tmp)."""
    if os.environ.get("KERAS_HOME"):
        return Path(os.environ["KERAS_HOME"]).expanduser()
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return Path(base) / ".keras"


def imagenet_spec(published: Published | None = None) -> FileSpec:
    """What the no-top file must be: Keras' MD5 and size (`published`'s, else the table in
    force, `published.published_files()`)."""
    return (published if published is not None else published_files()).vgg16_notop


def imagenet_path() -> Path:
    """Where Keras caches (and looks for) the no-top ImageNet file."""
    return keras_home() / "models" / IMAGENET_NOTOP


def weights_urls() -> list[str]:
    """$MNIST_TUI_WEIGHTS_URL (comma-separated, tried in order), else Keras' own URL. The
    checksum stays Keras' official one, so a mirror cannot serve different weights."""
    raw = os.environ.get(WEIGHTS_URL_ENV, "")
    return [u.strip() for u in raw.split(",") if u.strip()] or [IMAGENET_URL]


def host_of(url: str) -> str:
    """The host (and port) of `url`, shown: never its `user:password@`, and never the query
    string of something that is not a URL."""
    shown = redact_url(url)
    try:
        return urlsplit(shown).netloc.rpartition("@")[2] or shown
    except ValueError:
        return shown


def _hosts(urls: Sequence[str]) -> str:
    """The hosts of `urls`, each once: where a download comes from, without secrets."""
    return ", ".join(dict.fromkeys(host_of(u) for u in urls))


def fetch_imagenet(progress: Progress | None = None, *, spec: FileSpec | None = None,
                   urls: Sequence[str] | None = None, dest: Path | None = None,
                   timeout: float | None = None, deadline: float | None = None) -> Path:
    """The verified ImageNet file in Keras' cache: the cached one (its MD5 checked once per
    process), else downloaded once; a cached copy that fails the check is removed first.

    `timeout` per connect/read (default $MNIST_TUI_DOWNLOAD_TIMEOUT, else 5 s), `deadline`
    for the whole file (default $MNIST_TUI_DOWNLOAD_DEADLINE, else ~10 minutes for 58.9 MB).
    Raises DownloadError, one line naming the file, its size, where to put it by hand, the
    URLs tried with why each failed, and `--weights none`. Nothing partial is left behind.
    `spec` defaults to `imagenet_spec()`.
    """
    spec = spec if spec is not None else imagenet_spec()
    dest = Path(dest) if dest is not None else imagenet_path()
    urls = list(urls) if urls is not None else weights_urls()
    where = f"{dest.parent}/ (Keras' cache; KERAS_HOME moves it)"
    timeout = timeout if timeout is not None else download_timeout(DOWNLOAD_TIMEOUT_S)
    try:
        return fetch_file(urls, dest, spec, progress, timeout, deadline)
    except FetchError as exc:
        tried = "; ".join(reason for _, reason in exc.failures) or "no URL given"
        removed = f" ({exc.removed[0].upper()}{exc.removed[1:]}.)" if exc.removed else ""
        raise DownloadError(" ".join(
            f"ImageNet weights {dest.name} ({present.size(spec.size, 'download')}) are not in Keras' cache "
            f"and could not be downloaded ({tried}).{removed} Put the file in {where} — "
            f"{WEIGHTS_URL_ENV} can name a mirror — or use --weights none".split())) from None
    except OSError as exc:
        raise DownloadError(f"cannot write the ImageNet weights {dest.name} into {where}: "
                            f"{exc.strerror or exc}; or use --weights none") from None


def resolve_weights(weights: str, progress: Progress | None = None,
                    published: Published | None = None) -> tuple[Path | None, str]:
    """(file to load or None, description). Raises DataError / DownloadError with one line.

    `imagenet` is fetched into Keras' cache when missing (`progress` sees the download; the
    file is held to `imagenet_spec(published)`); a path must be an HDF5 (.h5/.weights.h5) or
    .keras file.
    """
    if weights == "none":
        return None, "none (random initialisation)"
    if weights == "imagenet":
        path = fetch_imagenet(progress, spec=imagenet_spec(published))
        return path, f"imagenet ({path})"
    path = Path(weights).expanduser()
    if not path.is_file():
        raise DataError(f"--weights {weights}: no such file")
    with open(path, "rb") as fh:
        head = fh.read(8)
    name = path.name.lower()
    if not (head == HDF5_MAGIC and name.endswith((".h5", ".hdf5"))) and not (
            head[:4] == ZIP_MAGIC and name.endswith(".keras")):
        raise DataError(f"--weights {weights}: not an HDF5 (.h5/.weights.h5) or .keras "
                        "weights file")
    return path, f"file {path}"


def weights_status(weights: str, published: Published | None = None) -> str:
    """One line for a form, before launching: cached, or downloaded on first use (from where,
    how big). Cheap: a stat and a hash once per process, never the network."""
    text = weights.strip()
    if text == "none":
        return "no weights: the base starts from random initialisation"
    if text == "imagenet":
        path, spec = imagenet_path(), imagenet_spec(published)
        if is_cached(path, spec):
            return f"ImageNet weights cached: {path}"
        again = "again " if path.exists() else ""
        return (f"ImageNet weights not cached yet: downloaded {again}on first use "
                f"({present.size(spec.size, 'download')} from {_hosts(weights_urls())}) into "
                f"{path.parent}/")
    if not text:
        return ""
    path = Path(text).expanduser()
    return f"weights file {path}" if path.is_file() else f"no such file: {path}"
