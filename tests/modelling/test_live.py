"""The live predictor's arcs and image positions against lenstronomy for the same SIE + shear."""

from __future__ import annotations

import numpy as np
import pytest

from lensfinder_nb.modelling.live import LiveModel, image_positions, predicted_arcs

MODELS = [
    {"theta_e_arcsec": 1.5, "lens_q": 0.7, "lens_phi_rad": 0.4, "gamma1": 0.05, "gamma2": -0.03,
     "src_x_arcsec": 0.1, "src_y_arcsec": 0.05},
    {"theta_e_arcsec": 2.2, "lens_q": 0.85, "lens_phi_rad": 2.0, "lens_x_arcsec": 0.3, "lens_y_arcsec": -0.2,
     "gamma1": -0.02, "gamma2": 0.06, "src_x_arcsec": 0.6, "src_y_arcsec": -0.1},
    {"theta_e_arcsec": 1.0, "lens_q": 0.6, "lens_phi_rad": 1.1, "src_x_arcsec": 0.35, "src_y_arcsec": 0.3},
]


def _lenstronomy_positions(m):
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LensModel.Solver.lens_equation_solver import LensEquationSolver
    from lenstronomy.Util.param_util import phi_q2_ellipticity

    e1, e2 = phi_q2_ellipticity(m["lens_phi_rad"], m["lens_q"])
    kw = [{"theta_E": m["theta_e_arcsec"], "e1": e1, "e2": e2, "center_x": m.get("lens_x_arcsec", 0.0),
           "center_y": m.get("lens_y_arcsec", 0.0)}, {"gamma1": m.get("gamma1", 0.0), "gamma2": m.get("gamma2", 0.0)}]
    x, y = LensEquationSolver(LensModel(["SIE", "SHEAR"])).image_position_from_source(
        m["src_x_arcsec"], m["src_y_arcsec"], kw, search_window=12, min_distance=0.02, precision_limit=1e-10)
    return np.column_stack([x, y])


@pytest.mark.parametrize("model", MODELS)
def test_image_positions_match_lenstronomy(model):
    ours = image_positions(model)
    ref = _lenstronomy_positions(model)
    assert len(ours) == len(ref) >= 2
    # every lenstronomy image has one of ours within a milliarcsecond
    d = np.hypot(ours[:, None, 0] - ref[None, :, 0], ours[:, None, 1] - ref[None, :, 1])
    assert d.min(axis=0).max() < 1e-3


def test_predicted_arcs_sit_on_the_images_and_conserve_magnified_flux():
    m = MODELS[0]
    arcs = predicted_arcs(m, psf_fwhm_arcsec=0.0)
    pos = image_positions(m)
    c, s = (arcs.shape[0] - 1) / 2, 0.262
    peak_y, peak_x = np.unravel_index(np.argmax(arcs), arcs.shape)
    px, py = (peak_x - c) * s, (peak_y - c) * s
    assert np.hypot(pos[:, 0] - px, pos[:, 1] - py).min() < 0.5  # the brightest pixel is on an image
    assert arcs.sum() > 2.0  # a quad is strongly magnified
    blurred = predicted_arcs(m, psf_fwhm_arcsec=1.3)
    assert blurred.sum() == pytest.approx(arcs.sum(), rel=0.02) and blurred.max() < arcs.max()


def test_live_update_is_faster_than_a_lenstronomy_image_position_solve():
    """Ratio in the same run: our update (arcs + positions) beats lenstronomy's solver alone."""
    import time

    live = LiveModel(np.zeros((3, 101, 101), np.float32))
    live.update(MODELS[1])
    t = time.perf_counter()
    for _ in range(5):
        live.update(MODELS[1])
    ours = (time.perf_counter() - t) / 5
    t = time.perf_counter()
    for _ in range(5):
        _lenstronomy_positions(MODELS[1])
    theirs = (time.perf_counter() - t) / 5
    assert ours < theirs
