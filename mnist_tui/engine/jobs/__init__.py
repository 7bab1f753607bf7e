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


_PRECHECKS = {
    "tsne-gmm": "mnist_tui.engine.jobs.tsne_gmm:check_sample",
    "vgg16": "mnist_tui.engine.jobs.keras_data:plan_data",
    "cnn": "mnist_tui.engine.jobs.keras_data:plan_data",
}


def precheck(spec: Any, dataset: Dataset) -> None:
    """Refuse (DataError) what the loaded data makes impossible — more `--samples` than there
    are images, a batch larger than the training set, a perplexity too large — before the run
    folder exists and before any framework is imported: a refused run leaves no folder that
    other windows would follow, and is refused in a moment, not after TensorFlow's import."""
    check: Callable[[Any, Dataset], object] = pkgutil.resolve_name(_PRECHECKS[spec.job])
    check(spec, dataset)
