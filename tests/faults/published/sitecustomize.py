"""Test-only: make files a test made count as "the published files" (see
`fault_helpers.published_env`). Python imports this module at start-up when its folder is on
PYTHONPATH; it does nothing unless MNIST_TUI_FAULTS_PUBLISHED is set.

MNIST_TUI_FAULTS_PUBLISHED is JSON: file name → [hex digest, size, algorithm]. Names of MNIST's
files (mnist.npz, the four IDX files) replace the official MNIST checksums; VGG16's weights
file name replaces Keras' MD5 of it.
"""

import json
import os

_raw = os.environ.get("MNIST_TUI_FAULTS_PUBLISHED")
if _raw:
    from mnist_tui.engine.data import download as _dl
    from mnist_tui.engine.data import weights as _w

    _specs = {name: _dl.FileSpec(digest, size, algorithm)
              for name, (digest, size, algorithm) in json.loads(_raw).items()}
    if _dl.NPZ_NAME in _specs:
        _dl.KERAS_NPZ = _specs[_dl.NPZ_NAME]
    _dl.IDX_FILES = {name: _specs.get(name, spec) for name, spec in _dl.IDX_FILES.items()}
    _dl.DEFAULT_MIRRORS = (_dl.npz_mirror(_dl.KERAS_NPZ_URL),
                           *(_dl.idx_mirror(m.url) for m in _dl.DEFAULT_MIRRORS[1:]))
    if _w.IMAGENET_NOTOP in _specs:
        _w.IMAGENET_FILE = _specs[_w.IMAGENET_NOTOP]
