"""A pixel probe: can a linear classifier tell our mocks from real lenses?

Both sets are brought to the same footing first, so the probe cannot win on the survey's depth:
the sky level is subtracted from every cube and mocks get white noise added until their per-band
sky noise equals that of a real lens drawn at random (:func:`~lensfinder_nb.realism.population.match_noise`).
Both sets are also recentred on the lens light (:func:`recentre_on_lens`): the reference cutouts'
centres sit a systematic 0.5-1 pixel from their lenses (a cutout-convention offset, not a property of
the galaxies), and a linear probe separates that from centred mocks by itself.
Features are the central ``crop`` x ``crop`` pixels of g, r and z, asinh-scaled with the real
set's median noise; the classifier is an L2 logistic regression (scikit-learn), scored by
5-fold stratified cross-validation, with the mocks grouped by background (``groups``): a mock
set paints several arcs on one background, and a fold that trains on one copy of a background and
tests on another recognises its exact noise and neighbours, which says nothing about realism
(two sets of mocks from different seeds are told apart with AUC 0.82 without grouping).  AUC 0.5: the
probe cannot tell them apart; 1.0: it always can.
"""

from __future__ import annotations

import numpy as np

from .measure import light_centroid, sky_and_noise
from .population import match_noise

__all__ = ["MAX_RECENTRE_PIX", "recentre_on_lens", "probe_features", "cv_auc", "probe_auc"]

#: a lens is moved by at most this many pixels (farther light is a neighbour, not the lens)
MAX_RECENTRE_PIX = 3.0
#: passes of the centroid (:func:`~lensfinder_nb.realism.measure.light_centroid`): 10 bring it within
#: about 0.1 pixel of a galaxy's centre (3 leave a third of a 1-pixel offset)
RECENTRE_ITERATIONS = 10


def _sky_noise(cubes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pairs = [sky_and_noise(c) for c in cubes]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def recentre_on_lens(cubes: np.ndarray, pixscale_arcsec: float = 0.262) -> np.ndarray:
    """Each cube shifted (sub-pixel, by a phase ramp in Fourier space: the noise keeps its power) so that the
    r-band light centroid within 1" of the centre lands on the central pixel."""
    n, nb, ny, nx = cubes.shape
    ky, kx = np.fft.fftfreq(ny)[:, None], np.fft.fftfreq(nx)[None, :]
    out = np.empty(cubes.shape, np.float32)
    for i, cube in enumerate(cubes):
        c = np.nan_to_num(np.asarray(cube, np.float64))
        sky, _ = sky_and_noise(c)
        cy, cx = light_centroid(c[1] - sky[1], 1.0 / pixscale_arcsec, iterations=RECENTRE_ITERATIONS)
        dy = float(np.clip((ny - 1) / 2 - cy, -MAX_RECENTRE_PIX, MAX_RECENTRE_PIX))
        dx = float(np.clip((nx - 1) / 2 - cx, -MAX_RECENTRE_PIX, MAX_RECENTRE_PIX))
        ramp = np.exp(-2j * np.pi * (ky * dy + kx * dx))
        out[i] = np.real(np.fft.ifft2(np.fft.fft2(c - sky[:, None, None]) * ramp)) + sky[:, None, None]
    return out


def probe_features(cubes: np.ndarray, sky: np.ndarray, scale_nmgy: np.ndarray, crop: int = 32) -> np.ndarray:
    """(n, 3 * crop * crop) features: sky-subtracted central pixels, asinh(flux / (3 scale)) per band."""
    n, _, ny, nx = cubes.shape
    y0, x0 = (ny - crop) // 2, (nx - crop) // 2
    c = np.nan_to_num(cubes[:, :, y0:y0 + crop, x0:x0 + crop].astype(np.float64)) - sky[:, :, None, None]
    return np.arcsinh(c / (3 * np.asarray(scale_nmgy)[None, :, None, None])).reshape(n, -1)


def cv_auc(x: np.ndarray, y: np.ndarray, seed: int = 0, c_reg: float = 0.01, groups=None) -> float:
    """Cross-validated ROC AUC of an L2 logistic regression on features ``x`` (standardised), labels ``y``;
    with ``groups`` (one per row) rows of a group always fall in the same fold."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ..scoring.evaluation import roc_auc

    model = make_pipeline(StandardScaler(), LogisticRegression(C=c_reg, max_iter=2000))
    folds = (StratifiedKFold(5, shuffle=True, random_state=seed) if groups is None
             else StratifiedGroupKFold(5, shuffle=True, random_state=seed))
    p = cross_val_predict(model, x, y, cv=folds, groups=groups, method="predict_proba")[:, 1]
    return float(roc_auc(p, y.astype(int)))


def probe_groups(n_real: int, mock_groups=None, n_mocks: int | None = None) -> np.ndarray | None:
    """Fold groups for mocks then real lenses: the mocks' ``mock_groups`` (e.g. background index), each real
    lens its own; ``None`` when the mocks have no groups."""
    if mock_groups is None:
        return None
    g = np.unique(np.asarray(mock_groups), return_inverse=True)[1]
    return np.r_[g, g.max(initial=-1) + 1 + np.arange(n_real)]


def probe_auc(mocks: np.ndarray, real: np.ndarray, seed: int = 0, crop: int = 32, c_reg: float = 0.01,
              recentre: bool = True, groups=None) -> float:
    """Cross-validated ROC AUC of a logistic regression separating ``mocks`` from ``real`` (both (n, 3, ny, nx));
    ``recentre=False`` keeps the cutouts as they were cut; ``groups``: one per mock (its background), so
    copies of a background stay in one fold."""
    rng = np.random.default_rng(seed)
    sky_r, sig_r = _sky_noise(real)
    sky_m, sig_m = _sky_noise(mocks)
    target = sig_r[rng.integers(0, len(real), len(mocks))]
    mocks = match_noise(mocks, sig_m, target, rng)
    if recentre:
        mocks, real = recentre_on_lens(mocks), recentre_on_lens(real)
    scale = np.median(sig_r, axis=0)
    x = np.concatenate([probe_features(mocks, sky_m, scale, crop), probe_features(real, sky_r, scale, crop)])
    y = np.r_[np.zeros(len(mocks)), np.ones(len(real))]
    return cv_auc(x, y, seed, c_reg, probe_groups(len(real), groups))
