"""Which Keras backend trains a model (`--backend tensorflow|jax|torch`), and what each one can
do, checked before any work.

Keras 3 runs the same models on TensorFlow, JAX or PyTorch; many GPU boxes have one of them and
not the others. This module is light (it never imports a framework): whether a backend is
installed is asked of the import system (`importlib.util.find_spec`), so the batch, the launch
form and a suite's preflight can refuse a run in one line before a worker starts. The worker
itself imports Keras on the chosen backend (`keras_runtime.import_keras`).
"""

from __future__ import annotations

import importlib.util
from typing import Any

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_BACKEND = "tensorflow"
KERAS_BACKEND_ENV = "KERAS_BACKEND"

# backend → (the module that must be importable, its name for people, the extra that installs it)
FRAMEWORKS: dict[str, tuple[str, str, str | None]] = {
    "tensorflow": ("tensorflow", "TensorFlow", None),      # a core dependency
    "jax": ("jax", "JAX", "jax"),
    "torch": ("torch", "PyTorch", "torch"),
}
# where a backend has a data-parallel distribution that --strategy mirrored maps to
STRATEGIES = {"tensorflow": "tf.distribute.MirroredStrategy",
              "jax": "keras.distribution.DataParallel"}


def installed(module: str) -> bool:
    """Whether `module` can be imported here (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def install_hint(backend: str) -> str:
    module, _, extra = FRAMEWORKS[backend]
    return f'pip install -e ".[{extra}]"' if extra else f"pip install {module}"


def missing_message(backend: str) -> str | None:
    """One line when `backend`'s framework is not installed here, else None."""
    module, name, _ = FRAMEWORKS[backend]
    if installed(module):
        return None
    return (f"--backend {backend}: {name} is not installed here ({install_hint(backend)}; "
            "docs/backends.md says how to get its CUDA build)")


def strategy_message(backend: str, strategy: str) -> str | None:
    """One line when `backend` has no distribution for `strategy`, else None."""
    if strategy == "none" or backend in STRATEGIES:
        return None
    return (f"--strategy {strategy}: the {backend} backend has no data-parallel distribution in "
            "Keras; use --backend tensorflow (MirroredStrategy) or --backend jax (Keras' "
            "DataParallel), or --strategy none")


def tensorboard_message(backend: str, tensorboard: str | None) -> str | None:
    """TensorBoard logs are written with TensorFlow's summary writer, under every backend: one
    line when TensorFlow is not installed to write them."""
    if not tensorboard or installed("tensorflow"):
        return None
    return (f"--tensorboard: TensorBoard logs are written with TensorFlow's summary writer, and "
            f"TensorFlow is not installed here (the {backend} backend does not need it): "
            "install tensorflow or drop --tensorboard")


def uses_keras(spec: dict[str, Any]) -> bool:
    """Whether this job (a spec as a dict) imports Keras at all: the classifiers always, t-SNE
    only for the refined preset's self-training rounds."""
    job = spec.get("job")
    if job == "tsne-gmm":
        rounds = spec.get("refine_rounds")
        return isinstance(rounds, int) and rounds > 0
    return job in ("cnn", "vgg16")


def problems(spec: dict[str, Any]) -> dict[str, str]:
    """What this machine lacks for the spec's backend: field → one line (empty when it can run).
    A spec that never imports Keras has none."""
    backend = spec.get("backend", DEFAULT_BACKEND)
    if backend not in FRAMEWORKS or not uses_keras(spec):
        return {}
    out: dict[str, str] = {}
    missing = missing_message(backend)
    if missing:
        out["backend"] = missing
    tb = tensorboard_message(backend, spec.get("tensorboard"))
    if tb:
        out["tensorboard"] = tb
    return out
