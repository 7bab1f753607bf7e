"""Suites without workers: member generation, validation, the suite folder, reuse, statistics,
and the report formats built from hand-made run folders (parsed back)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from mnist_tui.engine.errors import SpecError
from mnist_tui.engine.jobs.results import RunResult
from mnist_tui.engine.runs import store as runs
from mnist_tui.engine.suites import report as rep
from mnist_tui.engine.suites import report_files, report_text
from mnist_tui.engine.suites.folder import SuiteFolder
from mnist_tui.engine.suites.matching import run_matches
from mnist_tui.engine.suites.records import Measurement
from mnist_tui.engine.suites.spec import SuiteSpec, member_key
from mnist_tui.engine.suites.spec_text import parse_int_list, parse_seeds

TINY = {"iterations": 260, "gmm_inits": 1, "epochs": 1, "dataset": "digits"}


def test_seed_suite_has_the_notebook_experiments_then_ours():
    members = SuiteSpec(name="seed", protocols=("notebook",)).validate().members()
    labels = [m.label for m in members]
    assert labels == [
        "tsne-gmm seed 4,800 images seed 0", "tsne-gmm seed 2,400 images seed 0",
        "vgg16 seed 6,000 images seed 0",
        "tsne-gmm default 4,800 images seed 0", "tsne-gmm default 2,400 images seed 0",
        "vgg16 default 6,000 images seed 0", "cnn default 6,000 images seed 0",
        "tsne-gmm refined 4,800 images seed 0", "tsne-gmm refined 2,400 images seed 0"]
    assert members[-1].spec["refine_rounds"] == 1 and members[3].spec["refine_rounds"] == 0
    vgg_seed = members[2].spec
    assert vgg_seed["epochs"] == 10 and vgg_seed["input_size"] == 32     # CPU-affordable
    assert vgg_seed["feature_cache"] is False                              # the notebook's
    assert members[0].spec["tsne_backend"] == "sklearn" and members[0].spec["components"] == 3


def test_sweep_defaults_every_method_six_sizes_three_seeds_seed_major():
    members = SuiteSpec(name="sweep", seeds=(0, 1, 2)).validate().members()
    assert len(members) == 4 * 6 * 3      # t-SNE + GMM default and refined, VGG16, the CNN
    assert [m.seed for m in members[:24]] == [0] * 24
    assert [m.size for m in members[:4]] == [250] * 4
    assert [m.label for m in members[:4]] == [
        "tsne-gmm default 250 images seed 0", "tsne-gmm refined 250 images seed 0",
        "vgg16 default 250 images seed 0", "cnn default 250 images seed 0"]
    assert len({m.key for m in members}) == len(members)


def test_overrides_apply_only_to_jobs_that_have_the_field():
    spec = SuiteSpec(name="sweep", methods=("tsne-gmm", "cnn"), sizes=(100,),
                     presets=("default",), overrides=TINY).validate()
    t, c = spec.members()
    assert t.spec["iterations"] == 260 and t.spec["gmm_inits"] == 1 and "epochs" not in t.spec
    assert c.spec["epochs"] == 1 and "iterations" not in c.spec
    assert t.spec["dataset"] == c.spec["dataset"] == "digits"


@pytest.mark.parametrize("kwargs, needle", [
    ({"methods": ("svm",)}, "--methods: unknown method 'svm'"),
    ({"sizes": (100, 100)}, "--sizes: 100 is given twice"),
    ({"sizes": (10,)}, "at least 20"),
    ({"seeds": ()}, "--seeds: give at least one seed"),
    ({"vgg_input_size": 16}, "--vgg-input-size"),
    ({"overrides": {"seed": 3}}, "--seed cannot be used with --suite (use --seeds)"),
    ({"overrides": {"input_size": 48}}, "use --vgg-input-size"),
    ({"methods": ("tsne-gmm",), "overrides": {"epochs": 1}}, "--epochs does not apply"),
    ({"presets": ("fast",)}, "--presets: unknown preset 'fast'"),
    ({"sizes": (60,), "methods": ("tsne-gmm",)}, "perplexity"),   # a member spec is invalid
])
def test_bad_suites_are_one_line_errors(kwargs, needle):
    with pytest.raises(SpecError) as info:
        SuiteSpec(name="sweep", **kwargs).validate()
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_suite_spec_round_trips_through_json():
    spec = SuiteSpec(name="sweep", methods=("cnn",), sizes=(100, 200), seeds=(0, 5),
                     overrides={"epochs": 1, "dataset": "digits"}).validate()
    again = SuiteSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert [m.key for m in again.members()] == [m.key for m in spec.members()]
    with pytest.raises(SpecError):
        SuiteSpec.from_dict({"suite": "sweep", "colour": "red"})


def test_member_key_is_canonical():
    assert member_key({"b": 1, "a": [1, 2]}) == member_key({"a": [1, 2], "b": 1}) \
        == '{"a":[1,2],"b":1}'


def test_list_parsing():
    assert parse_int_list("--sizes", "250, 500,1_000") == (250, 500, 1000)
    assert parse_seeds("3") == (0, 1, 2)
    assert parse_seeds("4,9") == (4, 9)
    for bad in ("x", "0", "1.5"):
        with pytest.raises(SpecError):
            parse_seeds(bad)
    with pytest.raises(SpecError, match="--sizes"):
        parse_int_list("--sizes", "100,abc")


# -- hand-made run folders -------------------------------------------------------------------

def fake_result(member, run_id: str, runs_dir, acc: float, status: str = "finished") -> dict:
    clustering = member.job == "tsne-gmm"
    metrics = ({"accuracy_hungarian": acc, "accuracy_majority": acc + 0.01, "nmi": 0.7,
                "ari": 0.6} if clustering else
               {"accuracy": acc, "loss": 0.3, "n_eval": 50, "eval_split": "held-out"})
    timings = ({"loading": 0.5, "preprocess": 0.1, "pca": 0.2, "tsne": 3.25, "gmm": 1.0,
                "scoring": 0.01, "total": 5.5} if clustering else
               {"loading": 0.5, "training": 2.5, "evaluation": 0.25, "total": 4.0})
    cm = [[0] * 10 for _ in range(10)]
    for i in range(10):
        cm[i][i] = 5
    res = {"status": status, "job": member.job, "run_id": run_id, "spec": member.spec,
           "metrics": metrics if status == "finished" else {},
           "timings": timings, "confusion_matrix": cm,
           "dataset": {"name": "digits", "n_samples": member.size, "fingerprint": "abc"},
           "versions": {"python": "3.11", "numpy": "2.0"}, "machine": {"cpus": 2},
           "error": None if status == "finished" else "boom"}
    d = runs_dir / run_id
    d.mkdir(parents=True)
    runs.atomic_write_json(d / runs.SPEC_FILE, member.spec)
    runs.atomic_write_json(d / runs.META_FILE, {"created": run_id})
    runs.atomic_write_json(d / runs.RESULT_FILE, res)
    return res


@pytest.fixture
def sweep_folder(tmp_path):
    spec = SuiteSpec(name="sweep", methods=("tsne-gmm", "cnn"), sizes=(100, 200),
                     seeds=(0, 1), presets=("default",), overrides=TINY).validate()
    folder = SuiteFolder.create(tmp_path / "runs", spec)
    accs = {"tsne-gmm": {100: (0.50, 0.66), 200: (0.80, 0.70)},
            "cnn": {100: (0.60, 0.62), 200: (0.90, 0.92)}}
    for i, m in enumerate(spec.members()):
        run_id = f"2026-run-{i:02d}"
        fake_result(m, run_id, folder.runs_dir, accs[m.job][m.size][m.seed])
        folder.set_member(m.key, run_id)
        folder.set_measurement(run_id, Measurement(peak_rss_bytes=123_000_000 + i, source="test"))
    return folder


def test_finished_runs_with_the_exact_spec_are_reused(sweep_folder):
    m = sweep_folder.spec().members()[0]
    run_id = sweep_folder.members()[m.key]
    assert sweep_folder.finished_run(m) == run_id
    other = sweep_folder.spec().members()[1]
    assert not run_matches(sweep_folder.runs_dir, run_id, other.key)   # spec differs
    res = runs.read_json(sweep_folder.runs_dir / run_id / runs.RESULT_FILE)
    res["status"] = "interrupted"
    runs.atomic_write_json(sweep_folder.runs_dir / run_id / runs.RESULT_FILE, res)
    assert sweep_folder.finished_run(m) is None                      # not finished: rerun


def test_stats_and_noise_verdicts():
    s = rep.stat([0.5, 0.7, None])
    assert s.mean == pytest.approx(0.6) and s.sd == pytest.approx(0.1414, abs=1e-4)
    assert rep.stat([0.5]).sd is None and rep.stat([]) is None
    [template] = rep.group_rows([rep.member_row(
        SuiteSpec(name="sweep", methods=("cnn",), sizes=(100,)).validate().members()[0],
        None, None, None)])
    g = lambda acc, m: replace(template, method=m, preset="default", accuracy=rep.stat(acc))
    best, close, far = g([0.9, 0.92], "cnn"), g([0.88, 0.9], "vgg16"), g([0.5, 0.52], "tsne-gmm")
    assert rep.verdict(best, best).text == "best"
    assert rep.verdict(close, best).text.startswith("within noise of cnn default")
    assert rep.verdict(far, best).text == "-40.0 pts vs cnn default"
    assert "noise unknown" in rep.verdict(g([0.5], "tsne-gmm"), best).text


def test_report_files_hold_the_run_folders_numbers(sweep_folder, tmp_path):
    report = rep.build_report(sweep_folder, "finished")
    (tmp_path / "out").mkdir()
    paths = report_files.write_report(report, tmp_path / "out" / "r.html")
    assert [p.name for p in paths] == ["r.html", "r.md", "r.json", "r.csv"]
    results = {}
    for run_id in sweep_folder.members().values():
        results[run_id] = runs.read_json(sweep_folder.runs_dir / run_id / runs.RESULT_FILE)

    data = json.loads((tmp_path / "out" / "r.json").read_text())
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "r.csv").read_text())))
    assert len(data["rows"]) == len(rows) == 8
    for jrow, crow in zip(data["rows"], rows):
        res = results[jrow["run_id"]]
        m, t = res["metrics"], res["timings"]
        expected = m["accuracy_hungarian"] if jrow["method"] == "tsne-gmm" else m["accuracy"]
        assert jrow["accuracy"] == expected and float(crow["accuracy"]) == expected
        assert crow["run_id"] == jrow["run_id"]
        assert jrow["total_s"] == t["total"] == float(crow["total_s"])
        phases = jrow["fit_phases"].split("+")
        assert jrow["fit_s"] == round(sum(t[p] for p in phases), 4) == float(crow["fit_s"])
        if jrow["method"] == "tsne-gmm":
            assert phases == ["preprocess", "pca", "tsne", "gmm"]
            assert float(crow["accuracy_majority"]) == m["accuracy_majority"]
            assert float(crow["nmi"]) == m["nmi"]
        else:
            assert phases == ["training"] and jrow["predict_phases"] == "evaluation"

    groups = {(g["method"], g["images"]): g for g in data["groups"]}
    assert groups[("cnn", 200)]["accuracy"]["mean"] == pytest.approx(0.91)
    assert groups[("cnn", 200)]["verdict"] == "best"
    assert groups[("tsne-gmm", 200)]["verdict"] == "-16.0 pts vs cnn default"
    assert groups[("tsne-gmm", 100)]["verdict"].startswith("within noise of cnn default")
    assert groups[("cnn", 100)]["n"] == 2 and groups[("cnn", 100)]["seeds"] == [0, 1]
    assert [(d["method"], round(d["change_pts"], 1)) for d in data["degradation"]] == \
        [("tsne-gmm", -17.0), ("cnn", -30.0)]             # the least loss first

    md = (tmp_path / "out" / "r.md").read_text()
    page = (tmp_path / "out" / "r.html").read_text()
    for text in ("91.0% ± 1.4", "75.0% ± 7.1 1:1", "76.0% ± 7.1", "within noise of cnn default",
                 "fit = preprocess+pca+tsne+gmm", "2026-run-00", "123 ± 0"):
        assert text in md, text
        assert text in page, text
    assert page.count("<svg") == 2 and "<script" not in page and "http://" not in \
        page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "numpy 2.0" in page and "abc" in page                      # versions, fingerprint
    assert page.count("summed over 2 seed(s)") == 4                   # confusion matrices

    class Strict(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack = []

        def handle_starttag(self, tag, attrs):
            if tag not in ("meta", "br", "circle", "line", "rect", "path", "polyline"):
                self.stack.append(tag)

        def handle_endtag(self, tag):
            if tag in ("circle", "line", "rect", "path", "polyline"):
                return
            assert self.stack and self.stack.pop() == tag, tag

    Strict().feed(page)


def test_failed_and_pending_members_are_reported(tmp_path):
    spec = SuiteSpec(name="sweep", methods=("cnn",), sizes=(100, 200), seeds=(0,),
                     overrides={"epochs": 1}).validate()
    folder = SuiteFolder.create(tmp_path / "runs", spec)
    m0, _ = spec.members()
    fake_result(m0, "r0", folder.runs_dir, 0.5, status="failed")
    folder.set_member(m0.key, "r0")
    report = rep.build_report(folder, "failed")
    assert [r.status for r in report.rows] == ["failed", "pending"]
    assert report.rows[0].error == "boom"
    assert "FAILED: cnn default 100 images seed 0 (r0): boom" in report_text.terminal_summary(report)
    assert report.groups[0].n == 0 and report.groups[0].n_failed == 1
    assert "boom" in report_text.markdown(report)


def test_terminal_charts_fit_80_by_24(sweep_folder):
    report = rep.build_report(sweep_folder, "finished")
    charts = report_text.terminal_charts(report)
    assert "tsne-gmm default" in charts and "cnn default" in charts
    blocks = charts.split("\n\n") if "\n\n" in charts else [charts]
    lines = charts.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) <= 2 * 24 and all(len(b.splitlines()) <= 24 for b in blocks)
    assert "\x1b[" not in charts


def test_terminal_and_html_charts_share_the_y_ticks(sweep_folder):
    """The y ticks come from charts.chart for every renderer (plotext used to pick its own)."""
    from mnist_tui.engine.suites import report_html
    from mnist_tui.engine.suites.charts import chart

    report = rep.build_report(sweep_folder, "finished")
    acc = chart(report, "accuracy")
    # the axis covers every mean ± spread (cnn at 200 images reaches 92.4: the last tick was 90)
    assert acc.y_ticks == [40, 50, 60, 70, 80, 90, 100]
    points = [p for pts in acc.series.values() for p in pts]
    assert all(0 <= acc.y_fraction(v) <= 1 for p in points for v in (p.low, p.high))
    block = report_text.terminal_charts(report).split("\n\n")[0]
    axis = [line.split("┤")[0].strip() for line in block.splitlines() if "┤" in line]
    assert axis and set(axis) == set(acc.y_labels), (axis, acc.y_labels)
    page = report_html.html(report)
    for label in acc.y_labels:
        assert f">{label}</text>" in page


def test_peak_memory_is_labelled_by_where_it_came_from(sweep_folder):
    """The worker's own getrusage figure used to be labelled as the suite's /proc reading."""
    members = sweep_folder.spec().members()
    run_ids = sweep_folder.members()
    m = members[0]
    res_path = sweep_folder.runs_dir / run_ids[m.key] / runs.RESULT_FILE
    res = runs.read_json(res_path)
    assert "peak_rss_bytes" not in res
    measured = Measurement(peak_rss_bytes=5_000_000, source="test")
    row = rep.member_row(m, run_ids[m.key], RunResult.from_dict(res), measured)
    assert row.peak_rss_mb == 5.0 and row.peak_rss_source == "test"
    res["peak_rss_bytes"] = 7_000_000
    row = rep.member_row(m, run_ids[m.key], RunResult.from_dict(res), measured)
    assert row.peak_rss_mb == 7.0 and row.peak_rss_source == rep.WORKER_PEAK_SOURCE
    assert "getrusage" in row.peak_rss_source


def test_seed_suite_adds_the_standard_protocol_on_every_image_by_default():
    spec = SuiteSpec(name="seed").validate()
    members = spec.members()
    assert spec.protocols == ("notebook", "standard") and len(members) == 13
    standard = members[9:]
    assert [m.label for m in standard] == [
        "tsne-gmm default all images (standard protocol) seed 0",
        "tsne-gmm refined all images (standard protocol) seed 0",
        "vgg16 default all images (standard protocol) seed 0",
        "cnn default all images (standard protocol) seed 0"]
    for m in standard:
        assert m.size is None and m.spec["samples"] is None
        assert m.preset == ("refined" if m.spec.get("refine_rounds") else "default")
        assert m.spec["split"] in ("all", "auto")
    assert standard[2].spec["input_size"] == 32


def test_old_seed_suites_without_protocols_keep_their_members():
    """A suite.json written before protocols existed must resume with the same members."""
    notebook = SuiteSpec(name="seed", protocols=("notebook",)).validate()
    data = notebook.to_dict()
    del data["protocols"]
    assert [m.key for m in SuiteSpec.from_dict(data).members()] == \
        [m.key for m in notebook.members()]
    # …and one written before the refined preset existed keeps its two presets
    data["presets"] = ["seed", "default"]
    assert len(SuiteSpec.from_dict(data).members()) == 7


def test_protocols_are_checked():
    with pytest.raises(SpecError, match="unknown protocol 'paper'"):
        SuiteSpec(name="seed", protocols=("paper",)).validate()
    with pytest.raises(SpecError, match="--protocols is for --suite seed"):
        SuiteSpec(name="sweep", protocols=("standard",)).validate()


def test_standard_protocol_groups_show_the_images_used_and_random_weights_are_said(tmp_path):
    spec = SuiteSpec(name="seed", methods=("vgg16",), protocols=("standard",),
                     overrides={"weights": "none"}).validate()
    folder = SuiteFolder.create(tmp_path / "runs", spec)
    [m] = spec.members()
    res = fake_result(m, "r-std", folder.runs_dir, 0.97)
    res["dataset"]["n_samples"] = 60000
    runs.atomic_write_json(folder.runs_dir / "r-std" / runs.RESULT_FILE, res)
    folder.set_member(m.key, "r-std")
    report = rep.build_report(folder, "finished")
    [g] = report.groups
    assert g.images == 60000 and g.protocol == "standard"
    cells = report_text.table_cells(g)
    assert cells[0] == "vgg16 32px random weights" and cells[2] == "60,000 (standard)"
    assert any("RANDOM weights" in n for n in report_text.notes(report))
