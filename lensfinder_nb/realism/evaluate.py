"""The machine measured on real lenses: recall at a fixed false-positive rate, by image separation.

The threshold is set on *negatives the product has*: the score above which only ``fpr`` (1 %) of
the demo's non-lens unknowns lie.  Real lenses above it count as recovered; their ROC AUC is
computed against the same negatives, per image-separation bin (:data:`SEPARATION_BINS`).

Real galaxies that are not lenses are scarce offline.  :func:`recentred_neighbours` makes some from
the fields of real lenses: a bright galaxy far from the lens is brought to the centre by a cyclic
shift, so the lens ends up at the edge of the cutout.  They are real light and real noise without a
lens at the centre; the wrap seam is a caveat.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..scoring.evaluation import roc_auc
from .measure import sky_and_noise
from .reference import SEPARATION_BINS

__all__ = ["threshold_at_fpr", "recall_by_separation", "recentred_neighbours"]


def threshold_at_fpr(negative_scores: np.ndarray, fpr: float = 0.01) -> float:
    """The score that only a fraction ``fpr`` of ``negative_scores`` exceed.

    >>> threshold_at_fpr(np.arange(100) / 100, 0.05)    # 0.95 ... 0.99, five of the 100, lie above it
    0.94
    """
    neg = np.sort(np.asarray(negative_scores, float))[::-1]
    return float(neg[int(math.floor(fpr * len(neg)))])


def recall_by_separation(lens_scores: np.ndarray, image_sep_arcsec: np.ndarray, negative_scores: np.ndarray,
                         fpr: float = 0.01, bins=SEPARATION_BINS) -> pd.DataFrame:
    """One row per separation bin (and one for unknown separations, one for all): n, recovered,
    recall at the ``fpr`` threshold of ``negative_scores``, and ROC AUC against them."""
    t = threshold_at_fpr(negative_scores, fpr)
    scores = np.asarray(lens_scores, float)
    sep = np.asarray(image_sep_arcsec, float)
    neg = np.asarray(negative_scores, float)
    groups = [(f"{lo:g}-{hi:g}\"" if math.isfinite(hi) else f">={lo:g}\"", (sep >= lo) & (sep < hi))
              for lo, hi in bins]
    groups += [("unknown", ~np.isfinite(sep)), ("all", np.ones(len(sep), bool))]
    rows = []
    for name, sel in groups:
        s = scores[sel]
        y = np.r_[np.ones(len(s), int), np.zeros(len(neg), int)]
        rows.append({"separation": name, "n": int(sel.sum()), "recovered": int((s > t).sum()),
                     "recall": float((s > t).mean()) if len(s) else math.nan,
                     "auc": roc_auc(np.r_[s, neg], y) if len(s) else math.nan, "threshold": t})
    return pd.DataFrame(rows)


def recentred_neighbours(cubes: np.ndarray, min_offset_pix: int = 38, min_snr: float = 40.0) -> np.ndarray:
    """For each cube, its brightest source at least ``min_offset_pix`` from the centre, brought to the
    centre by a cyclic shift (n_found, 3, ny, nx); cubes without such a source give none."""
    out = []
    for cube in cubes:
        sky, sigma = sky_and_noise(cube)
        r = np.nan_to_num(cube[1]) - sky[1]
        ny, nx = r.shape
        yy, xx = np.mgrid[0:ny, 0:nx]
        far = np.hypot(yy - (ny - 1) / 2, xx - (nx - 1) / 2) >= min_offset_pix
        edge = (yy >= 3) & (yy < ny - 3) & (xx >= 3) & (xx < nx - 3)
        peak = np.where(far & edge, r, -np.inf)
        k = int(np.argmax(peak))
        if peak.flat[k] < min_snr * sigma[1]:
            continue
        py, px = divmod(k, nx)
        out.append(np.roll(cube, ((ny - 1) // 2 - py, (nx - 1) // 2 - px), axis=(1, 2)))
    return np.stack(out) if out else np.empty((0, *cubes.shape[1:]), np.float32)
