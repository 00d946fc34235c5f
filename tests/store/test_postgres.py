"""What only the PostgreSQL store has: recorded migrations on the server, concurrent writers
without journals, and copies between the two backends (``lensfinder store copy``)."""

from __future__ import annotations

import multiprocessing as mp

import pandas as pd
import psycopg
import pytest

from lensfinder_nb.store import StoreError, open_store
from lensfinder_nb.store.copying import copy_store, read_all_tables, table_rows
from lensfinder_nb.store.postgres import PG_MIGRATIONS, PG_SCHEMA_VERSION
from tests.support.postgres import fresh_database


@pytest.fixture
def pg_url(pg_server):
    return fresh_database(pg_server)


def _filled(store):
    store.add_subjects(pd.DataFrame({"subject": ["a", "b", "c"], "label": [1, 0, -1],
                                     "params": [{"snr_g": 12.5, "mask": "m.npy"}, None, None]}))
    first = store.add_vote("ada", "a", 1, marks=[(3, 4.5)], time_spent_s=1.5, session="t1")
    store.add_vote("bob", "b", 0, created_at="2026-01-01T00:00:00Z")
    store.add_vote("ada", "c", "lens")
    store.retract_vote(first, "ada")
    store.add_vote("ada", "a", 0)
    store.annotate("bob", "b", favourite=True, comment="nice arc?")
    store.add_user("ada", "Ada L.", key_hash="h" * 64, role="teacher")
    store.set_setting("class", {"retire_at": 5})
    store.write_scores(pd.DataFrame({"subject": ["a"], "probability": [0.7], "n_votes": [1],
                                     "status": ["undecided"]}), "majority")
    store.write_machine_scores(pd.DataFrame({"subject": ["a", "b"], "score": [0.9, 0.1],
                                             "in_training": [True, False]}), "cnn-1")
    store.post_comment("bob", "b", 'no tags, a "quote", a comma\nand a second line')
    hidden = store.post_comment("bob", "a", "#Arc or #artefact?")
    store.hide_comment(hidden, "ada")
    store.add_grade("e-ann", "c", 2, created_at="2026-01-01T01:00:00")
    store.add_grade("e-ann", "c", 3, created_at="2026-01-01T02:00:00")   # a regrade: the history is copied too
    return store


def test_migrations_are_recorded_once_on_the_server(pg_url):
    open_store(pg_url).close()
    open_store(pg_url).close()  # opening again applies nothing
    with psycopg.connect(pg_url) as con:
        rows = con.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert rows == [(v, name) for v, name, _ in PG_MIGRATIONS]
    assert rows[-1][0] == PG_SCHEMA_VERSION


def test_an_unreachable_server_is_a_clear_error():
    with pytest.raises(StoreError, match=r"cannot open the PostgreSQL store postgresql://u:\*\*\*@127.0.0.1:9/x"):
        open_store("postgresql://u:secret@127.0.0.1:9/x")


def _vote_many(url: str, user: str, n: int, out) -> None:
    s = open_store(url)
    out.put([s.add_vote(user, "a", i % 2) for i in range(n)])
    s.close()


def test_concurrent_writer_processes_store_every_vote_with_unique_seq(pg_url):
    _filled(open_store(pg_url)).close()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_vote_many, args=(pg_url, f"w{k}", 200, out)) for k in range(4)]
    for p in procs:
        p.start()
    acked = {vid for _ in procs for vid in out.get(timeout=120)}
    for p in procs:
        p.join(60)
    store = open_store(pg_url)
    votes = store.votes(include_retracted=True)
    assert acked <= set(votes["vote_id"]) and len(acked) == 800
    assert votes["seq"].is_unique and votes["vote_id"].is_unique
    store.close()


@pytest.mark.parametrize("direction", ["duckdb->postgresql", "postgresql->duckdb"])
def test_store_copy_keeps_every_row(direction, tmp_path, pg_url):
    file = tmp_path / "src.duckdb"
    source, target = (file, pg_url) if direction.startswith("duckdb") else (pg_url, file)
    _filled(open_store(source)).close()
    copied = copy_store(source, target)
    # scores: the one written and the live SWAP rows of the three subjects (ada and bob voted)
    assert copied == {"subjects": 3, "users": 1, "votes": 4, "annotations": 1, "scores": 4,
                      "machine_scores": 2, "settings": 1, "comments": 2, "grades": 2, "lens_models": 0,
                      "live_swap_meta": 1, "live_swap_users": 2, "live_swap_subjects": 3}
    a, b = open_store(source), open_store(target)
    before, after = read_all_tables(a), read_all_tables(b)
    for table in before:
        pd.testing.assert_frame_equal(before[table], after[table], check_dtype=False, obj=table)
    vid = b.add_vote("eve", "b", 1)  # the copy goes on: new votes come after the copied ones
    assert b.votes().set_index("vote_id").loc[vid, "seq"] > before["votes"]["seq"].max()
    a.close(), b.close()


def test_store_copy_into_a_store_with_data_changes_nothing(tmp_path, pg_url):
    _filled(open_store(tmp_path / "src.duckdb")).close()
    target = open_store(pg_url)
    target.add_subjects(pd.DataFrame({"subject": ["other"], "label": [-1]}))
    with pytest.raises(StoreError, match="not empty"):
        copy_store(tmp_path / "src.duckdb", pg_url)
    assert table_rows(target) == {"subjects": 1, "users": 0, "votes": 0, "annotations": 0, "scores": 0,
                                  "machine_scores": 0, "settings": 0, "comments": 0, "grades": 0, "lens_models": 0,
                                  "live_swap_meta": 0, "live_swap_users": 0, "live_swap_subjects": 0}
    target.close()


def test_a_copy_that_fails_midway_leaves_the_target_empty(tmp_path, pg_url):
    src = _filled(open_store(tmp_path / "src.duckdb"))
    # a row the server refuses in the fifth of eight tables: a score without a probability
    with src.transaction() as con:
        con.execute("ALTER TABLE scores ALTER COLUMN probability DROP NOT NULL")
        con.execute("INSERT INTO scores (subject, method, probability, n_votes, status) "
                    "VALUES ('b', 'weighted', NULL, 0, 'undecided')")
    src.close()
    with pytest.raises(psycopg.errors.NotNullViolation):
        copy_store(tmp_path / "src.duckdb", pg_url)
    target = open_store(pg_url)
    assert sum(table_rows(target).values()) == 0  # subjects, votes, ... copied before it were rolled back
    target.close()


def test_scoring_read_from_the_server_equals_the_snapshot_read(pg_url, monkeypatch):
    """The votes for scoring come straight from the server in text blocks read by two connections on
    one snapshot; they must be the votes, codes, times (to the microsecond, old and far-future dates
    too) and order keys that the snapshot's views give, also for awkward ids and across page ranges."""
    import numpy as np

    from lensfinder_nb.store import postgres, queries

    monkeypatch.setattr(postgres, "_PAGES_PER_QUERY", 1)  # a query per heap page: many ranges, both readers
    store = open_store(pg_url)
    try:
        ids = ["plain", 'quo"te', "com,ma", "spa ce", "ünï", "back\\slash", "zeta"]
        store.add_subjects(pd.DataFrame({"subject": ids, "label": [1, 0, -1, 1, 0, -1, -1]}))
        users = ["ada", "b,ob", 'c"y', "dän"]
        years = ["1970", "1999", "2026", "2099"]
        for k in range(400):
            when = f"{years[k % 4]}-03-01T10:{k // 60 % 60:02d}:{k % 60:02d}.{999_999 - k:06d}"
            vote = store.add_vote(users[k % 4], ids[k % 7], k % 2, created_at=when)
            if k % 9 == 0:
                store.retract_vote(vote, users[k % 4])
        with postgres.connect(pg_url) as con:
            pages = con.execute("SELECT pg_relation_size('votes') / 8192").fetchone()[0]
        assert pages >= 3   # several ranges, shared by the two readers
        fast, slow = queries.live_vote_codes(store), queries.snapshot_vote_codes(store)
    finally:
        store.close()
    for key in ("subjects", "users"):
        assert list(fast[key]) == list(slow[key])
    assert np.array_equal(fast["labels"], slow["labels"])
    rows = lambda c: sorted(zip(*(np.asarray(c[k]).tolist() for k in ("seq", "u_code", "s_code", "answer", "t_us"))))
    assert rows(fast) == rows(slow) and len(rows(fast)) == 400 - 45


def test_scoring_read_with_one_connection_when_the_server_refuses_a_second(pg_url, caplog):
    """A role limited to one connection (a server at its limit): the second reader cannot connect, the
    read says so in the log and still returns every vote from the one connection."""
    import uuid

    from lensfinder_nb.store import postgres

    store = open_store(pg_url)
    try:
        store.add_subjects(pd.DataFrame({"subject": ["a", "b"], "label": [1, -1]}))
        for k in range(30):
            store.add_vote(f"u{k % 3}", "ab"[k % 2], k % 2)
    finally:
        store.close()
    role = "lf_one_" + uuid.uuid4().hex[:8]
    with postgres.connect(pg_url) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    url = pg_url.replace("//lensfinder@", f"//{role}@")
    with postgres.connect(url) as one, caplog.at_level("WARNING"):
        subjects, votes = postgres.vote_code_tables(one, url, readers=2)
    assert "1 connection" in caplog.text
    assert votes.num_rows == 30 and subjects["subject"].to_pylist() == ["a", "b"]
    assert sorted(votes["seq"].to_pylist()) == list(range(1, 31))
