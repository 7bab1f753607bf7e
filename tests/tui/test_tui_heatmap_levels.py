"""Heat-map levels read back from the rendered cells (issue 26, bug 5): in 16 colours two pairs
of levels differed only by bold (which a bright colour hides) and under NO_COLOR the smallest
level was plain text and two others differed only by bold.

The real Results screen of a recorded run (its confusion matrix replaced by one with mistakes of
every size) runs as each terminal would start it: the colour system from TERM, NO_COLOR's filter.
Each cell of the confusion widget is read after Textual's own filters (`render_lines`) and turned
into the SGR codes the app writes to that terminal. Then: the legend's levels are as many
distinct renderings, told apart by more than colour (in 16 colours and NO_COLOR: by underline,
reverse or a block, never by weight alone), and each cell of the matrix is rendered exactly as the
legend level its share of the row falls in.
"""

from __future__ import annotations

import json
import re

import pytest
import textual.constants
from rich.color import ColorSystem
from rich.style import Style
from textual.geometry import Region
from tui_helpers import install_recorded_run, mistakes_matrix, wait_for

from mnist_tui.tui.app import create_app

ZERO = "·"
SYSTEMS = {"standard": ColorSystem.STANDARD, "256": ColorSystem.EIGHT_BIT,
           "truecolor": ColorSystem.TRUECOLOR}
TERMINALS = {   # env, colour system, limited (bold alone does not tell levels apart)
    "xterm": ({"TERM": "xterm"}, "standard", True),
    "screen": ({"TERM": "screen"}, "standard", True),
    "NO_COLOR": ({"NO_COLOR": "1", "TERM": "xterm-256color"}, "256", True),
    "xterm-256color": ({"TERM": "xterm-256color"}, "256", False),
}
LABEL = re.compile(r"(<|≥)?(\d+)(?:–(\d+))?%")


ATTRIBUTES = ("bold", "dim", "italic", "underline", "blink", "blink2", "reverse", "conceal",
              "strike", "underline2", "frame", "encircle", "overline")


def _sgr(style: Style | None, system: ColorSystem) -> str:
    """The SGR parameters a terminal of `system` gets for `style`. Rendered from a new Style:
    Rich keeps the codes of the first colour system a style object was rendered for."""
    if style is None:
        return ""
    fresh = Style(color=style.color, bgcolor=style.bgcolor,
                  **{name: getattr(style, name) for name in ATTRIBUTES})
    codes = fresh.render("x", color_system=system)
    return codes[2:codes.index("m")] if codes.startswith("\x1b[") else ""


def _shape(sgr: str, screen_bg: str | None) -> tuple[bool, bool, bool]:
    """What shows without colour or weight: underline, reverse, a block (a background other
    than the screen's)."""
    params = sgr.split(";") if sgr else []
    return "4" in params, "7" in params, _background(params) != screen_bg


def _background(params: list[str]) -> str | None:
    i = 0
    while i < len(params):
        p = params[i]
        if p in ("48",):   # 48;5;n or 48;2;r;g;b
            n = 3 if params[i + 1] == "5" else 5
            return ";".join(params[i:i + n])
        if p.isdigit() and (40 <= int(p) <= 47 or 100 <= int(p) <= 107):
            return p
        i += 1 + (2 if p == "38" and params[i + 1] == "5" else
                  4 if p == "38" else 0)
    return None


def _cells(widget, system: ColorSystem) -> list[list[tuple[str, str]]]:
    """Each rendered line of `widget` as (character, SGR) per cell."""
    lines = []
    for strip in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)):
        cells = []
        for segment in strip:
            sgr = _sgr(segment.style, system)
            cells.extend((ch, sgr) for ch in segment.text)
        lines.append(cells)
    return lines


def _low(label: str) -> float:
    """A legend label's lower bound, as a share of the row: "<1%" 0, "5–40%" 0.05, "≥40%" 0.4."""
    m = LABEL.fullmatch(label)
    assert m, label
    return 0.0 if m.group(1) == "<" else int(m.group(2)) / 100


@pytest.mark.parametrize("terminal", list(TERMINALS))
async def test_every_level_reads_back_from_the_rendered_cells(runs_dir, monkeypatch, terminal):
    env, system_name, limited = TERMINALS[terminal]
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "auto")
    for name in ("COLORTERM", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    run_id = install_recorded_run(runs_dir)
    result_file = runs_dir / run_id / "result.json"
    result = json.loads(result_file.read_text())
    result["confusion_matrix"] = mistakes_matrix()
    result_file.write_text(json.dumps(result))

    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="results")
    app.results_run = run_id
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.console.color_system == system_name
        system = SYSTEMS[system_name]
        conf = app.screen.query_one("#res-confusion")
        await wait_for(pilot, lambda: "mistakes, share of the row" in str(conf.render()), 10)
        await pilot.pause()
        lines = _cells(conf, system)
        texts = ["".join(ch for ch, _ in line) for line in lines]

        # The legend: its levels, and the rendering of each sample.
        legend = lines[next(i for i, t in enumerate(texts) if "mistakes, share of" in t)]
        legend_text = "".join(ch for ch, _ in legend)
        zero_at = legend_text.index(ZERO)
        screen_bg = _background(legend[zero_at - 2][1].split(";"))  # the ':' before it
        levels = [(m.group(0), legend[m.start()][1]) for m in LABEL.finditer(legend_text)]
        labels = [label for label, _ in levels]
        renderings = [sgr for _, sgr in levels]
        assert len(levels) >= 3, legend_text
        assert len(set(renderings)) == len(levels), levels       # N levels, N renderings
        assert legend[zero_at][1] not in renderings              # "none" is none of them
        lows = [_low(label) for label in labels]
        assert lows == sorted(lows) and lows[0] == 0.0, labels
        shapes = [_shape(sgr, screen_bg) for sgr in renderings]
        if limited:
            # 16 colours, NO_COLOR: each level shows as underline, reverse or a block —
            # never colour or weight alone.
            assert len(set(shapes)) == len(levels), list(zip(labels, renderings))
            assert len(levels) == 4, labels
        else:
            weights = [("1" in sgr.split(";"),) + shape for sgr, shape in zip(renderings, shapes)]
            assert len(set(weights)) == len(levels), list(zip(labels, renderings))
            assert len(levels) == 5, labels

        # The matrix: every cell rendered as the legend level of its share of the row.
        head = next(i for i, t in enumerate(texts) if t.lstrip().startswith("t╲p"))
        matrix = mistakes_matrix()
        seen = set()
        for i in range(10):
            line, text = lines[head + 1 + i], texts[head + 1 + i]
            tokens = list(re.finditer(r"\S+", text))
            assert tokens[0].group() == str(i), text
            cells = tokens[1:11]
            assert len(cells) == 10, text
            for j, token in enumerate(cells):
                count, shown = matrix[i][j], token.group()
                sgr = line[token.start()][1]
                if i == j:
                    assert shown == str(count)
                    assert sgr not in renderings, (i, j, sgr)    # a right answer is no mistake
                elif count == 0:
                    assert shown == ZERO and sgr == legend[zero_at][1], (i, j, shown, sgr)
                else:
                    share = count / sum(matrix[i])
                    expected = max(k for k, low in enumerate(lows) if share >= low)
                    assert shown == str(count)
                    assert sgr == renderings[expected], (i, j, labels[expected], sgr, levels)
                    seen.add(expected)
        assert seen == set(range(len(levels)))     # the matrix shows every level
