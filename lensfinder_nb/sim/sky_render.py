"""Synthetic DESI Legacy Surveys-like fields, step 2: render a component table into g, r, z cubes.

Extended components are painted on the pixel grid (:mod:`lensfinder_nb.sim.sky_shapes`) and
convolved with the field's Gaussian PSF per band (:func:`lensfinder_nb.imaging.psf.convolve_gaussian`,
dark sky beyond the border); stars are Moffat PSFs.  Noise is the sky (per-pixel sigma per band,
mildly correlated between neighbouring pixels as in resampled coadds) plus the sources' own shot
noise.  Use through :mod:`lensfinder_nb.sim.sky`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..imaging.psf import convolve_gaussian, psf_radius_px
from ..imaging.survey import (BANDS, CUTOUT_SIZE_PX, ELECTRONS_PER_NMGY, PIXSCALE_ARCSEC, SEEING_RANGE_ARCSEC,
                              mag_to_nmgy)
from .sky_draw import FIELD_COLUMNS
from .sky_shapes import CONVOLVED, UNCONVOLVED, moffat

__all__ = ["field_table", "conditions", "render_fields"]


def field_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per field: field, kind, seeing_{g,r,z}_arcsec, sky_{g,r,z}_nmgy, noise_seed, npix."""
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
    flux = np.stack([mag_to_nmgy(rows[f"mag_{b}"].to_numpy()) for b in BANDS], axis=1)
    img = np.zeros((m, 3, ny, nx), np.float32)
    profile = rows["profile"].to_numpy()
    _paint(img, CONVOLVED, rows, profile, local, flux, xx, yy)
    img = convolve_gaussian(img, seeing, PIXSCALE_ARCSEC, edges="zero", min_radius_px=pad_px)
    _paint(img, UNCONVOLVED, rows, profile, local, flux, xx, yy)
    for i in np.flatnonzero(profile == "star"):
        fwhm_pix = seeing[local[i]] / PIXSCALE_ARCSEC
        img[local[i]] += moffat(rows["x_pix"].iat[i], rows["y_pix"].iat[i], fwhm_pix, xx, yy) * \
            flux[i, :, None, None].astype(np.float32)
    if noise:
        sky = part[[f"sky_{b}_nmgy" for b in BANDS]].to_numpy(np.float32)
        gain = np.array(ELECTRONS_PER_NMGY, np.float32)[:, None, None]
        for j, seed in enumerate(part["noise_seed"].to_numpy()):
            sigma = np.sqrt(sky[j][:, None, None] ** 2 + np.maximum(img[j], 0) / gain)
            img[j] += sigma * _correlated_normal(np.random.default_rng(int(seed)), ny, nx)
    return img


def _paint(img, shape_functions, rows, profile, local, flux, xx, yy) -> None:
    """Add each component's unit-flux shape times its flux per band to its field's image."""
    for name, fn in shape_functions.items():
        sel = np.flatnonzero(profile == name)
        if len(sel) == 0:
            continue
        shapes = fn(rows.iloc[sel], xx, yy)
        for s, i in zip(shapes, sel):
            img[local[i]] += flux[i, :, None, None].astype(np.float32) * s


def _correlated_normal(rng, ny: int, nx: int) -> np.ndarray:
    """Unit-variance noise of shape (3, ny, nx) with the mild pixel correlation of coadds."""
    w = rng.standard_normal((3, ny + 2, nx + 2), dtype=np.float32)
    w = 0.25 * w[:, :-2] + 0.5 * w[:, 1:-1] + 0.25 * w[:, 2:]
    w = 0.25 * w[:, :, :-2] + 0.5 * w[:, :, 1:-1] + 0.25 * w[:, :, 2:]
    return w / np.float32(0.375)
