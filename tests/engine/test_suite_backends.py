"""Suites that sweep Keras backends (`--backends tensorflow,jax`): which members they make, the
keys of suites without backends left as they were, the checks, and the report grouped by
backend (built from hand-made run folders; the real run is tests/test_suite_backends_cli.py)."""

from __future__ import annotations

import json

import pytest

from mnist_tui.engine.errors import SpecError
from mnist_tui.engine.jobs.results import RunResult
from mnist_tui.engine.jobs.specs import spec_fields
from mnist_tui.engine.runs import store as runs
from mnist_tui.engine.suites import report_text
from mnist_tui.engine.suites.folder import SuiteFolder
from mnist_tui.engine.suites.report import build_report
from mnist_tui.engine.suites.report_html import html
from mnist_tui.engine.suites.spec import SuiteSpec
from mnist_tui.engine.suites.spec_text import parse_backends, suite_spec_from_text

TINY = {"iterations": 300, "gmm_inits": 1, "epochs": 1, "dataset": "digits"}


def sweep(**kw: object) -> SuiteSpec:
    """A one-size sweep; TINY's settings given to the members they fit (as the flags do)."""
    methods = kw.get("methods", ("cnn",))
    fits = {f.name for m in methods for f in spec_fields(m)}   # type: ignore[attr-defined]
    base: dict[str, object] = {"name": "sweep", "sizes": (200,), "seeds": (0,),
                               "overrides": {k: v for k, v in TINY.items() if k in fits}}
    return SuiteSpec(**{**base, **kw}).validate()   # type: ignore[arg-type]


def test_two_backends_make_two_cnn_members_with_the_backend_in_their_key_and_label():
    spec = sweep(methods=("cnn",), backends=("tensorflow", "jax"))
    members = spec.members()
    assert [m.label for m in members] == ["cnn · tensorflow default 200 images seed 0",
                                          "cnn · jax default 200 images seed 0"]
    assert [m.spec["backend"] for m in members] == ["tensorflow", "jax"]
    assert [m.settings["backend"] for m in members] == ["tensorflow", "jax"]
    assert members[1].key == ('{"backend":"jax","dataset":"digits","epochs":1,"job":"cnn",'
                              '"preset":"default","samples":200,"seed":0}')
    assert spec.planned_members() == 2


def test_tsne_gmm_runs_once_without_self_training_and_once_per_backend_with_it():
    spec = sweep(methods=("tsne-gmm", "vgg16"), backends=("tensorflow", "jax", "torch"))
    labels = [m.label for m in spec.members()]
    assert labels == [
        "tsne-gmm default 200 images seed 0",                 # never imports Keras: once
        "tsne-gmm · tensorflow refined 200 images seed 0",
        "tsne-gmm · jax refined 200 images seed 0",
        "tsne-gmm · torch refined 200 images seed 0",
        "vgg16 · tensorflow default 200 images seed 0",
        "vgg16 · jax default 200 images seed 0",
        "vgg16 · torch default 200 images seed 0"]
    default = spec.members()[0]
    assert "backend" not in default.settings                 # its key as without backends
    assert spec.planned_members() == len(labels) == 7
    # self-training asked for by a job setting makes the default preset a Keras member too
    refined = sweep(methods=("tsne-gmm",), presets=("default",), backends=("tensorflow", "jax"),
                    overrides={"dataset": "digits", "refine_rounds": 1})
    assert [m.spec["backend"] for m in refined.members()] == ["tensorflow", "jax"]
    assert refined.planned_members() == 2
    # the seed suite's two protocols count as they build
    seed = SuiteSpec(name="seed", backends=("tensorflow", "jax")).validate()
    assert seed.planned_members() == len(seed.members())


def test_a_suite_without_backends_keeps_its_keys_and_its_record():
    spec = sweep(methods=("tsne-gmm", "cnn"), presets=("default",), overrides={})
    assert [m.key for m in spec.members()] == [
        '{"job":"tsne-gmm","preset":"default","samples":200,"seed":0}',
        '{"job":"cnn","preset":"default","samples":200,"seed":0}']
    assert [m.label for m in spec.members()] == ["tsne-gmm default 200 images seed 0",
                                                 "cnn default 200 images seed 0"]
    assert "backends" not in spec.to_dict()                  # older versions read it as before
    # a suite.json written before backends existed reads, with the same members
    old = {"suite": "sweep", "methods": ["tsne-gmm", "cnn"], "presets": ["default"],
           "sizes": [200], "seeds": [0], "supervised_samples": 6000, "vgg_input_size": 32,
           "protocols": ["notebook"], "overrides": {}}
    again = SuiteSpec.from_dict(old)
    assert again.backends == () and [m.key for m in again.members()] == \
        [m.key for m in spec.members()]
    # --backend as a job setting (no sweep) stays an override, as before
    on_jax = sweep(methods=("cnn",), overrides={"backend": "jax"})
    assert on_jax.members()[0].label == "cnn default 200 images seed 0"
    assert on_jax.members()[0].settings["backend"] == "jax"


def test_backends_round_trip_through_the_record():
    spec = sweep(methods=("cnn",), backends=("jax", "tensorflow"))
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["backends"] == ["jax", "tensorflow"]
    again = SuiteSpec.from_dict(data)
    assert again == spec and [m.key for m in again.members()] == [m.key for m in spec.members()]
    with pytest.raises(SpecError, match="backends must be a list"):
        SuiteSpec.from_dict({**data, "backends": "jax"})


@pytest.mark.parametrize("kwargs, needle", [
    ({"backends": ("tensorflow", "nope")},
     "--backends: unknown backend 'nope' (choose from tensorflow, jax, torch)"),
    ({"backends": ("jax", "jax")}, "--backends: jax is given twice"),
    ({"backends": ("jax",), "overrides": {"backend": "torch"}},
     "--backend cannot be used with --backends"),
    ({"methods": ("tsne-gmm",), "presets": ("default",), "backends": ("jax",)},
     "--backends: no member of this suite trains with Keras"),
])
def test_bad_backends_are_one_line_errors(kwargs, needle):
    with pytest.raises(SpecError) as info:
        SuiteSpec(**{"name": "sweep", "methods": ("cnn",), "sizes": (200,), **kwargs}).validate()
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_backends_as_text():
    assert parse_backends(" TensorFlow, jax ,") == ("tensorflow", "jax")
    for bad, needle in (("tensorflow,nope", "unknown backend 'nope' (choose from tensorflow, "
                                            "jax, torch)"), (" , ", "give at least one")):
        with pytest.raises(SpecError, match=r"^--backends: ") as info:
            parse_backends(bad)
        assert needle in str(info.value)
    spec = suite_spec_from_text("sweep", methods="cnn", sizes="200", seeds="1",
                                backends="tensorflow,jax", given={"dataset": "digits"})
    assert spec.backends == ("tensorflow", "jax") and len(spec.members()) == 2
    assert suite_spec_from_text("sweep", methods="cnn", sizes="200", seeds="1", backends=" ",
                                given={}).backends == ()


# -- the report, from hand-made run folders ------------------------------------------------------

def _record(runs_dir, member, run_id: str, acc: float, training: float) -> None:
    d = runs_dir / run_id
    d.mkdir(parents=True)
    described = {"tensorflow": "tensorflow (TensorFlow 2.20.0, Keras 3.15.1)",
                 "jax": "jax (JAX 0.10.2, Keras 3.15.1)"}
    res = {"status": "finished", "job": member.job, "run_id": run_id, "spec": member.spec,
           "metrics": {"accuracy": acc, "loss": 0.3, "n_eval": 100, "eval_split": "test"},
           "timings": {"loading": 0.5, "training": training, "evaluation": 0.25,
                       "total": training + 1.0},
           "details": {"backend": described[member.spec["backend"]]},
           "dataset": {"name": "digits", "n_samples": member.size, "fingerprint": "abc"}}
    runs.atomic_write_json(d / runs.SPEC_FILE, member.spec)
    runs.atomic_write_json(d / runs.META_FILE, {"created": run_id})
    runs.atomic_write_json(d / runs.RESULT_FILE, res)
    assert RunResult.from_dict(res).details == res["details"]


def test_the_report_groups_by_backend_side_by_side(tmp_path):
    spec = sweep(methods=("tsne-gmm", "cnn"), presets=("default",), seeds=(0, 1),
                 backends=("tensorflow", "jax"))
    folder = SuiteFolder.create(tmp_path / "runs", spec)
    numbers = {("tensorflow", 0): (0.90, 3.0), ("tensorflow", 1): (0.92, 3.5),
               ("jax", 0): (0.89, 9.0), ("jax", 1): (0.91, 9.5)}
    for i, m in enumerate(spec.members()):
        if m.job == "cnn":
            acc, training = numbers[(m.spec["backend"], m.seed)]
            _record(folder.runs_dir, m, f"r{i}", acc, training)
            folder.set_member(m.key, f"r{i}")
    report = build_report(folder, status="finished")

    cnn = [g for g in report.groups if g.method == "cnn"]
    assert [(g.backend, g.n, g.label) for g in cnn] == [
        ("tensorflow", 2, "cnn · tensorflow default 200"), ("jax", 2, "cnn · jax default 200")]
    assert cnn[0].accuracy is not None and cnn[0].accuracy.mean == pytest.approx(0.91)
    assert cnn[1].fit_s is not None and cnn[1].fit_s.mean == pytest.approx(9.25)
    tsne = [g for g in report.groups if g.method == "tsne-gmm"]
    assert [g.backend for g in tsne] == [None]               # not a Keras member: no backend
    assert cnn[1].verdict.text == "within noise of cnn · tensorflow default (-1.0 pts)"
    assert [r.backend for r in report.rows] == [None, "tensorflow", "jax", None,
                                                "tensorflow", "jax"]

    cells = [report_text.table_cells(g)[0] for g in cnn]
    assert cells == ["cnn · tensorflow", "cnn · jax"]
    side = report_text.backend_lines(report)
    assert side == ["cnn default 200: tensorflow 91.0% ± 1.4, fit 3.2 ± 0.4 s (×1.0), total "
                    "4.2 ± 0.4 s | jax 90.0% ± 1.4, fit 9.2 ± 0.4 s (×2.8), total 10.2 ± 0.4 s"]
    note = ("Keras backends: tensorflow (TensorFlow 2.20.0, Keras 3.15.1); jax (JAX 0.10.2, "
            "Keras 3.15.1)")
    assert note in report_text.notes(report)
    md = report_text.markdown(report)
    assert "| cnn · tensorflow | default | 200 |" in md and "| cnn · jax | default | 200 |" in md
    assert "## Backends side by side" in md and f"- {report_text.md_text(side[0])}" in md
    assert "backends side by side" in "\n".join(report_text.terminal_summary(report))
    page = html(report)
    assert "<h2>Backends side by side</h2>" in page and "cnn · jax" in page
    csv_text = report_text.to_csv(report)
    assert csv_text.splitlines()[0].endswith(",backend,backend_version")
    assert "jax (JAX 0.10.2, Keras 3.15.1)" in csv_text
    assert report.to_dict()["suite"]["backends"] == ["tensorflow", "jax"]


def test_a_report_of_one_backend_has_no_backend_groups(tmp_path):
    spec = sweep(methods=("cnn",), seeds=(0,))
    folder = SuiteFolder.create(tmp_path / "runs", spec)
    m = spec.members()[0]
    _record(folder.runs_dir, m, "r0", 0.9, 3.0)
    folder.set_member(m.key, "r0")
    report = build_report(folder, status="finished")
    assert [(g.backend, g.label) for g in report.groups] == [(None, "cnn default 200")]
    assert report_text.table_cells(report.groups[0])[0] == "cnn"
    assert report_text.backend_lines(report) == []
    assert not any("Keras backend" in n for n in report_text.notes(report))
    assert "Backends side by side" not in report_text.markdown(report)
