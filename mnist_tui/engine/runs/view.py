"""One run as a front end shows it: its result, spec, curves, last embedding and misclassified
images, read from its folder and checked against the data available here.

Why in the engine: the Results and Compare screens draw it, and deciding which images were
misclassified (recomputed from embedding.npz for clustering runs) and whether the dataset here is
the one the run used (its fingerprint) is engine work, not drawing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnist_tui.engine.runs.progress import SnapshotPoints, SummaryTable, numbers, replay

if TYPE_CHECKING:
    import numpy as np

    from mnist_tui.engine.data.datasets import Dataset
    from mnist_tui.engine.jobs.results import RunResult
    from mnist_tui.engine.runs.store import RunStore

GALLERY_MAX = 40


@dataclass(frozen=True)
class RunView:
    """One run as Results and Compare draw it: its typed result (None while it runs), spec,
    curves from the events (`progress.replay`), the last embedding, and what could not be read.

    `curve` is the per-step learning curve (`RunProgress.curve`: (epochs done, {loss,
    accuracy})), empty for a run recorded before step points; `history` its epochs."""

    run_id: str
    result: RunResult | None
    spec: dict[str, Any]
    kl: list[tuple[float, float]]
    summary: SummaryTable | None
    history: list[dict[str, float]]
    snapshot: SnapshotPoints | None
    path: Path
    notes: list[str] = field(default_factory=list)
    curve: list[tuple[float, dict[str, float]]] = field(default_factory=list)


def load_run_view(store: RunStore, run_id: str) -> RunView:
    """Everything the screen draws for a run (runs in a thread: file reads, numpy).

    `notes` says what could not be read (an events.jsonl that is a FIFO, a device, too large):
    the run is still shown, without the curves its events would have drawn."""
    from mnist_tui.engine.runs.layout import EVENTS_FILE
    from mnist_tui.engine.runs.store import iter_events

    result = store.load_result(run_id)
    spec = store.load_spec(run_id)
    notes: list[str] = []
    progress = replay(iter_events(store.path(run_id) / EVENTS_FILE, notes))
    recorded = result.history if result is not None else None
    # the result's history is the record; the events' epochs stand in for a run without one
    history = ([numbers(h) for h in recorded if isinstance(h, dict)]
               if isinstance(recorded, list) and recorded else progress.history())
    snapshot = progress.snapshot
    final = store.path(run_id) / "embedding.npz"
    arrays = read_npz(final, ("embedding", "labels"))
    if arrays is not None:   # the final embedding beats the last live snapshot
        import numpy as np

        emb, labels = arrays
        step = max(1, len(emb) // 2000)
        snapshot = SnapshotPoints(iteration="final", points=np.round(emb[::step, :2], 2).tolist(),
                                  labels=labels[::step].tolist())
    return RunView(run_id=run_id, result=result, spec=spec, kl=progress.kl,
                   summary=progress.model_summary, history=history, snapshot=snapshot,
                   path=store.path(run_id), notes=notes, curve=progress.curve)


def read_npz(path: Path, keys: tuple[str, ...]) -> tuple[np.ndarray, ...] | None:
    """The arrays `keys` of an artifact, or None when it is missing, torn or not what it should
    be (an old run, a disk that filled up): Results then shows the rest of the run."""
    import zipfile

    import numpy as np

    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return tuple(np.asarray(z[k]) for k in keys)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def misclassified(view: RunView) -> list[dict[str, Any]]:
    """[{index, true, pred}] from the result (classifiers) or embedding.npz (clustering)."""
    result = view.result
    if result is None:
        return []
    if result.misclassified:
        return [m.to_dict() for m in result.misclassified]
    mapping = result.mapping_hungarian
    arrays = read_npz(view.path / "embedding.npz", ("clusters", "labels", "indices"))
    if arrays is None or not mapping:
        return []
    import numpy as np

    clusters, labels, indices = arrays
    try:
        pred = np.asarray(mapping)[clusters]
    except (IndexError, TypeError, ValueError):
        return []
    wrong = np.flatnonzero(pred != labels)
    return [{"index": int(indices[i]), "true": int(labels[i]), "pred": int(pred[i])}
            for i in wrong]


def gallery_images(loaded: Dataset | None, view: RunView,
                   wrong: list[dict[str, Any]]) -> tuple[list[np.ndarray], list[str], str]:
    """Images and captions of misclassified digits, or a reason why there are none. `loaded` is
    a Dataset already in memory (used when it is the run's own), or None."""
    if not wrong:
        return [], [], "no misclassified images recorded for this run"
    result = view.result
    spec = view.spec
    info = result.dataset.to_dict() if result is not None and result.dataset else {}
    ds = loaded
    if ds is None or (info.get("fingerprint") and ds.fingerprint() != info.get("fingerprint")):
        from mnist_tui.engine.data.sources import load_dataset

        which = "digits" if info.get("name") == "digits" else spec.get("dataset", "auto")
        try:
            ds = load_dataset(which, spec.get("data_dir") if which != "digits" else None)
        except Exception as exc:  # noqa: BLE001 - the gallery is optional
            return [], [], f"the run's dataset cannot be loaded here: {exc}"
        if info.get("fingerprint") and ds.fingerprint() != info["fingerprint"]:
            return [], [], ("the dataset available here is not the one this run used "
                            f"({info.get('name')} from {info.get('source')})")
    pool_name = (result.misclassified_pool if result else None) or spec.get("split", "all")
    try:
        pool = ds.pool("all" if "+" in pool_name else pool_name)
    except Exception as exc:  # noqa: BLE001
        return [], [], f"cannot find the images: {exc}"
    images, caps = [], []
    for item in wrong[:GALLERY_MAX]:
        i = item.get("index")
        if isinstance(i, int) and 0 <= i < len(pool):
            images.append(pool.images[i])
            caps.append(f"{item.get('true')}→{item.get('pred')}")
    total = result.misclassified_total if result and result.misclassified_total is not None \
        else len(wrong)
    note = f"{len(images)} of {total:,} misclassified images (true→predicted)"
    return images, caps, note
