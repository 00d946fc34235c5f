"""The modelling page's live picture: predicted arcs and image positions of a model, our own ray tracing.

Pure numpy, no lenstronomy: the SIE + shear deflection of :mod:`lensfinder_nb.sim.galaxy` (the one that
paints the mocks) maps a grid of image-plane pixels to the source plane, where a small Sersic source is
evaluated; a Gaussian PSF blurs it.  Point-source images are the minima of ``|beta(x) - beta_s|`` on that
same grid, polished by Newton steps with a finite-difference Jacobian.  One update of a 101-pixel cutout
costs a few milliseconds (``benchmarks/bench_modelling.py``).
"""

from __future__ import annotations

import numpy as np

from ..imaging.psf import convolve_gaussian
from ..imaging.sersic import sersic_unit_flux
from ..imaging.survey import CUTOUT_SIZE_PX, PIXSCALE_ARCSEC, TYPICAL_SEEING_ARCSEC
from ..sim.galaxy import _galaxy_beta
from .model import checked_model

__all__ = ["source_plane", "predicted_arcs", "image_positions", "LiveModel", "arc_overlay"]

_LENS = ("theta_e_arcsec", "lens_q", "lens_phi_rad", "lens_x_arcsec", "lens_y_arcsec", "gamma1", "gamma2")


def _grid(npix: int, pixscale_arcsec: float) -> tuple[np.ndarray, np.ndarray]:
    c = (np.arange(npix) - (npix - 1) / 2.0) * pixscale_arcsec
    yy, xx = np.meshgrid(c, c, indexing="ij")
    return xx, yy


def source_plane(model: dict, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Source-plane positions (arcsec) of image-plane points (x, y) for a model's SIE + shear."""
    return _galaxy_beta(np.asarray(x, float), np.asarray(y, float), {k: float(model[k]) for k in _LENS})


def predicted_arcs(model: dict, npix: int = CUTOUT_SIZE_PX, pixscale_arcsec: float = PIXSCALE_ARCSEC,
                   psf_fwhm_arcsec: float = TYPICAL_SEEING_ARCSEC) -> np.ndarray:
    """The lensed image (npix, npix) of the model's Sersic source of unit unlensed flux, PSF-blurred
    (``psf_fwhm_arcsec`` 0 for none); x along columns, y along rows from the centre."""
    m = checked_model(model)
    xx, yy = _grid(npix, pixscale_arcsec)
    bx, by = source_plane(m, xx, yy)
    img = sersic_unit_flux(bx, by, x0_arcsec=m["src_x_arcsec"], y0_arcsec=m["src_y_arcsec"],
                           r_e_arcsec=m["src_r_e_arcsec"], n_sersic=m["src_n_sersic"], q=m["src_q"],
                           phi_rad=m["src_phi_rad"], pixel_area_arcsec2=pixscale_arcsec ** 2)
    if psf_fwhm_arcsec and psf_fwhm_arcsec > 0:
        img = convolve_gaussian(img[None], np.array([float(psf_fwhm_arcsec)]), pixscale_arcsec)[0]
    return np.asarray(img, float).reshape(npix, npix)


def image_positions(model: dict, npix: int = CUTOUT_SIZE_PX, pixscale_arcsec: float = PIXSCALE_ARCSEC,
                    tol_arcsec: float = 1e-6) -> np.ndarray:
    """Image positions (k, 2) of a point source at the model's source position, as (x, y) arcsec.

    Candidates are local minima of the source-plane miss distance on the pixel grid; each is polished
    by Newton steps and kept if it maps within ``tol_arcsec`` of the source and lies in the cutout."""
    m = checked_model(model)
    xx, yy = _grid(npix, pixscale_arcsec)
    sx, sy = m["src_x_arcsec"], m["src_y_arcsec"]
    bx, by = source_plane(m, xx, yy)
    d = np.hypot(bx - sx, by - sy)
    pad = np.pad(d, 1, constant_values=np.inf)
    is_min = np.ones_like(d, bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                is_min &= d <= pad[1 + dy:1 + dy + npix, 1 + dx:1 + dx + npix]
    # the miss distance of a true image is below about one pixel times the local stretching
    cand = np.flatnonzero(is_min & (d < 2.0 * pixscale_arcsec))
    out: list[tuple[float, float]] = []
    h = 1e-5
    half = (npix - 1) / 2 * pixscale_arcsec
    for i in cand:
        x, y = float(xx.flat[i]), float(yy.flat[i])
        for _ in range(30):
            fx, fy = source_plane(m, x, y)
            rx, ry = float(fx) - sx, float(fy) - sy
            if np.hypot(rx, ry) < tol_arcsec * 1e-3:
                break
            ax1, ay1 = source_plane(m, x + h, y)
            ax2, ay2 = source_plane(m, x, y + h)
            jac = np.array([[float(ax1) - float(fx), float(ax2) - float(fx)],
                            [float(ay1) - float(fy), float(ay2) - float(fy)]]) / h
            try:
                step = np.linalg.solve(jac, [rx, ry])
            except np.linalg.LinAlgError:
                break
            step_len = np.hypot(*step)
            if step_len > pixscale_arcsec:  # Newton can jump across the critical curve; keep it local
                step *= pixscale_arcsec / step_len
            x, y = x - step[0], y - step[1]
        fx, fy = source_plane(m, x, y)
        if np.hypot(float(fx) - sx, float(fy) - sy) < tol_arcsec and abs(x) <= half and abs(y) <= half:
            if all(np.hypot(x - a, y - b) > 0.5 * pixscale_arcsec for a, b in out):
                out.append((x, y))
    return np.array(out, float).reshape(-1, 2)


class LiveModel:
    """What the modelling page redraws on each change of a model: predicted arcs and image positions,
    on the grid of one cube (3, ny, nx)."""

    def __init__(self, cube: np.ndarray, psf_fwhm_arcsec=TYPICAL_SEEING_ARCSEC,
                 pixscale_arcsec: float = PIXSCALE_ARCSEC):
        self.npix = int(np.asarray(cube).shape[-1])
        self.pixscale_arcsec = pixscale_arcsec
        self.psf_fwhm_arcsec = float(np.mean(np.broadcast_to(np.asarray(psf_fwhm_arcsec, float), (3,))[:2]))

    def update(self, model: dict) -> tuple[np.ndarray, np.ndarray]:
        """(predicted arcs (npix, npix), image positions (k, 2) arcsec) of ``model``."""
        arcs = predicted_arcs(model, self.npix, self.pixscale_arcsec, self.psf_fwhm_arcsec)
        return arcs, image_positions(model, self.npix, self.pixscale_arcsec)


def arc_overlay(arcs: np.ndarray, rgb=(0, 255, 255)) -> np.ndarray:
    """An RGBA picture (ny, nx, 4) uint8 of predicted arcs to lay over the rendered cutout: one colour,
    opacity rising with the arcs' brightness relative to their peak (nothing where they are below 5 %);
    rows flipped like :func:`lensfinder_nb.imaging.render.render` (north up)."""
    a = np.asarray(arcs, float)
    peak = float(a.max()) if a.size else 0.0
    level = np.clip(a / peak, 0.0, 1.0) if peak > 0 else np.zeros_like(a)
    alpha = np.where(level >= 0.05, 60 + 180 * np.sqrt(level), 0)
    out = np.zeros(a.shape + (4,), np.uint8)
    out[..., :3] = rgb
    out[..., 3] = alpha.astype(np.uint8)
    return out[::-1]
