"""The Gaussian mixture's restarts: the one kept is the one reported, a NaN bound never wins, and
a mixture with no finite bound at all stops the job with a readable error."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.mixture
from sklearn.mixture import GaussianMixture

from mnist_tui.engine.errors import DataError
from mnist_tui.engine.jobs.context import JobContext
from mnist_tui.engine.jobs.specs import build_spec
from mnist_tui.engine.jobs.tsne_gmm import fit_gmm


def blobs() -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]])
    return np.concatenate([rng.normal(c, 0.5, (50, 2)) for c in centres])


def spec(inits: int):
    return build_spec("tsne-gmm", "default", {"gmm_inits": inits, "gmm_components": 3})


def nan_bound_for(restarts: set[int]):
    """A real GaussianMixture whose lower bound reads NaN on the given restarts (0-based): sklearn
    cannot be made to produce one on honest input, and this is how a diverged fit would look."""
    count = {"n": 0}

    class Diverging(GaussianMixture):
        def fit(self, X, y=None):
            super().fit(X, y)
            if count["n"] in restarts:
                self.lower_bound_ = float("nan")
            count["n"] += 1
            return self
    return Diverging


def test_the_restart_kept_is_the_one_with_the_best_bound():
    events = []
    clusters, info, posterior = fit_gmm(blobs(), spec(3), 0, JobContext(events.append))
    assert len(info["lower_bounds"]) == 3
    assert info["chosen_init"] == int(np.argmax(info["lower_bounds"]))
    assert sorted(np.bincount(clusters).tolist()) == [50, 50, 50]
    assert [e.step for e in events] == [1, 2, 3]


def test_a_nan_bound_is_never_reported_as_the_chosen_restart(monkeypatch):
    monkeypatch.setattr(sklearn.mixture, "GaussianMixture", nan_bound_for({0}))
    clusters, info, _ = fit_gmm(blobs(), spec(2), 0, JobContext(lambda e: None))
    assert np.isnan(info["lower_bounds"][0]) and np.isfinite(info["lower_bounds"][1])
    assert info["chosen_init"] == 1          # np.argmax of the bounds would say 0, the NaN one
    assert sorted(np.bincount(clusters).tolist()) == [50, 50, 50]


def test_no_finite_bound_at_all_is_a_readable_error(monkeypatch):
    monkeypatch.setattr(sklearn.mixture, "GaussianMixture", nan_bound_for({0, 1}))
    with pytest.raises(DataError, match="no finite likelihood in 2 restart"):
        fit_gmm(blobs(), spec(2), 0, JobContext(lambda e: None))
