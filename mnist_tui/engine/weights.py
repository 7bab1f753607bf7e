"""Where VGG16's weights come from, checked before anything slow (and without TensorFlow).

Keras would try to download the ImageNet file when it is missing, which hangs offline; the
vgg16 job and the suite preflight both call `resolve_weights` first and fail at once instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from mnist_tui.engine.errors import DataError

IMAGENET_NOTOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"


def keras_home() -> Path:
    """Keras' cache folder, found the way Keras finds it (KERAS_HOME, else ~/.keras or /tmp)."""
    if os.environ.get("KERAS_HOME"):
        return Path(os.environ["KERAS_HOME"])
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return Path(base) / ".keras"


def resolve_weights(weights: str) -> tuple[Path | None, str]:
    """(file to load or None, description). Raises DataError at once, before any download.

    Keras would try to download the ImageNet file when it is missing, which hangs offline;
    we never let it: the file must already be in Keras' cache.
    """
    if weights == "none":
        return None, "none (random initialisation)"
    if weights == "imagenet":
        path = keras_home() / "models" / IMAGENET_NOTOP
        if not path.is_file():
            raise DataError(f"ImageNet weights not found: put {IMAGENET_NOTOP} in "
                            f"{path.parent}/ (Keras' cache; KERAS_HOME moves it), or set weights "
                            "to none (--weights none)")
        return path, f"imagenet ({path})"
    path = Path(weights).expanduser()
    if not path.is_file():
        raise DataError(f"--weights {weights}: no such file")
    with open(path, "rb") as fh:
        head = fh.read(8)
    name = path.name.lower()
    if not (head == HDF5_MAGIC and name.endswith((".h5", ".hdf5"))) and not (
            head[:4] == ZIP_MAGIC and name.endswith(".keras")):
        raise DataError(f"--weights {weights}: not an HDF5 (.h5/.weights.h5) or .keras "
                        "weights file")
    return path, f"file {path}"
