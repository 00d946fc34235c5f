"""Refine a lens model on a cube: SIE + shear, Sersic lens light, Sersic source, fitted by lenstronomy.

The fit sees the g and r images (sky-subtracted, each with its own PSF; both carry most of the arcs'
light and the lens's, z is the noisiest), cropped around the centre to ``1.6 theta_E + 2"`` on each side
(at least 4"), with neighbours masked (:func:`~lensfinder_nb.modelling.guess.neighbour_mask`).  From the
given start (a person's model, or :func:`~lensfinder_nb.modelling.guess.automatic_guess`)
:func:`~lensfinder_nb.sim.lenstronomy_adapter.fit_sie_shear` runs lenstronomy's particle swarm in stages:
the lens light, then mass and source from several theta_E starts (the best likelihood wins), then all
together, under physical priors (``FIT_PRIORS`` there).  theta_E's error is the Hessian's scaled by
``sqrt(chi2_reduced)`` when the model leaves more than noise behind, widened to cover the starts that fit
about as well (:func:`start_spread`), plus :data:`SYSTEMATIC_FRACTION` of theta_E in quadrature.  All of it
runs in the caller's process; pages run it in a separate process (:mod:`.run`) so lenstronomy never loads
in a page kernel.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..imaging.survey import ELECTRONS_PER_NMGY, PIXSCALE_ARCSEC, TYPICAL_SEEING_ARCSEC
from ..realism.measure import sky_and_noise
from .guess import automatic_guess, bright_companions, neighbour_mask
from .model import MODEL_KEYS, checked_model

__all__ = ["FIT_BANDS", "JOINT_BANDS", "FitImage", "Refined", "fit_image", "refine", "automatic_start",
           "PSO_PARTICLES", "PSO_ITERATIONS", "AUTOMATIC_SPREAD", "START_DELTA_CHI2", "SYSTEMATIC_FRACTION",
           "start_spread"]


#: the swarm's size and length per stage and theta_E start (a lens-light stage, three mass starts, a joint
#: polish: :func:`~lensfinder_nb.sim.lenstronomy_adapter.fit_sie_shear`): about 4 000 likelihood calls in all
PSO_PARTICLES, PSO_ITERATIONS = 24, 40

#: a start that ends within this chi2 of the best one (times chi2_red when above 1) is about as good a
#: fit: theta_E's error covers its theta_E (the degenerate minima a single swarm's Hessian does not see).
#: With :data:`SYSTEMATIC_FRACTION`, calibrated on development mocks (seed 202, never the reported run's):
#: 4 with no floor left the median |fit - truth| / error at 3.4, 25 with the floor at 0.85
START_DELTA_CHI2 = 25.0

#: theta_E's error adds this fraction of theta_E in quadrature: the model (one Sersic source, one Sersic
#: lens light) is not the sky's, and with the counter-image under the lens light theta_E trades against
#: the source offset; the statistical error alone was 3-8x too small on mocks (docs/modelling.md)
SYSTEMATIC_FRACTION = 0.2

#: the smallest theta_E a fit may take (arcsec).  A fit can collapse to it: the source sits on the lens
#: centre and fits the lens light's mismatch (a floor of 0.5 was tried: it stops at 0.5 instead)
THETA_E_MIN_ARCSEC = 0.3

#: the initial theta_E spread for an automatic start; 0.5 was tried and did worse (docs/modelling.md)
AUTOMATIC_SPREAD = 0.15


#: the bands the fit sees (g, r: both carry most of the arcs' light and the lens's; z is the noisiest)
FIT_BANDS = (0, 1)

#: fit g and r jointly, each with its own PSF (True), or their sum with the mean PSF (False)
JOINT_BANDS = True


@dataclass
class FitImage:
    """What the fit sees: the g and r images (band, ny, nx) nanomaggies, sky-subtracted and cropped
    symmetrically about the cube centre (so model coordinates are the cube's), and per band the sky
    noise per pixel, the PSF FWHM and the electrons per nanomaggy."""

    bands: np.ndarray
    noise_sigma: np.ndarray
    psf_fwhm_arcsec: np.ndarray
    pixscale_arcsec: float
    exposure: np.ndarray

    @property
    def image(self) -> np.ndarray:
        """g + r (ny, nx): the picture of the data the page shows."""
        return self.bands.sum(axis=0)


@dataclass
class Refined:
    """A refined model, its quality and the pictures of it (all on :class:`FitImage`'s crop)."""

    model: dict
    theta_e_err_arcsec: float
    chi2_reduced: float
    seconds: float
    data: np.ndarray = field(repr=False)
    model_image: np.ndarray = field(repr=False)
    #: each theta_E start's (theta_E, chi2) after the fit's mass stage
    starts: list = field(default_factory=list)

    @property
    def residual(self) -> np.ndarray:
        return self.data - self.model_image

    def summary(self) -> dict:
        """Plain numbers for JSON and the store: the model, theta_E's error, chi2, seconds."""
        return {"model": {k: float(v) for k, v in self.model.items()},
                "theta_e_arcsec": float(self.model["theta_e_arcsec"]),
                "theta_e_err_arcsec": float(self.theta_e_err_arcsec),
                "chi2_reduced": float(self.chi2_reduced), "seconds": round(float(self.seconds), 2)}


def fit_image(cube: np.ndarray, theta_e_arcsec: float, psf_fwhm_arcsec=TYPICAL_SEEING_ARCSEC,
              pixscale_arcsec: float = PIXSCALE_ARCSEC) -> FitImage:
    """The g and r images of a cube (3, ny, nx), sky-subtracted and cropped to ``1.6 theta_E + 2"`` (at
    least 4") each side for a lens of ``theta_e_arcsec``; ``psf_fwhm_arcsec`` per band (g, r, z) or one number."""
    cube = np.nan_to_num(np.asarray(cube, np.float64))
    if cube.ndim != 3 or cube.shape[0] != 3:
        raise ValueError(f"a cube is (3, ny, nx), got shape {cube.shape}")
    sky, sigma = sky_and_noise(cube)
    idx = list(FIT_BANDS)
    img = cube[idx] - sky[idx][:, None, None]
    ny, nx = img.shape[1:]
    half_arcsec = max(1.6 * float(theta_e_arcsec) + 2.0, 4.0)
    h = min(int(math.ceil(half_arcsec / pixscale_arcsec)), (ny - 1) // 2, (nx - 1) // 2)
    cy, cx = (ny - 1) // 2, (nx - 1) // 2
    # symmetric crop about (n-1)/2 keeps the cube's coordinates for odd sizes; even sizes shift by half a pixel
    crop = img[:, cy - h:cy + h + 1, cx - h:cx + h + 1]
    fwhm = np.broadcast_to(np.asarray(psf_fwhm_arcsec, float), (3,))[idx]
    return FitImage(crop, sigma[idx].astype(float), fwhm.astype(float), pixscale_arcsec,
                    np.asarray(ELECTRONS_PER_NMGY, float)[idx])


def _crop_like(full: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The centre ``shape`` of a (ny, nx) array, cropped as :func:`fit_image` crops the cube."""
    ny, nx = full.shape
    h = (shape[0] - 1) // 2
    cy, cx = (ny - 1) // 2, (nx - 1) // 2
    return full[cy - h:cy + h + 1, cx - h:cx + h + 1]


def refine(cube: np.ndarray, start: dict, psf_fwhm_arcsec=TYPICAL_SEEING_ARCSEC,
           pixscale_arcsec: float = PIXSCALE_ARCSEC, *, n_particles: int = PSO_PARTICLES,
           n_iterations: int = PSO_ITERATIONS, seed: int = 0,
           theta_e_spread: float = 0.15, mask: np.ndarray | None = None,
           joint_bands: bool = JOINT_BANDS, companions: bool = False) -> Refined:
    """Fit the cube starting from ``start`` (a person's model or the automatic guess; missing keys take
    the defaults of :mod:`.model`); ``theta_e_spread``: the swarm's initial spread of theta_E as a
    fraction of the start's (0.15 for a person's model, :data:`AUTOMATIC_SPREAD` for the automatic guess);
    ``mask`` (ny, nx) of the cube, True where the fit looks (default: :func:`.guess.neighbour_mask`);
    ``joint_bands``: g and r fitted jointly, each with its PSF (default), or their sum with the mean PSF;
    ``companions``: satellites and blended neighbours brighter than any arc (:func:`.guess.bright_companions`)
    get their own light in the fit (off by default: no gain measured, docs/modelling.md).
    theta_E's error: see the module docstring."""
    from ..sim.lenstronomy_adapter import fit_sie_shear

    t0 = time.perf_counter()
    start = checked_model(start)
    data = fit_image(cube, start["theta_e_arcsec"], psf_fwhm_arcsec, pixscale_arcsec)
    half = (min(data.image.shape) - 1) / 2 * pixscale_arcsec
    if mask is None:
        mask = neighbour_mask(cube, pixscale_arcsec)
    companion_xy = []
    if companions:
        ny, nx = np.shape(mask)
        # a companion under the mask would have no pixels to fix its light (a singular linear solve)
        companion_xy = [(x, y) for x, y in bright_companions(cube, pixscale_arcsec)
                        if mask[round(y / pixscale_arcsec + (ny - 1) / 2), round(x / pixscale_arcsec + (nx - 1) / 2)]]
    bounds = (THETA_E_MIN_ARCSEC, max(half, 1.0))
    if joint_bands:
        image, noise, psf, exposure = data.bands, data.noise_sigma, data.psf_fwhm_arcsec, data.exposure
    else:  # g + r as one image with the mean PSF (the fit before 2026-12-04)
        image, noise = data.image, float(np.hypot(*data.noise_sigma))
        psf, exposure = float(data.psf_fwhm_arcsec.mean()), float(len(FIT_BANDS) / (1.0 / data.exposure).sum())
    out = fit_sie_shear(image, noise, psf, start, pixscale_arcsec=pixscale_arcsec,
                        exposure=exposure, mask=_crop_like(np.asarray(mask, bool), data.image.shape).astype(int),
                        theta_e_bounds=bounds, n_particles=n_particles,
                        n_iterations=n_iterations, seed=seed,
                        theta_e_spread=theta_e_spread, companion_xy=companion_xy)
    chi2 = float(out["chi2_reduced"])
    err = float(out["theta_e_err_arcsec"]) * math.sqrt(max(chi2, 1.0))
    err = max(err if math.isfinite(err) else 0.0, start_spread(out["starts"], out["theta_e_arcsec"], chi2))
    err = math.hypot(err, SYSTEMATIC_FRACTION * float(out["theta_e_arcsec"]))
    model = {k: float(out[k]) for k in MODEL_KEYS}
    model_image = np.asarray(out["model_image"]).reshape((-1,) + data.image.shape).sum(axis=0)  # g + r
    return Refined(model, err, chi2, time.perf_counter() - t0, data.image, model_image,
                   list(out["starts"]))


def start_spread(starts, theta_e: float, chi2_reduced: float) -> float:
    """The largest |theta_E - ``theta_e``| over the starts (theta_E, chi2) whose chi2 is within
    :data:`START_DELTA_CHI2` x max(chi2_reduced, 1) of the best start's; 0 when only one qualifies."""
    if not starts:
        return 0.0
    best = min(c for _, c in starts)
    tol = START_DELTA_CHI2 * max(float(chi2_reduced), 1.0)
    return float(max((abs(t - theta_e) for t, c in starts if c - best <= tol), default=0.0))


def automatic_start(cube: np.ndarray, pixscale_arcsec: float = PIXSCALE_ARCSEC) -> dict[str, float]:
    """The automatic start of a fit when nobody modelled the subject: :func:`.guess.automatic_guess`
    (centre and shapes from the light, theta_E from the colour-subtracted image)."""
    return automatic_guess(cube, pixscale_arcsec)
