"""NO_COLOR: Textual's monochrome filter reads every segment's style, so a widget that emits an
unstyled segment crashes the app at start (`'NoneType' object has no attribute 'color'` on the
Dataset screen, before its digits had loaded)."""

from __future__ import annotations

import numpy as np
import pytest
from textual.app import App, ComposeResult

from mnist_tui.tui.widgets.digits import DigitGrid


class GridApp(App):
    def __init__(self, plain: bool) -> None:
        super().__init__()
        self.plain_digits = plain

    def compose(self) -> ComposeResult:
        yield DigitGrid(id="empty")
        yield DigitGrid(id="full")


@pytest.mark.parametrize("plain", [False, True])
async def test_every_digit_grid_segment_has_a_style(plain):
    app = GridApp(plain)
    async with app.run_test(size=(80, 24)) as pilot:
        digits = [np.full((8, 8), 200, np.uint8), np.zeros((8, 6), np.uint8)]
        app.query_one("#full", DigitGrid).set_digits(digits, ["7", ""])
        await pilot.pause()
        lines = 0
        for grid in app.query(DigitGrid):
            for y in range(grid.size.height):
                for segment in grid.render_line(y):
                    assert segment.style is not None, (grid.id, y, segment)
                lines += 1
        assert lines >= 5      # "(no images)" and the digits' rows were all checked
