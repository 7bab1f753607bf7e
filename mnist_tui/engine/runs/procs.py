"""Is that process still the one we started? pid plus kernel start time, never pid alone.

A pid is reused once its process has gone; the start time (field 22 of /proc/PID/stat, in clock
ticks since boot) is not, so a record holding both names exactly one process for ever.
"""

from __future__ import annotations

import os

from mnist_tui.engine.pids import pid_exists


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except (OSError, ValueError):
        return None
    # the command name (field 2) is in parentheses and may hold spaces or parentheses
    return text.rsplit(")", 1)[1].split() if ")" in text else None


def process_start_time(pid: int) -> int | None:
    """The process' start time in clock ticks since boot, or None (gone, or no /proc)."""
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields else None   # field 22 overall; fields[0] is field 3
    except (IndexError, ValueError):
        return None


def process_alive(pid: object, start_time: int | None = None) -> bool:
    """True while `pid` runs (not a zombie) and, when `start_time` is given, is that process.
    Any `pid` that is not a positive int (None, a value read from a damaged record) is not."""
    if not pid_exists(pid):
        return False
    fields = _stat_fields(pid)
    if fields is None:
        return not os.path.isdir("/proc")   # no /proc: trust kill(0)
    if fields[0] == "Z":
        return False
    if start_time is None:
        return True
    try:
        return int(fields[19]) == int(start_time)
    except (IndexError, ValueError, TypeError):
        return False


WORKER_MODULE = "mnist_tui.engine.runs.worker"
MAX_CMDLINE_BYTES = 1 << 20   # the kernel's own limit on argv is far below this in practice


def _cmdline(pid: int) -> list[str] | None:
    """The process' argv from /proc/PID/cmdline (bounded), or None when it cannot be read."""
    try:
        with open(f"/proc/{int(pid)}/cmdline", "rb") as fh:
            raw = fh.read(MAX_CMDLINE_BYTES)
    except (OSError, ValueError):
        return None
    return [os.fsdecode(a) for a in raw.rstrip(b"\0").split(b"\0")] if raw else None


def _worker_run_dir(argv: list[str]) -> str | None:
    """The `--run-dir` of a worker's argv (`python [options] -m <worker> --run-dir DIR …`),
    or None when argv is not a worker's. Only interpreter options may come before `-m`, so
    `python -c CODE -m <worker> --run-dir DIR` (a script naming the worker) is not one."""
    try:
        i = argv.index(WORKER_MODULE, 1)
    except ValueError:
        return None
    if argv[i - 1] != "-m" or not all(a.startswith("-") for a in argv[1:i - 1]):
        return None
    rest = argv[i + 1:]
    for j, arg in enumerate(rest):
        if arg == "--run-dir" and j + 1 < len(rest):
            return rest[j + 1]
        if arg.startswith("--run-dir="):
            return arg.split("=", 1)[1]
    return None


def _same_folder(pid: int, named: str, run_dir: os.PathLike[str] | str) -> bool:
    """Does `named` (a worker's --run-dir, relative to its own working folder) name `run_dir`?"""
    if not os.path.isabs(named):
        try:
            named = os.path.join(os.readlink(f"/proc/{int(pid)}/cwd"), named)
        except OSError:
            return False
    try:
        return os.path.samefile(named, run_dir)
    except (OSError, ValueError):
        return False


def is_run_worker(pid: object, start_time: object, run_dir: os.PathLike[str] | str) -> bool:
    """True only when `pid` provably is the worker of the run in `run_dir`: that very process
    (pid and kernel start time), run by this user, whose command line runs the worker module
    on that run folder.

    Why so strict: pid and start time come from the run's meta record, which anyone can write. A
    planted folder naming another process (a shell, a database) must never make us follow it,
    let alone signal it (the TUI's cancel sends SIGUSR1 then SIGKILL). Everything that follows
    or signals a run's worker by its recorded pid asks this first. Without /proc nothing can be
    proven: False.
    """
    if not isinstance(start_time, int) or isinstance(start_time, bool):
        return False
    if not process_alive(pid, start_time):
        return False
    assert isinstance(pid, int)   # process_alive accepts positive ints only
    try:
        if os.stat(f"/proc/{pid}").st_uid != os.getuid():
            return False
    except OSError:
        return False
    argv = _cmdline(pid)
    named = _worker_run_dir(argv) if argv else None
    if named is None or not _same_folder(pid, named, run_dir):
        return False
    return process_alive(pid, start_time)   # still the same process after reading its argv
