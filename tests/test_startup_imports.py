"""What `mnist-tui` has imported when its first frame is up: only what that frame draws with.

Launch to first frame is a target (benchmarks/tui_latency.py measures it; no timing here). Most
of a launch was imports that the Dataset screen's first frame does not use: NumPy (the digits
widget, before any digit is there), pydantic and the run records behind the run store and the
job manager (read only once runs are listed or jobs started). Each is imported at first use, on
the first frame's side of the line only if something on it needs it, and the background work
(the run reaper, the dataset loader) starts after that frame: a thread importing NumPy or
scikit-learn before it took the GIL from the frame.

The app runs in a fresh interpreter, headless, the way `mnist-tui` starts it (the command-line
parser first, then the app), and lists `sys.modules` once Textual says the first frame is up
and that frame's follow-ups ran (the window-size check imported every dialog, and through them
pydantic), with the background work held back.
"""

from __future__ import annotations

import json
import subprocess
import sys

from support import patient

# Not needed for the first frame: each costs tens of milliseconds of a launch (or seconds).
HEAVY = ("numpy", "pydantic", "pydantic_core", "sklearn", "scipy", "plotext", "textual_plotext",
         "tensorflow", "keras", "jax", "torch", "openTSNE",
         "mnist_tui.engine.jobs.results", "mnist_tui.engine.runs.records")

FIRST_FRAME = """
import json, sys
from pathlib import Path

from textual.events import Ready

from mnist_tui.cli import build_parser

build_parser().parse_args([])          # what `mnist-tui` runs before it starts the TUI

import mnist_tui.tui.app as app_module
from mnist_tui.tui.app import MnistApp

seen = {}


class FirstFrame(MnistApp):
    CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))

    def on_ready(self, event: Ready) -> None:
        seen["screen"] = type(self.screen).__name__
        seen["workers"] = [worker.name for worker in self.workers]
        event.prevent_default()        # no background work: the modules as the frame left them
        self.call_after_refresh(self.settled)

    def settled(self) -> None:
        # the first frame's own follow-ups done too (the window size check after a resize)
        seen["modules"] = sorted(sys.modules)
        self.exit()


app = FirstFrame(runs_dir=Path(sys.argv[1]), data_dir=sys.argv[2])
app.run(headless=True, size=(80, 24))
print(json.dumps(seen))
"""


def first_frame(tmp_path) -> dict:
    data = tmp_path / "data"
    data.mkdir()
    out = subprocess.run([sys.executable, "-c", FIRST_FRAME, str(tmp_path / "runs"), str(data)],
                         capture_output=True, text=True, timeout=patient(60), check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_first_frame_imports_nothing_it_does_not_draw_with(tmp_path):
    seen = first_frame(tmp_path)
    modules = set(seen["modules"])
    assert seen["screen"] == "DatasetScreen"
    # the background work (run reaper, dataset loader) starts after the first frame, not before
    assert seen["workers"] == []
    # the frame is the Dataset screen's, built: its widgets are imported, the store and jobs too
    assert {"mnist_tui.tui.screens.dataset", "mnist_tui.tui.widgets.digits",
            "mnist_tui.engine.runs.store", "mnist_tui.tui.jobs"} <= modules
    assert [m for m in HEAVY if m in modules] == []
    # no other screen (nor dialog) is imported before it is shown
    others = [f"mnist_tui.tui.screens.{s}"
              for s in ("launch", "monitor", "results", "runs", "suites", "compare")]
    assert [m for m in [*others, "mnist_tui.tui.dialogs"] if m in modules] == []
