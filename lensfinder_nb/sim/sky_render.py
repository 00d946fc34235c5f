"""Synthetic DESI Legacy Surveys-like fields, step 2: render a component table into g, r, z cubes.

Extended components are painted on the pixel grid (:mod:`lensfinder_nb.sim.sky_shapes`) and
convolved with the field's Gaussian PSF per band (:func:`lensfinder_nb.imaging.psf.convolve_gaussian`,
dark sky beyond the border); stars are Moffat PSFs with a faint aureole.  Small galaxies and faint
stars are painted on stamps around them rather than on the whole field, which keeps a field of a
few dozen components fast.  Noise is the sky (per-pixel sigma per band, correlated between
neighbouring pixels as in resampled coadds, by the field's ``noise_corr``) plus the sources' own
shot noise.  Last come the survey's defects: bad columns (an offset of a few sky sigma) and masked
regions (exactly zero, as the cutout service returns pixels no exposure covered).  Use through
:mod:`lensfinder_nb.sim.sky`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..imaging.psf import convolve_gaussian, psf_radius_px
from ..imaging.survey import (BANDS, CUTOUT_SIZE_PX, ELECTRONS_PER_NMGY, PIXSCALE_ARCSEC, SEEING_RANGE_ARCSEC,
                              SKY_SIGMA_NMGY, mag_to_nmgy)
from .sky_draw import FIELD_COLUMNS
from .sky_shapes import CONVOLVED, UNCONVOLVED, sersic_extent_px, sersic_on_stamps, star_extent_px, star_psf

#: lag-1 noise correlation of a hand-made table without ``noise_corr``
_DEFAULT_NOISE_CORR = 0.3
#: stamp sides (pixels) small components are painted on; bigger ones cover the whole field
_STAMP_HALVES = (4, 7, 11, 16, 24, 34)
#: a star's or a galaxy's light is followed out to where it falls below this share of the r-band
#: sky sigma per pixel (the PSF spreads what is left out over a few pixels: far below the noise)
_STAR_FLOOR_SIGMA = 0.05
_SERSIC_FLOOR_SIGMA = 0.02

__all__ = ["field_table", "conditions", "render_fields"]


def field_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per field: field, kind, seeing_{g,r,z}_arcsec, sky_{g,r,z}_nmgy, noise_corr, noise_seed, npix."""
    columns = [c for c in FIELD_COLUMNS if c in table.columns]  # hand-made tables may lack npix
    return table.drop_duplicates("field")[columns].sort_values("field").reset_index(drop=True)


def conditions(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Seeing FWHM (arcsec) and sky sigma (nanomaggies per pixel), each of shape (field, band)."""
    f = field_table(table)
    return (f[[f"seeing_{b}_arcsec" for b in BANDS]].to_numpy(float),
            f[[f"sky_{b}_nmgy" for b in BANDS]].to_numpy(float))


def _field_size(fields: pd.DataFrame) -> int:
    if "npix" not in fields:
        return CUTOUT_SIZE_PX
    sizes = set(fields["npix"].astype(int))
    if len(sizes) > 1:
        raise ValueError(f"fields of different sizes {sorted(sizes)} in one table; render them separately")
    return sizes.pop() if sizes else CUTOUT_SIZE_PX


def render_fields(table: pd.DataFrame, *, noise: bool = True, chunk: int = 32) -> np.ndarray:
    """Render the fields of a :func:`~lensfinder_nb.sim.sky_draw.draw_fields` table.

    Returns float32 nanomaggies of shape (field, band, ny, nx) = (n, 3, npix, npix) (``npix``
    from the table, 101 when it has no such column), fields in the order of ``table.field``
    (sorted), bands g, r, z, FITS orientation (row 0 = south).  Each field's noise comes from its
    own ``noise_seed``: rendering a subset of the fields gives the same pixels as rendering all.
    With ``noise=False`` the sources alone are returned (no noise, no masked regions or bad columns).
    """
    fields = field_table(table)
    npix = _field_size(fields)
    out = np.empty((len(fields), 3, npix, npix), np.float32)
    yy, xx = np.mgrid[0:npix, 0:npix].astype(np.float32)
    # one PSF padding for every chunk, so that a field's pixels do not depend on its neighbours
    widest = max(max(hi for _, hi in SEEING_RANGE_ARCSEC), float(np.nanmax(conditions(fields)[0], initial=0)))
    pad_px = int(psf_radius_px(widest, PIXSCALE_ARCSEC))
    for start in range(0, len(fields), chunk):
        part = fields.iloc[start:start + chunk]
        rows = table[table["field"].isin(part["field"])]
        local = pd.Index(part["field"]).get_indexer(rows["field"])
        out[start:start + len(part)] = _render_chunk(rows, local, part, xx, yy, noise, pad_px)
    return out


def _render_chunk(rows, local, part, xx, yy, noise, pad_px) -> np.ndarray:
    m = len(part)
    ny, nx = xx.shape
    seeing = part[[f"seeing_{b}_arcsec" for b in BANDS]].to_numpy(float)
    flux = np.stack([mag_to_nmgy(rows[f"mag_{b}"].to_numpy()) for b in BANDS], axis=1).astype(np.float32)
    img = np.zeros((m, 3, ny, nx), np.float32)
    profile = rows["profile"].to_numpy()
    _paint_sersic(img, rows, profile == "sersic", local, flux, xx, yy)
    _paint(img, {k: v for k, v in CONVOLVED.items() if k != "sersic"}, rows, profile, local, flux, xx, yy)
    img = convolve_gaussian(img, seeing, PIXSCALE_ARCSEC, edges="zero", min_radius_px=pad_px)
    _paint(img, UNCONVOLVED, rows, profile, local, flux, xx, yy)
    _paint_stars(img, rows, profile == "star", local, flux, seeing, xx, yy)
    if noise:
        sky = part[[f"sky_{b}_nmgy" for b in BANDS]].to_numpy(np.float32)
        corr = (part["noise_corr"].to_numpy(float) if "noise_corr" in part
                else np.full(m, _DEFAULT_NOISE_CORR))
        gain = np.array(ELECTRONS_PER_NMGY, np.float32)[:, None, None]
        for j, seed in enumerate(part["noise_seed"].to_numpy()):
            sigma = np.sqrt(sky[j][:, None, None] ** 2 + np.maximum(img[j], 0) / gain)
            img[j] += sigma * _correlated_normal(np.random.default_rng(int(seed)), ny, nx, corr[j])
        _defects(img, rows, profile, local, sky, xx, yy)
    return img


def _paint(img, shape_functions, rows, profile, local, flux, xx, yy) -> None:
    """Add each component's unit-flux shape times its flux per band to its field's image."""
    for name, fn in shape_functions.items():
        sel = np.flatnonzero(profile == name)
        if len(sel) == 0:
            continue
        shapes = fn(rows.iloc[sel], xx, yy)
        for s, i in zip(shapes, sel):
            img[local[i]] += flux[i, :, None, None] * s


class _Stamps:
    """Stamps to add into a chunk of images, gathered and then added in one pass (np.bincount)."""

    def __init__(self, img: np.ndarray) -> None:
        self.img, self.idx, self.weights = img, [], []

    def add(self, fields, ix, iy, half: int, stamps) -> None:
        """Stamps (k, band, s, s) centred on pixels (ix, iy) of the chunk's fields ``fields``."""
        m, nb, ny, nx = self.img.shape
        off = np.arange(-half, half + 1)
        xs, ys = ix[:, None] + off, iy[:, None] + off
        inside = ((xs >= 0) & (xs < nx))[:, None, :] & ((ys >= 0) & (ys < ny))[:, :, None]
        flat = ys[:, :, None] * nx + xs[:, None, :]  # (k, s, s)
        base = (fields[:, None] * nb + np.arange(nb)[None]) * (ny * nx)  # (k, band)
        idx = base[:, :, None, None] + flat[:, None]
        keep = np.broadcast_to(inside[:, None], idx.shape)
        self.idx.append(idx[keep])
        self.weights.append(stamps[keep])

    def flush(self) -> None:
        if self.idx:
            total = np.bincount(np.concatenate(self.idx), weights=np.concatenate(self.weights),
                                minlength=self.img.size)
            self.img += total.reshape(self.img.shape).astype(np.float32)  # img may be a strided view
        self.idx, self.weights = [], []


def _buckets(extent, npix: int):
    """Stamp half-size for each component (0: paint on the whole field)."""
    halves = np.array(_STAMP_HALVES)
    pos = np.searchsorted(halves, np.ceil(extent))
    half = np.where(pos < len(halves), halves[np.minimum(pos, len(halves) - 1)], 0)
    return np.where(2 * half + 1 >= npix, 0, half)


def _paint_sersic(img, rows, is_sersic, local, flux, xx, yy) -> None:
    sel = np.flatnonzero(is_sersic)
    if len(sel) == 0:
        return
    sub = rows.iloc[sel]
    floor = _SERSIC_FLOOR_SIGMA * SKY_SIGMA_NMGY[1]
    half = _buckets(sersic_extent_px(sub, flux[sel].max(axis=1), floor), xx.shape[0])
    stamps = _Stamps(img)
    for h in np.unique(half):
        pick = np.flatnonzero(half == h)
        comp = sub.iloc[pick]
        f = flux[sel[pick]]
        if h == 0:
            _paint(img, {"sersic": CONVOLVED["sersic"]}, comp, np.full(len(comp), "sersic"), local[sel[pick]], f,
                   xx, yy)
            continue
        ix = np.rint(comp["x_pix"].to_numpy(float)).astype(np.int64)
        iy = np.rint(comp["y_pix"].to_numpy(float)).astype(np.int64)
        shapes = sersic_on_stamps(comp, ix, iy, int(h))
        stamps.add(local[sel[pick]], ix, iy, int(h), shapes[:, None] * f[:, :, None, None])
    stamps.flush()


def _paint_stars(img, rows, is_star, local, flux, seeing, xx, yy) -> None:
    sel = np.flatnonzero(is_star)
    if len(sel) == 0:
        return
    fwhm = seeing[local[sel]] / PIXSCALE_ARCSEC  # (k, band)
    x, y = rows["x_pix"].to_numpy(float)[sel], rows["y_pix"].to_numpy(float)[sel]
    extent = star_extent_px(flux[sel].max(axis=1), fwhm.max(axis=1), _STAR_FLOOR_SIGMA * SKY_SIGMA_NMGY[1])
    half = _buckets(extent + 1.0, xx.shape[0])
    stamps = _Stamps(img)
    for h in np.unique(half):
        pick = np.flatnonzero(half == h)
        f = flux[sel[pick]][:, :, None, None]
        w = fwhm[pick][:, :, None, None].astype(np.float32)
        if h == 0:
            for k in pick:
                img[local[sel[k]]] += star_psf(x[k], y[k], fwhm[k][:, None, None], xx, yy) * flux[sel[k]][:, None, None]
            continue
        ix, iy = np.rint(x[pick]).astype(np.int64), np.rint(y[pick]).astype(np.int64)
        off = np.arange(-h, h + 1, dtype=np.float32)
        xs = (ix[:, None] + off)[:, None, None, :]
        ys = (iy[:, None] + off)[:, None, :, None]
        stamps.add(local[sel[pick]], ix, iy, int(h),
                   star_psf(x[pick][:, None, None, None], y[pick][:, None, None, None], w, xs, ys) * f)
    stamps.flush()


def _defects(img, rows, profile, local, sky, xx, yy) -> None:
    """Bad columns (offsets of a few sky sigma) and masked regions (zeros), after the noise."""
    for i in np.flatnonzero(profile == "column"):
        r = rows.iloc[i]
        x0 = int(r["x_pix"])
        width = max(1, int(round(r["width_arcsec"] / PIXSCALE_ARCSEC)))
        y0 = int(round(r["y_pix"]))
        y1 = y0 + int(round(r["length_arcsec"] / PIXSCALE_ARCSEC))
        ny, nx = xx.shape
        for b, band in enumerate(BANDS):
            if band in r["bands"]:
                img[local[i], b, max(y0, 0):max(min(y1, ny), 0), max(x0, 0):min(x0 + width, nx)] += \
                    np.float32(r["amp"]) * sky[local[i], b]
    for i in np.flatnonzero(profile == "mask"):
        r = rows.iloc[i]
        t = np.radians(r["pa_deg"])
        beyond = (xx - np.float32(r["x_pix"])) * np.float32(np.cos(t)) + \
            (yy - np.float32(r["y_pix"])) * np.float32(np.sin(t)) > 0
        for b, band in enumerate(BANDS):
            if band in r["bands"]:
                img[local[i], b][beyond] = 0.0


def _correlated_normal(rng, ny: int, nx: int, rho: float) -> np.ndarray:
    """Unit-variance noise (3, ny, nx) whose adjacent pixels correlate by ``rho`` (lag 1, each axis).

    White noise smoothed by the kernel [a, 1, a] along each axis, a = (1 - sqrt(1 - 2 rho^2)) / (2 rho),
    whose lag-1 correlation is 2a / (1 + 2a^2) = rho (rho at most 1/sqrt(2)).
    """
    rho = float(np.clip(rho, 0.0, 0.7))
    a = np.float32((1 - np.sqrt(1 - 2 * rho * rho)) / (2 * rho)) if rho > 0 else np.float32(0.0)
    w = rng.standard_normal((3, ny + 2, nx + 2), dtype=np.float32)
    w = a * w[:, :-2] + w[:, 1:-1] + a * w[:, 2:]
    w = a * w[:, :, :-2] + w[:, :, 1:-1] + a * w[:, :, 2:]
    return w / np.float32(1 + 2 * a * a)
