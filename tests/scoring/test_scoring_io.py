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
    for name in ("users", "score", "candidates", "simulate-class"):
        assert sub.choices[name].description
        for action in sub.choices[name]._actions:
            assert action.help, (name, action.dest)


def arrow_votes(rows: list[tuple], start: str = "2024-03-01"):
    import pyarrow as pa
    t0 = pd.Timestamp(start)
    return pa.table({"vote_id": [r[0] for r in rows], "user_id": [r[1] for r in rows],
                     "subject": [r[2] for r in rows], "answer": pa.array([r[3] for r in rows], pa.int8()),
                     "created_at": [t0 + pd.Timedelta(seconds=r[4]) for r in rows]})


def test_import_votes_arrow_inserts_valid_votes_once(store):
    rows = [("a1", "ann", "S000", 1, 5), ("a2", "ann", "S008", 0, 1), ("a3", "bob", "S008", 1, 1)]
    assert store.import_votes_arrow(arrow_votes(rows)) == 3
    v = store.votes()
    assert v["vote_id"].tolist() == ["a2", "a3", "a1"]            # seq follows created_at, ties in row order
    assert v["seq"].tolist() == [1, 2, 3] and v["marks"].isna().all()
    # ids already stored are skipped; a DataFrame works too
    more = pd.DataFrame({"vote_id": ["a1", "a4"], "user_id": ["ann", "cy"], "subject": ["S000", "S009"],
                         "answer": [1, 0], "created_at": pd.to_datetime(["2024-03-01", "2024-03-02"])})
    assert store.import_votes_arrow(more) == 1
    assert store.votes().set_index("vote_id").loc["a4", "seq"] == 4
    assert code_votes(store.votes(), store.subjects()).n_users == 3


@pytest.mark.parametrize("rows, message", [
    ([("b1", "ann", "NOPE", 1, 0)], "unknown subject"),
    ([("b1", "ann", "S000", 2, 0)], "not 0/1"),
    ([("b1", "ann", "S000", 1, 0), ("b1", "bob", "S001", 0, 0)], "repeated vote ids"),
    ([("b1", None, "S000", 1, 0)], "missing vote_id, user_id"),
])
def test_import_votes_arrow_refuses_bad_tables_whole(store, rows, message):
    from lensfinder_nb.store import StoreError
    good = [("ok1", "ann", "S001", 1, 0)]
    with pytest.raises(StoreError, match=message):
        store.import_votes_arrow(arrow_votes(good + rows))
    assert len(store.votes()) == 0                                 # all or nothing


def test_first_occurrences_matches_unique_on_large_keys():
    from lensfinder_nb.scoring._votes import first_occurrences
    rng = np.random.default_rng(3)
    key = rng.integers(0, 400_000, 300_000).astype(np.int64)      # many repeats, above the DuckDB cut-over
    keep = first_occurrences(key)
    _, first = np.unique(key, return_index=True)
    expected = np.zeros(len(key), dtype=bool)
    expected[first] = True
    np.testing.assert_array_equal(keep, expected)
    assert first_occurrences(np.arange(200_000, dtype=np.int64)) is None


def test_retired_subjects_reads_the_stored_scores(filled):
    from lensfinder_nb.scoring import retired_subjects
    assert retired_subjects(filled) == set()                       # nothing scored yet
    scores = pd.DataFrame({"subject": ["S000", "S004", "S008", "S009", "S010", "S011"],
                           "probability": [1e-9, 1e-9, 0.99, 0.99, 1e-9, 0.5],
                           "n_votes": 0, "status": ["rejected", "rejected", "detected", "detected", "rejected",
                                                    "undecided"]})
    filled.write_scores(scores, "swap")
    # S008 and S009 have 4 counted voters each (a repeat and a retraction do not count)
    assert retired_subjects(filled) == {"S010"}                    # training subjects never retire
    assert retired_subjects(filled, max_votes_detected=4) == {"S008", "S009", "S010"}
    assert retired_subjects(filled, method="majority") == set()


def test_cli_score_all_and_simulate_class(store, tmp_path, scoring_cli, capsys):
    db = str(store.path)
    assert scoring_cli(["simulate-class", "--db", db, "--volunteers", "5", "--votes-per-volunteer", "8"]) == 0
    assert "5 simulated students" in capsys.readouterr().err
    store.fold()
    n = len(store.votes())
    assert 5 <= n <= 5 * 12
    assert scoring_cli(["simulate-class", "--db", db, "--volunteers", "5", "--votes-per-volunteer", "8"]) == 0
    assert ", 0 new" in capsys.readouterr().err
    assert scoring_cli(["score", "--db", db, "--all"]) == 0
    stored = store.sql("SELECT method, count(*) AS n FROM scores GROUP BY method ORDER BY method")
    assert dict(zip(stored["method"], stored["n"])) == {m: 12 for m in
                                                        ("dawid-skene", "majority", "swap", "swap-offline", "weighted")}
    assert scoring_cli(["score", "--db", db, "--all", "--out", str(tmp_path / "x.csv")]) == 1
    assert "--all uses each method's own thresholds" in capsys.readouterr().err
    assert scoring_cli(["simulate-class", "--db", db, "--volunteers", "0"]) == 1
