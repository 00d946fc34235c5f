"""Synthetic DESI Legacy Surveys-like fields, step 1: draw a table of light components (seeded).

Each field is a square stamp (101 pixels by default) centred on a massive red galaxy or on the
core of a galaxy cluster (a red brightest cluster galaxy with red-sequence members), with field
galaxies of many colours and stars around it.  Look-alikes add what volunteers mistake for lensed
arcs: rings, blue companions (round or arc-shaped), spiral arms, mergers with tidal tails and
shells; artefacts add a satellite trail or a saturated star with diffraction spikes.

The table has one row per light component and is cheap, easy to inspect or edit; step 2,
:func:`lensfinder_nb.sim.sky_render.render_fields`, turns it into images.  Use both through
:mod:`lensfinder_nb.sim.sky`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..imaging.survey import BANDS, CUTOUT_SIZE_PX, PIXSCALE_ARCSEC, SEEING_RANGE_ARCSEC, SKY_SIGMA_NMGY, nmgy_to_mag

__all__ = ["BACKGROUND_KINDS", "LOOKALIKE_KINDS", "ARTEFACT_KINDS", "KINDS", "FIELD_COLUMNS", "draw_fields"]

BACKGROUND_KINDS = ("galaxy", "cluster")
LOOKALIKE_KINDS = ("ring", "companion", "arc_companion", "spiral", "merger")
ARTEFACT_KINDS = ("trail", "bright_star")
KINDS = BACKGROUND_KINDS + LOOKALIKE_KINDS + ARTEFACT_KINDS

#: per-field columns, repeated on each component row of the field
FIELD_COLUMNS = ["field", "kind", "seeing_g_arcsec", "seeing_r_arcsec", "seeing_z_arcsec",
                 "sky_g_nmgy", "sky_r_nmgy", "sky_z_nmgy", "noise_seed", "npix"]
_SHAPE_COLUMNS = ["x_pix", "y_pix", "r_e_arcsec", "n_sersic", "q", "pa_deg", "radius_arcsec",
                  "width_arcsec", "length_arcsec", "phi_deg", "pitch_deg", "n_arms", "amp"]


def _area(npix: int) -> float:
    """Field area relative to the default cutout (source counts scale with it)."""
    return (npix / CUTOUT_SIZE_PX) ** 2


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
        same sky.  101 pixels gives the same table as before this option existed.

    Returns
    -------
    pandas.DataFrame
        Columns ``field`` (0..n-1), ``kind``, ``component`` (central, member, field, star,
        ring, companion, arms, tidal, ...), ``profile`` (sersic, ring, arc, spiral, star,
        spikes, bleed, trail), ``mag_g``/``mag_r``/``mag_z`` (AB; inf for no light in a
        band), the shape (``x_pix``, ``y_pix`` in FITS pixels with y to the north,
        ``r_e_arcsec``, ``n_sersic``, ``q``, ``pa_deg`` east of north, ``radius_arcsec``,
        ``width_arcsec``, ``length_arcsec``, ``phi_deg``, ``pitch_deg``, ``n_arms``, ``amp``)
        and the field's conditions (``seeing_{g,r,z}_arcsec``, ``sky_{g,r,z}_nmgy``,
        ``noise_seed``) and size (``npix``), repeated on each of its rows.
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
    parts.append(_red_galaxy(rng, red_hosts, c))
    parts += _cluster_core(rng, cluster_hosts, c)
    parts += _spiral(rng, idx["spiral"], c)
    parts.append(_ring(rng, idx["ring"], c))
    parts.append(_companion_round(rng, idx["companion"], c))
    parts.append(_companion_arc(rng, idx["arc_companion"], c))
    parts += _merger(rng, idx["merger"], c)
    parts.append(_trail(rng, idx["trail"], npix))
    parts += _bright_star(rng, idx["bright_star"], c)
    parts.append(_field_galaxies(rng, np.arange(n), npix))
    parts.append(_stars(rng, np.arange(n), npix))
    table = pd.concat([p for p in parts if len(p)], ignore_index=True)
    for col in _SHAPE_COLUMNS:
        if col not in table:
            table[col] = np.nan
    table = table.sort_values("field", kind="stable").reset_index(drop=True)
    table = table.merge(fields, on="field", how="left")
    return table[["field", "kind", "component", "profile", "mag_g", "mag_r", "mag_z", *_SHAPE_COLUMNS,
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
    depth = np.exp(rng.normal(0, 0.12, n))  # number of exposures: deeper or shallower in all bands
    for b, sigma in zip(BANDS, SKY_SIGMA_NMGY):
        df[f"sky_{b}_nmgy"] = sigma * depth * np.exp(rng.normal(0, 0.05, n))
    df["noise_seed"] = rng.integers(0, 2**63 - 1, n)
    df["npix"] = np.full(n, npix, np.int64)
    return pd.DataFrame(df)


def _rows(fields, component, profile, mag_r, g_r, r_z, **shape) -> pd.DataFrame:
    mag_r = np.asarray(mag_r, dtype=float)
    df = pd.DataFrame({"field": np.asarray(fields, dtype=np.int64), "component": component, "profile": profile,
                       "mag_g": mag_r + g_r, "mag_r": mag_r, "mag_z": mag_r - r_z})
    for k, v in shape.items():
        df[k] = np.broadcast_to(np.asarray(v, dtype=float), len(df))
    return df


def _log_uniform(rng, lo, hi, k):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), k))


def _red_colours(rng, k):
    return np.clip(rng.normal(1.55, 0.15, k), 1.1, 1.95), np.clip(rng.normal(0.95, 0.10, k), 0.6, 1.25)


def _blue_colours(rng, k):
    return rng.uniform(0.0, 0.6, k), rng.uniform(-0.2, 0.6, k)


def _red_galaxy(rng, f, c, mag=(17.0, 19.5)):
    k = len(f)
    mag_r = rng.uniform(*mag, k)
    g_r, r_z = _red_colours(rng, k)
    r_e = 1.6 * 10 ** (-0.2 * (mag_r - 18.0)) * np.exp(rng.normal(0, 0.25, k))
    return _rows(f, "central", "sersic", mag_r, g_r, r_z, x_pix=c + rng.normal(0, 0.4, k),
                 y_pix=c + rng.normal(0, 0.4, k), r_e_arcsec=np.clip(r_e, 0.6, 4.0),
                 n_sersic=rng.uniform(3.0, 5.5, k), q=rng.uniform(0.55, 1.0, k), pa_deg=rng.uniform(0, 180, k))


def _cluster_core(rng, f, c):
    k = len(f)
    if k == 0:
        return []
    mag_r = rng.uniform(16.0, 18.0, k)
    g_r, r_z = _red_colours(rng, k)
    bcg = _rows(f, "central", "sersic", mag_r, g_r, r_z, x_pix=c + rng.normal(0, 0.4, k),
                y_pix=c + rng.normal(0, 0.4, k), r_e_arcsec=_log_uniform(rng, 2.0, 6.0, k),
                n_sersic=rng.uniform(4.0, 6.0, k), q=rng.uniform(0.5, 0.95, k), pa_deg=rng.uniform(0, 180, k))
    counts = rng.poisson(5.0, k) + 1
    owner = np.repeat(np.arange(k), counts)
    m = len(owner)
    r = rng.uniform(6.0, 62.0, m) ** rng.uniform(0.9, 1.0, m)
    ang = rng.uniform(0, 2 * np.pi, m)
    dmag = rng.uniform(1.0, 4.5, m)
    members = _rows(f[owner], "member", "sersic", mag_r[owner] + dmag,
                    g_r[owner] - 0.04 * dmag + rng.normal(0, 0.04, m),
                    r_z[owner] - 0.02 * dmag + rng.normal(0, 0.03, m),
                    x_pix=bcg["x_pix"].to_numpy()[owner] + r * np.cos(ang),
                    y_pix=bcg["y_pix"].to_numpy()[owner] + r * np.sin(ang),
                    r_e_arcsec=_log_uniform(rng, 0.4, 1.6, m), n_sersic=rng.uniform(2.5, 4.5, m),
                    q=rng.uniform(0.5, 1.0, m), pa_deg=rng.uniform(0, 180, m))
    return [bcg, members]


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
    k = len(f)
    if k == 0:
        return []
    x, y, _ = _near(rng, k, 5.0, 12.5, c)
    mag = rng.uniform(10.5, 13.0, k)
    g_r = rng.uniform(0.3, 1.2, k)
    r_z = 0.45 * g_r + rng.normal(0, 0.05, k)
    common = dict(x_pix=x, y_pix=y)
    star = _rows(f, "bright_star", "star", mag, g_r, r_z, **common)
    spikes = _rows(f, "spikes", "spikes", mag + rng.uniform(4.0, 5.5, k), g_r, r_z,
                   pa_deg=rng.uniform(-8, 8, k), length_arcsec=rng.uniform(2, 5, k), **common)
    bleed = _rows(f, "bleed", "bleed", mag + rng.uniform(3.5, 4.5, k), g_r, r_z,
                  length_arcsec=rng.uniform(2, 6, k), **common)
    return [star, spikes, bleed]


def _power_law_mags(rng, k, lo, hi, slope):
    a, b = 10 ** (slope * lo), 10 ** (slope * hi)
    return np.log10(a + rng.random(k) * (b - a)) / slope


def _field_galaxies(rng, f, npix):
    owner = np.repeat(f, rng.poisson(4.5 * _area(npix), len(f)))
    k = len(owner)
    mag_r = _power_law_mags(rng, k, 19.5, 24.5, 0.3)
    blue = rng.random(k) < 0.65
    bg_r, br_z = _blue_colours(rng, k)
    rg_r, rr_z = _red_colours(rng, k)
    g_r, r_z = np.where(blue, bg_r + 0.2, rg_r - 0.2), np.where(blue, br_z + 0.1, rr_z)
    r_e = 0.9 * 10 ** (-0.12 * (mag_r - 20.0)) * np.exp(rng.normal(0, 0.3, k))
    return _rows(owner, "field", "sersic", mag_r, g_r, r_z, x_pix=rng.uniform(-8, npix + 7, k),
                 y_pix=rng.uniform(-8, npix + 7, k), r_e_arcsec=np.clip(r_e, 0.12, 2.5),
                 n_sersic=np.where(blue, rng.uniform(0.7, 2.0, k), rng.uniform(2.5, 4.0, k)),
                 q=rng.uniform(0.25, 1.0, k), pa_deg=rng.uniform(0, 180, k))


def _stars(rng, f, npix):
    owner = np.repeat(f, rng.poisson(1.3 * _area(npix), len(f)))
    k = len(owner)
    g_r = rng.uniform(0.3, 1.6, k)
    r_z = np.where(g_r < 1.3, 0.45 * g_r, 0.6 + 2.5 * (g_r - 1.3)) + rng.normal(0, 0.05, k)
    return _rows(owner, "star", "star", _power_law_mags(rng, k, 16.0, 23.5, 0.15), g_r, r_z,
                 x_pix=rng.uniform(0, npix - 1, k), y_pix=rng.uniform(0, npix - 1, k))
