"""The adapter to lenstronomy: the only module of lensfinder that imports it (inside functions).

Everything else calls these functions with plain numbers, arrays and parameter rows (of
:func:`~lensfinder_nb.sim.params.draw_mock_params`) and gets plain numbers and arrays back, so
lenstronomy's model lists, keyword dicts and objects stay here.  Angles are arcsec, masses Msun,
velocity dispersions km/s; cosmology flat LCDM (H0 = 70 km/s/Mpc, Om0 = 0.3).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..imaging.survey import BANDS, CUTOUT_SIZE_PX, ELECTRONS_PER_NMGY, PIXSCALE_ARCSEC, ZERO_POINT_MAG
from ._common import H0_KM_S_MPC, OMEGA_M0
from .source import MAX_CLUMPS, clump_arrays, component_fluxes

__all__ = ["sis_theta_e_arcsec", "nfw_angles_arcsec", "nfw_deflection_arcsec", "deflection", "hessian",
           "image_positions", "ReferenceRenderer", "reference_arc"]


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
