"""The real app on the terminals people have: NO_COLOR, TERM=xterm and screen (16 colours),
xterm-256color; every screen (1-6) and the Results of a recorded run, then resized down to the
minimum, below it, and back — no exception, and each screen still says what it is.

Textual picks its colour system through Rich: `TEXTUAL_COLOR_SYSTEM` (read once, when
`textual.constants` is imported; "auto" by default), and in "auto" Rich reads COLORTERM
(truecolor, 24bit) and TERM ("-256color" → 256 colours; xterm, screen and the rest → the 16
standard colours). NO_COLOR adds Textual's monochrome filter.

A headless app (Pilot) never writes a frame, so the colours a terminal gets are checked apart:
the same app runs in a pseudo-terminal as `mnist-tui` would (its own process, a real driver,
resized by the kernel's SIGWINCH), and everything it writes is read back — escape codes of the
16 colours only under TERM=xterm/screen, only greys under NO_COLOR, and an exit code of 0.
"""

from __future__ import annotations

import os
import re
import select
import struct
import sys
import time

import pytest
import textual.constants
from tui_helpers import install_recorded_run, screen_text, wait_for, write_classifier_run

from mnist_tui.tui.app import MIN_HEIGHT, MIN_WIDTH, create_app

TERMINALS = {
    "NO_COLOR": ({"NO_COLOR": "1", "TERM": "xterm-256color"}, "256"),
    "xterm": ({"TERM": "xterm"}, "standard"),
    "screen": ({"TERM": "screen"}, "standard"),
    "xterm-256color": ({"TERM": "xterm-256color"}, "256"),
}
SCREENS = (("1", "DatasetScreen", "Dataset"), ("2", "LaunchScreen", "Launch"),
           ("3", "MonitorScreen", "Monitor"), ("4", "ResultsScreen", "Results"),
           ("5", "RunsScreen", "Runs"), ("6", "SuitesScreen", "Suites"))
SGR = re.compile(r"\x1b\[([0-9;]*)m")
GREYS_256 = {0, 7, 8, 15, 16, 59, 102, 145, 188, 231, *range(232, 256)}


def header(app) -> str:
    return screen_text(app).splitlines()[0]


async def visit(pilot, key: str, name: str, label: str) -> None:
    app = pilot.app
    await pilot.press(key)
    await wait_for(pilot, lambda: type(app.screen).__name__ == name
                   and f"— {key} {label}" in header(app), 20)


@pytest.mark.parametrize("terminal", list(TERMINALS))
async def test_every_screen_on_every_terminal_and_resized(runs_dir, monkeypatch, terminal):
    env, system = TERMINALS[terminal]
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "auto")
    for name in ("COLORTERM", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    tsne = install_recorded_run(runs_dir)
    write_classifier_run(runs_dir)
    app = create_app(runs_dir=runs_dir, dataset="digits")
    no_color = "NO_COLOR" in env
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.console.color_system == system
        assert app.no_color == no_color
        await wait_for(pilot, lambda: app.stats is not None, 30)
        await wait_for(pilot, lambda: "Each class" in screen_text(app), 10)
        for key, name, label in SCREENS:
            await visit(pilot, key, name, label)
            assert app.is_running

        # Results of the recorded run, opened from Runs.
        await visit(pilot, "5", "RunsScreen", "Runs")
        table = app.screen.query_one("#runs-table")
        await wait_for(pilot, lambda: table.row_count == 2, 10)
        table.move_cursor(row=[r.run_id for r in app.screen.runs].index(tsne))
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ResultsScreen"
                       and tsne in screen_text(app) and "confusion matrix" in screen_text(app),
                       20)

        # Down to the minimum: every screen still draws and names itself.
        await pilot.resize_terminal(MIN_WIDTH, MIN_HEIGHT)
        for key, name, label in SCREENS:
            await visit(pilot, key, name, label)
            assert "too small" not in screen_text(app)
        # Below it: the notice; and back.
        await pilot.resize_terminal(MIN_WIDTH - 1, MIN_HEIGHT - 1)
        await wait_for(pilot, lambda: "too small" in screen_text(app), 10)
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: type(app.screen).__name__ == "SuitesScreen"
                       and "too small" not in screen_text(app), 10)
        await visit(pilot, "4", "ResultsScreen", "Results")
        assert tsne in screen_text(app)
        await pilot.resize_terminal(120, 40)
        await wait_for(pilot, lambda: app.size == (120, 40) and tsne in screen_text(app), 5)
        assert app.is_running


# -- in a pseudo-terminal ------------------------------------------------------------------------
CHILD = """
import sys
from mnist_tui.tui.app import create_app
app = create_app(runs_dir=sys.argv[1], dataset="digits")
app.run()
sys.exit(app.return_code or 0)
"""


class Terminal:
    """The app in its own process on a pseudo-terminal: keys in, everything it writes out."""

    def __init__(self, argv: list[str], env: dict, size: tuple[int, int]) -> None:
        import pty

        self.pid, self.fd = pty.fork()
        if self.pid == 0:                                  # the child: becomes the app
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.output = b""
        self.resize(*size)

    def resize(self, cols: int, rows: int) -> None:
        """What a terminal window does: set the size; the kernel sends SIGWINCH."""
        import fcntl
        import termios

        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def read(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.1))
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:          # the child closed the terminal
                    return
                if not chunk:
                    return
                self.output += chunk

    def expect(self, text: str, since: int, timeout: float = 30.0) -> int:
        """Read until `text` appears in what came after `since`; the new end."""
        deadline = time.monotonic() + timeout
        needle = text.encode()
        while needle not in self.output[since:]:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never came; last output:\n"
                                     + self.output[-3000:].decode(errors="replace"))
            self.read(0.05)
        return len(self.output)

    def press(self, keys: str) -> int:
        start = len(self.output)
        os.write(self.fd, keys.encode())
        return start

    def wait(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read(0.2)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        raise AssertionError("the app did not quit:\n" + self.output[-3000:].decode("replace"))


@pytest.mark.parametrize("terminal", list(TERMINALS))
def test_the_app_in_a_real_terminal(runs_dir, terminal):
    env_changes, system = TERMINALS[terminal]
    env = {k: v for k, v in os.environ.items()
           if k not in ("COLORTERM", "NO_COLOR", "FORCE_COLOR", "TEXTUAL_COLOR_SYSTEM")}
    env.update(env_changes)
    run_id = install_recorded_run(runs_dir)
    term = Terminal([sys.executable, "-c", CHILD, str(runs_dir)], env, (80, 24))
    try:
        term.expect("1 Dataset", 0)
        mark = term.expect("Each class", 0)
        for key, _name, label in (*SCREENS[1:], SCREENS[0]):    # from Dataset, round to it
            mark = term.expect(f"{key} {label}", term.press(key))
        mark = term.expect(run_id, term.press("4"))       # its only (finished) run
        term.resize(MIN_WIDTH, MIN_HEIGHT)
        for key, _name, label in SCREENS[::-1]:
            mark = term.expect(f"{key} {label}", term.press(key))
        term.resize(MIN_WIDTH - 10, MIN_HEIGHT - 5)
        mark = term.expect("too small", mark)
        term.resize(80, 24)
        mark = term.expect("1 Dataset", mark)
        term.press("q")
        code = term.wait()
    finally:
        try:
            os.kill(term.pid, 9)
        except ProcessLookupError:
            pass
        os.close(term.fd)
    text = term.output.decode(errors="replace")
    assert code == 0, text[-3000:]
    assert "Traceback" not in text
    codes = [[int(c) for c in params.split(";") if c.isdigit()]
             for params in SGR.findall(text)]
    colours = [(c[i], c[i + 1], c[i + 2:i + 5]) for c in codes for i in range(len(c) - 2)
               if c[i] in (38, 48) and c[i + 1] in (2, 5)]
    if system == "standard":
        assert colours == [], colours[:5]          # only the 16 colours' own codes
        assert any(30 <= x <= 37 or 40 <= x <= 47 or 90 <= x <= 107 for c in codes for x in c)
    if "NO_COLOR" in env_changes:
        assert all(kind == 5 and rest[0] in GREYS_256 for _, kind, rest in colours), \
            [c for c in colours if not (c[1] == 5 and c[2][0] in GREYS_256)][:5]
