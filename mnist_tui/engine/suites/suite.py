"""Benchmark suites: a spec that expands into member job specs, and the folder that records it.

A suite is a spec like any job's: `SuiteSpec` names the suite and the parameters its members are
generated from (methods, presets, sizes, seeds, and job settings applied to every member that has
them). It is saved as `suite.json`; members are ordinary recorded runs.

    <runs-dir>/suites/<suite-id>/suite.json        the SuiteSpec (re-runnable)
                                 members.json      member key → run id (the latest attempt)
                                 measurements.json run id → what the suite measured itself
                                                   (peak memory of the worker)
                                 status.json       created | running | finished | failed |
                                                   interrupted, why, and who runs it
                                 lock              flock held by the runner (suite_lock.py)
                                 report.*          html, md, json, csv (written at the end)

status.json, members.json and measurements.json are typed, versioned records (records.py).

A member's key is the canonical JSON (sorted keys, no spaces) of the settings the suite itself
sets for it (`Member.settings`: job, preset, samples, seed, VGG16 input size and the suite's
explicit overrides), not of its whole spec: a field added to (or removed from) a spec class with
a default must not turn every recorded member into a pending one. A resumed suite reuses a run
when its recorded spec.json has those settings and its result is `finished`.
This module is light: no numpy.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import time
from collections.abc import Iterable, Sequence
from dataclasses import Field, asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mnist_tui.engine.errors import MnistTuiError, SpecError
from mnist_tui.engine.jobs.specs import (
    JOB_NAMES,
    SPEC_CLASSES,
    build_spec,
    flag_name,
    parse_value,
    spec_fields,
)
from mnist_tui.engine.runs import store as runs
from mnist_tui.engine.suites import records as suite_records
from mnist_tui.engine.suites.lock import SuiteLock
from mnist_tui.engine.suites.records import (
    ACTIVE,
    Measurement,
    Runner,
    SuiteMeasurements,
    SuiteMembers,
    SuiteRecordError,
    SuiteStatus,
)

SUITES_SUBDIR = "suites"
SUITE_FILE = "suite.json"
MEMBERS_FILE = "members.json"
MEASUREMENTS_FILE = "measurements.json"
STATUS_FILE = "status.json"
REAPED_REASON = "the runner process ended without finishing (killed, or its terminal closed)"

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
# The most member runs one suite may plan. The largest a user means is far below (every
# method, both presets, the six sweep sizes and 100 seeds: 2,400); `--sizes` and `--seeds`
# lists of 15,000 values each (or a suite.json saying so) planned 225 million member specs,
# for minutes and gigabytes, before a word was said.
MAX_MEMBERS = 10_000
_LIST_SETTINGS = ("methods", "presets", "sizes", "seeds", "protocols")
_NAME_SETTINGS = ("methods", "presets", "protocols")
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
    # job field → typed value, for every member whose job has that field
    overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.methods = tuple(self.methods)
        # "refined" (t-SNE + GMM, then self-training) joins both suites: methods without
        # that preset (VGG16, the CNN) skip it.
        if not self.presets:
            wanted = ("seed", "default", "refined") if self.name == "seed" else ("default",
                                                                                 "refined")
            self.presets = tuple(p for p in wanted if p == "default" or any(
                p in SPEC_CLASSES[m].presets for m in self.methods if m in SPEC_CLASSES))
        self.presets = tuple(self.presets)
        self.sizes = tuple(self.sizes) or (SEED_SIZES if self.name == "seed" else SWEEP_SIZES)
        self.seeds = tuple(self.seeds)
        self.protocols = tuple(self.protocols) or (PROTOCOLS if self.name == "seed"
                                                   else ("notebook",))
        self.overrides = dict(self.overrides)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("methods", "presets", "sizes", "seeds", "protocols"):
            d[k] = list(d[k])
        return {"suite": self.name, **{k: v for k, v in d.items() if k != "name"}}

    @classmethod
    def from_dict(cls, data: object) -> SuiteSpec:
        if not isinstance(data, dict) or data.get("suite") not in SUITE_NAMES:
            raise SpecError("not a suite spec (no known \"suite\" key)")
        data = dict(data)
        name = data.pop("suite")
        known = {"methods", "presets", "sizes", "seeds", "supervised_samples", "vgg_input_size",
                 "protocols", "overrides"}
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
                            out.append(self._member(method, preset, size, seed))
        if self.name == "seed" and "standard" in self.protocols:
            for seed in self.seeds:
                for method in self.methods:
                    for preset in ("default", "refined"):
                        if preset == "default" or (preset in self.presets
                                                   and preset in SPEC_CLASSES[method].presets):
                            out.append(self._member(method, preset, None, seed))
        if self.name != "seed":
            for seed in self.seeds:
                for size in self.sizes:
                    for method in self.methods:
                        for preset in self.presets:
                            if preset in SPEC_CLASSES[method].presets:
                                out.append(self._member(method, preset, size, seed))
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
                        count += len(self.sizes) if method == "tsne-gmm" else 1
            count *= len(self.seeds)
        if self.name == "seed" and "standard" in self.protocols:
            refined = sum(1 for m in self.methods if "refined" in self.presets
                          and fits(m, "refined"))
            count += len(self.seeds) * (len(self.methods) + refined)
        if self.name != "seed":
            pairs = sum(1 for m in self.methods for p in self.presets if fits(m, p))
            count += len(self.seeds) * len(self.sizes) * pairs
        return count

    def _member(self, method: str, preset: str, size: int | None, seed: int) -> Member:
        """One member; `size` None is the standard protocol: every image the split has."""
        names = _field_names(method)
        values = {k: v for k, v in self.overrides.items() if k in names}
        values.update(samples=size, seed=seed)
        if method == "vgg16":
            values["input_size"] = self.vgg_input_size
        shown = "all images (standard protocol)" if size is None else f"{size:,} images"
        label = f"{method} {preset} {shown} seed {seed}"
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


def key_for_spec(spec: object, names: Sequence[str]) -> str | None:
    """The member key a recorded spec would have for a member set by `names` (None if the spec
    lacks one of them)."""
    if not isinstance(spec, dict) or any(n not in spec for n in names):
        return None
    return member_key({n: spec[n] for n in names})


def has_settings(spec: object, settings: dict[str, Any]) -> bool:
    """True when `spec` holds every one of `settings` (compared as JSON: 30 == 30.0, a tuple is
    a list)."""
    return isinstance(spec, dict) and all(
        n in spec and _as_json(spec[n]) == _as_json(v) for n, v in settings.items())


def compatible(recorded: dict[str, Any], current: dict[str, Any]) -> bool:
    """Every setting both specs have is equal; one only one of them has (a field added or
    removed since the run) does not count."""
    return all(_as_json(recorded[k]) == _as_json(current[k]) for k in recorded.keys() & current)


def _as_json(v: object) -> Any:
    return json.loads(json.dumps(v))


def _field_names(job: str) -> set[str]:
    from dataclasses import fields

    return {f.name for f in fields(SPEC_CLASSES[job])}


def _owned_hint(name: str) -> str:
    return {"seed": "use --seeds", "input_size": "use --vgg-input-size",
            "preset": "use --presets",
            "samples": "use --sizes"}.get(name, "the suite sets it")


def _check_shapes(name: str, data: dict[str, Any]) -> None:
    """SpecError unless a suite.json's lists are lists (of names, for methods, presets and
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


def parse_int_list(flag: str, text: str, minimum: int = 0) -> tuple[int, ...]:
    """`250,500,1000` → (250, 500, 1000); SpecError naming the flag otherwise."""
    out = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            value = int(part.replace("_", ""), 10)
        except ValueError:
            raise SpecError(f"{flag}: expected comma-separated integers, got {part!r}") from None
        if value < minimum:
            raise SpecError(f"{flag}: {value} is below the minimum {minimum}")
        out.append(value)
    if not out:
        raise SpecError(f"{flag}: give at least one value")
    return tuple(out)


def parse_seeds(text: str) -> tuple[int, ...]:
    """`3` → seeds 0, 1, 2; `0,7,9` → exactly those."""
    text = text.strip()
    if "," not in text:
        try:
            n = int(text, 10)
        except ValueError:
            raise SpecError(f"--seeds: expected a count (3) or a list (0,1,2), got {text!r}") \
                from None
        if not 1 <= n <= 100:
            raise SpecError(f"--seeds: a count from 1 to 100, got {n}")
        return tuple(range(n))
    return parse_int_list("--seeds", text)



def seeds_text(seeds: Iterable[int]) -> str:
    """What `parse_seeds` reads back as exactly `seeds`: a count (`3` is 0, 1, 2), else a list
    (`0,7,9`; one seed other than 0 is `7,`, since `7` alone is a count)."""
    seeds = [int(s) for s in seeds]
    if seeds == list(range(len(seeds))):
        return str(len(seeds))
    return ",".join(map(str, seeds)) + ("," if len(seeds) == 1 else "")


def parse_options(text: str) -> dict[str, str]:
    """`dataset=digits iterations=260 --epochs 1` → {"dataset": "digits", "iterations": "260",
    "epochs": "1"}: job options typed as one line (the Suites form), the `given` of
    `suite_spec_from_text`, applied to every member they fit (as `--batch --suite`)."""
    out: dict[str, str] = {}
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise SpecError(f"options: {exc}") from None
    i = 0
    while i < len(tokens):
        tok = tokens[i].lstrip("-")
        if "=" in tok:
            name, _, value = tok.partition("=")
        elif tokens[i].startswith("--") and i + 1 < len(tokens):
            name, value = tok, tokens[i + 1]
            i += 1
        else:
            raise SpecError(f"options: expected name=value, got {tokens[i]!r}")
        out[name.strip().replace("-", "_")] = value
        i += 1
    return out

# -- the suite folder ------------------------------------------------------------------------

def new_suite_id(name: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{name}-{secrets.token_hex(3)}"


class SuiteFolder:
    """One suite's folder: its spec, member → run mapping, measurements and status."""

    def __init__(self, runs_dir: Path, suite_id: str) -> None:
        self.runs_dir = Path(runs_dir)
        self.suite_id = suite_id
        self.path = self.runs_dir / SUITES_SUBDIR / suite_id
        self.lock = SuiteLock(self.path, suite_id)   # held by whoever runs the suite

    @classmethod
    def create(cls, runs_dir: Path, spec: SuiteSpec, rerun_of: str | None = None) -> SuiteFolder:
        folder = cls(runs_dir, new_suite_id(spec.name))
        folder.path.mkdir(parents=True, exist_ok=False)
        runs.atomic_write_json(folder.path / SUITE_FILE, spec.to_dict())
        suite_records.write(folder.path / MEMBERS_FILE, SuiteMembers())
        suite_records.write(folder.path / MEASUREMENTS_FILE, SuiteMeasurements())
        folder.write_status("created", rerun_of=rerun_of, runner=Runner.current())
        return folder

    @classmethod
    def open(cls, runs_dir: Path, suite_id: str) -> SuiteFolder:
        folder = cls(runs_dir, suite_id)
        if not suite_id or "/" in suite_id or suite_id.startswith("."):
            raise MnistTuiError(f"no suite {suite_id!r} in {runs_dir / SUITES_SUBDIR}")
        try:
            found = (folder.path / SUITE_FILE).is_file()
        except OSError as exc:     # a folder that cannot be searched (chmod 000)
            raise MnistTuiError(f"suite {suite_id!r} cannot be read: "
                                f"{_unreadable(folder.path, exc)}") from None
        if not found:
            raise MnistTuiError(f"no suite {suite_id!r} in {runs_dir / SUITES_SUBDIR}")
        return folder

    def spec(self) -> SuiteSpec:
        try:
            data = runs.read_json(self.path / SUITE_FILE)
        except (OSError, ValueError) as exc:
            raise MnistTuiError(f"{self.path / SUITE_FILE}: cannot be read ({exc})") from None
        return SuiteSpec.from_dict(data)

    def members(self) -> dict[str, str]:
        """Member key → run id (SuiteRecordError when members.json cannot be read). Keys of a
        version-0 file (whole specs) are converted to today's keys of this suite's members."""
        record = suite_records.read_members(self.path / MEMBERS_FILE)
        if record.schema_version == 0 and record.members:
            return self._convert_old_keys(record.members)
        return dict(record.members)

    def _convert_old_keys(self, old: dict[str, str]) -> dict[str, str]:
        names = {m.job: tuple(m.settings) for m in self.spec().members()}
        out: dict[str, str] = {}
        for key, run_id in old.items():
            try:
                spec = json.loads(key)
            except ValueError:
                spec = None
            job = spec.get("job") if isinstance(spec, dict) else None
            job_names = names.get(job) if isinstance(job, str) else None
            new = key_for_spec(spec, job_names) if job_names else None
            out.pop(new or key, None)          # a later entry is a later attempt: it wins
            out[new or key] = run_id
        return out

    def set_member(self, key: str, run_id: str) -> None:
        data = self.members()
        data[key] = run_id
        suite_records.write(self.path / MEMBERS_FILE, SuiteMembers(data))

    def measurements(self) -> SuiteMeasurements:
        """measurements.json (empty before there is one; SuiteRecordError when unreadable)."""
        return suite_records.read_measurements(self.path / MEASUREMENTS_FILE)

    def set_measurement(self, run_id: str, measurement: Measurement) -> None:
        """Record one run's measurement. An unreadable file is replaced, not kept: what it held
        cannot be read by anyone, and the suite must not stop over a supplementary record."""
        try:
            record = self.measurements()
        except SuiteRecordError:
            record = SuiteMeasurements()
        suite_records.write(self.path / MEASUREMENTS_FILE, record.with_run(run_id, measurement))

    def read_status(self) -> SuiteStatus | None:
        """status.json (None before there is one; SuiteRecordError when it cannot be read)."""
        return suite_records.read_status(self.path / STATUS_FILE)

    def status(self) -> dict[str, Any]:
        """status.json as a dict for display: {} when missing or unreadable."""
        try:
            st = self.read_status()
        except SuiteRecordError:
            return {}
        return st.to_dict() if st else {}

    def write_status(self, status: str, **changes: Any) -> None:
        """Record `status`, keeping the other fields (an unreadable file starts afresh). The
        reason belongs to one status: it is cleared unless given."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        try:
            old = self.read_status()
        except SuiteRecordError:
            old = None
        base = old or SuiteStatus(suite_id=self.suite_id, status=status, created=now,
                                  updated=now)
        changes.setdefault("reason", None)
        if "failed" in changes:
            changes["failed"] = tuple(changes["failed"])
        suite_records.write(self.path / STATUS_FILE, replace(
            base, suite_id=self.suite_id, status=status, updated=now, **changes))

    def finished_run(self, member: Member) -> str | None:
        """The run id recorded for this member if that run finished with the member's settings."""
        run_id = self.members().get(member.key)
        if run_id and run_matches(self.runs_dir, run_id, member.key):
            return run_id
        return None


def is_run_id(run_id: str) -> bool:
    """Could `run_id` (read from members.json) name a folder in the runs folder itself? A
    path (`../x`, `/tmp/x`), a hidden name or an empty one cannot: reading it would read
    outside the runs folder, or the folder itself."""
    return bool(run_id) and "/" not in run_id and "\0" not in run_id \
        and not run_id.startswith(".")


def run_problem(runs_dir: Path, run_id: str) -> str | None:
    """Why run `run_id`'s records cannot be read (its folder or spec/result.json: chmod 000,
    an I/O error, not JSON); None when they can, or when it has no folder."""
    p = Path(runs_dir) / run_id
    if not is_run_id(run_id):
        return None
    try:
        if not p.exists():
            return None
        runs.read_json(p / runs.SPEC_FILE)
        if (p / runs.RESULT_FILE).exists():
            runs.read_json(p / runs.RESULT_FILE)
    except OSError as exc:
        return _unreadable(p, exc)
    except ValueError as exc:
        return str(exc)
    return None


def _unreadable(path: Path, exc: OSError) -> str:
    """`cannot read <file>: Permission denied`: the file that failed, and why."""
    return f"cannot read {exc.filename or path}: {exc.strerror or exc}"


def run_matches(runs_dir: Path, run_id: str, key: str) -> bool:
    """True when run `run_id` finished and its spec.json holds the settings of member `key`."""
    p = Path(runs_dir) / run_id
    if not is_run_id(run_id):
        return False
    try:
        settings = json.loads(key)
        spec = runs.read_json(p / runs.SPEC_FILE)
        result = runs.read_json(p / runs.RESULT_FILE)
    except (OSError, ValueError):
        return False
    return (isinstance(result, dict) and result.get("status") == "finished"
            and isinstance(settings, dict) and has_settings(spec, settings))


def finished_runs_by_key(runs_dir: Path, members: list[Member],
                         skipped: list[runs.Skipped] | None = None) -> dict[str, str]:
    """Finished runs anywhere in the store that can stand for one of `members`, by member key
    (the newest when several match: by the UTC start each run recorded, not by its id's local
    time). A run the suite did not make must have the member's settings *and* agree with its
    whole spec where both have a field: a run made by hand with another --perplexity is not
    the member. Run folders that cannot be read are appended to `skipped`."""
    wanted = {m.key: m for m in members}
    names = {m.job: tuple(m.settings) for m in members}
    out: dict[str, str] = {}
    listed, unreadable = runs.RunStore(runs_dir).listing()
    if skipped is not None:
        skipped.extend(unreadable)
    for info in reversed(listed):   # oldest first: newest wins
        if info.status != "finished" or info.job not in names:
            continue
        key = key_for_spec(info.spec, names[info.job])
        m = wanted.get(key) if key is not None else None
        if m is not None and compatible(info.spec, m.spec):
            out[m.key] = info.run_id
    return out


def list_suites(runs_dir: Path) -> list[str]:
    """The suite ids under `runs_dir`, newest first; unreadable folders are left out (see
    `scan_suites`, which says which and why)."""
    return scan_suites(runs_dir)[0]


def scan_suites(runs_dir: Path) -> tuple[list[str], list[runs.Skipped]]:
    """The suite ids (newest first) and the suite folders that could not be read, each with
    why: one `chmod 000` folder is skipped and named, never the end of the listing."""
    root = Path(runs_dir) / SUITES_SUBDIR
    ids: list[str] = []
    skipped: list[runs.Skipped] = []
    try:
        if not root.is_dir():
            return ids, skipped
        entries = list(root.iterdir())
    except OSError as exc:
        return ids, [runs.Skipped(str(root), _unreadable(root, exc))]
    for p in entries:
        if p.name.startswith("."):
            continue
        try:
            if not (p / SUITE_FILE).is_file() and not os.path.lexists(p / SUITE_FILE):
                continue           # not a suite folder (or one being created)
            # read as a resume would: a FIFO, a device, a link loop or a file that is not
            # a suite spec is a skipped folder named with why, never a suite that fails later
            SuiteSpec.from_dict(runs.read_json(p / SUITE_FILE))
        except OSError as exc:
            skipped.append(runs.Skipped(p.name, _unreadable(p, exc)))
        except (ValueError, TypeError, MnistTuiError) as exc:
            skipped.append(runs.Skipped(p.name, str(exc) or type(exc).__name__))
        else:
            ids.append(p.name)
    return sorted(ids, reverse=True), skipped


def reap_suites(runs_dir: Path) -> list[str]:
    """Record as interrupted the suites of this host that say created/running but whose runner
    process is gone (killed, its terminal closed); returns their ids. Runs' `RunStore.reap` does
    the same for runs. Other hosts' suites, suites that name no runner (written before runners
    were recorded) and unreadable status files are left alone; a suite whose lock is held is
    being run (a new runner that has not written its status yet) and is left alone too."""
    reaped = []
    for suite_id in list_suites(runs_dir):
        folder = SuiteFolder(runs_dir, suite_id)
        try:
            if not _stale(folder) or not folder.lock.try_acquire():
                continue
        except MnistTuiError:       # a folder we cannot lock (read-only): not ours to change
            continue
        try:
            if _stale(folder):      # again, under the lock: it may have ended meanwhile
                folder.write_status("interrupted", reason=REAPED_REASON)
                reaped.append(suite_id)
        except OSError:
            pass
        finally:
            folder.lock.release()
    return reaped


def _stale(folder: SuiteFolder) -> bool:
    try:
        st = folder.read_status()
    except SuiteRecordError:
        return False
    return (st is not None and st.status in ACTIVE and st.runner is not None
            and not st.runner.alive())


def _field_for(name: str, methods: Iterable[str]) -> Field[Any] | None:
    for job in methods:
        for f in spec_fields(job):
            if f.name == name:
                return f
    return None


def suite_spec_from_text(suite: str, *, methods: str | None = None, presets: str | None = None,
                         sizes: str | None = None, seeds: str | None = None,
                         protocols: str | None = None, vgg_input_size: str | None = None,
                         given: dict[str, Any]) -> SuiteSpec:
    """A validated SuiteSpec from what a person typed (the batch flags or the Suites form):
    comma lists as text, job settings in `given` as text. SpecError with a one-line reason."""
    kw: dict[str, Any] = {}
    names = tuple(m.strip() for m in methods.split(",") if m.strip()) if methods else JOB_NAMES
    kw["methods"] = names
    if presets:
        kw["presets"] = tuple(p.strip() for p in presets.split(",") if p.strip())
    if sizes:
        kw["sizes"] = parse_int_list("--sizes", sizes, minimum=20)
    kw["seeds"] = parse_seeds(seeds) if seeds else ((0,) if suite == "seed" else (0, 1, 2))
    if protocols:
        kw["protocols"] = tuple(p.strip() for p in protocols.split(",") if p.strip())
    if vgg_input_size:
        kw["vgg_input_size"] = parse_int_list("--vgg-input-size", vgg_input_size)[0]
    given = dict(given)
    if "samples" in given:
        if suite != "seed":
            raise SpecError("--samples cannot be used with --suite sweep (use --sizes)")
        value = given.pop("samples")
        kw["supervised_samples"] = parse_int_list("--samples", value, minimum=20)[0]
    if "data_dir" not in given and os.environ.get("MNIST_TUI_DATA_DIR") \
            and given.get("dataset") != "digits":
        given["data_dir"] = os.environ["MNIST_TUI_DATA_DIR"]
    if given.get("data_dir"):
        given["data_dir"] = str(Path(given["data_dir"]).expanduser().resolve())
    overrides: dict[str, Any] = {}
    for name, text in given.items():
        f = _field_for(name, [m for m in names if m in JOB_NAMES] or JOB_NAMES)
        if f is None:
            raise SpecError(f"--{flag_name(name)} does not apply to any method of this suite "
                            f"({', '.join(names)})")
        overrides[name] = text if isinstance(text, bool) else parse_value(f, text)
    return SuiteSpec(name=suite, overrides=overrides, **kw).validate()
