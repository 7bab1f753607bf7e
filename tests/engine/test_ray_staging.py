"""A Ray member task runs its worker in a staging folder on its node and removes it at the end;
a task whose Ray worker was killed (its node lost, a forced cancel) cannot. The next task on
that node removes such folders: only this user's, only when the Ray worker named in the folder
is gone (21 were left in /tmp by the node-loss and Ctrl-C runs before)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mnist_tui.engine.suites.ray_task import STAGING_PREFIX, reap_staging


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_staging_of_a_dead_ray_worker_is_removed_and_a_live_ones_kept():
    tmp = Path(tempfile.gettempdir())
    dead = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{_dead_pid()}-", dir=tmp))
    (dead / "20261207-000000-tsne-gmm-abcdef").mkdir()
    live = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=tmp))
    other = Path(tempfile.mkdtemp(prefix="mnist-tui-memberx-", dir=tmp))   # not a staging name
    try:
        removed = reap_staging()
        assert dead in removed and not dead.exists()
        assert live.is_dir() and other.is_dir()
    finally:
        for p in (dead, live, other):
            shutil.rmtree(p, ignore_errors=True)
