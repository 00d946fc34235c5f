"""A pixel probe: can a linear classifier tell our mocks from real lenses?

Both sets are brought to the same footing first, so the probe cannot win on the survey's depth:
the sky level is subtracted from every cube and mocks get white noise added until their per-band
sky noise equals that of a real lens drawn at random (:func:`~lensfinder_nb.realism.population.match_noise`).
Features are the central ``crop`` x ``crop`` pixels of g, r and z, asinh-scaled with the real
set's median noise; the classifier is an L2 logistic regression (scikit-learn), scored by
5-fold stratified cross-validation.  AUC 0.5: the probe cannot tell them apart; 1.0: it always can.
"""

from __future__ import annotations

import numpy as np

from .measure import sky_and_noise
from .population import match_noise

__all__ = ["probe_features", "probe_auc"]


def _sky_noise(cubes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pairs = [sky_and_noise(c) for c in cubes]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def probe_features(cubes: np.ndarray, sky: np.ndarray, scale_nmgy: np.ndarray, crop: int = 32) -> np.ndarray:
    """(n, 3 * crop * crop) features: sky-subtracted central pixels, asinh(flux / (3 scale)) per band."""
    n, _, ny, nx = cubes.shape
    y0, x0 = (ny - crop) // 2, (nx - crop) // 2
    c = np.nan_to_num(cubes[:, :, y0:y0 + crop, x0:x0 + crop].astype(np.float64)) - sky[:, :, None, None]
    return np.arcsinh(c / (3 * np.asarray(scale_nmgy)[None, :, None, None])).reshape(n, -1)


def probe_auc(mocks: np.ndarray, real: np.ndarray, seed: int = 0, crop: int = 32, c_reg: float = 0.01) -> float:
    """Cross-validated ROC AUC of a logistic regression separating ``mocks`` from ``real`` (both (n, 3, ny, nx))."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ..scoring.evaluation import roc_auc

    rng = np.random.default_rng(seed)
    sky_r, sig_r = _sky_noise(real)
    sky_m, sig_m = _sky_noise(mocks)
    target = sig_r[rng.integers(0, len(real), len(mocks))]
    mocks = match_noise(mocks, sig_m, target, rng)
    scale = np.median(sig_r, axis=0)
    x = np.concatenate([probe_features(mocks, sky_m, scale, crop), probe_features(real, sky_r, scale, crop)])
    y = np.r_[np.zeros(len(mocks)), np.ones(len(real))]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c_reg, max_iter=2000))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    p = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc(p, y.astype(int)))
