"""Downloads inside a job: the MNIST files while loading and VGG16's weights, each reported as
"download" progress events (bytes) through the job's context, so the batch bar and the Monitor
show them like any other phase."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mnist_tui.engine import present
from mnist_tui.engine.data import weights
from mnist_tui.engine.data.fetch import is_cached
from mnist_tui.engine.data.transfer import DownloadProgress
from mnist_tui.engine.jobs.context import JobContext
from mnist_tui.engine.jobs.events import Progress, Throttle


def download_reporter(ctx: JobContext) -> Callable[[DownloadProgress], None]:
    """A `download.fetch_*` progress callback that emits "download" Progress events (bytes)
    through `ctx`, at most 5 a second plus each file's first and last: the MNIST download
    while loading and the VGG16 weights share it, and so do the batch bar and the Monitor."""
    throttle = Throttle(5)

    def report(p: DownloadProgress) -> None:
        if throttle.ready(force=p.done or p.bytes_done == 0):
            ctx.emit(Progress(phase="download", step=p.bytes_done, total=p.bytes_total,
                              message=f"downloading {p.file_name}"))
    return report


def weights_for_job(choice: str, ctx: JobContext) -> tuple[Path | None, str]:
    """`weights.resolve_weights` for a running job: a download, when one is needed, is its own
    "download" phase with progress events (the batch bar, the Monitor's progress line)."""
    spec = weights.imagenet_spec()
    if choice != "imagenet" or is_cached(weights.imagenet_path(), spec):
        return weights.resolve_weights(choice)
    urls = weights.weights_urls()
    size = present.size(spec.size, "download")
    with ctx.phase("download", f"downloading the ImageNet weights {weights.IMAGENET_NOTOP} "
                               f"({size}) from {weights._hosts(urls)} into "
                               f"{weights.imagenet_path().parent}/ (Keras' cache, once)"):
        return weights.resolve_weights(choice, download_reporter(ctx))
