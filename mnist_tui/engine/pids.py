"""Does a process with this id exist? The one check both the data layer (whose part file is
still being written?) and `runs.procs` (is that still our worker?) make; it lives outside the
layered packages because `data` may not import `runs`.
"""

from __future__ import annotations

import os
from typing import TypeGuard


def pid_exists(pid: object) -> TypeGuard[int]:
    """True while a process `pid` exists (a zombie too: `runs.procs.process_alive` tells them
    apart). Anything that is not a positive int (None, a value from a damaged record or from a
    file name anyone can plant) is no process: 0 would ask our own process group, a number past
    the C range would raise. Someone else's process exists too."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:     # someone else's process
        return True
    return True
