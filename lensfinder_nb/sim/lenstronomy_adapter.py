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
           "FIT_LIGHT_KEYS", "FIT_SOURCE_KEYS"]


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


def fit_sie_shear(image, noise_sigma: float, psf_fwhm_arcsec: float, start: dict, *,
                  pixscale_arcsec: float = PIXSCALE_ARCSEC, exposure: float = ELECTRONS_PER_NMGY[1],
                  mask=None, theta_e_bounds=(0.3, 8.0), n_particles: int = 40, n_iterations: int = 60,
                  hessian_errors: bool = True, seed: int = 0, theta_e_spread: float = 0.15) -> dict:
    """Fit SIE + external shear (mass), a Sersic lens light and a Sersic source to one image.

    ``image`` (ny, nx) sky-subtracted nanomaggies; ``noise_sigma`` its sky noise per pixel;
    ``start`` a model dict with the keys of :data:`FIT_LENS_KEYS`, :data:`FIT_LIGHT_KEYS`,
    :data:`FIT_SOURCE_KEYS` (arcsec, radians; x along columns, y along rows from the image
    centre).  A particle swarm from ``start`` finds the best fit; the curvature of the likelihood
    there (a finite-difference Hessian over all free parameters, so correlations widen it) gives the
    uncertainty of theta_E.  The lens light shares the mass centre; amplitudes are solved
    linearly.  Returns the best model dict plus ``theta_e_err_arcsec``, ``chi2_reduced``,
    ``model_image`` and ``n_evaluations``.  ``theta_e_spread``: the swarm's initial spread of theta_E
    as a fraction of the start's (wider for an automatic start, which can be off by a factor 2).
    """
    from lenstronomy.Workflow.fitting_sequence import FittingSequence

    np.random.seed(seed)  # lenstronomy's PSO and emcee draw from numpy's global generator
    image = np.asarray(image, float)
    kwargs_data, kwargs_psf, kwargs_numerics = _fit_setup(image, noise_sigma, psf_fwhm_arcsec, pixscale_arcsec,
                                                          exposure)
    lens0, source0, light0 = _to_kwargs(start)
    te = float(start["theta_e_arcsec"])
    half = (min(image.shape) - 1) / 2.0 * pixscale_arcsec
    lens_sigma = [{"theta_E": max(theta_e_spread * te, 0.1), "e1": 0.1, "e2": 0.1, "center_x": 0.1, "center_y": 0.1},
                  {"gamma1": 0.04, "gamma2": 0.04}]
    lens_lower = [{"theta_E": theta_e_bounds[0], "e1": -0.5, "e2": -0.5, "center_x": -1.0, "center_y": -1.0},
                  {"gamma1": -0.2, "gamma2": -0.2}]
    lens_upper = [{"theta_E": theta_e_bounds[1], "e1": 0.5, "e2": 0.5, "center_x": 1.0, "center_y": 1.0},
                  {"gamma1": 0.2, "gamma2": 0.2}]
    src_sigma = [{"R_sersic": 0.1, "n_sersic": 0.5, "e1": 0.15, "e2": 0.15, "center_x": max(0.1 * te, 0.05),
                  "center_y": max(0.1 * te, 0.05)}]
    src_lower = [{"R_sersic": 0.03, "n_sersic": 0.5, "e1": -0.5, "e2": -0.5, "center_x": -half, "center_y": -half}]
    src_upper = [{"R_sersic": 2.0, "n_sersic": 5.0, "e1": 0.5, "e2": 0.5, "center_x": half, "center_y": half}]
    light_sigma = [{"R_sersic": 0.3, "n_sersic": 0.5, "e1": 0.1, "e2": 0.1, "center_x": 0.05, "center_y": 0.05}]
    light_lower = [{"R_sersic": 0.05, "n_sersic": 0.5, "e1": -0.5, "e2": -0.5, "center_x": -1.0, "center_y": -1.0}]
    light_upper = [{"R_sersic": 10.0, "n_sersic": 8.0, "e1": 0.5, "e2": 0.5, "center_x": 1.0, "center_y": 1.0}]
    clip = {"theta_E": theta_e_bounds, "R_sersic": (0.03, 10.0), "n_sersic": (0.5, 8.0)}
    for kw in lens0 + source0 + light0:
        for k, (lo, hi) in clip.items():
            if k in kw:
                kw[k] = float(np.clip(kw[k], lo, hi))
    kwargs_params = {
        "lens_model": [lens0, lens_sigma, [{}, {"ra_0": 0.0, "dec_0": 0.0}], lens_lower, lens_upper],
        "source_model": [source0, src_sigma, [{}], src_lower, src_upper],
        "lens_light_model": [light0, light_sigma, [{}], light_lower, light_upper],
    }
    kwargs_constraints = {"joint_lens_with_light": [[0, 0, ["center_x", "center_y"]]]}
    kwargs_likelihood = {"check_bounds": True, "source_marg": False}
    if mask is not None:
        kwargs_likelihood["image_likelihood_mask_list"] = [np.asarray(mask, int)]
    data_joint = {"multi_band_list": [[kwargs_data, kwargs_psf, kwargs_numerics]], "multi_band_type": "single-band"}
    fs = FittingSequence(data_joint, _MODEL_LISTS, kwargs_constraints, kwargs_likelihood, kwargs_params)
    fitting = [["PSO", {"sigma_scale": 1.0, "n_particles": int(n_particles), "n_iterations": int(n_iterations),
                        "threadCount": 1}]]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # progress bars
        fs.fit_sequence(fitting)
    best = fs.best_fit()
    n_eval = n_particles * (n_iterations + 1)
    te_err, n_hess = np.nan, 0
    if hessian_errors:
        sigmas = {"kwargs_lens": lens_sigma, "kwargs_source": src_sigma, "kwargs_lens_light": light_sigma}
        te_err, n_hess = _theta_e_error(fs, best, sigmas)
    n_eval += n_hess
    out = _from_kwargs(best["kwargs_lens"], best["kwargs_source"], best["kwargs_lens_light"])
    model_image = _model_image(kwargs_data, kwargs_psf, kwargs_numerics, best)
    w = np.ones_like(image) if mask is None else np.asarray(mask, float)
    var = noise_sigma ** 2 + np.clip(model_image, 0, None) / exposure
    n_free = 17
    chi2 = float((w * (image - model_image) ** 2 / var).sum() / max(w.sum() - n_free, 1))
    return {**out, "theta_e_err_arcsec": te_err, "chi2_reduced": chi2, "model_image": model_image,
            "n_evaluations": int(n_eval)}


def _model_image(kwargs_data, kwargs_psf, kwargs_numerics, best) -> np.ndarray:
    """The best model's image with its light amplitudes solved linearly (the swarm's kwargs carry none,
    so rendering them as they are gives unit amplitudes)."""
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF
    from lenstronomy.ImSim.image_linear_solve import ImageLinearFit
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel

    data = ImageData(**kwargs_data)
    model = ImageLinearFit(data, PSF(**kwargs_psf), lens_model_class=LensModel(_MODEL_LISTS["lens_model_list"]),
                           source_model_class=LightModel(_MODEL_LISTS["source_light_model_list"]),
                           lens_light_model_class=LightModel(_MODEL_LISTS["lens_light_model_list"]),
                           kwargs_numerics=kwargs_numerics)
    image = model.image_linear_solve(best["kwargs_lens"], best["kwargs_source"], best["kwargs_lens_light"])[0]
    return np.asarray(image)


def _theta_e_error(fs, best, sigmas) -> tuple[float, int]:
    """1-sigma of theta_E from the inverse Hessian of -log L at the best fit, marginal over the mass
    and source parameters (the lens light is fixed: the bright centre pins it apart from the arcs);
    steps are 3 % of the swarm's scales.  Directions of zero or negative curvature (a swarm that has
    not quite settled) are left out rather than given infinite errors.  Returns (error, evaluations)."""
    param, like = fs.param_class, fs.likelihood_class
    x0 = np.asarray(param.kwargs2args(**best), float)
    names = param.num_param()[1]
    scale = np.abs(np.asarray(param.kwargs2args(**{**best, **sigmas}), float))
    free = np.array([i for i, nm in enumerate(names) if not nm.endswith("lens_light0")])
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
