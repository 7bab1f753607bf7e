"""A small CNN on the native input (28×28 MNIST, 8×8 digits): the strong, simple baseline.

The model: a 6×6 stride-2 convolution (64 filters) takes the image to half size, a 3×3
convolution (64) works there, 2×2 max-pooling, a 3×3 convolution (128), each followed by
batch normalisation and ReLU; Flatten → Dense(256) → batch norm → ReLU → Dropout → Dense(10)
(1.72 M parameters). Training: random whole-pixel shifts (±10% of the size, nearest neighbour,
so the digits are never blurred) as the only augmentation, Adam with decoupled weight decay,
label smoothing 0.1, a learning rate warmed up over the first 15% of the steps to `--lr`
(0.003) and then cosine-decayed to 0, batches of 64, 9 epochs. On a CPU that computes bfloat16
natively (AVX512-BF16/AMX) it trains in mixed bfloat16 (float32 weights), elsewhere in float32.
On the TensorFlow backend batch normalisation runs TensorFlow's fused kernel
(`FusedBatchNormalization`); the model is evaluated and saved as plain Keras with the same
weights. On JAX and PyTorch (`--backend`) it is Keras' own layer, fed by a PyDataset. tf.data autotuning is off for the
training and validation pipelines (`without_autotune`: it stalled epochs by ~20 s).

Measured with the standard protocol: 54,000 training + 6,000 validation images from the 60,000,
scored on the 10,000 test images, never trained on; 2 CPU cores (AMD EPYC Zen 4, bfloat16),
`mnist-tui --batch --job cnn --data-dir ../shared/mnist-full --samples 60000 --seed S`:

    seed    test accuracy   training s   load average while it ran (1-min, median / max)
    0       0.9963          226          2.3 / 3.2
    1       0.9966          207          1.9 / 2.8
    2       0.9970          197          2.7 / 2.9
    mean 0.9966 (sd 0.0004, range 0.0007); training 210 s mean, 226 s max (our run is ~2 of
    the load; the rest was other work on the same cores)

The same seeds with the same results took 309–333 s before `without_autotune`. keras.io's
simple convnet reaches 0.9922; the previous model here (5×5 convolutions, 12 epochs) 0.9952
in 562 s. Without the hidden dense layer (DENSE_UNITS = 0) the test accuracy is ~0.9960 (9
epochs: 0.9961, 0.9959 for seeds 1, 2; 10 epochs: 0.9961, 0.9961, 0.9957) at ~10% less time.

Why this model, measured on those 2 cores (CPU time per training image in short fits, and
oneDNN's own timings): almost all the time is convolution, so it is spent at 14×14 and 7×7: the
stride-2 stem replaces a 28×28 convolution + pooling (−21% per image); Keras 3's unfused batch
normalisation cost ~25% of a step (the fused kernel removes most of it); bfloat16 saves another
~25%. At ~10 epochs, rotation ±10° + zoom ±10% + shifts lost to shifts alone (seed 0: 0.9955
vs 0.9959–0.9961), and 12 epochs of batches of 128 did no better than 10 of 64 (0.9962).
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

from mnist_tui.engine.data.datasets import Dataset
from mnist_tui.engine.jobs.context import JobContext
from mnist_tui.engine.jobs.keras_data import image_batches, log_plan, plan_data
from mnist_tui.engine.jobs.keras_eval import evaluate, run_details
from mnist_tui.engine.jobs.keras_runtime import KerasRuntime, import_keras
from mnist_tui.engine.jobs.keras_train import (
    compile_on_jax,
    emit_summary,
    fit,
    make_optimizer,
    strategy_scope,
)
from mnist_tui.engine.jobs.specs import CnnSpec

STEM = (64, 6)          # (filters, kernel) of the stride-2 convolution the image enters
STAGES = ((64,), (128,))  # 3×3 convolutions per resolution after the stem; max-pool between
KERNEL = 3
DENSE_UNITS = 256       # a hidden dense layer (→ batch norm → ReLU) before the dropout; 0 = none
MIN_POOL_SIZE = 6       # pool only while the image is at least this wide (8×8 digits: never)
SHIFT = 0.1             # random translation, as a fraction of the image size
SHIFT_INTERPOLATION = "nearest"  # whole-pixel shifts: no blur the test images never have
ROTATION = 0.0          # random rotation, ± degrees (0 = off; measured worse at ~10 epochs)
ZOOM = 0.0              # random zoom, ± fraction (0 = off; likewise)
LABEL_SMOOTHING = 0.1
WEIGHT_DECAY = 0.05     # decoupled (AdamW-style) decay of the kernels, times the learning rate
WARMUP = 0.15           # fraction of the steps the learning rate warms up over (then cosine → 0)
WARMUP_START = 0.1      # the warm-up starts at this fraction of --lr
BN_WINDOW = 0.02, 2, 10  # batch-norm moving statistics average over ~2% of the run's steps,
                         # at least 2 and at most 10 (momentum 0.9): a run of a few dozen
                         # steps would otherwise evaluate with statistics of its first steps
PRECISION = "auto"      # auto | float32 | mixed_bfloat16 (auto: bfloat16 where the CPU has it)
EVAL_BATCH = 512


def choose_precision(rt: KerasRuntime) -> tuple[str, str]:
    """(Keras dtype policy, why): mixed bfloat16 only where it is native and fast.

    oneDNN runs TensorFlow's bfloat16 convolutions on AVX512-BF16/AMX about 25% faster here than
    float32; without those instructions (or without oneDNN) bfloat16 is emulated and slower,
    and GPUs keep float32 (the mirrored strategy is for them). JAX and PyTorch on a CPU keep
    float32: their bfloat16 speed was never measured here.
    """
    if PRECISION != "auto":
        return PRECISION, "set in cnn.PRECISION"
    if rt.gpus:
        return "float32", "GPU"
    if rt.tf is None:
        return "float32", f"bfloat16 is used only on TensorFlow's oneDNN, not {rt.framework}"
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() in ("0", "false"):
        return "float32", "oneDNN is off"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return "float32", "CPU features unknown"
    if re.search(r"\b(avx512_bf16|amx_bf16)\b", cpuinfo):
        return "mixed_bfloat16", "the CPU computes bfloat16 natively"
    return "float32", "the CPU has no native bfloat16"


@functools.cache
def fused_batch_norm_class(keras: Any, tf: Any) -> Any:
    """Keras' BatchNormalization computed with TensorFlow's fused kernel.

    Keras 3 composes batch normalisation from separate ops (moments, then scale and shift, in
    float32 even under bfloat16), which cost about a quarter of this model's training step on
    CPU; `FusedBatchNormV3` (oneDNN) does it in one pass, forward and backward. Same weights and
    config as `BatchNormalization`, so a trained model copies into a plain-Keras one
    (`build_model(..., fused=False)`) to be evaluated and saved.
    """

    # Keras is untyped (Any), which --strict refuses as a base class
    class FusedBatchNormalization(keras.layers.BatchNormalization):  # type: ignore[misc]
        def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
            if (mask is not None or self.renorm or self.synchronized or len(inputs.shape) != 4
                    or self.axis not in (-1, 3) or not (self.scale and self.center)):
                return super().call(inputs, training=training, mask=mask)
            if training and self.trainable:
                y, mean, var = tf.compat.v1.nn.fused_batch_norm(
                    inputs, self.gamma, self.beta, epsilon=self.epsilon, is_training=True)[:3]
                m = self.momentum
                self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
                self.moving_variance.assign(self.moving_variance * m + var * (1.0 - m))
                return y
            return tf.compat.v1.nn.fused_batch_norm(
                inputs, self.gamma, self.beta, mean=self.moving_mean,
                variance=self.moving_variance, epsilon=self.epsilon, is_training=False)[0]

    return FusedBatchNormalization


def bn_momentum(steps: int) -> float:
    share, low, high = BN_WINDOW
    return 1.0 - 1.0 / min(max(share * steps, low), high)


def build_model(keras: Any, shape: tuple[int, int], spec: CnnSpec, precision: str = "float32",
                fused: bool = True, steps: int = 10_000) -> Any:
    """The model; `fused` (TensorFlow only) with TensorFlow's fused batch norm."""
    L = keras.layers
    if fused:
        import tensorflow as tf
        BatchNorm = fused_batch_norm_class(keras, tf)
    else:
        BatchNorm = L.BatchNormalization
    dt = precision
    momentum = round(bn_momentum(steps), 6)

    def conv_bn_relu(x: Any, filters: int, kernel: int, name: str, strides: int = 1) -> Any:
        x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                     name=name, dtype=dt)(x)
        x = BatchNorm(momentum=momentum, name=name + "_bn", dtype=dt)(x)
        return L.Activation("relu", name=name + "_relu", dtype=dt)(x)

    inp = keras.Input((*shape, 1), name="image")
    x = L.Rescaling(1 / 255.0, name="scale")(inp)
    if ROTATION:
        x = L.RandomRotation(ROTATION / 360.0, fill_mode="constant", seed=spec.seed,
                             name="rotate")(x)
    if ZOOM:
        x = L.RandomZoom(ZOOM, fill_mode="constant", seed=spec.seed + 1, name="zoom")(x)
    if SHIFT:
        x = L.RandomTranslation(SHIFT, SHIFT, fill_mode="constant",
                                interpolation=SHIFT_INTERPOLATION, seed=spec.seed + 2,
                                name="shift")(x)
    size = min(shape)
    if STEM:
        x = conv_bn_relu(x, STEM[0], STEM[1], "stem", strides=2)
        size = -(-size // 2)
    for s, stage in enumerate(STAGES):
        if s and size >= MIN_POOL_SIZE:
            x = L.MaxPooling2D(2, name=f"pool{s}", dtype=dt)(x)
            size //= 2
        for j, filters in enumerate(stage):
            x = conv_bn_relu(x, filters, KERNEL,
                             f"conv{s + 1}" + (f"_{j + 1}" if len(stage) > 1 else ""))
    x = L.Flatten(name="flatten", dtype=dt)(x)
    if DENSE_UNITS:
        x = L.Dense(DENSE_UNITS, use_bias=False, name="dense", dtype=dt)(x)
        x = BatchNorm(momentum=momentum, name="dense_bn", dtype=dt)(x)
        x = L.Activation("relu", name="dense_relu", dtype=dt)(x)
    x = L.Dropout(spec.dropout, name="dropout", dtype=dt)(x)
    out = L.Dense(10, activation="softmax", name="predictions", dtype="float32")(x)
    return keras.Model(inp, out, name="cnn")


def without_autotune(tf: Any, ds: Any) -> Any:
    """`ds` with tf.data's autotuning off (fixed parallelism and prefetch instead).

    Measured here (TF 2.21, 2 cores): Keras makes a new iterator every epoch, and destroying
    one waits for its autotuning thread to wake from a timed sleep that grows to tens of
    seconds, so epochs of ~20 s of work took ~40 s, at random, with the CPU idle.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def lr_schedule(keras: Any, spec: CnnSpec, steps: int) -> Any:
    """Linear warm-up from WARMUP_START×lr to lr over WARMUP of the steps, then cosine to 0."""
    warm = int(WARMUP * steps)
    return keras.optimizers.schedules.CosineDecay(
        spec.lr * WARMUP_START, max(steps - warm, 1), alpha=0.0,
        warmup_target=spec.lr if warm else None, warmup_steps=warm)


def run(spec: CnnSpec, dataset: Dataset, ctx: JobContext) -> dict[str, Any]:
    rt = import_keras(spec.backend, ctx)
    keras, tf = rt.keras, rt.tf
    keras.utils.set_random_seed(spec.seed)
    plan = plan_data(spec, dataset)
    log_plan(ctx, plan, dataset)
    shape = dataset.image_shape
    precision, why = choose_precision(rt)
    ctx.log(f"precision: {precision} ({why})")
    fused = tf is not None      # TensorFlow's fused kernel; Keras' own layer elsewhere

    scope, strategy = strategy_scope(rt, spec, ctx)
    with scope, ctx.phase("building", "building and compiling the model"):
        steps = -(-len(plan.train_idx) // spec.batch_size) * spec.epochs
        model = build_model(keras, shape, spec, precision, fused=fused, steps=steps)
        compile_on_jax(rt, model)
        optimizer = make_optimizer(keras, spec, lr_schedule(keras, spec, steps))
        if WEIGHT_DECAY:
            optimizer.weight_decay = WEIGHT_DECAY
            optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
        model.compile(optimizer=optimizer,
                      loss=keras.losses.CategoricalCrossentropy(
                          label_smoothing=LABEL_SMOOTHING),
                      metrics=["accuracy"])
    counts = emit_summary(ctx, model)

    ident = lambda x: x
    train_ds = image_batches(rt, plan.train_images, plan.train_labels, spec.batch_size, ident,
                             shuffle_seed=spec.seed)
    val_ds = (image_batches(rt, plan.val_images, plan.val_labels, EVAL_BATCH, ident)
              if len(plan.val_idx) else None)
    if tf is not None:
        train_ds = without_autotune(tf, train_ds)
        val_ds = without_autotune(tf, val_ds) if val_ds is not None else None
    history = fit(rt, model, ctx, spec, train_ds, val_ds, len(plan.train_idx))

    # Evaluated and saved as plain Keras (same weights): model.keras loads without this module.
    if fused:
        plain = build_model(keras, shape, spec, precision, fused=False, steps=steps)
        plain.set_weights(model.get_weights())
    else:
        plain = model
    out, model_file = evaluate(rt, ctx, plain, plan, EVAL_BATCH, ident)

    stem = f"{STEM[1]}×{STEM[1]}/2 stem {STEM[0]}, " if STEM else ""
    stages = " | pool | ".join("-".join(str(f) for f in st) for st in STAGES)
    augment = ", ".join(a for a in (
        f"rotation ±{ROTATION:g}°" if ROTATION else "", f"zoom ±{ZOOM:.0%}" if ZOOM else "",
        f"shifts ±{SHIFT:.0%} ({SHIFT_INTERPOLATION})" if SHIFT else "") if a) or "none"
    return {
        **out,
        "history": history,
        "n_samples": plan.n_samples,
        "details": {
            "input_size": list(shape),
            "model_input": f"{shape[0]}×{shape[1]}×1 grey 0–255 (the model rescales to 0–1)",
            "architecture": f"{stem}conv{KERNEL}×{KERNEL} {stages} (each conv → batch norm → "
                            f"ReLU), flatten, " + (f"dense {DENSE_UNITS} (batch norm, ReLU), "
                                                  if DENSE_UNITS else "")
                            + f"dropout, dense 10; augmentation: {augment}; "
                            f"label smoothing {LABEL_SMOOTHING:g}; weight decay "
                            f"{WEIGHT_DECAY:g}; lr warm-up {WARMUP:.0%} then cosine to 0",
            "precision": f"{precision} ({why})",
            "backend": rt.describe(),
            # whether Keras compiled the training step with XLA (JAX: it must, see
            # keras_train.compile_on_jax; TensorFlow runs a tf.function graph either way)
            "jit_compile": bool(model.jit_compile),
            **run_details(plan, counts, strategy, model_file),
        },
    }
