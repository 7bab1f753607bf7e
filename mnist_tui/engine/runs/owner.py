"""Who started a run's worker: a TUI window, a batch run or a suite (`records.RunOwner`).

The front end that starts a worker hands it its own identity through the environment
(`owner_env`); the worker records it in meta.json (`recorded_owner`). Every window then knows,
for each live run it sees, whether it is its own, another live process's (a second window, a
script's batch run, a suite: never stopped by this window's quit, never announced as "left
running"), or left running by a window that is gone (`owner_alive` is False).
"""

from __future__ import annotations

import json
import os
import socket
from typing import TYPE_CHECKING

from mnist_tui.engine.runs.procs import process_alive, process_start_time

if TYPE_CHECKING:   # pydantic's records: imported where an owner is made or read
    from mnist_tui.engine.runs.records import RunOwner

OWNER_ENV = "MNIST_TUI_OWNER"   # JSON: the `RunOwner` of the process that starts the worker
OWNER_KINDS = ("tui", "batch", "suite")


def this_process(kind: str, suite: str | None = None) -> RunOwner:
    """This process as an owner of the workers it starts."""
    from mnist_tui.engine.runs.records import RunOwner

    if kind not in OWNER_KINDS:
        raise ValueError(f"owner kind {kind!r} is not one of {OWNER_KINDS}")
    pid = os.getpid()
    return RunOwner(kind=kind, pid=pid, pid_start=process_start_time(pid),
                    host=socket.gethostname(), suite=suite)


def owner_env(kind: str, suite: str | None = None) -> dict[str, str]:
    """The variable a worker started by this process gets."""
    return {OWNER_ENV: json.dumps(this_process(kind, suite).to_dict(), sort_keys=True)}


def recorded_owner() -> RunOwner | None:
    """The worker's side: its owner from the environment (None when absent or unreadable)."""
    from mnist_tui.engine.runs.records import RunOwner

    raw = os.environ.get(OWNER_ENV)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return RunOwner.model_validate(data) if isinstance(data, dict) else None
    except ValueError:
        return None


def owner_alive(owner: RunOwner | None) -> bool:
    """The owner still runs (same pid and start time on this host). Another host's owner
    cannot be judged from here: counted alive, so nothing here ever takes over its runs."""
    if owner is None:
        return False
    if owner.host and owner.host != socket.gethostname():
        return True
    return isinstance(owner.pid_start, int) and process_alive(owner.pid, owner.pid_start)
