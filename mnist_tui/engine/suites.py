"""Benchmark suites: a spec that expands into member job specs, and the folder that records it.

A suite is a spec like any job's: `SuiteSpec` names the suite and the parameters its members are
generated from (methods, presets, sizes, seeds, and job settings applied to every member that has
them). It is saved as `suite.json`; members are ordinary recorded runs.

    <runs-dir>/suites/<suite-id>/suite.json        the SuiteSpec (re-runnable)
                                 members.json      member key → run id (the latest attempt)
                                 measurements.json run id → what the suite measured itself
                                                   (peak memory of the worker)
                                 status.json       running | finished | failed | interrupted
                                 report.*          html, md, json, csv (written at the end)

A member's key is its spec's canonical JSON (sorted keys, no spaces): a resumed suite reuses a
run when its recorded spec.json has exactly that key and its result is `finished`.
This module is light: no numpy.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mnist_tui.engine import runs
from mnist_tui.engine.errors import MnistTuiError, SpecError
from mnist_tui.engine.specs import JOB_NAMES, SPEC_CLASSES, build_spec, flag_name

SUITES_SUBDIR = "suites"
SUITE_FILE = "suite.json"
MEMBERS_FILE = "members.json"
MEASUREMENTS_FILE = "measurements.json"
STATUS_FILE = "status.json"

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
    overrides: dict = field(default_factory=dict)  # job field → typed value, for every member
    #                                                  whose job has that field

    def __post_init__(self) -> None:
        self.methods = tuple(self.methods)
        self.presets = tuple(self.presets) or (("seed", "default") if self.name == "seed"
                                               else ("default",))
        self.sizes = tuple(self.sizes) or (SEED_SIZES if self.name == "seed" else SWEEP_SIZES)
        self.seeds = tuple(self.seeds)
        self.protocols = tuple(self.protocols) or (PROTOCOLS if self.name == "seed"
                                                   else ("notebook",))
        self.overrides = dict(self.overrides)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("methods", "presets", "sizes", "seeds", "protocols"):
            d[k] = list(d[k])
        return {"suite": self.name, **{k: v for k, v in d.items() if k != "name"}}

    @classmethod
    def from_dict(cls, data: dict) -> SuiteSpec:
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
                raise SpecError(f"--presets: unknown preset {p!r} (choose from seed, default)")
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
        """The member runs in the order they run, each with a validated spec."""
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
                    out.append(self._member(method, "default", None, seed))
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
        return Member(key=member_key(d), label=label, job=method, preset=preset, size=size,
                      seed=seed, spec=d)


@dataclass(frozen=True)
class Member:
    key: str
    label: str
    job: str
    preset: str
    size: int | None
    seed: int
    spec: dict


def member_key(spec_dict: dict) -> str:
    """The exact identity of a member: its spec's canonical JSON."""
    return json.dumps(spec_dict, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _field_names(job: str) -> set[str]:
    from dataclasses import fields

    return {f.name for f in fields(SPEC_CLASSES[job])}


def _owned_hint(name: str) -> str:
    return {"seed": "use --seeds", "input_size": "use --vgg-input-size",
            "preset": "use --presets",
            "samples": "use --sizes"}.get(name, "the suite sets it")


def _no_duplicates(flag: str, values) -> None:
    seen = set()
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


# -- the suite folder ------------------------------------------------------------------------

def new_suite_id(name: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{name}-{secrets.token_hex(3)}"


class SuiteFolder:
    """One suite's folder: its spec, member → run mapping, measurements and status."""

    def __init__(self, runs_dir: Path, suite_id: str) -> None:
        self.runs_dir = Path(runs_dir)
        self.suite_id = suite_id
        self.path = self.runs_dir / SUITES_SUBDIR / suite_id

    @classmethod
    def create(cls, runs_dir: Path, spec: SuiteSpec, rerun_of: str | None = None) -> SuiteFolder:
        folder = cls(runs_dir, new_suite_id(spec.name))
        folder.path.mkdir(parents=True, exist_ok=False)
        runs.atomic_write_json(folder.path / SUITE_FILE, spec.to_dict())
        runs.atomic_write_json(folder.path / MEMBERS_FILE, {})
        runs.atomic_write_json(folder.path / MEASUREMENTS_FILE, {})
        folder.write_status("created", rerun_of=rerun_of)
        return folder

    @classmethod
    def open(cls, runs_dir: Path, suite_id: str) -> SuiteFolder:
        folder = cls(runs_dir, suite_id)
        if (not suite_id or "/" in suite_id or suite_id.startswith(".")
                or not (folder.path / SUITE_FILE).is_file()):
            raise MnistTuiError(f"no suite {suite_id!r} in {runs_dir / SUITES_SUBDIR}")
        return folder

    def spec(self) -> SuiteSpec:
        try:
            data = runs.read_json(self.path / SUITE_FILE)
        except (OSError, ValueError) as exc:
            raise MnistTuiError(f"{self.path / SUITE_FILE}: cannot be read ({exc})") from None
        return SuiteSpec.from_dict(data)

    def _read(self, name: str) -> dict:
        p = self.path / name
        try:
            data = runs.read_json(p) if p.is_file() else {}
        except (OSError, ValueError):
            data = {}
        return data if isinstance(data, dict) else {}

    def members(self) -> dict[str, str]:
        return self._read(MEMBERS_FILE)

    def set_member(self, key: str, run_id: str) -> None:
        data = self.members()
        data[key] = run_id
        runs.atomic_write_json(self.path / MEMBERS_FILE, data)

    def measurements(self) -> dict[str, dict]:
        return self._read(MEASUREMENTS_FILE)

    def set_measurement(self, run_id: str, values: dict) -> None:
        data = self.measurements()
        data[run_id] = values
        runs.atomic_write_json(self.path / MEASUREMENTS_FILE, data)

    def status(self) -> dict:
        return self._read(STATUS_FILE)

    def write_status(self, status: str, **extra) -> None:
        data = {**self.status(), "suite_id": self.suite_id, "status": status,
                "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
        data.setdefault("created", data["updated"])
        runs.atomic_write_json(self.path / STATUS_FILE, data)

    def finished_run(self, member: Member) -> str | None:
        """The run id recorded for this member if that run finished with exactly its spec."""
        run_id = self.members().get(member.key)
        if run_id and run_matches(self.runs_dir, run_id, member.key):
            return run_id
        return None


def run_matches(runs_dir: Path, run_id: str, key: str) -> bool:
    """True when run `run_id` finished and its spec.json is exactly `key`."""
    p = Path(runs_dir) / run_id
    if not run_id or "/" in run_id or run_id.startswith("."):
        return False
    try:
        spec = runs.read_json(p / runs.SPEC_FILE)
        result = runs.read_json(p / runs.RESULT_FILE)
    except (OSError, ValueError):
        return False
    return (isinstance(result, dict) and result.get("status") == "finished"
            and isinstance(spec, dict) and member_key(spec) == key)


def finished_runs_by_key(runs_dir: Path) -> dict[str, str]:
    """Every finished run in the store by member key (the newest when several match)."""
    out: dict[str, str] = {}
    for info in reversed(runs.RunStore(runs_dir).list()):   # oldest first: newest wins
        if info.status == "finished":
            out[member_key(info.spec)] = info.run_id
    return out


def list_suites(runs_dir: Path) -> list[str]:
    root = Path(runs_dir) / SUITES_SUBDIR
    if not root.is_dir():
        return []
    return sorted((p.name for p in root.iterdir() if (p / SUITE_FILE).is_file()), reverse=True)
