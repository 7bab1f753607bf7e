"""The typed result record: real old files read, wrong values fall back, JSON unchanged."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mnist_tui.engine.jobs.events import Failed, Finished, event_from_json
from mnist_tui.engine.jobs.results import (
    HELD_OUT,
    HUNGARIAN,
    ClassifierMetrics,
    ClusteringMetrics,
    RunResult,
)
from mnist_tui.engine.runs import records

RECORDS = Path(__file__).parent / "records"
V0_TSNE = RECORDS / "tsne-gmm-v0-6b5eea4.json"      # written before schema_version existed
V1_CNN = RECORDS / "cnn-v1-47f556b.json"             # a real cnn run's --json (version 1)


def raw(path: Path) -> dict:
    return json.loads(path.read_text())


def test_a_version_0_clustering_record_reads_typed() -> None:
    data = raw(V0_TSNE)
    assert "schema_version" not in data
    res = RunResult.from_dict(data)
    assert isinstance(res.metrics, ClusteringMetrics)
    assert res.headline().value == data["metrics"]["accuracy_hungarian"]
    assert res.headline().kind == HUNGARIAN
    assert res.metrics.accuracy_majority == data["metrics"]["accuracy_majority"]
    assert res.mapping_hungarian == data["mapping_hungarian"]
    assert res.confusion_matrix == data["confusion_matrix"]
    assert res.dataset is not None and res.dataset.n_samples == data["dataset"]["n_samples"]
    assert res.schema_version == 1 and not res.refined


def test_a_version_0_record_keeps_every_value_it_had() -> None:
    data = raw(V0_TSNE)
    out = RunResult.from_dict(data).to_dict()
    assert {k: out[k] for k in data} == data
    # the envelope fields it lacked are written as null/empty, as before
    assert out["warnings"] == [] and out["error"] is None and out["schema_version"] == 1


def test_a_version_1_classifier_record_round_trips_exactly() -> None:
    data = raw(V1_CNN)
    res = RunResult.from_dict(data)
    assert isinstance(res.metrics, ClassifierMetrics)
    assert res.headline().value == pytest.approx(data["metrics"]["accuracy"])
    assert res.headline().kind == HELD_OUT
    assert res.misclassified is not None
    assert res.misclassified[0].true == data["misclassified"][0]["true"]
    assert res.misclassified_total == data["misclassified_total"]
    assert res.system == data["system"]
    assert res.extra == {"devices": data["devices"]}   # read by no code: kept as it came
    assert res.to_dict() == data


def test_values_of_the_wrong_type_fall_back_and_are_named() -> None:
    res = RunResult.from_dict({
        "status": "finished", "job": "cnn", "confusion_matrix": [["a", 1]],
        "warnings": ["ok", 3], "seed": True, "timings": {"total": 2},
        "metrics": {"accuracy": "0.9", "loss": math.nan, "n_eval": 10}})
    assert res.confusion_matrix is None and res.warnings == [] and res.seed is None
    assert {"confusion_matrix", "warnings", "seed"} <= res.dropped
    assert res.timings == {"total": 2.0}
    assert isinstance(res.metrics, ClassifierMetrics)
    assert res.metrics.accuracy is None and res.metrics.loss is None
    assert res.metrics.n_eval == 10 and res.headline().value is None


def test_an_unknown_status_is_failed_and_a_non_object_is_an_empty_record() -> None:
    assert RunResult.from_dict({"status": "running"}).status == "failed"
    assert RunResult.from_dict([1, 2]).status == "failed"


def test_metrics_follow_the_job_not_the_keys() -> None:
    clustering = RunResult.from_dict({"job": "tsne-gmm", "status": "finished", "metrics": {}})
    classifier = RunResult.from_dict({"job": "vgg16", "status": "finished", "metrics": {}})
    assert clustering.clustering and not classifier.clustering
    assert clustering.to_dict()["metrics"] == {} == classifier.to_dict()["metrics"]


def test_a_record_from_a_newer_mnist_tui_is_refused(tmp_path: Path) -> None:
    (tmp_path / records.RESULT_FILE).write_text(json.dumps({"status": "finished",
                                                             "schema_version": 99}))
    with pytest.raises(records.RecordError, match="newer"):
        records.read_result(tmp_path)
    assert records.try_read_result(tmp_path) is None


def test_a_bare_outcome_writes_only_what_it_says() -> None:
    res = RunResult.bare(status="failed", error="no such folder", error_kind="input")
    assert res.to_dict() == {"status": "failed", "error": "no such folder",
                             "error_kind": "input"}


def test_terminal_events_carry_the_typed_record() -> None:
    res = RunResult.from_dict(raw(V1_CNN))
    back = event_from_json(Finished(t=1.5, result=res).to_json())
    assert isinstance(back, Finished) and isinstance(back.result, RunResult)
    assert back.result.to_dict() == res.to_dict()
    failed = event_from_json(Failed(error="bad", kind="input").to_json())
    assert isinstance(failed, Failed) and failed.result is None and failed.error == "bad"


def test_written_and_read_back_through_the_run_folder(tmp_path: Path) -> None:
    res = RunResult.from_dict(raw(V1_CNN))
    assert records.create_result(tmp_path, res)
    assert not records.create_result(tmp_path, RunResult(status="cancelled"))
    again = records.read_result(tmp_path)
    assert again is not None and again.to_dict() == res.to_dict()
