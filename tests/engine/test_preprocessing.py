"""Deskewing: a slanted stroke comes out upright and centred; blank images pass through."""

from __future__ import annotations

import numpy as np

from mnist_tui.engine.data.preprocessing import deskew


def _moments(im: np.ndarray) -> tuple[float, float, float]:
    r, c = np.mgrid[:im.shape[0], :im.shape[1]]
    tot = im.sum()
    mr, mc = (r * im).sum() / tot, (c * im).sum() / tot
    cov = (((r - mr) * (c - mc)) * im).sum() / tot
    return mr, mc, cov


def test_slanted_stroke_becomes_upright_and_centred():
    img = np.zeros((1, 28, 28), np.uint8)
    for row in range(4, 24):                       # a "/"-like stroke, off centre
        img[0, row, 20 - row // 2: 22 - row // 2] = 255
    before = _moments(img[0].astype(float))
    assert abs(before[2]) > 5                      # clearly slanted
    out = deskew(img)
    assert out.shape == (1, 28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    mr, mc, cov = _moments(out[0])
    assert abs(cov) < 0.5
    assert abs(mr - 13.5) < 0.5 and abs(mc - 13.5) < 0.5


def test_blank_image_and_small_images():
    imgs = np.zeros((2, 8, 8), np.uint8)
    imgs[1, 2:6, 3] = 160
    out = deskew(imgs)
    assert np.all(out[0] == 0)
    assert out[1].sum() > 0 and out.shape == (2, 8, 8)
