"""Fault rows about where output goes: the --json target, the runs folder, a full disk, a closed
pipe, paths recorded absolute. Each checks the exit code, the single `error:` line, that nothing
half-written is left and that the status recorded is the true one."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from support import patient

pytestmark = pytest.mark.faults

QUICK = ["--batch", "--job", "tsne-gmm", "--dataset", "digits", "--samples", "200",
         "--iterations", "300", "--gmm-inits", "1"]


def cli(args, env, cwd=None, stdout=subprocess.PIPE, timeout=120):
    return subprocess.run([sys.executable, "-m", "mnist_tui", *args], env=env, cwd=cwd,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=patient(timeout),
                          check=False)


def one_error_line(out) -> str:
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    return lines[0]


def run_folders(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if not p.name.startswith(".")] if root.is_dir() else []


@pytest.fixture
def env(cli_env, tmp_path):
    return {**cli_env, "MNIST_TUI_RUNS_DIR": str(tmp_path / "runs")}


@pytest.mark.parametrize("make, words", [
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: None, "does not exist"),          # its folder is missing
])
def test_a_json_target_that_cannot_be_written_is_refused_before_the_job(env, tmp_path, make,
                                                                        words):
    target = tmp_path / "out.json" if words != "does not exist" else tmp_path / "no" / "o.json"
    make(target)
    out = cli([*QUICK, "--json", str(target)], env, timeout=30)
    assert out.returncode == 2
    assert words in one_error_line(out)
    assert run_folders(tmp_path / "runs") == []          # refused before anything ran


def test_json_through_a_symlink_writes_its_target_and_keeps_the_link(env, tmp_path):
    target, link = tmp_path / "real.json", tmp_path / "link.json"
    link.symlink_to(target)
    out = cli([*QUICK, "--json", str(link)], env)
    assert out.returncode == 0, out.stderr
    assert link.is_symlink()                               # replaced by a file before
    assert json.loads(target.read_text())["status"] == "finished"


def test_json_to_a_fifo_is_written_through_not_replaced(env, tmp_path):
    fifo = tmp_path / "results.fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    out = cli([*QUICK, "--json", str(fifo)], env)
    reader.join(30)
    assert out.returncode == 0, out.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(got[0])["status"] == "finished"


def test_json_to_dev_stdout_reaches_stdout(env):
    out = cli([*QUICK, "--json", "/dev/stdout"], env)
    assert out.returncode == 0, out.stderr
    text = out.stdout[out.stdout.index("\n{") + 1:]
    assert json.loads(text)["status"] == "finished"


def test_output_piped_to_head_ends_quietly_and_the_run_finishes(env, tmp_path):
    """Bug: exit 3 `internal error: BrokenPipeError`, and the job was interrupted."""
    proc = subprocess.Popen([sys.executable, "-m", "mnist_tui", *QUICK], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.readline()
    proc.stdout.close()                                    # what `| head -n 1` does
    _, err = proc.communicate(timeout=patient(120))
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "internal error" not in err
    (run,) = run_folders(tmp_path / "runs")
    assert json.loads((run / "result.json").read_text())["status"] == "finished"


def test_a_runs_folder_that_is_a_file_is_exit_2(env, tmp_path):
    not_a_folder = tmp_path / "runs-file"
    not_a_folder.write_text("x")
    out = cli([*QUICK, "--runs-dir", str(not_a_folder)], env, timeout=30)
    assert out.returncode == 2
    assert "is not a folder" in one_error_line(out)
    assert not_a_folder.read_text() == "x"


def small_tmpfs(where: Path, options: str):
    """A 64 KiB tmpfs mounted at `where` for one test (root only: skipped otherwise)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                      capture_output=True, check=False).returncode != 0:
        pytest.skip("mount is not permitted here")
    yield where
    subprocess.run(["umount", str(where)], check=False)


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs: a run cannot fit."""
    yield from small_tmpfs(tmp_path / "full", "size=64k")


def test_a_full_disk_is_exit_2_with_nothing_left_behind(env, full_disk):
    """Bug: exit 3 `internal error: OSError [Errno 28]`, a torn events.jsonl, no result, and the
    run listed as running for ever."""
    out = cli([*QUICK, "--samples", "1000", "--runs-dir", str(full_disk)], env)
    assert out.returncode == 2
    assert "No space left on device" in one_error_line(out)
    assert run_folders(full_disk) == []


def _idx(arr: np.ndarray) -> bytes:
    code = 0x08
    return struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(
        f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()


def test_a_relative_data_dir_in_a_config_is_recorded_absolute(env, tmp_path):
    """Bug: stored as written, so --rerun from another folder read another place (or none)."""
    data = tmp_path / "cfg" / "data"
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 120), ("t10k", 60)):
        (data / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(
            rng.integers(0, 256, (n, 28, 28)))))
        (data / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(
            np.arange(n) % 10)))
    config = tmp_path / "cfg" / "spec.json"
    config.write_text(json.dumps({"job": "tsne-gmm", "dataset": "mnist", "data_dir": "data",
                                  "iterations": 300, "gmm_inits": 1, "pca": 20}))
    out = cli(["--batch", "--config", str(config)], env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (run,) = run_folders(tmp_path / "runs")
    recorded = json.loads((run / "spec.json").read_text())["data_dir"]
    assert recorded == str(data)                    # the config's folder, made absolute
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = cli(["--batch", "--rerun", run.name], env, cwd=elsewhere)
    assert again.returncode == 0, again.stderr


def test_artifacts_appear_only_whole(tmp_path):
    """Bug: model.keras, predictions.npz and embedding.npz were written in place: a signal or a
    full disk at that moment left a torn file that Results then loaded."""
    from mnist_tui.engine.jobs.context import JobContext

    ctx = JobContext(lambda ev: None)
    ctx.run_dir = tmp_path
    with pytest.raises(OSError):
        with ctx.writing_artifact("embedding.npz") as path:
            path.write_bytes(b"half of an arr")
            raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []                  # nothing torn, no temp left
    with ctx.writing_artifact("embedding.npz") as path:
        np.savez_compressed(path, x=np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["embedding.npz"]
    assert np.load(tmp_path / "embedding.npz")["x"].tolist() == [0, 1, 2]



@pytest.fixture
def read_only_place(tmp_path):
    """A read-only tmpfs: root writes through a chmod, not through a read-only mount."""
    yield from small_tmpfs(tmp_path / "ro", "ro,size=64k")


def test_a_read_only_runs_folder_is_exit_2_before_the_job(env, read_only_place):
    out = cli([*QUICK, "--runs-dir", str(read_only_place)], env, timeout=30)
    assert out.returncode == 2
    assert one_error_line(out) == f"error: runs folder {read_only_place} is not writable"
    assert os.listdir(read_only_place) == []


def test_a_runs_folder_path_too_long_for_run_folders_is_exit_2(env, tmp_path):
    deep = tmp_path
    while len(os.fsencode(str(deep))) < 4040:
        deep = deep / ("d" * 200)
    out = cli([*QUICK, "--runs-dir", str(deep)], env, timeout=30)
    assert out.returncode == 2
    assert "path too long for run folders in it" in one_error_line(out)
    assert os.listdir(deep) == []


def _without_root_reads() -> list[str]:
    """A command prefix under which root obeys file modes (it reads a chmod-000 folder
    otherwise): setpriv drops the two capabilities that bypass them."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("root reads any folder, and setpriv (util-linux) is not here to stop it")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]


def test_an_unreadable_data_folder_is_exit_2_with_no_run(env, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "t10k-images-idx3-ubyte.gz").write_bytes(b"x")
    prefix = _without_root_reads()
    data.chmod(0)
    try:
        out = subprocess.run([*prefix, sys.executable, "-m", "mnist_tui", "--batch", "--job",
                              "tsne-gmm", "--dataset", "mnist", "--data-dir", str(data)],
                             env=env, capture_output=True, text=True, timeout=patient(60), check=False)
    finally:
        data.chmod(0o755)
    assert out.returncode == 2, out.stderr
    line = one_error_line(out)
    assert line == f"error: {data}: permission denied (the folder cannot be listed)"
    assert run_folders(tmp_path / "runs") == []


def test_a_tensorboard_path_from_a_spec_file_is_named_before_the_job_writes_there(env,
                                                                                  tmp_path):
    """A spec file can send TensorBoard logs anywhere (a crafted spec.json on --rerun): the
    path is made absolute and said on stderr before the job starts, and the logs are there."""
    config = tmp_path / "cfg" / "spec.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"job": "cnn", "dataset": "digits", "epochs": 1,
                                  "samples": 300, "tensorboard": "tb"}))
    out = cli(["--batch", "--config", str(config)], env, timeout=180)
    assert out.returncode == 0, out.stderr
    where = tmp_path / "cfg" / "tb"
    assert out.stderr.splitlines()[0] == f"tensorboard logs: {where}"
    assert any(where.rglob("events.out.tfevents.*"))


def test_json_to_dev_full_is_one_error_line_and_the_device_stays(env, tmp_path):
    """Bug: as root, --json /dev/full renamed a temp file over the device (it became a file)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    before = os.stat("/dev/full")
    out = cli([*QUICK, "--json", "/dev/full"], env)
    assert out.returncode == 2
    assert one_error_line(out) == ("error: --json: cannot write /dev/full: No space left on "
                                   "device")
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    (run,) = run_folders(tmp_path / "runs")          # the job itself ran and is recorded
    assert json.loads((run / "result.json").read_text())["status"] == "finished"
