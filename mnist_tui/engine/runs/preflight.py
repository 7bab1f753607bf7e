"""Checks before launching one job: what would make it fail at once, found before it starts.

A missing data folder, a split the data lacks, more images than the split has, VGG16 weights
that are neither cached nor downloadable: each of these used to be "ready" on the form and fail
seconds after the launch. Here they are found first, cheaply:

- the data: a stat and the few header bytes of each file (`data.inspection`: the loaders' own
  header checks) — the images themselves are never read; the worker still validates everything;
- a download that would be needed (MNIST not cached, the ImageNet weights not cached): one
  request per URL for a single byte (`Range: bytes=0-0`), with a short timeout, until one
  answers. Answers that worked are remembered for `max_age` seconds; failures never are.

A suite's plan (`suites.plan`) asks the same questions of each distinct dataset and weights.

Plain Python: never imports Textual (the TUI runs these in thread workers) or TensorFlow.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_tui.engine import present
from mnist_tui.engine.data.inspection import (
    DIGITS_SPLITS,
    MNIST_SPLITS,
    DataInfo,
    inspect_path,
    split_pool,
)
from mnist_tui.engine.errors import DataError, MnistTuiError
from mnist_tui.engine.jobs.backends import problems as backend_problems

PROBE_TIMEOUT_S = 3.0        # per URL: an unreachable host is known within seconds
PROBE_MAX_AGE_S = 60.0       # a URL that answered is not asked again for this long

LEVELS = ("ok", "note", "problem")


@dataclass(frozen=True)
class Check:
    """One finding, about one spec field (`data_dir`, `dataset`, `split`, `samples`,
    `weights`). `level`: ok (all is well, the message says what will be used), note (it will
    run, but you should know: a download, a fallback), problem (it would fail: do not start)."""

    field: str
    level: str
    message: str

    @property
    def problem(self) -> bool:
        return self.level == "problem"


# -- the network ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reachability:
    """Whether one of some URLs answered: the first that did, else (URL, why) per URL tried."""

    ok: bool
    url: str | None = None
    failures: tuple[tuple[str, str], ...] = ()

    def reasons(self) -> str:
        """`connection refused from 127.0.0.1:8000`, or `timed out (3 URLs tried)`."""
        if not self.failures:
            return "no URL to try"
        whys = list(dict.fromkeys(why for _, why in self.failures))
        hosts = list(dict.fromkeys(host_of(url) for url, _ in self.failures))
        if len(self.failures) == 1:
            return f"{whys[0]} from {hosts[0]}"
        return f"{'; '.join(whys)} ({len(self.failures)} URLs tried: {', '.join(hosts)})"


_answered: dict[str, float] = {}     # URL → when it last answered
_answered_lock = threading.Lock()


def probe_url(url: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when `url` serves a file (asked for its first byte only), else why not (short,
    and without the URL's secrets: a signed URL's query, `user:password@`)."""
    from mnist_tui.engine.data.transfer import USER_AGENT, scrub_url, url_request

    try:
        request = url_request(url, {"User-Agent": USER_AGENT, "Range": "bytes=0-0"})
        with urllib.request.urlopen(request, timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416:      # "range not satisfiable": the file is there
            return None
        return scrub_url(f"HTTP {exc.code} {exc.reason}", url)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # refused, unreachable, timeout, TLS; a malformed URL or port, a malformed answer
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            return f"no answer within {timeout:g} s"
        if isinstance(reason, OSError) and reason.strerror:
            return reason.strerror.lower()
        return scrub_url(str(reason), url) or type(reason).__name__


def probe_urls(urls: Sequence[str], timeout: float = PROBE_TIMEOUT_S,
               max_age: float = PROBE_MAX_AGE_S) -> Reachability:
    """The first of `urls` that answers (a URL that answered less than `max_age` seconds ago
    is taken at its word), else every reason."""
    now = time.monotonic()
    with _answered_lock:
        for url in urls:
            seen = _answered.get(url)
            if seen is not None and now - seen < max_age:
                return Reachability(True, url)
    failures: list[tuple[str, str]] = []
    for url in urls:
        why = probe_url(url, timeout)
        if why is None:
            with _answered_lock:
                _answered[url] = time.monotonic()
            return Reachability(True, url, tuple(failures))
        failures.append((url, why))
    return Reachability(False, None, tuple(failures))


def host_of(url: str) -> str:
    """Where `url` points, as a check may show it: the host, never its secrets."""
    from mnist_tui.engine.data.weights import host_of as shown_host

    return shown_host(url)


# -- the data ------------------------------------------------------------------------------------
def _mirror_urls() -> list[tuple[str, int | None]]:
    """(URL of a mirror's first file, the mirror's total size) for every MNIST mirror tried."""
    from mnist_tui.engine.data.download import download_mirrors

    out = []
    for mirror in download_mirrors():
        sizes = [s.size for s in mirror.files.values()]
        known = [s for s in sizes if s is not None]
        first = next(iter(mirror.files))
        out.append((mirror.file_url(first), sum(known) if len(known) == len(sizes) else None))
    return out


def inspect_data(dataset: str, data_dir: str | None, *, probe: bool = True,
                 timeout: float = PROBE_TIMEOUT_S, max_age: float = PROBE_MAX_AGE_S,
                 ) -> tuple[DataInfo | None, list[Check]]:
    """The data a spec's `dataset`/`data_dir` would give (None when it cannot be had) and
    what to say about it, the way `sources.load_dataset` chooses: a folder, else the bundled
    digits, else the MNIST cache, else a download (auto falls back to the digits)."""
    from mnist_tui.engine.data.download import cached_mnist, default_cache_dir

    if data_dir:
        if dataset == "digits":
            return None, [Check("data_dir", "problem", "--data-dir reads MNIST files; it "
                                "cannot be used with --dataset digits")]
        try:
            info = inspect_path(data_dir)
        except DataError as exc:
            return None, [Check("data_dir", "problem", str(exc))]
        except OSError as exc:
            return None, [Check("data_dir", "problem", f"{data_dir}: {exc.strerror or exc}")]
        return info, [Check("data_dir", "ok", info.describe())]
    if dataset == "digits":
        info = DataInfo("digits", "scikit-learn (bundled)", dict(DIGITS_SPLITS))
        return info, [Check("dataset", "ok", info.describe())]
    cache = default_cache_dir()
    cached = cached_mnist(cache)
    if cached is not None:
        try:
            info = inspect_path(cached)
        except (DataError, OSError) as exc:
            return None, [Check("dataset", "problem", f"the MNIST cache: {exc}")]
        return info, [Check("dataset", "ok", info.describe())]
    mirrors = _mirror_urls()
    if not probe:
        return (DataInfo("mnist", f"a download into {cache}", dict(MNIST_SPLITS)),
                [Check("dataset", "note", f"MNIST is not cached yet: downloaded on first use "
                       f"into {cache}")])
    reach = probe_urls([u for u, _ in mirrors], timeout, max_age)
    if reach.ok:
        assert reach.url is not None   # ok: the URL that answered
        size = dict(mirrors).get(reach.url)
        info = DataInfo("mnist", f"a download into {cache}", dict(MNIST_SPLITS))
        return info, [Check("dataset", "note", f"MNIST is not cached yet: downloaded on first "
                            f"use ({present.size(size, 'download')} from {host_of(reach.url)}) into {cache}")]
    if dataset == "auto":
        info = DataInfo("digits", "scikit-learn (bundled)", dict(DIGITS_SPLITS))
        return info, [Check("dataset", "note", "auto will use the bundled 8×8 digits "
                            f"({DIGITS_SPLITS['train']:,} images, one train split): MNIST is "
                            f"neither cached nor downloadable ({reach.reasons()})")]
    from mnist_tui.engine.data.download import cache_advice

    return None, [Check("dataset", "problem", "MNIST is neither cached nor downloadable "
                        f"({reach.reasons()}). " + cache_advice(Path(cache)))]


def check_pool(info: DataInfo, split: str, supervised: bool,
               samples: int | None) -> list[Check]:
    """The split exists, and holds at least `samples` images."""
    try:
        used, n_pool = split_pool(info, split, supervised)
    except DataError as exc:
        return [Check("split", "problem", str(exc))]
    if samples is not None and samples > n_pool:
        where = "in all" if used == "all" else f"in its {used} split"
        return [Check("samples", "problem", f"{samples:,} images asked for, but "
                      f"{info.name} has {n_pool:,} {where}")]
    return []


def check_weights(weights: str, *, probe: bool = True, timeout: float = PROBE_TIMEOUT_S,
                  max_age: float = PROBE_MAX_AGE_S) -> Check:
    """VGG16's weights: none, a readable weights file, or the ImageNet file cached or
    downloadable (how big, from where) — a problem when it cannot be had."""
    from mnist_tui.engine.data.fetch import is_cached
    from mnist_tui.engine.data.weights import (
        IMAGENET_NOTOP,
        WEIGHTS_URL_ENV,
        imagenet_path,
        imagenet_spec,
        resolve_weights,
        weights_status,
        weights_urls,
    )

    text = weights.strip()
    if text == "imagenet":
        path, spec = imagenet_path(), imagenet_spec()
        cached = is_cached(path, spec)      # hashes the file (once per process)
        if cached or not probe:
            return Check("weights", "ok" if cached else "note", weights_status(text))
        reach = probe_urls(weights_urls(), timeout, max_age)
        if reach.ok:
            assert reach.url is not None   # ok: the URL that answered
            again = "again " if path.exists() else ""   # there, but not the official file
            return Check("weights", "note", f"ImageNet weights not cached yet: downloaded "
                         f"{again}on first use ({present.size(spec.size, 'download')} from "
                         f"{host_of(reach.url)}) into {path.parent}/")
        return Check("weights", "problem", f"ImageNet weights neither cached nor downloadable "
                     f"({reach.reasons()}): put {IMAGENET_NOTOP} "
                     f"({present.size(spec.size, 'download')}) in {path.parent}/, name a mirror in "
                     f"{WEIGHTS_URL_ENV}, or use weights none")
    if text in ("none", ""):
        return Check("weights", "ok", weights_status("none"))
    try:
        resolve_weights(text)
    except MnistTuiError as exc:
        return Check("weights", "problem", str(exc))
    except OSError as exc:
        return Check("weights", "problem", f"--weights {text}: {exc.strerror or exc}")
    return Check("weights", "ok", weights_status(text))


def check_job(spec: dict[str, Any], *, probe: bool = True, timeout: float = PROBE_TIMEOUT_S,
              max_age: float = PROBE_MAX_AGE_S) -> list[Check]:
    """Everything that would make this job (a spec as a dict) fail at once."""
    info, checks = inspect_data(spec.get("dataset", "auto"), spec.get("data_dir"),
                                probe=probe, timeout=timeout, max_age=max_age)
    if info is not None:
        checks += check_pool(info, spec.get("split", "all"), spec.get("job") != "tsne-gmm",
                             spec.get("samples"))
    if spec.get("job") == "vgg16":
        checks.append(check_weights(str(spec.get("weights", "imagenet")), probe=probe,
                                    timeout=timeout, max_age=max_age))
    checks += [Check(name, "problem", message)
               for name, message in backend_problems(spec).items()]
    return checks


def needs_io(spec: dict[str, Any]) -> bool:
    """Whether checking `spec` touches the disk or the network (else it is pure arithmetic:
    the bundled digits, a job without weights to look for)."""
    data = spec.get("dataset") != "digits" or bool(spec.get("data_dir"))
    weights = spec.get("job") == "vgg16" and str(spec.get("weights", "")).strip() != "none"
    return data or weights
