"""The running suite's listener in the TUI: `engine.suites.session.SuiteSession` calls it on the
session's thread, and it only posts typed messages (`tui/messages.py`) to the Suites screen,
which handles them on the UI thread. Nothing of the screen is read or written here.

Several members may run at once (a pool, Ray): their calls come from the executor's threads,
one at a time, and every message names its member (`index`). Every event of a member is sent
(the screen folds them into the Monitor's job of that member, `jobs.JobManager.feed`); a
member's progress (or snapshot) may replace its previous one still in the queue
(`can_replace`). The report tables it sends along are built here, off the UI thread (they read
the suite's run folders).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual.message_pump import MessagePump

from mnist_tui.engine.errors import MnistTuiError
from mnist_tui.engine.jobs.event_text import preflight_text
from mnist_tui.engine.suites.listener import SuiteListener
from mnist_tui.tui.messages import (
    SuiteEnded,
    SuiteMemberEnded,
    SuiteMemberEvent,
    SuiteMemberPlaced,
    SuiteMemberStarted,
    SuiteNote,
    SuiteReady,
    SuiteStopped,
)

if TYPE_CHECKING:
    from textual.message import Message

    from mnist_tui.engine.jobs.events import Event
    from mnist_tui.engine.jobs.results import Placement
    from mnist_tui.engine.runs.records import RunResult
    from mnist_tui.engine.suites.folder import SuiteFolder
    from mnist_tui.engine.suites.report_model import SuiteReport
    from mnist_tui.engine.suites.session import SuiteResult
    from mnist_tui.engine.suites.spec import Member, SuiteSpec


class SuiteMessages(SuiteListener):
    """Posts a running suite's life to `target` (the Suites screen) as messages."""

    def __init__(self, target: MessagePump) -> None:
        self.target = target
        self.folder: SuiteFolder | None = None   # known from suite_ready on

    def _post(self, message: Message) -> None:
        try:
            self.target.post_message(message)
        except Exception:  # noqa: BLE001 - the app is closing
            pass

    def _report(self) -> SuiteReport | None:
        from mnist_tui.engine.suites.report import build_report

        if self.folder is None:
            return None
        try:
            return build_report(self.folder, "running")
        except Exception:  # noqa: BLE001 - the table catches up at the end
            return None

    def preflight_event(self, ev: Event) -> None:
        """The preflight's downloads (MNIST, the VGG16 weights), at most ~5 a second."""
        text = preflight_text(ev)
        if text is not None:
            self._post(SuiteNote(text))

    def suite_ready(self, folder: SuiteFolder, spec: SuiteSpec, resumed: bool) -> None:
        self.folder = folder
        self._post(SuiteReady(folder, self._report()))

    def member_start(self, index: int, total: int, member: Member) -> None:
        self._post(SuiteMemberStarted(index, total, member.label, time.monotonic()))

    def member_reused(self, index: int, total: int, member: Member, run_id: str) -> None:
        self._post(SuiteMemberEnded(self._report(), reused=True))

    def member_placed(self, index: int, member: Member, run_id: str,
                      placement: Placement) -> None:
        self._post(SuiteMemberPlaced(index, run_id, dict(member.spec), placement))

    def member_event(self, index: int, member: Member, ev: Event) -> None:
        self._post(SuiteMemberEvent(index, ev))

    def member_end(self, index: int, total: int, member: Member, result: RunResult) -> None:
        self._post(SuiteMemberEnded(self._report(), index=index, result=result))

    def suite_end(self, result: SuiteResult) -> None:
        self._post(SuiteEnded(result))

    def suite_error(self, error: Exception) -> None:
        from mnist_tui.engine.suites.session import SuiteFailed

        cause = error.cause if isinstance(error, SuiteFailed) else error
        self._post(SuiteStopped(str(cause) if isinstance(cause, MnistTuiError)
                                else f"{type(cause).__name__}: {cause}"))

