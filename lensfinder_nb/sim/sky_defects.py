"""What the survey adds to a synthetic field: saturated stars' trails and ghosts, masked edges, bad columns.

Component rows for :func:`lensfinder_nb.sim.sky_draw.draw_fields` (rendered by
:mod:`lensfinder_nb.sim.sky_render`), at rates chosen to look like Legacy Surveys DR9/DR10 coadd
cutouts, where such defects are occasional rather than rare:

* stars brighter than r = 16 saturate: faint diffraction spikes, and a bleed trail along the CCD
  columns (north-south) for most of them; stars brighter than r = 14.5 also leave a faint out-of-focus
  reflection (a "ghost": a soft ring several arcsec across, about a thousandth of the star's flux)
  near them;
* :data:`EDGE_MASK_RATE` of the fields touch a survey or CCD edge: the pixels beyond a straight line
  (mostly along the pixel axes, never within 8" of the centre) are exactly zero, as the cutout
  service returns them; a third of those miss one band only;
* :data:`BAD_COLUMN_RATE` of the fields have a column segment offset by a few sky sigma in one band
  (a bad CCD column that the coadd's few exposures did not average away).

Masks and bad columns carry no light: their ``bands`` column says which bands they touch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..imaging.survey import BANDS, PIXSCALE_ARCSEC
from .sky_galaxies import rows

__all__ = ["EDGE_MASK_RATE", "BAD_COLUMN_RATE", "SATURATION_MAG_R", "GHOST_MAG_R", "saturated_star_extras",
           "edge_masks", "bad_columns"]

#: share of fields with a masked (zero) region beyond a survey or CCD edge
EDGE_MASK_RATE = 0.03
#: share of fields with a bad column segment in one band
BAD_COLUMN_RATE = 0.04
#: stars brighter than this (r, AB) saturate: spikes and most of the time a bleed trail
SATURATION_MAG_R = 16.0
#: stars brighter than this (r, AB) also leave a ghost reflection nearby
GHOST_MAG_R = 14.5
#: masked regions stay at least this far from the field's centre (arcsec), where the lens is
_EDGE_MIN_DISTANCE_ARCSEC = 8.0


def saturated_star_extras(rng, star_rows: pd.DataFrame, bleed_share: float = 0.7,
                          ghost_mag: float = GHOST_MAG_R) -> list[pd.DataFrame]:
    """Spikes, bleed trails and ghosts of the saturated stars among ``star_rows`` (profile "star")."""
    s = star_rows[star_rows["mag_r"].to_numpy(float) < SATURATION_MAG_R]
    k = len(s)
    if k == 0:
        return []
    mag = s["mag_r"].to_numpy(float)
    g_r = (s["mag_g"] - s["mag_r"]).to_numpy(float)
    r_z = (s["mag_r"] - s["mag_z"]).to_numpy(float)
    f, x, y = s["field"].to_numpy(), s["x_pix"].to_numpy(float), s["y_pix"].to_numpy(float)
    # brighter stars: longer spikes and trails
    excess = np.clip(SATURATION_MAG_R - mag, 0.0, 6.0)
    out = [rows(f, "spikes", "spikes", mag + rng.uniform(4.0, 5.5, k), g_r, r_z, x_pix=x, y_pix=y,
                pa_deg=rng.uniform(-8, 8, k), length_arcsec=(1.0 + 0.6 * excess) * rng.uniform(1.0, 2.0, k))]
    bleed = rng.random(k) < bleed_share
    if bleed.any():
        b = np.flatnonzero(bleed)
        out.append(rows(f[b], "bleed", "bleed", mag[b] + rng.uniform(3.5, 4.5, len(b)), g_r[b], r_z[b],
                        x_pix=x[b], y_pix=y[b], length_arcsec=(0.8 + 0.9 * excess[b]) * rng.uniform(1.0, 1.8, len(b))))
    ghost = np.flatnonzero(mag < ghost_mag)
    if len(ghost):
        m = len(ghost)
        off = rng.uniform(2.0, 8.0, m) / PIXSCALE_ARCSEC
        ang = rng.uniform(0, 2 * np.pi, m)
        out.append(rows(f[ghost], "ghost", "ghost", mag[ghost] + 2.5 * np.log10(1.0 / rng.uniform(3e-4, 1.5e-3, m)),
                        g_r[ghost] - rng.uniform(0.1, 0.5, m), r_z[ghost] - rng.uniform(0.0, 0.3, m),
                        x_pix=x[ghost] + off * np.cos(ang), y_pix=y[ghost] + off * np.sin(ang),
                        radius_arcsec=rng.uniform(3.0, 8.0, m), width_arcsec=rng.uniform(0.8, 2.0, m)))
    return out


def _defect_rows(fields, component, profile, bands, **shape) -> pd.DataFrame:
    df = rows(fields, component, profile, np.full(len(fields), np.inf), 0.0, 0.0, **shape)
    df["bands"] = bands
    return df


def edge_masks(rng, fields, npix: int) -> pd.DataFrame:
    """Zeroed half-planes beyond a straight edge in :data:`EDGE_MASK_RATE` of ``fields``."""
    f = np.asarray(fields)[rng.random(len(fields)) < EDGE_MASK_RATE]
    k = len(f)
    c = (npix - 1) / 2.0
    # the edge's outward normal: mostly along the pixel axes, a few degrees off
    axis = rng.integers(0, 4, k) * 90.0 + rng.normal(0, 2.0, k)
    normal = np.where(rng.random(k) < 0.7, axis, rng.uniform(0, 360, k))
    lo = _EDGE_MIN_DISTANCE_ARCSEC / PIXSCALE_ARCSEC
    dist = rng.uniform(min(lo, 0.45 * npix), max(lo, 0.45 * npix), k)
    t = np.radians(normal)
    one_band = rng.random(k) < 1 / 3
    bands = np.where(one_band, np.array(BANDS, dtype=object)[rng.integers(0, 3, k)], "".join(BANDS))
    return _defect_rows(f, "edge", "mask", bands, x_pix=c + dist * np.cos(t), y_pix=c + dist * np.sin(t),
                        pa_deg=normal)


def bad_columns(rng, fields, npix: int) -> pd.DataFrame:
    """A column segment offset by a few sky sigma in one band, in :data:`BAD_COLUMN_RATE` of ``fields``."""
    f = np.asarray(fields)[rng.random(len(fields)) < BAD_COLUMN_RATE]
    k = len(f)
    length = rng.uniform(0.2, 1.0, k) * npix
    return _defect_rows(f, "bad_column", "column", np.array(BANDS, dtype=object)[rng.integers(0, 3, k)],
                        x_pix=rng.integers(0, npix, k).astype(float), y_pix=rng.uniform(-0.2, 1.0, k) * npix - 0.5 * length,
                        length_arcsec=length * PIXSCALE_ARCSEC, width_arcsec=rng.integers(1, 3, k) * PIXSCALE_ARCSEC,
                        amp=rng.choice([-1.0, 1.0], k) * rng.uniform(1.5, 4.0, k))
