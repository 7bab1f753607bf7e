"""Where batch output goes: output targets (`--json`, `--report`) checked before any work,
written without replacing what is not ours, human output that survives a closed or full stream
(`| head`, `>&-`, `> /dev/full`), and the one place an `error:` line is printed.

Checked up front so that a job (or a suite) of an hour never ends in "cannot write --json": a
folder, a missing or read-only folder, a closed stdout or a device next to which the report's
other files would be made are all known before it starts. A single job and a suite check with
the same functions.
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
import sys
from pathlib import Path
from typing import TextIO

from mnist_tui.engine.errors import MnistTuiError
from mnist_tui.engine.text import shorten, visible

# An `error:` line is cut twice: each word (a value, a path) past 200 characters keeps its
# first 160 and last 40; the whole line past 1,000 keeps its first 800 and last 200 (the reason
# often comes last). Real messages (a download's, naming the cache and the mirrors) stay whole.
WORD_CUT = (160, 40)
LINE_CUT = (800, 200)
_LONG_WORD = re.compile(r"\S{%d,}" % (sum(WORD_CUT) + 1))


class OutputError(MnistTuiError):
    """An output place that cannot be written (a usage error: exit 2)."""


def error_line(message: object) -> None:
    """Print `error: MESSAGE` on stderr: the one place the batch front end does.

    The message may hold what a user typed or a file held: control characters are shown as
    escapes (a newline cannot forge a second `error:` line, an ESC sequence cannot drive the
    terminal) and a huge value (a 4,000-digit number) is cut in the middle, keeping its start
    and its end. A stderr that is closed or full loses the line, nothing more: there is nowhere
    else to say it.
    """
    text = _LONG_WORD.sub(lambda m: _cut(m.group(0), *WORD_CUT), visible(message))
    say(f"error: {_cut(text, *LINE_CUT)}")


def _cut(text: str, head: int, tail: int) -> str:
    """`text`, or its start (`shorten`, which says how much was cut) and its last `tail`
    characters when it is longer than `head + tail`."""
    if len(text) <= head + tail:
        return text
    return f"{shorten(text[:-tail], head)}…{text[-tail:]}"


def say(text: str) -> None:
    """A line on stderr that is dropped, not raised, when stderr cannot take it."""
    stream = sys.stderr
    if stream is None:           # started with stderr closed (`2>&-`)
        return
    try:
        stream.write(text + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def reserve_std_fds() -> None:
    """Open /dev/null on standard descriptors the process was started without (`>&-`).

    Otherwise the next file or pipe opened takes descriptor 1 or 2: the worker's pipes or a
    run's files would then receive what is printed to "stdout". Python has already set
    `sys.stdout` (or stderr) to None for a closed descriptor, and that stays: it is how
    `--json -` knows stdout was closed, and what human output drops.
    """
    for fd, flags in ((0, os.O_RDONLY), (1, os.O_WRONLY), (2, os.O_WRONLY)):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        try:
            null = os.open(os.devnull, flags)
        except OSError:
            continue
        if null != fd:
            os.dup2(null, fd)
            os.close(null)


def check_json_target(target: str) -> str:
    """`-` (stdout, which must be open for writing), or an output file (`check_output_target`)."""
    if target == "-":
        check_stdout()
        return target
    return check_output_target(target, "--json")


def check_stdout() -> None:
    """OutputError when stdout was closed (`>&-`) or is open only for reading (`1</dev/null`).

    A full device (`> /dev/full`) cannot be known before writing; the write then says so.
    """
    if sys.stdout is None:
        raise OutputError("--json -: stdout is closed; give a file with --json PATH")
    try:
        mode = fcntl.fcntl(1, fcntl.F_GETFL) & os.O_ACCMODE
    except OSError:
        raise OutputError("--json -: stdout is closed; give a file with --json PATH") from None
    if mode == os.O_RDONLY:
        raise OutputError("--json -: stdout is not open for writing; give a file with "
                          "--json PATH")


def check_output_target(target: str, flag: str) -> str:
    """The path as given; OutputError (naming `flag`) when it cannot be written as a file.

    A regular file (or nothing yet) in a writable folder is replaced atomically; through a
    symbolic link, the file it points to is (the link stays). A character device or FIFO
    (`/dev/stdout`, `/dev/null`, a named pipe) is written through, never replaced. A folder, a
    socket or a block device is refused.
    """
    path = _resolved(target)
    try:
        st = os.stat(target)          # follows links: /dev/stdout → /proc/self/fd/1 → a pipe
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"{flag}: {target}: {exc.strerror}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{flag}: {target} is a folder; give a file name in it")
        if _is_stream(st.st_mode):
            if not os.access(target, os.W_OK):
                raise OutputError(f"{flag}: {target} is not writable")
            return target
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(f"{flag}: {target} is not a regular file")
        if not os.access(target, os.W_OK):
            # chmod 444 says "keep this": the shell's `>` refuses it too (root aside). The
            # rename of an atomic write needs only the folder, so it replaced the file.
            raise OutputError(f"{flag}: {target} is read-only; it is not replaced")
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"{flag}: folder {folder} does not exist")
    if _holds_records(folder):
        raise OutputError(f"{flag}: {target} is in the folder of a recorded run or suite "
                          f"({folder}), whose records are never replaced; give a path "
                          "outside it")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{flag}: folder {folder} is not writable")
    if len(os.fsencode(path.name)) > 255:
        raise OutputError(f"{flag}: file name too long ({len(path.name)} characters)")
    return target


def check_report_targets(paths: list[Path]) -> None:
    """`--report`: the HTML path and its .md, .json, .csv siblings, each checked as an output.

    The siblings are made next to the HTML path: beside a device (`/dev/null`, `/dev/stdout`)
    that would create files among the system's devices, so it is refused instead.
    """
    html, *siblings = paths
    check_output_target(str(html), "--report")
    if _beside_devices(html):
        raise OutputError(f"--report: {html} is a device: the report's "
                          f"{', '.join(p.suffix for p in siblings)} files would be created next "
                          "to it; give a file path")
    for p in siblings:
        check_output_target(str(p), "--report")


def _holds_records(folder: Path) -> bool:
    """Is `folder` a run's or a suite's folder? An output there would replace (or, for the
    report's siblings, silently be) one of its records: `--report runs/suites/S/members.html`
    wrote its members record over that suite's, and it could no longer be resumed."""
    from mnist_tui.engine.runs.layout import RECORD_MARKERS

    return any(all((folder / name).is_file() for name in marker) for marker in RECORD_MARKERS)


def _beside_devices(path: Path) -> bool:
    """A character device, or a name in /dev or in a process's descriptor folder (/dev/fd)."""
    try:
        if stat.S_ISCHR(os.stat(path).st_mode):
            return True
    except OSError:
        pass
    folder = os.path.realpath(Path(path).absolute().parent)
    return folder == "/dev" or folder.startswith("/proc/")


def _is_stream(mode: int) -> bool:
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _resolved(target: str) -> Path:
    """The path itself, or where its symbolic link(s) point."""
    return Path(os.path.realpath(target)) if os.path.islink(target) else Path(target)


def write_output(target: str | Path, text: str, shared: bool = False) -> None:
    """Write an output where `check_output_target` agreed it could go: a device or FIFO (also
    behind a link) is written through, a regular file replaced atomically (through a link: the
    file it points to; the link stays). `shared`: the new file readable by others (the umask
    aside), as a report is; temp files are private."""
    from mnist_tui.engine.runs.records import atomic_write_text

    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = 0
    if _is_stream(mode):
        with open(target, "w", encoding="utf-8") as fh:     # through, never replaced
            fh.write(text)
        return
    path = _resolved(str(target))
    atomic_write_text(path, text)
    if shared:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(path, 0o666 & ~umask)


write_json_output = write_output


def write_stdout(text: str) -> None:
    """`--json -`: the text on stdout. A reader that went away (`| head`) ends it quietly, as
    human output does; a stdout that cannot take it (a full device) is an OutputError."""
    if sys.stdout is None:
        raise OutputError("--json -: stdout is closed")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        QuietOnClosedPipe(sys.stdout).drop()
    except (OSError, ValueError) as exc:
        QuietOnClosedPipe(sys.stdout).drop()
        reason = getattr(exc, "strerror", None) or "stdout is closed"
        raise OutputError(f"--json: cannot write to stdout: {reason}") from None


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


def human_stream(json_out: str | None) -> QuietOnClosedPipe:
    """Where progress for people goes: stderr when stdout carries the JSON (`--json -`)."""
    return QuietOnClosedPipe(sys.stderr if json_out == "-" else sys.stdout)


class QuietOnClosedPipe:
    """A text stream that stops writing (silently) once it cannot be written: its reader has
    gone (`| head`), it was closed (`>&-`: None), it is full (`> /dev/full`), it is read-only.

    The job goes on and is recorded; only the human lines nobody can read are dropped.
    """

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.closed_pipe = stream is None

    def write(self, text: str) -> int:
        if not self.closed_pipe and self.stream is not None:
            try:
                return self.stream.write(text)
            except (OSError, ValueError):
                self.drop()
        return len(text)

    def flush(self) -> None:
        if not self.closed_pipe and self.stream is not None:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                self.drop()

    def isatty(self) -> bool:
        try:
            return self.stream is not None and self.stream.isatty()
        except (OSError, ValueError):
            return False

    def drop(self) -> None:
        """Write no more; point the descriptor at /dev/null so that Python's exit flush (of
        what is still buffered) does not fail either (it would exit 120)."""
        self.closed_pipe = True
        if self.stream is None:         # started closed: no descriptor to point anywhere
            return
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

