"""The elliptical Sersic profile, in lenstronomy's convention, for mock sources and synthetic galaxies.

Convention (lenstronomy's ``SERSIC_ELLIPSE``): with offsets rotated onto the major axis,
``x' = cos(phi) dx + sin(phi) dy`` and ``y' = -sin(phi) dx + cos(phi) dy``, the elliptical radius
is ``R = sqrt(q x'^2 + y'^2 / q)``; ``r_e_arcsec`` is the half-light radius in ``R`` (the
circularised radius: the major-axis half-light radius times sqrt(q)), ``phi_rad`` the major
axis's angle from +x, and ``b_n = 1.9992 n - 0.3271`` (lenstronomy's approximation, so that the
mock arcs equal lenstronomy's).  A profile given by its major-axis radius converts with
:func:`circularised_radius`.

>>> import numpy as np
>>> x = (np.arange(201) - 100) * 0.05
>>> xx, yy = np.meshgrid(x, x)
>>> img = sersic_unit_flux(xx, yy, x0_arcsec=0.0, y0_arcsec=0.0, r_e_arcsec=0.8, n_sersic=1.0, q=0.7,
...                        phi_rad=0.3, pixel_area_arcsec2=0.05 ** 2)
>>> round(float(img.sum()), 3)       # unit total flux
1.0
"""

from __future__ import annotations

import numpy as np

__all__ = ["sersic_b_n", "sersic_amplitude", "sersic_unit_flux", "circularised_radius"]


def sersic_b_n(n_sersic):
    """lenstronomy's Sersic ``b_n`` approximation (so that R_e means what it means there)."""
    return np.maximum(1.9992 * np.asarray(n_sersic, float) - 0.3271, 1e-5)


def sersic_amplitude(r_e_arcsec, n_sersic):
    """Surface brightness at R_e (per arcsec^2) of a Sersic profile of total flux 1."""
    from scipy.special import gamma

    b = sersic_b_n(n_sersic)
    n = np.asarray(n_sersic, float)
    total = 2 * np.pi * n * np.asarray(r_e_arcsec, float) ** 2 * np.exp(b) * b ** (-2 * n) * gamma(2 * n)
    return 1.0 / total


def circularised_radius(r_major_arcsec, q):
    """The radius of this convention for a profile whose half-light radius along the major axis is given."""
    return np.asarray(r_major_arcsec, float) * np.sqrt(np.asarray(q, float))


def sersic_unit_flux(x_arcsec: np.ndarray, y_arcsec: np.ndarray, *, x0_arcsec, y0_arcsec, r_e_arcsec, n_sersic,
                     q, phi_rad, pixel_area_arcsec2: float, core_arcsec=None) -> np.ndarray:
    """Flux per pixel of unit-total-flux elliptical Sersic profiles, sampled at ``(x, y)``.

    Parameters
    ----------
    x_arcsec, y_arcsec : float32 or float64 arrays
        Where to sample (pixel or sub-pixel centres); the result has their dtype.
    x0_arcsec, y0_arcsec, r_e_arcsec, n_sersic, q, phi_rad : scalars or arrays
        Centre, half-light radius (see the module's convention), Sersic index, axis ratio and
        major-axis angle from +x; arrays broadcast against the coordinates, e.g. (k, 1) or
        (k, 1, 1) for k profiles.
    pixel_area_arcsec2 : area of one sample's pixel: surface brightness times it is a flux.
    core_arcsec : optional softening added in quadrature to R (``R^2 + core^2``), which keeps a
        cusp at a pixel centre from holding the flux of the whole pixel.

    Returns
    -------
    array, broadcast shape of coordinates and parameters.
    """
    dt = np.result_type(x_arcsec, np.float32)

    def cast(v):
        return np.asarray(v, float).astype(dt)

    n = cast(n_sersic)
    b_n = sersic_b_n(n_sersic).astype(dt)
    amp = (sersic_amplitude(r_e_arcsec, n_sersic) * pixel_area_arcsec2).astype(dt)
    phi, q, r_e = cast(phi_rad), cast(q), cast(r_e_arcsec)
    cphi, sphi = np.cos(phi), np.sin(phi)
    dx, dy = x_arcsec - cast(x0_arcsec), y_arcsec - cast(y0_arcsec)
    xr = cphi * dx + sphi * dy
    yr = -sphi * dx + cphi * dy
    r2 = q * xr * xr + yr * yr / q
    if core_arcsec is not None:
        r2 += cast(core_arcsec) ** 2
    r2 /= r_e ** 2
    np.maximum(r2, dt.type(1e-16), out=r2)
    # (R / R_e)^(1 / n) = exp(log(R^2 / R_e^2) / (2 n)), in place: these arrays are the big ones
    np.log(r2, out=r2)
    r2 *= dt.type(0.5) / n
    np.exp(r2, out=r2)
    r2 -= 1
    r2 *= -b_n
    np.exp(r2, out=r2)
    r2 *= amp
    return r2
