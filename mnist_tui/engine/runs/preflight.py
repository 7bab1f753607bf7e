"""Checks before launching: what would make a job or a suite fail at once, found before it starts.

A missing data folder, a split the data lacks, more images than the split has, VGG16 weights
that are neither cached nor downloadable: each of these used to be "ready" on the form and fail
seconds after the launch. Here they are found first, cheaply:

- the data: a stat and the few header bytes of each file (IDX headers, the .npy headers inside
  an npz) — the images themselves are never read; the worker still validates everything;
- a download that would be needed (MNIST not cached, the ImageNet weights not cached): one
  request per URL for a single byte (`Range: bytes=0-0`), with a short timeout, until one
  answers. Answers that worked are remembered for `max_age` seconds; failures never are.

The suite plan adds its size (members × images) and a rough time from past runs: the mean total
time of finished runs of the same job and size in the run store, else no estimate.

Plain Python: never imports Textual (the TUI runs these in thread workers) or TensorFlow.
"""

from __future__ import annotations

import gzip
import http.client
import struct
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mnist_tui.engine.errors import DataError, MnistTuiError

if TYPE_CHECKING:
    from mnist_tui.engine.runs.store import RunInfo

PROBE_TIMEOUT_S = 3.0        # per URL: an unreachable host is known within seconds
PROBE_MAX_AGE_S = 60.0       # a URL that answered is not asked again for this long
DIGITS_SPLITS = {"train": 1797}               # scikit-learn's bundled 8×8 digits, one split
MNIST_SPLITS = {"train": 60_000, "test": 10_000}   # what a download brings
# A suite asks before it starts when any of these is exceeded (a typo such as 25500 images,
# or the default sweep's 54 members, must not start at once).
CONFIRM_MEMBERS = 10
CONFIRM_SECONDS = 15 * 60
CONFIRM_IMAGES = 10_000      # per member: the default sweep's largest size

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


@dataclass(frozen=True)
class DataInfo:
    """What a job would read, from headers only: the dataset's name, where it is, and the
    number of images of each split."""

    name: str
    where: str
    splits: dict[str, int]

    def describe(self) -> str:
        parts = ", ".join(f"{name} {n:,}" for name, n in self.splits.items())
        return f"{self.name} ({parts}) from {self.where}"


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
    from mnist_tui.engine.data.download import USER_AGENT, scrub_url, url_request

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
def _read_head(path: Path, n: int) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as fh:
            return fh.read(n)
    except (OSError, EOFError) as exc:   # a corrupt gzip stream
        raise DataError(f"{path}: cannot read its header: {exc}") from None


def idx_count(path: Path, kind: str) -> tuple[int, tuple[int, ...]]:
    """(number of items, shape of one item) from an IDX file's header; DataError naming the
    file when it is not an IDX file of that kind."""
    from mnist_tui.engine.data.idx import IMAGES_MAGIC, LABELS_MAGIC

    ndim = 3 if kind == "images" else 1
    head = _read_head(path, 4 + 4 * ndim)
    magic = IMAGES_MAGIC if kind == "images" else LABELS_MAGIC
    if len(head) < 4 + 4 * ndim or struct.unpack(">I", head[:4])[0] != magic:
        raise DataError(f"{path}: not an IDX {kind[:-1]} file (its header does not say so)")
    dims = struct.unpack(f">{ndim}I", head[4:4 + 4 * ndim])
    return dims[0], tuple(dims[1:])


def npz_counts(path: Path) -> dict[str, int]:
    """split → images in a Keras-style mnist.npz, from the .npy headers inside it."""
    from mnist_tui.engine.data.mnist_files import npy_header

    counts: dict[str, int] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            for split in ("train", "test"):
                x, y = f"x_{split}.npy", f"y_{split}.npy"
                if x not in names and y not in names:
                    continue
                if x not in names or y not in names:
                    have, missing = (x, y) if x in names else (y, x)
                    raise DataError(f"{path}: has {have[:-4]} but no {missing[:-4]}")
                shapes = []
                for member in (x, y):
                    with zf.open(member) as fh:
                        header = npy_header(fh)
                    if header is None:
                        raise ValueError(f"{member}: an .npy format version numpy cannot read")
                    shapes.append(header[0])
                if len(shapes[0]) != 3 or len(shapes[1]) != 1 or shapes[0][0] != shapes[1][0]:
                    raise DataError(f"{path}: x_{split} {shapes[0]} and y_{split} {shapes[1]} "
                                    "are not images (N, H, W) with N labels")
                counts[split] = int(shapes[0][0])
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise DataError(f"{path}: not a readable .npz archive: {exc}") from None
    if not counts:
        raise DataError(f"{path}: no x_train/y_train or x_test/y_test arrays")
    return counts


def inspect_path(path: str | Path) -> DataInfo:
    """What `--data-dir PATH` would load, from headers only; DataError (one line) when it would
    not load: no such folder, no MNIST in it, MNIST in several places, a file without its
    partner, images and labels that disagree."""
    from mnist_tui.engine.data.mnist_files import (
        canonical_name,
        check_listable,
        find_mnist_files,
        find_places,
    )

    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_file():
        if path.suffix.lower() != ".npz":
            raise DataError(f"{path}: expected a directory of MNIST IDX files or an .npz file")
        return DataInfo("mnist", str(path), npz_counts(path))
    if not path.is_dir():
        raise DataError(f"{path}: not a directory")
    check_listable(path)
    found = find_mnist_files(path)     # DataError when MNIST is in several places
    if not found:
        places = find_places(path)
        if places and places[0].kind == "npz":
            return DataInfo("mnist", str(places[0].root), npz_counts(places[0].root))
        raise DataError(f"no MNIST files in {path}: expected train-images-idx3-ubyte[.gz] / "
                        "t10k-images-idx3-ubyte[.gz] (either naming style) or mnist.npz")
    splits, shapes = {}, {}
    for split, files in found.items():
        if files.images is None or files.labels is None:
            have = files.labels if files.images is None else files.images
            assert have is not None   # a split is found only with one of its files
            missing = "images" if files.images is None else "labels"
            raise DataError(f"{path}: found {have.name} but not "
                            f"{canonical_name(split, missing)}[.gz]")
        n_images, shape = idx_count(files.images, "images")
        n_labels, _ = idx_count(files.labels, "labels")
        if n_images != n_labels:
            raise DataError(f"{path}: {files.images.name} has {n_images:,} images but "
                            f"{files.labels.name} has {n_labels:,} labels")
        splits[split], shapes[split] = n_images, shape
    if len(set(shapes.values())) > 1:
        raise DataError(f"{path}: splits have different image sizes")
    return DataInfo("mnist", str(path), splits)


def _mirror_urls() -> list[tuple[str, int | None]]:
    """(URL of a mirror's first file, the mirror's total size) for every MNIST mirror tried."""
    from mnist_tui.engine.data.download import DEFAULT_MIRRORS, mirrors_from_env

    out = []
    for mirror in mirrors_from_env() or list(DEFAULT_MIRRORS):
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
    from mnist_tui.engine.data.download import cached_mnist, default_cache_dir, human_size

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
                            f"use ({human_size(size)} from {host_of(reach.url)}) into {cache}")]
    if dataset == "auto":
        info = DataInfo("digits", "scikit-learn (bundled)", dict(DIGITS_SPLITS))
        return info, [Check("dataset", "note", "auto will use the bundled 8×8 digits "
                            f"({DIGITS_SPLITS['train']:,} images, one train split): MNIST is "
                            f"neither cached nor downloadable ({reach.reasons()})")]
    from mnist_tui.engine.data.download import cache_advice

    return None, [Check("dataset", "problem", "MNIST is neither cached nor downloadable "
                        f"({reach.reasons()}). " + cache_advice(Path(cache)))]


def split_pool(info: DataInfo, requested: str, supervised: bool) -> tuple[str, int]:
    """(split used, images in it) as `datasets.resolve_split` chooses; DataError for a split
    the data lacks."""
    if requested == "auto":
        requested = "train" if supervised and "train" in info.splits else "all"
    if requested == "all":
        return "all", sum(info.splits.values())
    if requested not in info.splits:
        have = ", ".join(info.splits)
        raise DataError(f"--split {requested}: dataset {info.name} has no {requested} split "
                        f"(it has: {have}); use --split auto or all")
    return requested, info.splits[requested]


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
    from mnist_tui.engine.data.download import human_size, is_cached
    from mnist_tui.engine.data.weights import (
        IMAGENET_FILE,
        IMAGENET_NOTOP,
        WEIGHTS_URL_ENV,
        imagenet_path,
        resolve_weights,
        weights_status,
        weights_urls,
    )

    text = weights.strip()
    if text == "imagenet":
        path = imagenet_path()
        cached = is_cached(path, IMAGENET_FILE)      # hashes the file (once per process)
        if cached or not probe:
            return Check("weights", "ok" if cached else "note", weights_status(text))
        reach = probe_urls(weights_urls(), timeout, max_age)
        if reach.ok:
            assert reach.url is not None   # ok: the URL that answered
            again = "again " if path.exists() else ""   # there, but not the official file
            return Check("weights", "note", f"ImageNet weights not cached yet: downloaded "
                         f"{again}on first use ({human_size(IMAGENET_FILE.size)} from "
                         f"{host_of(reach.url)}) into {path.parent}/")
        return Check("weights", "problem", f"ImageNet weights neither cached nor downloadable "
                     f"({reach.reasons()}): put {IMAGENET_NOTOP} "
                     f"({human_size(IMAGENET_FILE.size)}) in {path.parent}/, name a mirror in "
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
    return checks


def needs_io(spec: dict[str, Any]) -> bool:
    """Whether checking `spec` touches the disk or the network (else it is pure arithmetic:
    the bundled digits, a job without weights to look for)."""
    data = spec.get("dataset") != "digits" or bool(spec.get("data_dir"))
    weights = spec.get("job") == "vgg16" and str(spec.get("weights", "")).strip() != "none"
    return data or weights


# -- suites --------------------------------------------------------------------------------------
def _size_key(spec: dict[str, Any]) -> tuple[Any, ...]:
    """What a member's time depends on most: its job and number of images (and for VGG16 its
    input size: 224 px costs ~49× 32 px; for t-SNE + GMM its self-training rounds, which cost
    more than the clustering)."""
    key: tuple[Any, ...] = (spec.get("job"), spec.get("samples"))
    if spec.get("job") == "vgg16":
        key += (spec.get("input_size"),)
    if spec.get("job") == "tsne-gmm" and spec.get("refine_rounds"):
        key += (f"refine {spec.get('refine_rounds')}",)
    return key


def past_times(runs: Iterable[RunInfo]) -> dict[tuple[Any, ...], list[float]]:
    """Total seconds of every finished run, by `_size_key` of its spec (`runs`: RunInfo)."""
    out: dict[tuple[Any, ...], list[float]] = {}
    for r in runs:
        result = r.result or {}
        total = (result.get("timings") or {}).get("total")
        if r.status != "finished" or not isinstance(total, (int, float)) or total <= 0:
            continue
        out.setdefault(_size_key(r.spec), []).append(float(total))
    return out


@dataclass
class SuitePlan:
    """A suite before it starts: its size, a rough time, and what would make it fail at once."""

    members: int
    methods: tuple[str, ...]
    images: int                       # images over all members (standard-protocol members
    #                                   count the whole split they use, when known)
    largest: int                      # the most images one member uses
    estimate_s: float | None          # sum of the estimated members' mean past times
    estimated: int                    # members with an estimate
    checks: list[Check] = field(default_factory=list)
    smallest: int = 0                 # the fewest images one member uses

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.problem]

    def time_text(self) -> str:
        if self.estimate_s is None:
            return "no estimate (no past runs)"
        text = f"about {fmt_duration(self.estimate_s)} from past runs"
        if self.estimated < self.members:
            text += f" ({self.members - self.estimated} member(s) without an estimate)"
        return text

    def size_text(self) -> str:
        """`54 members × 250–10,000 images = 168,750 images`."""
        each = (f"{self.largest:,}" if self.smallest == self.largest
                else f"{self.smallest:,}–{self.largest:,}")
        members = f"{self.members} member{'s' if self.members != 1 else ''}"
        return f"{members} × {each} images = {self.images:,} images"

    def confirm_reasons(self) -> list[str]:
        """Why this suite should not start without a confirmation (empty: start at once)."""
        out = []
        if self.members > CONFIRM_MEMBERS:
            out.append(f"{self.members} members (more than {CONFIRM_MEMBERS})")
        if self.estimate_s is not None and self.estimate_s > CONFIRM_SECONDS:
            out.append(f"about {fmt_duration(self.estimate_s)} (more than "
                       f"{CONFIRM_SECONDS // 60} min)")
        if self.largest > CONFIRM_IMAGES:
            out.append(f"a member uses {self.largest:,} images (more than "
                       f"{CONFIRM_IMAGES:,})")
        return out


def fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class PlannedMember(Protocol):
    """What `plan_suite` reads of a suite member (`suites.Member`, which runs cannot import)."""

    @property
    def job(self) -> str: ...

    @property
    def spec(self) -> dict[str, Any]: ...


def plan_suite(members: Sequence[PlannedMember], runs: Iterable[RunInfo] = (), *,
               probe: bool = True, timeout: float = PROBE_TIMEOUT_S,
               max_age: float = PROBE_MAX_AGE_S) -> SuitePlan:
    """The plan of a suite's `members` (suites.Member), timed from `runs` (RunInfo of the run
    store), with the checks of its data (each distinct dataset once; members asking for more
    images than their split has, counted in one line) and of VGG16's weights."""
    times = past_times(runs)
    checks: list[Check] = []
    data: dict[tuple[Any, Any], DataInfo | None] = {}
    too_big: dict[tuple[str, int], list[int]] = {}      # (data, pool size) → sizes over it
    images = largest = estimated = 0
    smallest: int | None = None
    total = 0.0
    for m in members:
        s = m.spec
        key: tuple[Any, Any] = (s.get("dataset"), s.get("data_dir"))   # spec values, JSON
        if key not in data:
            info, found = inspect_data(*key, probe=probe, timeout=timeout, max_age=max_age)
            data[key] = info
            checks += found
        info = data[key]
        n = s.get("samples")
        if info is not None:
            try:
                used, n_pool = split_pool(info, s.get("split", "all"), m.job != "tsne-gmm")
            except DataError as exc:
                checks.append(Check("split", "problem", str(exc)))
            else:
                if n is None:
                    n = n_pool
                elif n > n_pool:
                    too_big.setdefault((info.name, n_pool), []).append(n)
        images += n or 0
        largest = max(largest, n or 0)
        smallest = (n or 0) if smallest is None else min(smallest, n or 0)
        past = times.get(_size_key(s))
        if past:
            estimated += 1
            total += sum(past) / len(past)
    for (name, n_pool), sizes in too_big.items():
        checks.append(Check("samples", "problem", f"{len(sizes)} member(s) ask for more than "
                            f"the {n_pool:,} images {name} has: up to {max(sizes):,} (choose "
                            "smaller sizes)"))
    weights = {str(m.spec.get("weights", "imagenet")) for m in members if m.job == "vgg16"}
    for w in sorted(weights):
        checks.append(check_weights(w, probe=probe, timeout=timeout, max_age=max_age))
    checks = list(dict.fromkeys(checks))
    methods = tuple(dict.fromkeys(m.job for m in members))
    return SuitePlan(len(members), methods, images, largest,
                     total if estimated else None, estimated, checks, smallest or 0)
