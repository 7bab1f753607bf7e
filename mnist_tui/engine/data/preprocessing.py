"""Label-free image preprocessing for the clustering job.

Deskewing is the classic moment-based correction: shear each digit so that its principal axis is
vertical and its centre of mass sits at the image centre. Slanted 1s, 4s and 9s stop looking
alike, which is what makes the t-SNE clusters separate reliably (it uses no labels).
"""

from __future__ import annotations

import numpy as np


def deskew(images: np.ndarray) -> np.ndarray:
    """(N, H, W) uint8 → (N, H, W) float32 in 0–1, each image sheared upright and centred."""
    from scipy import ndimage

    imgs = images.astype(np.float32) / 255.0
    n, h, w = imgs.shape
    out = np.empty_like(imgs)
    rows, cols = np.mgrid[:h, :w].astype(np.float32)
    centre = np.array([(h - 1) / 2, (w - 1) / 2], np.float32)
    totals = imgs.sum(axis=(1, 2))
    for i in range(n):
        im, tot = imgs[i], totals[i]
        if tot <= 0:
            out[i] = im
            continue
        mr = (rows * im).sum() / tot
        mc = (cols * im).sum() / tot
        var_r = (((rows - mr) ** 2) * im).sum() / tot
        cov = (((rows - mr) * (cols - mc)) * im).sum() / tot
        alpha = cov / var_r if var_r > 0 else 0.0
        shear = np.array([[1, 0], [alpha, 1]], np.float32)
        offset = np.array([mr, mc], np.float32) - shear @ centre
        out[i] = ndimage.affine_transform(im, shear, offset=offset, order=1)
    return out
