"""Sky cross-matching, done once with astropy: the nearest neighbour within a radius, and all close pairs.

Positions are degrees (ICRS); separations are great-circle distances in arcsec.  Both use
astropy's KD-tree (``SkyCoord.match_to_catalog_sky``, ``search_around_sky``), fine for
millions of positions.  Used by the labels matching, the duplicate check of ingest and the
known-lens catalogue.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["sky_coords", "nearest_within", "pairs_within", "DUPLICATE_RADIUS_ARCSEC"]

#: Two positions closer than this show the same object (duplicate cutouts; labels rows matched by position).
DUPLICATE_RADIUS_ARCSEC = 1.0


def sky_coords(ra_deg: Any, dec_deg: Any):
    """An astropy ``SkyCoord`` for arrays of positions in degrees (RA taken modulo 360)."""
    from astropy.coordinates import SkyCoord
    return SkyCoord(np.asarray(ra_deg, dtype=float) % 360.0, np.asarray(dec_deg, dtype=float), unit="deg")


def nearest_within(ra_deg: Any, dec_deg: Any, catalog: Any, radius_arcsec: float) -> tuple[np.ndarray, np.ndarray]:
    """For each position, the index of the nearest ``catalog`` entry within ``radius_arcsec``.

    ``catalog`` is a ``(ra_deg, dec_deg)`` pair of arrays, a :func:`sky_coords` result (reuse
    one for repeated queries) or a function returning either, called only when some position
    is finite (so a large catalogue is not loaded for nothing).  Returns ``(index, sep_arcsec)`` aligned with the input:
    index -1 and separation NaN where nothing is close enough, or the position is not finite.

    >>> idx, sep = nearest_within([10.0, 50.0], [0.0, 0.0], ([10.0, 10.0 + 0.5 / 3600], [0.0, 0.0]), 1.0)
    >>> idx.tolist(), sep.round(6).tolist()
    ([0, -1], [0.0, nan])
    """
    ra, dec = _finite(ra_deg, dec_deg)
    index, sep = np.full(len(ra), -1), np.full(len(ra), np.nan)
    ok = np.isfinite(ra)
    if not ok.any():
        return index, sep
    catalog = catalog() if callable(catalog) else catalog
    if hasattr(catalog, "match_to_catalog_sky"):
        cat, cat_rows = catalog, None
    else:
        cat_ra, cat_dec = _finite(*catalog)
        cat_rows = np.flatnonzero(np.isfinite(cat_ra))  # the KD-tree must not see NaN
        cat = sky_coords(cat_ra[cat_rows], cat_dec[cat_rows])
    if cat.size == 0:
        return index, sep
    near, sep2d, _ = sky_coords(ra[ok], dec[ok]).match_to_catalog_sky(cat)
    arcsec = sep2d.arcsec
    hit = arcsec <= radius_arcsec
    rows = np.flatnonzero(ok)[hit]
    index[rows] = near[hit] if cat_rows is None else cat_rows[near[hit]]
    sep[rows] = arcsec[hit]
    return index, sep


def _finite(ra_deg: Any, dec_deg: Any) -> tuple[np.ndarray, np.ndarray]:
    """1-D float arrays with NaN in both where a position is not finite or |dec| > 90."""
    ra = np.atleast_1d(np.asarray(ra_deg, dtype=float)).copy()
    dec = np.atleast_1d(np.asarray(dec_deg, dtype=float)).copy()
    if ra.shape != dec.shape or ra.ndim != 1:
        raise ValueError(f"ra and dec must be 1-D and of one length, got {ra.shape} and {dec.shape}")
    bad = ~(np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90))
    ra[bad] = dec[bad] = np.nan
    return ra, dec


def pairs_within(ra1_deg: Any, dec1_deg: Any, ra2_deg: Any, dec2_deg: Any,
                 radius_arcsec: float) -> dict[int, list[tuple[float, int]]]:
    """For each index into the first positions, the ``(sep_arcsec, index)`` of every second position
    within ``radius_arcsec`` (rounded to 1e-6 arcsec), nearest first; indices without any are
    left out.  Positions must be finite.

    >>> pairs_within([10.0], [0.0], [10.0, 10.0 + 0.3 / 3600, 20.0], [0.0, 0.0, 0.0], 1.0)
    {0: [(0.0, 0), (0.3, 1)]}
    """
    ra1, dec1, ra2, dec2 = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (ra1_deg, dec1_deg, ra2_deg, dec2_deg))
    if not len(ra1) or not len(ra2):
        return {}
    from astropy import units as u
    i1, i2, sep, _ = sky_coords(ra2, dec2).search_around_sky(sky_coords(ra1, dec1), radius_arcsec * u.arcsec)
    out: dict[int, list[tuple[float, int]]] = {}
    for a, b, d in zip(i1.tolist(), i2.tolist(), sep.arcsec.tolist()):
        out.setdefault(a, []).append((round(d, 6), b))
    return {k: sorted(v) for k, v in sorted(out.items())}
