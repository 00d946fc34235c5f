"""Every statement that changes the DuckDB file (the schema itself is in :mod:`.migrations`).

Each function takes a writer connection that is already inside a transaction
(:meth:`Store.transaction <lensfinder_nb.store.Store.transaction>` or
:func:`~lensfinder_nb.store.connections.atomic`); none of them commits.  Input is validated
before it gets here (:mod:`.validation`); the checks below are the ones only SQL can do
cheaply (unknown subjects, repeated ids in bulk tables).
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pandas as pd

from .validation import LENS_MODEL_COLUMNS, SUBJECT_COLUMNS, StoreError

__all__ = ["insert_subjects", "unknown_subjects", "insert_votes", "insert_vote_table", "check_vote_table",
           "apply_retractions", "insert_annotations", "record_journal_progress", "forget_journal",
           "replace_scores", "replace_machine_scores", "insert_user", "insert_grade", "put_setting", "count_votes", "insert_table",
           "insert_comment", "hide_comment", "user_role", "set_user_role", "insert_lens_model"]

Connection = duckdb.DuckDBPyConnection

_INSERT_VOTES = """
INSERT INTO votes (vote_id, seq, user_id, subject, answer, marks, created_at, time_spent_s, session)
SELECT vote_id,
       (SELECT coalesce(max(seq), 0) FROM votes) + row_number() OVER (ORDER BY created_at, arrival),
       user_id, subject, answer, marks, created_at, time_spent_s, session
FROM (SELECT * FROM {source} n
      WHERE NOT EXISTS (SELECT 1 FROM votes v WHERE v.vote_id = n.vote_id)
      {first_of_each_id})
"""
_FIRST_OF_EACH_ID = "QUALIFY row_number() OVER (PARTITION BY vote_id ORDER BY arrival) = 1"


def count_votes(con: Connection) -> int:
    """Rows of the votes table (stored, not journalled), to report how many an insert added."""
    return con.execute("SELECT count(*) FROM votes").fetchone()[0]


def insert_subjects(con: Connection, frame: pd.DataFrame, *, replace: bool) -> int:
    """Insert validated subjects; existing ids are updated if ``replace`` else kept. Returns how many are new."""
    con.register("_new_subjects", frame)
    before = con.execute("SELECT count(*) FROM subjects").fetchone()[0]
    cols = ", ".join(SUBJECT_COLUMNS)
    conflict = ("DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in SUBJECT_COLUMNS[1:])
                if replace else "DO NOTHING")
    con.execute(f"INSERT INTO subjects ({cols}) SELECT {cols} FROM _new_subjects ON CONFLICT (subject) {conflict}")
    con.execute("UPDATE live_swap_meta SET stale = true")  # live scores: recompute with these subjects
    return con.execute("SELECT count(*) FROM subjects").fetchone()[0] - before


def unknown_subjects(con: Connection, relation: str, limit: int = 5) -> list[str]:
    """Up to ``limit`` subjects of the registered ``relation`` that the subjects table lacks."""
    rows = con.execute(f"SELECT DISTINCT n.subject::VARCHAR FROM {relation} n ANTI JOIN subjects s "
                       f"ON n.subject::VARCHAR = s.subject LIMIT {int(limit)}").fetchall()
    return [r[0] for r in rows]


def insert_votes(con: Connection, relation: str, *, unique_ids: bool = False) -> None:
    """Insert votes from a registered relation (votes columns + ``arrival``), skipping ids already
    stored and, unless ``unique_ids`` (checked by the caller), later repeats of an id;
    ``seq`` continues after the stored maximum in (created_at, arrival) order."""
    con.execute(_INSERT_VOTES.format(source=relation, first_of_each_id="" if unique_ids else _FIRST_OF_EACH_ID))


def check_vote_table(con: Connection, relation: str) -> None:
    """Refuse a bulk vote table with answers other than 0/1, missing fields or repeated ids."""
    bad = con.execute(f"""SELECT count(*) FILTER (WHERE answer IS NULL OR answer::INTEGER NOT IN (0, 1)),
                                 count(*) FILTER (WHERE vote_id IS NULL OR user_id IS NULL OR created_at IS NULL),
                                 count(*) - count(DISTINCT vote_id) FROM {relation}""").fetchone()
    for n, what in zip(bad, ("answers that are not 0/1", "missing vote_id, user_id or created_at",
                             "repeated vote ids")):
        if n:
            raise StoreError(f"{n} votes with {what}")


def insert_vote_table(con: Connection, relation: str, present: set[str]) -> None:
    """Insert a bulk table already passed by :func:`check_vote_table` (any column types DuckDB can
    cast); optional columns missing from ``present`` are stored as NULL."""
    optional = {"marks": "NULL::JSON", "time_spent_s": "NULL::DOUBLE", "session": "NULL::VARCHAR"}
    extra = ", ".join(c if c in present else f"{default} AS {c}" for c, default in optional.items())
    insert_votes(con, f"""(SELECT vote_id::VARCHAR AS vote_id, user_id::VARCHAR AS user_id,
                                  subject::VARCHAR AS subject, answer::TINYINT AS answer,
                                  created_at::TIMESTAMP AS created_at, arrival, {extra}
                           FROM {relation})""", unique_ids=True)


def apply_retractions(con: Connection, frame: pd.DataFrame) -> None:
    """Mark votes retracted (vote_id, user_id, retracted_at); only the voter's own, only once."""
    con.register("_retractions", frame)
    con.execute("""UPDATE votes SET retracted_at = r.retracted_at FROM _retractions r
                   WHERE votes.vote_id = r.vote_id AND votes.user_id = r.user_id
                   AND votes.retracted_at IS NULL""")


def insert_annotations(con: Connection, frame: pd.DataFrame) -> None:
    """Insert favourite/comment events; an event id already stored is skipped."""
    con.register("_annotations", frame)
    con.execute("""INSERT INTO annotations SELECT event_id, user_id, subject, favourite, comment, created_at
                   FROM _annotations ON CONFLICT (event_id) DO NOTHING""")


def record_journal_progress(con: Connection, journal: str, offset_bytes: int) -> None:
    """Remember that ``journal`` is folded up to ``offset_bytes``."""
    con.execute("INSERT OR REPLACE INTO journal_progress VALUES (?, ?)", [journal, offset_bytes])


def forget_journal(con: Connection, journal: str) -> None:
    """Drop the progress row of a journal file that has been deleted."""
    con.execute("DELETE FROM journal_progress WHERE journal = ?", [journal])


def replace_scores(con: Connection, frame: pd.DataFrame, method: str) -> None:
    """The scores of ``method`` become ``frame`` (subject, probability, n_votes, status)."""
    con.register("_scores", frame)
    con.execute("DELETE FROM scores WHERE method = ?", [method])
    con.execute("INSERT INTO scores (subject, method, probability, n_votes, status) "
                "SELECT subject, ?, probability, n_votes, status FROM _scores", [method])


def replace_machine_scores(con: Connection, frame: pd.DataFrame, model: str) -> None:
    """The machine scores of ``model`` become ``frame`` (subject, score, in_training)."""
    con.register("_machine", frame)
    con.execute("DELETE FROM machine_scores WHERE model = ?", [model])
    con.execute("INSERT INTO machine_scores (subject, model, score, in_training) "
                "SELECT subject, ?, score, in_training FROM _machine", [model])


def insert_user(con: Connection, user_id: str, display_name: str, key_hash: str | None, role: str) -> bool:
    """Add a person unless the id exists; True when added."""
    taken = con.execute("SELECT count(*) FROM users WHERE user_id = ?", [user_id]).fetchone()[0]
    if taken:
        return False
    con.execute("INSERT INTO users (user_id, display_name, key_hash, role) VALUES (?, ?, ?, ?)",
                [user_id, display_name, key_hash, role])
    return True


def insert_grade(con: Connection, row: dict) -> None:
    """One expert grade (grade_id, user_id, subject, grade, created_at); an id already stored is kept."""
    con.execute("INSERT INTO grades (grade_id, user_id, subject, grade, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (grade_id) DO NOTHING",
                [row["grade_id"], row["user_id"], row["subject"], row["grade"], row["created_at"]])


def insert_lens_model(con: Connection, row: dict) -> None:
    """One lens model (:func:`.validation.lens_model_row`)."""
    cols, marks = ", ".join(LENS_MODEL_COLUMNS), ", ".join("?" * len(LENS_MODEL_COLUMNS))
    con.execute(f"INSERT INTO lens_models ({cols}) VALUES ({marks})", [row[c] for c in LENS_MODEL_COLUMNS])


def put_setting(con: Connection, key: str, value: Any) -> None:
    """Store ``value`` (JSON-serialisable) under ``key``, replacing what was there."""
    con.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, json.dumps(value)])


def insert_comment(con: Connection, row: dict) -> None:
    """One discussion post (comment_id, user_id, subject, body, tags, created_at)."""
    con.execute("INSERT INTO comments (comment_id, user_id, subject, body, tags, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [row["comment_id"], row["user_id"], row["subject"], row["body"], row["tags"], row["created_at"]])


def user_role(con: Connection, user_id: str) -> str | None:
    """The stored role of ``user_id``, None for nobody."""
    row = con.execute("SELECT role FROM users WHERE user_id = ?", [user_id]).fetchone()
    return None if row is None else row[0]


def set_user_role(con: Connection, user_id: str, display_name: str, role: str) -> str | None:
    """Give ``user_id`` the role ``role`` (adding them, named ``display_name``, if unknown); returns the
    role they had before, None when added now."""
    before = user_role(con, user_id)
    if before is None:
        con.execute("INSERT INTO users (user_id, display_name, role) VALUES (?, ?, ?)", [user_id, display_name, role])
    elif before != role:
        con.execute("UPDATE users SET role = ? WHERE user_id = ?", [role, user_id])
    return before


def hide_comment(con: Connection, comment_id: str, by: str, at: str) -> bool | None:
    """Hide a post once: True when hidden now, False when it was hidden already, None when unknown."""
    row = con.execute("SELECT hidden_at FROM comments WHERE comment_id = ?", [comment_id]).fetchone()
    if row is None:
        return None
    if row[0] is not None:
        return False
    con.execute("UPDATE comments SET hidden_at = ?, hidden_by = ? WHERE comment_id = ?", [at, by, comment_id])
    return True


_COPIED_TABLES = ("subjects", "users", "votes", "annotations", "scores", "machine_scores", "settings", "comments",
                  "grades", "lens_models", "live_swap_meta", "live_swap_users",
                  "live_swap_subjects")


def insert_table(con: Connection, table: str, frame: pd.DataFrame) -> None:
    """Insert whole rows of ``table`` (a store copy; ``frame`` holds the table's columns by name)."""
    if table not in _COPIED_TABLES:
        raise ValueError(table)
    if len(frame):
        con.register("_copied", frame)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _copied")
        con.unregister("_copied")
