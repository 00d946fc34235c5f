"""Galaxy-scale lenses: SIE + external shear ray tracing, caustics and parameter draws."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import Q_MAX as _Q_MAX, S_CORE as _S_CORE, _shear, _uniform
from .lenstronomy_adapter import sis_theta_e_arcsec


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


def _draw_galaxy_lenses(rng, n, r) -> pd.DataFrame:
    z_l = _uniform(rng, r["z_lens"], n)
    z_s = _uniform(rng, r["z_source"], n)
    if r["sigma_v_kms"] is not None:
        sigma_v = _uniform(rng, r["sigma_v_kms"], n)
        theta_e = np.array([sis_theta_e_arcsec(v, a, b) for a, b, v in zip(z_l, z_s, sigma_v)])
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
