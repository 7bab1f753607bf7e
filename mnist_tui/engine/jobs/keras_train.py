"""Training a Keras model with events: the optimiser, the distribution scope (TensorFlow's
MirroredStrategy, Keras' DataParallel on JAX), the model summary, and `fit` with its event
callback, history.csv and TensorBoard logs, on whichever backend `keras_runtime` started.

A module of its own because this is everything between "a model and its batches" and "a trained
model": the part a job's events, Monitor and history depend on, apart from how the data is split
(`keras_data`) and how the trained model is scored and saved (`keras_eval`).
Only the worker imports it (through a job: `mnist_tui.engine.jobs` looks jobs up by name and
never imports them early); Keras itself is imported by `keras_runtime.import_keras`, as its own
phase.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.engine.errors import DataError
from mnist_tui.engine.jobs.context import JobContext
from mnist_tui.engine.jobs.events import Epoch, ModelSummary, Progress, Throttle
from mnist_tui.engine.jobs.keras_runtime import KerasRuntime
from mnist_tui.engine.jobs.specs import SupervisedSpec

PROGRESS_PER_SECOND = 4.0
# The per-step learning curve: the epoch's running loss and accuracy as a point (a progress
# event with `curve_at`) at most CURVE_PER_SECOND times a second and CURVE_PER_EPOCH times an
# epoch, but at least every 1/CURVE_FLOOR of an epoch whatever the pace (a short epoch still
# draws a curve): under CURVE_PER_EPOCH + 1 points an epoch in all, however fast it runs.
CURVE_PER_SECOND = 2.0
CURVE_PER_EPOCH = 200
CURVE_FLOOR = 20


# -- model construction helpers ------------------------------------------------------------

def make_optimizer(keras: Any, spec: SupervisedSpec, learning_rate: Any = None) -> Any:
    """The spec's optimiser at `spec.lr` (or a schedule given as `learning_rate`)."""
    return {"adam": keras.optimizers.Adam, "adagrad": keras.optimizers.Adagrad,
            "sgd": keras.optimizers.SGD}[spec.optimizer](
        learning_rate=spec.lr if learning_rate is None else learning_rate)


def strategy_scope(rt: KerasRuntime, spec: SupervisedSpec,
                   ctx: JobContext) -> tuple[Any, dict[str, Any]]:
    """(context manager, description) for `spec.strategy`.

    `mirrored` replicates over every GPU, or over the logical CPUs when there is no GPU (how the
    tests exercise it): TensorFlow's MirroredStrategy, or Keras' DataParallel distribution on
    JAX (the torch backend has none: the spec refuses it). A refusal by the framework becomes a
    one-line error.
    """
    if spec.strategy == "none":
        return nullcontext(), {"name": "none", "replicas": 1}
    if rt.tf is None:
        return _data_parallel(rt, ctx)
    tf = rt.tf
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


def _data_parallel(rt: KerasRuntime, ctx: JobContext) -> tuple[Any, dict[str, Any]]:
    """Keras' DataParallel distribution over every GPU (else every CPU device) JAX has."""
    keras = rt.keras
    devices = keras.distribution.list_devices("gpu") if rt.gpus else \
        keras.distribution.list_devices("cpu")
    try:
        distribution = keras.distribution.DataParallel(devices=devices)
    except Exception as exc:  # noqa: BLE001 - one line for the user
        raise DataError(f"--strategy mirrored: Keras' DataParallel refused it: "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    if len(devices) == 1:
        ctx.log("--strategy mirrored: only one device here, so it runs on one replica",
                "warning")
    ctx.log(f"DataParallel (Keras distribution on {rt.framework}) over {len(devices)} "
            f"device(s): {', '.join(map(str, devices))}")
    return distribution.scope(), {"name": "mirrored", "replicas": len(devices),
                                  "devices": [str(d) for d in devices],
                                  "implementation": "keras.distribution.DataParallel"}


def compile_on_jax(rt: KerasRuntime, model: Any) -> None:
    """Let JAX compile the whole training step. Keras marks its random image layers
    (RandomTranslation, RandomZoom, …) as not XLA-compilable, which is true of TensorFlow's
    kernels for them, and one such layer made Keras run the whole JAX model eagerly, op by op:
    the CNN's epoch on 54,000 images took 584 s, against 28 s on TensorFlow. On JAX those layers
    are jax.numpy ops with a seed-generator state that compile like any other (measured: 0.5 →
    0.09 s a step). Call before `compile`."""
    if rt.backend != "jax":
        return
    for layer in _flat_layers(model):
        layer.supports_jit = True


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


class CurvePoints:
    """Which batches' running metrics become points of the per-step curve: never two within
    1/CURVE_PER_EPOCH of an epoch, at most CURVE_PER_SECOND a second, except that a point is
    always due 1/CURVE_FLOOR of an epoch after the last one, and at the epoch's last batch."""

    def __init__(self, steps: int) -> None:
        self.stride = max(1, math.ceil(steps / CURVE_PER_EPOCH))   # batches between points
        self.floor = max(1, math.ceil(steps / CURVE_FLOOR))        # due, whatever the time
        self.throttle = Throttle(CURVE_PER_SECOND)
        self.last = 0                                              # batches done at the last

    def new_epoch(self) -> None:
        self.last = 0

    def due(self, done: int, last_batch: bool) -> bool:
        """Whether the batch that made `done` batches of this epoch gives a point."""
        gap = done - self.last
        if gap <= 0 or (gap < self.stride and not last_batch):
            return False
        if not self.throttle.ready(force=last_batch or gap >= self.floor):
            return False
        self.last = done
        return True


def make_event_callback(keras: Any, ctx: JobContext, epochs: int, steps: int, batch_size: int,
                        n_train: int, csv_path: Path | None) -> Any:
    """A Keras callback that turns fit() into Progress (throttled) and Epoch events; some
    progress events are also points of the per-step learning curve (`CurvePoints`).

    The history goes to `ctx.partial["history"]` and `history.csv` as each epoch ends, so a
    cancelled run keeps every finished epoch.
    """
    history: list[dict[str, Any]] = ctx.partial.setdefault("history", [])

    # Keras is untyped (Any), which --strict refuses as a base class
    class EventCallback(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.throttle = Throttle(PROGRESS_PER_SECOND)
            self.curve = CurvePoints(steps)
            self.t_train = time.perf_counter()
            self.done_steps = 0

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.epoch = epoch
            self.t_epoch = time.perf_counter()
            self.metrics: dict[str, float] = {}
            self.curve.new_epoch()
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
            point = self.curve.due(batch + 1, last)
            if not self.throttle.ready(force=last or batch == 0 or point):
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
                              eta=round(max(remaining, 0) * per_step, 1),
                              curve_at=round(self.epoch + min(batch + 1, steps) / steps, 6)
                              if point else None))

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            seconds = round(time.perf_counter() - self.t_epoch, 3)
            metrics = {k: _float(v) for k, v in (logs or {}).items()}
            metrics = {k: v for k, v in metrics.items() if v is not None and k != "learning_rate"}
            history.append({"epoch": epoch + 1, **metrics, "seconds": seconds})
            ctx.emit(Epoch(epoch=epoch + 1, epochs=epochs, metrics=metrics, seconds=seconds))
            if csv_path is not None:
                write_history_csv(csv_path, history)

    return EventCallback()


def tensorboard_callback(rt: KerasRuntime, ctx: JobContext, spec: SupervisedSpec) -> Any:
    """TensorBoard logs in `spec.tensorboard/<run id>` (train/ and validation/, like Keras).

    Keras' own callback needs the `tensorboard` package for `tf.summary.scalar` and the
    TensorFlow backend for its graphs; otherwise we write the same per-epoch scalars
    (epoch_loss, epoch_accuracy) with TensorFlow's core summary writer, which TensorBoard reads
    the same way (under JAX or PyTorch, TensorFlow is imported for that writer alone, its GPUs
    hidden from it; without TensorFlow the run was refused before it started:
    `backends.tensorboard_message`).
    """
    keras = rt.keras
    assert spec.tensorboard is not None   # fit() calls this only when it is set
    log_dir = os.path.join(os.path.expanduser(spec.tensorboard),
                           ctx.run_dir.name if ctx.run_dir else "run")
    if rt.tf is None:
        ctx.log(f"TensorBoard logs (epoch scalars) in {log_dir}, written with TensorFlow's "
                f"core summary writer (the {rt.backend} backend trains)")
        return _CoreScalarWriter(keras, log_dir, hide_gpus=True)
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        ctx.log(f"TensorBoard logs (epoch scalars) in {log_dir}; the tensorboard package is "
                "not installed, so they are written with TensorFlow's core summary writer")
        return _CoreScalarWriter(keras, log_dir)
    ctx.log(f"TensorBoard logs in {log_dir}")
    return keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch")


def _CoreScalarWriter(keras: Any, log_dir: str, hide_gpus: bool = False) -> Any:
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    if hide_gpus:   # another framework trains: TensorFlow must not take GPU memory to write
        try:
            tf.config.set_visible_devices([], "GPU")
        except (RuntimeError, ValueError):
            pass    # already initialised

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


def fit(rt: KerasRuntime, model: Any, ctx: JobContext, spec: SupervisedSpec, train_ds: Any,
        val_ds: Any, n_train: int, extra_callbacks: Iterable[Any] = ()) -> list[dict[str, Any]]:
    """model.fit with our callback only (verbose=0: Keras' progress bar is never printed)."""
    steps = math.ceil(n_train / spec.batch_size)
    callbacks = [make_event_callback(rt.keras, ctx, spec.epochs, steps, spec.batch_size, n_train,
                                     ctx.artifact("history.csv")), *extra_callbacks]
    if spec.tensorboard:
        callbacks.append(tensorboard_callback(rt, ctx, spec))
    with ctx.phase("training", f"{spec.epochs} epoch(s) of {steps} batches of "
                               f"{spec.batch_size}"):
        model.fit(train_ds, validation_data=val_ds, epochs=spec.epochs, verbose=0,
                  shuffle=False, callbacks=callbacks)
    history: list[dict[str, Any]] = ctx.partial["history"]
    return history
