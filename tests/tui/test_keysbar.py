"""The key bar's layout: everything when it fits; at 80 columns the screen's own keys first,
the screen keys folded, and "? Keys" never the one that is cut."""

from __future__ import annotations

from mnist_tui.tui.widgets.keysbar import Key, layout

NAV = [Key(str(i), name, True, f"show('{name.lower()}')")
       for i, name in enumerate(("Dataset", "Launch", "Monitor", "Results", "Runs", "Suites"), 1)]
PINNED = [Key("?", "Keys", True, "help"), Key("q", "Quit", True, "quit_app")]
RUNS = [Key("o", "Open", True, "open"), Key("space", "Mark", True, "mark"),
        Key("c", "Compare marked", True, "compare"), Key("s", "Sort", True, "sort"),
        Key("x", "Delete", True, "delete"), Key("g", "Reload", True, "reload"),
        Key("e", "Export report", True, "export")]


def test_everything_when_it_fits_the_screen_keys_folded():
    """Issue 26: a bar lists the screen's own keys; the six screen keys are one item (the
    header names the screen, `?` lists them), also where there is room for them."""
    text = layout([*RUNS, *NAV, *PINNED], 200).plain
    assert len(text) == 200
    assert text.startswith(" o  Open  space  Mark ")
    assert "Dataset" not in text and text.endswith(" 1-6  Screens  ?  Keys  q  Quit ")
    assert text.index("Export report") < text.index("Screens") < text.index("Keys")


def test_at_80_columns_the_help_key_stays_and_screen_keys_fold():
    text = layout([*RUNS, *NAV, *PINNED], 80)
    assert text.cell_len == 80
    plain = text.plain
    assert plain.endswith(" 1-6 Screens  ? Keys  q Quit ")
    assert "Compare marked" in plain and "Dataset" not in plain
    assert "…" in plain and "Export report" not in plain   # dropped whole, and says so
    assert "Sor…" not in plain


def test_disabled_keys_are_dimmed_and_a_short_bar_is_not_padded_oddly():
    text = layout([Key("r", "Retry download", False, "retry"), *NAV, *PINNED], 80)
    assert text.cell_len == 80 and "…" not in text.plain
    dim = [span for span in text.spans if "dim" in str(span.style)]
    assert dim and text.plain[dim[0].start:dim[0].end].strip() == "r"


def test_a_two_line_bar_holds_every_key_at_80_columns():
    """Runs asks for two lines: every key whole, the pinned keys at the right of the last line;
    a bar whose keys fit one line stays one line."""
    keys = [*RUNS, Key("/", "Filter", True, "filter"), Key("S", "Reverse", True, "reverse"),
            Key("r", "Rerun", True, "rerun")]
    text = layout([*keys, *NAV, *PINNED], 80, lines=2)
    first, second = text.plain.split("\n")
    assert len(first) <= 80 and len(second) == 80
    assert second.endswith(" 1-6 Screens  ? Keys  q Quit ")
    for key in keys:
        assert f" {key.key} {key.description} " in text.plain
    assert "…" not in text.plain
    assert "\n" not in layout([*RUNS[:2], *NAV, *PINNED], 80, lines=2).plain
