"""Lens models stored per person (migration 7), on both backends, and carried by ``store copy``."""

from __future__ import annotations

import pandas as pd
import pytest

from lensfinder_nb.store import StoreError, open_store
from lensfinder_nb.store.copying import copy_store
from tests.support.postgres import fresh_database

MODEL = {"theta_e_arcsec": 1.4, "lens_q": 0.8, "lens_phi_rad": 0.3, "lens_x_arcsec": 0.1, "lens_y_arcsec": -0.2,
         "gamma1": 0.02, "gamma2": -0.01, "src_x_arcsec": 0.15, "src_y_arcsec": 0.05}


def test_models_are_kept_per_person_with_their_fit(store):
    first = store.add_lens_model("ada", "S000", MODEL)
    second = store.add_lens_model("ada", "S000", {**MODEL, "theta_e_arcsec": 1.5}, theta_e_err=0.04,
                                  quality=1.3, refined=True)
    store.add_lens_model("bob", "S001", {**MODEL, "theta_e_arcsec": 2.0})
    all_models = store.lens_models()
    assert list(all_models["model_id"][:2]) == [first, second]
    mine = store.lens_models(subject="S000", user="ada")
    assert len(mine) == 2
    row = mine.set_index("model_id").loc[second]
    assert row["theta_e"] == 1.5 and row["theta_e_err"] == 0.04 and row["quality"] == 1.3 and bool(row["refined"])
    assert row["params"]["lens_q"] == 0.8 and row["params"]["theta_e_arcsec"] == 1.5
    unrefined = mine.set_index("model_id").loc[first]
    assert not bool(unrefined["refined"]) and pd.isna(unrefined["theta_e_err"]) and pd.isna(unrefined["quality"])
    assert list(store.lens_models(subject="S001")["user_id"]) == ["bob"]
    assert store.lens_models(user="eve").empty


@pytest.mark.parametrize("params, kwargs, message", [
    ({"lens_q": 0.8}, {}, "theta_e_arcsec > 0"),
    ({**MODEL, "theta_e_arcsec": float("nan")}, {}, "must be finite"),
    ({**MODEL, "lens_q": "round"}, {}, "must be a number"),
    (MODEL, {"theta_e_err": -1.0}, "theta_e_err must be a finite number >= 0"),
    ([], {}, "non-empty mapping"),
])
def test_bad_models_are_refused_and_change_nothing(store, params, kwargs, message):
    with pytest.raises(StoreError, match=message):
        store.add_lens_model("ada", "S000", params, **kwargs)
    assert store.lens_models().empty


def test_a_model_of_an_unknown_subject_is_refused(store):
    with pytest.raises(StoreError, match="unknown subject"):
        store.add_lens_model("ada", "nope", MODEL)
    assert store.lens_models().empty


def test_lens_models_are_visible_to_sql(store):
    store.add_lens_model("ada", "S002", MODEL, theta_e_err=0.1, quality=1.1, refined=True)
    df = store.sql("SELECT user_id, subject, theta_e, refined FROM lens_models")
    assert df.values.tolist() == [["ada", "S002", 1.4, True]]


@pytest.mark.parametrize("direction", ["duckdb->postgresql", "postgresql->duckdb"])
def test_store_copy_carries_lens_models(direction, tmp_path, pg_server):
    file, url = tmp_path / "src.duckdb", fresh_database(pg_server)
    source, target = (file, url) if direction.startswith("duckdb") else (url, file)
    s = open_store(source)
    s.add_subjects(pd.DataFrame({"subject": ["a"], "label": [-1]}))
    s.add_lens_model("ada", "a", MODEL, theta_e_err=0.05, quality=1.2, refined=True)
    s.add_lens_model("auto", "a", MODEL)
    before = s.lens_models()
    s.close()
    assert copy_store(source, target)["lens_models"] == 2
    t = open_store(target)
    pd.testing.assert_frame_equal(before, t.lens_models(), check_dtype=False)
    t.close()
