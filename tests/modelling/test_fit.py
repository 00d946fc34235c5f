"""Refine on a bright fresh mock: theta_E recovered from a person's rough start; the CLI on a stored cube."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lensfinder_nb.cli import main
from lensfinder_nb.imaging.files import write_batch
from lensfinder_nb.modelling.fit import refine
from lensfinder_nb.modelling.guess import automatic_guess
from lensfinder_nb.modelling.model import PERSON_KEYS
from lensfinder_nb.sim.fresh import mock_lenses


@pytest.fixture(scope="module")
def bright_mock():
    mocks = mock_lenses(12, seed=7)
    snr = mocks.params[["snr_g", "snr_r", "snr_z"]].max(axis=1).to_numpy()
    k = int(np.argmax(snr))
    assert snr[k] >= 20
    return mocks.images[k], mocks.params.iloc[k]


def test_refine_recovers_theta_e_from_a_rough_start(bright_mock):
    cube, truth = bright_mock
    start = {key: float(truth[key]) for key in PERSON_KEYS}
    start["theta_e_arcsec"] *= 1.2  # a person's model 20 % off
    start["gamma1"] = start["gamma2"] = 0.0
    psf = truth[["psf_fwhm_g", "psf_fwhm_r", "psf_fwhm_z"]].to_numpy(float)
    fit = refine(cube, start, psf, n_particles=24, n_iterations=30)
    assert abs(fit.model["theta_e_arcsec"] / truth["theta_e_arcsec"] - 1) <= 0.10
    assert np.isfinite(fit.theta_e_err_arcsec) and fit.theta_e_err_arcsec > 0
    assert fit.residual.shape == fit.model_image.shape == fit.data.shape
    # the model explains most of the light: residual power well below the data's
    assert (fit.residual ** 2).sum() < 0.2 * (fit.data ** 2).sum()
    assert fit.seconds < 30


def test_automatic_guess_is_a_valid_model_near_the_lens(bright_mock):
    cube, truth = bright_mock
    g = automatic_guess(cube)
    assert 0.3 <= g["theta_e_arcsec"] <= 4.0
    assert np.hypot(g["lens_x_arcsec"] - truth["lens_x_arcsec"], g["lens_y_arcsec"] - truth["lens_y_arcsec"]) < 0.5


def test_cli_model_fits_a_stored_cube_and_rejects_unknown_subjects(store, bright_mock, tmp_path, capsys):
    cube, truth = bright_mock
    ref = write_batch(store.path.parent, "modelling-test", cube[None].astype(np.float32))[0]
    import pandas as pd
    store.add_subjects(pd.DataFrame({"subject": ["M1"], "label": [1], "ra": [10.0], "dec": [1.0], "cube": [ref]}))
    db = str(store.path)
    store.close()
    out = tmp_path / "m1.json"
    rc = main(["--db", db, "model", "M1", "--out", str(out), "--particles", "10", "--iterations", "5"])
    assert rc == 0
    result = json.loads(out.read_text())
    assert result["subject"] == "M1" and result["theta_e_err_arcsec"] >= 0
    assert set(PERSON_KEYS) <= set(result["model"])
    assert "theta_E =" in capsys.readouterr().out
    from lensfinder_nb.store import open_store
    again = open_store(db)
    stored = again.lens_models(subject="M1")
    again.close()
    assert stored["user_id"].tolist() == ["auto"] and bool(stored["refined"].iloc[0])
    assert stored["model_id"].iloc[0] == result["model_id"]
    assert stored["theta_e"].iloc[0] == pytest.approx(result["theta_e_arcsec"])
    assert main(["--db", db, "model", "NOPE"]) != 0
    assert "no subject 'NOPE'" in capsys.readouterr().err
    assert main(["--db", db, "model", "S000"]) != 0  # a subject without a cube
    assert "has no cube" in capsys.readouterr().err
