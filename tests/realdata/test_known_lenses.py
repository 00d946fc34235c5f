"""Cross-matching with the lenscat catalogue of known lenses (installed with --no-deps)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb import cli
from lensfinder_nb.realdata import known as known_lenses
from lensfinder_nb.store import open_store

CAT = known_lenses.load_catalog()  # the Makefile installs lenscat; missing it is a failure


def _row(name):
    return CAT[CAT["name"] == name].iloc[0]


def test_catalogue_columns_and_content():
    assert list(CAT.columns) == ["name", "ra", "dec", "zlens", "type", "grade", "ref"]
    assert len(CAT) > 30_000
    assert set(CAT["type"]) == {"galaxy", "group", "cluster"} and set(CAT["grade"]) == {"confident", "probable"}
    assert CAT["ra"].between(0, 360).all() and CAT["dec"].between(-90, 90).all()
    first = _row("J0011-0845")
    assert (first["ra"], first["dec"], first["grade"]) == (2.83435, -8.7643, "confident") and np.isnan(first["zlens"])
    assert (CAT["type"] == "cluster").sum() > 1000
    assert "lenscat" not in sys.modules and "ligo" not in sys.modules   # the heavy package is never imported


def test_match_known_on_real_rows_and_offsets():
    a, b = _row("J0011-0845"), _row("PSJ0030-1525")
    ra = np.array([a["ra"], b["ra"] + 3.0 / 3600 / np.cos(np.radians(b["dec"])), a["ra"], np.nan, 200.0])
    dec = np.array([a["dec"], b["dec"], a["dec"] + 8.0 / 3600, 1.0, -89.0])
    m = known_lenses.match_known(ra, dec, radius_arcsec=5.0)
    assert len(m) == 5 and list(m.columns) == known_lenses.MATCH_COLUMNS
    assert m["known_name"].tolist() == ["J0011-0845", "PSJ0030-1525", "", "", ""]
    assert m["sep_arcsec"].iloc[0] == pytest.approx(0.0, abs=1e-6)
    assert m["sep_arcsec"].iloc[1] == pytest.approx(3.0, abs=0.01)
    assert m["sep_arcsec"].iloc[2:].isna().all() and (m["known_ref"].iloc[2:] == "").all()
    assert m["known_type"].iloc[0] == "galaxy" and m["known_ref"].iloc[0].startswith("https://")
    wide = known_lenses.match_known(ra[2:3], dec[2:3], radius_arcsec=10.0)
    assert wide["known_name"].tolist() == ["J0011-0845"] and wide["sep_arcsec"].iloc[0] == pytest.approx(8.0, abs=0.01)
    with pytest.raises(ValueError, match="one length"):
        known_lenses.match_known([1.0, 2.0], [1.0])


def test_missing_package_gives_install_hint(monkeypatch):
    monkeypatch.setattr(known_lenses, "_DIST", "lenscat-not-installed-here")
    known_lenses.load_catalog.cache_clear()
    known_lenses._catalog_coords.cache_clear()
    try:
        with pytest.raises(known_lenses.LenscatMissing, match="pip install --no-deps lenscat"):
            known_lenses.load_catalog()
    finally:
        monkeypatch.undo()
        known_lenses.load_catalog.cache_clear()
        known_lenses._catalog_coords.cache_clear()


def test_cli_known_lists_matching_subjects(tmp_path, monkeypatch, capsys):
    cluster = CAT[CAT["type"] == "cluster"].iloc[0]
    db = tmp_path / "lf.duckdb"
    store = open_store(db)
    store.add_subjects(pd.DataFrame({"subject": ["on_cluster", "far"], "label": [-1, 0],
                                     "ra": [cluster["ra"], 123.0], "dec": [cluster["dec"] + 1 / 3600, -45.0]}))
    store.close()
    assert cli.main(["known", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert cluster["name"] in out and "far" not in out and out.rstrip().endswith("1 subjects within 5 arcsec of a known lens")
    csv = tmp_path / "known.csv"
    assert cli.main(["known", "--db", str(db), "--out", str(csv), "--radius", "0.5"]) == 0
    assert pd.read_csv(csv).empty
