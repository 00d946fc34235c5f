"""Synthetic DESI Legacy Surveys-like fields, step 1: draw a table of light components (seeded).

Each field is a square stamp (101 pixels by default) centred on a massive red galaxy or on the
core of a galaxy cluster (a red brightest cluster galaxy with red-sequence members), with field
galaxies of many colours and stars around it.  Look-alikes add what volunteers mistake for lensed
arcs: rings, blue companions (round or arc-shaped), spiral arms, mergers with tidal tails and
shells; artefacts add a satellite trail or a saturated star with diffraction spikes.

Who else is in the field (satellites, field galaxies, stars) comes from
:mod:`lensfinder_nb.sim.sky_galaxies`; what the survey adds (saturated stars' trails and ghosts,
masked edges, bad columns) from :mod:`lensfinder_nb.sim.sky_defects`.  Each field also draws its
observing conditions: seeing per band, sky noise (depth varies by about 20 % from field to field,
and 35 % of fields lie in a footprint deeper in g and r, as DR10 adds DES to DECaLS)
and how strongly neighbouring pixels' noise is correlated (lag-1 correlation 0.15-0.5, as resampled
coadds of a few exposures give).

The table has one row per component and is cheap, easy to inspect or edit; step 2,
:func:`lensfinder_nb.sim.sky_render.render_fields`, turns it into images.  Use both through
:mod:`lensfinder_nb.sim.sky`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..imaging.survey import BANDS, CUTOUT_SIZE_PX, PIXSCALE_ARCSEC, SEEING_RANGE_ARCSEC, SKY_SIGMA_NMGY, nmgy_to_mag
from . import sky_defects, sky_galaxies
from .sky_galaxies import rows as _rows

__all__ = ["BACKGROUND_KINDS", "LOOKALIKE_KINDS", "ARTEFACT_KINDS", "KINDS", "FIELD_COLUMNS", "NOISE_CORR_RANGE",
           "DEPTH_SCATTER", "DEEP_SHARE", "DEEP_NOISE", "SKY_NOISE_RANGE", "draw_fields"]

BACKGROUND_KINDS = ("galaxy", "cluster")
LOOKALIKE_KINDS = ("ring", "companion", "arc_companion", "spiral", "merger")
ARTEFACT_KINDS = ("trail", "bright_star")
KINDS = BACKGROUND_KINDS + LOOKALIKE_KINDS + ARTEFACT_KINDS

#: per-field columns, repeated on each component row of the field
FIELD_COLUMNS = ["field", "kind", "seeing_g_arcsec", "seeing_r_arcsec", "seeing_z_arcsec",
                 "sky_g_nmgy", "sky_r_nmgy", "sky_z_nmgy", "noise_corr", "noise_seed", "npix"]
_SHAPE_COLUMNS = ["x_pix", "y_pix", "r_e_arcsec", "n_sersic", "q", "pa_deg", "radius_arcsec",
                  "width_arcsec", "length_arcsec", "phi_deg", "pitch_deg", "n_arms", "amp"]

#: lag-1 correlation of a field's sky noise (between adjacent pixels), drawn uniformly per field
NOISE_CORR_RANGE = (0.15, 0.5)
#: log-normal scatter of a field's sky noise about the survey's typical value (depth varies ~20 %)
DEPTH_SCATTER = 0.18
#: share of fields in a deeper footprint (DR10 south adds DES: g and r about 0.35 mag deeper than
#: DECaLS, z alike), and its sky noise relative to the survey's typical value (g, r, z)
DEEP_SHARE, DEEP_NOISE = 0.35, (0.75, 0.75, 1.0)
#: a field's sky noise stays within these multiples of the survey's typical value
SKY_NOISE_RANGE = (0.5, 1.6)


def draw_fields(n: int, seed=None, kind: str | Sequence[str] = "galaxy", *,
                npix: int = CUTOUT_SIZE_PX) -> pd.DataFrame:
    """Draw the parameters of ``n`` fields: one row per light component.

    Parameters
    ----------
    n : int
        Number of fields.
    seed : int, SeedSequence or None
        Seed for ``np.random.default_rng``; the same seed gives the same table.
    kind : str or sequence of str
        One of :data:`KINDS` for all fields, ``"background"`` (galaxy or cluster, 3:1),
        ``"lookalike"`` (an even mix of :data:`LOOKALIKE_KINDS`), or a sequence of ``n`` kinds.
    npix : int
        Side of the square fields in pixels (at :data:`~lensfinder_nb.imaging.survey.PIXSCALE_ARCSEC`);
        field galaxies and stars scale with the area, so a 201-pixel field is a larger piece of the
        same sky.

    Returns
    -------
    pandas.DataFrame
        Columns ``field`` (0..n-1), ``kind``, ``component`` (central, member, field, star,
        ring, companion, arms, tidal, spikes, bleed, ghost, edge, bad_column, ...), ``profile``
        (sersic, ring, arc, spiral, star, spikes, bleed, ghost, trail, mask, column),
        ``mag_g``/``mag_r``/``mag_z`` (AB; inf for no light in a band), the shape (``x_pix``,
        ``y_pix`` in FITS pixels with y to the north, ``r_e_arcsec``, ``n_sersic``, ``q``,
        ``pa_deg`` east of north, ``radius_arcsec``, ``width_arcsec``, ``length_arcsec``,
        ``phi_deg``, ``pitch_deg``, ``n_arms``, ``amp``), ``z`` (redshift of red galaxies, NaN
        for the rest), ``bands`` (the bands a mask or bad column touches, e.g. ``"grz"``; empty
        for light) and the field's conditions (``seeing_{g,r,z}_arcsec``, ``sky_{g,r,z}_nmgy``,
        ``noise_corr``, ``noise_seed``) and size (``npix``), repeated on each of its rows.
    """
    npix = int(npix)
    if npix < 16:
        raise ValueError(f"fields of {npix} pixels are too small (at least 16)")
    rng = np.random.default_rng(seed)
    kinds = _resolve_kinds(n, kind, rng)
    fields = _draw_conditions(rng, kinds, npix)
    c = (npix - 1) / 2.0  # the central pixel, where the host galaxy sits
    idx = {k: np.flatnonzero(kinds == k) for k in KINDS}
    parts = []
    # hosts: a red galaxy for most, a cluster core for clusters (and some artefact fields)
    art = np.concatenate([idx["trail"], idx["bright_star"]])
    art_cluster = art[rng.random(len(art)) < 0.25]
    red_hosts = np.setdiff1d(np.concatenate([idx["galaxy"], *(idx[k] for k in LOOKALIKE_KINDS if k != "spiral"),
                                             art]), art_cluster)
    cluster_hosts = np.sort(np.concatenate([idx["cluster"], art_cluster]))
    hosts = sky_galaxies.lens_galaxies(rng, red_hosts, c)
    parts += [hosts, sky_galaxies.satellites(rng, hosts, npix)]
    parts += sky_galaxies.cluster_cores(rng, cluster_hosts, c, npix)
    parts += _spiral(rng, idx["spiral"], c)
    parts.append(_ring(rng, idx["ring"], c))
    parts.append(_companion_round(rng, idx["companion"], c))
    parts.append(_companion_arc(rng, idx["arc_companion"], c))
    parts += _merger(rng, idx["merger"], c)
    parts.append(_trail(rng, idx["trail"], npix))
    parts += _bright_star(rng, idx["bright_star"], c)
    everywhere = np.arange(n)
    parts.append(sky_galaxies.field_galaxies(rng, everywhere, npix))
    star_rows = sky_galaxies.stars(rng, everywhere, npix)
    parts += [star_rows, *sky_defects.saturated_star_extras(rng, star_rows)]
    parts += [sky_defects.edge_masks(rng, everywhere, npix), sky_defects.bad_columns(rng, everywhere, npix)]
    table = pd.concat([p for p in parts if len(p)], ignore_index=True)
    for col in [*_SHAPE_COLUMNS, "z"]:
        if col not in table:
            table[col] = np.nan
    table["bands"] = table["bands"].fillna("") if "bands" in table else ""
    table = table.sort_values("field", kind="stable").reset_index(drop=True)
    table = table.merge(fields, on="field", how="left")
    return table[["field", "kind", "component", "profile", "mag_g", "mag_r", "mag_z", *_SHAPE_COLUMNS, "z", "bands",
                  *FIELD_COLUMNS[2:]]]


def _resolve_kinds(n: int, kind, rng) -> np.ndarray:
    if isinstance(kind, str):
        if kind == "background":
            return np.where(rng.random(n) < 0.75, "galaxy", "cluster").astype(object)
        if kind == "lookalike":
            return np.array(LOOKALIKE_KINDS, dtype=object)[rng.integers(0, len(LOOKALIKE_KINDS), n)]
        kinds = np.array([kind] * n, dtype=object)
    else:
        kinds = np.array(list(kind), dtype=object)
        if len(kinds) != n:
            raise ValueError(f"kind has {len(kinds)} entries for {n} fields")
    bad = sorted(set(kinds) - set(KINDS))
    if bad:
        raise ValueError(f"unknown field kind(s) {bad}; choose from {KINDS}, 'background' or 'lookalike'")
    return kinds


def _draw_conditions(rng, kinds, npix: int) -> pd.DataFrame:
    n = len(kinds)
    t = rng.random(n)  # one atmosphere per field: the bands' seeing is correlated
    df = {"field": np.arange(n), "kind": kinds}
    for b, (lo, hi) in zip(BANDS, SEEING_RANGE_ARCSEC):
        df[f"seeing_{b}_arcsec"] = lo + (hi - lo) * np.clip(t + rng.normal(0, 0.15, n), 0, 1)
    depth = np.exp(rng.normal(0, DEPTH_SCATTER, n))  # number of exposures: deeper or shallower in all bands
    deep = rng.random(n) < DEEP_SHARE
    for b, sigma, d in zip(BANDS, SKY_SIGMA_NMGY, DEEP_NOISE):
        factor = depth * np.where(deep, d, 1.0) * np.exp(rng.normal(0, 0.06, n))
        df[f"sky_{b}_nmgy"] = sigma * np.clip(factor, *SKY_NOISE_RANGE)
    df["noise_corr"] = rng.uniform(*NOISE_CORR_RANGE, n)
    df["noise_seed"] = rng.integers(0, 2**63 - 1, n)
    df["npix"] = np.full(n, npix, np.int64)
    return pd.DataFrame(df)


def _log_uniform(rng, lo, hi, k):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), k))


def _red_colours(rng, k):
    return np.clip(rng.normal(1.55, 0.15, k), 1.1, 1.95), np.clip(rng.normal(0.95, 0.10, k), 0.6, 1.25)


def _blue_colours(rng, k):
    return rng.uniform(0.0, 0.6, k), rng.uniform(-0.2, 0.6, k)


def _near(rng, k, r_lo, r_hi, c):
    r = rng.uniform(r_lo, r_hi, k) / PIXSCALE_ARCSEC
    ang = rng.uniform(0, 2 * np.pi, k)
    return c + r * np.cos(ang), c + r * np.sin(ang), ang


def _ring(rng, f, c):
    k = len(f)
    blue = rng.random(k) < 0.75  # star-forming rings; the rest are old stellar rings
    bg_r, br_z = _blue_colours(rng, k)
    g_r = np.where(blue, bg_r + 0.2, rng.uniform(0.9, 1.4, k))
    r_z = np.where(blue, br_z, rng.uniform(0.5, 0.9, k))
    return _rows(f, "ring", "ring", rng.uniform(17.8, 20.0, k), g_r, r_z, x_pix=c, y_pix=c,
                 radius_arcsec=rng.uniform(1.6, 4.5, k), width_arcsec=rng.uniform(0.2, 0.45, k),
                 q=rng.uniform(0.6, 1.0, k), pa_deg=rng.uniform(0, 180, k), amp=rng.uniform(0.0, 0.9, k),
                 n_arms=rng.integers(2, 7, k), phi_deg=rng.uniform(0, 360, k))


def _companion_round(rng, f, c):
    owner = np.repeat(np.arange(len(f)), rng.integers(1, 3, len(f)))
    k = len(owner)
    x, y, _ = _near(rng, k, 1.8, 6.0, c)
    g_r, r_z = _blue_colours(rng, k)
    return _rows(f[owner], "companion", "sersic", rng.uniform(20.0, 23.0, k), g_r, r_z, x_pix=x, y_pix=y,
                 r_e_arcsec=rng.uniform(0.2, 0.7, k), n_sersic=rng.uniform(0.5, 1.5, k),
                 q=rng.uniform(0.4, 1.0, k), pa_deg=rng.uniform(0, 180, k))


def _companion_arc(rng, f, c):
    """A single curved blue galaxy near the host: no counter-image, curvature not about the host."""
    k = len(f)
    sep = rng.uniform(2.0, 6.0, k) / PIXSCALE_ARCSEC
    ang = rng.uniform(0, 2 * np.pi, k)
    radius = rng.uniform(1.5, 5.0, k)
    # the curvature centre sits away from the host (random direction), so the arc bends the wrong way
    phi = ang + rng.uniform(-np.pi, np.pi, k) * 0.8 + np.pi
    xm, ym = c + sep * np.cos(ang), c + sep * np.sin(ang)
    r_pix = radius / PIXSCALE_ARCSEC
    g_r, r_z = _blue_colours(rng, k)
    return _rows(f, "companion", "arc", rng.uniform(19.0, 21.0, k), g_r, r_z,
                 x_pix=xm - r_pix * np.cos(phi), y_pix=ym - r_pix * np.sin(phi), radius_arcsec=radius,
                 phi_deg=np.degrees(phi), length_arcsec=rng.uniform(1.0, 2.5, k),
                 width_arcsec=rng.uniform(0.15, 0.35, k))


def _spiral(rng, f, c):
    k = len(f)
    if k == 0:
        return []
    q, pa = rng.uniform(0.45, 1.0, k), rng.uniform(0, 180, k)
    mag = rng.uniform(17.5, 19.5, k)
    h = _log_uniform(rng, 1.2, 3.2, k)
    common = dict(x_pix=c + rng.normal(0, 0.4, k), y_pix=c + rng.normal(0, 0.4, k), q=q, pa_deg=pa)
    bulge = _rows(f, "central", "sersic", mag + rng.uniform(0.3, 1.2, k), rng.uniform(1.0, 1.4, k),
                  rng.uniform(0.5, 0.8, k), r_e_arcsec=rng.uniform(0.4, 1.1, k), n_sersic=rng.uniform(2, 4, k),
                  **{**common, "q": np.clip(q + 0.2, 0, 1)})
    disc = _rows(f, "disc", "sersic", mag + rng.uniform(0.5, 1.2, k), rng.uniform(0.6, 0.95, k),
                 rng.uniform(0.35, 0.6, k), r_e_arcsec=1.678 * h, n_sersic=1.0, **common)
    g_r, r_z = _blue_colours(rng, k)
    arms = _rows(f, "arms", "spiral", mag + rng.uniform(0.2, 1.0, k), g_r, r_z, radius_arcsec=h,
                 pitch_deg=rng.uniform(12, 30, k), n_arms=np.where(rng.random(k) < 0.8, 2, 3),
                 phi_deg=rng.uniform(0, 360, k), **common)
    return [bulge, disc, arms]


def _merger(rng, f, c):
    k = len(f)
    if k == 0:
        return []
    x, y, ang = _near(rng, k, 1.2, 4.0, c)
    g_r, r_z = _red_colours(rng, k)
    mag2 = rng.uniform(18.0, 20.5, k)
    second = _rows(f, "merger", "sersic", mag2, g_r, r_z, x_pix=x, y_pix=y,
                   r_e_arcsec=_log_uniform(rng, 0.6, 2.0, k), n_sersic=rng.uniform(2, 4.5, k),
                   q=rng.uniform(0.5, 1.0, k), pa_deg=rng.uniform(0, 180, k))
    # one or two tidal tails or shells: faint, broad, the hosts' colour, curved about the pair
    owner = np.repeat(np.arange(k), rng.integers(1, 3, k))
    m = len(owner)
    cx = (c + x[owner]) / 2 + rng.normal(0, 4, m)
    cy = (c + y[owner]) / 2 + rng.normal(0, 4, m)
    t_gr, t_rz = _red_colours(rng, m)
    tails = _rows(f[owner], "tidal", "arc", mag2[owner] + rng.uniform(-0.5, 1.0, m), t_gr - 0.2, t_rz - 0.1,
                  x_pix=cx, y_pix=cy, radius_arcsec=rng.uniform(3.0, 8.0, m), phi_deg=rng.uniform(0, 360, m),
                  length_arcsec=rng.uniform(2.0, 6.0, m), width_arcsec=rng.uniform(0.4, 1.1, m))
    return [second, tails]


def _trail(rng, f, npix):
    k = len(f)
    band = rng.integers(0, 3, k)  # the bands are taken at different times: a trail is in one band
    sb = rng.uniform(6.0, 15.0, k) * np.array(SKY_SIGMA_NMGY)[band]  # peak a few sky sigma
    # total flux: the peak along a line across the field (npix long, ~2.5 pixels wide)
    mags = [np.where(band == i, nmgy_to_mag(sb * npix * 2.5), np.inf) for i in range(3)]
    lo, hi = 0.2 * (npix - 1), 0.8 * (npix - 1)
    df = _rows(f, "trail", "trail", mags[1], 0.0, 0.0, x_pix=rng.uniform(lo, hi, k), y_pix=rng.uniform(lo, hi, k),
               pa_deg=rng.uniform(0, 180, k), width_arcsec=rng.uniform(0.15, 0.35, k))
    df["mag_g"], df["mag_z"] = mags[0], mags[2]
    return df


def _bright_star(rng, f, c):
    """A bright star near the host: saturated, with spikes, a bleed trail and a ghost reflection."""
    k = len(f)
    if k == 0:
        return []
    x, y, _ = _near(rng, k, 5.0, 12.5, c)
    g_r = rng.uniform(0.3, 1.2, k)
    star = _rows(f, "bright_star", "star", rng.uniform(10.5, 13.0, k), g_r, 0.45 * g_r + rng.normal(0, 0.05, k),
                 x_pix=x, y_pix=y)
    return [star, *sky_defects.saturated_star_extras(rng, star, bleed_share=1.0)]
