"""Dataset: what is loaded and from where (or why MNIST could not be had), and what it looks like.

The statistics come from `engine.stats.dataset_stats`, computed in the app's loader thread; this
screen only draws them: split sizes, class balance as bars, pixel statistics, the mean digit of
each class and sample digits of each class.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from mnist_tui.tui.widgets.digits import DigitGrid
from mnist_tui.tui.widgets.keysbar import KeysBar


class DatasetScreen(Screen):
    """The data before any training."""

    BINDINGS = [Binding("r", "retry", "Retry download")]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="dataset-body", can_focus=True):
            yield Static("loading the dataset…", id="ds-source")
            yield Static("", id="ds-note")
            yield Static("", id="ds-summary")
            yield Static("[b]Mean digit of each class[/b]", classes="section")
            yield DigitGrid(id="ds-means")
            yield Static("[b]Samples of each class[/b]", classes="section")
            yield DigitGrid(id="ds-samples")
        yield KeysBar()

    def on_mount(self) -> None:
        self.query_one("#dataset-body").focus()
        self.on_dataset_changed()

    def action_retry(self) -> None:
        app = self.app
        if app.dataset_loading:
            return
        if app.data_dir:
            app.notify("a data folder was given: nothing to download", severity="warning")
            return
        self.query_one("#ds-source", Static).update("trying to download MNIST again…")
        app.load_dataset("auto")

    def on_dataset_changed(self) -> None:
        app = self.app
        src = self.query_one("#ds-source", Static)
        note = self.query_one("#ds-note", Static)
        if app.dataset_error:
            src.update(Text(f"The dataset could not be loaded: {app.dataset_error}",
                            style="bold red"))
            note.update("r tries again.")
            return
        stats = app.stats
        if stats is None:
            return
        h, w = stats.image_shape
        src.update(Text.assemble(("Dataset ", "bold"), (stats.name, "bold cyan"),
                                 f"  {h}×{w} images  from ", (stats.source, "italic"),
                                 files_read_text(stats.files, stats.source)))
        if stats.note:
            note.update(Text.assemble(("⚠ ", "bold yellow"), (stats.note, "yellow"),
                                      ("\n  r retries the download.", "dim")))
            note.add_class("warning")
        else:
            note.update("")
            note.remove_class("warning")
        self.query_one("#ds-summary", Static).update(self._summary(stats))
        means = list(stats.class_means)
        self.query_one("#ds-means", DigitGrid).set_digits(means, [str(d) for d in range(10)])
        images, caps = [], []
        for d, imgs in enumerate(stats.samples):
            for img in imgs[:4]:
                images.append(img)
                caps.append(str(d))
        self.query_one("#ds-samples", DigitGrid).set_digits(images, caps)

    def _summary(self, stats) -> Table:
        grid = Table.grid(padding=(0, 3))
        grid.add_column()
        grid.add_column()
        left = Table(box=None, show_header=True, header_style="bold", padding=(0, 1))
        left.add_column("split")
        left.add_column("images", justify="right")
        for name, n in stats.split_sizes.items():
            left.add_row(name, f"{n:,}")
        left.add_row("", "")
        left.add_row("[b]pixels[/b]", "")
        left.add_row("mean", f"{stats.pixel_mean_255:.1f} / 255")
        left.add_row("std", f"{stats.pixel_std_255:.1f} / 255")
        left.add_row("zero", f"{100 * stats.zero_fraction:.1f}%")
        grid.add_row(left, self._balance(stats))
        return grid

    @staticmethod
    def _balance(stats) -> Table:
        counts = stats.total_class_counts
        top = max(counts) or 1
        total = sum(counts) or 1
        bars = Table(box=None, show_header=True, header_style="bold", padding=(0, 1),
                     title="class balance", title_style="bold", title_justify="left")
        bars.add_column("digit", justify="right")
        bars.add_column("images", justify="right")
        bars.add_column("share", justify="right")
        bars.add_column("", no_wrap=True)
        for d, c in enumerate(counts):
            width = 24 * c / top
            full = int(width)
            bar = "█" * full + (" ▏▎▍▌▋▊▉"[int((width - full) * 8)] if full < 24 else "")
            bars.add_row(str(d), f"{c:,}", f"{100 * c / total:.1f}%",
                         Text(bar.rstrip(), style="cyan"))
        return bars


def files_read_text(files, source: str) -> Text:
    """One line per file read: its name (relative to the source), size and SHA-256 prefix."""
    from mnist_tui.engine.download import human_size

    text = Text()
    for f in files:
        path = str(f.get("path", ""))
        name = path[len(source):].lstrip("/") if path.startswith(source + "/") else path
        text.append("\n  read ", "dim")
        text.append(name or path)
        text.append(f"  {human_size(f.get('bytes'))}  sha256 {str(f.get('sha256', ''))[:12]}…",
                    "dim")
    return text
