"""The store's doors: read-only SQL, one transaction helper, and the named writes other modules need."""

from __future__ import annotations

import pandas as pd
import pytest

from lensfinder_nb.store import QueryError, StoreError, open_store, queries


# --------------------------------------------------------------------- Store.sql is read-only
def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_copy_to_a_file_is_refused_and_writes_nothing(store, tmp_path):
    out = tmp_path / "leak.csv"
    with pytest.raises(QueryError, match="read-only SQL") as err:
        store.sql(f"COPY (SELECT * FROM votes) TO '{out}' (HEADER)")
    assert "COPY" in str(err.value) and "\n" not in str(err.value)
    assert not out.exists()
    with pytest.raises(QueryError, match="read-only SQL"):
        store.sql(f"COPY subjects TO '{tmp_path / 'subjects.parquet'}' (FORMAT parquet)")
    with pytest.raises(QueryError, match="read-only SQL"):
        store.sql(f"EXPORT DATABASE '{tmp_path / 'dump'}'")
    assert not (tmp_path / "subjects.parquet").exists() and not (tmp_path / "dump").exists()


@pytest.mark.parametrize("statement", [
    "ATTACH '{other}' AS other",
    "INSTALL '{ext}'",   # local paths: never a download, even if the protection broke
    "LOAD '{ext}'",
    "SELECT * FROM read_csv('{csv}')",
    "SELECT * FROM '{csv}'",
    "SELECT * FROM read_text('{csv}')",
    "SET enable_external_access = true",
])
def test_other_files_cannot_be_reached(store, tmp_path, statement):
    csv = tmp_path / "secret.csv"
    csv.write_text("a\n1\n")
    before = _files(tmp_path)
    with pytest.raises(QueryError, match="read-only SQL"):
        store.sql(statement.format(other=tmp_path / "other.duckdb", csv=csv, ext=tmp_path / "x.duckdb_extension"))
    assert _files(tmp_path) == before


def test_the_store_file_cannot_be_changed(store):
    with pytest.raises(QueryError, match="read-only"):
        store.sql("INSERT INTO db.subjects (subject, label) VALUES ('X', 1)")
    with pytest.raises(QueryError, match="read-only"):
        store.sql("CREATE TABLE db.extra AS SELECT 1 AS x")
    # a table in the query's own scratch memory is harmless: it is gone with the query
    store.sql("CREATE TABLE scratch AS SELECT 1 AS x")
    with pytest.raises(QueryError, match="scratch"):
        store.sql("SELECT * FROM scratch")
    assert len(store.subjects()) == 12


def test_reads_still_see_the_unfolded_journal(store):
    """The journal tails are registered frames; they still work with file access switched off."""
    store.add_vote("ada", "S000", 1)
    store.annotate("ada", "S000", favourite=True)
    assert store.sql("SELECT count(*) AS n FROM votes")["n"].iloc[0] == 1
    assert store.sql("SELECT count(*) AS n FROM annotations")["n"].iloc[0] == 1
    assert store.sql("SELECT ? + 1 AS x", [1])["x"].iloc[0] == 2


def test_bad_sql_is_one_line(store):
    with pytest.raises(QueryError) as err:
        store.sql("SELEC nonsense")
    assert "\n" not in str(err.value) and "syntax" in str(err.value).lower()


# --------------------------------------------------------------------- transactions
def test_a_failing_transaction_changes_nothing_and_frees_the_lock(store):
    with pytest.raises(RuntimeError, match="midway"):
        with store.transaction() as con:
            store.sql_writes.put_setting(con, "colour", "red")
            store.sql_writes.insert_user(con, "u-half", "Half", None, "volunteer")
            raise RuntimeError("midway")
    assert store.get_setting("colour") is None
    assert queries.user_record(store, "u-half").empty
    store.set_setting("colour", "blue")  # the exclusive lock was released
    assert store.get_setting("colour") == "blue"


def test_a_failing_bulk_write_is_rolled_back(store):
    store.write_scores(pd.DataFrame({"subject": ["S000"], "probability": [0.5], "n_votes": [1],
                                     "status": ["undecided"]}), "swap")
    bad = pd.DataFrame({"subject": ["S001"], "probability": [None], "n_votes": [1], "status": ["undecided"]})
    with pytest.raises(Exception, match="(?i)not.null"):
        store.write_scores(bad, "swap")  # the DELETE ran before the failing INSERT
    assert queries.stored_scores(store, "swap")["subject"].tolist() == ["S000"]


def test_a_failed_migration_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    from lensfinder_nb.store import migrations

    broken = migrations.MIGRATIONS + [(migrations.SCHEMA_VERSION + 1, "broken",
                                       "CREATE TABLE half_done (x INT); SELECT no_such_column FROM half_done;")]
    monkeypatch.setattr(migrations, "MIGRATIONS", broken)
    monkeypatch.setattr("lensfinder_nb.store.core.SCHEMA_VERSION", migrations.SCHEMA_VERSION + 1)
    with pytest.raises(Exception, match="no_such_column"):
        open_store(tmp_path / "lf.duckdb")
    monkeypatch.undo()
    store = open_store(tmp_path / "lf.duckdb")
    tables = set(store.sql("SELECT table_name FROM duckdb_tables() WHERE database_name = 'db'")["table_name"])
    assert "half_done" not in tables and "subjects" in tables


# --------------------------------------------------------------------- named writes
def test_add_user_refuses_a_taken_id(store):
    assert store.add_user("u-ada", "Ada", key_hash="h1") is True
    assert store.add_user("u-ada", "Someone else", key_hash="h2") is False
    row = queries.user_record(store, "u-ada")
    assert row[["display_name", "key_hash", "role"]].values.tolist() == [["Ada", "h1", "volunteer"]]
    with pytest.raises(StoreError):
        store.add_user("", "nobody")


def test_machine_scores_replace_per_model_and_the_newest_wins(store):
    store.write_machine_scores(pd.DataFrame({"subject": ["S000", "S008"], "score": [0.9, 0.2],
                                             "in_training": [True, False]}), "cnn-1")
    store.write_machine_scores(pd.DataFrame({"subject": ["S008"], "score": [0.7]}), "cnn-2")
    assert queries.latest_machine_scores(store).values.tolist() == [["S000", 0.9], ["S008", 0.7]]
    store.write_machine_scores(pd.DataFrame({"subject": [], "score": []}), "cnn-2")  # removes cnn-2
    assert queries.latest_machine_scores(store).values.tolist() == [["S000", 0.9], ["S008", 0.2]]
    with pytest.raises(StoreError, match=r"\[0, 1\]"):
        store.write_machine_scores(pd.DataFrame({"subject": ["S000"], "score": [1.5]}), "cnn-3")
