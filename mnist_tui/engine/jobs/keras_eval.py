"""Scoring and keeping a trained Keras model: predictions over the evaluation images, metrics,
the confusion matrix, misclassified images, health warnings, predictions.npz and model.keras,
and the `details` every classifier job reports.

A module of its own because it is what turns probabilities into the result a run records (and
the warnings a reader must see), whatever trained the model; it depends on the data plan
(`keras_data`) but on nothing of training.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from mnist_tui.engine.jobs.context import JobContext
from mnist_tui.engine.jobs.events import Progress, Throttle
from mnist_tui.engine.jobs.keras_data import DataPlan, input_batches
from mnist_tui.engine.jobs.keras_runtime import KerasRuntime
from mnist_tui.engine.jobs.keras_train import PROGRESS_PER_SECOND
from mnist_tui.engine.jobs.metrics import classification_metrics

MISCLASSIFIED_CAP = 500


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


def predictor(rt: KerasRuntime, model: Any) -> Callable[[Any], np.ndarray]:
    """`model` in inference mode, compiled once, as batch → numpy: a tf.function on
    TensorFlow, Keras' own compiled predict step (jit on JAX, no_grad on PyTorch) elsewhere."""
    if rt.tf is not None:
        infer = rt.tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        return lambda x: infer(x).numpy()
    return lambda x: np.asarray(rt.keras.ops.convert_to_numpy(model.predict_on_batch(x)))


def evaluate(rt: KerasRuntime, ctx: JobContext, model: Any, plan: DataPlan, batch: int,
             prep: Callable[[Any], Any], message: str = "") -> tuple[dict[str, Any], str | None]:
    """The evaluation phase: stream the eval images through `model` once, score, save it all.

    Returns (metrics/artifacts dict from `evaluate_and_save`, saved model path).
    """
    with ctx.phase("evaluation", plan.eval_split):
        batches = input_batches(rt, plan.eval_images, batch, prep)
        probs = predict_batches(predictor(rt, model), batches, len(plan.eval_idx),
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
