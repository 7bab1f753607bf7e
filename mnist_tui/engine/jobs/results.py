"""What a run ends with: the typed result record (the run folder's, a terminal event's `result`).

Every front end (batch summary and JSON, the TUI's screens, suite rows and reports) reads a run's
outcome through these models, so a key is named, typed and checked once, here. Validation is
pydantic v2 in strict mode (no "1" → 1 coercion) with one rule added: a field whose value has
the wrong type, or a number that is NaN or infinite, falls back to its default instead of
rejecting the record. A planted or old result record therefore still reads; what it got wrong is
simply absent. Job-specific fields that a record did not set are not written back, so a
result's JSON keeps exactly the keys its job produced.

`headline()` is the one rule for "the accuracy of this run": a classifier's held-out accuracy,
a clustering's one-to-one (Hungarian) accuracy.

Lives in `jobs` (not `runs`) because the events a job emits carry it, and events sit below runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_serializer,
    field_validator,
    model_validator,
)

from mnist_tui.engine.jobs.jsonvalues import plain

TERMINAL_STATUSES = ("finished", "failed", "cancelled", "interrupted")
CLUSTERING_JOBS = ("tsne-gmm",)
CLASSIFIER_JOBS = ("vgg16", "cnn")
HUNGARIAN = "one-to-one (Hungarian)"
MAJORITY = "majority vote (many-to-one)"
HELD_OUT = "held-out"


class Record(BaseModel):
    """A record read from disk or a worker: strict types, and a bad field is its default."""

    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False,
                              validate_default=False)

    @field_validator("*", mode="wrap")
    @classmethod
    def _default_when_wrong(cls, value: Any, handler: ValidatorFunctionWrapHandler,
                            info: ValidationInfo) -> Any:
        try:
            return handler(value)
        except ValidationError:
            name = info.field_name
            assert name is not None
            return cls.model_fields[name].get_default(call_default_factory=True)

    _dropped: frozenset[str] = PrivateAttr(default=frozenset())

    @model_validator(mode="wrap")
    @classmethod
    def _note_dropped(cls, data: Any, handler: Callable[[Any], Record]) -> Record:
        """Remember which fields held a value this record could not take (shown as a note).
        A job's numpy values, Paths and NaN become the JSON values they are written as first."""
        if isinstance(data, dict):
            data = plain(data)
        record = handler(data)
        if isinstance(data, dict):
            dropped = set()
            for name, f in cls.model_fields.items():
                default = f.get_default(call_default_factory=True)
                given, value = data.get(name, default), getattr(record, name)
                if isinstance(value, Record):
                    continue                      # a part notes its own (`part.dropped`)
                if given is not None and given != default and value == default:
                    dropped.add(name)
            record._dropped = frozenset(dropped)
        return record

    @property
    def dropped(self) -> frozenset[str]:
        """Fields whose recorded value had the wrong type (or was NaN/infinite): now defaults."""
        return self._dropped

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: every field this record was given (or its job sets), nothing more."""
        return self.model_dump(mode="json", exclude_unset=True)


# -- metrics -----------------------------------------------------------------------------------

class ClusteringMetrics(Record):
    """A clustering scored against the true digits, under both cluster→digit mappings."""

    model_config = ConfigDict(extra="allow")

    accuracy_hungarian: float | None = None    # one cluster per digit (the honest number)
    accuracy_majority: float | None = None     # each cluster its majority digit (many-to-one)
    nmi: float | None = None
    ari: float | None = None
    per_class_recall_hungarian: list[float | None] | None = None
    per_class_recall_majority: list[float | None] | None = None


class ClassifierMetrics(Record):
    """A classifier scored on images it never trained on (`eval_split` says which)."""

    model_config = ConfigDict(extra="allow")

    accuracy: float | None = None
    loss: float | None = None
    eval_split: str | None = None
    n_eval: int | None = None
    per_class_precision: list[float | None] | None = None
    per_class_recall: list[float | None] | None = None
    train_accuracy: float | None = None
    val_accuracy: float | None = None
    val_loss: float | None = None


Metrics = ClusteringMetrics | ClassifierMetrics


def metrics_for(job: object, data: object) -> Metrics:
    """A `metrics` dict as its job's model (an unknown job: by the keys it has)."""
    clustering = job in CLUSTERING_JOBS or (
        job not in CLASSIFIER_JOBS and isinstance(data, dict) and "accuracy" not in data
        and "accuracy_hungarian" in data)
    model: type[Record] = ClusteringMetrics if clustering else ClassifierMetrics
    out = model.model_validate(data if isinstance(data, dict) else {})
    assert isinstance(out, (ClusteringMetrics, ClassifierMetrics))
    return out


@dataclass(frozen=True)
class Headline:
    """The accuracy a run is known by, and what kind of accuracy it is."""

    value: float | None
    kind: str


# -- the parts of a result ---------------------------------------------------------------------

class RecordedDataset(Record):
    """the result record's `dataset`: what the run read (Dataset.describe() plus the images used)."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    published: bool | None = None
    description: str | None = None
    source: str | None = None
    splits: dict[str, int] = Field(default_factory=dict)
    image_shape: list[int] | None = None
    fingerprint: str | None = None
    note: str | None = None
    files: list[dict[str, Any]] = Field(default_factory=list)
    n_samples: int | None = None
    available: int | None = None

    def label(self) -> str:
        """How it is shown (`naming.dataset_label`): a record from before data was verified
        says so."""
        from mnist_tui.engine.data.naming import dataset_label

        return dataset_label(self.to_dict())

    def key(self) -> str | None:
        """Its short name for tables (`naming.dataset_key`)."""
        from mnist_tui.engine.data.naming import dataset_key

        return dataset_key(self.to_dict())


class Placement(Record):
    """Where a suite member ran (the result's `placement`; `engine/placement.py` writes it):
    which executor, on which host and Ray node, with how many cores' thread pools and which
    GPU, and which attempt it was. A run started on its own has none."""

    executor: str | None = None          # local | ray
    host: str | None = None
    node: str | None = None              # the Ray node's id
    parallel: int | None = None          # members the suite ran at once at most
    threads: int | None = None           # its thread pools' size (None: every core)
    cpus: int | None = None              # cores the machine let it use
    gpu: str | None = None               # its CUDA_VISIBLE_DEVICES ("": none; None: not set)
    gpu_name: str | None = None
    attempt: int = 1                     # 2: its first node or worker died, retried once
    retried_after: str | None = None     # why the first attempt ended

    def where(self) -> str:
        """`host (GPU 1: NVIDIA H100)` or `host (2 of 16 cores)`: for tables and lines."""
        return f"{self.host or '?'} ({self.share()})"

    def share(self) -> str:
        """What of its machine it had: `GPU 1: NVIDIA H100`, or its thread share (`1 of 2
        cores`, `4 cores`, `all 16 cores`, `every core`)."""
        if self.gpu:
            return f"GPU {self.gpu}" + (f": {self.gpu_name}" if self.gpu_name else "")
        if self.threads and self.cpus:
            return f"{self.threads} of {self.cpus} cores"
        if self.threads:
            return f"{self.threads} core{'s' if self.threads > 1 else ''}"
        return "every core" if self.cpus is None else f"all {self.cpus} cores"


class MachineLoad(Record):
    """How busy the machine was while a run went, so that its times explain themselves (the
    result's `load`; the worker writes it from `sysmon.SelfMonitor.load`): the 1-minute load
    average at its start, at its end and on average over the run, the CPUs the worker could
    use, and the worker's nice level. Records from before it have none."""

    load_start: float | None = None
    load_end: float | None = None
    load_mean: float | None = None
    cpus: int | None = None
    nice: int | None = None

    def load(self) -> float | None:
        """The one load shown: the mean over the run, else the larger of start and end."""
        if self.load_mean is not None:
            return self.load_mean
        known = [v for v in (self.load_start, self.load_end) if v is not None]
        return max(known) if known else None

    def text(self) -> str:
        """`load 3.8 · nice 10` (what is known of it; "" when nothing is)."""
        load = self.load()
        parts = ([f"load {load:.1f}"] if load is not None else []) + (
            [f"nice {self.nice}"] if self.nice is not None else [])
        return " · ".join(parts)


class Misclassified(Record):
    """One wrongly predicted evaluation image: its index in the data, the truth, the guess."""

    index: int = -1
    true: int = -1
    pred: int = -1


class RunResult(Record):
    """The result record: the envelope every run has, and the job-specific fields, all typed.

    Unknown keys (from a newer worker) are kept in `extra` and written back unchanged."""

    model_config = ConfigDict(extra="allow")

    # Always written (the envelope).
    status: str = "failed"
    job: str | None = None
    preset: str | None = None
    seed: int | None = None
    subset_seed: int | None = None
    run_id: str | None = None
    run_dir: str | None = None
    rerun_of: str | None = None
    spec: dict[str, Any] = Field(default_factory=dict)
    started_at: str | None = None
    started_utc: str | None = None    # as the meta record's: the run's place in time, any time zone
    finished_at: str | None = None
    dataset: RecordedDataset | None = None
    metrics: Metrics = Field(default_factory=ClassifierMetrics)
    confusion_matrix: list[list[int]] | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    images: dict[str, str] | None = None
    n_samples: int | None = None
    warnings: list[str] = Field(default_factory=list)
    error: str | None = None          # why it did not finish (for stopped runs: the true reason)
    error_kind: str | None = None     # input | job
    stopped_by: str | None = None     # ctrl-c | tui | hangup | signal | caller-gone | reaped
    history: list[dict[str, Any]] = Field(default_factory=list)
    versions: dict[str, Any] = Field(default_factory=dict)
    machine: dict[str, Any] = Field(default_factory=dict)
    peak_rss_bytes: int | None = None
    schema_version: int = 1

    # Written only by the jobs that have them.
    confusion_mapping: str | None = None                  # clustering: which mapping the matrix uses
    confusion_matrix_majority: list[list[int]] | None = None
    cluster_counts: list[list[int]] | None = None         # cluster × digit
    mapping_majority: list[int] | None = None             # cluster → digit
    mapping_hungarian: list[int] | None = None            # cluster → digit, or -1
    metrics_clustering: ClusteringMetrics | None = None   # refined: the clustering alone
    misclassified: list[Misclassified] | None = None      # classifiers: the first few hundred
    misclassified_total: int | None = None
    misclassified_pool: str | None = None
    details: dict[str, Any] | None = None                 # what the job did (layers, t-SNE, …)
    system: dict[str, Any] | None = None                  # the worker's CPU/GPU peaks (sysmon)
    traceback: str | None = None                          # a crash's last lines
    placement: Placement | None = None                    # suite members: where it ran
    load: MachineLoad | None = None                       # machine load and nice while it ran

    ENVELOPE: ClassVar[tuple[str, ...]] = (
        "status", "job", "preset", "seed", "subset_seed", "run_id", "run_dir", "rerun_of",
        "spec", "started_at", "started_utc", "finished_at", "dataset", "metrics",
        "confusion_matrix", "timings", "images", "n_samples", "warnings", "error", "error_kind",
        "stopped_by", "history", "versions", "machine", "peak_rss_bytes", "schema_version")

    _bare: bool = PrivateAttr(default=False)   # only what it was given (no run, no record)

    @model_validator(mode="before")
    @classmethod
    def _job_metrics(cls, data: Any) -> Any:
        """`metrics` as the model its job has; an unknown status is "failed"."""
        if not isinstance(data, dict):
            return {}
        out = dict(data)
        if "metrics" in out or out.get("job") in CLUSTERING_JOBS + CLASSIFIER_JOBS:
            out["metrics"] = metrics_for(out.get("job"), out.get("metrics"))
        if out.get("status") not in TERMINAL_STATUSES:
            out["status"] = "failed"
        return out

    @field_serializer("metrics", "metrics_clustering", "dataset", "placement", "load")
    def _as_given(self, part: Record | None) -> dict[str, Any] | None:
        return None if part is None else part.to_dict()

    @classmethod
    def from_dict(cls, data: object) -> RunResult:
        """Any result-shaped value (an event's, an old or planted file's) as the current record."""
        res = cls.model_validate(data if isinstance(data, dict) else {})
        res.schema_version = 1
        return res

    @classmethod
    def bare(cls, **values: Any) -> RunResult:
        """The outcome of a run that never had a record (bad input found by the worker before
        the run folder existed): its JSON form holds only these values, as it always has."""
        res = cls.model_validate(values)
        res._bare = True
        return res

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the whole envelope, the job's own fields, then any unknown keys."""
        if self._bare:
            return self.model_dump(mode="json", exclude_unset=True)
        out = self.model_dump(mode="json")
        extra = self.extra
        keep = set(self.ENVELOPE) | (self.model_fields_set & set(type(self).model_fields))
        return {**{k: v for k, v in out.items() if k in keep and k not in extra}, **extra}

    @property
    def extra(self) -> dict[str, Any]:
        """Keys no code reads (a newer worker's), kept so that writing back loses nothing."""
        return dict(self.model_extra or {})

    # -- what front ends ask ---------------------------------------------------------------
    @property
    def clustering(self) -> bool:
        return isinstance(self.metrics, ClusteringMetrics)

    @property
    def refined(self) -> bool:
        """A refined clustering: `metrics` is after self-training, `metrics_clustering` before."""
        return self.metrics_clustering is not None

    def headline(self) -> Headline:
        """The one accuracy this run is known by (sorting, comparing, suite rows, reports)."""
        m = self.metrics
        if isinstance(m, ClusteringMetrics):
            return Headline(m.accuracy_hungarian, HUNGARIAN)
        return Headline(m.accuracy, HELD_OUT)

    def total_seconds(self) -> float | None:
        return self.timings.get("total")

    def n_images(self) -> int | None:
        """How many images the run used (its dataset record's count)."""
        return self.dataset.n_samples if self.dataset is not None else None
