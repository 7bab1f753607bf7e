"""The Suites screen's listener of a running suite: `engine.suites.runner.run_suite` calls it on
the suite's thread. Member starts and ends reach the screen through `app.call_from_thread`; the
many events of a member only update the screen's `live` dict, which the screen draws on a timer.
It also holds the running member's worker pid, so that a cancel interrupts exactly that worker.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any, Protocol


class SuiteView(Protocol):
    """What the listener reads and writes of the screen showing the suite."""

    app: Any
    folder: Any               # engine.suites.suite.SuiteFolder
    cancelling: bool
    live: dict | None         # the running member: written here, drawn by the screen
    dirty: bool
    reused: int

    def member_started(self, i: int, n: int) -> None: ...

    def show_report(self, report: dict) -> None: ...


class SuiteListener:
    """`run_suite`'s listener, called on the suite's thread."""

    def __init__(self, screen: SuiteView) -> None:
        self.screen = screen
        self.pid: int | None = None
        self.signalled = False
        self.lock = threading.Lock()

    def _ui(self, fn, *args) -> None:
        try:
            self.screen.app.call_from_thread(fn, *args)
        except Exception:  # noqa: BLE001 - the app is closing
            pass

    def member_start(self, i, n, member) -> None:
        if self.screen.cancelling:
            raise KeyboardInterrupt   # between members: the next one does not start
        with self.lock:
            self.pid, self.signalled = None, False
        self.screen.live = {"i": i, "n": n, "label": member.label, "start": time.monotonic(),
                            "text": "starting the worker…"}
        self._ui(self.screen.member_started, i, n)

    def member_reused(self, i, n, member, run_id) -> None:
        self.screen.reused += 1
        self._push_report()
        if self.screen.cancelling:
            raise KeyboardInterrupt

    def event(self, ev) -> None:
        if ev.type == "started":
            with self.lock:
                self.pid = ev.pid or None
        if self.screen.cancelling:
            self.interrupt_worker()
        live = self.screen.live
        if live is None:
            return
        if ev.type == "phase":
            live["phase"] = ev.name
            live["text"] = ev.message or ev.name
        elif ev.type == "progress":
            pct = f" {100 * ev.step / ev.total:.0f}%" if ev.total else ""
            live["text"] = f"{ev.phase or live.get('phase', '')}{pct} {ev.message}".strip()
        elif ev.type == "epoch":
            acc = (ev.metrics or {}).get("val_accuracy", (ev.metrics or {}).get("accuracy"))
            live["text"] = f"epoch {ev.epoch}/{ev.epochs}" + (
                f": accuracy {100 * acc:.1f}%" if isinstance(acc, (int, float)) else "")
        self.screen.dirty = True

    def interrupt_worker(self) -> bool:
        """SIGINT to the running member's worker (once): it records what it has and stops."""
        with self.lock:
            if self.pid is None or self.signalled:
                return False
            self.signalled = True
            pid = self.pid
        try:
            os.kill(pid, signal.SIGINT)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def kill_worker(self) -> None:
        """SIGKILL to the running member's worker (it ignored the interrupt)."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def member_end(self, i, n, member, result) -> None:
        self.screen.live = None
        self._push_report()

    def _push_report(self) -> None:
        from mnist_tui.engine.suites.report import build_report

        try:
            report = build_report(self.screen.folder, "running")
        except Exception:  # noqa: BLE001 - the table catches up at the end
            return
        self._ui(self.screen.show_report, report)
