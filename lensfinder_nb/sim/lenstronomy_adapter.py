"""The adapter to lenstronomy: the only module of lensfinder that imports it (inside functions).

Everything else calls these functions with plain numbers, arrays and parameter rows (of
:func:`~lensfinder_nb.sim.params.draw_mock_params`) and gets plain numbers and arrays back, so
lenstronomy's model lists, keyword dicts and objects stay here.  Angles are arcsec, masses Msun,
velocity dispersions km/s; cosmology flat LCDM (H0 = 70 km/s/Mpc, Om0 = 0.3).
"""

from __future__ import annotations

import contextlib
import io
from functools import lru_cache

import numpy as np

from ..imaging.survey import BANDS, CUTOUT_SIZE_PX, ELECTRONS_PER_NMGY, PIXSCALE_ARCSEC, ZERO_POINT_MAG
from ._common import H0_KM_S_MPC, OMEGA_M0
from .source import MAX_CLUMPS, clump_arrays, component_fluxes

__all__ = ["sis_theta_e_arcsec", "nfw_angles_arcsec", "nfw_deflection_arcsec", "deflection", "hessian",
           "image_positions", "ReferenceRenderer", "reference_arc", "fit_sie_shear", "FIT_LENS_KEYS",
           "FIT_LIGHT_KEYS", "FIT_SOURCE_KEYS", "FIT_PRIORS", "THETA_E_FACTORS", "residual_arc_radius"]


@lru_cache(maxsize=1)
def _cosmo():
    from astropy.cosmology import FlatLambdaCDM

    return FlatLambdaCDM(H0=H0_KM_S_MPC, Om0=OMEGA_M0)


def _lens_cosmo(z_lens: float, z_source: float):
    from lenstronomy.Cosmo.lens_cosmo import LensCosmo

    return LensCosmo(z_lens=float(z_lens), z_source=float(z_source), cosmo=_cosmo())


def sis_theta_e_arcsec(sigma_v_kms: float, z_lens: float, z_source: float) -> float:
    """Einstein radius (arcsec) of a singular isothermal sphere of velocity dispersion ``sigma_v_kms``."""
    return float(_lens_cosmo(z_lens, z_source).sis_sigma_v2theta_E(float(sigma_v_kms)))


def nfw_angles_arcsec(m200_msun: float, c200: float, z_lens: float, z_source: float) -> tuple[float, float]:
    """Scale radius and deflection at the scale radius (both arcsec) of an NFW halo (M200 critical, c200)."""
    rs, alpha_rs = _lens_cosmo(z_lens, z_source).nfw_physical2angle(M=float(m200_msun), c=float(c200))
    return float(rs), float(alpha_rs)


def nfw_deflection_arcsec(r_arcsec, rs_arcsec: float, alpha_rs_arcsec: float) -> np.ndarray:
    """Radial deflection (arcsec) of lenstronomy's spherical NFW at radii ``r_arcsec``."""
    from lenstronomy.LensModel.Profiles.nfw import NFW

    r = np.asarray(r_arcsec, float)
    return NFW().derivatives(r, np.zeros_like(r), Rs=rs_arcsec, alpha_Rs=alpha_rs_arcsec)[0]


@lru_cache(maxsize=4)
def _lens_model(names: tuple[str, ...]):
    from lenstronomy.LensModel.lens_model import LensModel

    return LensModel(list(names))


def _lens(row):
    """lenstronomy LensModel and kwargs for one parameter row (galaxy or cluster)."""
    from lenstronomy.Util.param_util import phi_q2_ellipticity

    e1, e2 = phi_q2_ellipticity(row["lens_phi_rad"], row["lens_q"])
    cx, cy = row["lens_x_arcsec"], row["lens_y_arcsec"]
    shear = {"gamma1": row["gamma1"], "gamma2": row["gamma2"], "ra_0": 0.0, "dec_0": 0.0}
    if row["scale"] == "galaxy":
        sie = {"theta_E": row["theta_e_arcsec"], "e1": e1, "e2": e2, "center_x": cx, "center_y": cy}
        return _lens_model(("SIE", "SHEAR")), [sie, shear]
    nfw = {"Rs": row["nfw_rs_arcsec"], "alpha_Rs": row["nfw_alpha_rs_arcsec"], "center_x": cx, "center_y": cy}
    sie = {"theta_E": row["bcg_theta_e_arcsec"], "e1": e1, "e2": e2, "center_x": cx, "center_y": cy}
    return _lens_model(("NFW", "SIE", "SHEAR")), [nfw, sie, shear]


def deflection(row, x_arcsec, y_arcsec) -> tuple[np.ndarray, np.ndarray]:
    """Deflection (alpha_x, alpha_y) in arcsec at image-plane points of one lens row.

    The source-plane position is ``(x - alpha_x, y - alpha_y)`` (lenstronomy's ray shooting).
    """
    model, kwargs = _lens(row)
    return model.alpha(x_arcsec, y_arcsec, kwargs)


def hessian(row, x_arcsec, y_arcsec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Second derivatives (f_xx, f_xy, f_yx, f_yy) of the lensing potential of one lens row."""
    model, kwargs = _lens(row)
    return model.hessian(x_arcsec, y_arcsec, kwargs)


def image_positions(row, x_source_arcsec: float, y_source_arcsec: float, *, search_window_arcsec: float,
                    min_distance_arcsec: float) -> tuple[np.ndarray, np.ndarray]:
    """Image-plane positions (x, y arrays, arcsec) of a point source behind one lens row."""
    from lenstronomy.LensModel.Solver.lens_equation_solver import LensEquationSolver

    model, kwargs = _lens(row)
    x, y = LensEquationSolver(model).image_position_from_source(
        x_source_arcsec, y_source_arcsec, kwargs, search_window=search_window_arcsec,
        min_distance=min_distance_arcsec, precision_limit=1e-8, num_iter_max=30)
    return np.asarray(x), np.asarray(y)


def _magnitude(flux_nmgy: float) -> float:
    """AB magnitude of a flux in nanomaggies; zero flux is infinitely faint (lenstronomy's amp becomes 0)."""
    return ZERO_POINT_MAG - 2.5 * float(np.log10(flux_nmgy)) if flux_nmgy > 0 else float("inf")


class ReferenceRenderer:
    """Arcs the straightforward way: one lenstronomy SimAPI + ImageModel per band, built once, reused.

    For tests and the benchmark's baseline; :meth:`arc` returns float64 (3, npix, npix) nanomaggies.
    """

    def __init__(self, scale: str, psf_fwhm_arcsec, npix: int = CUTOUT_SIZE_PX,
                 pixscale_arcsec: float = PIXSCALE_ARCSEC, supersampling: int = 2,
                 electrons_per_nmgy=ELECTRONS_PER_NMGY) -> None:
        from lenstronomy.SimulationAPI.sim_api import SimAPI

        lens_list = ["SIE", "SHEAR"] if scale == "galaxy" else ["NFW", "SIE", "SHEAR"]
        # the source: a Sersic body and MAX_CLUMPS Gaussian clumps (absent ones get zero flux)
        model = {"lens_model_list": lens_list, "source_light_model_list": ["SERSIC_ELLIPSE"] + ["GAUSSIAN"] * MAX_CLUMPS}
        fwhm = np.broadcast_to(np.asarray(psf_fwhm_arcsec, float), (3,))
        self._sims, self._models = [], []
        for b in range(3):
            band = {"pixel_scale": pixscale_arcsec, "exposure_time": float(electrons_per_nmgy[b]),
                    "magnitude_zero_point": ZERO_POINT_MAG, "background_noise": 0.0,
                    "seeing": float(fwhm[b]), "psf_type": "GAUSSIAN"}
            sim = SimAPI(num_pix=npix, kwargs_single_band=band, kwargs_model=model)
            self._sims.append(sim)
            self._models.append(sim.image_model_class({"supersampling_factor": int(supersampling)}))

    def arc(self, row, noise: bool = False) -> np.ndarray:
        """The arc of one parameter row, bands g, r, z; ``noise`` adds lenstronomy's Poisson noise."""
        from lenstronomy.Util.param_util import phi_q2_ellipticity

        import pandas as pd

        _, kw_lens = _lens(row)
        e1, e2 = phi_q2_ellipticity(row["src_phi_rad"], row["src_q"])
        one = pd.DataFrame([row])
        body, clumps = (f[0] for f in component_fluxes(one))
        dx, dy, sigma, share = (a[0] for a in clump_arrays(one))
        x0, y0 = row["src_x_arcsec"], row["src_y_arcsec"]
        out = []
        for b, band in enumerate(BANDS):
            src = [{"magnitude": _magnitude(body[b]), "R_sersic": row["src_r_e_arcsec"],
                    "n_sersic": row["src_n_sersic"], "e1": e1, "e2": e2, "center_x": x0, "center_y": y0}]
            src += [{"magnitude": _magnitude(clumps[b] * share[k]), "sigma": sigma[k],
                     "center_x": x0 + dx[k], "center_y": y0 + dy[k]} for k in range(MAX_CLUMPS)]
            _, kw_src, _ = self._sims[b].magnitude2amplitude(kwargs_source_mag=src)
            img = self._models[b].image(kw_lens, kw_src, lens_light_add=False, point_source_add=False)
            if noise:
                img = img + self._sims[b].noise_for_model(img, background_noise=False, poisson_noise=True)
            out.append(img)
        return np.array(out)


def reference_arc(row, psf_fwhm_arcsec, npix: int = CUTOUT_SIZE_PX, pixscale_arcsec: float = PIXSCALE_ARCSEC,
                  supersampling: int = 2) -> np.ndarray:
    """One row's noise-free arc computed by lenstronomy's SimAPI: float64 (3, npix, npix) nanomaggies."""
    return ReferenceRenderer(row["scale"], psf_fwhm_arcsec, npix, pixscale_arcsec, supersampling).arc(row)


# ---------------------------------------------------------------------- fitting a lens model to an image
#: the free parameters of :func:`fit_sie_shear` and their order, in lensfinder's column names
FIT_LENS_KEYS = ("theta_e_arcsec", "lens_q", "lens_phi_rad", "lens_x_arcsec", "lens_y_arcsec", "gamma1", "gamma2")
FIT_LIGHT_KEYS = ("light_r_e_arcsec", "light_n_sersic", "light_q", "light_phi_rad")
FIT_SOURCE_KEYS = ("src_x_arcsec", "src_y_arcsec", "src_r_e_arcsec", "src_n_sersic", "src_q", "src_phi_rad")


def _fit_setup(image, noise_sigma, psf_fwhm_arcsec, pixscale_arcsec, exposure):
    """lenstronomy's data, PSF and numerics for one (ny, nx) image whose x runs along columns and y
    along rows, both from the image centre (the convention of :mod:`lensfinder_nb.sim.paint`)."""
    ny, nx = image.shape
    kwargs_data = {"image_data": np.asarray(image, float), "background_rms": float(noise_sigma),
                   "exposure_time": float(exposure),
                   "ra_at_xy_0": -(nx - 1) / 2.0 * pixscale_arcsec, "dec_at_xy_0": -(ny - 1) / 2.0 * pixscale_arcsec,
                   "transform_pix2angle": np.array([[pixscale_arcsec, 0.0], [0.0, pixscale_arcsec]])}
    kwargs_psf = {"psf_type": "GAUSSIAN", "fwhm": float(psf_fwhm_arcsec), "truncation": 4}
    return kwargs_data, kwargs_psf, {"supersampling_factor": 1}


def _to_kwargs(m: dict):
    """lensfinder's model dict -> lenstronomy's lens, source and lens-light keyword lists."""
    from lenstronomy.Util.param_util import phi_q2_ellipticity

    e1, e2 = phi_q2_ellipticity(m["lens_phi_rad"], m["lens_q"])
    lens = [{"theta_E": m["theta_e_arcsec"], "e1": e1, "e2": e2, "center_x": m["lens_x_arcsec"],
             "center_y": m["lens_y_arcsec"]}, {"gamma1": m["gamma1"], "gamma2": m["gamma2"], "ra_0": 0.0, "dec_0": 0.0}]
    se1, se2 = phi_q2_ellipticity(m["src_phi_rad"], m["src_q"])
    source = [{"R_sersic": m["src_r_e_arcsec"], "n_sersic": m["src_n_sersic"], "e1": se1, "e2": se2,
               "center_x": m["src_x_arcsec"], "center_y": m["src_y_arcsec"]}]
    le1, le2 = phi_q2_ellipticity(m["light_phi_rad"], m["light_q"])
    light = [{"R_sersic": m["light_r_e_arcsec"], "n_sersic": m["light_n_sersic"], "e1": le1, "e2": le2,
              "center_x": m["lens_x_arcsec"], "center_y": m["lens_y_arcsec"]}]
    return lens, source, light


def _from_kwargs(lens, source, light) -> dict:
    from lenstronomy.Util.param_util import ellipticity2phi_q

    phi, q = ellipticity2phi_q(lens[0]["e1"], lens[0]["e2"])
    sphi, sq = ellipticity2phi_q(source[0]["e1"], source[0]["e2"])
    lphi, lq = ellipticity2phi_q(light[0]["e1"], light[0]["e2"])
    return {"theta_e_arcsec": lens[0]["theta_E"], "lens_q": q, "lens_phi_rad": phi % np.pi,
            "lens_x_arcsec": lens[0]["center_x"], "lens_y_arcsec": lens[0]["center_y"],
            "gamma1": lens[1]["gamma1"], "gamma2": lens[1]["gamma2"],
            "light_r_e_arcsec": light[0]["R_sersic"], "light_n_sersic": light[0]["n_sersic"],
            "light_q": lq, "light_phi_rad": lphi % np.pi,
            "src_x_arcsec": source[0]["center_x"], "src_y_arcsec": source[0]["center_y"],
            "src_r_e_arcsec": source[0]["R_sersic"], "src_n_sersic": source[0]["n_sersic"],
            "src_q": sq, "src_phi_rad": sphi % np.pi,
            "src_amp": source[0].get("amp", np.nan), "light_amp": light[0].get("amp", np.nan)}


_MODEL_LISTS = {"lens_model_list": ["SIE", "SHEAR"], "source_light_model_list": ["SERSIC_ELLIPSE"],
                "lens_light_model_list": ["SERSIC_ELLIPSE"]}


#: physical priors of :func:`fit_sie_shear`.  Why: with arcs a few sigma above a bright lens, an unconstrained
#: SIE + Sersic model trades arc light for extreme mass ellipticities (q ~ 0.2), large shears and big,
#: concentrated sources, at as good a chi2 as the right model.  Values are those of galaxy-scale lens samples
#: (SLACS, SL2S, BELLS: SIE axis ratio above ~0.5 and aligned with the light; external shear a few per cent;
#: lensed sources R_e <~ 1", Sersic n <~ 4), not fitted to any benchmark's mocks.
FIT_PRIORS = {
    "mass_e_max": 0.35,  # |e1|, |e2| of the SIE (q >~ 0.5)
    "mass_light_e_sigma": 0.15,  # Gaussian prior of the SIE's e1, e2 around the fitted lens light's
    "shear_max": 0.15, "shear_sigma": 0.05,  # bound and Gaussian prior (mean 0) of gamma1, gamma2
    "centre_box_arcsec": 0.3,  # the lens centre stays within this of the start's (the light centroid)
    "src_r_e_max_arcsec": 1.0, "src_n_max": 4.0,
}

#: the theta_E starts of the mass stage, as factors of the start's theta_E (see :func:`fit_sie_shear`)
THETA_E_FACTORS = (0.7, 1.0, 1.4)

_MASS_SHAPE = [[0, ["theta_E", "e1", "e2"]], [1, ["gamma1", "gamma2"]]]
_SOURCE_ALL = [[0, ["R_sersic", "n_sersic", "e1", "e2", "center_x", "center_y"]]]
_LIGHT_SHAPE = [[0, ["R_sersic", "n_sersic", "e1", "e2"]]]


def _fit_params(start: dict, half: float, theta_e_bounds, theta_e_spread: float):
    """lenstronomy's kwargs_params (start, sigma, fixed, lower, upper per component) with :data:`FIT_PRIORS`'
    bounds; the start clipped into the bounds."""
    pr = FIT_PRIORS
    lens0, source0, light0 = _to_kwargs(start)
    te = float(start["theta_e_arcsec"])
    lx, ly, box = float(start["lens_x_arcsec"]), float(start["lens_y_arcsec"]), pr["centre_box_arcsec"]
    em, gm = pr["mass_e_max"], pr["shear_max"]
    lens_sigma = [{"theta_E": max(theta_e_spread * te, 0.1), "e1": 0.1, "e2": 0.1, "center_x": 0.1, "center_y": 0.1},
                  {"gamma1": 0.04, "gamma2": 0.04}]
    lens_lower = [{"theta_E": theta_e_bounds[0], "e1": -em, "e2": -em, "center_x": lx - box, "center_y": ly - box},
                  {"gamma1": -gm, "gamma2": -gm}]
    lens_upper = [{"theta_E": theta_e_bounds[1], "e1": em, "e2": em, "center_x": lx + box, "center_y": ly + box},
                  {"gamma1": gm, "gamma2": gm}]
    src_sigma = [{"R_sersic": 0.1, "n_sersic": 0.5, "e1": 0.15, "e2": 0.15, "center_x": max(0.15 * te, 0.05),
                  "center_y": max(0.15 * te, 0.05)}]
    src_lower = [{"R_sersic": 0.03, "n_sersic": 0.5, "e1": -0.5, "e2": -0.5, "center_x": -half, "center_y": -half}]
    src_upper = [{"R_sersic": pr["src_r_e_max_arcsec"], "n_sersic": pr["src_n_max"], "e1": 0.5, "e2": 0.5,
                  "center_x": half, "center_y": half}]
    light_sigma = [{"R_sersic": max(0.3, 0.5 * float(start["light_r_e_arcsec"])), "n_sersic": 1.0, "e1": 0.1,
                    "e2": 0.1, "center_x": 0.05, "center_y": 0.05}]
    light_lower = [{"R_sersic": 0.05, "n_sersic": 0.5, "e1": -0.5, "e2": -0.5, "center_x": -1.0, "center_y": -1.0}]
    light_upper = [{"R_sersic": 10.0, "n_sersic": 8.0, "e1": 0.5, "e2": 0.5, "center_x": 1.0, "center_y": 1.0}]
    for kws, lows, highs in ((lens0, lens_lower, lens_upper), (source0, src_lower, src_upper),
                             (light0, light_lower, light_upper)):
        for kw, lo, hi in zip(kws, lows, highs):
            for k in lo:
                if k in kw:
                    kw[k] = float(np.clip(kw[k], lo[k], hi[k]))
    params = {"lens_model": [lens0, lens_sigma, [{}, {"ra_0": 0.0, "dec_0": 0.0}], lens_lower, lens_upper],
              "source_model": [source0, src_sigma, [{}], src_lower, src_upper],
              "lens_light_model": [light0, light_sigma, [{}], light_lower, light_upper]}
    sigmas = {"kwargs_lens": lens_sigma, "kwargs_source": src_sigma, "kwargs_lens_light": light_sigma}
    return params, sigmas


def fit_sie_shear(image, noise_sigma, psf_fwhm_arcsec, start: dict, *,
                  pixscale_arcsec: float = PIXSCALE_ARCSEC, exposure=ELECTRONS_PER_NMGY[1],
                  mask=None, theta_e_bounds=(0.3, 8.0), n_particles: int = 24, n_iterations: int = 40,
                  hessian_errors: bool = True, seed: int = 0, theta_e_spread: float = 0.15,
                  theta_e_factors=THETA_E_FACTORS, arc_start: bool = False, companion_xy=()) -> dict:
    """Fit SIE + external shear (mass), a Sersic lens light and a Sersic source to one image.

    ``image`` (ny, nx) sky-subtracted nanomaggies, or (band, ny, nx) for a joint fit of several bands
    (lenstronomy's "multi-linear": one model, each band's own PSF and amplitudes, so a PSF that differs
    between bands leaves no ring around a bright lens); ``noise_sigma``, ``psf_fwhm_arcsec`` and
    ``exposure`` one number or one per band; ``noise_sigma`` the sky noise per pixel;
    ``start`` a model dict with the keys of :data:`FIT_LENS_KEYS`, :data:`FIT_LIGHT_KEYS`,
    :data:`FIT_SOURCE_KEYS` (arcsec, radians; x along columns, y along rows from the image
    centre).  Three stages of lenstronomy's particle swarm, all with the priors of :data:`FIT_PRIORS`:

    1. the lens light (and the common centre) with mass and source held at the start
       (``n_particles`` x ``n_iterations``): the bright lens pins it apart from the arcs;
    2. mass and source with the lens light's shape held, once from each theta_E of
       ``theta_e_factors`` x the start's (source offset scaled alike), ``n_particles`` x
       ``n_iterations`` each, and with ``arc_start`` one more at the radius of the light that the
       stage-1 lens light leaves, :func:`residual_arc_radius`, unless a start is within 15 % of it (off
       by default: on development mocks it won by fitting blended neighbours as often as it helped);
       the start of best likelihood wins (a single swarm settles in the minimum nearest its start,
       and an automatic start can be off by 2x);
    3. everything free from the winner, at a third of the initial spread (``n_iterations // 2``).

    ``companion_xy``: positions (x, y arcsec) of bright satellites or blended neighbours near the lens; each
    gets its own elliptical Sersic light (within 0.3" of its position), fitted with the lens light in
    stage 1 and held in stage 2, so that it need not be painted as a lensed image.

    The curvature of the likelihood at the best fit (a finite-difference Hessian over the mass and
    source parameters, so correlations widen it) gives the uncertainty of theta_E; ``starts`` lists
    each start's (theta_E, chi2) after stage 2.  The lens light shares the mass centre; amplitudes
    are solved linearly.  Returns the best model dict plus ``theta_e_err_arcsec``, ``chi2_reduced``,
    ``model_image`` (shaped as ``image``), ``n_evaluations`` and ``starts``.  ``theta_e_spread``: the initial spread of
    theta_E within each start as a fraction of the start's.
    """
    import copy

    from lenstronomy.Workflow.fitting_sequence import FittingSequence

    np.random.seed(seed)  # lenstronomy's PSO and emcee draw from numpy's global generator
    image = np.asarray(image, float)
    bands = image if image.ndim == 3 else image[None]
    nb = bands.shape[0]
    noise_sigma, psf_fwhm_arcsec, exposure = (np.broadcast_to(np.asarray(v, float), (nb,))
                                              for v in (noise_sigma, psf_fwhm_arcsec, exposure))
    band_list = [list(_fit_setup(bands[b], noise_sigma[b], psf_fwhm_arcsec[b], pixscale_arcsec, exposure[b]))
                 for b in range(nb)]
    te = float(start["theta_e_arcsec"])
    half = (min(bands.shape[1:]) - 1) / 2.0 * pixscale_arcsec
    kwargs_params, sigmas = _fit_params(start, half, theta_e_bounds, theta_e_spread)
    lists = _MODEL_LISTS
    light_shape = _LIGHT_SHAPE
    companion_xy = [(float(x), float(y)) for x, y in companion_xy if max(abs(x), abs(y)) < half - 0.5]
    if companion_xy:
        kwargs_params, sigmas, lists, light_shape = _with_companions(kwargs_params, sigmas, companion_xy)
    kwargs_constraints = {"joint_lens_with_light": [[0, 0, ["center_x", "center_y"]]]}
    kwargs_likelihood = {"check_bounds": True, "source_marg": False}
    if mask is not None:
        kwargs_likelihood["image_likelihood_mask_list"] = [np.asarray(mask, int)] * nb
    data_joint = {"multi_band_list": band_list, "multi_band_type": "multi-linear" if nb > 1 else "single-band"}
    fs = FittingSequence(data_joint, lists, kwargs_constraints, kwargs_likelihood, kwargs_params)

    def run(sequence) -> None:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # progress bars
            fs.fit_sequence(sequence)

    def pso(particles: int, iterations: int, scale: float = 1.0) -> list:
        return ["PSO", {"sigma_scale": scale, "n_particles": int(particles), "n_iterations": int(max(iterations, 1)),
                        "threadCount": 1}]

    n_eval = 0
    short = max(n_iterations // 2, 1)
    run([["update_settings", {"lens_add_fixed": _MASS_SHAPE, "source_add_fixed": _SOURCE_ALL}],
         pso(n_particles, n_iterations),
         ["update_settings", {"lens_remove_fixed": _MASS_SHAPE, "source_remove_fixed": _SOURCE_ALL,
                              "lens_light_add_fixed": light_shape}]])
    n_eval += n_particles * (n_iterations + 1)
    light = fs.best_fit()
    # the mass follows the light's shape within the prior's width (the light's fitted e1, e2, not the start's)
    pr = FIT_PRIORS
    le1, le2 = light["kwargs_lens_light"][0]["e1"], light["kwargs_lens_light"][0]["e2"]
    run([["update_settings", {"kwargs_likelihood": {**kwargs_likelihood, "prior_lens": [
        [0, "e1", le1, pr["mass_light_e_sigma"]], [0, "e2", le2, pr["mass_light_e_sigma"]],
        [1, "gamma1", 0.0, pr["shear_sigma"]], [1, "gamma2", 0.0, pr["shear_sigma"]]]}}]])
    sx = float(start["src_x_arcsec"]) - float(start["lens_x_arcsec"])
    sy = float(start["src_y_arcsec"]) - float(start["lens_y_arcsec"])
    thetas = [te * f for f in theta_e_factors]
    if arc_start:
        # one more start at the radius of the light the fitted lens light leaves (the arcs), unless a
        # start is already within 15 % of it: the automatic guess can be off by 2x
        w = np.ones(bands.shape[1:]) if mask is None else np.asarray(mask, float)
        snr = sum(w * (bands[b] - _lens_light_image(*band_list[b], light, lists)) / noise_sigma[b] for b in range(nb))
        centre = light["kwargs_lens"][0]["center_x"], light["kwargs_lens"][0]["center_y"]
        arc_te = residual_arc_radius(snr / np.sqrt(nb), centre, pixscale_arcsec,
                                     max_radius_arcsec=min(4.0, theta_e_bounds[1]))
        if np.isfinite(arc_te) and all(abs(arc_te / t - 1) > 0.15 for t in thetas):
            thetas.append(arc_te)
    starts = []
    for t in thetas:
        f = t / te
        kw = copy.deepcopy(light)
        kw["kwargs_lens"][0]["theta_E"] = float(np.clip(t, *theta_e_bounds))
        cx, cy = kw["kwargs_lens"][0]["center_x"], kw["kwargs_lens"][0]["center_y"]
        kw["kwargs_source"][0]["center_x"] = float(np.clip(cx + sx * f, -half, half))
        kw["kwargs_source"][0]["center_y"] = float(np.clip(cy + sy * f, -half, half))
        fs.update_state(kw)
        run([pso(n_particles, n_iterations)])
        n_eval += n_particles * (n_iterations + 1)
        starts.append((float(fs.best_fit_likelihood()), fs.best_fit()))
    log_l, best = max(starts, key=lambda t: t[0])
    fs.update_state(best)
    run([["update_settings", {"lens_light_remove_fixed": light_shape}], pso(n_particles, short, 0.3)])
    n_eval += n_particles * (short + 1)
    best = fs.best_fit()
    te_err, n_hess = np.nan, 0
    if hessian_errors:
        te_err, n_hess = _theta_e_error(fs, best, sigmas)
    n_eval += n_hess
    out = _from_kwargs(best["kwargs_lens"], best["kwargs_source"], best["kwargs_lens_light"])
    model_image = np.stack([_model_image(*band_list[b], best, lists) for b in range(nb)])
    w = np.ones_like(bands) if mask is None else np.broadcast_to(np.asarray(mask, float), bands.shape)
    var = noise_sigma[:, None, None] ** 2 + np.clip(model_image, 0, None) / exposure[:, None, None]
    # two more linear amplitudes per band; a companion: six shape parameters and an amplitude per band
    n_free = 17 + 2 * (nb - 1) + len(companion_xy) * (6 + nb)
    chi2 = float((w * (bands - model_image) ** 2 / var).sum() / max(w.sum() - n_free, 1))
    if image.ndim == 2:
        model_image = model_image[0]
    return {**out, "theta_e_err_arcsec": te_err, "chi2_reduced": chi2, "model_image": model_image,
            "n_evaluations": int(n_eval),
            "starts": [(float(b["kwargs_lens"][0]["theta_E"]), -2.0 * ll) for ll, b in starts]}


def _with_companions(kwargs_params, sigmas, companion_xy):
    """``kwargs_params`` with an elliptical Sersic light per companion position (after the lens light), the
    sigmas to match, the model lists and the light-shape parameters stage 2 holds."""
    init, sig, fixed, low, up = kwargs_params["lens_light_model"]
    k = len(companion_xy)
    init = init + [{"R_sersic": 0.3, "n_sersic": 2.0, "e1": 0.0, "e2": 0.0, "center_x": x, "center_y": y}
                   for x, y in companion_xy]
    # one dict per component: lenstronomy fills the fixed dicts in place, so shared ones would tie them
    sig = sig + [{"R_sersic": 0.15, "n_sersic": 0.5, "e1": 0.1, "e2": 0.1, "center_x": 0.05, "center_y": 0.05}
                 for _ in range(k)]
    low = low + [{"R_sersic": 0.03, "n_sersic": 0.5, "e1": -0.5, "e2": -0.5, "center_x": x - 0.3, "center_y": y - 0.3}
                 for x, y in companion_xy]
    up = up + [{"R_sersic": 2.0, "n_sersic": 6.0, "e1": 0.5, "e2": 0.5, "center_x": x + 0.3, "center_y": y + 0.3}
               for x, y in companion_xy]
    params = {**kwargs_params, "lens_light_model": [init, sig, fixed + [{} for _ in range(k)], low, up]}
    lists = {**_MODEL_LISTS, "lens_light_model_list": ["SERSIC_ELLIPSE"] * (k + 1)}
    shape = _LIGHT_SHAPE + [[i, ["R_sersic", "n_sersic", "e1", "e2", "center_x", "center_y"]] for i in range(1, k + 1)]
    return params, {**sigmas, "kwargs_lens_light": sig}, lists, shape


def _image_fit(kwargs_data, kwargs_psf, kwargs_numerics, lists=None):
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF
    from lenstronomy.ImSim.image_linear_solve import ImageLinearFit
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel

    lists = lists or _MODEL_LISTS
    return ImageLinearFit(ImageData(**kwargs_data), PSF(**kwargs_psf),
                          lens_model_class=LensModel(lists["lens_model_list"]),
                          source_model_class=LightModel(lists["source_light_model_list"]),
                          lens_light_model_class=LightModel(lists["lens_light_model_list"]),
                          kwargs_numerics=kwargs_numerics)


def _model_image(kwargs_data, kwargs_psf, kwargs_numerics, best, lists=None) -> np.ndarray:
    """The best model's image with its light amplitudes solved linearly (the swarm's kwargs carry none,
    so rendering them as they are gives unit amplitudes)."""
    model = _image_fit(kwargs_data, kwargs_psf, kwargs_numerics, lists)
    image = model.image_linear_solve(best["kwargs_lens"], best["kwargs_source"], best["kwargs_lens_light"])[0]
    return np.asarray(image)


def _lens_light_image(kwargs_data, kwargs_psf, kwargs_numerics, best, lists=None) -> np.ndarray:
    """The lens light alone of a model (amplitudes solved linearly with the source present)."""
    import copy

    model = _image_fit(kwargs_data, kwargs_psf, kwargs_numerics, lists)
    kw = copy.deepcopy(best)
    param = model.image_linear_solve(kw["kwargs_lens"], kw["kwargs_source"], kw["kwargs_lens_light"])[3]
    _, _, light, _ = model.update_linear_kwargs(param, kw["kwargs_lens"], kw["kwargs_source"],
                                                kw["kwargs_lens_light"], [])
    return np.asarray(model.lens_surface_brightness(light))


def residual_arc_radius(residual_snr: np.ndarray, centre_xy: tuple[float, float], pixscale_arcsec: float,
                        min_radius_arcsec: float = 0.5, max_radius_arcsec: float = 4.0,
                        threshold: float = 3.0) -> float:
    """The S/N-weighted mean radius (arcsec) from ``centre_xy`` (arcsec from the image centre) of the
    arc light in a lens-subtracted S/N image (ny, nx; masked pixels 0): pixels whose 1-pixel-smoothed
    S/N (scaled to a point source's) exceeds ``threshold``, between the two radii, weighted by the excess;
    NaN when there are none."""
    from scipy import ndimage as ndi

    ny, nx = residual_snr.shape
    snr = ndi.gaussian_filter(np.asarray(residual_snr, float), 1.0) * 2.0 * np.sqrt(np.pi)
    yy, xx = np.mgrid[0:ny, 0:nx]
    r = np.hypot((xx - (nx - 1) / 2) * pixscale_arcsec - centre_xy[0],
                 (yy - (ny - 1) / 2) * pixscale_arcsec - centre_xy[1])
    w = np.clip(snr - threshold, 0.0, None) * ((r > min_radius_arcsec) & (r < max_radius_arcsec))
    return float((w * r).sum() / w.sum()) if w.sum() > 0 else float("nan")


def _theta_e_error(fs, best, sigmas) -> tuple[float, int]:
    """1-sigma of theta_E from the inverse Hessian of -log L at the best fit, marginal over the mass
    and source parameters (the lens light is fixed: the bright centre pins it apart from the arcs);
    steps are 3 % of the swarm's scales.  Directions of zero or negative curvature (a swarm that has
    not quite settled) are left out rather than given infinite errors.  Returns (error, evaluations)."""
    param, like = fs.param_class, fs.likelihood_class
    x0 = np.asarray(param.kwargs2args(**best), float)
    names = param.num_param()[1]
    scale = np.abs(np.asarray(param.kwargs2args(**{**best, **sigmas}), float))
    free = np.array([i for i, nm in enumerate(names) if "lens_light" not in nm])
    h = 0.03 * np.where(scale > 0, scale, 0.01)

    def f(idx, signs):
        x = x0.copy()
        for i, sgn in zip(idx, signs):
            x[i] += sgn * h[i]
        return -float(like.logL(x))

    m = free.size
    f0 = f((), ())
    hess = np.empty((m, m))
    calls = 1
    for a_, i in enumerate(free):
        hess[a_, a_] = (f((i,), (1,)) - 2 * f0 + f((i,), (-1,))) / h[i] ** 2
        calls += 2
        for b_ in range(a_ + 1, m):
            j = free[b_]
            v = (f((i, j), (1, 1)) - f((i, j), (1, -1)) - f((i, j), (-1, 1)) + f((i, j), (-1, -1))) / (4 * h[i] * h[j])
            hess[a_, b_] = hess[b_, a_] = v
            calls += 4
    w, v = np.linalg.eigh(hess)
    keep = np.isfinite(w) & (w > 0)
    if not keep.any():
        return np.nan, calls
    cov = (v[:, keep] / w[keep]) @ v[:, keep].T
    k = int(np.flatnonzero(free == names.index("theta_E_lens0"))[0])
    return float(np.sqrt(cov[k, k])), calls
