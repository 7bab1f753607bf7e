"""Hostile text on the TUI's screens, and the TUI without a terminal (issue 22, items 5, 6, 12).

Run ids are folder names, and spec values, metrics, errors and dataset folders are read from
disk or typed: any of them can hold `[/]` or `[bold]` (markup to Textual and Rich: a
`MarkupError` ends the app, `mnist [backup]` shows as `mnist `), or ESC sequences and newlines
(which the terminal would obey). Every screen must show them exactly as written, control
characters as visible escapes (`\\x1b`, `\\n`), and never crash. The screen is read back as a
person sees it (`App.export_screenshot()`), on real apps driven by Pilot; the last tests run the
real `mnist-tui` with and without a terminal.
"""

from __future__ import annotations

import os
import re
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fault_helpers import run, shows
from support import closed_port_url, patient, write_finished_run

from mnist_tui.tui.app import create_app

SIZE = (160, 50)

# Markup that ends the app ([/] closes nothing), a tag that would swallow text, a folder name
# that would lose its "[backup]", and a name that writes to the terminal and forges a line.
CLOSING, TAG, BACKUP = "[/]", "[bold]x", "mnist [backup]"
ESCAPE_RAW, ESCAPE_SHOWN = "\x1b[31mred\nerror: forged", "\\x1b[31mred\\nerror: forged"


# -- reading the screen --------------------------------------------------------------------------

def assert_nothing_raw(text: str) -> None:
    """No control character reached the screen, and no line was forged."""
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", text), repr(text)
    assert not any(line.lstrip().startswith("error: forged") for line in text.splitlines())


def plant(runs: Path, run_id: str, payload: str, accuracy: float) -> None:
    """A finished run whose id, spec values, metrics label and warning hold `payload`."""
    spec = {"job": "cnn", "preset": payload, "dataset": BACKUP, "data_dir": f"/data/{payload}",
            "seed": 0, "samples": 100, "epochs": 1}
    write_finished_run(runs, run_id, spec, 1.5,
                       {"accuracy": accuracy, "eval_split": f"{BACKUP} test (10 images)"})


# -- item 5: markup ------------------------------------------------------------------------------

# (A folder name cannot hold "/": `[/]` is in the settings, a style tag in the run id.)
MARKUP_RUNS = {"20260101-120000-cnn-[red]": CLOSING, "20260101-120100-cnn-[b]x": TAG,
               "20260101-120200-cnn-mnist [backup]": BACKUP}


def test_markup_in_run_ids_and_settings_is_shown_as_written(offline):
    """Runs, Compare, Results and the delete question show `[/]`, `[bold]x` and
    `mnist [backup]` as written (today: a MarkupError ends the app at Compare)."""
    for i, (run_id, payload) in enumerate(MARKUP_RUNS.items()):
        plant(offline, run_id, payload, 0.5 + i / 10)

    async def scenario() -> None:
        app = create_app(runs_dir=offline, dataset="digits", start_mode="runs",
                         load_data=False)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await shows(pilot, "12:00 [red]", "12:01 [b]x", f" {TAG} ", f" {CLOSING} ")
            await pilot.press("d")            # the delete question names the run
            text = await shows(pilot, "and every file in its folder?")
            lines = [line.strip(" █") for line in text.splitlines()]
            asked = [run_id for run_id in MARKUP_RUNS if run_id in lines]
            assert "Delete this run and every" in text and len(asked) == 1, text
            await pilot.press("n")
            for _ in MARKUP_RUNS:            # mark every run, then compare them
                await pilot.press("space")
            await pilot.press("v")
            text = await shows(pilot, "settings that differ", "/data/[/]", "/data/[bold]x",
                               "/data/mnist [backup]", f"accuracy on {BACKUP} test")
            assert "preset" in text and TAG in text
            await pilot.press("escape")
            for run_id, payload in MARKUP_RUNS.items():
                from mnist_tui.tui.messages import OpenRun

                app.post_message(OpenRun(run_id))
                text = await shows(pilot, f"Run {run_id}  finished",
                                   f"cnn · preset {payload} · seed 0 · {BACKUP}")
            assert app.is_running

    run(scenario)


# -- item 6: control characters ------------------------------------------------------------------

ESCAPE_ID = "20260101-120300-cnn-" + ESCAPE_RAW


def test_control_characters_in_runs_are_shown_as_escapes(offline):
    """A run whose id, settings and error hold ESC sequences and a newline: Runs, Compare and
    Results show `\\x1b[31m` and `\\n` as text; nothing raw reaches the terminal."""
    plant(offline, ESCAPE_ID, ESCAPE_RAW, 0.7)
    plant(offline, "20260101-120400-cnn-plain", "default", 0.8)
    result = offline / ESCAPE_ID / "result.json"
    import json

    record = json.loads(result.read_text())
    record.update(status="failed", error=f"could not read /data/{ESCAPE_RAW}",
                  warnings=[f"slow disk \x1b]0;title\x07 {BACKUP}"],
                  traceback='Traceback:\n  File "/data/\x1b[2J"\nValueError: bad')
    result.write_text(json.dumps(record))

    async def scenario() -> None:
        app = create_app(runs_dir=offline, dataset="digits", start_mode="runs",
                         load_data=False)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            text = await shows(pilot, "12:03 \\x1b", "12:04 plain")
            assert_nothing_raw(text)
            await pilot.press("space", "space", "v")
            text = await shows(pilot, "settings that differ", f"/data/{ESCAPE_SHOWN}")
            assert_nothing_raw(text)
            await pilot.press("escape")
            from mnist_tui.tui.messages import OpenRun

            app.post_message(OpenRun(ESCAPE_ID))
            text = await shows(pilot, f"Run 20260101-120300-cnn-{ESCAPE_SHOWN}  failed",
                               f"could not read /data/{ESCAPE_SHOWN}",
                               f"slow disk \\x1b]0;title\\x07 {BACKUP}",
                               'File "/data/\\x1b[2J"', "ValueError: bad")
            assert_nothing_raw(text)

    run(scenario)


# -- items 5 and 6: the data folder --------------------------------------------------------------

def fake_mnist(folder: Path) -> Path:
    """MNIST-shaped IDX files (28×28, train and test) from the bundled 8×8 digits."""
    from mnist_tui.engine.data.datasets import load_digits

    split = load_digits().splits["train"]
    images = np.pad(np.kron(split.images, np.ones((1, 3, 3), dtype=np.uint8)),
                    ((0, 0), (2, 2), (2, 2)))
    folder.mkdir(parents=True)
    for prefix, part in (("train", slice(0, 1500)), ("t10k", slice(1500, None))):
        for kind, array in (("images-idx3", images[part]), ("labels-idx1", split.labels[part])):
            header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
                f">{array.ndim}I", *array.shape)
            (folder / f"{prefix}-{kind}-ubyte").write_bytes(
                header + array.astype(np.uint8).tobytes())
    return folder


@pytest.mark.parametrize("name, shown", [
    (BACKUP, BACKUP),
    ("data [/] \x1b[31mred", "data [/] \\x1b[31mred"),
])
def test_the_dataset_screen_shows_the_data_folder_as_written(offline, tmp_path, name, shown):
    """`--data-dir "mnist [backup]"` is shown with its `[backup]`; a folder with `[/]` and ESC
    is shown with `[/]` and `\\x1b`; the files read are listed."""
    folder = fake_mnist(tmp_path / name)

    async def scenario() -> None:
        app = create_app(runs_dir=offline, data_dir=str(folder))
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            text = await shows(pilot, f"/{shown}", "train-images-idx3-ubyte", "Each class",
                               timeout=60)
            assert_nothing_raw(text)

    run(scenario)


def test_a_job_failing_on_a_hostile_data_folder(offline):
    """A job whose --data-dir (missing) holds `[/]`, `[backup]` and ESC: it fails, and the
    notification and the Monitor show its error as written (today: a MarkupError ends the app
    when the failure is announced)."""
    from mnist_tui.engine.jobs.specs import build_spec

    bad = f"/nonexistent/{CLOSING} {BACKUP} \x1b[31mred"
    spec = build_spec("tsne-gmm", "default", {"data_dir": bad, "samples": 100}).to_dict()

    async def scenario() -> None:
        app = create_app(runs_dir=offline, dataset="digits", start_mode="monitor",
                         load_data=False)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            job = app.manager.submit(spec)
            deadline = time.monotonic() + patient(60)
            while job.state != "failed" and app.is_running and time.monotonic() < deadline:
                await pilot.pause(0.1)
            assert job.state == "failed", job.state
            # the Monitor's lines, and the notification that announced the failure
            text = await shows(pilot, "failed after", f"{CLOSING} {BACKUP} \\x1b[31mred",
                               f"failed: /nonexistent/{CLOSING} {BACKUP}")
            assert_nothing_raw(text)
            assert app.is_running

    run(scenario)


# -- item 12: no terminal ------------------------------------------------------------------------

def tui_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNIST_TUI_")}
    env.update(MNIST_TUI_RUNS_DIR=str(tmp_path / "runs"),
               MNIST_TUI_CACHE_DIR=str(tmp_path / "cache"),
               MNIST_TUI_MIRRORS=closed_port_url(), TERM="xterm-256color")
    return env


def mnist_tui() -> str:
    return str(Path(sys.executable).with_name("mnist-tui"))


def test_without_a_terminal_the_tui_refuses_at_once(tmp_path):
    """`mnist-tui </dev/null >file`: exit 2 at once, one `error:` line naming --batch, and
    nothing drawn into the file (today: escape codes until killed)."""
    out = tmp_path / "out.txt"
    with open(os.devnull, "rb") as stdin, open(out, "wb") as stdout:
        try:
            done = subprocess.run([mnist_tui()], stdin=stdin, stdout=stdout,
                                  stderr=subprocess.PIPE, env=tui_env(tmp_path),
                                  timeout=patient(30))
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"the TUI was still running after {exc.timeout}s without a terminal; "
                        f"it wrote {out.stat().st_size} bytes into the file")
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and "--batch" in err, err
    assert "\x1b" not in err and "Traceback" not in err
    assert out.read_bytes() == b""


@pytest.mark.parametrize("drawn_on", ["terminal", "pipe"])
def test_on_a_terminal_the_tui_still_starts_and_quits(tmp_path, drawn_on):
    """The refusal is only for keys without a terminal: with a pseudo-terminal as its input
    (what tmux and a terminal give it), `mnist-tui` draws its Dataset screen and `q` ends it
    with exit 0, whether it draws on the terminal or on a pipe that relays to one (stderr
    through `tee`: how the before-stop check runs the real app)."""
    import pty

    env = tui_env(tmp_path)
    env.update(LINES="30", COLUMNS="100")
    relay_r, relay_w = os.pipe() if drawn_on == "pipe" else (None, None)
    pid, fd = pty.fork()
    if pid == 0:       # the child: the pty is its stdin and stdout (and stderr, or the pipe)
        try:
            if relay_w is not None:
                os.dup2(relay_w, 2)
            os.execve(mnist_tui(), [mnist_tui()], env)
        finally:
            os._exit(127)
    if relay_w is not None:
        os.close(relay_w)
    drawn = fd if relay_r is None else relay_r
    import fcntl
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))

    def drain(timeout: float) -> bytes:
        """What the app drew in `timeout` seconds at most (the pty is read too, so that
        neither side fills)."""
        got = b""
        for ready in select.select([fd, drawn], [], [], timeout)[0]:
            try:
                data = os.read(ready, 65536)
            except OSError:
                continue
            got += data if ready == drawn else b""
        return got

    seen = b""
    try:
        deadline = time.monotonic() + patient(60)
        while b"Dataset" not in seen and time.monotonic() < deadline:
            seen += drain(0.2)
        assert b"Dataset" in seen, seen[-2000:]
        assert b"error:" not in seen
        os.write(fd, b"q")
        deadline = time.monotonic() + patient(30)
        status = None
        while time.monotonic() < deadline:
            drain(0.2)
            waited, status = os.waitpid(pid, os.WNOHANG)
            if waited:
                break
        else:
            pytest.fail("q did not end the TUI")
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (OSError, ChildProcessError):
            pass
        os.close(fd)
        if relay_r is not None:
            os.close(relay_r)


# -- item 3 on screen: a bad events file costs the run its curves, with a note -------------------

def test_results_names_an_events_file_it_would_not_read(offline):
    """A finished run whose events.jsonl is a FIFO: Results opens at once (no hang on the
    FIFO), shows the run's numbers and says why its curves are missing; a dataset that never
    recorded its image count shows "?" (it showed "None")."""
    run_id = "20260101-120500-cnn-fifo"
    plant(offline, run_id, "default", 0.9)
    fifo = offline / run_id / "events.jsonl"
    os.mkfifo(fifo)
    # A writer that opens the FIFO and closes it at once: code that still reads a FIFO gets
    # end-of-file instead of hanging the test (and then lacks the note).
    writer = threading.Thread(target=lambda: os.close(os.open(fifo, os.O_WRONLY)), daemon=True)
    writer.start()

    async def scenario() -> None:
        app = create_app(runs_dir=offline, dataset="digits", start_mode="runs",
                         load_data=False)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            from mnist_tui.tui.messages import OpenRun

            app.post_message(OpenRun(run_id))
            text = await shows(pilot, f"Run {run_id}  finished", "90.00%",
                               "events.jsonl", "not a regular file", "(? images)")
            assert "None" not in text

    try:
        run(scenario)
    finally:                       # a writer still waiting for a reader: give it one
        if writer.is_alive():
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(patient(10))
