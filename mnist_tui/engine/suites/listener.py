"""What a front end hears of a running suite: `SuiteListenerProtocol`, every method required;
front ends subclass `SuiteListener` (all no-ops) and override what they show.

Calls come on the thread that runs the suite (`SuiteSession.run`'s caller, or the session's
own thread after `start`), in this order: `preflight_event`s, `suite_ready`, then per member
`member_start`, `member_placed` (its run id and where it runs), its `member_event`s (and
`interrupting` on a Ctrl-C), `member_end` — or `member_reused` for a member finished before —
and last `suite_end` or `suite_error`. Members of an executor that runs several at once
interleave: their calls come one at a time, but from the executor's threads, so a listener
must not assume the suite's thread; `member_event` names the member (its default passes the
event to `event`, which sees every member's and the suite's own warnings).
Warnings for people (a run folder skipped, a recorded run unreadable) come as `Log` events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mnist_tui.engine.jobs.events import Event
    from mnist_tui.engine.jobs.results import Placement
    from mnist_tui.engine.runs.records import RunResult
    from mnist_tui.engine.suites.folder import SuiteFolder
    from mnist_tui.engine.suites.session import SuiteResult
    from mnist_tui.engine.suites.spec import Member, SuiteSpec


@runtime_checkable
class SuiteListenerProtocol(Protocol):
    def preflight_event(self, ev: Event) -> None:
        """The checks before anything runs: their downloads (MNIST, VGG16 weights)."""

    def suite_ready(self, folder: SuiteFolder, spec: SuiteSpec, resumed: bool) -> None:
        """The suite's folder exists (created, or the resumed one); members run next."""

    def member_start(self, index: int, total: int, member: Member) -> None:
        """Before a member runs (index from 1)."""

    def member_placed(self, index: int, member: Member, run_id: str,
                      placement: Placement) -> None:
        """Its run id, and where it runs (executor, host or node, thread share, GPU)."""

    def member_event(self, index: int, member: Member, ev: Event) -> None:
        """Every event of a running member's worker."""

    def member_reused(self, index: int, total: int, member: Member, run_id: str) -> None:
        """A finished run with the member's settings stands for it."""

    def event(self, ev: Event) -> None:
        """Every event of the running members (and the suite's warnings, as `Log`)."""

    def interrupting(self, member: Member) -> None:
        """A Ctrl-C: the running member is being stopped; it records what it has."""

    def member_end(self, index: int, total: int, member: Member, result: RunResult) -> None:
        """Its result (finished, failed, interrupted …)."""

    def suite_end(self, result: SuiteResult) -> None:
        """The suite ended (finished, failed or interrupted) and its report is written."""

    def suite_error(self, error: Exception) -> None:
        """The suite stopped on an error of its own (recorded as failed where it could be)."""


class SuiteListener:
    """A listener that shows nothing: front ends subclass it."""

    def preflight_event(self, ev: Event) -> None:
        pass

    def suite_ready(self, folder: SuiteFolder, spec: SuiteSpec, resumed: bool) -> None:
        pass

    def member_start(self, index: int, total: int, member: Member) -> None:
        pass

    def member_placed(self, index: int, member: Member, run_id: str,
                      placement: Placement) -> None:
        pass

    def member_event(self, index: int, member: Member, ev: Event) -> None:
        self.event(ev)

    def member_reused(self, index: int, total: int, member: Member, run_id: str) -> None:
        pass

    def event(self, ev: Event) -> None:
        pass

    def interrupting(self, member: Member) -> None:
        pass

    def member_end(self, index: int, total: int, member: Member, result: RunResult) -> None:
        pass

    def suite_end(self, result: SuiteResult) -> None:
        pass

    def suite_error(self, error: Exception) -> None:
        pass
