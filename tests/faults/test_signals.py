"""Fault contract, the stop matrix: SIGINT, SIGTERM and SIGHUP to the batch front end, SIGKILL to
its worker and SIGKILL to the front end itself, each in each phase a user can stop a job in —
while the data downloads (before any run folder exists), while t-SNE embeds, while a CNN trains.

Every case checks what the contract promises: the exit code, the JSON status and reason, that the
run's records say the same thing (never "running" for ever), that nothing half-written is left
(no temp or part files, every record whole) and that no worker outlives the stop.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fault_helpers import listing, part_files
from support import patient, wait_until

from mnist_tui.engine.runs.procs import process_alive
from mnist_tui.engine.runs.store import RunStore

pytestmark = pytest.mark.faults

PHASES = {
    # the MNIST download, trickled: the worker is still loading, no run folder yet
    "download": ["--job", "tsne-gmm", "--dataset", "mnist"],
    "tsne": ["--job", "tsne-gmm", "--dataset", "digits", "--samples", "1500",
             "--iterations", "10000", "--gmm-inits", "1"],
    "training": ["--job", "cnn", "--dataset", "digits", "--epochs", "500"],
}
# The line the front end prints once the worker is in that phase (the download: its part file).
REACHED = {"tsne": "tsne 0/", "training": "epoch 1/"}

# (stop, exit code, JSON status, stopped_by); None: the front end is killed and writes nothing.
STOPS = {
    "SIGINT": (130, "interrupted", "ctrl-c"),
    "SIGTERM": (130, "cancelled", "signal"),
    "SIGHUP": (130, "interrupted", "hangup"),
    "SIGKILL-worker": (3, "failed", None),
    "SIGKILL-front-end": None,
}
RECORD_FILES = {"meta.json", "spec.json", "events.jsonl", "result.json", "worker.log",
                "history.csv"}


class Batch:
    """`mnist-tui --batch` as a user starts it, its stdout read on a thread (never blocks)."""

    def __init__(self, args: list[str], env: dict, json_out: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "mnist_tui", "--batch", *args,
                                      "--json", str(json_out)], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for_line(self, needle: str, timeout: float = 90) -> None:
        wait_until(lambda: any(needle in line for line in self.lines)
                 or self.proc.poll() is not None, timeout, f"{needle!r} on stdout")
        assert self.proc.poll() is None, "".join(self.lines) + self.proc.stderr.read()

    def end(self, timeout: float = 60) -> tuple[int, str]:
        try:
            self.proc.wait(patient(timeout))
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(10)
        return self.proc.returncode, self.proc.stderr.read()


def start_in_phase(phase: str, env: dict, tmp_path: Path, hostile) -> tuple[Batch, int, Path | None]:
    """A batch run stopped nowhere yet, in `phase`: (it, its worker's pid, its run folder)."""
    if phase == "download":
        hostile.put("mnist.npz", bytes(100_000))
        env = {**env, "MNIST_TUI_MIRRORS": hostile.url("trickle", "mnist.npz"),
               "MNIST_TUI_DOWNLOAD_DEADLINE": "300"}
    batch = Batch(PHASES[phase], env, tmp_path / "result.json")
    if phase == "download":
        cache = Path(env["MNIST_TUI_CACHE_DIR"])
        [part] = wait_until(lambda: part_files(cache), 60, "the download's part file")
        return batch, int(part.name[len(".mnist.npz."):].split(".")[0]), None
    batch.wait_for_line(REACHED[phase])
    runs = Path(env["MNIST_TUI_RUNS_DIR"])
    [run_dir] = [runs / name for name in listing(runs)]
    meta = json.loads((run_dir / "meta.json").read_text())
    return batch, meta["pid"], run_dir


def stop(batch: Batch, worker_pid: int, how: str) -> None:
    if how == "SIGKILL-worker":
        os.kill(worker_pid, signal.SIGKILL)
    elif how == "SIGKILL-front-end":
        batch.proc.kill()
    else:
        batch.proc.send_signal(getattr(signal, how))


def assert_whole(run_dir: Path, torn_tail_allowed: bool) -> None:
    """Only the run's own records, each whole: no temp files, JSON that parses, event lines that
    parse (a worker killed outright may leave its last line unfinished, nothing else)."""
    names = set(os.listdir(run_dir))
    assert names <= RECORD_FILES | {"model.keras", "predictions.npz", "embedding.npz"}, names
    for name in ("meta.json", "spec.json", "result.json"):
        json.loads((run_dir / name).read_text())
    text = (run_dir / "events.jsonl").read_text()
    lines = text.split("\n")
    if torn_tail_allowed and not text.endswith("\n"):
        lines = lines[:-1]
    for line in lines:
        if line:
            assert isinstance(json.loads(line), dict), line


@pytest.mark.parametrize("how", list(STOPS))
@pytest.mark.parametrize("phase", list(PHASES))
def test_every_stop_in_every_phase_ends_as_promised(phase, how, env, runs, cache, tmp_path,
                                                    hostile):
    batch, worker_pid, run_dir = start_in_phase(phase, env, tmp_path, hostile)
    stop(batch, worker_pid, how)
    code, err = batch.end()
    assert "Traceback" not in err, err

    # No worker outlives the stop (a killed front end: the worker sees its caller gone).
    wait_until(lambda: not process_alive(worker_pid), 60, "the worker to end")

    expected = STOPS[how]
    saved = json.loads((tmp_path / "result.json").read_text()) if expected else None
    if expected:
        want_code, want_status, want_by = expected
        assert code == want_code, (code, err)
        assert saved["status"] == want_status, saved
        if want_by:
            assert saved["stopped_by"] == want_by, saved
        else:
            assert "SIGKILL" in saved["error"], saved
        if how != "SIGKILL-worker":
            assert [line for line in err.splitlines() if line.startswith("error:")] == [], err
    else:
        assert code == -signal.SIGKILL
        assert not (tmp_path / "result.json").exists()       # it was killed before writing

    if run_dir is None:
        # Stopped while loading: no run was started, so none is recorded, and the download's
        # part file is gone (SIGKILL leaves it for the next download to remove: see
        # test_fault_downloads).
        assert listing(runs) == []
        if saved is not None:
            assert saved["run_dir"] is None
        if how != "SIGKILL-worker":
            assert part_files(cache) == []
        return

    # The run is recorded with the truth, and lists that way (never "running").
    assert_whole(run_dir, torn_tail_allowed=how == "SIGKILL-worker")
    recorded = json.loads((run_dir / "result.json").read_text())
    [listed] = RunStore(runs).list()
    if expected:
        assert recorded["status"] == listed.status == saved["status"]
        assert saved["run_dir"] == str(run_dir)
    else:
        assert (recorded["status"], recorded["stopped_by"]) == ("interrupted", "caller-gone"), \
            recorded.get("error")
        assert listed.status == "interrupted"
