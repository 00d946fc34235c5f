"""Mock-lens parameter tables: the priors, seeded draws and where the source sits behind the lens.

The priors follow the observed population of galaxy-scale lenses, not the brightest textbook
cases; ``docs/realism.md`` gives each one's source and the reasons. Sources are placed by
population (``source_region="population"``, the galaxy-scale default): a share of nearly
centred sources (Einstein rings), most at 0.1-0.4 theta_E (arcs) and a share of doubles
(outside the tangential caustic, inside the cut), each uniform in area.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cluster import _cluster_caustic, _draw_cluster_lenses
from .galaxy import _draw_galaxy_lenses, _galaxy_caustics
from .priors import HalfNormal, Integers, LogNormal
from .source import draw_source_light


#: the priors: a ``(low, high)`` tuple is uniform, else a :mod:`~lensfinder_nb.sim.priors` spec;
#: override any with ``**ranges``.  The background source is the same at both scales: faint
#: (unlensed r 23-26), small, knotty (a Sersic body with 1-4 Gaussian clumps, see ``sim/source.py``)
#: and redder than a rest-frame blue galaxy, as arcs in the Legacy Surveys are measured to be.
_SOURCE_RANGES = {
    "z_source": (1.0, 3.0),
    "src_n_sersic": (0.5, 2.0),
    "src_r_e_arcsec": (0.15, 0.5),
    "src_q": (0.3, 1.0),
    "src_mag_r": (23.0, 26.0),
    "src_g_r": (0.3, 1.3),  # observed-frame colours of the whole source (see docs/realism.md)
    "src_r_z": (0.3, 1.1),
    "src_n_clumps": Integers(1, 4),
    "src_clump_frac": (0.1, 0.4),  # share of the source's r flux in all its clumps
    "src_clump_sigma_arcsec": (0.06, 0.12),  # Gaussian sigma of each clump (source plane)
    "src_clump_dgr": (-0.4, 0.0),  # clump g - r minus the source's: star-forming knots are bluer
    "src_clump_drz": (-0.3, 0.0),
}

#: shares of the three kinds of source position (galaxy scale, ``source_region="population"``)
#: and their ranges of beta / theta_E (beta: distance of the source centre from the lens centre)
SOURCE_SHARES = {"ring": 0.10, "arc": 0.70, "double": 0.20}
BETA_OVER_THETA_E = {"ring": (0.0, 0.1), "arc": (0.1, 0.4), "double": (0.4, 0.8)}

DEFAULT_RANGES = {
    "galaxy": {
        "theta_e_arcsec": LogNormal(median=1.3, sigma_ln=0.35, lo=0.7, hi=3.2),
        "sigma_v_kms": None,  # e.g. (180, 320): theta_E from SIS sigma_v and redshifts instead
        "lens_q": (0.5, 1.0),
        "shear_gamma": HalfNormal(sigma=0.05, hi=0.2),
        "lens_offset_arcsec": 0.1,  # lens centre uniform in a square of this half-width
        "z_lens": (0.2, 0.7),
        **_SOURCE_RANGES,
        "source_region": "population",  # or "caustic" (inside the tangential caustic) or "multiple" (caustic or cut)
        "source_shares": SOURCE_SHARES,
    },
    "cluster": {
        "theta_e_arcsec": (4.0, 20.0),  # accepted window of the effective Einstein radius
        "m200_msun": (1e14, 1e15),  # log-uniform
        "c200": (4.0, 5.0),
        "bcg_sigma_v_kms": (250.0, 400.0),
        "lens_q": (0.6, 1.0),
        "shear_gamma": (0.0, 0.1),
        "lens_offset_arcsec": 0.3,
        "z_lens": (0.1, 0.6),
        **_SOURCE_RANGES,
        "source_region": "caustic",
    },
}


def _inside(px, py, vx, vy):
    """Even-odd point-in-polygon: points (n, t) against closed polygons (n, k)."""
    vx1, vy1 = np.roll(vx, -1, axis=1), np.roll(vy, -1, axis=1)
    vx, vy, vx1, vy1 = (a[:, None, :] for a in (vx, vy, vx1, vy1))
    px, py = px[:, :, None], py[:, :, None]
    straddle = (vy > py) != (vy1 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = vx + (py - vy) * (vx1 - vx) / (vy1 - vy)
    return (np.count_nonzero(straddle & (px < x_cross), axis=2) % 2) == 1


def _keep_first_hits(out, todo, px, py, ok):
    """One rejection round: rows of ``todo`` with an accepted try (``ok`` (rows, tries)) take their
    first accepted point into ``out``; returns the rows still to place."""
    hit = ok.any(1)
    first = ok.argmax(1)
    rows = todo[hit]
    out[rows, 0] = px[hit, first[hit]]
    out[rows, 1] = py[hit, first[hit]]
    return todo[~hit]


def _sample_in_regions(rng, polygons, n_try=16, max_rounds=200):
    """Uniform point inside the union of polygons [(vx, vy), ...] per row (rejection)."""
    n = polygons[0][0].shape[0]
    lo_x = np.min([p[0].min(1) for p in polygons], axis=0)
    hi_x = np.max([p[0].max(1) for p in polygons], axis=0)
    lo_y = np.min([p[1].min(1) for p in polygons], axis=0)
    hi_y = np.max([p[1].max(1) for p in polygons], axis=0)
    out = np.full((n, 2), np.nan)
    todo = np.arange(n)
    for _ in range(max_rounds):
        if todo.size == 0:
            break
        u = rng.random((todo.size, n_try, 2))
        px = lo_x[todo, None] + u[..., 0] * (hi_x - lo_x)[todo, None]
        py = lo_y[todo, None] + u[..., 1] * (hi_y - lo_y)[todo, None]
        ok = np.zeros(px.shape, bool)
        for vx, vy in polygons:
            ok |= _inside(px, py, vx[todo], vy[todo])
        todo = _keep_first_hits(out, todo, px, py, ok)
    return out


#: how a lens's mass follows its light when the light is given (``lens=``): SLACS lenses' SIE and light
#: position angles agree to about 10 deg and q_SIE / q_light = 0.99 +/- 0.11 (Koopmans et al. 2006,
#: ApJ 649, 599); the mass axis ratio stays within :data:`MASS_Q_MIN` and 1
MASS_LIGHT_PA_SCATTER_DEG, MASS_LIGHT_Q_SCATTER, MASS_Q_MIN = 10.0, 0.11, 0.3

#: per-row lens overrides :func:`draw_mock_params` accepts in ``lens=`` (NaN keeps the draw).
LENS_OVERRIDES = ("lens_x_arcsec", "lens_y_arcsec", "lens_phi_rad", "lens_q")


def draw_mock_params(n: int, seed: int | np.random.Generator, scale: str = "galaxy", *, lens=None,
                     **ranges) -> pd.DataFrame:
    """Draw a table of mock-lens parameters, one row per mock.

    Parameters
    ----------
    n : int
        Number of mocks.
    seed : int or numpy.random.Generator
        Seed for ``np.random.default_rng``; the same seed gives the same table.
    scale : {"galaxy", "cluster"}
        ``galaxy``: SIE + external shear, ``theta_e_arcsec`` lognormal with median 1.3", clipped to
        0.7-3.2" (or from ``sigma_v_kms`` and the redshifts). ``cluster``: spherical NFW halo (``m200_msun`` log-uniform, ``c200``) plus an SIE
        BCG and shear, angles from the redshifts through lenstronomy's ``LensCosmo``; draws whose
        effective Einstein radius falls outside ``theta_e_arcsec`` (default 4-20") are redrawn.
    lens : DataFrame or dict of arrays, optional
        Per-row values that replace the drawn ones (NaN keeps the draw), e.g. the centre and
        orientation of the cutout's central galaxy so that lens light and mass line up:
        ``lens_x_arcsec, lens_y_arcsec, lens_phi_rad, lens_q``. For clusters, ``z_lens`` with
        ``m500_msun`` or ``m200_msun`` make the Einstein radius catalogue-driven; rows whose
        catalogue cluster cannot reach the ``theta_e_arcsec`` window come back with NaN
        ``theta_e_arcsec`` and source position (the caller rejects them).
    **ranges
        Override any key of ``DEFAULT_RANGES[scale]`` (``(low, high)`` tuples are uniform, or a
        :mod:`~lensfinder_nb.sim.priors` spec). ``source_region`` is ``"population"`` (galaxies'
        default: rings, arcs and doubles in the shares ``source_shares``, see :data:`BETA_OVER_THETA_E`),
        ``"caustic"`` (inside the tangential caustic: quads, rings, bright arcs; clusters' default) or,
        for galaxies, ``"multiple"`` (inside the caustic or the cut: any multiply imaged position).

    Returns
    -------
    pandas.DataFrame
        Columns: ``scale, z_lens, z_source, theta_e_arcsec, lens_x_arcsec, lens_y_arcsec, lens_q,
        lens_phi_rad, gamma1, gamma2, src_region`` (ring, arc, double, caustic or multiple)``,
        src_beta_over_theta_e, src_x_arcsec, src_y_arcsec, src_n_sersic, src_r_e_arcsec, src_q,
        src_phi_rad, src_mag_g, src_mag_r, src_mag_z`` (total unlensed AB magnitudes), the clumps'
        columns (:mod:`~lensfinder_nb.sim.source`) and
        ``sigma_v_kms`` (galaxy; NaN when theta_E was drawn directly) or ``m200_msun, c200,
        nfw_rs_arcsec, nfw_alpha_rs_arcsec, bcg_theta_e_arcsec, bcg_sigma_v_kms`` (cluster, where
        ``lens_*`` describe the BCG and the NFW shares its centre).
    """
    if scale not in DEFAULT_RANGES:
        raise ValueError(f"scale must be 'galaxy' or 'cluster', not {scale!r}")
    unknown = set(ranges) - set(DEFAULT_RANGES[scale])
    if unknown:
        raise TypeError(f"unknown range(s) for scale={scale!r}: {sorted(unknown)}; "
                        f"known: {sorted(DEFAULT_RANGES[scale])}")
    r = {**DEFAULT_RANGES[scale], **ranges}
    if r["source_region"] not in ("population", "caustic", "multiple") or (
            scale == "cluster" and r["source_region"] != "caustic"):
        raise ValueError(f"source_region {r['source_region']!r} not supported for scale={scale!r}")
    rng = np.random.default_rng(seed)
    n = int(n)
    if lens is not None:
        lens = pd.DataFrame(lens).reset_index(drop=True)
        if len(lens) != n:
            raise ValueError(f"lens overrides have {len(lens)} rows for {n} draws")
    if scale == "galaxy":
        df = _draw_galaxy_lenses(rng, n, r)
    else:
        df = _draw_cluster_lenses(rng, n, r, fixed=lens)
    if lens is not None:
        for col in LENS_OVERRIDES:
            if col in lens:
                v = lens[col].to_numpy(float)
                df[col] = np.where(np.isfinite(v), v, df[col].to_numpy(float))
        _mass_follows_light(rng, df, lens)
    df.insert(0, "scale", scale)
    _draw_sources(rng, df, r)
    return df


def _mass_follows_light(rng, df: pd.DataFrame, lens: pd.DataFrame) -> None:
    """Where the light gave the mass its orientation and axis ratio, scatter them as lenses scatter
    (:data:`MASS_LIGHT_PA_SCATTER_DEG`, :data:`MASS_LIGHT_Q_SCATTER`)."""
    n = len(df)
    dphi = np.radians(MASS_LIGHT_PA_SCATTER_DEG) * rng.standard_normal(n)
    fq = 1.0 + MASS_LIGHT_Q_SCATTER * rng.standard_normal(n)
    if "lens_phi_rad" in lens:
        given = np.isfinite(lens["lens_phi_rad"].to_numpy(float))
        phi = df["lens_phi_rad"].to_numpy(float)
        df["lens_phi_rad"] = np.where(given, (phi + dphi) % np.pi, phi)
    if "lens_q" in lens:
        given = np.isfinite(lens["lens_q"].to_numpy(float))
        q = df["lens_q"].to_numpy(float)
        df["lens_q"] = np.where(given, np.clip(q * fq, MASS_Q_MIN, 1.0), q)


def _draw_sources(rng, df, r):
    n = len(df)
    light = draw_source_light(rng, n, r)
    pos = np.full((n, 2), np.nan)
    region = np.full(n, r["source_region"], dtype=object)
    valid = np.isfinite(df["theta_e_arcsec"].to_numpy(float))  # NaN: a catalogue cluster out of the window
    if n and df["z_lens"].size:
        if df["scale"].iloc[0] == "galaxy":
            caustic, cut = _galaxy_caustics(df)
            if r["source_region"] == "population":
                pos, region = _place_by_population(rng, df, caustic, cut, r["source_shares"])
            else:
                pos = _sample_in_regions(rng, [caustic] if r["source_region"] == "caustic" else [caustic, cut])
        else:
            for k in np.flatnonzero(valid):
                c = _cluster_caustic(df.iloc[k])
                if c is not None:
                    pos[k] = _sample_in_regions(rng, [(c[0][None], c[1][None])])[0]
    if np.isnan(pos[valid]).any():
        raise RuntimeError("could not place a source behind the lens for some draws")
    beta = np.hypot(pos[:, 0] - df["lens_x_arcsec"].to_numpy(float), pos[:, 1] - df["lens_y_arcsec"].to_numpy(float))
    df["src_region"] = np.where(valid, region, None)
    df["src_beta_over_theta_e"] = beta / df["theta_e_arcsec"].to_numpy(float)
    df["src_x_arcsec"] = pos[:, 0].astype(float)
    df["src_y_arcsec"] = pos[:, 1].astype(float)
    for col in light:
        df[col] = light[col].to_numpy()


def _place_by_population(rng, df, caustic, cut, shares, n_try=8, max_rounds=400):
    """Source centres for galaxy lenses: ring, arc or double (``shares``), uniform in area at
    beta / theta_E in :data:`BETA_OVER_THETA_E` around the lens centre, always inside the cut
    (multiply imaged); doubles also outside the tangential caustic.  Returns (positions (n, 2), kinds)."""
    n = len(df)
    kinds = np.array(list(BETA_OVER_THETA_E))
    p = np.array([float(shares.get(k, 0.0)) for k in kinds])
    if (p < 0).any() or p.sum() <= 0 or set(shares) - set(kinds):
        raise ValueError(f"source_shares must give non-negative shares of {list(kinds)}, not {shares!r}")
    kind = rng.choice(len(kinds), size=n, p=p / p.sum())
    lo, hi = (np.array([BETA_OVER_THETA_E[k][i] for k in kinds])[kind] for i in (0, 1))
    te = df["theta_e_arcsec"].to_numpy(float)
    cx, cy = df["lens_x_arcsec"].to_numpy(float), df["lens_y_arcsec"].to_numpy(float)
    out = np.full((n, 2), np.nan)
    todo = np.arange(n)
    for _ in range(max_rounds):
        if todo.size == 0:
            break
        u = rng.random((todo.size, n_try))
        rad = te[todo, None] * np.sqrt(lo[todo, None] ** 2 + u * (hi[todo, None] ** 2 - lo[todo, None] ** 2))
        ang = rng.uniform(0, 2 * np.pi, (todo.size, n_try))
        px, py = cx[todo, None] + rad * np.cos(ang), cy[todo, None] + rad * np.sin(ang)
        ok = _inside(px, py, cut[0][todo], cut[1][todo])
        double = kinds[kind[todo]] == "double"
        if double.any():
            ok[double] &= ~_inside(px[double], py[double], caustic[0][todo[double]], caustic[1][todo[double]])
        todo = _keep_first_hits(out, todo, px, py, ok)
    return out, kinds[kind].astype(object)
