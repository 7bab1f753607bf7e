"""Where batch output goes: the `--json` target checked before the job starts, written without
replacing what is not ours, and human output that survives a closed pipe (`| head`).

Checked up front so that a job of an hour never ends in "cannot write --json": a folder, a
missing or read-only folder, a symlink to elsewhere or a device are all known before it starts.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import TextIO

from mnist_tui.engine.errors import MnistTuiError


class OutputError(MnistTuiError):
    """An output place that cannot be written (a usage error: exit 2)."""


def check_json_target(target: str) -> str:
    """`-` (stdout), or the path as given; OutputError when it cannot be written as a file.

    A regular file (or nothing yet) in a writable folder is replaced atomically; through a
    symbolic link, the file it points to is (the link stays). A character device or FIFO
    (`/dev/stdout`, `/dev/null`, a named pipe) is written through, never replaced. A folder, a
    socket or a dangling link is refused.
    """
    if target == "-":
        return target
    path = _resolved(target)
    try:
        st = os.stat(target)          # follows links: /dev/stdout → /proc/self/fd/1 → a pipe
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"--json: {target}: {exc.strerror}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"--json: {target} is a folder; give a file name in it")
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            if not os.access(target, os.W_OK):
                raise OutputError(f"--json: {target} is not writable")
            return target
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(f"--json: {target} is not a regular file")
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"--json: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"--json: folder {folder} is not writable")
    if len(os.fsencode(path.name)) > 255:
        raise OutputError(f"--json: file name too long ({len(path.name)} characters)")
    return target


def _resolved(target: str) -> Path:
    """The path itself, or where its symbolic link(s) point."""
    return Path(os.path.realpath(target)) if os.path.islink(target) else Path(target)


def write_json_output(target: str, text: str) -> None:
    """Write the result JSON where `check_json_target` agreed it could go."""
    from mnist_tui.engine.runs.records import atomic_write_text

    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = 0
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        with open(target, "w", encoding="utf-8") as fh:     # through, never replaced
            fh.write(text)
        return
    atomic_write_text(_resolved(target), text)


def check_runs_dir(runs_dir: Path) -> Path:
    """The runs folder, created if needed; OutputError (exit 2) when it cannot hold runs."""
    runs_dir = Path(runs_dir).expanduser().absolute()
    if runs_dir.exists() and not runs_dir.is_dir():
        raise OutputError(f"runs folder {runs_dir} is not a folder")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"runs folder {runs_dir} cannot be created: {exc.strerror}") from None
    if not os.access(runs_dir, os.W_OK | os.X_OK):
        raise OutputError(f"runs folder {runs_dir} is not writable")
    # a run folder name plus its longest file must fit the system's path limit
    longest = len(os.fsencode(str(runs_dir))) + 1 + 40 + 1 + 40
    if longest >= os.pathconf(runs_dir, "PC_PATH_MAX"):
        raise OutputError(f"runs folder {runs_dir}: path too long for run folders in it")
    return runs_dir


class QuietOnClosedPipe:
    """A text stream that stops writing (silently) once its reader has gone (`| head`).

    The job goes on and is recorded; only the human lines nobody reads are dropped.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.closed_pipe = False

    def write(self, text: str) -> int:
        if not self.closed_pipe:
            try:
                return self.stream.write(text)
            except (BrokenPipeError, ValueError):
                self._close()
            except OSError as exc:
                if exc.errno not in (errno.EIO, errno.EPIPE):
                    raise
                self._close()
        return len(text)

    def flush(self) -> None:
        if not self.closed_pipe:
            try:
                self.stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self._close()

    def isatty(self) -> bool:
        try:
            return self.stream.isatty()
        except ValueError:
            return False

    def _close(self) -> None:
        """Point the descriptor at /dev/null so that Python's exit flush does not fail either."""
        self.closed_pipe = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass
