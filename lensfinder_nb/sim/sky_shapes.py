"""Unit-flux shapes of the synthetic sky's light components, evaluated on a field's pixel grid.

Each ``_shape_<profile>(rows, xx, yy)`` takes the component rows of a
:func:`~lensfinder_nb.sim.sky_draw.draw_fields` table and the pixel grids (ny, nx) and returns
float32 images (component, ny, nx) of total flux 1 (in pixels, FITS orientation).  Galaxies are
Sersic profiles of :mod:`lensfinder_nb.imaging.sersic` (the mock sources' convention); rings,
arcs, spirals and trails are simple analytic shapes; spikes, bleed trails and ghosts are added
after the PSF.  Stars are a Moffat core with a faint, broad Moffat aureole (:func:`star_psf`).

Most components are small: :func:`sersic_extent_px` and :func:`star_extent_px` say how far from
its centre a component's light matters, so the renderer can paint it on a small stamp instead of
the whole field.
"""

from __future__ import annotations

import numpy as np

from ..imaging.sersic import circularised_radius, sersic_amplitude, sersic_b_n, sersic_unit_flux
from ..imaging.survey import PIXSCALE_ARCSEC

__all__ = ["CONVOLVED", "UNCONVOLVED", "STAR_BETA", "AUREOLE_SHARE", "moffat", "star_psf", "sersic_extent_px",
           "star_extent_px", "sersic_on_stamps"]

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
    """The table's ``r_e_arcsec`` is along the major axis and ``pa_deg`` east of north (from +y).

    ``xx``, ``yy`` are the field's grids (ny, nx) or per-component stamps (k, 1, s) and (k, s, 1).
    """
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


def _shape_ghost(rows, xx, yy):
    """An out-of-focus reflection: a soft-edged ring filled at half its brightness."""
    dx, dy = xx[None] - _get(rows, "x_pix"), yy[None] - _get(rows, "y_pix")
    r = np.sqrt(dx * dx + dy * dy)
    radius = _get(rows, "radius_arcsec") / PIXSCALE_ARCSEC
    soft = _get(rows, "width_arcsec") / PIXSCALE_ARCSEC
    disc = 1 / (1 + np.exp((r - radius) / soft))
    rim = np.exp(-0.5 * ((r - 0.85 * radius) / soft) ** 2)
    return _normalised(0.5 * disc + rim)


def _shape_bleed(rows, xx, yy):
    dx, dy = xx[None] - _get(rows, "x_pix"), yy[None] - _get(rows, "y_pix")
    length = _get(rows, "length_arcsec") / PIXSCALE_ARCSEC
    return _normalised(np.exp(-0.5 * (dx / 0.8) ** 4 - 0.5 * (dy / length) ** 4))


#: profiles seen through the atmosphere (convolved with the field's PSF), by ``profile`` name
CONVOLVED = {"sersic": _shape_sersic, "ring": _shape_ring, "arc": _shape_arc, "spiral": _shape_spiral,
             "trail": _shape_trail}
#: detector effects, added after the PSF
UNCONVOLVED = {"spikes": _shape_spikes, "bleed": _shape_bleed, "ghost": _shape_ghost}

#: Moffat index of a star's core; DECam PSFs have wings a Gaussian lacks
STAR_BETA = 3.0
#: share of a star's flux in a broad aureole (Moffat, beta 2, 2.5 times the FWHM)
AUREOLE_SHARE = 0.05
_AUREOLE_WIDTH = 2.5
_AUREOLE_BETA = 2.0


def _moffat_alpha(fwhm_pix, beta: float):
    return np.asarray(fwhm_pix, np.float32) / np.float32(2 * np.sqrt(2 ** (1 / beta) - 1))


def moffat(x_pix, y_pix, fwhm_pix, xx, yy, beta: float = STAR_BETA) -> np.ndarray:
    """Unit-flux Moffat profiles centred on (x_pix, y_pix), sampled at (xx, yy) (pixels).

    ``fwhm_pix`` broadcasts against the grids, e.g. (band, 1, 1) with grids (ny, nx) gives
    (band, ny, nx); (k, band, 1, 1) with stamps (k, 1, 1, s) and (k, 1, s, 1) gives (k, band, s, s).
    """
    alpha = _moffat_alpha(fwhm_pix, beta)
    r2 = (xx - np.float32(x_pix)) ** 2 + (yy - np.float32(y_pix)) ** 2
    return ((beta - 1) / (np.pi * alpha ** 2) * (1 + r2 / alpha ** 2) ** (-beta)).astype(np.float32)


def star_psf(x_pix, y_pix, fwhm_pix, xx, yy) -> np.ndarray:
    """A star's unit-flux image: a Moffat core (FWHM = the seeing) and a faint broad aureole."""
    core = moffat(x_pix, y_pix, fwhm_pix, xx, yy, STAR_BETA)
    halo = moffat(x_pix, y_pix, np.asarray(fwhm_pix, np.float32) * np.float32(_AUREOLE_WIDTH), xx, yy, _AUREOLE_BETA)
    return np.float32(1 - AUREOLE_SHARE) * core + np.float32(AUREOLE_SHARE) * halo


def star_extent_px(peak_flux, fwhm_pix, floor) -> np.ndarray:
    """Radius (pixels) beyond which a star of total flux ``peak_flux`` falls below ``floor`` per pixel.

    The aureole's r^-4 wing decides it for bright stars, the core for faint ones.
    """
    flux = np.asarray(peak_flux, float)
    out = np.zeros_like(flux)
    for share, width, beta in ((1 - AUREOLE_SHARE, 1.0, STAR_BETA), (AUREOLE_SHARE, _AUREOLE_WIDTH, _AUREOLE_BETA)):
        alpha = np.asarray(_moffat_alpha(np.asarray(fwhm_pix, float) * width, beta), float)
        peak = share * flux * (beta - 1) / (np.pi * alpha ** 2)
        ratio = np.maximum(peak / floor, 1.0)
        out = np.maximum(out, alpha * np.sqrt(np.maximum(ratio ** (1 / beta) - 1, 0.0)))
    return out


def sersic_extent_px(rows, flux=None, floor: float = 0.0) -> np.ndarray:
    """Radius (pixels) along the major axis beyond which a Sersic component's light does not matter.

    At most the radius holding nearly all the light (~99 % within 4 R_e for n <= 1.5, ~97 % within
    7 R_e for n <= 2.5, 11 R_e above); with ``flux`` (total, per component) and ``floor`` (per pixel),
    no farther than where the surface brightness drops below ``floor``: a faint galaxy's wings far
    below the sky noise are left out.
    """
    r_e = np.maximum(rows["r_e_arcsec"].to_numpy(float) / PIXSCALE_ARCSEC, 0.3)
    n = rows["n_sersic"].to_numpy(float)
    reach = r_e * np.where(n <= 1.5, 4.0, np.where(n <= 2.5, 7.0, 11.0))
    if flux is not None and floor > 0:
        q = np.clip(rows["q"].to_numpy(float), 0.05, 1.0)
        r_e_circ = r_e * np.sqrt(q)  # in pixels: the amplitude below is per pixel
        at_r_e = np.asarray(flux, float) * sersic_amplitude(r_e_circ, n)
        b = sersic_b_n(n)
        with np.errstate(divide="ignore"):
            x = 1 + np.log(np.maximum(at_r_e / floor, 1e-30)) / b
        # the elliptical radius where the profile meets the floor, along the major axis
        faint = np.where(x > 0, r_e * np.maximum(x, 0) ** n, 0.0)
        reach = np.minimum(reach, faint)
    return reach + 2.0


def sersic_on_stamps(rows, ix, iy, half: int) -> np.ndarray:
    """Unit-flux Sersic images (k, s, s), s = 2 half + 1, on stamps centred on pixels (ix, iy)."""
    off = np.arange(-half, half + 1, dtype=np.float32)
    xs = (np.asarray(ix, np.float32)[:, None] + off)[:, None, :]
    ys = (np.asarray(iy, np.float32)[:, None] + off)[:, :, None]
    return _shape_sersic(rows, xs, ys)
