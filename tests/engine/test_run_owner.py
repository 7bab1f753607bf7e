"""Who started a run's worker (engine/runs/owner.py): recorded in meta.json by the worker from
what its starter handed it, read back typed, judged alive only when it provably is."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from support import patient

from mnist_tui.engine.runs import records
from mnist_tui.engine.runs.owner import (
    OWNER_ENV,
    owner_alive,
    owner_env,
    this_process,
)


def test_a_batch_run_records_its_owner_in_meta(run_cli, cli_env, tmp_path):
    out = run_cli(["--batch", "--job", "tsne-gmm", "--dataset", "digits", "--samples", "200",
                   "--iterations", "260", "--gmm-inits", "1"], cli_env)
    assert out.returncode == 0, out.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    owner = records.read_meta(run_dir).owner
    assert owner is not None and owner.kind == "batch"
    assert isinstance(owner.pid, int) and owner.pid != os.getpid()
    assert not owner_alive(owner)            # the batch process has exited


def test_owner_env_round_trips_and_names_this_process():
    owner = records.RunOwner.model_validate(json.loads(owner_env("suite", "s-1")[OWNER_ENV]))
    assert (owner.kind, owner.suite, owner.pid) == ("suite", "s-1", os.getpid())
    assert owner.pid_start is not None and owner_alive(owner)
    assert owner.describe() == f"suite s-1 (pid {os.getpid()})"


def test_a_dead_or_reused_pid_is_not_the_owner():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(patient(10))
    gone = this_process("tui").model_copy(update={"pid": child.pid})
    assert not owner_alive(gone)
    reused = this_process("tui").model_copy(update={"pid_start": 1})
    assert not owner_alive(reused)


def test_a_planted_owner_reads_as_nobody_alive(tmp_path):
    for junk in ("junk", 7, {"pid": "x"}, {"kind": "tui", "pid": 1}):
        meta = records.RunMeta.from_dict({"run_id": "r", "pid": 3, "owner": junk})
        assert meta.pid == 3
        assert not owner_alive(meta.owner)
