"""Job implementations, looked up by name so that only the job being run is imported."""

from __future__ import annotations

import pkgutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mnist_tui.engine.data.datasets import Dataset
    from mnist_tui.engine.jobs.context import JobContext

# A job's `run(spec, dataset, ctx) -> result`; each job takes its own spec class, hence Any.
Runner = Callable[[Any, "Dataset", "JobContext"], dict[str, Any]]

_RUNNERS = {
    "tsne-gmm": "mnist_tui.engine.jobs.tsne_gmm:run",
    "vgg16": "mnist_tui.engine.jobs.vgg16:run",
    "cnn": "mnist_tui.engine.jobs.cnn:run",
}


def runner(job: str) -> Runner:
    run: Runner = pkgutil.resolve_name(_RUNNERS[job])
    return run
