"""Store loading, candidates and tables, Panoptes import, and the scoring CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from lensfinder_nb import cli
from lensfinder_nb.scoring import (candidates, code_votes, load_votes, retirement, score, tune_thresholds,
                                   write_table)
from lensfinder_nb.scoring.panoptes import PanoptesError, read_panoptes


def fill(store) -> None:
    """Four volunteers: sims and duds right, S008 and S009 called lenses, S010 and S011 not."""
    rows, t = [], pd.Timestamp("2024-03-01")
    for u in range(4):
        for k, (s, a) in enumerate([(f"S{i:03d}", int(i < 4)) for i in range(8)]
                                   + [("S008", 1), ("S009", 1), ("S010", 0), ("S011", 0)]):
            rows.append({"user_id": f"vol{u}", "subject": s, "answer": a,
                         "created_at": t + pd.Timedelta(minutes=u * 30 + k), "vote_id": f"v{u}-{k}"})
    assert store.import_votes(pd.DataFrame(rows)) == 48
    store.add_vote("vol0", "S008", 0)                     # a second vote: never counts
    vid = store.add_vote("late", "S010", 1)
    store.retract_vote(vid, "late")                       # retracted: never counts


@pytest.fixture
def filled(store):
    fill(store)
    return store


def test_load_votes_matches_the_frame_path(filled):
    a = load_votes(filled)
    b = code_votes(filled.votes(include_retracted=True), filled.subjects())
    for m in ("swap", "dawid-skene", "majority"):
        pd.testing.assert_frame_equal(score(a, None, m), score(b, None, m))
    assert len(a.answer) == 48 and "late" not in set(a.users)


def test_candidates_and_tables(filled, tmp_path):
    s = score(load_votes(filled), None, "swap", prior=0.01, detect=0.3)
    known = pd.DataFrame({"subject": ["S009"], "known_name": ["SL2S J0217-0513"]})
    c = candidates(s, filled.subjects(), "swap", known=known)
    assert c["subject"].tolist() == ["S008", "S009"] or c["subject"].tolist() == ["S009", "S008"]
    assert list(c.columns) == ["subject", "ra", "dec", "probability", "n_votes", "method", "known_lens", "image"]
    assert dict(zip(c["subject"], c["known_lens"])) == {"S008": "", "S009": "SL2S J0217-0513"}
    assert (c["probability"].diff().dropna() <= 0).all() and (c["method"] == "swap").all()
    assert len(candidates(s, filled.subjects(), "swap", known=known, top=1)) == 1
    for ext in ("csv", "fits", "xml"):
        path = write_table(c, tmp_path / f"cands.{ext}")
        back = pd.read_csv(path) if ext == "csv" else Table.read(path).to_pandas()
        assert sorted(back["subject"].astype(str)) == ["S008", "S009"]
        np.testing.assert_allclose(np.sort(back["ra"]), np.sort(c["ra"]))
    with pytest.raises(ValueError, match=r"\.csv, \.fits"):
        write_table(c, tmp_path / "cands.xlsx")


def test_retirement_keeps_detected_until_enough_votes():
    s = pd.DataFrame({"subject": ["a", "b", "c", "d", "t"], "probability": [1e-9, 0.99, 0.99, 0.5, 1e-9],
                      "n_votes": [3, 5, 40, 7, 9], "status": ["rejected", "detected", "detected", "undecided",
                                                              "rejected"]})
    labels = pd.Series([-1, -1, -1, -1, 0], index=list("abcdt"))
    assert retirement(s, max_votes_detected=30, labels=labels) == {"a", "c"}
    assert retirement(s, max_votes_detected=30) == {"a", "c", "t"}
    assert retirement(s, pd.Series({"b": 31}), max_votes_detected=30, labels=labels) == {"a", "b"}
    assert retirement(s, max_votes_detected=30, max_votes=7, labels=labels) == {"a", "c", "d"}


def test_tune_thresholds_hits_the_targets():
    p = np.r_[np.linspace(0, 0.5, 100), np.linspace(0.3, 1, 50)]
    s = pd.DataFrame({"subject": [f"x{i}" for i in range(150)], "probability": p})
    labels = pd.Series([0] * 100 + [1] * 50, index=s["subject"])
    t = tune_thresholds(s, labels, target_fpr=0.05, target_missed=0.1)
    assert t.fpr <= 0.05 and t.missed <= 0.1 and t.reject <= t.detect
    assert np.mean(p[:100] > t.detect) <= 0.05 and np.mean(p[100:] < t.reject) <= 0.1
    with pytest.raises(ValueError, match="both labels"):
        tune_thresholds(s, labels.replace(0, -1))


PANOPTES = '''classification_id,user_name,user_id,user_ip,workflow_id,created_at,annotations,subject_data,subject_ids
101,ada,7,aaa111,12,2024-01-02 10:00:00 UTC,"[{""task"":""T0"",""value"":""Yes""}]",{},S008
102,not-logged-in-bbb222,,bbb222,12,2024-01-02 10:01:00 UTC,"[{""task"":""T0"",""value"":""No""}]",{},S009
103,ada,7,aaa111,12,2024-01-02 10:02:00 UTC,"[{""task"":""T0"",""value"":""Lens!""}]",{},S010
104,bob,8,ccc333,12,2024-01-02 10:03:00 UTC,"[{""task"":""T0"",""value"":""Not a lens""}]",{},S011
'''


def test_read_panoptes(tmp_path, store):
    path = tmp_path / "export.csv"
    path.write_text(PANOPTES)
    v = read_panoptes(path)
    assert v["user_id"].tolist() == ["7", "not-logged-in-bbb222", "7", "8"]
    assert v["answer"].tolist() == [1, 0, 1, 0]
    assert v["vote_id"].tolist() == ["panoptes-101", "panoptes-102", "panoptes-103", "panoptes-104"]
    assert v["created_at"].iloc[0] == pd.Timestamp("2024-01-02 10:00:00")
    assert store.import_votes(v) == 4 and store.import_votes(v) == 0


@pytest.mark.parametrize("bad, message", [
    ('"[{""task"":""T0"",""value"":""Maybe""}]"', "line 3: cannot map the answer 'Maybe'"),
    ('"not json"', "line 3: annotations are not JSON"),
])
def test_read_panoptes_errors_name_the_line(tmp_path, bad, message):
    lines = PANOPTES.splitlines()
    parts = lines[2].split(",", 6)
    lines[2] = ",".join(parts[:6]) + "," + bad + ",{},S009"
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(PanoptesError, match=message):
        read_panoptes(path)
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(PanoptesError, match="missing columns"):
        read_panoptes(tmp_path / "other.csv")


@pytest.fixture
def scoring_cli(monkeypatch):
    """Only the scoring commands, so these tests do not depend on the other command modules."""
    return cli.main


def test_cli_users_score_candidates(filled, tmp_path, scoring_cli, capsys):
    db = str(filled.path)
    filled.fold()
    assert scoring_cli(["users", "--db", db, "--out", str(tmp_path / "users.csv")]) == 0
    users = pd.read_csv(tmp_path / "users.csv")
    assert sorted(users["user_id"]) == ["vol0", "vol1", "vol2", "vol3"]
    assert (users["accuracy"] == 1.0).all() and (users["n_training"] == 8).all()

    assert scoring_cli(["score", "--db", db, "--method", "majority", "--min-votes", "3", "--out", str(tmp_path / "s.csv")]) == 0
    s = pd.read_csv(tmp_path / "s.csv").set_index("subject")
    assert s.loc["S008", "probability"] == 1.0 and s.loc["S010", "probability"] == 0.0
    stored = filled.sql("SELECT subject, status FROM scores WHERE method = 'majority' ORDER BY subject")
    assert len(stored) == 12 and stored.set_index("subject").loc["S011", "status"] == "rejected"

    out = tmp_path / "c.xml"
    assert scoring_cli(["candidates", "--db", db, "--method", "swap", "--detect", "1e-3", "--out", str(out)]) == 0
    assert sorted(Table.read(out).to_pandas()["subject"].astype(str)) == ["S008", "S009"]
    assert scoring_cli(["candidates", "--db", db, "--out", str(tmp_path / "c.txt")]) == 1
    assert "use a .csv, .fits or .xml" in capsys.readouterr().err


def test_every_scoring_command_has_help(scoring_cli):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in ("users", "score", "candidates"):
        assert sub.choices[name].description
        for action in sub.choices[name]._actions:
            assert action.help, (name, action.dest)
