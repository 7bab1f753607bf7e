"""Dataset: what is loaded and from where (or why MNIST could not be had), and what it looks like.

The statistics come from `engine.data.stats.dataset_stats`, computed in the app's loader thread;
this screen only draws them. Its essentials fit one 80×24 page: where the data came from (every file
read), split sizes and pixel statistics on two lines, then one table of the ten classes — each
one's mean digit, drawn small (`widgets.digits.fit_images`), its images and share with a bar.
Sample digits of each class follow below, one column per class.

Long words (a mirror's URL, a file's path) are never broken in the middle of a name: the text
is wrapped at spaces, and a word wider than the screen at its separators (`/`, `-`, `.`, …),
so a URL reads whole (`widgets/wrapped.py`). `r` retries a download only where the data came from
one that failed (the bundled digits shown instead, or a load error without `--data-dir`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Header, Static

from mnist_tui.engine import present
from mnist_tui.tui.host import app_state
from mnist_tui.tui.safe import lines, say, visible
from mnist_tui.tui.widgets.digits import DigitGrid, digit_text, fit_images
from mnist_tui.tui.widgets.keysbar import KeysBar
from mnist_tui.tui.widgets.tables import VimScroll
from mnist_tui.tui.widgets.wrapped import Wrapped

if TYPE_CHECKING:
    from mnist_tui.engine.data.stats import DatasetStats

LABEL_W = 6        # the class table's first column ("images")
MAX_DIGIT_W = 12   # a mean digit is never drawn wider than this (cells)
SAMPLES_PER_CLASS = 4


class ClassTable(Static):
    """Digits 0–9 as columns: mean digit, images, share and a bar; redrawn for its width."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.stats: DatasetStats | None = None

    def set_stats(self, stats: DatasetStats) -> None:
        self.stats = stats
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if self.stats is None or not self.size.width:
            return
        self.update(class_table(self.stats, self.size.width,
                                bool(getattr(self.app, "plain_digits", False))))


def class_table(stats: DatasetStats, width: int, plain: bool = False) -> Table:
    """The per-class table for `width` columns: ten columns of equal width (≥ 5 cells)."""
    counts = stats.total_class_counts
    total = sum(counts) or 1
    top = max(counts) or 1
    cell_w = max(5, min(MAX_DIGIT_W, (width - LABEL_W) // 10 - 1))
    means = fit_images(list(stats.class_means), cell_w, cell_w * 2)
    table = Table(box=None, show_header=False, padding=(0, 0, 0, 1), pad_edge=False,
                  title="Each class: mean digit and class balance", title_style="bold",
                  title_justify="left")
    table.add_column(width=LABEL_W, no_wrap=True, style="bold")
    for _ in range(10):
        table.add_column(width=cell_w, justify="center", no_wrap=True)
    table.add_row("digit", *[Text(str(d), style="bold") for d in range(10)])
    table.add_row("mean", *[digit_text(m, plain) for m in means])
    table.add_row("images", *[Text(f"{c:,}".rjust(cell_w)) for c in counts])
    table.add_row("share", *[Text(present.percent(c / total, 1).rjust(cell_w)) for c in counts])
    table.add_row("", *[Text(_bar(c / top, cell_w), style="cyan") for c in counts])
    return table


def _bar(fraction: float, width: int) -> str:
    """A left-aligned bar of eighths, `width` cells for 1.0."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")).ljust(width)


class DatasetScreen(Screen[None]):
    """The data before any training."""

    BINDINGS = [Binding("r", "retry", "Retry download")]
    WIDGET_BINDINGS: ClassVar[list[BindingType]] = VimScroll.BINDINGS   # the page's

    def compose(self) -> ComposeResult:
        yield Header()
        with VimScroll(id="dataset-body", can_focus=True):
            yield Wrapped("loading the dataset…", id="ds-source")
            yield Wrapped("", id="ds-note")
            yield Static("", id="ds-summary")
            yield ClassTable(id="ds-classes")
            yield Static("", id="ds-samples-title", classes="section")
            yield DigitGrid(id="ds-samples", per_row=10, max_rows=4)
        yield KeysBar()

    def on_mount(self) -> None:
        app_state(self).dataset_changed.subscribe(self, self.on_dataset_changed, immediate=True)
        self.query_one("#dataset-body").focus()
        self.on_dataset_changed()

    def retry_offered(self) -> bool:
        """A download to try again: no --data-dir, nothing loading, and the data is not what
        was asked for (the bundled digits stand in for MNIST, or nothing could be loaded)."""
        app = app_state(self)
        if app.data_dir or app.dataset_loading:
            return False
        return bool(app.dataset_error) or app.stats is None or bool(app.stats.note)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "retry":
            return self.retry_offered()
        return True

    def action_retry(self) -> None:
        if not self.retry_offered():
            return
        self.query_one("#ds-source", Wrapped).set_text("trying to download MNIST again…")
        self.query_one("#ds-note", Wrapped).display = False
        app_state(self).load_dataset("auto")
        self.refresh_bindings()

    def on_dataset_changed(self, _data: None = None) -> None:
        app = app_state(self)
        self.refresh_bindings()
        src = self.query_one("#ds-source", Wrapped)
        note = self.query_one("#ds-note", Wrapped)
        if app.dataset_error:
            src.set_text(say("The dataset could not be loaded: {}", app.dataset_error,
                             style="bold red"))
            note.set_text("r tries again." if self.retry_offered() else
                          "Check the folder given with --data-dir, then start mnist-tui again.")
            note.display = True
            return
        stats = app.stats
        if stats is None:
            return
        h, w = stats.image_shape
        # The name, the folder and the files are the user's (--data-dir): shown as written.
        src.set_text(Text.assemble(("Dataset ", "bold"), (visible(stats.name), "bold cyan"),
                                 verdict_text(stats.published),
                                 f"  {h}×{w} images  from ", (visible(stats.source), "italic"),
                                 files_read_text(stats.files, stats.source)))
        note.display = bool(stats.note)
        if stats.note:
            note.set_text(Text.assemble(("⚠ ", "bold yellow"), lines(stats.note, "yellow"),
                                        ("\n  r retries the download."
                                         if self.retry_offered() else "", "dim")))
            note.add_class("warning")
        else:
            note.set_text("")
            note.remove_class("warning")
        self.query_one("#ds-summary", Static).update(summary_text(stats))
        self.query_one("#ds-classes", ClassTable).set_stats(stats)
        # Sample-major: the k-th sample of every class in a row, so each column is one class.
        k = min([SAMPLES_PER_CLASS] + [len(s) for s in stats.samples])
        images = [stats.samples[d][i] for i in range(k) for d in range(10)]
        self.query_one("#ds-samples-title", Static).update(
            Text.assemble(("Samples of each class", "bold"),
                          (f"  {k} per class, one column per digit", "dim")))
        self.query_one("#ds-samples", DigitGrid).set_digits(
            images, [str(d) for _ in range(k) for d in range(10)])


def verdict_text(published: bool | None) -> Text:
    """Whether MNIST-format data is the published MNIST, beside its name: other data in the
    same format (Kuzushiji, Fashion) must never pass for MNIST on screen."""
    if published is None:
        return Text()
    if published:
        return Text(" (published files, verified)", style="green")
    return Text(" (not the published MNIST)", style="bold yellow")


def summary_text(stats: DatasetStats) -> Text:
    """Two lines: images per split, and the pixel statistics (0–255)."""
    text = Text()
    text.append("splits  ", "bold")
    sizes = [f"{visible(name)} {n:,}" for name, n in stats.split_sizes.items()]
    if len(sizes) > 1:
        sizes.append(f"all {sum(stats.split_sizes.values()):,}")
    text.append(" · ".join(sizes))
    text.append("\npixels  ", "bold")
    text.append(f"mean {stats.pixel_mean_255:.1f} · std {stats.pixel_std_255:.1f} (of 255) · "
                f"{present.percent(stats.zero_fraction, 1)} exactly 0")
    return text


def files_read_text(files: Iterable[Mapping[str, Any]], source: str) -> Text:
    """One line per file read (`DatasetStats.files`): its name (relative to the source), size
    and SHA-256 prefix."""
    text = Text()
    for f in files:
        path = str(f.get("path", ""))
        name = path[len(source):].lstrip("/") if path.startswith(source + "/") else path
        text.append("\n  read ", "dim")
        text.append(visible(name or path))
        text.append(f"  {present.size(f.get('bytes'), 'download')}  sha256 "
                    f"{visible(str(f.get('sha256', ''))[:12])}…",
                    "dim")
    return text
