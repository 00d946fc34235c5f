"""Radial light profiles of the central galaxy, and a probe that sees only them.

The pixel probe (:mod:`~lensfinder_nb.realism.probe`) may separate mocks from real lenses by
anything: the lens light, the arc, the neighbours, the noise.  These functions narrow it down.
:func:`radial_profiles` averages each band in circular annuli about the cutout centre (recentre the
cubes on the lens first: :func:`~lensfinder_nb.realism.probe.recentre_on_lens`) after the sky is subtracted;
:func:`normalised_profiles` divides by the flux inside a radius, so the *shape* of the light is
compared and not its brightness; :func:`radial_probe_auc` is the pixel probe on annular means
instead of pixels (azimuthal structure, such as arcs and neighbours, averaged away); and
:func:`corner_probe_auc` is the pixel probe on the four corners of the cutout, which hold mostly
sky: what it separates is noise texture (depth, correlation) and field density, not the lens.
"""

from __future__ import annotations

import numpy as np

from .measure import sky_and_noise
from .population import match_noise
from .probe import cv_auc, probe_groups, recentre_on_lens

__all__ = ["RADII_ARCSEC", "radial_profiles", "normalised_profiles", "concentration", "matched_sets",
           "radial_probe_auc", "corner_probe_auc"]

#: annulus edges (arcsec) of the profiles: one pixel wide in the core, wider outside
RADII_ARCSEC = np.array([0.0, 0.262, 0.52, 0.79, 1.05, 1.31, 1.57, 2.0, 2.5, 3.0, 3.7, 4.5, 5.5, 6.5])


def _sky_noise(cubes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pairs = [sky_and_noise(c) for c in cubes]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def radial_profiles(cubes: np.ndarray, edges_arcsec=RADII_ARCSEC, pixscale_arcsec: float = 0.262) -> np.ndarray:
    """(n, band, len(edges) - 1) mean sky-subtracted flux per pixel in annuli about the cutout centre."""
    n, nb, ny, nx = cubes.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    r = np.hypot(yy - (ny - 1) / 2, xx - (nx - 1) / 2) * pixscale_arcsec
    which = np.digitize(r, edges_arcsec) - 1
    inside = (which >= 0) & (which < len(edges_arcsec) - 1)
    idx, counts = which[inside], np.bincount(which[inside], minlength=len(edges_arcsec) - 1)
    sky, _ = _sky_noise(cubes)
    c = np.nan_to_num(cubes.astype(np.float64)) - sky[:, :, None, None]
    flat = c[:, :, inside]  # (n, band, pixels)
    out = np.zeros((n, nb, len(edges_arcsec) - 1))
    for k in range(len(edges_arcsec) - 1):
        out[:, :, k] = flat[:, :, idx == k].sum(axis=2) / max(counts[k], 1)
    return out


def normalised_profiles(profiles: np.ndarray, edges_arcsec=RADII_ARCSEC, norm_arcsec: float = 4.5) -> np.ndarray:
    """Profiles divided by each cube's flux inside ``norm_arcsec`` (per band): the light's shape."""
    edges = np.asarray(edges_arcsec)
    area = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2)
    within = edges[1:] <= norm_arcsec + 1e-9
    total = (profiles[:, :, within] * area[within]).sum(axis=2, keepdims=True)
    return profiles / np.where(total > 0, total, np.nan)


def concentration(profiles: np.ndarray, edges_arcsec=RADII_ARCSEC, inner_arcsec: float = 1.05,
                  outer_arcsec: float = 4.5) -> np.ndarray:
    """(n, band) flux inside ``inner_arcsec`` over flux inside ``outer_arcsec`` (a light concentration)."""
    edges = np.asarray(edges_arcsec)
    flux = profiles * np.pi * (edges[1:] ** 2 - edges[:-1] ** 2)
    inner = flux[:, :, edges[1:] <= inner_arcsec + 1e-9].sum(axis=2)
    outer = flux[:, :, edges[1:] <= outer_arcsec + 1e-9].sum(axis=2)
    return inner / np.where(outer > 0, outer, np.nan)


def matched_sets(mocks: np.ndarray, real: np.ndarray, seed: int = 0) -> np.ndarray:
    """The mocks with white noise added so each has the per-band sky noise of a random real lens
    (as the pixel probe does)."""
    rng = np.random.default_rng(seed)
    _, sig_r = _sky_noise(real)
    _, sig_m = _sky_noise(mocks)
    return match_noise(mocks, sig_m, sig_r[rng.integers(0, len(real), len(mocks))], rng)


def _scale(real: np.ndarray) -> np.ndarray:
    return np.median(_sky_noise(real)[1], axis=0)


def radial_probe_auc(mocks: np.ndarray, real: np.ndarray, seed: int = 0, c_reg: float = 0.01,
                     normalise: bool = False, recentre: bool = True, groups=None) -> float:
    """Cross-validated AUC of a logistic regression on annular means (asinh-scaled, per band), noise matched.

    With ``normalise`` the profiles are divided by their flux inside 4.5" first: only the shape counts.
    With ``recentre`` (as the pixel probe) the annuli are centred on the lens light, not the cutout;
    ``groups`` as for :func:`~lensfinder_nb.realism.probe.probe_auc`.
    """
    m = matched_sets(mocks, real, seed)
    if recentre:
        m, real = recentre_on_lens(m), recentre_on_lens(real)
    scale = _scale(real)[None, :, None]
    feats = []
    for cubes in (m, real):
        p = radial_profiles(cubes)
        p = normalised_profiles(p) * 100 if normalise else np.arcsinh(p / (3 * scale) * 10)
        feats.append(np.nan_to_num(p).reshape(len(cubes), -1))
    y = np.r_[np.zeros(len(m)), np.ones(len(real))]
    return cv_auc(np.concatenate(feats), y, seed, c_reg, probe_groups(len(real), groups))


def corner_probe_auc(mocks: np.ndarray, real: np.ndarray, seed: int = 0, corner: int = 16,
                     c_reg: float = 0.01, groups=None) -> float:
    """The pixel probe on the four ``corner`` x ``corner`` corners of each cutout (mostly sky), noise matched."""
    m = matched_sets(mocks, real, seed)
    scale = _scale(real)[None, :, None, None]
    feats = []
    for cubes in (m, real):
        sky, _ = _sky_noise(cubes)
        c = np.nan_to_num(cubes.astype(np.float64)) - sky[:, :, None, None]
        k = corner
        parts = [c[:, :, :k, :k], c[:, :, :k, -k:], c[:, :, -k:, :k], c[:, :, -k:, -k:]]
        feats.append(np.arcsinh(np.concatenate(parts, axis=2) / (3 * scale)).reshape(len(cubes), -1))
    y = np.r_[np.zeros(len(m)), np.ones(len(real))]
    return cv_auc(np.concatenate(feats), y, seed, c_reg, probe_groups(len(real), groups))
