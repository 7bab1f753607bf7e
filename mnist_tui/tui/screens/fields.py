"""What the screens with text fields (Launch, Suites) share about the esc key."""

from __future__ import annotations

from textual.widgets import Input


class LeaveFieldKey:
    """Mixin for a Screen binding escape to `leave_field`: the binding is offered (and bound)
    only while typing in a field, where the screen keys 1-6 type digits instead."""

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "leave_field":
            return isinstance(self.focused, Input)
        return True
