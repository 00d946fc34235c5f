"""Measured statistics of lens cutouts, the same way for mocks and for real lenses.

Every function takes cubes in nanomaggies with axis order (band, ny, nx), bands g, r, z, and
measures what a person judging realism looks at: how bright, big and red the lens galaxy is,
how bright, red and complete the arc is compared with it, and what the noise looks like.
Nothing here knows whether a cube is a mock: mocks and real lenses go through the same code.

The arc is measured on the residual after subtracting an elliptical-isophote model of the lens
(the 30th percentile of each elliptical annulus, per band, so an arc covering up to about two
thirds of an annulus stays in the residual; the constant offset this percentile leaves in the
noise is measured on the outer pixels and removed).  A complete, smooth ring is absorbed by such
a model; real rings are clumpy and keep part of their light.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> cube = rng.normal(0, 0.01, (3, 101, 101)).astype(np.float32)
>>> sky, sigma = sky_and_noise(cube)
>>> [round(float(s), 3) for s in sigma]
[0.01, 0.01, 0.01]
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..imaging.survey import PIXSCALE_ARCSEC, ZERO_POINT_MAG

__all__ = ["STATISTICS", "sky_and_noise", "noise_correlation", "light_centroid", "lens_photometry", "arc_residual",
           "moments_shape", "measure_cube", "measure_cubes"]

#: the statistics of :func:`measure_cube`, with their units
STATISTICS = {
    "lens_mag_r": "r magnitude of the lens within 2\" (AB)",
    "lens_g_r": "g - r of the lens within 1.5\" (mag)",
    "lens_r_z": "r - z of the lens within 1.5\" (mag)",
    "lens_r_half_arcsec": "r-band half-light radius within 5\" (arcsec)",
    "lens_centre_r_nmgy": "r flux of the central 11 x 11 pixels (nanomaggies)",
    "arc_lens_ratio": "arc flux / lens flux inside 1.6 theta_E, r+g (ratio)",
    "arc_g_r": "g - r of the arc residual (mag)",
    "arc_r_z": "r - z of the arc residual (mag)",
    "arc_snr": "S/N of the arc residual, g+r+z (sigma)",
    "ring_completeness": "share of 12 azimuthal sectors holding arc light (0-1)",
    "theta_e_arcsec": "Einstein radius: given, or the arc light's mean radius (arcsec)",
    "noise_g": "sky noise per pixel in g (nanomaggies)",
    "noise_r": "sky noise per pixel in r (nanomaggies)",
    "noise_z": "sky noise per pixel in z (nanomaggies)",
    "noise_corr": "lag-1 correlation of the sky noise in r (-1..1)",
}

def _radius_grid(ny: int, nx: int, cy: float, cx: float) -> np.ndarray:
    yy, xx = np.mgrid[0:ny, 0:nx]
    return np.hypot(yy - cy, xx - cx)


def _mag(flux: float) -> float:
    return ZERO_POINT_MAG - 2.5 * math.log10(flux) if flux > 0 else math.nan


def sky_and_noise(cube: np.ndarray, outer_fraction: float = 0.4, clip: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Sky level and noise sigma per band (each shape (band,)) from the outer pixels, sources clipped.

    Pixels farther than ``outer_fraction`` of the width from the centre are used; values beyond
    ``clip`` robust sigmas are dropped three times so neighbours do not inflate the noise.
    """
    c = np.nan_to_num(np.asarray(cube, np.float64))
    nb, ny, nx = c.shape
    outer = _radius_grid(ny, nx, (ny - 1) / 2, (nx - 1) / 2) > outer_fraction * min(ny, nx)
    sky, sigma = np.zeros(nb), np.zeros(nb)
    for b in range(nb):
        v = c[b][outer]
        v = v[v != 0] if np.count_nonzero(v) > 0.5 * v.size else v  # masked (zero) pixels of survey edges
        for _ in range(3):
            med = np.median(v)
            mad = 1.4826 * np.median(np.abs(v - med))
            keep = np.abs(v - med) < clip * max(mad, 1e-12)
            if keep.all():
                break
            v = v[keep]
        sky[b], sigma[b] = np.median(v), 1.4826 * np.median(np.abs(v - np.median(v)))
    return sky, sigma


def noise_correlation(cube: np.ndarray, band: int = 1, outer_fraction: float = 0.4) -> float:
    """Correlation of horizontally and vertically adjacent sky pixels in ``band`` (0 = white noise).

    Only pairs where both pixels lie within 2.5 sigma of the sky are used, so sources do not count.
    """
    sky, sigma = sky_and_noise(cube, outer_fraction)
    img = np.nan_to_num(np.asarray(cube[band], np.float64)) - sky[band]
    ny, nx = img.shape
    outer = _radius_grid(ny, nx, (ny - 1) / 2, (nx - 1) / 2) > outer_fraction * min(ny, nx)
    quiet = outer & (np.abs(img) < 2.5 * sigma[band])
    num, den = 0.0, 0.0
    for a, b, m in ((img[:, :-1], img[:, 1:], quiet[:, :-1] & quiet[:, 1:]),
                    (img[:-1, :], img[1:, :], quiet[:-1, :] & quiet[1:, :])):
        num += float((a[m] * b[m]).sum())
        den += float(0.5 * (a[m] ** 2 + b[m] ** 2).sum())
    return num / den if den > 0 else math.nan


def light_centroid(img: np.ndarray, radius_pix: float, iterations: int = 3) -> tuple[float, float]:
    """(y, x) centroid of the positive light within ``radius_pix``, starting at the image centre and moving the
    aperture onto the centroid ``iterations`` times (each pass removes only part of an offset when the
    galaxy is larger than the aperture: many passes to converge)."""
    ny, nx = img.shape
    cy, cx = (ny - 1) / 2, (nx - 1) / 2
    for _ in range(iterations):
        r = _radius_grid(ny, nx, cy, cx)
        w = np.clip(img, 0, None) * (r <= radius_pix)
        if w.sum() <= 0:
            break
        yy, xx = np.mgrid[0:ny, 0:nx]
        cy, cx = float((w * yy).sum() / w.sum()), float((w * xx).sum() / w.sum())
    return cy, cx


def lens_photometry(cube: np.ndarray, pixscale_arcsec: float = PIXSCALE_ARCSEC) -> dict:
    """Magnitude, colours, half-light radius and central flux of the galaxy at the cutout centre."""
    sky, _ = sky_and_noise(cube)
    c = np.nan_to_num(np.asarray(cube, np.float64)) - sky[:, None, None]
    ny, nx = c.shape[1:]
    cy, cx = light_centroid(c[1], 1.0 / pixscale_arcsec)
    r = _radius_grid(ny, nx, cy, cx) * pixscale_arcsec
    in2, in15, in5 = r <= 2.0, r <= 1.5, r <= 5.0
    flux15 = [float(c[b][in15].sum()) for b in range(3)]
    order = np.argsort(r[in5])
    growth = np.cumsum(c[1][in5][order])
    half = float(r[in5][order][np.searchsorted(growth, growth[-1] / 2)]) if growth[-1] > 0 else math.nan
    m = int(round(cy)), int(round(cx))
    return {"lens_mag_r": _mag(float(c[1][in2].sum())),
            "lens_g_r": _mag(flux15[0]) - _mag(flux15[1]),
            "lens_r_z": _mag(flux15[1]) - _mag(flux15[2]),
            "lens_r_half_arcsec": half,
            "lens_centre_r_nmgy": float(c[1][m[0] - 5:m[0] + 6, m[1] - 5:m[1] + 6].sum()),
            "centre_yx": (cy, cx)}


def moments_shape(img: np.ndarray, cy: float, cx: float, radius_pix: float,
                  min_q: float = 0.3) -> tuple[float, float]:
    """Axis ratio (at least ``min_q``) and position angle (radians from +x towards +y) of the
    positive light within ``radius_pix`` of (cy, cx), from its second moments."""
    ny, nx = img.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    dy, dx = yy - cy, xx - cx
    w = np.clip(img, 0, None) * (np.hypot(dy, dx) <= radius_pix)
    if w.sum() <= 0:
        return 1.0, 0.0
    mxx, myy, mxy = ((w * dx * dx).sum(), (w * dy * dy).sum(), (w * dx * dy).sum())
    tr, det = mxx + myy, mxx * myy - mxy ** 2
    root = math.sqrt(max(tr * tr / 4 - det, 0.0))
    l1, l2 = tr / 2 + root, max(tr / 2 - root, 1e-12)
    return float(np.clip(math.sqrt(l2 / l1), min_q, 1.0)), 0.5 * math.atan2(2 * mxy, mxx - myy)


_ISOPHOTE_QUANTILE = 0.3
#: for Gaussian noise: (30th - 5th percentile) / sigma, and -(30th percentile) / sigma
_LOWER_SPREAD, _NOISE_OFFSET = 1.1209, 0.5244


def arc_residual(cube: np.ndarray, centre_yx: tuple[float, float], pixscale_arcsec: float = PIXSCALE_ARCSEC,
                 annulus_width_pix: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The cube minus an elliptical-isophote model of the central galaxy, and the noise of that residual.

    The model is the 30th percentile of each one-pixel elliptical annulus.  Within an annulus the
    spread of its lower values (30th minus 5th percentile, which an arc covering less than two
    thirds of it does not reach) is the local noise: sky plus the lens's own shot noise and model
    mismatch near a bright centre.  Returns (residual, noise),
    both (band, ny, nx), the residual corrected so that pure noise averages zero.
    """
    sky, sigma = sky_and_noise(cube)
    c = np.nan_to_num(np.asarray(cube, np.float64)) - sky[:, None, None]
    ny, nx = c.shape[1:]
    cy, cx = centre_yx
    q, pa = moments_shape(c[1], cy, cx, 2.0 / pixscale_arcsec)
    yy, xx = np.mgrid[0:ny, 0:nx]
    dy, dx = yy - cy, xx - cx
    u = dx * math.cos(pa) + dy * math.sin(pa)
    v = -dx * math.sin(pa) + dy * math.cos(pa)
    ring = np.floor(np.sqrt(u * u + (v / q) ** 2) / annulus_width_pix).astype(int).ravel()
    order = np.argsort(ring, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(ring[order])) + 1)
    residual, noise = np.empty_like(c), np.empty_like(c)
    for b in range(c.shape[0]):
        flat = c[b].ravel()
        model, spread = np.empty_like(flat), np.empty_like(flat)
        for g in groups:
            q05, q30 = np.quantile(flat[g], [0.05, _ISOPHOTE_QUANTILE])
            s = max((q30 - q05) / _LOWER_SPREAD, sigma[b])
            model[g], spread[g] = q30 + _NOISE_OFFSET * s, s
        residual[b] = (flat - model).reshape(ny, nx)
        noise[b] = spread.reshape(ny, nx)
    return residual, noise


def _smooth3(img: np.ndarray) -> np.ndarray:
    p = np.pad(img, 1, mode="edge")
    return sum(p[i:i + img.shape[0], j:j + img.shape[1]] for i in range(3) for j in range(3)) / 9.0


def _sectors(ny: int, nx: int, cy: float, cx: float, n: int) -> np.ndarray:
    yy, xx = np.mgrid[0:ny, 0:nx]
    return (np.floor((np.arctan2(yy - cy, xx - cx) + math.pi) / (2 * math.pi) * n).astype(int)) % n


def _einstein_radius_guess(snr: np.ndarray, detect: np.ndarray, r_arcsec: np.ndarray, cy: float, cx: float,
                           max_theta_e_arcsec: float) -> float:
    """Where the arc light lies (arcsec): the S/N-weighted mean radius of the detected residual near the
    0.5"-wide ring that has detections in the most of 24 sectors.

    An arc or ring spreads in angle at one radius; a neighbour galaxy is compact in angle, so it
    fills few sectors.  NaN when nothing is detected between 0.6" and ``max_theta_e_arcsec``.
    """
    sectors = _sectors(*detect.shape, cy, cx, 24)
    best, best_cover = math.nan, 1
    for r0 in np.arange(0.6, max_theta_e_arcsec + 1e-9, 0.25):
        ring = detect & (np.abs(r_arcsec - r0) <= 0.25)
        cover = len(np.unique(sectors[ring]))
        if cover > best_cover:
            best, best_cover = float(r0), cover
    if not math.isfinite(best):
        return best
    near = detect & (np.abs(r_arcsec - best) <= 0.75)
    w = np.clip(snr, 0, None) * near
    return float((w * r_arcsec).sum() / w.sum())


def measure_cube(cube: np.ndarray, theta_e_arcsec: float | None = None, pixscale_arcsec: float = PIXSCALE_ARCSEC,
                 max_theta_e_arcsec: float = 4.0) -> dict:
    """All :data:`STATISTICS` of one cube (3, ny, nx).

    ``theta_e_arcsec`` None or NaN: estimated from the residual (:func:`_einstein_radius_guess`, up to
    ``max_theta_e_arcsec``; galaxy scale by default).
    """
    cube = np.asarray(cube)
    sky, sigma = sky_and_noise(cube)
    phot = lens_photometry(cube, pixscale_arcsec)
    cy, cx = phot.pop("centre_yx")
    res, noise = arc_residual(cube, (cy, cx), pixscale_arcsec)
    ny, nx = cube.shape[1:]
    r_pix = _radius_grid(ny, nx, cy, cx)
    # where arc light is: the g+r residual S/N smoothed over 3x3 pixels, above 3 of its own sigmas
    # (measured on the outer pixels, so correlated noise raises the bar as it should)
    gr = _smooth3(res[0] / noise[0] + res[1] / noise[1])
    outer = r_pix > 0.4 * min(ny, nx)
    gr_sigma = 1.4826 * float(np.median(np.abs(gr[outer] - np.median(gr[outer]))))
    detect = gr - np.median(gr[outer]) > 3.0 * max(gr_sigma, 1e-12)
    given = theta_e_arcsec is not None and math.isfinite(float(theta_e_arcsec))
    te = float(theta_e_arcsec) if given else _einstein_radius_guess(gr, detect, r_pix * pixscale_arcsec, cy, cx,
                                                                     max_theta_e_arcsec)
    stats = {**phot, "theta_e_arcsec": te,
             "noise_g": float(sigma[0]), "noise_r": float(sigma[1]), "noise_z": float(sigma[2]),
             "noise_corr": noise_correlation(cube)}
    if not math.isfinite(te):
        return {**stats, "arc_lens_ratio": math.nan, "arc_g_r": math.nan, "arc_r_z": math.nan,
                "arc_snr": 0.0, "ring_completeness": 0.0}
    r_arc = r_pix * pixscale_arcsec
    annulus = (r_arc >= max(0.5 * te, 0.5)) & (r_arc <= 1.6 * te + 0.5)
    arc = annulus & detect
    inner = r_arc <= 1.6 * te + 0.5
    sky_c = np.nan_to_num(np.asarray(cube, np.float64)) - sky[:, None, None]
    lens_flux = float(sky_c[0][inner].sum() + sky_c[1][inner].sum())
    arc_flux = [float(res[b][arc].sum()) for b in range(3)]
    n_arc = int(arc.sum())
    snr = (sum(arc_flux[b] / math.sqrt(float((noise[b][arc] ** 2).sum())) for b in range(3)) / math.sqrt(3)
           if n_arc else 0.0)
    sectors = _sectors(ny, nx, cy, cx, 12)
    counts = np.bincount(sectors[arc], minlength=12) if n_arc else np.zeros(12, int)
    filled = int((counts >= 2).sum())  # two pixels, so a lone noise peak does not fill a sector
    return {**stats,
            "arc_lens_ratio": (arc_flux[0] + arc_flux[1]) / lens_flux if lens_flux > 0 else math.nan,
            "arc_g_r": _mag(arc_flux[0]) - _mag(arc_flux[1]),
            "arc_r_z": _mag(arc_flux[1]) - _mag(arc_flux[2]),
            "arc_snr": float(snr), "ring_completeness": filled / 12.0}


def measure_cubes(cubes, theta_e_arcsec=None, pixscale_arcsec: float = PIXSCALE_ARCSEC,
                  max_theta_e_arcsec: float = 4.0) -> pd.DataFrame:
    """:func:`measure_cube` for each of ``cubes`` (n, 3, ny, nx); one row per cube, columns :data:`STATISTICS`."""
    n = len(cubes)
    te = np.full(n, np.nan) if theta_e_arcsec is None else np.asarray(theta_e_arcsec, float)
    rows = [measure_cube(cubes[k], te[k], pixscale_arcsec, max_theta_e_arcsec) for k in range(n)]
    return pd.DataFrame(rows, columns=list(STATISTICS))
