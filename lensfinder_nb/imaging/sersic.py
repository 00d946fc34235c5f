"""Elliptical Sersic source light in lenstronomy's convention (``R = sqrt(q x'^2 + y'^2 / q)``)."""

from __future__ import annotations

import numpy as np


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
