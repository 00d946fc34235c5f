"""The automatic start of a fit when nobody has modelled a subject yet.

From the cube alone, the same way for mocks and real cutouts:

* lens centre: the light-weighted centroid of the r-band within 1" of the cutout centre
  (:func:`~lensfinder_nb.realism.measure.lens_photometry`);
* lens light and mass shape: axis ratio and position angle from the r-band second moments within 2";
  the mass starts with the light's shape, no shear; the light's R_e starts at the r-band half-light
  radius within 5" (:func:`~lensfinder_nb.realism.measure.lens_photometry`, clipped to 0.3-5");
* Einstein radius: the S/N-weighted mean radius of the light in the colour-subtracted image
  ``g - k r`` (``k`` the lens's own g/r flux ratio within 0.5"), which removes the red lens galaxy (and
  red neighbours) without a model of its profile and keeps the blue arcs (:func:`colour_theta_e`);
  pixels of smoothed S/N above 5 between 0.5" and ``max_theta_e_arcsec``; 1.5" when there are none.
  (Until 2026-12-04 it was the radius of the residual after an elliptical-isophote model of the lens,
  :func:`~lensfinder_nb.realism.measure.measure_cube`: 1.3-2x too large on mocks, because lens-light
  residuals and neighbours entered it; see docs/modelling.md);
* source: 10 % of theta_E from the lens centre towards the brighter side of the arc light (the
  brighter image of a source lies on its side), a 0.3" exponential disc.
"""

from __future__ import annotations

import math

import numpy as np

from ..imaging.survey import PIXSCALE_ARCSEC
from ..realism.measure import arc_residual, lens_photometry, moments_shape, sky_and_noise
from .model import DEFAULT_MODEL, checked_model

__all__ = ["automatic_guess", "colour_theta_e", "neighbour_mask", "bright_companions", "ARC_ZONE_ARCSEC",
           "BRIGHT_SPOT_SNR", "LENS_CONTRAST"]


def colour_theta_e(cube: np.ndarray, centre_yx: tuple[float, float], pixscale_arcsec: float = PIXSCALE_ARCSEC,
                   max_radius_arcsec: float = 4.0, min_radius_arcsec: float = 0.5) -> float:
    """The S/N-weighted mean radius (arcsec) of the light in ``g - k r`` (k: the g/r flux ratio within
    0.5" of ``centre_yx``) smoothed by one pixel, over pixels of S/N above 5 (of the smoothed image) between
    ``min_radius_arcsec`` and ``max_radius_arcsec`` (weights S/N - 5); NaN when there are none."""
    from scipy import ndimage as ndi

    cube = np.nan_to_num(np.asarray(cube, np.float64))
    sky, sigma = sky_and_noise(cube)
    g, r = cube[0] - sky[0], cube[1] - sky[1]
    ny, nx = g.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    radius = np.hypot(xx - centre_yx[1], yy - centre_yx[0]) * pixscale_arcsec
    core = radius < 0.5  # small: at 1" the blue arcs of a small lens would enter the lens's colour
    k = float(g[core].sum() / r[core].sum()) if r[core].sum() > 0 else 0.0
    noise = math.hypot(float(sigma[0]), k * float(sigma[1]))
    # a Gaussian of 1 pixel sums about 2 sqrt(pi) pixels of independent noise: S/N scales by that
    snr = ndi.gaussian_filter((g - k * r) / noise, 1.0) * 2.0 * math.sqrt(math.pi)
    w = np.clip(snr - 5.0, 0.0, None) * ((radius > min_radius_arcsec) & (radius < max_radius_arcsec))
    return float((w * radius).sum() / w.sum()) if w.sum() > 0 else math.nan


def automatic_guess(cube: np.ndarray, pixscale_arcsec: float = PIXSCALE_ARCSEC,
                    max_theta_e_arcsec: float = 4.0) -> dict[str, float]:
    """A full starting model (:data:`~lensfinder_nb.modelling.model.MODEL_KEYS`) for a cube (3, ny, nx)
    in nanomaggies, bands g, r, z; see the module docstring for how each value is found."""
    cube = np.asarray(cube, np.float64)
    ny, nx = cube.shape[1:]
    sky, _ = sky_and_noise(cube)
    r_band = np.nan_to_num(cube[1]) - sky[1]
    phot = lens_photometry(cube, pixscale_arcsec)
    cy, cx = phot["centre_yx"]
    # the light's size starts the lens-light fit near its answer (a 1" default is 2-3x off for big lenses)
    r_half = phot["lens_r_half_arcsec"]
    light_r_e = float(np.clip(r_half, 0.3, 5.0)) if math.isfinite(r_half) else DEFAULT_MODEL["light_r_e_arcsec"]
    q, phi = moments_shape(r_band, cy, cx, 2.0 / pixscale_arcsec, min_q=0.4)
    phi %= math.pi
    te = colour_theta_e(cube, (cy, cx), pixscale_arcsec, max_theta_e_arcsec)
    if not math.isfinite(te):
        te = DEFAULT_MODEL["theta_e_arcsec"]
    lx, ly = (cx - (nx - 1) / 2) * pixscale_arcsec, (cy - (ny - 1) / 2) * pixscale_arcsec
    res, noise = arc_residual(cube, (cy, cx), pixscale_arcsec)
    yy, xx = np.mgrid[0:ny, 0:nx]
    dx, dy = (xx - cx) * pixscale_arcsec, (yy - cy) * pixscale_arcsec
    ring = np.abs(np.hypot(dx, dy) - te) <= max(0.4 * te, 0.5)
    w = np.clip((res[0] / noise[0] + res[1] / noise[1]) - 3.0, 0, None) * ring
    ux = uy = 0.0
    if w.sum() > 0:
        mx, my = float((w * dx).sum() / w.sum()), float((w * dy).sum() / w.sum())
        norm = math.hypot(mx, my)
        if norm > 0:
            ux, uy = mx / norm, my / norm
    beta = 0.1 * te if (ux or uy) else DEFAULT_MODEL["src_x_arcsec"]
    if not (ux or uy):
        ux = 1.0
    return checked_model({"theta_e_arcsec": float(te), "lens_q": q, "lens_phi_rad": phi,
                          "lens_x_arcsec": float(lx), "lens_y_arcsec": float(ly),
                          "src_x_arcsec": float(lx + beta * ux), "src_y_arcsec": float(ly + beta * uy),
                          "light_q": q, "light_phi_rad": phi, "light_r_e_arcsec": light_r_e})


#: arcs of a galaxy-scale lens lie within this radius of its centre (the mocks' theta_E prior ends at 3.2")
ARC_ZONE_ARCSEC = 4.0


def neighbour_mask(cube: np.ndarray, pixscale_arcsec: float = PIXSCALE_ARCSEC,
                   arc_zone_arcsec: float = ARC_ZONE_ARCSEC) -> np.ndarray:
    """Pixels a fit should use (True) in a cube (3, ny, nx): False on light that is neither the lens nor
    its arcs, i.e. the connected patches of the lens-subtracted g + r residual (S/N > 2.5 after a
    1-pixel smoothing) whose S/N-weighted mean radius lies beyond ``arc_zone_arcsec``, and the parts
    beyond it of patches that reach into it, grown by two pixels."""
    from scipy import ndimage as ndi

    cube = np.asarray(cube, np.float64)
    cy, cx = lens_photometry(cube, pixscale_arcsec)["centre_yx"]
    res, noise = arc_residual(cube, (cy, cx), pixscale_arcsec)
    snr = ndi.gaussian_filter(res[0] / noise[0] + res[1] / noise[1], 1.0)
    labels, n = ndi.label(snr > 2.5)
    ny, nx = snr.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    r = np.hypot(xx - cx, yy - cy) * pixscale_arcsec
    weight = np.clip(snr, 0, None)
    idx = np.arange(1, n + 1)
    total = ndi.sum(weight, labels, idx)
    mean_r = ndi.sum(weight * r, labels, idx) / np.maximum(total, 1e-12)
    far = np.zeros(n + 1, bool)
    far[1:] = mean_r > arc_zone_arcsec
    bad = far[labels] | ((labels > 0) & (r > arc_zone_arcsec + 0.5))
    return ~ndi.binary_dilation(bad, iterations=2)


#: the smoothed g + r S/N (above the lens's light) that no arc of the mock population reaches at its
#: brightest pixel: 99th percentile 32, maximum 34 over 184 mocks of arc S/N >= 20 (seed 303; lensing keeps
#: the surface brightness of sources of r 23-26), while satellites and blended neighbours 1-4" from the lens
#: exceed it in about a fifth of fields
BRIGHT_SPOT_SNR = 40.0
#: a bright spot must also exceed this fraction of the lens's own light at its radius (where the lens is
#: bright, its small departures from ellipses exceed the threshold too)
LENS_CONTRAST = 0.5


def bright_companions(cube: np.ndarray, pixscale_arcsec: float = PIXSCALE_ARCSEC,
                      arc_zone_arcsec: float = ARC_ZONE_ARCSEC) -> list[tuple[float, float]]:
    """Compact spots between 0.8" and the arc zone's edge brighter than any arc: satellites and blended
    neighbours, for a fit to model with their own light (x, y arcsec from the cutout centre, brightest
    first).  Local maxima of the g + r residual after the lens's elliptical-isophote model
    (:func:`~lensfinder_nb.realism.measure.arc_residual`, which arcs covering part of a ring do not
    enter), in units of the sky noise and smoothed by one pixel, above :data:`BRIGHT_SPOT_SNR` and
    :data:`LENS_CONTRAST` x the lens's light there."""
    from scipy import ndimage as ndi

    cube = np.nan_to_num(np.asarray(cube, np.float64))
    sky, sigma = sky_and_noise(cube)
    cy, cx = lens_photometry(cube, pixscale_arcsec)["centre_yx"]
    # the lens's elliptical-isophote model of realism.measure, in units of the sky noise
    res, _ = arc_residual(cube, (cy, cx), pixscale_arcsec)
    lens_light = sum((cube[b] - sky[b] - res[b]) / sigma[b] for b in (0, 1))
    excess = ndi.gaussian_filter(res[0] / sigma[0] + res[1] / sigma[1], 1.0)
    excess = np.where(excess > LENS_CONTRAST * np.clip(ndi.gaussian_filter(lens_light, 1.0), 0, None), excess, 0.0)
    ny, nx = excess.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    r = np.hypot(xx - cx, yy - cy) * pixscale_arcsec
    peaks = ((excess == ndi.maximum_filter(excess, size=5)) & (excess > BRIGHT_SPOT_SNR) & (r > 0.8)
             & (r < arc_zone_arcsec + 0.5))
    ys, xs = np.nonzero(peaks)
    order = np.argsort(-excess[ys, xs])
    return [(float((xs[k] - (nx - 1) / 2) * pixscale_arcsec), float((ys[k] - (ny - 1) / 2) * pixscale_arcsec))
            for k in order]
