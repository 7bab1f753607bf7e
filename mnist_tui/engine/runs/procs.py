"""Is that process still the one we started? pid plus kernel start time, never pid alone.

A pid is reused once its process has gone; the start time (field 22 of /proc/PID/stat, in clock
ticks since boot) is not, so a record holding both names exactly one process for ever.
"""

from __future__ import annotations

import os


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
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OverflowError:
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
