"""The lensed background source: an elliptical Sersic body plus a few compact Gaussian clumps.

Real lensed sources are star-forming galaxies at z ~ 1-3 whose light is knotty; one smooth
Sersic makes arcs that are too smooth. Here a source is a Sersic body carrying most of the light
and ``src_n_clumps`` (1-4) circular Gaussian clumps sharing ``src_clump_frac`` of its r-band
flux, bluer than the whole by ``src_clump_dgr`` (g - r) and ``src_clump_drz`` (r - z). Each clump
sits inside the body's half-light ellipse (uniform in its area), so it stays attached to the
body: the source never splits into separate blobs before lensing.

``src_mag_g/r/z`` stay the *total* unlensed magnitudes of the source (body + clumps), so the
priors on brightness and colour keep their meaning; :func:`component_fluxes` splits them.

Columns (per mock): ``src_n_clumps, src_clump_frac, src_clump_dgr, src_clump_drz`` and for
k = 0..3 ``src_clump{k}_dx_arcsec, src_clump{k}_dy_arcsec`` (offset from the source centre in
the source plane), ``src_clump{k}_sigma_arcsec`` and ``src_clump{k}_share`` (its part of the
clumps' flux; the shares of a source sum to 1; clumps beyond ``src_n_clumps`` have share 0 and
NaN offsets and width).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..imaging.sersic import sersic_unit_flux
from ..imaging.survey import BANDS, mag_to_nmgy
from ._common import _uniform

__all__ = ["MAX_CLUMPS", "clump_columns", "draw_source_light", "component_fluxes", "clump_arrays",
           "source_unit_flux"]

#: most clumps a source can have (fixed, so that every parameter table has the same columns)
MAX_CLUMPS = 4


def clump_columns(k: int) -> tuple[str, str, str, str]:
    """Column names of clump ``k``: dx, dy, sigma, share."""
    return (f"src_clump{k}_dx_arcsec", f"src_clump{k}_dy_arcsec", f"src_clump{k}_sigma_arcsec",
            f"src_clump{k}_share")


def draw_source_light(rng: np.random.Generator, n: int, r: dict) -> pd.DataFrame:
    """Shape, brightness, colours and clumps of ``n`` sources from the priors ``r`` (see ``params``)."""
    mag_r = _uniform(rng, r["src_mag_r"], n)
    out = {"src_n_sersic": _uniform(rng, r["src_n_sersic"], n),
           "src_r_e_arcsec": _uniform(rng, r["src_r_e_arcsec"], n),
           "src_q": _uniform(rng, r["src_q"], n),
           "src_phi_rad": rng.uniform(0, np.pi, n)}
    out["src_mag_g"] = mag_r + _uniform(rng, r["src_g_r"], n)
    out["src_mag_r"] = mag_r
    out["src_mag_z"] = mag_r - _uniform(rng, r["src_r_z"], n)
    n_clumps = np.clip(np.asarray(_uniform(rng, r["src_n_clumps"], n)).astype(int), 0, MAX_CLUMPS)
    out["src_n_clumps"] = n_clumps
    out["src_clump_frac"] = np.where(n_clumps > 0, _uniform(rng, r["src_clump_frac"], n), 0.0)
    out["src_clump_dgr"] = _uniform(rng, r["src_clump_dgr"], n)
    out["src_clump_drz"] = _uniform(rng, r["src_clump_drz"], n)
    # clump positions: uniform in the area of the body's half-light ellipse, R = sqrt(q x'^2 + y'^2 / q) <= R_e
    present = np.arange(MAX_CLUMPS)[None, :] < n_clumps[:, None]
    rad = out["src_r_e_arcsec"][:, None] * np.sqrt(rng.random((n, MAX_CLUMPS)))
    ang = rng.uniform(0, 2 * np.pi, (n, MAX_CLUMPS))
    q = out["src_q"][:, None]
    xp, yp = rad * np.cos(ang) / np.sqrt(q), rad * np.sin(ang) * np.sqrt(q)
    c, s = np.cos(out["src_phi_rad"])[:, None], np.sin(out["src_phi_rad"])[:, None]
    dx, dy = c * xp - s * yp, s * xp + c * yp
    sigma = _uniform(rng, r["src_clump_sigma_arcsec"], n * MAX_CLUMPS).reshape(n, MAX_CLUMPS)
    weights = rng.gamma(1.0, size=(n, MAX_CLUMPS)) * present  # Dirichlet(1, ..., 1) over the present clumps
    total = weights.sum(axis=1, keepdims=True)
    share = np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)
    for k in range(MAX_CLUMPS):
        cx, cy, cs, cw = clump_columns(k)
        out[cx] = np.where(present[:, k], dx[:, k], np.nan)
        out[cy] = np.where(present[:, k], dy[:, k], np.nan)
        out[cs] = np.where(present[:, k], sigma[:, k], np.nan)
        out[cw] = share[:, k]
    return pd.DataFrame(out)


def component_fluxes(params: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Unlensed fluxes (nanomaggies) of the body and of all clumps together, each (n, 3) for g, r, z.

    Clumps hold ``src_clump_frac`` of the r flux; in g and z their colour is the source's shifted by
    ``src_clump_dgr`` and ``src_clump_drz``; the body holds the rest, so the totals match
    ``src_mag_g/r/z``. Tables without clump columns are smooth Sersic sources.
    """
    total = mag_to_nmgy(params[[f"src_mag_{b}" for b in BANDS]].to_numpy(float))
    if "src_clump_frac" not in params:
        return total, np.zeros_like(total)
    frac = np.nan_to_num(params["src_clump_frac"].to_numpy(float))
    shift = np.stack([10 ** (-0.4 * params["src_clump_dgr"].to_numpy(float)), np.ones(len(params)),
                      10 ** (0.4 * params["src_clump_drz"].to_numpy(float))], axis=1)
    clumps = total * frac[:, None] * np.nan_to_num(shift, nan=1.0)
    clumps = np.minimum(clumps, total)  # only with extreme overrides: the body never goes negative
    return total - clumps, clumps


def clump_arrays(params: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Offsets dx, dy, widths and shares of the clumps, each (n, MAX_CLUMPS); absent clumps have share 0
    (and width 1, offset 0, so that evaluating them is harmless)."""
    n = len(params)
    if "src_clump0_share" not in params:
        return (np.zeros((n, MAX_CLUMPS)), np.zeros((n, MAX_CLUMPS)), np.ones((n, MAX_CLUMPS)),
                np.zeros((n, MAX_CLUMPS)))
    cols = [clump_columns(k) for k in range(MAX_CLUMPS)]
    dx, dy, sig, share = (params[[c[i] for c in cols]].to_numpy(float) for i in range(4))
    share = np.nan_to_num(share)
    absent = (share <= 0) | ~np.isfinite(sig) | (sig <= 0)
    share[absent] = 0.0
    return np.where(absent, 0.0, dx), np.where(absent, 0.0, dy), np.where(absent, 1.0, sig), share


def source_unit_flux(x, y, *, x0, y0, r_e, n_sersic, q, phi, clump_dx, clump_dy, clump_sigma, clump_share,
                     pixel_area_arcsec2: float):
    """Body and clumps of sources at source-plane points ``(x, y)``, each of unit total flux.

    The Sersic arguments broadcast against ``x`` as in :func:`~lensfinder_nb.imaging.sersic.sersic_unit_flux`;
    ``clump_*`` are (..., MAX_CLUMPS) arrays whose leading axes broadcast the same way. Returns
    ``(body, clumps)`` per point (flux per sample of area ``pixel_area_arcsec2``), in the dtype of ``x``.
    Lenstronomy's ``GAUSSIAN`` light profile is the clump: ``amp / (2 pi sigma^2) exp(-r^2 / 2 sigma^2)``.
    """
    body = sersic_unit_flux(x, y, x0_arcsec=x0, y0_arcsec=y0, r_e_arcsec=r_e, n_sersic=n_sersic, q=q,
                            phi_rad=phi, pixel_area_arcsec2=pixel_area_arcsec2)
    dt = body.dtype.type
    clumps = np.zeros_like(body)
    share = np.asarray(clump_share, float)
    for k in range(share.shape[-1]):
        w = share[..., k]
        if not np.any(w > 0):
            continue
        sig = np.asarray(clump_sigma, float)[..., k]
        cx = np.asarray(x0, float) + np.asarray(clump_dx, float)[..., k]
        cy = np.asarray(y0, float) + np.asarray(clump_dy, float)[..., k]
        r2 = (x - cx.astype(dt)) ** 2
        r2 += (y - cy.astype(dt)) ** 2
        r2 *= (-0.5 / sig ** 2).astype(dt)
        np.exp(r2, out=r2)
        r2 *= (w * pixel_area_arcsec2 / (2 * np.pi * sig ** 2)).astype(dt)
        clumps += r2
    return body, clumps
