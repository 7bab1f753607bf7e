"""The confusion heat map reads in every palette: zero mistakes are neutral, mistakes shade by
their size, and in 16 colours (TERM=xterm, screen: one red) and under NO_COLOR the size shows
through attributes, not colour alone. Styles are checked as a terminal would show them: each
cell's style downgraded to the 16-colour palette by Rich, the way Textual writes a frame."""

from __future__ import annotations

from rich.color import ColorSystem
from rich.style import Style
from rich.text import Text
from tui_helpers import MISTAKE_SIZES as SIZES
from tui_helpers import install_recorded_run, mistakes_matrix, wait_for

from mnist_tui.tui.app import create_app
from mnist_tui.tui.widgets.heatmap import confusion_text

ZERO = "·"   # a cell with no mistake



def _style(style) -> Style:
    return Style.parse(style) if isinstance(style, str) else style


def _cells(text) -> dict[tuple[int, int], tuple[str, Style]]:
    """{(row, column): (shown, style)} from the rendered matrix: a 6-cell row label, then ten
    cells of equal width; a cell's style is that of the spans over its number."""
    lines = text.split("\n")
    width = (len(lines[0].plain) - 6) // 10
    cells = {}
    for i, line in enumerate(lines[1:11]):
        for j in range(10):
            start = 6 + j * width
            shown = line.plain[start:start + width].strip()
            at = line.plain.index(shown, start)
            style = Style.combine([_style(s.style) for s in line.spans
                                   if s.start <= at < s.end] or [Style()])
            cells[(i, j)] = (shown, style)
    return cells


def _sixteen(style: Style) -> tuple:
    """What a 16-colour terminal shows of a style: colours downgraded, and the attributes."""
    def down(colour):
        return None if colour is None else colour.downgrade(ColorSystem.STANDARD).number
    return (down(style.color), down(style.bgcolor), bool(style.bold), bool(style.reverse),
            bool(style.underline), bool(style.dim))


def _attributes(style: Style) -> tuple:
    """What shows without any colour: presence of a background, and the attributes."""
    return (style.bgcolor is not None, bool(style.bold), bool(style.reverse),
            bool(style.underline), bool(style.dim))


def test_zero_mistakes_are_neutral_in_every_palette():
    for plain in (False, True):
        cells = _cells(confusion_text(mistakes_matrix(), plain=plain))
        zeros = [cells[(i, j)] for i in range(10) for j in range(10)
                 if i != j and mistakes_matrix()[i][j] == 0]
        assert zeros
        for shown, style in zeros:
            assert shown == ZERO
            assert style.bgcolor is None and style.color is None and not style.reverse
        errors = [cells[(i, i + 5)][1] for i in range(5)]
        assert all(_attributes(zeros[0][1]) != _attributes(e) for e in errors)


def test_mistakes_shade_by_size_in_256_colours():
    cells = _cells(confusion_text(mistakes_matrix()))
    styles = [cells[(i, i + 5)][1] for i in range(len(SIZES))]
    assert [cells[(i, i + 5)][0] for i in range(len(SIZES))] == [str(n) for n in SIZES]
    assert len({(s.color, s.bgcolor, s.bold, s.underline) for s in styles}) == len(SIZES)
    assert styles[0].bgcolor is None            # one mistake in 1,000: text, no block
    assert styles[-1].bgcolor is not None


def test_in_16_colours_each_size_looks_different_and_not_by_colour_alone():
    cells = _cells(confusion_text(mistakes_matrix()))
    styles = [cells[(i, i + 5)][1] for i in range(len(SIZES))]
    shown = [_sixteen(s) for s in styles]
    assert len(set(shown)) == len(SIZES), shown
    # Strip the colours: every size still differs from the next one.
    attrs = [_attributes(s) for s in styles]
    assert all(a != b for a, b in zip(attrs, attrs[1:])), attrs
    assert attrs[0] != attrs[-1]                 # 1 mistake never looks like 614


def test_no_color_shows_size_through_attributes():
    cells = _cells(confusion_text(mistakes_matrix(), plain=True))
    styles = [cells[(i, i + 5)][1] for i in range(len(SIZES))]
    assert all(s.color is None and s.bgcolor is None for s in styles)
    attrs = [_attributes(s) for s in styles]
    # four levels (80 and 250 are both 5–40 %): normal, underline, reverse, + underline
    assert len(set(attrs)) == len(SIZES) - 1 and attrs[2] == attrs[3], attrs
    assert not attrs[0][2] and attrs[-1][2]      # the biggest are reversed, one is not
    diagonal = cells[(5, 5)][1]                  # bold: underline marks mistakes here
    assert diagonal.bold and not diagonal.underline and not diagonal.reverse


async def test_results_heat_map_in_the_app_under_no_color(runs_dir, monkeypatch):
    """The real Results screen of a recorded run under NO_COLOR: zeros are "·", no cell of the
    matrix has a colour, the legend is there."""
    monkeypatch.setenv("NO_COLOR", "1")
    run_id = install_recorded_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="results")
    app.results_run = run_id
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        conf = app.screen.query_one("#res-confusion")
        await wait_for(pilot, lambda: "confusion matrix" in str(conf.render()), 10)
        plain = str(conf.render())
        assert ZERO in plain and "mistakes, share of the row" in plain
        content = conf.content
        assert isinstance(content, Text) and content.spans
        for span in content.spans:
            style = _style(span.style)
            assert style.color is None and style.bgcolor is None, plain[span.start:span.end]
        assert any(_style(s.style).reverse for s in content.spans)   # big mistakes
