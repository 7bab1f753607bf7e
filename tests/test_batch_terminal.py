"""The batch front end on a terminal (a pseudo-terminal of 80×24): the live bar (rich.progress)
draws progress in place fitted to 80 columns, finished lines print above it (whole: the terminal
wraps them), NO_COLOR gets
no colours, and the summary is whole once the bar is gone."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

from support import patient

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
JOB = ["--batch", "--job", "tsne-gmm", "--dataset", "digits", "--samples", "400",
       "--iterations", "800", "--gmm-inits", "2"]


def run_on_terminal(args: list[str], env: dict, columns: int = 80, rows: int = 24,
                    timeout: float = 180) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdout and stderr; (exit code, everything it wrote)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "mnist_tui", *args], env=env,
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + patient(timeout)
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:       # the slave side closed: the process is done
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_the_live_bar_draws_in_place_and_the_summary_is_whole(cli_env):
    code, out = run_on_terminal(JOB, {**cli_env, "TERM": "xterm-256color"})
    assert code == 0, out
    assert "━" in out                                   # rich.progress drew a bar
    plain = ANSI.sub("", out)
    lines = [seg for line in plain.split("\n") for seg in line.split("\r")]
    bars = [line for line in lines if "━" in line]
    assert bars and max(len(line) for line in bars) <= 80, max(bars, key=len)   # fitted
    # the lines above the bar arrive whole, and the summary after the bar has gone
    assert any("tsne: 2-D t-SNE" in line for line in lines)
    summary = plain[plain.index("tsne-gmm finished"):]
    assert "accuracy (one-to-one, Hungarian)" in summary and "run folder " in summary
    assert "━" not in summary


def test_no_color_gets_no_colours(cli_env):
    code, out = run_on_terminal(JOB, {**cli_env, "TERM": "xterm-256color", "NO_COLOR": "1"})
    assert code == 0, out
    colours = re.findall(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m", out)
    assert colours == []
