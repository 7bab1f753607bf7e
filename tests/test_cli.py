"""The command-line contract: help that imports nothing heavy, one-line errors with exit 2, and
what --batch writes. How long --help takes is measured in benchmarks/quick_paths.py."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

QUICK = ["--batch", "--job", "tsne-gmm", "--dataset", "digits", "--samples", "300",
         "--iterations", "260", "--gmm-inits", "2"]


def test_help_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from mnist_tui.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'textual', 'sklearn', 'numpy', 'scipy')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "usage: mnist-tui" in out.stdout
    assert "--perplexity" in out.stdout and "--tsne-backend" in out.stdout
    line = next(line for line in out.stderr.splitlines() if line.startswith("HEAVY"))
    assert line.startswith("HEAVY []"), line


def test_help_through_python_m_prints_usage_and_exits_0():
    out = subprocess.run([sys.executable, "-m", "mnist_tui", "--help"], capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: mnist-tui")
    assert "--batch" in out.stdout and out.stderr == ""


@pytest.mark.parametrize("args, needle", [
    (["--batch", "--job", "tsne-gmm", "--bogus"], "unrecognized arguments: --bogus"),
    (["--batch", "--job", "nope"], "invalid choice: 'nope'"),
    (["--batch"], "exactly one of --job, --rerun or --config"),
    (["--batch", "--job", "tsne-gmm", "--samples", "abc"], "--samples: expected an integer"),
    (["--batch", "--job", "tsne-gmm", "--samples", "5"], "--samples: must be at least 20"),
    (["--batch", "--job", "tsne-gmm", "--perplexity", "-3"], "--perplexity: must be at least"),
    (["--batch", "--job", "tsne-gmm", "--components", "4"], "--components: 4 is not one of 2, 3"),
    (["--batch", "--job", "tsne-gmm", "--covariance", "round"], "--covariance:"),
    (["--batch", "--job", "tsne-gmm", "--preset", "best"], "--preset: unknown preset 'best'"),
    (["--batch", "--job", "tsne-gmm", "--dataset", "digits", "--data-dir", "/tmp"],
     "--data-dir"),
    (["--batch", "--job", "tsne-gmm", "--samples", "60", "--perplexity", "30"],
     "--perplexity: perplexity 30 is too large for 60 samples"),
    (["--batch", "--rerun", "no-such-run"], "no run 'no-such-run'"),
    (["--batch", "--config", "/nonexistent/spec.json"], "--config: cannot read"),
    (["--job", "tsne-gmm"], "--job needs --batch"),
    (["--batch", "--job", "tsne-gmm", "--json", "/nonexistent/dir/out.json"],
     "--json: folder /nonexistent/dir does not exist"),
])
def test_bad_usage_is_one_error_line_and_exit_2(run_cli, cli_env, args, needle):
    out = run_cli(args, cli_env, timeout=60)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ")
    assert needle in lines[0]
    assert "Traceback" not in out.stderr


def test_preset_with_config_is_refused_not_relabelled(run_cli, cli_env, tmp_path):
    """It used to write "seed" into the spec and run the default pipeline under that name."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"job": "tsne-gmm", "dataset": "digits", "samples": 300}))
    out = run_cli(["--batch", "--config", str(spec), "--preset", "seed"], cli_env, timeout=60)
    assert out.returncode == 2, out.stderr
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("error: --preset cannot be combined with --config")
    assert "start from --job tsne-gmm --preset seed" in line
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("job", ["tsne-gmm", "cnn", "vgg16"])
def test_a_split_the_data_lacks_is_exit_2_for_every_job(run_cli, cli_env, tmp_path, job):
    """The bundled digits have one split; asking for `test` is refused the same way by every job
    (classifiers used to warn, train on another split and record the one asked for)."""
    extra = {"vgg16": ["--weights", "none", "--input-size", "32"]}.get(job, [])
    out = run_cli(["--batch", "--job", job, "--dataset", "digits", "--split", "test",
                   "--samples", "200", "--epochs", "1", *extra] if job != "tsne-gmm" else
                  ["--batch", "--job", job, "--dataset", "digits", "--split", "test"], cli_env)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        "error: --split test: dataset digits has no test split (it has: train); use --split "
        "auto or all")
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())


def test_mnist_in_two_places_is_exit_2_naming_both(run_cli, cli_env, tmp_path):
    import gzip

    import numpy as np

    def write(folder, split, n, seed):
        folder.mkdir(parents=True, exist_ok=True)
        prefix = {"train": "train", "test": "t10k"}[split]
        imgs = np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)
        head = bytes([0, 0, 8, 3]) + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(head +
                                                                              imgs.tobytes()))
        labels = (np.arange(n) % 10).astype(np.uint8)
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(
            bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + labels.tobytes()))

    data = tmp_path / "data"
    write(data / "a", "test", 50, 1)
    write(data / "b", "train", 100, 2)
    write(data / "b", "test", 50, 3)
    out = run_cli(["--batch", "--job", "cnn", "--data-dir", str(data), "--epochs", "1"], cli_env)
    assert out.returncode == 2, out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {data}: MNIST found in 2 places: a/ (test), b/ (train, test)")


@pytest.mark.parametrize("make, needle", [
    (lambda p: p / "missing", "no such file or directory"),
    (lambda p: p, "no MNIST files in"),
])
def test_unreadable_data_is_exit_2_and_leaves_no_run(run_cli, cli_env, tmp_path, make, needle):
    data = make(tmp_path / "data")
    (tmp_path / "data").mkdir(exist_ok=True)
    out = run_cli(["--batch", "--job", "tsne-gmm", "--data-dir", str(data)], cli_env)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error: ")
    assert needle in out.stderr
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())


def test_corrupt_idx_names_the_file(run_cli, cli_env, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    (data / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip either")
    out = run_cli(["--batch", "--job", "tsne-gmm", "--data-dir", str(data)], cli_env)
    assert out.returncode == 2
    assert "t10k-images-idx3-ubyte.gz: named .gz but is not gzip data" in out.stderr


def test_dataset_mnist_offline_never_falls_back(run_cli, cli_env, tmp_path):
    out = run_cli(["--batch", "--job", "tsne-gmm", "--dataset", "mnist"], cli_env)
    assert out.returncode == 2
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("error: could not download MNIST")
    assert str(tmp_path / "cache") in line and "--data-dir" in line


def test_json_stdout_carries_only_the_result(run_cli, cli_env, tmp_path):
    out = run_cli([*QUICK, "--iterations", "300", "--json", "-"], cli_env)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)  # nothing but the JSON on stdout
    assert result["status"] == "finished"
    assert result["job"] == "tsne-gmm" and result["preset"] == "default" and result["seed"] == 0
    assert result["dataset"]["name"] == "digits"
    assert result["dataset"]["n_samples"] == 300
    assert "bundled digits" in result["dataset"]["source"]
    assert result["details"]["deskewed"] is False        # 8×8 is too small to shear
    cm = result["confusion_matrix"]
    assert len(cm) == 10 and all(len(r) == 10 for r in cm)
    assert sum(map(sum, cm)) == 300  # 10 clusters, 10 digits: every image gets a digit
    # The accuracies recomputed here from the cluster × digit counts, not read back: majority
    # vote gives each cluster its most common digit; one-to-one is the best assignment (scipy).
    from scipy.optimize import linear_sum_assignment

    counts = np.array(result["cluster_counts"])
    assert counts.shape == (10, 10) and counts.sum() == 300
    m = result["metrics"]
    assert m["accuracy_majority"] == pytest.approx(counts.max(axis=1).sum() / 300)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    assert m["accuracy_hungarian"] == pytest.approx(counts[rows, cols].sum() / 300)
    assert m["accuracy_hungarian"] == pytest.approx(np.trace(cm) / 300)
    # many-to-one is never worse than one-to-one; both well above chance (0.1) on real digits
    assert m["accuracy_majority"] >= m["accuracy_hungarian"] > 0.4, m
    assert m["nmi"] > 0.4 and m["ari"] > 0.25, m
    timings = result["timings"]
    assert {"loading", "tsne", "gmm", "total"} <= set(timings)
    assert timings["total"] >= timings["tsne"] > 0
    # progress went to stderr
    assert "tsne" in out.stderr and "accuracy (one-to-one, Hungarian)" in out.stderr


def test_a_short_main_phase_still_clusters_the_digits(run_cli, cli_env):
    # 260 iterations: early exaggeration takes at most half (it took 250 and the embedding
    # collapsed to ~1e-11, every image in one cluster)
    out = run_cli([*QUICK, "--json", "-"], cli_env)
    assert out.returncode == 0, out.stderr
    m = json.loads(out.stdout)["metrics"]
    assert m["accuracy_hungarian"] > 0.4 and m["nmi"] > 0.4, m


def test_batch_writes_complete_run_folder_and_json_file(run_cli, cli_env, tmp_path):
    target = tmp_path / "result.json"
    out = run_cli([*QUICK, "--json", str(target)], cli_env)
    assert out.returncode == 0, out.stderr
    assert "\r" not in out.stdout  # not a terminal: plain lines only
    result = json.loads(target.read_text())
    run_dir = tmp_path / "runs" / result["run_id"]
    assert result["run_dir"] == str(run_dir)
    for name in ("spec.json", "meta.json", "events.jsonl", "result.json", "embedding.npz"):
        assert (run_dir / name).is_file(), name
    assert json.loads((run_dir / "result.json").read_text()) == result
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "started" and types[-1] == "finished"
    assert "snapshot" in types and "progress" in types
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["versions"]["scikit-learn"] and meta["dataset"]["fingerprint"]
    assert not list(run_dir.glob(".*.tmp"))


def test_rerun_reproduces_the_spec_and_the_numbers(run_cli, cli_env, tmp_path):
    first = json.loads(run_cli([*QUICK, "--json", "-"], cli_env).stdout)
    again = run_cli(["--batch", "--rerun", first["run_id"], "--json", "-"], cli_env)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["run_id"] != first["run_id"] and second["rerun_of"] == first["run_id"]
    assert second["spec"] == first["spec"]
    assert second["metrics"] == first["metrics"]

    config = tmp_path / "spec.json"
    config.write_text(json.dumps(first["spec"]))
    third = run_cli(["--batch", "--config", str(config), "--seed", "3", "--json", "-"], cli_env)
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout)["spec"] == {**first["spec"], "seed": 3}


def test_config_that_is_not_a_spec_is_exit_2(run_cli, cli_env, tmp_path):
    config = tmp_path / "c.json"
    config.write_text('{"job": "tsne-gmm", "perplexity": "high"}')
    out = run_cli(["--batch", "--config", str(config)], cli_env)
    assert out.returncode == 2
    assert out.stderr.startswith("error: --perplexity: expected a number")
    config.write_text("[1, 2]")
    out = run_cli(["--batch", "--config", str(config)], cli_env)
    assert out.returncode == 2 and "not a job spec" in out.stderr
