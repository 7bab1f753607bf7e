"""The app as the screens see it: its own attributes, typed.

Textual gives a screen its app as `App[Any]`, which knows none of ours (the store, the job
manager, the dataset, the signals). A screen cannot import the app to name its type: the app
imports every screen, and screens stay independent of each other (the import contracts). So
`AppState` names what screens read and call on the app, and `app_state` gives a widget's app as
one; `MnistApp` (app.py) is the one implementation. A screen uses `self.app` for what Textual
gives every app (notify, push_screen, call_from_thread) and `app_state(self)` for ours.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.signal import Signal
    from textual.worker import Worker

    from mnist_tui.engine.data.datasets import Dataset
    from mnist_tui.engine.data.stats import DatasetStats
    from mnist_tui.engine.runs.store import RunStore
    from mnist_tui.engine.suites.session import SuiteSession
    from mnist_tui.tui.jobs import JobManager


class AppState(Protocol):
    """What the app holds for its screens (set in `MnistApp.__init__`)."""

    runs_dir: Path
    data_dir: str | None            # --data-dir (or MNIST_TUI_DATA_DIR): nothing to download
    store: RunStore
    manager: JobManager
    dataset: Dataset | None         # once loaded
    stats: DatasetStats | None      # once loaded
    dataset_error: str | None       # why the dataset could not be loaded
    dataset_loading: bool
    results_run: str | None         # the run Results shows (None: the newest finished)
    suite_session: SuiteSession | None   # the suite started last (the Suites screen's)
    dataset_changed: Signal[None]
    job_changed: Signal[tuple[str, str]]    # (job id, what changed: "state" or an event kind)
    runs_changed: Signal[None]
    results_run_changed: Signal[str | None]

    def load_dataset(self, dataset: str | None = None) -> Worker[None]:
        """Load the dataset (and its statistics) in a thread; `dataset_changed` says when."""
        ...

    def action_show(self, mode: str) -> None:
        """Show a mode's screen (the number keys' action)."""
        ...


def app_state(node: DOMNode) -> AppState:
    """`node`'s app as an `AppState` (the app is always a `MnistApp`, which is one; see the
    module docstring for why this is a cast and not an import of the app's class)."""
    return cast("AppState", node.app)
