"""Checks before launching (runs/preflight.py, data/inspection.py, suites/plan.py): the data
folder and its splits from headers only, VGG16 weights cached or downloadable (a real HTTP
server on 127.0.0.1, a closed port for "cannot be had"), a suite's size, time estimate from the
run store, and when it must ask."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from support import write_finished_run

from mnist_tui.engine.data import inspection
from mnist_tui.engine.data.published import IMAGENET_FILE
from mnist_tui.engine.data.weights import IMAGENET_NOTOP
from mnist_tui.engine.errors import DataError
from mnist_tui.engine.runs import preflight as pf
from mnist_tui.engine.runs.store import RunStore
from mnist_tui.engine.suites.plan import plan_suite
from mnist_tui.engine.suites.spec import SuiteSpec


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


# -- the data ------------------------------------------------------------------------------------
def test_a_missing_data_folder_is_a_problem_on_data_dir(tmp_path):
    checks = pf.check_job({"job": "tsne-gmm", "dataset": "mnist",
                           "data_dir": str(tmp_path / "nope"), "split": "all", "samples": 300})
    assert [(c.field, c.level) for c in checks] == [("data_dir", "problem")]
    assert checks[0].message == f"{tmp_path / 'nope'}: no such file or directory"


def test_a_folder_without_mnist_is_a_problem(tmp_path):
    (tmp_path / "empty").mkdir()
    checks = pf.check_job({"job": "cnn", "dataset": "mnist", "data_dir": str(tmp_path / "empty"),
                           "split": "auto", "samples": None})
    assert checks[0].problem and checks[0].message.startswith("no MNIST files in")


@pytest.mark.parametrize("gz", [False, True])
def test_split_counts_come_from_headers(tmp_path, make_split, gz):
    make_split(tmp_path / "d", "train", 40, gz=gz)
    make_split(tmp_path / "d", "test", 25, gz=gz)
    info = inspection.inspect_path(tmp_path / "d")
    assert info.splits == {"train": 40, "test": 25}
    assert "train 40, test 25" in info.describe()


def test_a_split_the_folder_lacks_and_too_many_samples(tmp_path, make_split):
    make_split(tmp_path / "d", "train", 40)
    spec = {"job": "cnn", "dataset": "mnist", "data_dir": str(tmp_path / "d"), "split": "test",
            "samples": None}
    checks = pf.check_job(spec)
    assert checks[0].level == "ok" and checks[0].field == "data_dir"
    assert [(c.field, c.level) for c in checks[1:]] == [("split", "problem")]
    assert "--split test: dataset mnist has no test split (it has: train)" in checks[1].message
    # auto: the train split; 50 images is more than it has
    checks = pf.check_job({**spec, "split": "auto", "samples": 50})
    assert checks[-1].field == "samples" and checks[-1].problem
    assert checks[-1].message == "50 images asked for, but mnist has 40 in its train split"
    assert not [c for c in pf.check_job({**spec, "split": "auto", "samples": 40}) if c.problem]


def test_images_without_labels_and_a_mismatch(tmp_path, make_split):
    make_split(tmp_path / "a", "train", 40, kinds=("images",))
    with pytest.raises(DataError, match="not train-labels-idx1-ubyte"):
        inspection.inspect_path(tmp_path / "a")
    make_split(tmp_path / "b", "train", 40, n_labels=39)
    with pytest.raises(DataError, match="40 images but .* 39 labels"):
        inspection.inspect_path(tmp_path / "b")


def test_an_npz_by_its_headers(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(npz_bytes(x_train=np.zeros((12, 28, 28), np.uint8),
                               y_train=np.zeros(12, np.uint8),
                               x_test=np.zeros((5, 28, 28), np.uint8),
                               y_test=np.zeros(5, np.uint8)))
    assert inspection.inspect_path(path).splits == {"train": 12, "test": 5}
    assert inspection.inspect_path(tmp_path).splits == {"train": 12, "test": 5}   # the folder too
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("x_train.npy", b"")
    with pytest.raises(DataError):
        inspection.inspect_path(bad)


def test_digits_need_no_disk_and_have_only_a_train_split():
    spec = {"job": "cnn", "dataset": "digits", "data_dir": None, "split": "test", "samples": None}
    assert not pf.needs_io(spec)
    checks = pf.check_job(spec)
    assert checks[-1].problem and "has no test split" in checks[-1].message
    assert not [c for c in pf.check_job({**spec, "split": "auto", "samples": 1797})
                if c.problem]
    assert pf.needs_io({**spec, "job": "vgg16", "weights": "imagenet"})
    assert not pf.needs_io({**spec, "job": "vgg16", "weights": "none"})


def closed_url(path: str = "") -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{path}"


def test_mnist_not_cached_and_no_mirror(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_TUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MNIST_TUI_MIRRORS", closed_url())
    spec = {"job": "tsne-gmm", "dataset": "mnist", "data_dir": None, "split": "all",
            "samples": 300}
    checks = pf.check_job(spec)
    assert [(c.field, c.level) for c in checks] == [("dataset", "problem")]
    assert "MNIST is neither cached nor downloadable (connection refused from 127.0.0.1:" \
        in checks[0].message
    # auto falls back to the digits, and says so (their 1,797 images are then the pool)
    checks = pf.check_job({**spec, "dataset": "auto"})
    assert [(c.field, c.level) for c in checks] == [("dataset", "note")]
    assert checks[0].message.startswith("auto will use the bundled 8×8 digits")
    checks = pf.check_job({**spec, "dataset": "auto", "samples": 5000})
    assert checks[-1].problem and "1,797" in checks[-1].message


def test_mnist_downloadable_says_how_big_and_from_where(tmp_path, monkeypatch, static_server):
    (static_server.root / "mnist.npz").write_bytes(b"x")
    monkeypatch.setenv("MNIST_TUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MNIST_TUI_MIRRORS", static_server.url + "mnist.npz")
    info, checks = pf.inspect_data("mnist", None)
    assert info.splits == inspection.MNIST_SPLITS
    assert checks[0].level == "note"
    assert f"downloaded on first use (11.5 MB from 127.0.0.1:{static_server.port})" \
        in checks[0].message
    assert static_server.requests == ["/mnist.npz"]


# -- the weights ---------------------------------------------------------------------------------
def test_weights_that_cannot_be_had_are_a_problem(keras_home, monkeypatch):
    monkeypatch.setenv("MNIST_TUI_WEIGHTS_URL", closed_url(IMAGENET_NOTOP))
    check = pf.check_weights("imagenet")
    assert check.problem and check.field == "weights"
    assert check.message.startswith("ImageNet weights neither cached nor downloadable "
                                    "(connection refused from 127.0.0.1:")
    assert "58.9 MB" in check.message and "use weights none" in check.message
    assert str(keras_home / "models") in check.message


def test_weights_downloadable_cached_none_or_a_file(keras_home, monkeypatch, static_server, tmp_path):
    (static_server.root / IMAGENET_NOTOP).write_bytes(b"x")
    monkeypatch.setenv("MNIST_TUI_WEIGHTS_URL",
                       f"{closed_url(IMAGENET_NOTOP)},{static_server.url}{IMAGENET_NOTOP}")
    check = pf.check_weights("imagenet")
    assert check.level == "note"
    assert check.message.startswith("ImageNet weights not cached yet: downloaded on first use "
                                     f"(58.9 MB from 127.0.0.1:{static_server.port})")
    # a file of the right size that is not the official one is not "cached" (fetch.py
    # hashes it): it would be downloaded again, and the check says so
    path = keras_home / "models" / IMAGENET_NOTOP
    path.parent.mkdir(parents=True)
    with open(path, "wb") as fh:
        fh.truncate(IMAGENET_FILE.size)
    assert pf.check_weights("imagenet").level == "note"
    assert pf.check_weights("none").level == "ok"
    assert pf.check_weights(str(tmp_path / "missing.h5")).problem
    bad = tmp_path / "w.h5"
    bad.write_bytes(b"not hdf5")
    assert "not an HDF5" in pf.check_weights(str(bad)).message


def test_a_url_that_answered_is_remembered_a_failure_is_not(static_server, monkeypatch):
    (static_server.root / "f").write_bytes(b"x")
    url = static_server.url + "f"
    assert pf.probe_urls([url], max_age=60).ok
    assert pf.probe_urls([url], max_age=60).url == url
    assert static_server.requests == ["/f"]                       # asked once
    assert pf.probe_urls([url], max_age=0).ok and static_server.requests == ["/f", "/f"]
    missing = pf.probe_urls([static_server.url + "missing", closed_url()])
    assert not missing.ok
    assert "HTTP 404" in missing.reasons() and "2 URLs tried" in missing.reasons()


# -- suites --------------------------------------------------------------------------------------
def test_the_default_sweep_asks_and_says_its_size(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_TUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MNIST_TUI_MIRRORS", closed_url())
    spec = SuiteSpec(name="sweep", seeds=(0, 1, 2), overrides={"dataset": "digits"}).validate()
    plan = plan_suite(spec.members())
    # t-SNE + GMM twice (default and refined), VGG16, the CNN; 6 sizes; 3 seeds
    assert plan.members == 72 and plan.methods == ("tsne-gmm", "vgg16", "cnn")
    assert plan.size_text() == "72 members × 250–10,000 images = 225,000 images"
    assert plan.time_text().startswith("no estimate")
    assert plan.confirm_reasons()[0] == "72 members (more than 10)"
    # the digits have 1,797 images: every member above that is one problem line
    too_big = [c for c in plan.problems if c.field == "samples"]
    assert len(too_big) == 1
    assert too_big[0].message.startswith("36 member(s) ask for more than the 1,797 images")
    # the VGG16 weights: a closed port (tests/conftest.py), nothing cached
    assert [c.field for c in plan.problems] == ["samples", "weights"]


def test_a_typo_in_sizes_asks_even_with_few_members(tmp_path, make_split):
    make_split(tmp_path / "d", "train", 40)
    make_split(tmp_path / "d", "test", 30)
    spec = SuiteSpec(name="sweep", methods=("tsne-gmm",), sizes=(25500,), seeds=(0,),
                     presets=("default",),
                     overrides={"dataset": "mnist", "data_dir": str(tmp_path / "d")}).validate()
    plan = plan_suite(spec.members())
    assert plan.members == 1
    assert plan.confirm_reasons() == ["a member uses 25,500 images (more than 10,000)"]
    assert plan.problems[0].message.startswith("1 member(s) ask for more than the 70 images")


def test_time_estimate_is_the_mean_of_finished_runs_of_the_same_job_and_size(tmp_path):
    runs = tmp_path / "runs"
    spec = SuiteSpec(name="sweep", methods=("tsne-gmm", "cnn"), presets=("default",),
                     sizes=(100, 200), seeds=(0,), overrides={"dataset": "digits"}).validate()
    members = spec.members()
    by = {(m.job, m.size): m.spec for m in members if m.preset == "default"}
    write_finished_run(runs, "r1", by[("tsne-gmm", 100)], 10.0)
    write_finished_run(runs, "r2", {**by[("tsne-gmm", 100)], "seed": 5}, 30.0)
    write_finished_run(runs, "r3", by[("cnn", 200)], 1200.0)
    write_finished_run(runs, "r4", by[("cnn", 100)], 0.0)     # no time: ignored
    plan = plan_suite(members, RunStore(runs).list())
    assert plan.estimated == 2 and plan.estimate_s == pytest.approx(20.0 + 1200.0)
    assert plan.time_text() == ("about 20m20s from past runs (2 member(s) without an "
                                "estimate)")
    # a refined member has no past run of its own: a default run's time is not its time
    refined = SuiteSpec(name="sweep", methods=("tsne-gmm",), presets=("refined",), sizes=(100,),
                        seeds=(0,), overrides={"dataset": "digits"}).validate().members()
    assert plan_suite(refined, RunStore(runs).list()).estimated == 0
    assert plan.confirm_reasons() == ["about 20m20s (more than 15 min)"]
    small = plan_suite(members[:1], RunStore(runs).list())
    assert small.time_text() == "about 20s from past runs" and small.confirm_reasons() == []
    assert small.size_text() == "1 member × 100 images = 100 images"
