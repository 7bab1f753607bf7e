"""`--backend tensorflow|jax|torch` through the real CLI: the jobs train and score on JAX (CI
installs the [jax] extra) and on PyTorch where torch is installed (skipped elsewhere); every
backend-specific failure is one `error:` line and exit 2, before any work. (VGG16 on JAX, with
the feature cache and without, on a Python without TensorFlow: tests/test_gpu_check.py.)

A machine without a framework is made with a `sitecustomize` that hides it from the import
system (importlib finds nothing, `import` fails), so the refusals are tested whatever is
installed here."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from support import env_without

TINY_CNN = ["--job", "cnn", "--dataset", "digits", "--samples", "400", "--epochs", "2",
            "--eval-samples", "300"]


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


needs_jax = pytest.mark.skipif(not installed("jax"), reason="JAX is not installed "
                               '(pip install -e ".[jax]"; CI installs it)')
needs_torch = pytest.mark.skipif(not installed("torch"), reason="PyTorch is not installed "
                                 "(the [torch] extra; CI does not install it)")


def without(tmp_path: Path, env: dict, *modules: str) -> dict:
    """`env` for a Python that cannot find `modules` (a machine without them)."""
    return env_without(tmp_path / "hide", env, *modules)


def only_error_line(out) -> str:
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "Traceback" not in out.stderr
    return lines[0]


@needs_jax
def test_the_cnn_on_jax_trains_scores_and_records_its_backend_with_data_parallel_and_tensorboard(
        run_cli, cli_env, tmp_path):
    """One run for three things JAX does differently: the backend itself (a PyDataset, Keras'
    own batch norm), `--strategy mirrored` as Keras' DataParallel over two CPU devices, and
    TensorBoard logs written with TensorFlow's core writer while JAX trains."""
    env = {**cli_env, "MNIST_TUI_CPU_DEVICES": "2"}
    logs = tmp_path / "tb"
    out = run_cli(["--batch", *TINY_CNN, "--backend", "jax", "--strategy", "mirrored",
                   "--tensorboard", str(logs), "--json", "-"], env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["status"] == "finished"
    assert result["spec"]["backend"] == "jax"
    assert result["details"]["backend"].startswith("jax (JAX ")
    assert "\nbackend   jax (JAX " in out.stderr          # the summary says it too
    assert result["versions"].get("jax")
    assert result["devices"] == ["/device:CPU:0", "/device:CPU:1"]
    strategy = result["details"]["strategy"]
    assert strategy["replicas"] == 2
    assert strategy["implementation"] == "keras.distribution.DataParallel"
    assert "float32" in result["details"]["precision"]
    # the training step compiled by XLA (a random image layer made Keras run JAX eagerly, op by
    # op: 20× slower than TensorFlow)
    assert result["details"]["jit_compile"] is True
    assert result["metrics"]["n_eval"] == 300
    assert result["metrics"]["accuracy"] > 0.5, result["metrics"]["accuracy"]
    assert [h["epoch"] for h in result["history"]] == [1, 2]
    run_dir = Path(result["run_dir"])
    assert (run_dir / "model.keras").is_file()
    written = sorted(p.parent.name for p in logs.rglob("events.out.tfevents.*"))
    assert written == ["train", "validation"], written


@needs_torch
def test_the_cnn_and_the_refined_self_training_on_torch(run_cli, cli_env):
    out = run_cli(["--batch", *TINY_CNN, "--backend", "torch", "--json", "-"], cli_env,
                  timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["details"]["backend"].startswith("torch (PyTorch ")
    assert result["metrics"]["accuracy"] > 0.5
    refined = run_cli(["--batch", "--job", "tsne-gmm", "--preset", "refined", "--backend",
                       "torch", "--dataset", "digits", "--samples", "300", "--iterations",
                       "300", "--gmm-inits", "1", "--refine-epochs", "1", "--json", "-"],
                      cli_env, timeout=300)
    assert refined.returncode == 0, refined.stderr[-3000:]
    res = json.loads(refined.stdout)
    assert res["details"]["refine"]["settings"]["backend"] == "torch"
    assert res["metrics"]["accuracy_hungarian"] > 0.5


def test_a_backend_not_installed_is_one_line_naming_its_extra(run_cli, cli_env, tmp_path):
    env = without(tmp_path, cli_env, "jax", "torch")
    for backend, extra in (("jax", "jax"), ("torch", "torch")):
        line = only_error_line(run_cli(["--batch", *TINY_CNN, "--backend", backend], env,
                                       timeout=60))
        assert line.startswith(f"error: --backend {backend}: ")
        assert "is not installed here" in line and f'".[{extra}]"' in line
    # the self-training needs it too; t-SNE alone does not
    line = only_error_line(run_cli(["--batch", "--job", "tsne-gmm", "--preset", "refined",
                                    "--dataset", "digits", "--backend", "jax"], env, timeout=60))
    assert "--backend jax" in line
    assert not (Path(cli_env["MNIST_TUI_RUNS_DIR"])).exists() or \
        not any(Path(cli_env["MNIST_TUI_RUNS_DIR"]).iterdir())


def test_a_rerun_of_a_jax_run_on_a_machine_without_jax_is_refused(run_cli, cli_env, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"job": "cnn", "dataset": "digits", "samples": 400,
                                "backend": "jax"}))
    line = only_error_line(run_cli(["--batch", "--config", str(spec)],
                                   without(tmp_path, cli_env, "jax"), timeout=60))
    assert line.startswith("error: --backend jax: JAX is not installed here")


def test_mirrored_on_torch_is_refused_in_one_line(run_cli, cli_env):
    line = only_error_line(run_cli(["--batch", *TINY_CNN, "--backend", "torch", "--strategy",
                                    "mirrored"], cli_env, timeout=60))
    assert line.startswith("error: --strategy: --strategy mirrored: the torch backend has no "
                           "data-parallel distribution") or \
        line.startswith("error: --strategy mirrored: the torch backend"), line


def test_tensorboard_without_tensorflow_is_refused_in_one_line(run_cli, cli_env, tmp_path):
    env = without(tmp_path, cli_env, "tensorflow", "tensorboard")
    line = only_error_line(run_cli(["--batch", *TINY_CNN, "--backend", "jax", "--tensorboard",
                                    str(tmp_path / "tb")], env, timeout=60))
    assert "--tensorboard" in line and "TensorFlow is not installed" in line


def test_an_unknown_backend_is_one_line(run_cli, cli_env):
    line = only_error_line(run_cli(["--batch", *TINY_CNN, "--backend", "mxnet"], cli_env,
                                   timeout=60))
    assert "'mxnet' is not one of tensorflow, jax, torch" in line
