"""`lensfinder experts add|add --hub|remove|list` and `lensfinder catalogue` through the CLI, checked through
the library."""

from __future__ import annotations

import urllib.parse

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from lensfinder_nb.classify.identity import EXPERT_ROLE, identify
from lensfinder_nb.cli import main
from lensfinder_nb.store import open_store
from tests.support.stores import store_with_subjects


@pytest.fixture
def db(tmp_path):
    s = store_with_subjects(tmp_path / "lf.duckdb")
    s.close()
    return str(tmp_path / "lf.duckdb")


def test_experts_add_prints_a_link_that_signs_the_expert_in(db, capsys):
    assert main(["--db", db, "experts", "add", "Dr Ada"]) == 0
    out = capsys.readouterr().out
    link = out.split()[-1]
    assert "/voila/render/grade.ipynb?" in link
    query = urllib.parse.urlsplit(link).query
    store = open_store(db)
    try:
        who = identify(store, query)
        assert (who.user_id, who.display_name, who.role) == ("e-dr-ada", "Dr Ada", EXPERT_ROLE)
        # the key is the secret: a wrong one is refused
        bad = query.replace("key=", "key=x")
        with pytest.raises(Exception, match="key_invalid"):
            identify(store, bad)
    finally:
        store.close()
    assert main(["--db", db, "experts", "list"]) == 0
    assert "e-dr-ada\tDr Ada" in capsys.readouterr().out


def test_experts_add_refuses_a_taken_or_bad_name_in_one_line(db, capsys):
    assert main(["--db", db, "experts", "add", "Ada"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "experts", "add", "Ada"]) == 1
    err = capsys.readouterr().err
    assert "exists already" in err and "Traceback" not in err
    assert main(["--db", db, "experts", "add", "<script>"]) == 1
    assert "letters" in capsys.readouterr().err
    store = open_store(db)
    try:
        assert store.sql("SELECT count(*) AS n FROM users WHERE role = 'expert'")["n"].iloc[0] == 1
    finally:
        store.close()


def test_experts_add_hub_makes_a_jupyterhub_user_an_expert_and_remove_undoes_it(db, capsys):
    assert main(["--db", db, "experts", "add", "--hub", "Grace"]) == 0
    out = capsys.readouterr().out
    assert "JupyterHub user grace (hub-grace) is an expert now" in out and "key=" not in out
    assert "/hub/user-redirect/voila/render/grade.ipynb" in out
    store = open_store(db)
    try:
        assert identify(store, "", hub_user="grace").role == EXPERT_ROLE
    finally:
        store.close()
    assert main(["--db", db, "experts", "list"]) == 0
    assert "hub-grace\tgrace" in capsys.readouterr().out
    assert main(["--db", db, "experts", "add", "--hub", "a b"]) == 1
    assert "no spaces" in capsys.readouterr().err
    assert main(["--db", db, "experts", "remove", "hub-grace"]) == 0
    assert "no longer an expert" in capsys.readouterr().out
    assert main(["--db", db, "experts", "remove", "hub-grace"]) == 1
    assert "no expert has that id" in capsys.readouterr().err
    store = open_store(db)
    try:
        assert identify(store, "", hub_user="grace").role == "hub"
    finally:
        store.close()


@pytest.mark.parametrize("ext", [".csv", ".fits", ".xml"])
def test_catalogue_in_every_format(db, tmp_path, capsys, ext):
    store = open_store(db)
    try:
        for user, grades in (("e-a", (3, 2, 0)), ("e-b", (3, 1, 0)), ("e-c", (2, 2, 1))):
            for subject, g in zip(("S008", "S009", "S010"), grades):
                store.add_grade(user, subject, g)
        store.write_scores(pd.DataFrame({"subject": ["S008", "S009"], "probability": [0.99, 0.7],
                                         "n_votes": [10, 8], "status": ["detected", "undecided"]}), "swap")
        store.write_machine_scores(pd.DataFrame({"subject": ["S008"], "score": [0.8]}), "m1")
    finally:
        store.close()
    out = tmp_path / f"cat{ext}"
    assert main(["--db", db, "catalogue", "--out", str(out)]) == 0
    assert "3 graded subjects" in capsys.readouterr().err
    table = pd.read_csv(out) if ext == ".csv" else Table.read(out).to_pandas()
    if ext != ".csv":
        table["subject"] = table["subject"].astype(str)
        table["grade_class"] = table["grade_class"].astype(str)
    assert table["subject"].tolist() == ["S008", "S009", "S010"]
    assert table["grade_class"].tolist() == ["A", "B", "C"]          # 8/3, 5/3, 1/3
    assert table["mean_grade"].to_numpy() == pytest.approx([8 / 3, 5 / 3, 1 / 3])
    assert table["n_graders"].tolist() == [3, 3, 3]
    assert table["crowd_score"].iloc[0] == pytest.approx(0.99) and table["machine_score"].iloc[0] == pytest.approx(0.8)
    assert np.isnan(table["machine_score"].iloc[1])
    assert table["ra"].iloc[0] == pytest.approx(150.08)
    for col in ("agreement_alpha", "known_lens", "theta_E", "n_models"):
        assert col in table.columns


def test_catalogue_refuses_an_unknown_format(db, tmp_path, capsys):
    assert main(["--db", db, "catalogue", "--out", str(tmp_path / "cat.txt")]) == 1
    assert ".csv, .fits or .xml" in capsys.readouterr().err
    assert not (tmp_path / "cat.txt").exists()
