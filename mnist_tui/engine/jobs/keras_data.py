"""The data side of the Keras jobs (vgg16, cnn): which images train, validate and evaluate
(`plan_data`, `log_plan`), and the batches that feed them, on every backend.

A module of its own because the split is plain numpy that any training backend keeps as is.
The batches: on the TensorFlow backend, tf.data pipelines (measured faster there: parallel maps
and prefetch beside the training step); on JAX and PyTorch, a `keras.utils.PyDataset` that
gathers numpy batches and runs the same per-batch preparation with `keras.ops`
(`image_batches`, `array_batches`, `input_batches` choose). The builders take the modules as
arguments, so importing this module never imports a framework.
Images stay uint8 at their native size in memory; resizing, RGB conversion and scaling happen
batch by batch, so nothing upscaled is ever held for the whole set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mnist_tui.engine.data.datasets import Dataset, pool_label, resolve_split, select_subset
from mnist_tui.engine.errors import DataError
from mnist_tui.engine.jobs.context import JobContext
from mnist_tui.engine.jobs.keras_runtime import KerasRuntime
from mnist_tui.engine.jobs.specs import SupervisedSpec

# -- the data split ------------------------------------------------------------------------

@dataclass
class DataPlan:
    """Which images train, validate and evaluate, as indices into their pools.

    `train_pool` is the split training draws from; `eval_pool` the one evaluation draws from
    (the same object when evaluating on held-out images). Indices are what the result reports.
    `split` is the split the job really used (`--split auto` resolved).
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    eval_images: np.ndarray
    eval_labels: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    eval_idx: np.ndarray
    train_pool: str
    eval_pool: str
    eval_split: str
    split: str = "train"
    notes: list[str] = field(default_factory=list)
    described: dict[str, str] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return len(self.train_idx) + len(self.val_idx)


def plan_data(spec: SupervisedSpec, dataset: Dataset) -> DataPlan:
    """Split the data as `SupervisedSpec` documents it; DataError when something cannot work.

    Training draws at most `samples` images from the resolved split (subset_seed), and
    `val_fraction` of them are kept for validation. Evaluation uses the whole test split (at
    most `eval_samples`) when training drew from the train split, else the pool's images not
    chosen (held out, disjoint). If nothing is held out (every image chosen) the validation
    images are the evaluation set, and the result says so.
    """
    notes: list[str] = []
    which = resolve_split(dataset, spec.split, supervised=True)
    pool = dataset.pool(which)
    pool_name = pool_label(dataset, which)
    chosen = select_subset(len(pool), spec.samples, spec.subset_seed)
    rng = np.random.default_rng([spec.subset_seed, 1])
    order = rng.permutation(chosen)
    n_val = round(len(order) * spec.val_fraction)
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    if len(train_idx) == 0:
        raise DataError("no training images left after the validation split")
    if spec.batch_size > len(train_idx):
        raise DataError(f"--batch-size {spec.batch_size} is larger than the {len(train_idx)} "
                        "training images")
    whole = len(chosen) == len(pool)
    drawn = (f"the whole {dataset.name} {pool_name} split" if whole else
             f"{len(chosen):,} of the {len(pool):,} {dataset.name} {pool_name} images "
             f"(subset seed {spec.subset_seed})")

    if which == "train" and "test" in dataset.splits:
        ev_pool, ev_name = dataset.splits["test"], "test"
        n_eval = min(spec.eval_samples or len(ev_pool), len(ev_pool))
        eval_idx = select_subset(len(ev_pool), n_eval, spec.subset_seed)
        whole_test = "the whole" if n_eval == len(ev_pool) else f"{n_eval:,} images of the"
        desc = (f"{whole_test} {dataset.name} test split ({len(eval_idx):,} images, never used "
                "in training)")
    else:
        held = np.setdiff1d(np.arange(len(pool)), chosen)
        ev_pool, ev_name = pool, pool_name
        if len(held):
            cap = spec.eval_samples or len(held)
            if len(held) > cap:
                pick = np.random.default_rng([spec.subset_seed, 2]).choice(len(held), cap,
                                                                          replace=False)
                held = np.sort(held[pick])
            eval_idx = held
            desc = (f"held-out {dataset.name} {pool_name} images not chosen for training or "
                    f"validation ({len(eval_idx):,} images, disjoint from them)")
        elif len(val_idx):
            eval_idx = val_idx
            desc = (f"validation images ({len(eval_idx):,}): every image of the pool was chosen, "
                    "none is held out; validation images are never trained on")
            notes.append("every image was chosen for training, so accuracy is measured on the "
                         "validation images")
        else:
            raise DataError("no images left to evaluate on: choose fewer --samples or a "
                            "--val-fraction above 0")
    described = {
        "split": which,
        "train": f"{len(train_idx):,} images: {drawn}, less the validation images",
        "validation": (f"{len(val_idx):,} images: {spec.val_fraction:.0%} of {drawn}, never "
                       "trained on" if len(val_idx) else "none (--val-fraction 0)"),
        "evaluation": desc,
    }
    return DataPlan(
        train_images=pool.images[train_idx], train_labels=pool.labels[train_idx],
        val_images=pool.images[val_idx], val_labels=pool.labels[val_idx],
        eval_images=ev_pool.images[eval_idx], eval_labels=ev_pool.labels[eval_idx],
        train_idx=train_idx, val_idx=val_idx, eval_idx=eval_idx, train_pool=pool_name,
        eval_pool=ev_name, eval_split=desc, split=which, notes=notes, described=described)


# -- tf.data pipelines ----------------------------------------------------------------------

def image_pipeline(tf: Any, images: np.ndarray, labels: np.ndarray | None, batch_size: int,
                   prep: Callable[[Any], Any], shuffle_seed: int | None = None) -> Any:
    """uint8 (N,H,W) → batches of `prep(float32 (B,H,W,1) in 0–255)`, one-hot labels if given.

    `prep` runs per batch inside the pipeline; the dataset holds only the uint8 images.
    """
    items = (images, labels) if labels is not None else images
    ds = tf.data.Dataset.from_tensor_slices(items)
    if shuffle_seed is not None:
        ds = ds.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def fn(x: Any, y: Any = None) -> Any:
        x = prep(tf.cast(x, tf.float32)[..., None])
        return x if y is None else (x, tf.one_hot(y, 10))

    return ds.map(fn, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def array_pipeline(tf: Any, features: np.ndarray, labels: np.ndarray, batch_size: int,
                   shuffle_seed: int | None = None) -> Any:
    """Batches gathered from a numpy array without copying it into the graph.

    `from_tensor_slices` would embed a second copy of the (possibly large) feature cache; a
    `numpy_function` gather reads the one array in place.
    """
    n = len(features)
    shape = features.shape[1:]
    ds = tf.data.Dataset.range(n)
    if shuffle_seed is not None:
        ds = ds.shuffle(n, seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def gather(idx: Any) -> tuple[Any, Any]:
        x = tf.numpy_function(lambda i: features[i], [idx], tf.float32, stateful=False)
        x.set_shape((None, *shape))
        y = tf.one_hot(tf.gather(tf.constant(labels), idx), 10)
        return x, y

    return ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


# -- the same batches on every backend ---------------------------------------------------------

def image_batches(rt: KerasRuntime, images: np.ndarray, labels: np.ndarray | None,
                  batch_size: int, prep: Callable[[Any], Any],
                  shuffle_seed: int | None = None) -> Any:
    """What `fit` (labels given) or `input_batches` reads: tf.data on TensorFlow, else a
    PyDataset of `prep(float32 (B,H,W,1) in 0–255)` with one-hot labels, reshuffled (seeded)
    every epoch."""
    if rt.tf is not None:
        return image_pipeline(rt.tf, images, labels, batch_size, prep, shuffle_seed)
    keras = rt.keras

    def get(idx: np.ndarray) -> Any:
        x = keras.ops.convert_to_numpy(prep(images[idx].astype(np.float32)[..., None]))
        return x if labels is None else (x, one_hot(labels[idx]))

    return py_batches(keras, len(images), batch_size, shuffle_seed, get)


def array_batches(rt: KerasRuntime, features: np.ndarray, labels: np.ndarray, batch_size: int,
                  shuffle_seed: int | None = None) -> Any:
    """Batches of a numpy array (the feature cache) and one-hot labels, read in place."""
    if rt.tf is not None:
        return array_pipeline(rt.tf, features, labels, batch_size, shuffle_seed)
    return py_batches(rt.keras, len(features), batch_size, shuffle_seed,
                      lambda idx: (features[idx], one_hot(labels[idx])))


def input_batches(rt: KerasRuntime, images: np.ndarray, batch_size: int,
                  prep: Callable[[Any], Any]) -> Iterator[Any]:
    """The model's inputs for `images`, batch by batch, in order (evaluation, extraction)."""
    if rt.tf is not None:
        yield from image_pipeline(rt.tf, images, None, batch_size, prep)
        return
    ds = image_batches(rt, images, None, batch_size, prep)
    for i in range(len(ds)):
        yield ds[i]


def one_hot(labels: np.ndarray, k: int = 10) -> np.ndarray:
    return np.eye(k, dtype=np.float32)[np.asarray(labels, np.int64)]


def py_batches(keras: Any, n: int, batch_size: int, shuffle_seed: int | None,
               get: Callable[[np.ndarray], Any]) -> Any:
    """A `keras.utils.PyDataset` of `get(indices)` for consecutive batches of 0…n-1, in an
    order reshuffled after every epoch when `shuffle_seed` is given (seeded: the same runs
    see the same batches)."""

    # Keras is untyped (Any), which --strict refuses as a base class
    class Batches(keras.utils.PyDataset):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(shuffle_seed) if shuffle_seed is not None else None
            self.order = self.rng.permutation(n) if self.rng is not None else np.arange(n)

        def __len__(self) -> int:
            return math.ceil(n / batch_size)

        def __getitem__(self, i: int) -> Any:
            if i >= len(self):
                raise IndexError(i)
            return get(self.order[i * batch_size:(i + 1) * batch_size])

        def on_epoch_end(self) -> None:
            if self.rng is not None:
                self.order = self.rng.permutation(n)

    return Batches()


def log_plan(ctx: JobContext, plan: DataPlan, dataset: Dataset) -> None:
    for note in plan.notes:
        ctx.log(note, "warning")
    ctx.log(f"{len(plan.train_idx):,} training and {len(plan.val_idx):,} validation images "
            f"from {dataset.name} ({plan.train_pool}); evaluation on {plan.eval_split}")
    ctx.partial["n_samples"] = plan.n_samples
    ctx.partial["images"] = plan.described
    ctx.partial.setdefault("history", [])
