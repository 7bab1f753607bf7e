"""One runner per suite folder: an exclusive flock on `<suite>/lock`, held for the whole run.

Two runners of one suite (the TUI's `r` and `--batch --resume`, or two `--resume`) both ran the
remaining members. The kernel drops a flock when its holder dies (killed, terminal closed), so a
dead runner never leaves a stale lock behind. The holder writes who it is into the file, for the
second runner's error. The lock is reentrant per `SuiteLock` object: a front end takes it early
(before its preflight) and `run_suite` takes it again without locking itself out. The file
descriptor is not inherited by workers (Python's default), so a member never holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
from pathlib import Path

from mnist_tui.engine.errors import MnistTuiError
from mnist_tui.engine.suites.records import Runner

LOCK_FILE = "lock"


class SuiteBusyError(MnistTuiError):
    """Another process runs this suite now."""


class SuiteLock:
    """The lock of one suite folder (not thread-safe: one thread runs a suite)."""

    def __init__(self, folder: Path, suite_id: str) -> None:
        self.path = Path(folder) / LOCK_FILE
        self.suite_id = suite_id
        self.fd: int | None = None
        self.depth = 0

    @property
    def held(self) -> bool:
        return self.depth > 0

    def try_acquire(self) -> bool:
        """Take the lock (or nest once more if this object holds it); False if another has it,
        MnistTuiError if the lock file cannot be opened at all."""
        if self.depth:
            self.depth += 1
            return True
        fd = _open_lock_file(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self.fd, self.depth = fd, 1
        me = Runner.current()
        text = json.dumps({"pid": me.pid, "host": me.host, "start_time": me.start_time})
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, text.encode(), 0)
        except OSError:
            pass   # who holds it is for messages only
        return True

    def acquire(self) -> None:
        """Take the lock, or SuiteBusyError naming the process that holds it."""
        if not self.try_acquire():
            holder = self.holder()
            who = holder.describe() if holder else "another process"
            raise SuiteBusyError(f"suite {self.suite_id} is already running ({who})")

    def release(self) -> None:
        if not self.depth:
            return
        self.depth -= 1
        if self.depth:
            return
        fd, self.fd = self.fd, None
        assert fd is not None   # set whenever depth > 0
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)   # closing drops the flock

    def holder(self) -> Runner | None:
        """Who holds the lock, as its holder wrote it (None if unknown)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return Runner.from_dict(json.loads(os.read(fd, 4096)), str(self.path))
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)

    def __enter__(self) -> SuiteLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _open_lock_file(path: Path) -> int:
    """The lock file opened for writing, created if missing; MnistTuiError unless it is a
    regular file. The holder truncates and rewrites it, so a `lock` planted as a symlink to
    another file (O_NOFOLLOW), a FIFO or a device (O_NONBLOCK, then fstat) is refused rather
    than emptied or waited on."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        raise MnistTuiError(f"{path}: cannot be opened to lock the suite "
                            f"({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise MnistTuiError(f"{path}: not a regular file; cannot lock the suite")
    except BaseException:
        os.close(fd)
        raise
    return fd
