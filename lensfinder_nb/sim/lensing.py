"""Mock strong lenses: a seeded parameter table first, painted arcs second.

The recipe keeps the real cutout (its lens galaxy and its sky noise) and adds a
noise-free, PSF-convolved arc per band plus the arc's own shot noise.

Conventions
-----------
* Bands are always ordered g, r, z; images are in nanomaggies (AB zero point 22.5; survey
  constants in :mod:`lensfinder_nb.imaging.survey`), arrays are float32 with axis order
  ``(n, band, ny, nx)``.
* Angular coordinates are arcsec from the cutout centre: ``x`` grows with the
  column index and ``y`` with the row index, as in lenstronomy with
  ``inverse=False`` (in FITS orientation row 0 is the south edge).
* Lens and light profiles follow lenstronomy's conventions exactly (SIE with
  product-average Einstein radius; elliptical Sersic of :mod:`lensfinder_nb.imaging.sersic`;
  shear origin at the cutout centre; the Gaussian PSF of :mod:`lensfinder_nb.imaging.psf`), so
  :func:`lenstronomy_reference_arc` paints the same arc.
* lenstronomy is imported only by :mod:`~lensfinder_nb.sim.lenstronomy_adapter`, and only
  inside its functions, which take and return plain numbers and arrays.

Galaxy-scale arcs are painted with our own vectorised SIE + shear ray tracing
(checked against lenstronomy in the tests): one ray trace per mock serves all
three bands because the source has one shape and a colour (a flux ratio).
Cluster-scale arcs use lenstronomy's deflections for NFW + SIE + shear.

This module is the public facade and the end-to-end loop (:func:`simulate_mocks`); the work is
done in small modules, one job each: ``params`` (parameter tables), ``galaxy`` (SIE + shear
deflections, caustics), ``cluster`` (NFW + BCG, Einstein radii from masses, what fits a
cutout), ``lenstronomy_adapter``, ``paint`` (ray trace, bin, convolve) and ``arcs`` (noise,
S/N, cuts, storage).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..imaging.survey import BANDS, CUTOUT_SIZE_PX, ELECTRONS_PER_NMGY, PIXSCALE_ARCSEC
from .arcs import (ARC_PACK_UNIT_NMGY, add_arc_noise, arc_masks, arc_snr, arc_visible_snr, pack_arcs, quality_cuts,
                   unpack_arcs)
from .cluster import cluster_theta_e_arcsec, m500_to_m200, max_theta_e_arcsec
from .lenstronomy_adapter import reference_arc
from .paint import paint_arcs
from .params import DEFAULT_RANGES, LENS_OVERRIDES, draw_mock_params

__all__ = [
    "DEFAULT_RANGES",
    "LENS_OVERRIDES",
    "MockBatch",
    "draw_mock_params",
    "paint_arcs",
    "add_arc_noise",
    "arc_snr",
    "arc_visible_snr",
    "arc_masks",
    "quality_cuts",
    "simulate_mocks",
    "lenstronomy_reference_arc",
    "pack_arcs",
    "unpack_arcs",
    "ARC_PACK_UNIT_NMGY",
    "cluster_theta_e_arcsec",
    "m500_to_m200",
    "max_theta_e_arcsec",
]


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


#: arcs tried on one field before :func:`simulate_mocks` swaps it for another: more keeps bright lens
#: galaxies nearer their share of the fields, at more draws per mock (20 tries: 32 % of mocks on cores
#: brighter than r = 19.5 against 35 % of fields, 3.7 draws per mock; 5 tries: 26 %, 2.9; docs/realism.md)
MAX_FIELD_TRIES = 5


def simulate_mocks(backgrounds: np.ndarray, seeing_fwhm_arcsec: np.ndarray, sky_sigma_nmgy: np.ndarray, n: int,
                   seed: int | np.random.Generator, scale: str = "galaxy", max_draws_factor: float = 20, *,
                   ranges: dict | None = None, pixscale_arcsec: float = PIXSCALE_ARCSEC, supersampling: int = 2,
                   electrons_per_nmgy=ELECTRONS_PER_NMGY, lens_light: pd.DataFrame | None = None,
                   field_light: Callable[[np.ndarray], np.ndarray] | None = None, **cuts) -> MockBatch:
    """Draw, paint, cut and add noise until ``n`` mocks pass (or ``max_draws_factor * n`` draws).

    A field whose arc fails the cuts gets a new arc (up to :data:`MAX_FIELD_TRIES`), so the cuts
    select arcs, not fields: the kept mocks' lens galaxies follow the backgrounds', and on a bright
    lens galaxy only the arcs bright or wide enough to show survive, as in real lens samples.

    Parameters
    ----------
    backgrounds : (m, 3, npix, npix) label-0 cutouts: their light decides whether an arc can be seen
        on them (:func:`~lensfinder_nb.sim.arcs.arc_visible_snr`).
    seeing_fwhm_arcsec : (m, 3) or (3,) PSF FWHM of each background per band.
    sky_sigma_nmgy : (m, 3) or (3,) sky noise per pixel of each background per band.
    n : number of accepted mocks wanted.
    seed : int or Generator; everything (background choice, parameters, noise) follows from it.
    scale : "galaxy" or "cluster".
    max_draws_factor : stop after this many draws per wanted mock; a shortfall warns
        (RuntimeWarning) and returns fewer rows.
    ranges : overrides for :func:`draw_mock_params`. For ``scale="cluster"`` the upper end of
        ``theta_e_arcsec`` is capped at :func:`max_theta_e_arcsec` of the backgrounds' size
        (10.5" for 101 pixels: use 201-pixel cutouts for the full 4-20" range).
    lens_light : DataFrame with one row per background, optional
        Per-background lens overrides for :func:`draw_mock_params` (``lens_x_arcsec``,
        ``lens_y_arcsec``, ``lens_phi_rad``, ``lens_q``: the central galaxy, so light and mass
        line up; for clusters ``z_lens`` with ``m500_msun`` or ``m200_msun`` for a
        catalogue-driven Einstein radius). NaN keeps the drawn value. Catalogue clusters that
        cannot reach the theta_E window are rejected as ``"catalogue theta_E outside window"``.
    field_light : optional function from background indices (k,) to their light (k, 3, npix, npix), for
        callers whose ``backgrounds`` are stand-ins of the right shape (the demo renders only the
        fields the painter picks); None = ``backgrounds`` themselves.
    **cuts : passed to :func:`quality_cuts` (``min_magnification``, ``min_snr``, ``snr_band``).
    """
    rng = np.random.default_rng(seed)
    backgrounds = np.asarray(backgrounds)
    m, nb, npix, npix_x = backgrounds.shape
    if nb != 3 or npix != npix_x:
        raise ValueError(f"backgrounds must be (m, 3, npix, npix), got {backgrounds.shape}")
    seeing = np.broadcast_to(np.asarray(seeing_fwhm_arcsec, float), (m, 3))
    sky = np.broadcast_to(np.asarray(sky_sigma_nmgy, float), (m, 3))
    ranges = dict(ranges or {})
    if scale == "cluster":
        lo, hi = ranges.get("theta_e_arcsec", DEFAULT_RANGES["cluster"]["theta_e_arcsec"])
        fit = max_theta_e_arcsec(npix, pixscale_arcsec)
        if lo >= fit:
            raise InvalidInput(f"cluster theta_E from {lo}\" does not fit a {npix}-pixel cutout (at most {fit:.1f}\"); "
                             "use larger cutouts (201 pixels fit 4-20\")")
        ranges["theta_e_arcsec"] = (lo, min(hi, fit))
    if lens_light is not None:
        lens_light = pd.DataFrame(lens_light).reset_index(drop=True)
        if len(lens_light) != m:
            raise ValueError(f"lens_light has {len(lens_light)} rows for {m} backgrounds")
    max_draws = int(math.ceil(max_draws_factor * n))
    kept_p, kept_m, rejected, drawn = [], [], Counter(), 0
    out_arcs = np.empty((n, 3, npix, npix), np.float32)   # the kept arcs go straight in
    # Each wanted mock has its field; an arc that fails the cuts is replaced by a new arc on the same
    # field (a field is given up after MAX_FIELD_TRIES), so the cuts select arcs, not fields.
    slots, tries = rng.integers(0, m, n), np.zeros(n, np.int64)
    while slots.size and drawn < max_draws:
        k = int(min(max_draws - drawn, slots.size))
        bg = slots[:k]
        lens = None if lens_light is None else lens_light.iloc[bg].reset_index(drop=True)
        params = draw_mock_params(k, rng, scale, lens=lens, **ranges)
        params["background"] = bg
        idx = np.flatnonzero(np.isfinite(params["src_x_arcsec"].to_numpy(float)))
        if idx.size < k:  # catalogue clusters out of the theta_E window: count, and try another field
            rejected["catalogue theta_E outside window"] += k - idx.size
            drawn += k - idx.size
            lost = np.setdiff1d(np.arange(k), idx)
            slots[lost] = rng.integers(0, m, lost.size)
            params, bg = params.iloc[idx].reset_index(drop=True), bg[idx]
            if idx.size == 0:
                continue
        arcs, info = paint_arcs(params, seeing[bg], npix, pixscale_arcsec, supersampling)
        snr = arc_snr(arcs, sky[bg])
        for b, band in enumerate(BANDS):
            params[f"psf_fwhm_{band}"] = seeing[bg, b]
        params = pd.concat([params, info], axis=1)
        for b, band in enumerate(BANDS):
            params[f"snr_{band}"] = snr[:, b]
        light = arc_visible_snr(arcs, sky[bg], backgrounds, bg) if field_light is None else \
            arc_visible_snr(arcs, sky[bg], field_light(bg))
        params["snr_visible"] = light.max(axis=1)
        ok, why = quality_cuts(params, **cuts)
        drawn += len(params)
        rejected.update(why)
        keep = np.flatnonzero(ok)
        filled = sum(len(p) for p in kept_p)
        kept_p.append(params.iloc[keep])
        part = out_arcs[filled:filled + keep.size]
        np.take(arcs, keep, axis=0, out=part)
        kept_m.append(arc_masks(part, sky[bg[keep]]))
        failed = idx[~ok]
        tries[failed] += 1
        give_up = failed[tries[failed] >= MAX_FIELD_TRIES]
        slots[give_up], tries[give_up] = rng.integers(0, m, give_up.size), 0
        left = np.ones(slots.size, bool)
        left[idx[ok]] = False
        slots, tries = slots[left], tries[left]
    params = pd.concat(kept_p, ignore_index=True) if kept_p else pd.DataFrame({"background": []})
    n_kept = len(params)
    arcs = out_arcs[:n_kept]
    masks = np.concatenate(kept_m) if kept_m else np.empty((0, npix, npix), bool)
    if len(params) < n:
        warnings.warn(f"only {len(params)} of {n} mocks passed the cuts in {drawn} draws", RuntimeWarning,
                      stacklevel=2)
    arcs = add_arc_noise(arcs, rng, electrons_per_nmgy)
    return MockBatch(params=params, arcs=arcs, masks=masks, rejected=dict(rejected), n_draws=drawn)


def lenstronomy_reference_arc(row: pd.Series, psf_fwhm_arcsec, npix: int = CUTOUT_SIZE_PX,
                              pixscale_arcsec: float = PIXSCALE_ARCSEC, supersampling: int = 2) -> np.ndarray:
    """The same arc as :func:`paint_arcs`, computed straightforwardly with lenstronomy's SimAPI.

    One ``SimAPI``/``ImageModel`` per band (Gaussian PSF of ``psf_fwhm_arcsec[b]``), source
    amplitude from the magnitude by ``magnitude2amplitude``. Returns float64 (3, npix, npix)
    nanomaggies, bands g, r, z. For tests and the benchmark.
    """
    return reference_arc(row, psf_fwhm_arcsec, npix, pixscale_arcsec, supersampling)
