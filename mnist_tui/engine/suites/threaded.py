"""What the executors that run several members at once share (`local_pool`, `ray_executor`):
a member count with a limit, a thread per member that delivers to the sink one call at a time,
and a `drain` that waits for every member's delivery.

Waits are sliced (WAIT_SLICE_S) so that a Ctrl-C on the caller's thread lands at once, and
they wait on the executor's own count of members, never on `Thread.join`: in CPython 3.11 a
join that a Ctrl-C interrupts marks the live thread stopped (`is_alive()` is False from then
on), and a drain after the Ctrl-C returned before the interrupted members were delivered (the
suite had no record of them). An error on a member's thread (the sink's, the executor's own)
is raised again on the caller's thread by the next `submit` or `drain`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

WAIT_SLICE_S = 0.2


class ThreadedExecutor:
    """The shared part; subclasses start members with `_start` once `_wait_for_room` said."""

    def __init__(self, parallel: int) -> None:
        self.parallel = max(1, parallel)
        self._cond = threading.Condition()
        self._deliver = threading.Lock()   # the sink hears one member at a time
        self._active = 0                   # started, not yet delivered
        self._stopping = False             # interrupt() was called: nothing more starts
        self._error: BaseException | None = None

    @property
    def pid(self) -> int | None:
        """None: these executors' members are stopped through `interrupt`."""
        return None

    def close(self) -> None:
        pass

    def _wait_for_room(self, room: Callable[[], bool] | None = None) -> None:
        """Under `_cond`: wait until fewer than `parallel` members run and `room()` (a free
        GPU…) holds. KeyboardInterrupt once stopped; a member thread's error is raised."""
        while True:
            self._raise_error()
            if self._stopping:
                raise KeyboardInterrupt   # stopped while waiting: nothing more starts
            if self._active < self.parallel and (room is None or room()):
                return
            self._cond.wait(WAIT_SLICE_S)

    def _start(self, name: str, run: Callable[[], None],
               ended: Callable[[], None] | None = None) -> None:
        """Under `_cond`: count a member in and run it on a thread of its own; `ended` runs
        (under `_cond`) once it was delivered, or failed."""
        self._active += 1

        def body() -> None:
            try:
                run()
            except BaseException as exc:  # noqa: BLE001 - raised again on the caller's thread
                with self._cond:
                    self._error = exc
            finally:
                with self._cond:
                    self._active -= 1
                    if ended is not None:
                        ended()
                    self._cond.notify_all()

        threading.Thread(target=body, name=name, daemon=True).start()

    def drain(self) -> None:
        """Wait until every started member was delivered."""
        with self._cond:
            while self._active:
                self._cond.wait(WAIT_SLICE_S)
            self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"a suite member's thread failed: {self._error}") \
                from self._error
