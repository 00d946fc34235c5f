"""Synthetic DESI Legacy Surveys-like g, r, z cutouts: a parameter table first, images second.

Each field is a 101 x 101 pixel stamp at 0.262 arcsec/pixel in nanomaggies (AB zero point
22.5), centred on a massive red galaxy or on the core of a galaxy cluster (a red brightest
cluster galaxy with red-sequence members), with field galaxies of many colours and stars
around it.  Look-alikes add what volunteers mistake for lensed arcs: rings, blue companions
(round or arc-shaped), spiral arms, mergers with tidal tails and shells; artefacts add a
satellite trail or a saturated star with diffraction spikes.

Two steps, as in photutils' simulations:

1. :func:`draw_fields` draws a table with one row per light component (seeded, cheap, easy
   to inspect or edit);
2. :func:`render_fields` turns the table into cubes of shape (field, band, ny, nx), band
   order g, r, z, FITS orientation (row 0 is the south edge).

Extended components are Sersic, ring, arc or spiral profiles evaluated on the pixel grid
and convolved with a Gaussian PSF of the field's seeing per band; stars are Moffat PSFs.
Noise is the sky (per-pixel sigma per band, mildly correlated between neighbouring pixels
as in resampled coadds) plus the sources' own shot noise.

Example
-------
>>> table = draw_fields(2, seed=1, kind="cluster")
>>> cubes = render_fields(table)
>>> cubes.shape, cubes.dtype.name
((2, 3, 101, 101), 'float32')
>>> seeing, sky = conditions(table)
>>> seeing.shape, bool((seeing > 1.0).all() and (seeing < 1.6).all())
((2, 3), True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "BANDS", "NPIX", "PIXSCALE_ARCSEC", "ZERO_POINT", "SKY_SIGMA_NMGY", "SEEING_RANGE_ARCSEC",
    "ELECTRONS_PER_NMGY", "BACKGROUND_KINDS", "LOOKALIKE_KINDS", "ARTEFACT_KINDS", "KINDS",
    "draw_fields", "render_fields", "conditions", "field_table", "mag_to_nmgy",
]

BANDS = ("g", "r", "z")
NPIX = 101
PIXSCALE_ARCSEC = 0.262
ZERO_POINT = 22.5
#: typical sky noise per pixel (nanomaggies) of DECaLS DR9 coadds, g, r, z
SKY_SIGMA_NMGY = (0.003, 0.006, 0.013)
#: typical seeing FWHM (arcsec) per band, (low, high)
SEEING_RANGE_ARCSEC = ((1.30, 1.50), (1.20, 1.30), (1.10, 1.25))
#: electrons per nanomaggy, for the shot noise of sources
ELECTRONS_PER_NMGY = (1.1e4, 1.0e4, 1.2e4)

BACKGROUND_KINDS = ("galaxy", "cluster")
LOOKALIKE_KINDS = ("ring", "companion", "arc_companion", "spiral", "merger")
ARTEFACT_KINDS = ("trail", "bright_star")
KINDS = BACKGROUND_KINDS + LOOKALIKE_KINDS + ARTEFACT_KINDS

_CENTRE = (NPIX - 1) / 2.0
_PROFILES_CONVOLVED = ("sersic", "ring", "arc", "spiral", "trail")
_SHAPE_COLUMNS = ["x_pix", "y_pix", "r_e_arcsec", "n_sersic", "q", "pa_deg", "radius_arcsec",
                  "width_arcsec", "length_arcsec", "phi_deg", "pitch_deg", "n_arms", "amp"]
_FIELD_COLUMNS = ["field", "kind", "seeing_g_arcsec", "seeing_r_arcsec", "seeing_z_arcsec",
                  "sky_g_nmgy", "sky_r_nmgy", "sky_z_nmgy", "noise_seed"]


def mag_to_nmgy(mag):
    """AB magnitude to nanomaggies (zero point 22.5); NaN or +inf give 0."""
    mag = np.asarray(mag, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        flux = 10.0 ** (-0.4 * (mag - ZERO_POINT))
    return np.where(np.isfinite(flux), flux, 0.0)


# ---------------------------------------------------------------------------- drawing
def draw_fields(n: int, seed=None, kind: str | Sequence[str] = "galaxy") -> pd.DataFrame:
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
        ``noise_seed``), repeated on each of its rows.
    """
    rng = np.random.default_rng(seed)
    kinds = _resolve_kinds(n, kind, rng)
    fields = _draw_conditions(rng, kinds)
    idx = {k: np.flatnonzero(kinds == k) for k in KINDS}
    parts = []
    # hosts: a red galaxy for most, a cluster core for clusters (and some artefact fields)
    art = np.concatenate([idx["trail"], idx["bright_star"]])
    art_cluster = art[rng.random(len(art)) < 0.25]
    red_hosts = np.setdiff1d(np.concatenate([idx["galaxy"], *(idx[k] for k in LOOKALIKE_KINDS if k != "spiral"),
                                             art]), art_cluster)
    cluster_hosts = np.sort(np.concatenate([idx["cluster"], art_cluster]))
    parts.append(_red_galaxy(rng, red_hosts))
    parts += _cluster_core(rng, cluster_hosts)
    parts += _spiral(rng, idx["spiral"])
    parts.append(_ring(rng, idx["ring"]))
    parts.append(_companion_round(rng, idx["companion"]))
    parts.append(_companion_arc(rng, idx["arc_companion"]))
    parts += _merger(rng, idx["merger"])
    parts.append(_trail(rng, idx["trail"]))
    parts += _bright_star(rng, idx["bright_star"])
    parts.append(_field_galaxies(rng, np.arange(n)))
    parts.append(_stars(rng, np.arange(n)))
    table = pd.concat([p for p in parts if len(p)], ignore_index=True)
    for col in _SHAPE_COLUMNS:
        if col not in table:
            table[col] = np.nan
    table = table.sort_values("field", kind="stable").reset_index(drop=True)
    table = table.merge(fields, on="field", how="left")
    return table[["field", "kind", "component", "profile", "mag_g", "mag_r", "mag_z", *_SHAPE_COLUMNS,
                  *_FIELD_COLUMNS[2:]]]


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


def _draw_conditions(rng, kinds) -> pd.DataFrame:
    n = len(kinds)
    t = rng.random(n)  # one atmosphere per field: the bands' seeing is correlated
    df = {"field": np.arange(n), "kind": kinds}
    for b, (lo, hi) in zip(BANDS, SEEING_RANGE_ARCSEC):
        df[f"seeing_{b}_arcsec"] = lo + (hi - lo) * np.clip(t + rng.normal(0, 0.15, n), 0, 1)
    depth = np.exp(rng.normal(0, 0.12, n))  # number of exposures: deeper or shallower in all bands
    for b, sigma in zip(BANDS, SKY_SIGMA_NMGY):
        df[f"sky_{b}_nmgy"] = sigma * depth * np.exp(rng.normal(0, 0.05, n))
    df["noise_seed"] = rng.integers(0, 2**63 - 1, n)
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


def _red_galaxy(rng, f, mag=(17.0, 19.5)):
    k = len(f)
    mag_r = rng.uniform(*mag, k)
    g_r, r_z = _red_colours(rng, k)
    r_e = 1.6 * 10 ** (-0.2 * (mag_r - 18.0)) * np.exp(rng.normal(0, 0.25, k))
    return _rows(f, "central", "sersic", mag_r, g_r, r_z, x_pix=_CENTRE + rng.normal(0, 0.4, k),
                 y_pix=_CENTRE + rng.normal(0, 0.4, k), r_e_arcsec=np.clip(r_e, 0.6, 4.0),
                 n_sersic=rng.uniform(3.0, 5.5, k), q=rng.uniform(0.55, 1.0, k), pa_deg=rng.uniform(0, 180, k))


def _cluster_core(rng, f):
    k = len(f)
    if k == 0:
        return []
    mag_r = rng.uniform(16.0, 18.0, k)
    g_r, r_z = _red_colours(rng, k)
    bcg = _rows(f, "central", "sersic", mag_r, g_r, r_z, x_pix=_CENTRE + rng.normal(0, 0.4, k),
                y_pix=_CENTRE + rng.normal(0, 0.4, k), r_e_arcsec=_log_uniform(rng, 2.0, 6.0, k),
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


def _near(rng, k, r_lo, r_hi):
    r = rng.uniform(r_lo, r_hi, k) / PIXSCALE_ARCSEC
    ang = rng.uniform(0, 2 * np.pi, k)
    return _CENTRE + r * np.cos(ang), _CENTRE + r * np.sin(ang), ang


def _ring(rng, f):
    k = len(f)
    blue = rng.random(k) < 0.75  # star-forming rings; the rest are old stellar rings
    bg_r, br_z = _blue_colours(rng, k)
    g_r = np.where(blue, bg_r + 0.2, rng.uniform(0.9, 1.4, k))
    r_z = np.where(blue, br_z, rng.uniform(0.5, 0.9, k))
    return _rows(f, "ring", "ring", rng.uniform(17.8, 20.0, k), g_r, r_z, x_pix=_CENTRE, y_pix=_CENTRE,
                 radius_arcsec=rng.uniform(1.6, 4.5, k), width_arcsec=rng.uniform(0.2, 0.45, k),
                 q=rng.uniform(0.6, 1.0, k), pa_deg=rng.uniform(0, 180, k), amp=rng.uniform(0.0, 0.9, k),
                 n_arms=rng.integers(2, 7, k), phi_deg=rng.uniform(0, 360, k))


def _companion_round(rng, f):
    owner = np.repeat(np.arange(len(f)), rng.integers(1, 3, len(f)))
    k = len(owner)
    x, y, _ = _near(rng, k, 1.8, 6.0)
    g_r, r_z = _blue_colours(rng, k)
    return _rows(f[owner], "companion", "sersic", rng.uniform(20.0, 23.0, k), g_r, r_z, x_pix=x, y_pix=y,
                 r_e_arcsec=rng.uniform(0.2, 0.7, k), n_sersic=rng.uniform(0.5, 1.5, k),
                 q=rng.uniform(0.4, 1.0, k), pa_deg=rng.uniform(0, 180, k))


def _companion_arc(rng, f):
    """A single curved blue galaxy near the host: no counter-image, curvature not about the host."""
    k = len(f)
    sep = rng.uniform(2.0, 6.0, k) / PIXSCALE_ARCSEC
    ang = rng.uniform(0, 2 * np.pi, k)
    radius = rng.uniform(1.5, 5.0, k)
    # the curvature centre sits away from the host (random direction), so the arc bends the wrong way
    phi = ang + rng.uniform(-np.pi, np.pi, k) * 0.8 + np.pi
    xm, ym = _CENTRE + sep * np.cos(ang), _CENTRE + sep * np.sin(ang)
    r_pix = radius / PIXSCALE_ARCSEC
    g_r, r_z = _blue_colours(rng, k)
    return _rows(f, "companion", "arc", rng.uniform(19.0, 21.0, k), g_r, r_z,
                 x_pix=xm - r_pix * np.cos(phi), y_pix=ym - r_pix * np.sin(phi), radius_arcsec=radius,
                 phi_deg=np.degrees(phi), length_arcsec=rng.uniform(1.0, 2.5, k),
                 width_arcsec=rng.uniform(0.15, 0.35, k))


def _spiral(rng, f):
    k = len(f)
    if k == 0:
        return []
    q, pa = rng.uniform(0.45, 1.0, k), rng.uniform(0, 180, k)
    mag = rng.uniform(17.5, 19.5, k)
    h = _log_uniform(rng, 1.2, 3.2, k)
    common = dict(x_pix=_CENTRE + rng.normal(0, 0.4, k), y_pix=_CENTRE + rng.normal(0, 0.4, k), q=q, pa_deg=pa)
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


def _merger(rng, f):
    k = len(f)
    if k == 0:
        return []
    x, y, ang = _near(rng, k, 1.2, 4.0)
    g_r, r_z = _red_colours(rng, k)
    mag2 = rng.uniform(18.0, 20.5, k)
    second = _rows(f, "merger", "sersic", mag2, g_r, r_z, x_pix=x, y_pix=y,
                   r_e_arcsec=_log_uniform(rng, 0.6, 2.0, k), n_sersic=rng.uniform(2, 4.5, k),
                   q=rng.uniform(0.5, 1.0, k), pa_deg=rng.uniform(0, 180, k))
    # one or two tidal tails or shells: faint, broad, the hosts' colour, curved about the pair
    owner = np.repeat(np.arange(k), rng.integers(1, 3, k))
    m = len(owner)
    cx = (_CENTRE + x[owner]) / 2 + rng.normal(0, 4, m)
    cy = (_CENTRE + y[owner]) / 2 + rng.normal(0, 4, m)
    t_gr, t_rz = _red_colours(rng, m)
    tails = _rows(f[owner], "tidal", "arc", mag2[owner] + rng.uniform(-0.5, 1.0, m), t_gr - 0.2, t_rz - 0.1,
                  x_pix=cx, y_pix=cy, radius_arcsec=rng.uniform(3.0, 8.0, m), phi_deg=rng.uniform(0, 360, m),
                  length_arcsec=rng.uniform(2.0, 6.0, m), width_arcsec=rng.uniform(0.4, 1.1, m))
    return [second, tails]


def _trail(rng, f):
    k = len(f)
    band = rng.integers(0, 3, k)  # the bands are taken at different times: a trail is in one band
    sb = rng.uniform(6.0, 15.0, k) * np.array(SKY_SIGMA_NMGY)[band]  # peak a few sky sigma
    mags = [np.where(band == i, 22.5 - 2.5 * np.log10(sb * 101 * 2.5), np.inf) for i in range(3)]
    df = _rows(f, "trail", "trail", mags[1], 0.0, 0.0, x_pix=rng.uniform(20, 80, k), y_pix=rng.uniform(20, 80, k),
               pa_deg=rng.uniform(0, 180, k), width_arcsec=rng.uniform(0.15, 0.35, k))
    df["mag_g"], df["mag_z"] = mags[0], mags[2]
    return df


def _bright_star(rng, f):
    k = len(f)
    if k == 0:
        return []
    x, y, _ = _near(rng, k, 5.0, 12.5)
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


def _field_galaxies(rng, f):
    owner = np.repeat(f, rng.poisson(4.5, len(f)))
    k = len(owner)
    mag_r = _power_law_mags(rng, k, 19.5, 24.5, 0.3)
    blue = rng.random(k) < 0.65
    bg_r, br_z = _blue_colours(rng, k)
    rg_r, rr_z = _red_colours(rng, k)
    g_r, r_z = np.where(blue, bg_r + 0.2, rg_r - 0.2), np.where(blue, br_z + 0.1, rr_z)
    r_e = 0.9 * 10 ** (-0.12 * (mag_r - 20.0)) * np.exp(rng.normal(0, 0.3, k))
    return _rows(owner, "field", "sersic", mag_r, g_r, r_z, x_pix=rng.uniform(-8, NPIX + 7, k),
                 y_pix=rng.uniform(-8, NPIX + 7, k), r_e_arcsec=np.clip(r_e, 0.12, 2.5),
                 n_sersic=np.where(blue, rng.uniform(0.7, 2.0, k), rng.uniform(2.5, 4.0, k)),
                 q=rng.uniform(0.25, 1.0, k), pa_deg=rng.uniform(0, 180, k))


def _stars(rng, f):
    owner = np.repeat(f, rng.poisson(1.3, len(f)))
    k = len(owner)
    g_r = rng.uniform(0.3, 1.6, k)
    r_z = np.where(g_r < 1.3, 0.45 * g_r, 0.6 + 2.5 * (g_r - 1.3)) + rng.normal(0, 0.05, k)
    return _rows(owner, "star", "star", _power_law_mags(rng, k, 16.0, 23.5, 0.15), g_r, r_z,
                 x_pix=rng.uniform(0, NPIX - 1, k), y_pix=rng.uniform(0, NPIX - 1, k))


# ---------------------------------------------------------------------------- rendering
def field_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per field: field, kind, seeing_{g,r,z}_arcsec, sky_{g,r,z}_nmgy, noise_seed."""
    return table.drop_duplicates("field")[_FIELD_COLUMNS].sort_values("field").reset_index(drop=True)


def conditions(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Seeing FWHM (arcsec) and sky sigma (nanomaggies per pixel), each of shape (field, band)."""
    f = field_table(table)
    return (f[[f"seeing_{b}_arcsec" for b in BANDS]].to_numpy(float),
            f[[f"sky_{b}_nmgy" for b in BANDS]].to_numpy(float))


def render_fields(table: pd.DataFrame, *, noise: bool = True, chunk: int = 32) -> np.ndarray:
    """Render the fields of a :func:`draw_fields` table.

    Returns float32 nanomaggies of shape (field, band, ny, nx) = (n, 3, 101, 101), fields in
    the order of ``table.field`` (sorted), bands g, r, z, FITS orientation (row 0 = south).
    Each field's noise comes from its own ``noise_seed``: rendering a subset of the fields
    gives the same pixels as rendering all of them.
    """
    fields = field_table(table)
    out = np.empty((len(fields), 3, NPIX, NPIX), np.float32)
    yy, xx = np.mgrid[0:NPIX, 0:NPIX].astype(np.float32)
    for start in range(0, len(fields), chunk):
        part = fields.iloc[start:start + chunk]
        rows = table[table["field"].isin(part["field"])]
        local = pd.Index(part["field"]).get_indexer(rows["field"])
        out[start:start + len(part)] = _render_chunk(rows, local, part, xx, yy, noise)
    return out


def _render_chunk(rows, local, part, xx, yy, noise) -> np.ndarray:
    m = len(part)
    seeing = part[[f"seeing_{b}_arcsec" for b in BANDS]].to_numpy(float)
    flux = np.stack([mag_to_nmgy(rows[f"mag_{b}"].to_numpy()) for b in BANDS], axis=1)
    img = np.zeros((m, 3, NPIX, NPIX), np.float32)
    profile = rows["profile"].to_numpy()
    _paint(img, _SHAPES, rows, profile, local, flux, xx, yy)
    img = _convolve_gaussian(img, seeing / 2.3548 / PIXSCALE_ARCSEC)
    _paint(img, _UNCONVOLVED, rows, profile, local, flux, xx, yy)
    sel = np.flatnonzero(profile == "star")
    for i in sel:
        fwhm = seeing[local[i]] / PIXSCALE_ARCSEC
        img[local[i]] += _moffat(rows["x_pix"].iat[i], rows["y_pix"].iat[i], fwhm, xx, yy) * \
            flux[i, :, None, None].astype(np.float32)
    if noise:
        sky = part[[f"sky_{b}_nmgy" for b in BANDS]].to_numpy(np.float32)
        gain = np.array(ELECTRONS_PER_NMGY, np.float32)[:, None, None]
        for j, seed in enumerate(part["noise_seed"].to_numpy()):
            sigma = np.sqrt(sky[j][:, None, None] ** 2 + np.maximum(img[j], 0) / gain)
            img[j] += sigma * _correlated_normal(np.random.default_rng(int(seed)))
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


def _correlated_normal(rng) -> np.ndarray:
    """Unit-variance noise of shape (3, NPIX, NPIX) with the mild pixel correlation of coadds."""
    w = rng.standard_normal((3, NPIX + 2, NPIX + 2), dtype=np.float32)
    w = 0.25 * w[:, :-2] + 0.5 * w[:, 1:-1] + 0.25 * w[:, 2:]
    w = 0.25 * w[:, :, :-2] + 0.5 * w[:, :, 1:-1] + 0.25 * w[:, :, 2:]
    return w / np.float32(0.375)


def _convolve_gaussian(img: np.ndarray, sigma_pix: np.ndarray) -> np.ndarray:
    """Convolve (m, 3, ny, nx) with a Gaussian of sigma (m, 3) pixels (FFT, padded against wrap)."""
    size = 128
    ky = np.fft.fftfreq(size)[:, None]
    kx = np.fft.rfftfreq(size)[None, :]
    k2 = (kx ** 2 + ky ** 2)[None, None]
    transfer = np.exp(-2 * np.pi ** 2 * (sigma_pix[:, :, None, None] ** 2) * k2)
    spec = np.fft.rfft2(img, s=(size, size)) * transfer
    return np.fft.irfft2(spec, s=(size, size))[:, :, :NPIX, :NPIX].astype(np.float32)


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
    n = _get(rows, "n_sersic")
    r_e = np.maximum(_get(rows, "r_e_arcsec") / PIXSCALE_ARCSEC, 0.3)
    q = np.maximum(_get(rows, "q"), 0.05)
    b = 2 * n - 1 / 3 + 4 / (405 * n) + 46 / (25515 * n ** 2)
    u, v = _elliptical(rows, xx, yy)
    r = np.sqrt(u * u + v * v + 0.1) / r_e  # softened: the pixel, not the cusp, at the centre
    img = np.exp(-b * (r ** (1 / n) - 1))
    total = 2 * np.pi * q * r_e ** 2 * n * np.exp(b) * b ** (-2 * n) * _gamma(2 * n)
    return img / total


_gamma = np.vectorize(math.gamma, otypes=[np.float32])


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


_SHAPES = {"sersic": _shape_sersic, "ring": _shape_ring, "arc": _shape_arc, "spiral": _shape_spiral,
           "trail": _shape_trail}
_UNCONVOLVED = {"spikes": _shape_spikes, "bleed": _shape_bleed}


def _moffat(x, y, fwhm_pix, xx, yy, beta: float = 3.5) -> np.ndarray:
    """Unit-flux Moffat PSFs of shape (band, ny, nx) for FWHMs (band,) in pixels."""
    alpha = (np.asarray(fwhm_pix, np.float32) / (2 * np.sqrt(2 ** (1 / beta) - 1)))[:, None, None]
    r2 = (xx - np.float32(x)) ** 2 + (yy - np.float32(y)) ** 2
    return ((beta - 1) / (np.pi * alpha ** 2) * (1 + r2[None] / alpha ** 2) ** (-beta)).astype(np.float32)
