"""The adapter to lenstronomy: the only module of lensfinder that imports it (inside functions).

Everything else talks to it through these few functions, so its lists of magic-string dicts stay here.
"""

from __future__ import annotations

import numpy as np

from ._common import BANDS, E_PER_NMGY, H0, OM0, ZERO_POINT_MAG


def _cosmo():
    from astropy.cosmology import FlatLambdaCDM

    return FlatLambdaCDM(H0=H0, Om0=OM0)


def _lens_cosmo(z_lens: float, z_source: float, cosmo=None):
    from lenstronomy.Cosmo.lens_cosmo import LensCosmo

    return LensCosmo(z_lens=float(z_lens), z_source=float(z_source), cosmo=cosmo or _cosmo())


def _nfw_alpha(r, rs, alpha_rs):
    """Radial deflection (arcsec) of lenstronomy's spherical NFW at radii ``r`` (arcsec)."""
    from lenstronomy.LensModel.Profiles.nfw import NFW

    r = np.asarray(r, float)
    return NFW().derivatives(r, np.zeros_like(r), Rs=rs, alpha_Rs=alpha_rs)[0]


def _lenstronomy_lens(row):
    """lenstronomy LensModel and kwargs for one parameter row (galaxy or cluster)."""
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.Util.param_util import phi_q2_ellipticity

    e1, e2 = phi_q2_ellipticity(row["lens_phi_rad"], row["lens_q"])
    cx, cy = row["lens_x_arcsec"], row["lens_y_arcsec"]
    shear = {"gamma1": row["gamma1"], "gamma2": row["gamma2"], "ra_0": 0.0, "dec_0": 0.0}
    if row["scale"] == "galaxy":
        sie = {"theta_E": row["theta_e_arcsec"], "e1": e1, "e2": e2, "center_x": cx, "center_y": cy}
        return LensModel(["SIE", "SHEAR"]), [sie, shear]
    nfw = {"Rs": row["nfw_rs_arcsec"], "alpha_Rs": row["nfw_alpha_rs_arcsec"], "center_x": cx, "center_y": cy}
    sie = {"theta_E": row["bcg_theta_e_arcsec"], "e1": e1, "e2": e2, "center_x": cx, "center_y": cy}
    return LensModel(["NFW", "SIE", "SHEAR"]), [nfw, sie, shear]


class _ReferenceRenderer:
    """One lenstronomy SimAPI + ImageModel per band, reused (the straightforward way)."""

    def __init__(self, scale, psf_fwhm_arcsec, npix=101, pixscale_arcsec=0.262, supersampling=2,
                 e_per_nmgy=E_PER_NMGY):
        from lenstronomy.SimulationAPI.sim_api import SimAPI

        lens_list = ["SIE", "SHEAR"] if scale == "galaxy" else ["NFW", "SIE", "SHEAR"]
        model = {"lens_model_list": lens_list, "source_light_model_list": ["SERSIC_ELLIPSE"]}
        self.sims, self.models = [], []
        for b in range(3):
            band = {"pixel_scale": pixscale_arcsec, "exposure_time": float(e_per_nmgy[b]),
                    "magnitude_zero_point": ZERO_POINT_MAG, "background_noise": 0.0,
                    "seeing": float(psf_fwhm_arcsec[b]), "psf_type": "GAUSSIAN"}
            sim = SimAPI(num_pix=npix, kwargs_single_band=band, kwargs_model=model)
            self.sims.append(sim)
            self.models.append(sim.image_model_class({"supersampling_factor": int(supersampling)}))

    def arc(self, row, noise=False):
        from lenstronomy.Util.param_util import phi_q2_ellipticity

        _, kw_lens = _lenstronomy_lens(row)
        e1, e2 = phi_q2_ellipticity(row["src_phi_rad"], row["src_q"])
        out = []
        for b, band in enumerate(BANDS):
            src = {"magnitude": row[f"src_mag_{band}"], "R_sersic": row["src_r_e_arcsec"],
                   "n_sersic": row["src_n_sersic"], "e1": e1, "e2": e2,
                   "center_x": row["src_x_arcsec"], "center_y": row["src_y_arcsec"]}
            _, kw_src, _ = self.sims[b].magnitude2amplitude(kwargs_source_mag=[src])
            img = self.models[b].image(kw_lens, kw_src, lens_light_add=False, point_source_add=False)
            if noise:
                img = img + self.sims[b].noise_for_model(img, background_noise=False, poisson_noise=True)
            out.append(img)
        return np.array(out)
