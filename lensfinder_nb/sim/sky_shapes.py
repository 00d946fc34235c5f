"""Unit-flux shapes of the synthetic sky's light components, evaluated on a field's pixel grid.

Each ``_shape_<profile>(rows, xx, yy)`` takes the component rows of a
:func:`~lensfinder_nb.sim.sky_draw.draw_fields` table and the pixel grids (ny, nx) and returns
float32 images (component, ny, nx) of total flux 1 (in pixels, FITS orientation).  Galaxies are
Sersic profiles of :mod:`lensfinder_nb.imaging.sersic` (the mock sources' convention); rings,
arcs, spirals and trails are simple analytic shapes; spikes and bleed trails are added after the
PSF, stars are Moffat PSFs.
"""

from __future__ import annotations

import numpy as np

from ..imaging.sersic import circularised_radius, sersic_unit_flux
from ..imaging.survey import PIXSCALE_ARCSEC

__all__ = ["CONVOLVED", "UNCONVOLVED", "moffat"]

#: softening (pixels^2) of a Sersic profile's centre: the pixel, not the cusp, at the centre
_CORE_PX2 = 0.1


def _get(rows, col):
    return rows[col].to_numpy(np.float32)[:, None, None]


def _elliptical(rows, xx, yy):
    """Offsets along the major axis (u) and the minor axis scaled to a circle (v / q), in pixels."""
    dx, dy = xx[None] - _get(rows, "x_pix"), yy[None] - _get(rows, "y_pix")
    pa = np.radians(_get(rows, "pa_deg"))
    u = -dx * np.sin(pa) + dy * np.cos(pa)
    v = (dx * np.cos(pa) + dy * np.sin(pa)) / np.maximum(_get(rows, "q"), 0.05)
    return u, v


def _shape_sersic(rows, xx, yy):
    """The table's ``r_e_arcsec`` is along the major axis and ``pa_deg`` east of north (from +y)."""
    q = np.maximum(rows["q"].to_numpy(float), 0.05)
    r_e_major = np.maximum(rows["r_e_arcsec"].to_numpy(float) / PIXSCALE_ARCSEC, 0.3) * PIXSCALE_ARCSEC

    def col(v):
        return np.asarray(v, float)[:, None, None]

    pix = np.float32(PIXSCALE_ARCSEC)
    return sersic_unit_flux(
        xx * pix, yy * pix, x0_arcsec=col(rows["x_pix"].to_numpy(float) * PIXSCALE_ARCSEC),
        y0_arcsec=col(rows["y_pix"].to_numpy(float) * PIXSCALE_ARCSEC),
        r_e_arcsec=col(circularised_radius(r_e_major, q)), n_sersic=col(rows["n_sersic"].to_numpy(float)), q=col(q),
        phi_rad=col(np.radians(rows["pa_deg"].to_numpy(float) + 90.0)),  # major axis from +x
        pixel_area_arcsec2=PIXSCALE_ARCSEC ** 2, core_arcsec=col(np.sqrt(_CORE_PX2 * q) * PIXSCALE_ARCSEC))


def _normalised(img):
    return img / np.maximum(img.sum(axis=(1, 2), keepdims=True), np.float32(1e-12))


def _shape_ring(rows, xx, yy):
    u, v = _elliptical(rows, xx, yy)
    r = np.sqrt(u * u + v * v)
    radius = _get(rows, "radius_arcsec") / PIXSCALE_ARCSEC
    width = _get(rows, "width_arcsec") / PIXSCALE_ARCSEC
    clumps = 1 + _get(rows, "amp") * np.cos(_get(rows, "n_arms") * np.arctan2(v, u) + np.radians(_get(rows, "phi_deg")))
    return _normalised(np.exp(-0.5 * ((r - radius) / width) ** 2) * clumps)


def _shape_arc(rows, xx, yy):
    dx, dy = xx[None] - _get(rows, "x_pix"), yy[None] - _get(rows, "y_pix")
    radius = _get(rows, "radius_arcsec") / PIXSCALE_ARCSEC
    rho = np.sqrt(dx * dx + dy * dy)
    dphi = np.angle(np.exp(1j * (np.arctan2(dy, dx) - np.radians(_get(rows, "phi_deg"))))).astype(np.float32)
    length = _get(rows, "length_arcsec") / PIXSCALE_ARCSEC
    width = _get(rows, "width_arcsec") / PIXSCALE_ARCSEC
    return _normalised(np.exp(-0.5 * ((rho - radius) / width) ** 2 - 0.5 * (radius * dphi / length) ** 2))


def _shape_spiral(rows, xx, yy):
    u, v = _elliptical(rows, xx, yy)
    h = _get(rows, "radius_arcsec") / PIXSCALE_ARCSEC
    r = np.sqrt(u * u + v * v) + 0.5
    phase = np.arctan2(v, u) - np.log(r / h) / np.tan(np.radians(_get(rows, "pitch_deg")))
    arms = np.maximum(np.cos(_get(rows, "n_arms") * phase + np.radians(_get(rows, "phi_deg"))), 0) ** 3
    return _normalised(np.exp(-r / h) * arms * (1 - np.exp(-(r / (0.8 * h)) ** 2)))


def _shape_trail(rows, xx, yy):
    dx, dy = xx[None] - _get(rows, "x_pix"), yy[None] - _get(rows, "y_pix")
    pa = np.radians(_get(rows, "pa_deg"))
    d = dx * np.cos(pa) + dy * np.sin(pa)
    width = _get(rows, "width_arcsec") / PIXSCALE_ARCSEC
    return _normalised(np.exp(-0.5 * (d / width) ** 2))


def _shape_spikes(rows, xx, yy):
    dx, dy = xx[None] - _get(rows, "x_pix"), yy[None] - _get(rows, "y_pix")
    pa = np.radians(_get(rows, "pa_deg"))
    length = _get(rows, "length_arcsec") / PIXSCALE_ARCSEC
    img = np.zeros(np.broadcast_shapes(dx.shape, pa.shape), np.float32)
    for turn in (0.0, np.pi / 2):
        a = pa + np.float32(turn)
        across = dx * np.cos(a) + dy * np.sin(a)
        along = -dx * np.sin(a) + dy * np.cos(a)
        img += np.exp(-0.5 * (across / 0.7) ** 2) / (1 + (along / length) ** 2)
    return _normalised(img)


def _shape_bleed(rows, xx, yy):
    dx, dy = xx[None] - _get(rows, "x_pix"), yy[None] - _get(rows, "y_pix")
    length = _get(rows, "length_arcsec") / PIXSCALE_ARCSEC
    return _normalised(np.exp(-0.5 * (dx / 0.8) ** 4 - 0.5 * (dy / length) ** 4))


#: profiles seen through the atmosphere (convolved with the field's PSF), by ``profile`` name
CONVOLVED = {"sersic": _shape_sersic, "ring": _shape_ring, "arc": _shape_arc, "spiral": _shape_spiral,
             "trail": _shape_trail}
#: detector effects, added after the PSF
UNCONVOLVED = {"spikes": _shape_spikes, "bleed": _shape_bleed}


def moffat(x_pix: float, y_pix: float, fwhm_pix, xx, yy, beta: float = 3.5) -> np.ndarray:
    """Unit-flux Moffat PSFs of shape (band, ny, nx) centred on (x_pix, y_pix), FWHMs (band,) in pixels."""
    alpha = (np.asarray(fwhm_pix, np.float32) / (2 * np.sqrt(2 ** (1 / beta) - 1)))[:, None, None]
    r2 = (xx - np.float32(x_pix)) ** 2 + (yy - np.float32(y_pix)) ** 2
    return ((beta - 1) / (np.pi * alpha ** 2) * (1 + r2[None] / alpha ** 2) ** (-beta)).astype(np.float32)
