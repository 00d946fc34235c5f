"""The consensus lens model of a subject (modelling.consensus): whose models count and how they combine."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.modelling.consensus import CONSENSUS_COLUMNS, consensus_models


def _m(user, subject, theta, *, refined=True, err=0.05, chi2=1.0, t=0, **params):
    p = {"theta_e_arcsec": theta, "lens_q": 1.0, "lens_phi_rad": 0.0, "lens_x_arcsec": 0.0, "lens_y_arcsec": 0.0,
         "gamma1": 0.0, "gamma2": 0.0, **params}
    return {"user_id": user, "subject": subject, "params": p, "theta_e": theta,
            "theta_e_err": err if refined else np.nan, "quality": chi2 if refined else np.nan,
            "refined": refined, "created_at": pd.Timestamp("2026-01-01") + pd.Timedelta(minutes=t)}


def test_columns_are_exactly_the_catalogues():
    out = consensus_models(pd.DataFrame([_m("ada", "a", 1.2)]))
    assert list(out.columns) == CONSENSUS_COLUMNS
    assert list(consensus_models(pd.DataFrame()).columns) == CONSENSUS_COLUMNS


def test_each_persons_newest_refined_model_counts_once():
    out = consensus_models(pd.DataFrame([
        _m("ada", "a", 1.0, t=0), _m("ada", "a", 1.3, t=5),            # ada's newest refined: 1.3
        _m("ada", "a", 2.5, refined=False, t=9),                       # a later hand-made one does not count
        _m("bob", "a", 1.3, t=1), _m("cy", "a", 1.4, t=2)])).iloc[0]
    assert out["n_models"] == 3 and out["theta_E"] == pytest.approx(1.3)


def test_hand_made_models_count_only_when_nobody_refined():
    out = consensus_models(pd.DataFrame([_m("ada", "b", 1.0, refined=False), _m("bob", "b", 2.0, refined=False),
                                         _m("cy", "b", 1.2, refined=False)])).iloc[0]
    assert out["n_models"] == 3 and out["theta_E"] == pytest.approx(1.2)


def test_the_automatic_model_counts_only_without_people():
    alone = consensus_models(pd.DataFrame([_m("auto", "c", 3.0)])).iloc[0]
    assert alone["theta_E"] == 3.0 and alone["n_models"] == 1 and alone["theta_E_err"] == pytest.approx(0.05)
    with_person = consensus_models(pd.DataFrame([_m("auto", "c", 3.0), _m("ada", "c", 1.5)])).iloc[0]
    assert with_person["theta_E"] == 1.5 and with_person["n_models"] == 1


def test_a_poor_fit_weighs_less():
    # ada's and bob's fits leave 9x the noise behind: cy's clean fit outweighs them together
    out = consensus_models(pd.DataFrame([_m("ada", "d", 1.0, chi2=9.0), _m("bob", "d", 1.1, chi2=9.0),
                                         _m("cy", "d", 2.0, chi2=1.0)])).iloc[0]
    assert out["theta_E"] == 2.0


def test_ellipticity_shear_centre_and_error_from_the_scatter():
    rows = [_m(u, "e", th, err=0.01, lens_q=0.6, lens_phi_rad=math.pi / 4, gamma1=0.05, gamma2=-0.02,
               lens_x_arcsec=0.1, lens_y_arcsec=-0.3) for u, th in (("a", 1.0), ("b", 1.2), ("c", 1.4))]
    out = consensus_models(pd.DataFrame(rows)).iloc[0]
    assert out["e1"] == pytest.approx(0.0, abs=1e-12) and out["e2"] == pytest.approx(0.25)
    assert (out["gamma1"], out["gamma2"], out["center_x"], out["center_y"]) == pytest.approx((0.05, -0.02, 0.1, -0.3))
    # people disagree by 0.2": the error is the scatter's (0.2 x 1.4826 x 1.253 / sqrt 3), not the fits' 0.01
    assert out["theta_E_err"] == pytest.approx(0.2 * 1.4826 * 1.253 / math.sqrt(3))


def test_subjects_are_separate_and_sorted():
    out = consensus_models(pd.DataFrame([_m("ada", "z", 2.0), _m("ada", "a", 1.0), _m("bob", "z", 2.2)]))
    assert out["subject"].tolist() == ["a", "z"] and out["n_models"].tolist() == [1, 2]


def test_json_params_from_a_store_are_read():
    import json
    row = _m("ada", "a", 1.1, lens_q=0.5)
    row["params"] = json.dumps(row["params"])
    assert consensus_models(pd.DataFrame([row])).iloc[0]["e1"] == pytest.approx(1 / 3)
