"""A suite's spec: the parameters its members are generated from, and the members themselves.

A suite is a spec like any job's: `SuiteSpec` names the suite and the parameters its members are
generated from (methods, presets, sizes, seeds, Keras backends, and job settings applied to
every member that has them). It is recorded in the suite's folder (`folder.py`, through
`records.py`); members are ordinary recorded runs.

A member's key is the canonical JSON (sorted keys, no spaces) of the settings the suite itself
sets for it (`Member.settings`: job, preset, samples, seed, VGG16 input size, the Keras backend
when the suite sweeps backends, and the suite's explicit overrides), not of its whole spec: a
field added to (or removed from) a spec class with a default must not turn every recorded
member into a pending one (`matching.py` decides which recorded run stands for a member).

Backends (`--backends tensorflow,jax`) are a dimension only when given: each member that trains
with Keras (the CNN, VGG16, and t-SNE + GMM with self-training rounds: the refined preset) runs
once per backend, with `backend` in its settings; a member that never imports Keras (t-SNE + GMM
without self-training) runs once, its key as without backends. A suite without backends
records none (`to_dict` leaves the key out), so its members keep their keys and older versions
read its suite.json. What a person types (flags, the Suites form) becomes a SuiteSpec in
`spec_text.py`. This module is light: no numpy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import Field, asdict, dataclass, field
from typing import Any

from mnist_tui.engine.errors import SpecError
from mnist_tui.engine.jobs.backends import BACKENDS
from mnist_tui.engine.jobs.specs import JOB_NAMES, SPEC_CLASSES, build_spec, flag_name

SUITE_NAMES = ("seed", "sweep")
SUITE_HELP = {
    "seed": "the reference notebook's experiments with its presets, then with ours: t-SNE + GMM "
            "on 4,800 and 2,400 images, VGG16 transfer (10 epochs), the small CNN on the "
            "notebook's tenth of the training set (80/20); then the standard protocol (train on "
            "the whole train split, score on the whole test split, cluster every image)",
    "sweep": "accuracy and time against the number of images, every method, several seeds",
}
SWEEP_SIZES = (250, 500, 1000, 2000, 5000, 10000)
SEED_SIZES = (4800, 2400)           # the notebook's two t-SNE + GMM runs
SEED_SUPERVISED_SAMPLES = 6000      # the notebook's VGG16: 10% of the training set
DEFAULT_VGG_INPUT_SIZE = 32         # what 2 CPU cores afford; 224 is the notebook's
# Seeds when none are given: the seed suite runs the notebook's experiments once, a sweep thrice.
DEFAULT_SEEDS: dict[str, tuple[int, ...]] = {"seed": (0,), "sweep": (0, 1, 2)}
# Presets when none are given. "refined" (t-SNE + GMM, then self-training) joins both suites:
# methods without a preset (VGG16 and the CNN have no "refined") skip it.
DEFAULT_PRESETS: dict[str, tuple[str, ...]] = {"seed": ("seed", "default", "refined"),
                                               "sweep": ("default", "refined")}
# The most member runs one suite may plan. The largest a user means is far below (every
# method, both presets, the six sweep sizes and 100 seeds: 2,400); `--sizes` and `--seeds`
# lists of 15,000 values each (or a recorded suite spec saying so) planned 225 million member
# specs, for minutes and gigabytes, before a word was said.
MAX_MEMBERS = 10_000
_LIST_SETTINGS = ("methods", "presets", "sizes", "seeds", "protocols", "backends")
_NAME_SETTINGS = ("methods", "presets", "protocols", "backends")
# Methods whose every member trains with Keras (t-SNE + GMM only with self-training rounds).
KERAS_METHODS = ("cnn", "vgg16")
# How the seed suite's members choose their images: the notebook's small samples, and the
# field's standard protocol (every image: samples none) with our default presets.
PROTOCOLS = ("notebook", "standard")
# Fields the suite sets per member itself; giving them as options is an error.
SUITE_OWNED = ("preset", "seed", "input_size")


@dataclass
class SuiteSpec:
    """The whole description of a suite: everything its members are generated from."""

    name: str
    methods: tuple[str, ...] = JOB_NAMES
    presets: tuple[str, ...] = ()
    sizes: tuple[int, ...] = ()
    seeds: tuple[int, ...] = (0,)
    supervised_samples: int = SEED_SUPERVISED_SAMPLES
    vgg_input_size: int = DEFAULT_VGG_INPUT_SIZE
    protocols: tuple[str, ...] = ()
    # Keras backends swept (each Keras member once per backend); empty: not a dimension, every
    # member on its spec's backend (the default, or a --backend given as a job setting)
    backends: tuple[str, ...] = ()
    # job field → typed value, for every member whose job has that field
    overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.methods = tuple(self.methods)
        if not self.presets:
            wanted = DEFAULT_PRESETS["seed" if self.name == "seed" else "sweep"]
            self.presets = tuple(p for p in wanted if p == "default" or any(
                p in SPEC_CLASSES[m].presets for m in self.methods if m in SPEC_CLASSES))
        self.presets = tuple(self.presets)
        self.sizes = tuple(self.sizes) or (SEED_SIZES if self.name == "seed" else SWEEP_SIZES)
        self.seeds = tuple(self.seeds)
        self.protocols = tuple(self.protocols) or (PROTOCOLS if self.name == "seed"
                                                   else ("notebook",))
        self.backends = tuple(self.backends)
        self.overrides = dict(self.overrides)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in _LIST_SETTINGS:
            d[k] = list(d[k])
        if not self.backends:   # not a dimension: recorded as suites were before backends
            del d["backends"]
        return {"suite": self.name, **{k: v for k, v in d.items() if k != "name"}}

    @classmethod
    def from_dict(cls, data: object) -> SuiteSpec:
        if not isinstance(data, dict) or data.get("suite") not in SUITE_NAMES:
            raise SpecError("not a suite spec (no known \"suite\" key)")
        data = dict(data)
        name = data.pop("suite")
        known = {"methods", "presets", "sizes", "seeds", "supervised_samples", "vgg_input_size",
                 "protocols", "backends", "overrides"}
        data.setdefault("protocols", ["notebook"])   # suites recorded before protocols existed
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"suite {name}: unknown setting(s) {', '.join(unknown)}")
        _check_shapes(name, data)
        return cls(name=name, **data).validate()

    # -- validation ------------------------------------------------------------------------
    def validate(self) -> SuiteSpec:
        if self.name not in SUITE_NAMES:
            raise SpecError(f"--suite: unknown suite {self.name!r} "
                            f"(choose from {', '.join(SUITE_NAMES)})")
        if not self.methods:
            raise SpecError("--methods: give at least one method")
        for m in self.methods:
            if m not in JOB_NAMES:
                raise SpecError(f"--methods: unknown method {m!r} (choose from "
                                f"{', '.join(JOB_NAMES)})")
        _no_duplicates("--methods", self.methods)
        for p in self.presets:
            if not any(p in SPEC_CLASSES[m].presets for m in self.methods):
                known = sorted({q for m in self.methods for q in SPEC_CLASSES[m].presets})
                raise SpecError(f"--presets: unknown preset {p!r} (choose from "
                                f"{', '.join(known)})")
        _no_duplicates("--presets", self.presets)
        for s in self.sizes:
            if isinstance(s, bool) or not isinstance(s, int) or s < 20:
                raise SpecError(f"--sizes: every size must be an integer of at least 20, "
                                f"got {s!r}")
        _no_duplicates("--sizes", self.sizes)
        if not self.seeds:
            raise SpecError("--seeds: give at least one seed")
        for s in self.seeds:
            if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2**32:
                raise SpecError(f"--seeds: seeds are integers from 0 to 2^32-1, got {s!r}")
        _no_duplicates("--seeds", self.seeds)
        for p in self.protocols:
            if p not in PROTOCOLS:
                raise SpecError(f"--protocols: unknown protocol {p!r} (choose from "
                                f"{', '.join(PROTOCOLS)})")
        _no_duplicates("--protocols", self.protocols)
        for b in self.backends:
            if b not in BACKENDS:
                raise SpecError(f"--backends: unknown backend {b!r} (choose from "
                                f"{', '.join(BACKENDS)})")
        _no_duplicates("--backends", self.backends)
        if self.backends and "backend" in self.overrides:
            raise SpecError("--backend cannot be used with --backends (the suite sets each "
                            "member's backend)")
        if self.backends and not any(self._uses_keras(m, p) for m in self.methods
                                     for p in self.presets):
            raise SpecError(f"--backends: no member of this suite trains with Keras (the "
                            f"CNN, VGG16 or t-SNE + GMM's refined preset): "
                            f"{', '.join(self.methods)}")
        if self.name != "seed" and self.protocols != ("notebook",):
            raise SpecError("--protocols is for --suite seed (a sweep chooses its sizes)")
        if not isinstance(self.vgg_input_size, int) or not 32 <= self.vgg_input_size <= 224:
            raise SpecError(f"--vgg-input-size: must be from 32 to 224, got "
                            f"{self.vgg_input_size!r}")
        if not isinstance(self.supervised_samples, int) or self.supervised_samples < 20:
            raise SpecError(f"--samples: must be at least 20, got {self.supervised_samples!r}")
        for name in self.overrides:
            if name in SUITE_OWNED or name == "samples":
                raise SpecError(f"--{flag_name(name)} cannot be used with --suite "
                                f"({_owned_hint(name)})")
            if not any(name in _field_names(m) for m in self.methods):
                raise SpecError(f"--{flag_name(name)} does not apply to any method of this "
                                f"suite ({', '.join(self.methods)})")
        self.members()  # every member spec must be valid too
        return self

    # -- members ---------------------------------------------------------------------------
    def members(self) -> list[Member]:
        """The member runs in the order they run, each with a validated spec (SpecError, before
        any is built, when there would be more than MAX_MEMBERS)."""
        planned = self.planned_members()
        if planned > MAX_MEMBERS:
            raise SpecError(f"this suite would have {planned:,} member runs, more than the "
                            f"{MAX_MEMBERS:,} one suite may have (check --sizes and --seeds)")
        out: list[Member] = []
        if self.name == "seed" and "notebook" in self.protocols:
            for preset in self.presets:
                for seed in self.seeds:
                    for method in self.methods:
                        if preset not in SPEC_CLASSES[method].presets:
                            continue
                        if method == "cnn" and preset == "seed":
                            continue  # the notebook had no CNN: its "seed" preset is ours
                        sizes = self.sizes if method == "tsne-gmm" else (self.supervised_samples,)
                        for size in sizes:
                            out.extend(self._members_of(method, preset, size, seed))
        if self.name == "seed" and "standard" in self.protocols:
            for seed in self.seeds:
                for method in self.methods:
                    for preset in ("default", "refined"):
                        if preset == "default" or (preset in self.presets
                                                   and preset in SPEC_CLASSES[method].presets):
                            out.extend(self._members_of(method, preset, None, seed))
        if self.name != "seed":
            for seed in self.seeds:
                for size in self.sizes:
                    for method in self.methods:
                        for preset in self.presets:
                            if preset in SPEC_CLASSES[method].presets:
                                out.extend(self._members_of(method, preset, size, seed))
        if not out:
            raise SpecError("this suite has no members (check --methods and --presets)")
        return out

    def planned_members(self) -> int:
        """How many members `members` would build, counted without building one: the same
        loops, multiplied out."""
        def fits(method: str, preset: str) -> bool:
            return method in SPEC_CLASSES and preset in SPEC_CLASSES[method].presets

        count = 0
        if self.name == "seed" and "notebook" in self.protocols:
            for preset in self.presets:
                for method in self.methods:
                    if fits(method, preset) and not (method == "cnn" and preset == "seed"):
                        count += (len(self.sizes) if method == "tsne-gmm" else 1) \
                            * self._per_member(method, preset)
            count *= len(self.seeds)
        if self.name == "seed" and "standard" in self.protocols:
            refined = sum(self._per_member(m, "refined") for m in self.methods
                          if "refined" in self.presets and fits(m, "refined"))
            standard = sum(self._per_member(m, "default") for m in self.methods)
            count += len(self.seeds) * (standard + refined)
        if self.name != "seed":
            pairs = sum(self._per_member(m, p) for m in self.methods for p in self.presets
                        if fits(m, p))
            count += len(self.seeds) * len(self.sizes) * pairs
        return count

    def _uses_keras(self, method: str, preset: str) -> bool:
        """Whether the members of `method` with `preset` train with Keras (what
        `backends.uses_keras` says of their specs, told without building one)."""
        if method in KERAS_METHODS:
            return True
        if method != "tsne-gmm" or method not in SPEC_CLASSES:
            return False
        cls = SPEC_CLASSES[method]
        default = next(f.default for f in _fields(cls) if f.name == "refine_rounds")
        rounds = self.overrides.get("refine_rounds",
                                    cls.presets.get(preset, {}).get("refine_rounds", default))
        return isinstance(rounds, int) and rounds > 0

    def _per_member(self, method: str, preset: str) -> int:
        """How many members one (method, preset, size, seed) makes: one per backend for a
        Keras member of a suite that sweeps backends, else one."""
        return len(self.backends) if self.backends and self._uses_keras(method, preset) else 1

    def _members_of(self, method: str, preset: str, size: int | None,
                    seed: int) -> list[Member]:
        """The members of one (method, preset, size, seed): one per backend when the suite
        sweeps backends and they train with Keras, else one."""
        if self.backends and self._uses_keras(method, preset):
            return [self._member(method, preset, size, seed, b) for b in self.backends]
        return [self._member(method, preset, size, seed)]

    def _member(self, method: str, preset: str, size: int | None, seed: int,
                backend: str | None = None) -> Member:
        """One member; `size` None is the standard protocol: every image the split has;
        `backend` None: the spec's (not a dimension of the suite)."""
        names = _field_names(method)
        values = {k: v for k, v in self.overrides.items() if k in names}
        values.update(samples=size, seed=seed)
        if method == "vgg16":
            values["input_size"] = self.vgg_input_size
        if backend is not None:
            values["backend"] = backend
        shown = "all images (standard protocol)" if size is None else f"{size:,} images"
        label = f"{method}{f' · {backend}' if backend else ''} {preset} {shown} seed {seed}"
        try:
            spec = build_spec(method, preset, values)
        except SpecError as exc:
            raise SpecError(f"{label}: {exc}") from None
        d = spec.to_dict()
        keys = ["job", "preset", "samples", "seed", *sorted(set(values) - {"samples", "seed"})]
        settings = {k: d[k] for k in keys}
        return Member(key=member_key(settings), label=label, job=method, preset=preset,
                      size=size, seed=seed, spec=d, settings=settings)


@dataclass(frozen=True)
class Member:
    key: str            # member_key(settings)
    label: str
    job: str
    preset: str
    size: int | None
    seed: int
    spec: dict[str, Any]          # the whole spec it runs with today
    # what the suite sets: the member's identity
    settings: dict[str, Any] = field(default_factory=dict)


def member_key(settings: dict[str, Any]) -> str:
    """A member's identity: the canonical JSON of the settings the suite sets for it."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _field_names(job: str) -> set[str]:
    return {f.name for f in _fields(SPEC_CLASSES[job])}


def _fields(cls: type) -> tuple[Field[Any], ...]:
    from dataclasses import fields

    return fields(cls)


def _owned_hint(name: str) -> str:
    return {"seed": "use --seeds", "input_size": "use --vgg-input-size",
            "preset": "use --presets",
            "samples": "use --sizes"}.get(name, "the suite sets it")


def _check_shapes(name: str, data: dict[str, Any]) -> None:
    """SpecError unless a recorded suite spec's lists are lists (of names, for methods, presets and
    protocols) and its overrides an object: `"methods": 5`, `null` or `[["x"]]` was a
    TypeError deep in the suite's code (exit 3, "internal error"), and `"methods": "cnn"` a
    suite of the methods c, n and n."""
    for k in _LIST_SETTINGS:
        if k in data and not isinstance(data[k], list):
            raise SpecError(f"suite {name}: {k} must be a list, got {_json_type(data[k])}")
    for k in _NAME_SETTINGS:
        if k in data and not all(isinstance(v, str) for v in data[k]):
            raise SpecError(f"suite {name}: {k} must be a list of names")
    if "overrides" in data and not isinstance(data["overrides"], dict):
        raise SpecError(f"suite {name}: overrides must be an object, got "
                        f"{_json_type(data['overrides'])}")


def _json_type(value: object) -> str:
    """What a JSON value is, in JSON's words (an error names it, never the value itself)."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _no_duplicates(flag: str, values: Iterable[object]) -> None:
    seen: set[object] = set()
    for v in values:
        if v in seen:
            raise SpecError(f"{flag}: {v} is given twice")
        seen.add(v)

