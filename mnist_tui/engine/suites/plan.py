"""Can this suite run, and how big and how long is it: asked before a suite starts.

Two stages, for the Suites screen and `--batch --suite` alike:

- `plan_suite`, cheap and repeatable (the screen runs it as the form changes): the suite's size
  (members × images), a rough time from past runs (the mean total time of finished runs of the
  same job and size in the run store, else no estimate), whether to ask before starting
  (`SuitePlan.confirm_reasons`), and the checks of its data and VGG16 weights from headers
  and one-byte probes (`runs.preflight`), each distinct dataset and weights once;
- `preflight`, just before the members run: the data is really loaded and what the members need
  from the network (MNIST, the ImageNet weights) is downloaded once, so that a suite whose
  every member would fail the same way stops at once with that member's own error.

Plain Python: never imports Textual or TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mnist_tui.engine.data.inspection import DataInfo, split_pool
from mnist_tui.engine.errors import DataError, SpecError
from mnist_tui.engine.jobs.backends import problems as backend_problems
from mnist_tui.engine.present import duration
from mnist_tui.engine.runs.preflight import (
    PROBE_MAX_AGE_S,
    PROBE_TIMEOUT_S,
    Check,
    check_weights,
    inspect_data,
)
from mnist_tui.engine.runs.store import RunInfo
from mnist_tui.engine.suites.spec import Member

if TYPE_CHECKING:
    from mnist_tui.engine.data.datasets import Dataset
    from mnist_tui.engine.jobs.context import JobContext
    from mnist_tui.engine.jobs.events import Event

# A suite asks before it starts when any of these is exceeded (a typo such as 25500 images,
# or the default sweep's 54 members, must not start at once).
CONFIRM_MEMBERS = 10
CONFIRM_SECONDS = 15 * 60
CONFIRM_IMAGES = 10_000      # per member: the default sweep's largest size


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
    """Total seconds of every finished run, by `_size_key` of its spec."""
    out: dict[tuple[Any, ...], list[float]] = {}
    for r in runs:
        total = r.result.total_seconds() if r.result is not None else None
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
        text = f"about {duration(self.estimate_s, 'whole')} from past runs"
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
            out.append(f"about {duration(self.estimate_s, 'whole')} (more than "
                       f"{CONFIRM_SECONDS // 60} min)")
        if self.largest > CONFIRM_IMAGES:
            out.append(f"a member uses {self.largest:,} images (more than "
                       f"{CONFIRM_IMAGES:,})")
        return out


def plan_suite(members: Sequence[Member], runs: Iterable[RunInfo] = (), *,
               probe: bool = True, timeout: float = PROBE_TIMEOUT_S,
               max_age: float = PROBE_MAX_AGE_S) -> SuitePlan:
    """The plan of a suite's `members`, timed from `runs` (the run store's), with the checks of
    its data (each distinct dataset once; members asking for more images than their split
    has, counted in one line) and of VGG16's weights."""
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


def preflight(members: Sequence[Member],
              emit: Callable[[Event], None] | None = None) -> dict[str, str]:
    """Catch what would fail every member the same way before anything runs (MnistTuiError):
    data that cannot be loaded, sizes larger than the data, VGG16 weights that cannot be had.
    What the members need from the network (MNIST, the ImageNet weights) is downloaded here,
    once, with its events (phase, progress) passed to `emit`. Returns each member's (key →)
    dataset fingerprint: the data its worker must read, on whichever machine it runs."""
    from mnist_tui.engine.data.datasets import resolve_split
    from mnist_tui.engine.data.sources import load_dataset
    from mnist_tui.engine.jobs.context import JobContext
    from mnist_tui.engine.jobs.downloads import download_reporter

    for m in members:     # a backend this machine lacks: refused before any data is read
        lacking = backend_problems(m.spec)
        if lacking:
            raise SpecError(f"{m.label}: {next(iter(lacking.values()))}")
    ctx = JobContext(emit or (lambda ev: None))
    seen: dict[tuple[Any, Any], Dataset] = {}
    fingerprints: dict[str, str] = {}
    for m in members:
        s = m.spec
        key = (s["dataset"], s.get("data_dir"))
        if key not in seen:
            seen[key] = load_dataset(s["dataset"], s.get("data_dir"),
                                     progress=download_reporter(ctx))
        ds = seen[key]
        fingerprints[m.key] = ds.fingerprint()
        split = resolve_split(ds, s.get("split", "all"), supervised=m.job != "tsne-gmm")
        n_pool = len(ds.pool(split))
        if s.get("samples") and s["samples"] > n_pool:
            raise DataError(f"{m.label}: {s['samples']:,} images asked for, but {ds.name} has "
                            f"{n_pool:,} in its {split} split (choose smaller --sizes)")
        if m.job == "vgg16":
            check_vgg_weights(s["weights"], ctx)
    return fingerprints


def check_vgg_weights(weights: str, ctx: JobContext | None = None) -> None:
    """The vgg16 job's own first step (light: no TensorFlow): a weights file must be readable,
    and the ImageNet file is fetched into Keras' cache now (events through `ctx`) so that no
    member downloads it, or the suite stops at once with the job's own one-line error."""
    from mnist_tui.engine.jobs.context import JobContext
    from mnist_tui.engine.jobs.downloads import weights_for_job

    weights_for_job(weights, ctx if ctx is not None else JobContext(lambda ev: None))
