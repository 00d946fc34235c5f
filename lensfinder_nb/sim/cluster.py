"""Cluster-scale lenses: spherical NFW halo + SIE BCG + shear, drawn in a window of Einstein radius.

Two ways to get a cluster's Einstein radius:

* drawn: M200 log-uniform, c200, redshifts and a BCG velocity dispersion, kept when the
  effective Einstein radius falls in the window (the default);
* catalogue-driven: a cluster's mass (M500 as in Zou et al. 2021, converted to M200 for the
  drawn concentration) and redshift are fixed per row; only the source redshift, c200 and
  the BCG are drawn (:func:`cluster_theta_e_arcsec`, ``fixed=`` in :func:`_draw_cluster_lenses`).

A cutout of ``npix`` pixels only shows arcs up to :func:`max_theta_e_arcsec` (80 % of its
half-width, leaving room for the arc's own width and the PSF): 10.5" for 101 pixels,
21" for 201 pixels at 0.262"/pixel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..imaging.survey import PIXSCALE_ARCSEC
from ._common import _shear, _uniform
from .lenstronomy_adapter import deflection, hessian, nfw_angles_arcsec, nfw_deflection_arcsec, sis_theta_e_arcsec


def _nfw_sis_theta_e(rs, alpha_rs, theta_e_bcg):
    """Effective Einstein radius of a spherical NFW plus an SIS (alpha(r) = r, outermost root)."""
    r = np.geomspace(0.2, 80.0, 600)
    alpha = nfw_deflection_arcsec(r, rs, alpha_rs) + theta_e_bcg
    above = alpha > r
    if not above.any():
        return 0.0
    i = np.flatnonzero(above)[-1]
    if i == r.size - 1:
        return np.inf
    f0, f1 = alpha[i] - r[i], alpha[i + 1] - r[i + 1]
    return float(r[i] + (r[i + 1] - r[i]) * f0 / (f0 - f1))


#: share of the cutout's half-width an Einstein radius may reach (the arc needs room outside it).
FIT_FRACTION = 0.8


def max_theta_e_arcsec(npix: int, pixscale_arcsec: float = PIXSCALE_ARCSEC) -> float:
    """Largest Einstein radius (arcsec) whose arcs fit in an ``npix`` x ``npix`` cutout.

    >>> round(max_theta_e_arcsec(101), 2), round(max_theta_e_arcsec(201), 2)
    (10.48, 20.96)
    """
    return FIT_FRACTION * (int(npix) - 1) / 2 * float(pixscale_arcsec)


def _nfw_mass_ratio(x):
    return np.log1p(x) - x / (1 + x)


def m500_to_m200(m500_msun, c200: float = 4.5):
    """M200 (critical) of an NFW halo with concentration ``c200`` whose M500 is given (Msun).

    Solves ``m(c s) / (m(c) s^3) = 500 / 200`` for ``s = r500 / r200`` with
    ``m(x) = ln(1 + x) - x / (1 + x)``; for c200 = 4-5, M200 is about 1.4 M500.

    >>> round(float(m500_to_m200(1e14, 4.5)) / 1e14, 2)
    1.41
    """
    from scipy.optimize import brentq

    c = float(c200)
    s = brentq(lambda s: _nfw_mass_ratio(c * s) / (_nfw_mass_ratio(c) * s ** 3) - 2.5, 0.2, 1.0)
    return np.asarray(m500_msun, float) * _nfw_mass_ratio(c) / _nfw_mass_ratio(c * s)


def cluster_theta_e_arcsec(m200_msun: float, z_lens: float, z_source: float, c200: float = 4.5,
                           bcg_sigma_v_kms: float = 0.0) -> float:
    """Effective Einstein radius (arcsec) of an NFW halo (M200, c200) plus an SIS BCG.

    Angles from the masses through lenstronomy's ``LensCosmo`` (flat LCDM, H0 = 70, Om0 = 0.3);
    0 when the lens is not supercritical, ``inf`` beyond 80".
    """
    rs, alpha_rs = nfw_angles_arcsec(m200_msun, c200, z_lens, z_source)
    te_bcg = sis_theta_e_arcsec(bcg_sigma_v_kms, z_lens, z_source) if bcg_sigma_v_kms > 0 else 0.0
    return _nfw_sis_theta_e(rs, alpha_rs, te_bcg)


def _draw_cluster_lenses(rng, n, r, fixed=None) -> pd.DataFrame:
    """``n`` cluster lenses; rows of ``fixed`` with a finite ``z_lens`` and ``m200_msun`` or
    ``m500_msun`` keep their catalogue mass and redshift, and those whose Einstein radius cannot
    reach the window get NaN (see :func:`_draw_catalogue_clusters`); the other rows are drawn."""
    catalogue = _catalogue_rows(fixed, n)
    if catalogue.all():
        return _draw_catalogue_clusters(rng, n, r, fixed)
    if not catalogue.any():
        return _draw_free_clusters(rng, n, r)
    fixed = pd.DataFrame(fixed).reset_index(drop=True)
    parts = [_draw_catalogue_clusters(rng, int(catalogue.sum()), r, fixed[catalogue].reset_index(drop=True)),
             _draw_free_clusters(rng, int((~catalogue).sum()), r)]
    order = np.concatenate([np.flatnonzero(catalogue), np.flatnonzero(~catalogue)])
    return pd.concat(parts, ignore_index=True).iloc[np.argsort(order)].reset_index(drop=True)


def _draw_free_clusters(rng, n, r) -> pd.DataFrame:
    """``n`` cluster lenses drawn until their effective Einstein radius falls in the window."""
    rows = []
    lo, hi = r["theta_e_arcsec"]
    for _ in range(200 * max(n, 1)):
        if len(rows) == n:
            break
        z_l, z_s = _uniform(rng, r["z_lens"], 1)[0], _uniform(rng, r["z_source"], 1)[0]
        m200 = float(np.exp(rng.uniform(*np.log(r["m200_msun"]))))
        c200 = float(_uniform(rng, r["c200"], 1)[0])
        sig = float(_uniform(rng, r["bcg_sigma_v_kms"], 1)[0])
        rs, alpha_rs = nfw_angles_arcsec(m200, c200, z_l, z_s)
        te_bcg = sis_theta_e_arcsec(sig, z_l, z_s)
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
        raise InvalidInput(f"only {len(rows)} of {n} cluster draws reached theta_E in {r['theta_e_arcsec']}; "
                         "widen m200_msun or theta_e_arcsec")
    return pd.DataFrame(rows)


def _cluster_caustic(row, n_angle=96, n_radius=240):
    """Tangential caustic of NFW + SIE + shear traced numerically (lenstronomy Hessian)."""
    phi = np.linspace(0, 2 * np.pi, n_angle, endpoint=False)
    rad = np.linspace(0.05, 2.5, n_radius) * row["theta_e_arcsec"]
    x = row["lens_x_arcsec"] + rad[None, :] * np.cos(phi)[:, None]
    y = row["lens_y_arcsec"] + rad[None, :] * np.sin(phi)[:, None]
    fxx, fxy, fyx, fyy = hessian(row, x.ravel(), y.ravel())
    det = ((1 - fxx) * (1 - fyy) - fxy * fyx).reshape(x.shape)
    neg = det < 0
    if not neg.any(1).all():
        return None
    i = neg.shape[1] - 1 - np.argmax(neg[:, ::-1], axis=1)  # outermost negative radius
    i = np.minimum(i, n_radius - 2)
    rows_ = np.arange(n_angle)
    d0, d1 = det[rows_, i], det[rows_, i + 1]
    r_t = rad[i] + (rad[i + 1] - rad[i]) * d0 / (d0 - d1)
    xt, yt = row["lens_x_arcsec"] + r_t * np.cos(phi), row["lens_y_arcsec"] + r_t * np.sin(phi)
    ax, ay = deflection(row, xt, yt)
    return xt - ax, yt - ay



def _catalogue_rows(fixed, n: int) -> np.ndarray:
    """Which rows of ``fixed`` give a catalogue cluster: a finite z_lens and M200 or M500."""
    if fixed is None or "z_lens" not in fixed:
        return np.zeros(n, bool)

    def finite(col):
        return np.isfinite(np.asarray(fixed[col], float)) if col in fixed else np.zeros(n, bool)

    return finite("z_lens") & (finite("m200_msun") | finite("m500_msun"))


def _draw_catalogue_clusters(rng, n, r, fixed, tries: int = 12) -> pd.DataFrame:
    """Per row: the catalogue's z_lens and mass; draw z_source, c200 and the BCG until the
    effective theta_E falls in the window (at most ``tries`` times; else theta_e_arcsec = NaN)."""
    lo, hi = r["theta_e_arcsec"]
    z_cat = np.asarray(fixed["z_lens"], float)
    m200_cat = np.asarray(fixed["m200_msun"], float) if "m200_msun" in fixed else np.full(n, np.nan)
    m500_cat = np.asarray(fixed["m500_msun"], float) if "m500_msun" in fixed else np.full(n, np.nan)
    rows = []
    for k in range(n):
        row = None
        for _ in range(tries):
            z_s = float(_uniform(rng, r["z_source"], 1)[0])
            c200 = float(_uniform(rng, r["c200"], 1)[0])
            sig = float(_uniform(rng, r["bcg_sigma_v_kms"], 1)[0])
            m200 = m200_cat[k] if np.isfinite(m200_cat[k]) else float(m500_to_m200(m500_cat[k], c200))
            if not (np.isfinite(z_cat[k]) and np.isfinite(m200)) or z_s <= z_cat[k] + 0.1:
                continue
            rs, alpha_rs = nfw_angles_arcsec(m200, c200, z_cat[k], z_s)
            te_bcg = sis_theta_e_arcsec(sig, z_cat[k], z_s)
            te = _nfw_sis_theta_e(rs, alpha_rs, te_bcg)
            if lo <= te <= hi:
                row = {"z_lens": z_cat[k], "z_source": z_s, "theta_e_arcsec": te, "m200_msun": m200, "c200": c200,
                       "nfw_rs_arcsec": float(rs), "nfw_alpha_rs_arcsec": float(alpha_rs),
                       "bcg_theta_e_arcsec": te_bcg, "bcg_sigma_v_kms": sig}
                break
        if row is None:
            row = {"z_lens": z_cat[k], "z_source": np.nan, "theta_e_arcsec": np.nan, "m200_msun": m200_cat[k],
                   "c200": np.nan, "nfw_rs_arcsec": np.nan, "nfw_alpha_rs_arcsec": np.nan,
                   "bcg_theta_e_arcsec": np.nan, "bcg_sigma_v_kms": np.nan}
        g1, g2 = _shear(rng, r["shear_gamma"], 1)
        off = r["lens_offset_arcsec"]
        row.update({"lens_x_arcsec": rng.uniform(-off, off), "lens_y_arcsec": rng.uniform(-off, off),
                    "lens_q": float(_uniform(rng, r["lens_q"], 1)[0]), "lens_phi_rad": rng.uniform(0, np.pi),
                    "gamma1": float(g1[0]), "gamma2": float(g2[0])})
        rows.append(row)
    cols = ["z_lens", "z_source", "theta_e_arcsec", "lens_x_arcsec", "lens_y_arcsec", "lens_q", "lens_phi_rad",
            "gamma1", "gamma2", "m200_msun", "c200", "nfw_rs_arcsec", "nfw_alpha_rs_arcsec",
            "bcg_theta_e_arcsec", "bcg_sigma_v_kms"]
    return pd.DataFrame(rows, columns=cols)
