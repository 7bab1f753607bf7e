"""The suite report as types: what `report.py` computes and every form of it reads (the text,
Markdown, CSV and HTML forms, the charts, the Suites screen).

Frozen dataclasses, not pydantic models: nothing here is read back from a file, and a value
must stay what the records gave (an int timing stays an int; a model would coerce it to a
float and change the report's JSON). `SuiteReport.to_dict()` is the one place that turns the
report into the JSON (and CSV) form: the keys, their order and their values are the report's
published format, `report.json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Literal

# the statistics of a group, in the order the report lists them
STAT_KEYS = ("accuracy", "accuracy_majority", "accuracy_hungarian", "nmi", "ari", "fit_s",
             "predict_s", "total_s", "peak_rss_mb")


def _plain(value: object) -> object:
    """`value` as the report's JSON holds it: a dataclass as a dict of its fields in order, a
    verdict as its sentence, tuples as lists."""
    if isinstance(value, Verdict):
        return value.text
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _dict(value: object) -> dict[str, Any]:
    out = _plain(value)
    assert isinstance(out, dict)
    return out


@dataclass(frozen=True)
class Stat:
    """One statistic of a group over its finished seeds: mean, sample SD (None with one seed),
    min, max (as recorded: an int stays an int) and the number of values."""
    mean: float
    sd: float | None
    min: float
    max: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return _dict(self)


@dataclass(frozen=True)
class MemberRow:
    """One member of a suite (or one chosen run): its result record's values, flattened, and
    the derived times."""
    member: str
    key: str
    method: str
    preset: str
    images_requested: int | None
    images: int | None
    seed: int
    subset_seed: int | None
    status: str
    run_id: str | None
    accuracy: float | None
    accuracy_kind: str
    accuracy_majority: float | None
    accuracy_hungarian: float | None
    nmi: float | None
    ari: float | None
    loss: float | None
    n_eval: int | None
    eval_on: str | None
    fit_s: float | None
    fit_phases: str
    predict_s: float | None
    predict_phases: str
    total_s: float | None
    peak_rss_mb: float | None
    peak_rss_source: str | None
    vgg_input_size: int | None
    vgg_weights: str | None
    dataset: str | None
    dataset_fingerprint: str | None
    error: str | None
    # where it ran (`report_hardware`; None for a member with no run record): the executor, the
    # host and Ray node (its id's first characters), `Placement.where()`, its GPU and thread
    # share, which attempt, and how many members ran at once with it (measured, itself included)
    executor: str | None = None
    host: str | None = None
    node: str | None = None
    where: str | None = None
    gpu: str | None = None
    gpu_name: str | None = None
    threads: int | None = None
    cpus: int | None = None
    attempt: int | None = None
    retried_after: str | None = None
    concurrency: int | None = None
    # the Keras backend it trained with (None: a run that never imports Keras) and, once it
    # ran, what its result says of it ("jax (JAX 0.10.2, Keras 3.15.1)")
    backend: str | None = None
    backend_version: str | None = None

    @property
    def failed(self) -> bool:
        """Ended without finishing (not pending, not running, not finished)."""
        return self.status not in ("finished", "pending", "running")

    def to_dict(self) -> dict[str, Any]:
        return _dict(self)


VerdictKind = Literal["best", "within noise", "behind", "no result", "alone"]


@dataclass(frozen=True)
class Verdict:
    """A group's accuracy against the best it is compared with (`versus`, "method preset"):
    `diff_pts` its mean's difference in points; `noise_known` False with a single seed."""
    kind: VerdictKind
    versus: str | None = None
    diff_pts: float | None = None
    noise_known: bool = True

    @property
    def text(self) -> str:
        """The sentence the report shows (and its JSON holds)."""
        unknown = "" if self.noise_known else " (1 seed: noise unknown)"
        if self.kind == "no result":
            return "no result"
        if self.kind == "alone":       # the report's only group: compared with nothing
            return "–"
        if self.kind == "best":
            return "best" + unknown
        diff = f"{self.diff_pts or 0.0:+.1f} pts"
        if self.kind == "within noise":
            return f"within noise of {self.versus} ({diff})"
        return f"{diff} vs {self.versus}{unknown}"

    def __str__(self) -> str:
        return self.text


NO_RESULT = Verdict("no result")
ALONE = Verdict("alone")


@dataclass(frozen=True)
class GroupRow:
    """Rows with the same method, preset and images (and Keras backend, where the report's
    rows ran on several), aggregated over seeds (finished runs)."""
    method: str
    preset: str
    images: int | None
    protocol: str                   # "notebook" (a number of images) or "standard" (all)
    label: str
    n: int                          # finished runs
    n_members: int
    n_failed: int
    seeds: tuple[int, ...]
    run_ids: tuple[str | None, ...]
    fit_phases: str
    predict_phases: str
    vgg_input_size: int | None
    vgg_weights: str | None
    accuracy: Stat | None
    accuracy_majority: Stat | None
    accuracy_hungarian: Stat | None
    nmi: Stat | None
    ari: Stat | None
    fit_s: Stat | None
    predict_s: Stat | None
    total_s: Stat | None
    peak_rss_mb: Stat | None
    verdict: Verdict = NO_RESULT
    backend: str | None = None      # set only where the report compares several backends

    @property
    def method_name(self) -> str:
        """The method, with its backend where backends are compared: `cnn · jax`."""
        return self.method + (f" · {self.backend}" if self.backend else "")

    @property
    def name(self) -> str:
        """What a chart's line and a verdict call the group: `cnn · jax default`."""
        return f"{self.method_name} {self.preset}"

    def statistic(self, key: str) -> Stat | None:
        """The statistic named by one of `STAT_KEYS` (what a chart plots)."""
        return {"accuracy": self.accuracy, "accuracy_majority": self.accuracy_majority,
                "accuracy_hungarian": self.accuracy_hungarian, "nmi": self.nmi,
                "ari": self.ari, "fit_s": self.fit_s, "predict_s": self.predict_s,
                "total_s": self.total_s, "peak_rss_mb": self.peak_rss_mb}[key]

    def to_dict(self) -> dict[str, Any]:
        return _dict(self)


@dataclass(frozen=True)
class Degradation:
    """Per method and preset: accuracy at the smallest and the largest size, and the change in
    points (negative = lost with less data)."""
    method: str
    preset: str
    small: int
    large: int
    acc_small: float
    acc_large: float
    change_pts: float
    backend: str | None = None      # where the report compares backends


@dataclass(frozen=True)
class PhaseNames:
    """The phases summed into a method's fit and prediction times ("a+b", "" for none)."""
    fit: str
    predict: str


@dataclass(frozen=True)
class RunDetail:
    """What the report keeps of one run: settings, versions, machine, data, matrix, times (the
    values as its result record holds them; None where it has none)."""
    run_id: str
    member: str
    status: str
    spec: dict[str, Any]
    versions: dict[str, Any] | None
    machine: dict[str, Any] | None
    dataset: dict[str, Any] | None
    confusion_matrix: list[list[int]] | None
    confusion_mapping: str | None
    started_at: str | None
    finished_at: str | None
    timings: dict[str, float] | None
    error: str | None


@dataclass(frozen=True)
class SuiteReport:
    """A suite's report (or, with `suite["suite"] == "runs"`, a report of chosen runs).

    `suite` is the suite's spec as recorded (`SuiteSpec.to_dict()`; for chosen runs
    `{"suite": "runs", "run_ids": […], "seeds": […]}`): the report shows it as it is.
    `record_problems` is None for a report of chosen runs (its JSON has no such key)."""
    suite_id: str
    suite: dict[str, Any]
    status: str
    generated: str
    suite_dir: str
    definitions: Mapping[str, str]
    phases: dict[str, PhaseNames]
    rows: tuple[MemberRow, ...]
    groups: tuple[GroupRow, ...]
    degradation: tuple[Degradation, ...]
    runs: tuple[RunDetail, ...]
    record_problems: tuple[str, ...] | None = field(default=None)
    ran_on: str | None = None              # `report_hardware.ran_on`: executor, hosts, at once
    timing_warnings: tuple[str, ...] = ()  # times compared across hardware or concurrency

    @property
    def kind(self) -> str:
        """"seed", "sweep" or "runs"."""
        return str(self.suite.get("suite", "?"))

    @property
    def single_run(self) -> bool:
        """A report of one chosen run (an export from Runs or Results), not of a suite."""
        return self.kind == "runs" and len(self.rows) == 1

    @property
    def title(self) -> str:
        """What the report is called: `mnist-tui run <id>` for one run,
        `mnist-tui report of 3 runs — <id>` for chosen runs, else the suite's kind and id."""
        if self.kind == "runs":
            if self.single_run:
                return f"mnist-tui run {self.rows[0].run_id or self.suite_id}"
            return f"mnist-tui report of {len(self.rows)} runs — {self.suite_id}"
        return f"mnist-tui suite {self.kind} — {self.suite_id}"

    @property
    def seeds(self) -> list[object]:
        return list(self.suite.get("seeds") or [])

    @property
    def problems(self) -> tuple[str, ...]:
        return self.record_problems or ()

    def to_dict(self) -> dict[str, Any]:
        """The report as its JSON holds it (`report.json`, `--json`), keys in order."""
        out = _dict(self)
        if self.record_problems is None:
            del out["record_problems"]
        return out
