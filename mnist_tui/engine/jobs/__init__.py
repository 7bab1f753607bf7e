"""Job implementations, looked up by name so that only the job being run is imported."""

from __future__ import annotations

import pkgutil
from collections.abc import Callable

_RUNNERS = {
    "tsne-gmm": "mnist_tui.engine.jobs.tsne_gmm:run",
    "vgg16": "mnist_tui.engine.jobs.vgg16:run",
    "cnn": "mnist_tui.engine.jobs.cnn:run",
}


def runner(job: str) -> Callable:
    return pkgutil.resolve_name(_RUNNERS[job])
