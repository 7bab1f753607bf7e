"""Job specs: validated dataclasses, their presets, and the metadata that builds CLI flags and forms.

A spec is the whole, exact description of a run: it is saved as the run's spec record
(`runs.records`) and can be re-run byte for byte. Each field carries its help, choices and
bounds in its metadata, so the command line (`--flag` per field), the TUI's launch form and
`validate()` share one source of truth. This module is light: no numpy, no scikit-learn, no
TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from mnist_tui.engine.errors import SpecError
from mnist_tui.engine.jobs.backends import BACKENDS, DEFAULT_BACKEND, strategy_message

SPLITS = ("auto", "all", "train", "test")


def opt(default: Any, help: str, *, kind: type = str, choices: tuple[Any, ...] | None = None,
        minimum: float | None = None, maximum: float | None = None,
        optional: bool = False, off: str | None = None) -> Any:
    """A spec field. `optional` fields accept `none`; `off` names the value that means "off" (e.g. 0)."""
    return field(default=default, metadata={
        "help": help, "kind": kind, "choices": choices, "minimum": minimum, "maximum": maximum,
        "optional": optional, "off": off,
    })


@dataclass
class JobSpec:
    """Fields every job has: which data, how much of it, and the seed."""

    job: ClassVar[str] = ""
    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    preset: str = opt("default", "preset the other values start from")
    dataset: str = opt("auto", "auto: MNIST if it can be had, else the bundled digits; "
                       "mnist: never fall back; digits: scikit-learn's 8×8 digits",
                       choices=("auto", "mnist", "digits"))
    data_dir: str | None = opt(None, "folder (or mnist.npz) with local MNIST files",
                               optional=True)
    split: str = opt("all", "which split to sample from (all = every split the data has; "
                     "auto = all; a split the data lacks is an error)", choices=SPLITS)
    samples: int | None = opt(None, "at most this many images (none = every image of the "
                              "split: all 70,000 of MNIST)",
                              kind=int, minimum=20, optional=True)
    subset_seed: int = opt(0, "seed that picks which images are used (kept apart from --seed "
                           "so that several seeds can run on the same images)",
                           kind=int, minimum=0, maximum=2**32 - 1)
    seed: int = opt(0, "random seed of the algorithm (initialisation, restarts)",
                    kind=int, minimum=0, maximum=2**32 - 1)

    # -- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"job": self.job, **dataclasses.asdict(self)}

    # -- validation ------------------------------------------------------------------------
    def problems(self) -> dict[str, str]:
        """Every bad field → one message. Empty when the spec is valid."""
        out: dict[str, str] = {}
        for f in fields(self):
            msg = _check_field(f, getattr(self, f.name))
            if msg:
                out[f.name] = msg
        if "preset" not in out and self.preset not in self.presets:
            out["preset"] = (f"unknown preset {_short(self.preset)} (choose from "
                             f"{', '.join(self.presets)})")
        if self.dataset == "digits" and self.data_dir:
            out.setdefault("data_dir", "--data-dir reads MNIST files; it cannot be used with "
                                       "--dataset digits")
        if not out:  # cross-checks assume every field already has a valid type
            out.update(self.cross_checks())
        return out

    def cross_checks(self) -> dict[str, str]:
        """Checks between fields, for subclasses."""
        return {}

    def validate(self) -> JobSpec:
        problems = self.problems()
        if problems:
            name, msg = next(iter(problems.items()))
            raise SpecError(f"--{flag_name(name)}: {msg}")
        return self


@dataclass
class TsneGmmSpec(JobSpec):
    """t-SNE (optionally after PCA) → Gaussian mixture → clusters mapped to digits."""

    job: ClassVar[str] = "tsne-gmm"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "default": {},
        # The reference notebook: 3-D t-SNE on raw pixels, a 10-component GMM with one init.
        # (--upsample 224 adds its 224×224×3 upscaling for a fully faithful, slow run.)
        "seed": {"samples": 4800, "deskew": False, "pca": None, "tsne_backend": "sklearn",
                 "components": 3,
                 "perplexity": 30.0, "iterations": 1000, "exaggeration": None,
                 "gmm_inits": 1, "covariance": "full"},
        # The default clustering, then self-training rounds (jobs/refine.py): still no labels.
        "refined": {"refine_rounds": 1},
    }

    upsample: int | None = opt(None, "resize to N×N RGB before clustering, as the notebook did "
                               "(224 reproduces it; slow and memory-hungry)",
                               kind=int, minimum=8, maximum=256, optional=True, off="0")
    deskew: bool = opt(True, "straighten slanted digits first (moment-based shear; uses no "
                       "labels; skipped for images under 16 px)", kind=bool)
    pca: int | None = opt(50, "reduce to N principal components before t-SNE (0 = off)",
                          kind=int, minimum=2, maximum=1000, optional=True, off="0")
    tsne_backend: str = opt("opentsne", "t-SNE implementation: opentsne (FFT-accelerated, "
                            "live snapshots) or sklearn (the notebook's)",
                            choices=("opentsne", "sklearn"))
    components: int = opt(2, "t-SNE output dimensions", kind=int, choices=(2, 3))
    perplexity: float = opt(30.0, "t-SNE perplexity", kind=float, minimum=2.0, maximum=500.0)
    iterations: int = opt(500, "t-SNE iterations in all, early exaggeration included (opentsne: "
                          "the first half, at most 250; sklearn: always 250)",
                          kind=int, minimum=260, maximum=10000)
    exaggeration: float | None = opt(2.0, "t-SNE exaggeration after the early phase "
                                     "(tighter clusters; none = 1)", kind=float,
                                     minimum=1.0, maximum=12.0, optional=True)
    gmm_components: int = opt(10, "Gaussian mixture components (clusters)", kind=int,
                              minimum=2, maximum=100)
    covariance: str = opt("full", "GMM covariance type",
                          choices=("full", "tied", "diag", "spherical"))
    gmm_inits: int = opt(10, "GMM restarts; the best by likelihood is kept (no labels used)",
                         kind=int, minimum=1, maximum=200)
    refine_rounds: int = opt(0, "self-training rounds after clustering: a small CNN trained on "
                             "each cluster's most confident images relabels every image (no "
                             "labels used; 0 = off)", kind=int, minimum=0, maximum=5)
    refine_epochs: int | None = opt(None, "epochs of each self-training round (none = auto: "
                                    "3 for 70,000 images, 8 for 10,000)", kind=int, minimum=1,
                                    maximum=50, optional=True)
    refine_trust: float = opt(0.5, "self-training trains first on the images whose cluster "
                              "holds at least this share of their neighbourhood", kind=float,
                              minimum=0.0, maximum=1.0)
    refine_folds: int = opt(1, "self-training folds: each image is relabelled by a model that "
                            "never trained on it (1 = one model for all)", kind=int, minimum=1,
                            maximum=5)
    backend: str = opt(DEFAULT_BACKEND, "Keras backend of the self-training rounds "
                       "(--refine-rounds): tensorflow, jax or torch", choices=BACKENDS)

    def cross_checks(self) -> dict[str, str]:
        out = {}
        if self.samples is not None and self.perplexity * 3 >= self.samples:
            out["perplexity"] = (f"perplexity {self.perplexity:g} is too large for "
                                 f"{self.samples} samples (needs 3×perplexity < samples)")
        if self.samples is not None and self.gmm_components > self.samples:
            out["gmm_components"] = "more clusters than samples"
        return out


@dataclass
class SupervisedSpec(JobSpec):
    """What every classifier job shares: the split of the data, the optimiser and the training loop.

    The standard protocol by default (split auto): train on the dataset's whole train split, with
    --val-fraction of it kept for validation, and score on its whole test split. --samples and
    --eval-samples only cap those. When training draws from another split (or the data has no
    train split), accuracy is measured on the images of that pool not chosen for training (held
    out). Accuracy is only ever measured on images the model never trained on.
    """

    split: str = opt("auto", "which split to train on (auto = the train split if the data has "
                     "one, scored on the test split; all = every split, scored on held-out "
                     "images; a split the data lacks is an error)", choices=SPLITS)
    val_fraction: float = opt(0.2, "fraction of the chosen images kept for validation",
                              kind=float, minimum=0.0, maximum=0.9)
    eval_samples: int | None = opt(None, "at most this many images to score on (none = all of "
                                   "them: the whole test split)", kind=int, minimum=10,
                                   optional=True)
    epochs: int = opt(10, "training epochs", kind=int, minimum=1, maximum=1000)
    batch_size: int = opt(32, "batch size", kind=int, minimum=1, maximum=8192)
    optimizer: str = opt("adam", "optimiser", choices=("adam", "adagrad", "sgd"))
    lr: float = opt(0.001, "learning rate", kind=float, minimum=1e-7, maximum=10.0)
    dropout: float = opt(0.5, "dropout before the output layer", kind=float, minimum=0.0,
                         maximum=0.95)
    tensorboard: str | None = opt(None, "also write TensorBoard logs under this folder",
                                  optional=True)
    strategy: str = opt("none", "none, or mirrored: data-parallel over every GPU of this "
                        "machine (TensorFlow: MirroredStrategy; JAX: Keras' DataParallel; "
                        "torch: none)", choices=("none", "mirrored"))
    backend: str = opt(DEFAULT_BACKEND, "Keras backend that trains and scores the model: "
                       "tensorflow, jax or torch (the [jax] and [torch] extras install the "
                       "last two)", choices=BACKENDS)

    def cross_checks(self) -> dict[str, str]:
        out = {}
        strategy = strategy_message(self.backend, self.strategy)
        if strategy:
            out["strategy"] = strategy
        if self.samples is not None:
            n_train = int(self.samples * (1 - self.val_fraction))
            if self.batch_size > n_train:
                out["batch_size"] = (f"batch size {self.batch_size} is larger than the "
                                     f"{n_train} training images")
        return out


@dataclass
class Vgg16Spec(SupervisedSpec):
    """VGG16 transfer learning: a frozen ImageNet base, Flatten → Dense → Dropout → Dense(10)."""

    job: ClassVar[str] = "vgg16"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "default": {},
        # The reference notebook: 10% of the training set (6,000 images), 80/20 train/validation,
        # 224×224 RGB fed 0–1 without preprocess_input, the base re-run every epoch, 10 epochs.
        "seed": {"samples": 6000, "input_size": 224, "preprocess": "seed",
                 "weights": "imagenet", "feature_cache": False, "optimizer": "adam",
                 "lr": 0.001, "epochs": 10, "batch_size": 32, "head_units": 128,
                 "head_norm": False, "input_dropout": 0.0, "lr_schedule": "constant",
                 "dropout": 0.5, "fine_tune": False, "feature_layer": "block5_pool"},
    }

    samples: int | None = opt(None, "at most this many images to train and validate on "
                              "(none = the whole train split)", kind=int, minimum=20,
                              optional=True)
    input_size: int = opt(64, "images are resized to N×N RGB on the fly (VGG16 needs ≥ 32)",
                          kind=int, minimum=32, maximum=224)
    preprocess: str = opt("vgg", "vgg: keras' vgg16.preprocess_input (0–255 RGB → BGR minus "
                          "ImageNet means, what the weights expect); seed: the notebook's 0–1 "
                          "input without it", choices=("vgg", "seed"))
    weights: str = opt("imagenet", "imagenet (Keras' own file, downloaded once into Keras' "
                       "cache on first use), none (random), or a path to a "
                       ".h5/.keras/.weights.h5 file")
    feature_cache: bool = opt(True, "compute the frozen base's features once and train the "
                              "head on them (off: re-run the base every epoch, as the notebook)",
                              kind=bool)
    head_units: int = opt(512, "width of the dense layer of the head (the notebook's: 128)",
                          kind=int, minimum=1, maximum=8192)
    input_dropout: float = opt(0.2, "dropout on the base's features at the head's input",
                               kind=float, minimum=0.0, maximum=0.95)
    lr_schedule: str = opt("cosine", "learning rate: constant, or cosine-decayed from --lr to 0 "
                           "over the run", choices=("constant", "cosine"))
    head_norm: bool = opt(True, "standardise the base's features at the head's input with "
                          "statistics of the training features (the notebook's head has none)",
                          kind=bool)
    fine_tune: bool = opt(False, "also train the last convolution block (turns the feature "
                          "cache off)", kind=bool)
    feature_layer: str = opt("auto", "the VGG16 layer that feeds the head: auto = block3_pool "
                             "with --weights none (random deep blocks only lose information: "
                             "0.946 → 0.975 test at 32×32), block5_pool otherwise",
                             choices=("auto", "block5_pool", "block4_pool", "block3_pool"))

    def cross_checks(self) -> dict[str, str]:
        out = super().cross_checks()
        if self.fine_tune and self.feature_layer not in ("auto", "block5_pool"):
            out["feature_layer"] = ("--fine-tune trains block 5: it needs --feature-layer "
                                    "block5_pool (or auto)")
        return out


@dataclass
class CnnSpec(SupervisedSpec):
    """A small CNN on the native 28×28 input: the strong, simple baseline."""

    job: ClassVar[str] = "cnn"
    presets: ClassVar[dict[str, dict[str, Any]]] = {"default": {}, "seed": {}}

    samples: int | None = opt(None, "at most this many images to train and validate on "
                              "(none = the whole train split)", kind=int, minimum=20,
                              optional=True)
    val_fraction: float = opt(0.1, "fraction of the chosen images kept for validation",
                              kind=float, minimum=0.0, maximum=0.9)
    epochs: int = opt(9, "training epochs", kind=int, minimum=1, maximum=1000)
    batch_size: int = opt(64, "batch size", kind=int, minimum=1, maximum=8192)
    lr: float = opt(0.003, "peak learning rate (warmed up over the first 15% of the steps, "
                    "then cosine-decayed to 0)", kind=float, minimum=1e-7, maximum=10.0)
    dropout: float = opt(0.3, "dropout before the output layer", kind=float, minimum=0.0,
                         maximum=0.95)


SPEC_CLASSES: dict[str, type[JobSpec]] = {cls.job: cls for cls in (TsneGmmSpec, Vgg16Spec,
                                                                    CnnSpec)}
JOB_NAMES = tuple(SPEC_CLASSES)


def flag_name(field_name: str) -> str:
    return field_name.replace("_", "-")


def spec_fields(job: str) -> list[dataclasses.Field[Any]]:
    return list(fields(SPEC_CLASSES[job]))


def build_spec(job: str, preset: str = "default", overrides: dict[str, Any] | None = None,
               ) -> JobSpec:
    """A spec from a preset plus explicit overrides (already typed), validated."""
    cls = _spec_class(job)
    if preset not in cls.presets:
        raise SpecError(f"--preset: unknown preset {preset!r} for {job} "
                        f"(choose from {', '.join(cls.presets)})")
    values = {**cls.presets[preset], **(overrides or {}), "preset": preset}
    return _construct(cls, values).validate()


def spec_from_dict(data: object) -> JobSpec:
    """Rebuild a saved spec exactly (a run's spec record, --config): every key must be known."""
    if not isinstance(data, dict) or "job" not in data:
        raise SpecError("a spec must be a JSON object with a \"job\" key")
    data = dict(data)
    cls = _spec_class(str(data.pop("job")))
    return _construct(cls, data).validate()


def parse_value(f: dataclasses.Field[Any], text: str) -> Any:
    """A field's value from text (CLI flag, form input); SpecError with a one-line reason."""
    meta = f.metadata
    text = text.strip()
    if meta["optional"] and (text.lower() in ("none", "") or text == meta["off"]):
        return None
    kind = meta["kind"]
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise SpecError(f"--{flag_name(f.name)}: expected yes or no, got {text!r}")
    try:
        return kind(text) if kind is not int else int(text, 10)
    except ValueError:
        what = {int: "an integer", float: "a number"}.get(kind, "text")
        raise SpecError(f"--{flag_name(f.name)}: expected {what}, got {text!r}") from None


def _spec_class(job: str) -> type[JobSpec]:
    try:
        return SPEC_CLASSES[job]
    except (KeyError, TypeError):   # TypeError: not even a string (`{"job": []}`)
        raise SpecError(f"unknown job {job!r} (choose from {', '.join(JOB_NAMES)})") from None


def _construct(cls: type[JobSpec], values: dict[str, Any]) -> JobSpec:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SpecError(f"{cls.job}: unknown setting(s) {', '.join(unknown)}")
    return cls(**values)


MAX_TEXT = 4096   # PATH_MAX on Linux: no text field of a spec has a reason to be longer


def _short(value: Any, limit: int = 60) -> str:
    """A value for an error line: its repr, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 1]}… ({len(text):,} characters)"


def _check_field(f: dataclasses.Field[Any], value: Any) -> str | None:
    meta = f.metadata
    if not meta:
        return None
    if value is None:
        return None if meta["optional"] else "a value is required"
    kind = meta["kind"]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        return f"expected an integer, got {value!r}"
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected a number, got {value!r}"
        if not math.isfinite(value):
            return f"expected a finite number, got {value!r}"
    if kind is bool and not isinstance(value, bool):
        return f"expected true or false, got {value!r}"
    if kind is str and not isinstance(value, str):
        return f"expected text, got {_short(value)}"
    if kind is str and len(value) > MAX_TEXT:
        # a path the system could not open anyway, and a worker command line it could not start
        return f"{len(value):,} characters is too long (at most {MAX_TEXT:,})"
    if meta["choices"] is not None and value not in meta["choices"]:
        return f"{_short(value)} is not one of {', '.join(map(str, meta['choices']))}"
    if meta["minimum"] is not None and value < meta["minimum"]:
        return f"must be at least {meta['minimum']:g}, got {value!r}"
    if meta["maximum"] is not None and value > meta["maximum"]:
        return f"must be at most {meta['maximum']:g}, got {value!r}"
    return None
