"""Mock strong lenses: a seeded parameter table first, painted arcs second.

The recipe keeps the real cutout (its lens galaxy and its sky noise) and adds a
noise-free, PSF-convolved arc per band plus the arc's own shot noise.

Conventions
-----------
* Bands are always ordered g, r, z (:data:`BANDS`); images are in nanomaggies
  (AB zero point 22.5), arrays are float32 with axis order ``(n, band, ny, nx)``.
* Angular coordinates are arcsec from the cutout centre: ``x`` grows with the
  column index and ``y`` with the row index, as in lenstronomy with
  ``inverse=False`` (in FITS orientation row 0 is the south edge).
* Lens and light profiles follow lenstronomy's conventions exactly (SIE with
  product-average Einstein radius; elliptical Sersic with
  ``R = sqrt(q x'^2 + y'^2 / q)`` and ``b_n = 1.9992 n - 0.3271``; shear origin at
  the cutout centre), so :func:`lenstronomy_reference_arc` paints the same arc.
* This is the only module that imports lenstronomy, and only inside functions.

Galaxy-scale arcs are painted with our own vectorised SIE + shear ray tracing
(checked against lenstronomy in the tests): one ray trace per mock serves all
three bands because the source has one shape and a colour (a flux ratio).
Cluster-scale arcs use lenstronomy's ray shooting for NFW + SIE + shear.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "BANDS",
    "MockBatch",
    "draw_mock_params",
    "paint_arcs",
    "add_arc_noise",
    "arc_snr",
    "arc_masks",
    "quality_cuts",
    "simulate_mocks",
    "lenstronomy_reference_arc",
    "pack_arcs",
    "unpack_arcs",
    "ARC_PACK_UNIT_NMGY",
]

BANDS = ("g", "r", "z")
ZERO_POINT_MAG = 22.5
#: electrons per nanomaggy used for the arc's shot noise (g, r, z), DECaLS-like.
E_PER_NMGY = (1.1e4, 1.0e4, 1.2e4)
_H0, _OM0 = 70.0, 0.3
_Q_MAX = 0.9999  # SIE axis ratio cap (the q -> 1 limit is 0/0 in closed form)
_S_CORE = 1e-10  # lenstronomy's SIE core, keeps the centre finite

#: default ranges, (low, high) uniform unless noted; override with **ranges.
DEFAULT_RANGES = {
    "galaxy": {
        "theta_e_arcsec": (1.0, 3.0),
        "sigma_v_kms": None,  # e.g. (180, 320): theta_E from SIS sigma_v and redshifts instead
        "lens_q": (0.6, 1.0),
        "shear_gamma": (0.0, 0.1),
        "lens_offset_arcsec": 0.1,  # lens centre uniform in a square of this half-width
        "z_lens": (0.2, 0.7),
        "z_source": (1.0, 3.0),
        "src_n_sersic": (0.5, 2.0),
        "src_r_e_arcsec": (0.1, 0.6),
        "src_q": (0.5, 1.0),
        "src_mag_r": (21.5, 24.5),
        "src_g_r": (0.0, 0.6),
        "src_r_z": (-0.2, 0.6),
        "source_region": "caustic",  # or "multiple": inside the caustic or the cut
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
        "z_source": (1.0, 3.0),
        "src_n_sersic": (0.5, 2.0),
        "src_r_e_arcsec": (0.1, 0.6),
        "src_q": (0.5, 1.0),
        "src_mag_r": (21.5, 24.5),
        "src_g_r": (0.0, 0.6),
        "src_r_z": (-0.2, 0.6),
        "source_region": "caustic",
    },
}


# ---------------------------------------------------------------- small helpers
def _cosmo():
    from astropy.cosmology import FlatLambdaCDM

    return FlatLambdaCDM(H0=_H0, Om0=_OM0)


def _lens_cosmo(z_lens: float, z_source: float, cosmo=None):
    from lenstronomy.Cosmo.lens_cosmo import LensCosmo

    return LensCosmo(z_lens=float(z_lens), z_source=float(z_source), cosmo=cosmo or _cosmo())


def _b_n(n_sersic):
    """lenstronomy's Sersic b_n approximation (so R_e means what it means there)."""
    return np.maximum(1.9992 * np.asarray(n_sersic, float) - 0.3271, 1e-5)


def _sersic_unit_amp(r_e_arcsec, n_sersic):
    """Surface brightness at R_e (per arcsec^2) of a Sersic with total flux 1."""
    from scipy.special import gamma

    b = _b_n(n_sersic)
    n = np.asarray(n_sersic, float)
    total = 2 * np.pi * n * np.asarray(r_e_arcsec, float) ** 2 * np.exp(b) * b ** (-2 * n) * gamma(2 * n)
    return 1.0 / total


def _sie_alpha(x, y, theta_e, q, phi, cx, cy):
    """SIE deflection in lenstronomy's convention; parameters broadcast against x, y."""
    q = np.minimum(q, _Q_MAX)
    b = theta_e * np.sqrt(q)
    s = _S_CORE / np.sqrt(q)
    cphi, sphi = np.cos(phi), np.sin(phi)
    dx, dy = x - cx, y - cy
    xr = cphi * dx + sphi * dy
    yr = -sphi * dx + cphi * dy
    psi = np.sqrt(q * q * (xr * xr + s * s) + yr * yr)
    e = np.sqrt(1.0 - q * q)
    ax = b / e * np.arctan(e * xr / (psi + s))
    ay = b / e * np.arctanh(e * yr / (psi + q * q * s))
    return cphi * ax - sphi * ay, sphi * ax + cphi * ay


def _galaxy_beta(x, y, p):
    """Ray-trace image-plane (x, y) through SIE + shear; p holds broadcastable columns."""
    ax, ay = _sie_alpha(x, y, p["theta_e_arcsec"], p["lens_q"], p["lens_phi_rad"],
                        p["lens_x_arcsec"], p["lens_y_arcsec"])
    g1, g2 = p["gamma1"], p["gamma2"]
    return x - ax - (g1 * x + g2 * y), y - ay - (g2 * x - g1 * y)


def _galaxy_caustics(p, n_angle=128):
    """Tangential caustic and cut (source plane), each (n, n_angle) x and y arrays.

    For an isothermal lens in external shear Gamma the Hessian is
    ``2 kappa e_phi e_phi^T + Gamma``, so ``det A = 0`` has the closed form
    ``r_t(phi) = b (1 - g1 cos 2phi - g2 sin 2phi) / ((1 - g^2) sqrt(q^2 cos^2 phi' + sin^2 phi'))``
    around the lens centre; the cut is the image of the lens centre, ``-alpha_SIE(e_phi)``.
    """
    col = {k: np.asarray(p[k], float)[:, None] for k in
           ("theta_e_arcsec", "lens_q", "lens_phi_rad", "lens_x_arcsec", "lens_y_arcsec", "gamma1", "gamma2")}
    phi = np.linspace(0, 2 * np.pi, n_angle, endpoint=False)[None, :]
    q = np.minimum(col["lens_q"], _Q_MAX)
    b = col["theta_e_arcsec"] * np.sqrt(q)
    g1, g2 = col["gamma1"], col["gamma2"]
    php = phi - col["lens_phi_rad"]
    r_t = b * (1 - g1 * np.cos(2 * phi) - g2 * np.sin(2 * phi)) / (
        (1 - g1 * g1 - g2 * g2) * np.sqrt(q * q * np.cos(php) ** 2 + np.sin(php) ** 2))
    xc = col["lens_x_arcsec"] + r_t * np.cos(phi)
    yc = col["lens_y_arcsec"] + r_t * np.sin(phi)
    caustic = _galaxy_beta(xc, yc, col)
    ax, ay = _sie_alpha(np.cos(phi), np.sin(phi), col["theta_e_arcsec"], col["lens_q"],
                        col["lens_phi_rad"], 0.0, 0.0)
    lx, ly = col["lens_x_arcsec"], col["lens_y_arcsec"]
    cut = (lx - ax - (g1 * lx + g2 * ly), ly - ay - (g2 * lx - g1 * ly))
    return caustic, cut


def _inside(px, py, vx, vy):
    """Even-odd point-in-polygon: points (n, t) against closed polygons (n, k)."""
    vx1, vy1 = np.roll(vx, -1, axis=1), np.roll(vy, -1, axis=1)
    vx, vy, vx1, vy1 = (a[:, None, :] for a in (vx, vy, vx1, vy1))
    px, py = px[:, :, None], py[:, :, None]
    straddle = (vy > py) != (vy1 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = vx + (py - vy) * (vx1 - vx) / (vy1 - vy)
    return (np.count_nonzero(straddle & (px < x_cross), axis=2) % 2) == 1


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
        hit = ok.any(1)
        first = ok.argmax(1)
        rows = todo[hit]
        out[rows, 0] = px[hit, first[hit]]
        out[rows, 1] = py[hit, first[hit]]
        todo = todo[~hit]
    return out


def _uniform(rng, rng_range, n):
    lo, hi = rng_range
    return rng.uniform(lo, hi, n)


def _shear(rng, rng_range, n):
    g = _uniform(rng, rng_range, n)
    ang = rng.uniform(0, np.pi, n)
    return g * np.cos(2 * ang), g * np.sin(2 * ang)


# ---------------------------------------------------------------- parameters
def draw_mock_params(n: int, seed: int | np.random.Generator, scale: str = "galaxy", **ranges) -> pd.DataFrame:
    """Draw a table of mock-lens parameters, one row per mock.

    Parameters
    ----------
    n : int
        Number of mocks.
    seed : int or numpy.random.Generator
        Seed for ``np.random.default_rng``; the same seed gives the same table.
    scale : {"galaxy", "cluster"}
        ``galaxy``: SIE + external shear, ``theta_e_arcsec`` 1-3 (or from ``sigma_v_kms`` and the
        redshifts). ``cluster``: spherical NFW halo (``m200_msun`` log-uniform, ``c200``) plus an SIE
        BCG and shear, angles from the redshifts through lenstronomy's ``LensCosmo``; draws whose
        effective Einstein radius falls outside ``theta_e_arcsec`` (default 4-20") are redrawn.
    **ranges
        Override any key of ``DEFAULT_RANGES[scale]`` (``(low, high)`` tuples). ``source_region``
        is ``"caustic"`` (inside the tangential caustic: quads, rings, bright arcs) or, for galaxies,
        ``"multiple"`` (inside the caustic or the cut: any multiply imaged position).

    Returns
    -------
    pandas.DataFrame
        Columns: ``scale, z_lens, z_source, theta_e_arcsec, lens_x_arcsec, lens_y_arcsec, lens_q,
        lens_phi_rad, gamma1, gamma2, src_x_arcsec, src_y_arcsec, src_n_sersic, src_r_e_arcsec,
        src_q, src_phi_rad, src_mag_g, src_mag_r, src_mag_z`` (unlensed AB magnitudes) and
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
    if r["source_region"] not in ("caustic", "multiple") or (scale == "cluster" and r["source_region"] != "caustic"):
        raise ValueError(f"source_region {r['source_region']!r} not supported for scale={scale!r}")
    rng = np.random.default_rng(seed)
    n = int(n)
    if scale == "galaxy":
        df = _draw_galaxy_lenses(rng, n, r)
    else:
        df = _draw_cluster_lenses(rng, n, r)
    df.insert(0, "scale", scale)
    _draw_sources(rng, df, r)
    return df


def _draw_galaxy_lenses(rng, n, r) -> pd.DataFrame:
    z_l = _uniform(rng, r["z_lens"], n)
    z_s = _uniform(rng, r["z_source"], n)
    if r["sigma_v_kms"] is not None:
        sigma_v = _uniform(rng, r["sigma_v_kms"], n)
        cosmo = _cosmo()
        theta_e = np.array([_lens_cosmo(a, b, cosmo).sis_sigma_v2theta_E(v) for a, b, v in zip(z_l, z_s, sigma_v)])
    else:
        sigma_v = np.full(n, np.nan)
        theta_e = _uniform(rng, r["theta_e_arcsec"], n)
    g1, g2 = _shear(rng, r["shear_gamma"], n)
    off = r["lens_offset_arcsec"]
    return pd.DataFrame({
        "z_lens": z_l, "z_source": z_s, "theta_e_arcsec": theta_e, "sigma_v_kms": sigma_v,
        "lens_x_arcsec": rng.uniform(-off, off, n), "lens_y_arcsec": rng.uniform(-off, off, n),
        "lens_q": _uniform(rng, r["lens_q"], n), "lens_phi_rad": rng.uniform(0, np.pi, n),
        "gamma1": g1, "gamma2": g2,
    })


def _nfw_sis_theta_e(rs, alpha_rs, theta_e_bcg):
    """Effective Einstein radius of a spherical NFW plus an SIS (alpha(r) = r, outermost root)."""
    from lenstronomy.LensModel.Profiles.nfw import NFW

    r = np.geomspace(0.2, 80.0, 600)
    alpha = NFW().derivatives(r, np.zeros_like(r), Rs=rs, alpha_Rs=alpha_rs)[0] + theta_e_bcg
    above = alpha > r
    if not above.any():
        return 0.0
    i = np.flatnonzero(above)[-1]
    if i == r.size - 1:
        return np.inf
    f0, f1 = alpha[i] - r[i], alpha[i + 1] - r[i + 1]
    return float(r[i] + (r[i + 1] - r[i]) * f0 / (f0 - f1))


def _draw_cluster_lenses(rng, n, r) -> pd.DataFrame:
    cosmo = _cosmo()
    rows = []
    lo, hi = r["theta_e_arcsec"]
    for _ in range(200 * max(n, 1)):
        if len(rows) == n:
            break
        z_l, z_s = _uniform(rng, r["z_lens"], 1)[0], _uniform(rng, r["z_source"], 1)[0]
        m200 = float(np.exp(rng.uniform(*np.log(r["m200_msun"]))))
        c200 = float(_uniform(rng, r["c200"], 1)[0])
        sig = float(_uniform(rng, r["bcg_sigma_v_kms"], 1)[0])
        lc = _lens_cosmo(z_l, z_s, cosmo)
        rs, alpha_rs = lc.nfw_physical2angle(M=m200, c=c200)
        te_bcg = float(lc.sis_sigma_v2theta_E(sig))
        te = _nfw_sis_theta_e(rs, alpha_rs, te_bcg)
        if not lo <= te <= hi:
            continue
        g1, g2 = _shear(rng, r["shear_gamma"], 1)
        off = r["lens_offset_arcsec"]
        rows.append({
            "z_lens": z_l, "z_source": z_s, "theta_e_arcsec": te,
            "lens_x_arcsec": rng.uniform(-off, off), "lens_y_arcsec": rng.uniform(-off, off),
            "lens_q": float(_uniform(rng, r["lens_q"], 1)[0]), "lens_phi_rad": rng.uniform(0, np.pi),
            "gamma1": float(g1[0]), "gamma2": float(g2[0]), "m200_msun": m200, "c200": c200,
            "nfw_rs_arcsec": float(rs), "nfw_alpha_rs_arcsec": float(alpha_rs),
            "bcg_theta_e_arcsec": te_bcg, "bcg_sigma_v_kms": sig,
        })
    if len(rows) < n:
        raise ValueError(f"only {len(rows)} of {n} cluster draws reached theta_E in {r['theta_e_arcsec']}; "
                         "widen m200_msun or theta_e_arcsec")
    return pd.DataFrame(rows)


def _cluster_caustic(row, n_angle=96, n_radius=240):
    """Tangential caustic of NFW + SIE + shear traced numerically (lenstronomy Hessian)."""
    lm, kw = _lenstronomy_lens(row)
    phi = np.linspace(0, 2 * np.pi, n_angle, endpoint=False)
    rad = np.linspace(0.05, 2.5, n_radius) * row["theta_e_arcsec"]
    x = row["lens_x_arcsec"] + rad[None, :] * np.cos(phi)[:, None]
    y = row["lens_y_arcsec"] + rad[None, :] * np.sin(phi)[:, None]
    fxx, fxy, fyx, fyy = lm.hessian(x.ravel(), y.ravel(), kw)
    det = ((1 - fxx) * (1 - fyy) - fxy * fyx).reshape(x.shape)
    neg = det < 0
    if not neg.any(1).all():
        return None
    i = neg.shape[1] - 1 - np.argmax(neg[:, ::-1], axis=1)  # outermost negative radius
    i = np.minimum(i, n_radius - 2)
    rows_ = np.arange(n_angle)
    d0, d1 = det[rows_, i], det[rows_, i + 1]
    r_t = rad[i] + (rad[i + 1] - rad[i]) * d0 / (d0 - d1)
    bx, by = lm.ray_shooting(row["lens_x_arcsec"] + r_t * np.cos(phi), row["lens_y_arcsec"] + r_t * np.sin(phi), kw)
    return bx, by


def _draw_sources(rng, df, r):
    n = len(df)
    mag_r = _uniform(rng, r["src_mag_r"], n)
    df["src_n_sersic"] = _uniform(rng, r["src_n_sersic"], n)
    df["src_r_e_arcsec"] = _uniform(rng, r["src_r_e_arcsec"], n)
    df["src_q"] = _uniform(rng, r["src_q"], n)
    df["src_phi_rad"] = rng.uniform(0, np.pi, n)
    df["src_mag_g"] = mag_r + _uniform(rng, r["src_g_r"], n)
    df["src_mag_r"] = mag_r
    df["src_mag_z"] = mag_r - _uniform(rng, r["src_r_z"], n)
    pos = np.full((n, 2), np.nan)
    if n and df["z_lens"].size:
        if df["scale"].iloc[0] == "galaxy":
            caustic, cut = _galaxy_caustics(df)
            polys = [caustic] if r["source_region"] == "caustic" else [caustic, cut]
            pos = _sample_in_regions(rng, polys)
        else:
            for k in range(n):
                c = _cluster_caustic(df.iloc[k])
                if c is not None:
                    pos[k] = _sample_in_regions(rng, [(c[0][None], c[1][None])])[0]
    if np.isnan(pos).any():
        raise RuntimeError("could not place a source inside the caustic for some draws")
    df.insert(df.columns.get_loc("src_n_sersic"), "src_x_arcsec", pos[:, 0])
    df.insert(df.columns.get_loc("src_n_sersic"), "src_y_arcsec", pos[:, 1])
    cols = ["src_x_arcsec", "src_y_arcsec"]
    df[cols] = df[cols].astype(float)


# ---------------------------------------------------------------- painting
def _lenstronomy_lens(row):
    """lenstronomy LensModel and kwargs for one parameter row (galaxy or cluster)."""
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.Util.param_util import phi_q2_ellipticity

    e1, e2 = phi_q2_ellipticity(row["lens_phi_rad"], row["lens_q"])
    cx, cy = row["lens_x_arcsec"], row["lens_y_arcsec"]
    shear = {"gamma1": row["gamma1"], "gamma2": row["gamma2"], "ra_0": 0.0, "dec_0": 0.0}
    if row["scale"] == "galaxy":
        sie = {"theta_E": row["theta_e_arcsec"], "e1": e1, "e2": e2, "center_x": cx, "center_y": cy}
        return LensModel(["SIE", "SHEAR"]), [sie, shear]
    nfw = {"Rs": row["nfw_rs_arcsec"], "alpha_Rs": row["nfw_alpha_rs_arcsec"], "center_x": cx, "center_y": cy}
    sie = {"theta_E": row["bcg_theta_e_arcsec"], "e1": e1, "e2": e2, "center_x": cx, "center_y": cy}
    return LensModel(["NFW", "SIE", "SHEAR"]), [nfw, sie, shear]


def _subgrid(npix, pixscale_arcsec, ss):
    """Supersampled coordinates, flattened in (row, sub-row, col, sub-col) order."""
    c = (np.arange(npix) - (npix - 1) / 2.0) * pixscale_arcsec
    off = (-0.5 + (np.arange(ss) + 0.5) / ss) * pixscale_arcsec
    v = (c[:, None] + off[None, :]).ravel()  # length npix*ss, ordered by pixel then sub-pixel
    yy, xx = np.meshgrid(v, v, indexing="ij")
    return xx.ravel(), yy.ravel()


def _bin(img, ss):
    """Sum ss x ss sub-pixels: (n, ny*ss, nx*ss) -> (n, ny, nx) (strided adds beat a 5D reduce)."""
    rows = img[:, 0::ss]
    for i in range(1, ss):
        rows = rows + img[:, i::ss]
    out = rows[:, :, 0::ss]
    for j in range(1, ss):
        out = out + rows[:, :, j::ss]
    return out


def _sersic_unit(bx, by, p, dtype):
    """Unit-total-flux elliptical Sersic surface brightness at source-plane (bx, by)."""
    cphi, sphi = np.cos(p["src_phi_rad"]), np.sin(p["src_phi_rad"])
    dx, dy = bx - p["src_x_arcsec"], by - p["src_y_arcsec"]
    xr = cphi * dx + sphi * dy
    yr = -sphi * dx + cphi * dy
    q = p["src_q"]
    r2 = (q * xr * xr + yr * yr / q) / (p["src_r_e_arcsec"] ** 2)
    np.maximum(r2, dtype(1e-16), out=r2)
    # (R/Re)^(1/n) = exp(log(R^2/Re^2) / (2n))
    np.log(r2, out=r2)
    r2 *= dtype(0.5) / p["src_n_sersic"]
    np.exp(r2, out=r2)
    r2 -= 1
    r2 *= -p["b_n"]
    np.exp(r2, out=r2)
    r2 *= p["amp"]
    return r2


def _gaussian_taps(fwhm_arcsec, pixscale_arcsec, truncation=5.0):
    """1D taps (n, 3, 2 r + 1) of lenstronomy's pixel Gaussian PSF.

    lenstronomy samples the Gaussian at pixel centres on a square of half-width
    ``r = max(round(truncation sigma / pixel), 1)`` and normalises it, which is exactly the
    outer product of these normalised 1D taps (zero-padded to the largest ``r``).
    """
    sigma = fwhm_arcsec / (2 * np.sqrt(2 * np.log(2)))
    radius = np.minimum(np.maximum(np.round(truncation * sigma / pixscale_arcsec), 1), 110).astype(int)
    rmax = int(radius.max())
    idx = np.arange(-rmax, rmax + 1)
    taps = np.exp(-((idx * pixscale_arcsec) ** 2) / (2 * sigma[..., None] ** 2))
    taps *= np.abs(idx) <= radius[..., None]
    taps /= taps.sum(axis=-1, keepdims=True)
    return taps, rmax


def _convolve_gaussian(unit, fwhm_arcsec, pixscale_arcsec):
    """Batched FFT convolution of (n, ny, nx) images with each mock's 3 Gaussian PSFs.

    Returns float32 (n, 3, ny, nx). Edges are extended with the nearest pixel, as lenstronomy's
    Gaussian convolution (scipy.ndimage, mode "nearest") does: light of an arc that leaves the
    cutout is not lost at the border. The 2D transfer function of the separable kernel is the
    outer product of the 1D transforms of its taps, so only the image needs a 2D FFT.
    """
    import scipy.fft as sfft

    n, ny, nx = unit.shape
    taps, r = _gaussian_taps(np.asarray(fwhm_arcsec, float), pixscale_arcsec)
    padded = np.pad(unit, ((0, 0), (r, r), (r, r)), mode="edge")
    fy, fx = sfft.next_fast_len(ny + 2 * r, real=True), sfft.next_fast_len(nx + 2 * r, real=True)
    img_f = sfft.rfft2(padded, s=(fy, fx))
    ty = sfft.fft(taps, n=fy).astype(np.complex64)
    tx = sfft.rfft(taps, n=fx).astype(np.complex64)
    prod = img_f[:, None] * ty[..., :, None] * tx[..., None, :]
    full = sfft.irfft2(prod, s=(fy, fx))
    return full[..., 2 * r:2 * r + ny, 2 * r:2 * r + nx]


def paint_arcs(params: pd.DataFrame, psf_fwhm_arcsec: np.ndarray, npix: int = 101, pixscale_arcsec: float = 0.262,
               supersampling: int = 2, chunk_pixels: int = 65_536) -> tuple[np.ndarray, pd.DataFrame]:
    """Noise-free, PSF-convolved lensed arcs in nanomaggies.

    Parameters
    ----------
    params : DataFrame
        Rows from :func:`draw_mock_params` (both scales may be mixed).
    psf_fwhm_arcsec : array, shape (n, 3) or (3,)
        Gaussian PSF FWHM per mock and band (g, r, z), e.g. the background's seeing.
    npix, pixscale_arcsec : cutout size (pixels) and pixel scale (arcsec/pixel).
    supersampling : int
        Sub-pixels per pixel side for the ray tracing (2 matches lenstronomy to < 1 % in flux).
    chunk_pixels : int
        Ray-traced points per vectorised step (memory vs speed).

    Returns
    -------
    arcs : float32 array, shape (n, 3, npix, npix)
        Arc only, bands g, r, z.
    info : DataFrame, one row per mock (same index as ``params``)
        ``magnification`` (lensed flux in the cutout before the PSF / unlensed source flux) and
        ``flux_g, flux_r, flux_z`` (nanomaggies in the cutout after the PSF).
    """
    n = len(params)
    fwhm = np.broadcast_to(np.asarray(psf_fwhm_arcsec, float), (n, 3))
    ss = int(supersampling)
    if ss < 1:
        raise ValueError("supersampling must be >= 1")
    dt = np.float32
    gx, gy = _subgrid(npix, pixscale_arcsec, ss)
    gx32, gy32 = gx.astype(dt), gy.astype(dt)
    unit = np.empty((n, npix, npix), dt)
    pixel_area = (pixscale_arcsec / ss) ** 2
    amp = _sersic_unit_amp(params["src_r_e_arcsec"].to_numpy(), params["src_n_sersic"].to_numpy()) * pixel_area
    cols = ["theta_e_arcsec", "lens_q", "lens_phi_rad", "lens_x_arcsec", "lens_y_arcsec", "gamma1", "gamma2",
            "src_x_arcsec", "src_y_arcsec", "src_phi_rad", "src_q", "src_r_e_arcsec", "src_n_sersic"]
    arr = {c: params[c].to_numpy(float) for c in cols}
    arr["b_n"] = _b_n(arr["src_n_sersic"])
    arr["amp"] = amp
    is_gal = (params["scale"] == "galaxy").to_numpy()
    step = max(1, chunk_pixels // gx.size)
    gal = np.flatnonzero(is_gal)
    for s0 in range(0, gal.size, step):
        k = gal[s0:s0 + step]
        p = {c: arr[c][k, None].astype(dt) for c in arr}
        bx, by = _galaxy_beta(gx32, gy32, p)
        sb = _sersic_unit(bx, by, p, dt)
        unit[k] = _bin(sb.reshape(k.size, npix * ss, npix * ss), ss)
    for k in np.flatnonzero(~is_gal):
        lm, kw = _lenstronomy_lens(params.iloc[k])
        bx, by = lm.ray_shooting(gx, gy, kw)
        p = {c: arr[c][k] for c in arr}
        sb = _sersic_unit(bx, by, p, np.float64)
        unit[k] = _bin(sb.reshape(1, npix * ss, npix * ss), ss)[0]
    magnification = unit.sum(axis=(1, 2), dtype=np.float64)
    mags = params[[f"src_mag_{b}" for b in BANDS]].to_numpy(float)
    flux0 = 10 ** (-0.4 * (mags - ZERO_POINT_MAG))  # unlensed nanomaggies, (n, 3)
    arcs = np.empty((n, 3, npix, npix), dt)
    for s0 in range(0, n, 64):
        sl = slice(s0, s0 + 64)
        arcs[sl] = _convolve_gaussian(unit[sl], fwhm[sl], pixscale_arcsec)
        arcs[sl] *= flux0[sl, :, None, None].astype(dt)
    np.maximum(arcs, 0, out=arcs)  # FFT round-off leaves tiny negatives
    info = pd.DataFrame({"magnification": magnification}, index=params.index)
    for b, band in enumerate(BANDS):
        info[f"flux_{band}"] = arcs[:, b].sum(axis=(1, 2), dtype=np.float64)
    return arcs, info


# ---------------------------------------------------------------- noise, S/N, cuts
def add_arc_noise(arcs: np.ndarray, seed: int | np.random.Generator, e_per_nmgy=E_PER_NMGY) -> np.ndarray:
    """The arc's own shot noise added to noise-free arcs (the background already has sky noise).

    Parameters
    ----------
    arcs : array, shape (n, 3, ny, nx), nanomaggies, noise-free.
    seed : int or Generator.
    e_per_nmgy : three floats, electrons per nanomaggy (g, r, z).

    Returns
    -------
    float32 array, same shape: ``arcs + sqrt(arcs / g) * N(0, 1)`` per band gain ``g``
    (Gaussian approximation of Poisson counts, as lenstronomy does; negligible for tiny counts
    next to the sky noise).
    """
    rng = np.random.default_rng(seed)
    arcs = np.asarray(arcs, np.float32)
    inv_gain = (1.0 / np.asarray(e_per_nmgy, np.float32)).reshape(1, 3, 1, 1)
    out = np.empty_like(arcs)
    step = 16  # mocks per step: a few MB, stays in cache
    for s0 in range(0, arcs.shape[0], step):
        a = arcs[s0:s0 + step]
        o = out[s0:s0 + step]
        rng.standard_normal(a.shape, dtype=np.float32, out=o)
        var = np.maximum(a, 0) * inv_gain
        np.sqrt(var, out=var)
        o *= var
        o += a
    return out


def _sky(sky_sigma_nmgy, n):
    return np.broadcast_to(np.asarray(sky_sigma_nmgy, np.float64), (n, 3))


def arc_snr(arcs: np.ndarray, sky_sigma_nmgy: np.ndarray) -> np.ndarray:
    """Sky-limited S/N of the arc per band, shape (n, 3).

    Definition (LensPop-like): over the pixels where the noise-free arc exceeds 1 sky sigma
    in that band, ``S/N_b = sum(arc_b) / (sigma_b * sqrt(N_pixels))``; 0 if no pixel qualifies.
    The arc's own shot noise is neglected (few per cent for these faint arcs).

    Parameters
    ----------
    arcs : (n, 3, ny, nx) noise-free arcs in nanomaggies.
    sky_sigma_nmgy : (3,) or (n, 3) sky noise per pixel.
    """
    n = arcs.shape[0]
    sky = _sky(sky_sigma_nmgy, n)
    signal = np.empty((n, 3))
    npx = np.empty((n, 3))
    for s0 in range(0, n, 32):
        a = arcs[s0:s0 + 32]
        above = a > sky[s0:s0 + 32, :, None, None].astype(a.dtype)
        npx[s0:s0 + 32] = np.count_nonzero(above, axis=(2, 3))
        signal[s0:s0 + 32] = (a * above).sum(axis=(2, 3), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(npx > 0, signal / (sky * np.sqrt(npx)), 0.0)
    return snr


def arc_masks(arcs: np.ndarray, sky_sigma_nmgy, nsigma: float = 1.0) -> np.ndarray:
    """Where the arc is visible: bool (n, ny, nx), True where any band's noise-free arc > nsigma x sky sigma."""
    sky = _sky(sky_sigma_nmgy, arcs.shape[0])
    return (arcs > nsigma * sky[:, :, None, None]).any(axis=1)


def quality_cuts(info: pd.DataFrame, min_magnification: float = 3.0, min_snr: float = 20.0,
                 snr_band: str = "best") -> tuple[np.ndarray, Counter]:
    """Keep mocks a person could plausibly see (LensPop: magnification > 3 and S/N > 20).

    Parameters
    ----------
    info : DataFrame with ``magnification`` and ``snr_g, snr_r, snr_z`` (see :func:`arc_snr`).
    min_magnification : lensed / unlensed source flux must be at least this.
    min_snr : arc S/N must be at least this in ``snr_band``.
    snr_band : "g", "r", "z" or "best" (the highest of the three; default).

    Returns
    -------
    mask : bool array (n,), True = kept.
    reasons : Counter, reason -> number of rejected mocks (a mock failing both counts under both).
    """
    if snr_band == "best":
        snr = info[[f"snr_{b}" for b in BANDS]].max(axis=1).to_numpy()
    elif snr_band in BANDS:
        snr = info[f"snr_{snr_band}"].to_numpy()
    else:
        raise ValueError(f"snr_band must be one of g, r, z, best; not {snr_band!r}")
    low_mu = info["magnification"].to_numpy() < min_magnification
    low_snr = snr < min_snr
    reasons = Counter()
    if low_mu.any():
        reasons[f"magnification < {min_magnification:g}"] = int(low_mu.sum())
    if low_snr.any():
        reasons[f"S/N({snr_band}) < {min_snr:g}"] = int(low_snr.sum())
    return ~(low_mu | low_snr), reasons


# ---------------------------------------------------------------- end to end
@dataclass
class MockBatch:
    """Accepted mocks: ``image_k = backgrounds[params.background[k]] + arcs[k]``.

    Attributes
    ----------
    params : DataFrame, one row per mock: the drawn parameters plus ``background`` (index into the
        backgrounds), ``psf_fwhm_g/r/z``, ``magnification``, ``flux_g/r/z`` and ``snr_g/r/z``.
    arcs : float32 (n, 3, npix, npix), the noisy arc only (nanomaggies).
    masks : bool (n, npix, npix), where the noise-free arc exceeds 1 sky sigma in any band.
    rejected : reason -> number of rejected draws (a draw failing two cuts counts under both).
    n_draws : number of draws examined (accepted + rejected).
    """

    params: pd.DataFrame
    arcs: np.ndarray
    masks: np.ndarray
    rejected: dict = field(default_factory=dict)
    n_draws: int = 0

    def images(self, backgrounds: np.ndarray) -> np.ndarray:
        """Mock images (n, 3, npix, npix) float32: background plus arc."""
        bg = np.asarray(backgrounds)[self.params["background"].to_numpy()]
        return (bg + self.arcs).astype(np.float32, copy=False)


def simulate_mocks(backgrounds: np.ndarray, seeing_fwhm_arcsec: np.ndarray, sky_sigma_nmgy: np.ndarray, n: int,
                   seed: int | np.random.Generator, scale: str = "galaxy", max_draws_factor: float = 20, *,
                   ranges: dict | None = None, pixscale_arcsec: float = 0.262, supersampling: int = 2,
                   e_per_nmgy=E_PER_NMGY, **cuts) -> MockBatch:
    """Draw, paint, cut and add noise until ``n`` mocks pass (or ``max_draws_factor * n`` draws).

    Parameters
    ----------
    backgrounds : (m, 3, npix, npix) label-0 cutouts (only their shape is used here).
    seeing_fwhm_arcsec : (m, 3) or (3,) PSF FWHM of each background per band.
    sky_sigma_nmgy : (m, 3) or (3,) sky noise per pixel of each background per band.
    n : number of accepted mocks wanted.
    seed : int or Generator; everything (background choice, parameters, noise) follows from it.
    scale : "galaxy" or "cluster".
    max_draws_factor : stop after this many draws per wanted mock; a shortfall warns
        (RuntimeWarning) and returns fewer rows.
    ranges : overrides for :func:`draw_mock_params`.
    **cuts : passed to :func:`quality_cuts` (``min_magnification``, ``min_snr``, ``snr_band``).
    """
    rng = np.random.default_rng(seed)
    backgrounds = np.asarray(backgrounds)
    m, nb, npix, npix_x = backgrounds.shape
    if nb != 3 or npix != npix_x:
        raise ValueError(f"backgrounds must be (m, 3, npix, npix), got {backgrounds.shape}")
    seeing = np.broadcast_to(np.asarray(seeing_fwhm_arcsec, float), (m, 3))
    sky = np.broadcast_to(np.asarray(sky_sigma_nmgy, float), (m, 3))
    max_draws = int(math.ceil(max_draws_factor * n))
    kept_p, kept_a, kept_m, rejected, drawn, rate = [], [], [], Counter(), 0, 0.9
    while sum(len(p) for p in kept_p) < n and drawn < max_draws:
        need = n - sum(len(p) for p in kept_p)
        k = int(min(max_draws - drawn, math.ceil(1.05 * need / max(rate, 0.05)) + 4))
        params = draw_mock_params(k, rng, scale, **(ranges or {}))
        params["background"] = rng.integers(0, m, k)
        bg = params["background"].to_numpy()
        arcs, info = paint_arcs(params, seeing[bg], npix, pixscale_arcsec, supersampling)
        snr = arc_snr(arcs, sky[bg])
        for b, band in enumerate(BANDS):
            params[f"psf_fwhm_{band}"] = seeing[bg, b]
        params = pd.concat([params, info], axis=1)
        for b, band in enumerate(BANDS):
            params[f"snr_{band}"] = snr[:, b]
        ok, _ = quality_cuts(params, **cuts)
        rate = max(ok.mean(), 0.01)
        # draws are examined in order; those after the last one needed are not counted
        enough = np.flatnonzero(np.cumsum(ok) >= need)
        stop = enough[0] + 1 if enough.size else k
        _, why = quality_cuts(params.iloc[:stop], **cuts)
        drawn += stop
        rejected.update(why)
        keep = np.flatnonzero(ok[:stop])
        kept_p.append(params.iloc[keep])
        kept_a.append(arcs[keep])
        kept_m.append(arc_masks(arcs[keep], sky[bg[keep]]))
    params = pd.concat(kept_p, ignore_index=True)
    arcs = np.concatenate(kept_a) if kept_a else np.empty((0, 3, npix, npix), np.float32)
    masks = np.concatenate(kept_m) if kept_m else np.empty((0, npix, npix), bool)
    if len(params) < n:
        warnings.warn(f"only {len(params)} of {n} mocks passed the cuts in {drawn} draws", RuntimeWarning,
                      stacklevel=2)
    arcs = add_arc_noise(arcs, rng, e_per_nmgy)
    return MockBatch(params=params, arcs=arcs, masks=masks, rejected=dict(rejected), n_draws=drawn)


# ---------------------------------------------------------------- storage
#: stored arcs are float16 in units of 1e-3 nanomaggies: the arc's faint wings stay in float16's
#: normal range (subnormal float16 conversion is ~25x slower and loses precision).
ARC_PACK_UNIT_NMGY = 1e-3
_F16_TINY = float(np.finfo(np.float16).smallest_normal)
_F16_MAX = float(np.finfo(np.float16).max)


def pack_arcs(arcs: np.ndarray) -> np.ndarray:
    """Arcs (n, 3, ny, nx) nanomaggies -> float16 in units of :data:`ARC_PACK_UNIT_NMGY`.

    Pixels fainter than 6e-8 nanomaggies (2e-5 of the g-band sky sigma) become 0; values are
    clipped to float16's range (65 nanomaggies per pixel, far above any arc).
    """
    arcs = np.asarray(arcs, np.float32)
    out = np.empty(arcs.shape, np.float16)
    for s0 in range(0, arcs.shape[0], 16):
        y = arcs[s0:s0 + 16] * np.float32(1.0 / ARC_PACK_UNIT_NMGY)
        y[np.abs(y) < _F16_TINY] = 0
        np.clip(y, -_F16_MAX, _F16_MAX, out=y)
        out[s0:s0 + 16] = y
    return out


def unpack_arcs(packed: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_arcs`: float32 nanomaggies."""
    return np.asarray(packed, np.float32) * np.float32(ARC_PACK_UNIT_NMGY)


# ---------------------------------------------------------------- reference
class _ReferenceRenderer:
    """One lenstronomy SimAPI + ImageModel per band, reused (the straightforward way)."""

    def __init__(self, scale, psf_fwhm_arcsec, npix=101, pixscale_arcsec=0.262, supersampling=2,
                 e_per_nmgy=E_PER_NMGY):
        from lenstronomy.SimulationAPI.sim_api import SimAPI

        lens_list = ["SIE", "SHEAR"] if scale == "galaxy" else ["NFW", "SIE", "SHEAR"]
        model = {"lens_model_list": lens_list, "source_light_model_list": ["SERSIC_ELLIPSE"]}
        self.sims, self.models = [], []
        for b in range(3):
            band = {"pixel_scale": pixscale_arcsec, "exposure_time": float(e_per_nmgy[b]),
                    "magnitude_zero_point": ZERO_POINT_MAG, "background_noise": 0.0,
                    "seeing": float(psf_fwhm_arcsec[b]), "psf_type": "GAUSSIAN"}
            sim = SimAPI(num_pix=npix, kwargs_single_band=band, kwargs_model=model)
            self.sims.append(sim)
            self.models.append(sim.image_model_class({"supersampling_factor": int(supersampling)}))

    def arc(self, row, noise=False):
        from lenstronomy.Util.param_util import phi_q2_ellipticity

        _, kw_lens = _lenstronomy_lens(row)
        e1, e2 = phi_q2_ellipticity(row["src_phi_rad"], row["src_q"])
        out = []
        for b, band in enumerate(BANDS):
            src = {"magnitude": row[f"src_mag_{band}"], "R_sersic": row["src_r_e_arcsec"],
                   "n_sersic": row["src_n_sersic"], "e1": e1, "e2": e2,
                   "center_x": row["src_x_arcsec"], "center_y": row["src_y_arcsec"]}
            _, kw_src, _ = self.sims[b].magnitude2amplitude(kwargs_source_mag=[src])
            img = self.models[b].image(kw_lens, kw_src, lens_light_add=False, point_source_add=False)
            if noise:
                img = img + self.sims[b].noise_for_model(img, background_noise=False, poisson_noise=True)
            out.append(img)
        return np.array(out)


def lenstronomy_reference_arc(row: pd.Series, psf_fwhm_arcsec, npix: int = 101, pixscale_arcsec: float = 0.262,
                              supersampling: int = 2) -> np.ndarray:
    """The same arc as :func:`paint_arcs`, computed straightforwardly with lenstronomy's SimAPI.

    One ``SimAPI``/``ImageModel`` per band (Gaussian PSF of ``psf_fwhm_arcsec[b]``), source
    amplitude from the magnitude by ``magnitude2amplitude``. Returns float64 (3, npix, npix)
    nanomaggies, bands g, r, z. For tests and the benchmark.
    """
    fwhm = np.broadcast_to(np.asarray(psf_fwhm_arcsec, float), (3,))
    return _ReferenceRenderer(row["scale"], fwhm, npix, pixscale_arcsec, supersampling).arc(row)
