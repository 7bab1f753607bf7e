"""What the Keras jobs (vgg16, cnn) share: the data split, tf.data pipelines, event callbacks,
evaluation with its artifacts, optimisers and the tf.distribute scope.

Only the worker imports this module (through a job), so TensorFlow is imported here at module
level on purpose: `mnist_tui.engine.jobs` looks jobs up by name and never imports them early.
Images stay uint8 at their native size in memory; resizing, RGB conversion and scaling happen
batch by batch in a `tf.data` map, so nothing upscaled is ever held for the whole set.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.engine.data.datasets import Dataset, pool_label, resolve_split, select_subset
from mnist_tui.engine.errors import DataError
from mnist_tui.engine.jobs.context import JobContext
from mnist_tui.engine.jobs.events import Epoch, ModelSummary, Progress, Throttle
from mnist_tui.engine.jobs.metrics import classification_metrics
from mnist_tui.engine.jobs.specs import SupervisedSpec

# Test hook: split the CPU into N logical devices before TensorFlow starts, so that
# `--strategy mirrored` can be exercised on a machine with no GPU.
CPU_DEVICES_ENV = "MNIST_TUI_CPU_DEVICES"
MISCLASSIFIED_CAP = 500
PROGRESS_PER_SECOND = 4.0


def import_tf(ctx: JobContext | None = None) -> tuple[Any, Any]:
    """TensorFlow + Keras, configured once per process (logical CPUs for the mirrored test).

    With `ctx` this is its own "importing" phase: the import and the start of TensorFlow's
    devices take seconds (longer with CUDA), which used to pass silently under "loading". The
    devices TensorFlow has are logged and recorded (`devices` in the result, also when the run
    is stopped later). GPUs allocate memory as needed (memory growth), so the GPU memory the
    Monitor and the result show is what the job uses, not everything TensorFlow reserves.
    """
    with ctx.phase("importing", "importing TensorFlow") if ctx else nullcontext():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        import keras
        import tensorflow as tf

        n_cpu = os.environ.get(CPU_DEVICES_ENV)
        if n_cpu and int(n_cpu) > 1:
            cpus = tf.config.list_physical_devices("CPU")
            try:
                tf.config.set_logical_device_configuration(
                    cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(int(n_cpu))])
            except RuntimeError:
                pass  # already initialised (a second job in the same process): keep it
        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except (RuntimeError, ValueError):
                pass  # already initialised: keep what is there
        if ctx is not None:
            record_devices(tf, ctx)
    return tf, keras


def record_devices(tf: Any, ctx: JobContext) -> list[str]:
    """The devices TensorFlow runs on, logged and kept in the result (`devices`)."""
    names = [d.name for d in tf.config.list_logical_devices()]
    gpus = [d for d in names if ":GPU:" in d]
    ctx.partial["devices"] = names
    ctx.log(f"TensorFlow {tf.__version__} devices: {', '.join(names) or 'none'}"
            + ("" if gpus else " (no GPU visible to TensorFlow)"))
    return names


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


# -- model construction helpers ------------------------------------------------------------

def make_optimizer(keras: Any, spec: SupervisedSpec, learning_rate: Any = None) -> Any:
    """The spec's optimiser at `spec.lr` (or a schedule given as `learning_rate`)."""
    return {"adam": keras.optimizers.Adam, "adagrad": keras.optimizers.Adagrad,
            "sgd": keras.optimizers.SGD}[spec.optimizer](
        learning_rate=spec.lr if learning_rate is None else learning_rate)


def strategy_scope(tf: Any, spec: SupervisedSpec,
                   ctx: JobContext) -> tuple[Any, dict[str, Any]]:
    """(context manager, description) for `spec.strategy`.

    `mirrored` replicates over every GPU, or over the logical CPUs when there is no GPU (how the
    tests exercise it). A refusal by TensorFlow/Keras becomes a one-line error.
    """
    if spec.strategy == "none":
        return nullcontext(), {"name": "none", "replicas": 1}
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    try:
        strategy = tf.distribute.MirroredStrategy(devices=devices)
    except Exception as exc:  # noqa: BLE001 - TF raises many kinds; the user needs one line
        raise DataError(f"--strategy mirrored: TensorFlow refused it: "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    if strategy.num_replicas_in_sync == 1:
        ctx.log("--strategy mirrored: only one device here, so it runs on one replica",
                "warning")
    ctx.log(f"MirroredStrategy over {strategy.num_replicas_in_sync} device(s): "
            + ", ".join(devices))
    return strategy.scope(), {"name": "mirrored", "replicas": strategy.num_replicas_in_sync,
                              "devices": devices}


def _flat_layers(model: Any) -> Iterator[Any]:
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            yield from _flat_layers(layer)
        else:
            yield layer


def _shape_of(layer: Any) -> list[Any] | None:
    try:
        out = layer.output
        return list(out.shape)
    except Exception:  # noqa: BLE001 - an unbuilt layer simply has no shape to show
        return None


def param_counts(model: Any) -> tuple[int, int]:
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return trainable, frozen


def emit_summary(ctx: JobContext, model: Any) -> dict[str, int]:
    """A ModelSummary event (nested models flattened to their layers); returns the counts."""
    layers = [{"name": layer.name, "class": type(layer).__name__,
               "output_shape": _shape_of(layer), "params": int(layer.count_params())
               if layer.built else 0, "trainable": bool(layer.trainable)}
              for layer in _flat_layers(model)]
    trainable, frozen = param_counts(model)
    ctx.emit(ModelSummary(layers=layers, trainable_params=trainable, frozen_params=frozen))
    return {"trainable": trainable, "frozen": frozen, "total": trainable + frozen}


# -- training with events -------------------------------------------------------------------

def _float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def make_event_callback(keras: Any, ctx: JobContext, epochs: int, steps: int, batch_size: int,
                        n_train: int, csv_path: Path | None) -> Any:
    """A Keras callback that turns fit() into Progress (throttled) and Epoch events.

    The history goes to `ctx.partial["history"]` and `history.csv` as each epoch ends, so a
    cancelled run keeps every finished epoch.
    """
    history: list[dict[str, Any]] = ctx.partial.setdefault("history", [])

    # Keras is untyped (Any), which --strict refuses as a base class
    class EventCallback(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.throttle = Throttle(PROGRESS_PER_SECOND)
            self.t_train = time.perf_counter()
            self.done_steps = 0

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.epoch = epoch
            self.t_epoch = time.perf_counter()
            self.metrics: dict[str, float] = {}
            # The first batch traces the graph (seconds): say so, rather than sit at 0.
            first = ": tracing the model (the first batch)" if epoch == 0 else ""
            ctx.emit(Progress(phase="training", step=0, total=steps,
                              message=f"epoch {epoch + 1}/{epochs}{first}"))

        def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
            # fit's validation pass: seconds with no batch progress, said as such
            ctx.emit(Progress(phase="training", step=steps, total=steps,
                              message=f"epoch {self.epoch + 1}/{epochs}: validating",
                              metrics=self.metrics))

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            self.done_steps += 1
            last = batch + 1 >= steps
            if not self.throttle.ready(force=last or batch == 0):
                return
            elapsed = time.perf_counter() - self.t_epoch
            seen = min((batch + 1) * batch_size, n_train)
            per_step = (time.perf_counter() - self.t_train) / self.done_steps
            remaining = (epochs - self.epoch) * steps - (batch + 1)
            metrics = {k: _float(v) for k, v in (logs or {}).items()}
            metrics["images_per_s"] = round(seen / elapsed, 1) if elapsed > 0 else None
            self.metrics = {k: v for k, v in metrics.items() if v is not None}
            ctx.emit(Progress(phase="training", step=batch + 1, total=steps,
                              message=f"epoch {self.epoch + 1}/{epochs}", metrics=self.metrics,
                              eta=round(max(remaining, 0) * per_step, 1)))

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            seconds = round(time.perf_counter() - self.t_epoch, 3)
            metrics = {k: _float(v) for k, v in (logs or {}).items()}
            metrics = {k: v for k, v in metrics.items() if v is not None and k != "learning_rate"}
            history.append({"epoch": epoch + 1, **metrics, "seconds": seconds})
            ctx.emit(Epoch(epoch=epoch + 1, epochs=epochs, metrics=metrics, seconds=seconds))
            if csv_path is not None:
                write_history_csv(csv_path, history)

    return EventCallback()


def tensorboard_callback(keras: Any, ctx: JobContext, spec: SupervisedSpec) -> Any:
    """TensorBoard logs in `spec.tensorboard/<run id>` (train/ and validation/, like Keras).

    Keras' own callback needs the `tensorboard` package for `tf.summary.scalar`; without it we
    write the same per-epoch scalars (epoch_loss, epoch_accuracy) with TensorFlow's core
    summary writer, which TensorBoard reads the same way.
    """
    assert spec.tensorboard is not None   # fit() calls this only when it is set
    log_dir = os.path.join(os.path.expanduser(spec.tensorboard),
                           ctx.run_dir.name if ctx.run_dir else "run")
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        ctx.log(f"TensorBoard logs (epoch scalars) in {log_dir}; the tensorboard package is "
                "not installed, so they are written with TensorFlow's core summary writer")
        return _CoreScalarWriter(keras, log_dir)
    ctx.log(f"TensorBoard logs in {log_dir}")
    return keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch")


def _CoreScalarWriter(keras: Any, log_dir: str) -> Any:
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    meta = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
        data_class=summary_pb2.DATA_CLASS_SCALAR)

    # Keras is untyped (Any), which --strict refuses as a base class
    class CoreScalarWriter(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.writers = {k: tf.summary.create_file_writer(os.path.join(log_dir, k))
                            for k in ("train", "validation")}

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            for key, value in (logs or {}).items():
                which = "validation" if key.startswith("val_") else "train"
                tag = "epoch_" + key.removeprefix("val_")
                with self.writers[which].as_default():
                    tf.summary.write(tag, tf.constant(float(value), tf.float32), step=epoch,
                                     metadata=meta)
            for w in self.writers.values():
                w.flush()

        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            for w in self.writers.values():
                w.close()

    return CoreScalarWriter()


def write_history_csv(path: Path, history: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(history)
    os.replace(tmp, path)


def fit(keras: Any, model: Any, ctx: JobContext, spec: SupervisedSpec, train_ds: Any,
        val_ds: Any, n_train: int, extra_callbacks: Iterable[Any] = ()) -> list[dict[str, Any]]:
    """model.fit with our callback only (verbose=0: Keras' progress bar is never printed)."""
    steps = math.ceil(n_train / spec.batch_size)
    callbacks = [make_event_callback(keras, ctx, spec.epochs, steps, spec.batch_size, n_train,
                                     ctx.artifact("history.csv")), *extra_callbacks]
    if spec.tensorboard:
        callbacks.append(tensorboard_callback(keras, ctx, spec))
    with ctx.phase("training", f"{spec.epochs} epoch(s) of {steps} batches of "
                               f"{spec.batch_size}"):
        model.fit(train_ds, validation_data=val_ds, epochs=spec.epochs, verbose=0,
                  shuffle=False, callbacks=callbacks)
    history: list[dict[str, Any]] = ctx.partial["history"]
    return history


# -- evaluation and artifacts --------------------------------------------------------------

def predict_batches(predict_on_batch: Callable[[Any], Any], batches: Iterable[Any], total: int,
                    ctx: JobContext, phase: str, message: str = "") -> np.ndarray:
    """Run `predict_on_batch` over an iterable of batches with throttled Progress events."""
    throttle = Throttle(PROGRESS_PER_SECOND)
    parts: list[np.ndarray] = []
    done = 0
    for x in batches:
        out = np.asarray(predict_on_batch(x), dtype=np.float32)
        parts.append(out)
        done += len(out)
        if throttle.ready(force=done >= total):
            ctx.emit(Progress(phase=phase, step=done, total=total, message=message))
    return np.concatenate(parts) if parts else np.zeros((0, 10), np.float32)


OVERFIT_GAP = 0.2        # training accuracy this far above validation/test accuracy is flagged
COLLAPSE_SHARE = 0.5     # one class predicted for more than this share of the images is flagged


def health_warnings(history: list[dict[str, Any]], accuracy: float, pred: np.ndarray,
                    true: np.ndarray) -> list[str]:
    """What a reader must be told about a run whose numbers look fine on one side only:
    validation/test far below training, or predictions collapsed onto one class."""
    out: list[str] = []
    last = history[-1] if history else {}
    train, val = last.get("accuracy"), last.get("val_accuracy")
    if isinstance(train, float) and isinstance(val, float) and train - val > OVERFIT_GAP:
        out.append(f"validation accuracy {val:.3f} ends far below training accuracy "
                   f"{train:.3f}: the model does not generalise (too few images or epochs?)")
    if isinstance(train, float) and train - accuracy > OVERFIT_GAP:
        out.append(f"test accuracy {accuracy:.3f} is far below training accuracy {train:.3f}")
    if len(pred):
        counts = np.bincount(pred, minlength=10)
        top = int(counts.argmax())
        share, true_share = counts[top] / len(pred), float(np.mean(true == top))
        if share > COLLAPSE_SHARE and share > 2 * true_share:
            out.append(f"predictions collapsed: {share:.0%} of the {len(pred):,} images are "
                       f"predicted as {top} (truly {true_share:.0%})")
    return out


def evaluate_and_save(ctx: JobContext, plan: DataPlan, probs: np.ndarray) -> dict[str, Any]:
    """Metrics, confusion matrix, misclassified images and predictions.npz from probabilities."""
    true = plan.eval_labels.astype(np.int64)
    pred = probs.argmax(axis=1)
    p_true = np.clip(probs[np.arange(len(true)), true], 1e-7, 1.0)
    m = classification_metrics(true, pred)
    wrong = np.flatnonzero(pred != true)
    with ctx.writing_artifact("predictions.npz") as path:
        if path is not None:
            np.savez_compressed(path, eval_indices=plan.eval_idx, true=true, pred=pred,
                                probabilities=probs.astype(np.float32))
    history = ctx.partial.get("history") or []
    last = history[-1] if history else {}
    warnings = health_warnings(history, m["accuracy"], pred, true)
    for w in warnings:
        ctx.log(w, "warning")
    metrics = {
        "accuracy": m["accuracy"],
        "loss": float(-np.mean(np.log(p_true))) if len(true) else None,
        "eval_split": plan.eval_split,
        "n_eval": len(true),
        "per_class_precision": m["per_class_precision"],
        "per_class_recall": m["per_class_recall"],
        "train_accuracy": last.get("accuracy"),
        "val_accuracy": last.get("val_accuracy"),
        "val_loss": last.get("val_loss"),
    }
    return {
        "metrics": metrics,
        "confusion_matrix": m["confusion_matrix"],
        "misclassified": [{"index": int(plan.eval_idx[i]), "true": int(true[i]),
                           "pred": int(pred[i])} for i in wrong[:MISCLASSIFIED_CAP]],
        "misclassified_total": len(wrong),
        "misclassified_pool": plan.eval_pool,
        "warnings": warnings,
    }


def evaluate(tf: Any, ctx: JobContext, model: Any, plan: DataPlan, batch: int,
             prep: Callable[[Any], Any], message: str = "") -> tuple[dict[str, Any], str | None]:
    """The evaluation phase: stream the eval images through `model` once, score, save it all.

    Returns (metrics/artifacts dict from `evaluate_and_save`, saved model path).
    """
    with ctx.phase("evaluation", plan.eval_split):
        infer = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        batches = image_pipeline(tf, plan.eval_images, None, batch, prep)
        probs = predict_batches(lambda x: infer(x).numpy(), batches, len(plan.eval_idx),
                                ctx, "evaluation", message)
        return evaluate_and_save(ctx, plan, probs), save_model(ctx, model)


def run_details(plan: DataPlan, counts: dict[str, int], strategy: dict[str, Any],
                model_file: str | None) -> dict[str, Any]:
    """The `details` every classifier job reports: parameters, strategy, how the data was split."""
    return {"params": counts, "strategy": strategy, "train_images": len(plan.train_idx),
            "val_images": len(plan.val_idx), "split": plan.split, "train_pool": plan.train_pool,
            "eval_pool": plan.eval_pool, "model_file": model_file}


def save_model(ctx: JobContext, model: Any) -> str | None:
    with ctx.writing_artifact("model.keras") as path:
        if path is None:
            return None
        model.save(path)
    return "model.keras"


def log_plan(ctx: JobContext, plan: DataPlan, dataset: Dataset) -> None:
    for note in plan.notes:
        ctx.log(note, "warning")
    ctx.log(f"{len(plan.train_idx):,} training and {len(plan.val_idx):,} validation images "
            f"from {dataset.name} ({plan.train_pool}); evaluation on {plan.eval_split}")
    ctx.partial["n_samples"] = plan.n_samples
    ctx.partial["images"] = plan.described
    ctx.partial.setdefault("history", [])
