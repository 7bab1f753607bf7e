"""Job specs: presets, overrides, validation messages, text parsing, the spec.json round trip."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from mnist_tui.engine.errors import MnistTuiError, SpecError
from mnist_tui.engine.jobs.specs import (
    JOB_NAMES,
    TsneGmmSpec,
    build_spec,
    flag_name,
    parse_value,
    spec_fields,
    spec_from_dict,
)

FIELDS = {f.name: f for f in spec_fields("tsne-gmm")}


def build(preset: str = "default", **overrides):
    return build_spec("tsne-gmm", preset, overrides)


# -- building ------------------------------------------------------------------------------------

def test_default_spec_is_valid_and_has_the_field_defaults():
    spec = build_spec("tsne-gmm", "default")
    assert isinstance(spec, TsneGmmSpec)
    assert spec.problems() == {}
    assert spec.validate() is spec
    assert spec.job == "tsne-gmm" and "tsne-gmm" in JOB_NAMES
    assert (spec.preset, spec.dataset, spec.data_dir, spec.split) == (
        "default", "auto", None, "all")
    assert (spec.samples, spec.subset_seed, spec.seed) == (None, 0, 0)
    assert (spec.upsample, spec.pca, spec.tsne_backend, spec.components) == (
        None, 50, "opentsne", 2)
    assert (spec.perplexity, spec.iterations, spec.exaggeration) == (30.0, 500, 2.0)
    assert (spec.gmm_components, spec.covariance, spec.gmm_inits) == (10, "full", 10)


def test_seed_preset_values():
    spec = build_spec("tsne-gmm", "seed")
    assert spec.preset == "seed"
    assert spec.samples == 4800
    assert spec.tsne_backend == "sklearn"
    assert spec.components == 3
    assert spec.gmm_inits == 1
    assert spec.pca is None
    assert (spec.perplexity, spec.iterations, spec.exaggeration, spec.covariance) == (
        30.0, 1000, None, "full")
    assert spec.gmm_components == 10                   # not in the preset: the field default


def test_overrides_apply_over_the_preset():
    spec = build("seed", samples=1000, pca=30, seed=7, covariance="diag")
    assert (spec.samples, spec.pca, spec.seed, spec.covariance) == (1000, 30, 7, "diag")
    # the rest of the preset stays
    assert (spec.tsne_backend, spec.components, spec.gmm_inits, spec.iterations) == (
        "sklearn", 3, 1, 1000)
    # an override of None turns an optional preset value off
    assert build("default", pca=None).pca is None
    # the preset name always wins over an override of it
    assert build_spec("tsne-gmm", "seed", {"preset": "default"}).preset == "seed"


def test_flag_name():
    assert flag_name("gmm_components") == "gmm-components"
    assert flag_name("seed") == "seed"


# -- validation errors: SpecError whose message starts with the flag -----------------------------

BAD = [
    # bounds
    ("perplexity", 1.9, "must be at least 2, got 1.9"),
    ("perplexity", 500.5, "must be at most 500, got 500.5"),
    ("iterations", 259, "must be at least 260, got 259"),
    ("iterations", 10001, "must be at most 10000, got 10001"),
    ("samples", 19, "must be at least 20, got 19"),
    ("seed", -1, "must be at least 0, got -1"),
    ("subset_seed", -5, "must be at least 0, got -5"),
    ("pca", 1, "must be at least 2, got 1"),
    ("pca", 1001, "must be at most 1000, got 1001"),
    ("upsample", 7, "must be at least 8, got 7"),
    ("exaggeration", 0.5, "must be at least 1, got 0.5"),
    ("gmm_components", 1, "must be at least 2, got 1"),
    ("gmm_inits", 0, "must be at least 1, got 0"),
    ("gmm_inits", 201, "must be at most 200, got 201"),
    # choices
    ("dataset", "kaggle", "'kaggle' is not one of auto, mnist, digits"),
    ("split", "val", "'val' is not one of auto, all, train, test"),
    ("tsne_backend", "umap", "'umap' is not one of opentsne, sklearn"),
    ("components", 4, "4 is not one of 2, 3"),
    ("covariance", "ful", "'ful' is not one of full, tied, diag, spherical"),
    # wrong types
    ("iterations", "500", "expected an integer, got '500'"),
    ("iterations", True, "expected an integer, got True"),
    ("seed", False, "expected an integer, got False"),
    ("samples", 100.0, "expected an integer, got 100.0"),
    ("components", 2.0, "expected an integer, got 2.0"),
    ("perplexity", True, "expected a number, got True"),
    ("perplexity", "30", "expected a number, got '30'"),
    ("perplexity", math.nan, "expected a finite number, got nan"),
    ("perplexity", math.inf, "expected a finite number, got inf"),
    ("exaggeration", -math.inf, "expected a finite number, got -inf"),
    ("dataset", 3, "expected text, got 3"),
    ("data_dir", 5, "expected text, got 5"),
    # a required field left empty
    ("tsne_backend", None, "a value is required"),
    ("iterations", None, "a value is required"),
]


@pytest.mark.parametrize("name,value,message", BAD, ids=[f"{n}={v!r}" for n, v, _ in BAD])
def test_bad_value_is_a_spec_error_naming_the_flag(name, value, message):
    with pytest.raises(SpecError) as info:
        build(**{name: value})
    assert str(info.value) == f"--{flag_name(name)}: {message}"
    assert isinstance(info.value, MnistTuiError)


GOOD = [
    ("perplexity", 2.0), ("perplexity", 500.0), ("perplexity", 40),   # an int is a number
    ("iterations", 260), ("iterations", 10000),
    ("seed", 2**32 - 1), ("subset_seed", 0), ("pca", 2), ("pca", 1000),
    ("upsample", 8), ("upsample", 256), ("exaggeration", 12.0), ("components", 3),
    ("gmm_components", 100), ("covariance", "spherical"), ("dataset", "digits"),
]


def test_seed_above_32_bits():
    with pytest.raises(SpecError, match=r"^--seed: must be at most .*, got 4294967296$"):
        build(seed=2**32)


@pytest.mark.parametrize("name,value", GOOD, ids=[f"{n}={v!r}" for n, v in GOOD])
def test_boundary_values_are_accepted(name, value):
    assert getattr(build(**{name: value}), name) == value


def test_smallest_sample_count_is_accepted():
    # 20 samples needs perplexity < 20 / 3
    assert build(samples=20, perplexity=6.5).samples == 20


def test_unknown_preset():
    with pytest.raises(SpecError, match=r"^--preset: unknown preset 'fast' for tsne-gmm "
                                        r"\(choose from default, seed, refined\)$"):
        build_spec("tsne-gmm", "fast")
    # a saved spec with an unknown preset is caught by validation
    data = build_spec("tsne-gmm").to_dict() | {"preset": "fast"}
    with pytest.raises(SpecError, match=r"^--preset: unknown preset 'fast'"):
        spec_from_dict(data)


def test_unknown_job():
    with pytest.raises(SpecError, match=r"^unknown job 'kmeans' \(choose from tsne-gmm\b"):
        build_spec("kmeans")


def test_perplexity_too_large_for_samples():
    # needs 3 × perplexity < samples: 3 × 30 = 90
    with pytest.raises(SpecError) as info:
        build(samples=90, perplexity=30.0)
    assert str(info.value) == ("--perplexity: perplexity 30 is too large for 90 samples "
                               "(needs 3×perplexity < samples)")
    assert build(samples=91, perplexity=30.0).samples == 91
    # no sample count: no cross check
    assert build(perplexity=500.0).perplexity == 500.0


def test_perplexity_cross_check_message_for_seed_preset():
    with pytest.raises(SpecError, match=r"^--perplexity: perplexity 400 is too large for 1200 "):
        build("seed", perplexity=400.0, samples=1200)


def test_more_clusters_than_samples():
    with pytest.raises(SpecError, match=r"^--gmm-components: more clusters than samples$"):
        build(samples=40, perplexity=10.0, gmm_components=41)
    assert build(samples=40, perplexity=10.0, gmm_components=40).gmm_components == 40


def test_data_dir_with_digits_dataset():
    with pytest.raises(SpecError, match=r"^--data-dir: --data-dir reads MNIST files; it cannot be "
                                        r"used with --dataset digits$"):
        build(dataset="digits", data_dir="/some/mnist")
    assert build(dataset="mnist", data_dir="/some/mnist").data_dir == "/some/mnist"
    assert build(dataset="digits", data_dir=None).data_dir is None


# -- problems(): every bad field at once ---------------------------------------------------------

def test_problems_reports_one_message_per_bad_field():
    spec = TsneGmmSpec(dataset="x", seed=-1, components=5, perplexity=1.0, gmm_inits=True,
                       covariance="full")
    assert spec.problems() == {
        "dataset": "'x' is not one of auto, mnist, digits",
        "seed": "must be at least 0, got -1",
        "components": "5 is not one of 2, 3",
        "perplexity": "must be at least 2, got 1.0",
        "gmm_inits": "expected an integer, got True",
    }
    # validate() raises on the first one in field order
    with pytest.raises(SpecError, match=r"^--dataset: "):
        spec.validate()


def test_problems_field_error_wins_over_cross_check_and_both_cross_checks_reported():
    # perplexity 600 is out of bounds and too large for 100 samples: the field message is kept
    spec = TsneGmmSpec(samples=100, perplexity=600.0)
    assert spec.problems() == {"perplexity": "must be at most 500, got 600.0"}
    # field problems are all reported; cross-checks wait until every field is valid
    spec = TsneGmmSpec(samples=30, perplexity=10.0, gmm_components=31, preset="nope",
                       dataset="digits", data_dir="d")
    problems = spec.problems()
    assert set(problems) == {"preset", "data_dir"}
    assert problems["preset"].startswith("unknown preset 'nope'")
    spec = TsneGmmSpec(samples=30, perplexity=10.0, gmm_components=31)
    assert set(spec.problems()) == {"perplexity", "gmm_components"}


@pytest.mark.parametrize("preset,overrides,flag", [
    ("seed", {"perplexity": "30"}, "perplexity"),          # samples 4800 from the preset
    ("default", {"samples": "100"}, "samples"),
    ("default", {"samples": 100, "gmm_components": "10"}, "gmm-components"),
])
def test_wrong_type_with_a_sample_count_is_a_spec_error(preset, overrides, flag):
    with pytest.raises(SpecError, match=rf"^--{flag}: expected "):
        build_spec("tsne-gmm", preset, overrides)


# -- parse_value ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name,text,value", [
    ("iterations", "12", 12),
    ("iterations", "  750 ", 750),
    ("seed", "0", 0),
    ("perplexity", "30", 30.0),
    ("perplexity", "2.5e1", 25.0),
    ("perplexity", "-1", -1.0),                         # parsing does not check bounds
    ("samples", "none", None),
    ("samples", "NONE", None),
    ("samples", "", None),
    ("samples", "0", 0),                                # "0" means off only where a field says so
    ("pca", "0", None),
    ("pca", "none", None),
    ("pca", "50", 50),
    ("upsample", "0", None),
    ("upsample", "224", 224),
    ("exaggeration", "none", None),
    ("exaggeration", "4", 4.0),
    ("data_dir", "none", None),
    ("data_dir", "/tmp/mnist", "/tmp/mnist"),
    ("dataset", "digits", "digits"),
])
def test_parse_value(name, text, value):
    got = parse_value(FIELDS[name], text)
    assert got == value
    assert type(got) is type(value)


@pytest.mark.parametrize("name,text,message", [
    ("iterations", "1e3", "--iterations: expected an integer, got '1e3'"),
    ("iterations", "abc", "--iterations: expected an integer, got 'abc'"),
    ("iterations", "12.0", "--iterations: expected an integer, got '12.0'"),
    ("iterations", "none", "--iterations: expected an integer, got 'none'"),
    ("gmm_components", "", "--gmm-components: expected an integer, got ''"),
    ("perplexity", "abc", "--perplexity: expected a number, got 'abc'"),
    ("pca", "off", "--pca: expected an integer, got 'off'"),
])
def test_parse_value_errors(name, text, message):
    with pytest.raises(SpecError) as info:
        parse_value(FIELDS[name], text)
    assert str(info.value) == message


def test_parsed_nan_is_rejected_by_validation():
    value = parse_value(FIELDS["perplexity"], "nan")
    assert math.isnan(value)
    with pytest.raises(SpecError, match=r"^--perplexity: expected a finite number"):
        build(perplexity=value)


# -- spec.json round trip ------------------------------------------------------------------------

@pytest.mark.parametrize("preset,overrides", [
    ("default", {}),
    ("seed", {}),
    ("default", {"samples": 500, "exaggeration": 4.0, "data_dir": "/d", "dataset": "mnist",
                 "upsample": 32, "seed": 2**32 - 1}),
])
def test_spec_from_dict_round_trips_exactly(preset, overrides):
    spec = build_spec("tsne-gmm", preset, overrides)
    data = spec.to_dict()
    assert data["job"] == "tsne-gmm"
    assert set(data) == {"job"} | {f.name for f in dataclasses.fields(spec)}
    assert spec_from_dict(data) == spec
    again = spec_from_dict(json.loads(json.dumps(data)))   # as read back from spec.json
    assert again == spec
    assert again.to_dict() == data
    assert data["job"] == "tsne-gmm"                       # the caller's dict is not consumed


def test_spec_from_dict_unknown_key():
    data = build_spec("tsne-gmm").to_dict() | {"bogus": 1, "another": 2}
    with pytest.raises(SpecError, match=r"^tsne-gmm: unknown setting\(s\) another, bogus$"):
        spec_from_dict(data)


def test_spec_from_dict_missing_or_unknown_job():
    data = build_spec("tsne-gmm").to_dict()
    del data["job"]
    with pytest.raises(SpecError, match=r'"job" key'):
        spec_from_dict(data)
    with pytest.raises(SpecError, match=r'"job" key'):
        spec_from_dict([1, 2])                              # type: ignore[arg-type]
    with pytest.raises(SpecError, match=r"^unknown job 'kmeans'"):
        spec_from_dict({**data, "job": "kmeans"})


def test_spec_from_dict_validates():
    data = build_spec("tsne-gmm").to_dict() | {"components": 7}
    with pytest.raises(SpecError, match=r"^--components: 7 is not one of 2, 3$"):
        spec_from_dict(data)
