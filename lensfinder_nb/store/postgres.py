"""The PostgreSQL side of the store: connection, recorded migrations, writes and the snapshot copy.

A PostgreSQL store keeps the same tables as the DuckDB file (:mod:`.migrations`), in
PostgreSQL's dialect.  Votes go straight into the ``votes`` table in a transaction (the server
handles concurrent writers, so no journal is needed); ``seq`` comes from a sequence.  Reads do
not speak PostgreSQL's SQL: :func:`load_snapshot` copies the tables into a private DuckDB file
(``COPY ... TO STDOUT``, one round trip per table) and every read of :mod:`.queries` and
:mod:`.views` runs there, DuckDB-fast, unchanged.

Bulk tables are staged with ``COPY ... FROM STDIN`` (CSV, ``\\N`` for NULL) into a temporary
table and merged with one ``INSERT ... SELECT``, inside the caller's transaction.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import psycopg
from psycopg import sql as pg_sql

from .validation import LENS_MODEL_COLUMNS, SUBJECT_COLUMNS, StoreError

log = logging.getLogger(__name__)

__all__ = ["PG_MIGRATIONS", "PG_SCHEMA_VERSION", "connect", "apply_pg_migrations", "pg_schema_version",
           "vote_code_tables",
           "stage_frame", "stage_csv_file", "insert_subjects", "unknown_subjects", "insert_staged_votes",
           "insert_vote", "retract", "insert_annotation", "replace_scores", "replace_machine_scores",
           "insert_user", "put_setting", "insert_comment", "hide_comment", "user_role", "set_user_role",
           "subject_id_set", "vote_is_by",
           "insert_grade", "insert_lens_model", "load_snapshot", "count_rows",
           "TABLES", "insert_table", "DatabaseError", "safe_url", "create_database"]

#: what psycopg raises for SQL the server cannot run or a server it cannot reach
DatabaseError = psycopg.Error

#: the tables of a store, in an order that a copy can insert them
TABLES = ("subjects", "users", "votes", "annotations", "scores", "machine_scores", "settings", "comments",
          "grades", "lens_models", "live_swap_meta", "live_swap_users", "live_swap_subjects")

PG_MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "core tables", """
        CREATE TABLE subjects (
            subject     TEXT PRIMARY KEY,
            label       SMALLINT NOT NULL CHECK (label IN (-1, 0, 1)),
            kind        TEXT,
            ra          DOUBLE PRECISION,
            dec         DOUBLE PRECISION,
            image       TEXT,
            cube        TEXT,
            params      JSON,
            source      TEXT,
            created_at  TIMESTAMP DEFAULT (now() AT TIME ZONE 'UTC')
        );
        CREATE TABLE users (
            user_id     TEXT PRIMARY KEY,
            display_name TEXT,
            key_hash    TEXT,
            role        TEXT DEFAULT 'volunteer',
            created_at  TIMESTAMP DEFAULT (now() AT TIME ZONE 'UTC')
        );
        CREATE SEQUENCE vote_seq START 1;
        CREATE TABLE votes (
            vote_id      TEXT PRIMARY KEY,
            seq          BIGINT NOT NULL,
            user_id      TEXT NOT NULL,
            subject      TEXT NOT NULL,
            answer       SMALLINT NOT NULL CHECK (answer IN (0, 1)),
            marks        JSON,
            created_at   TIMESTAMP NOT NULL,
            time_spent_s DOUBLE PRECISION,
            session      TEXT
        );
        CREATE TABLE settings (
            key   TEXT PRIMARY KEY,
            value JSON
        );
    """),
    (2, "retractions, favourites and comments", """
        ALTER TABLE votes ADD COLUMN retracted_at TIMESTAMP;
        CREATE TABLE annotations (
            event_id    TEXT PRIMARY KEY,
            user_id     TEXT NOT NULL,
            subject     TEXT NOT NULL,
            favourite   BOOLEAN,
            comment     TEXT,
            created_at  TIMESTAMP NOT NULL
        );
    """),
    (3, "subject scores per method", """
        CREATE TABLE scores (
            subject     TEXT NOT NULL,
            method      TEXT NOT NULL,
            probability DOUBLE PRECISION NOT NULL,
            n_votes     INTEGER NOT NULL,
            status      TEXT NOT NULL,
            computed_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'UTC'),
            PRIMARY KEY (subject, method)
        );
    """),
    (4, "machine scores", """
        CREATE TABLE machine_scores (
            subject     TEXT NOT NULL,
            model       TEXT NOT NULL,
            score       DOUBLE PRECISION NOT NULL,
            in_training BOOLEAN NOT NULL DEFAULT false,
            created_at  TIMESTAMP DEFAULT (now() AT TIME ZONE 'UTC'),
            PRIMARY KEY (subject, model)
        );
    """),
    (5, "votes by user", """
        CREATE INDEX votes_user ON votes (user_id);
    """),
    (6, "discussion threads", """
        CREATE TABLE comments (
            comment_id  TEXT PRIMARY KEY,
            user_id     TEXT NOT NULL,
            subject     TEXT NOT NULL,
            body        TEXT NOT NULL,
            tags        TEXT NOT NULL DEFAULT '',
            created_at  TIMESTAMP NOT NULL,
            hidden_at   TIMESTAMP,
            hidden_by   TEXT
        );
        CREATE INDEX comments_subject ON comments (subject);
    """),
    (7, "expert grades", """
        CREATE TABLE grades (
            grade_id    TEXT PRIMARY KEY,
            user_id     TEXT NOT NULL,
            subject     TEXT NOT NULL,
            grade       SMALLINT NOT NULL CHECK (grade BETWEEN 0 AND 3),
            created_at  TIMESTAMP NOT NULL
        );
    """),
    (8, "lens models", """
        CREATE TABLE lens_models (
            model_id    TEXT PRIMARY KEY,
            user_id     TEXT NOT NULL,
            subject     TEXT NOT NULL,
            params      JSON NOT NULL,
            theta_e     DOUBLE PRECISION NOT NULL,
            theta_e_err DOUBLE PRECISION,
            quality     DOUBLE PRECISION,
            refined     BOOLEAN NOT NULL DEFAULT false,
            created_at  TIMESTAMP NOT NULL
        );
    """),
    (9, "live swap state", """
        CREATE TABLE live_swap_meta (
            name        TEXT PRIMARY KEY,
            last_seq    BIGINT NOT NULL,
            n_retracted BIGINT NOT NULL,
            prior       DOUBLE PRECISION NOT NULL,
            detect      DOUBLE PRECISION NOT NULL,
            reject      DOUBLE PRECISION NOT NULL,
            stale       BOOLEAN NOT NULL DEFAULT false,
            updated_at  TIMESTAMP
        );
        CREATE TABLE live_swap_users (
            user_id     TEXT PRIMARY KEY,
            sims_seen   BIGINT NOT NULL,
            sims_lens   BIGINT NOT NULL,
            duds_seen   BIGINT NOT NULL,
            duds_not    BIGINT NOT NULL,
            last_us     BIGINT NOT NULL
        );
        CREATE TABLE live_swap_subjects (
            subject     TEXT PRIMARY KEY,
            llr_sum     DOUBLE PRECISION NOT NULL,
            n_votes     BIGINT NOT NULL
        );
        -- the repeat check of a live step (is this pair voted already?) and its retraction count
        CREATE INDEX votes_user_subject ON votes (user_id, subject);
        CREATE INDEX votes_retracted ON votes (seq) WHERE retracted_at IS NOT NULL;
    """),
]

PG_SCHEMA_VERSION = PG_MIGRATIONS[-1][0]
# JSON columns are ``JSON`` (the text as given), not ``JSONB``: a copy must give back the same text.
# Any constant key: every process migrating the same database waits for the one that started first.
_MIGRATION_LOCK = 0x1E45F1D


def connect(url: str) -> psycopg.Connection:
    """A connection to the server at ``url`` in autocommit mode: a lone statement is its own transaction
    (one round trip per vote instead of three) and blocks of several use ``con.transaction()``."""
    try:
        return psycopg.connect(url, connect_timeout=10, autocommit=True)
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or ["cannot connect"])[0]
        raise StoreError(f"cannot open the PostgreSQL store {safe_url(url)}: {first}") from None


def create_database(server_url: str, prefix: str = "lf_") -> str:
    """Create an empty database with a fresh name on the server of ``server_url`` (tests, benchmarks);
    returns its URL."""
    import uuid

    name = prefix + uuid.uuid4().hex[:12]
    with psycopg.connect(server_url, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + "/" + name


def safe_url(url: str) -> str:
    """``url`` without its password, for messages.

    >>> safe_url("postgresql://ann:secret@db.example:5432/lens"), safe_url("postgresql://127.0.0.1/lens")
    ('postgresql://ann:***@db.example:5432/lens', 'postgresql://127.0.0.1/lens')
    """
    head, sep, tail = url.rpartition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, cred = head.partition("//")
    return f"{scheme}//{cred.split(':', 1)[0]}:***@{tail}"


def pg_schema_version(con: psycopg.Connection) -> int:
    """The highest applied migration, 0 for an empty database."""
    if con.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def apply_pg_migrations(con: psycopg.Connection, upto: int | None = None) -> list[int]:
    """Apply every missing migration (up to ``upto``), each in one transaction with its record."""
    applied = []
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATION_LOCK])
        con.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT,
                       applied_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'UTC'))""")
        current = pg_schema_version(con)
        for version, name, sql in PG_MIGRATIONS:
            if version <= current or (upto is not None and version > upto):
                continue
            with con.transaction():
                con.execute(sql)
                con.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", [version, name])
            applied.append(version)
    return applied


# ---------------------------------------------------------------------- staging bulk tables
def stage_frame(con: psycopg.Connection, name: str, like: str, frame: pd.DataFrame) -> None:
    """Copy ``frame`` into a new temporary table ``name`` with the columns of ``like`` it has."""
    cols = list(frame.columns)
    con.execute(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS SELECT {', '.join(cols)} FROM {like} WITH NO DATA")
    data = frame.to_csv(index=False, header=False, na_rep="\\N").encode()
    _copy_in(con, name, cols, [data])


def stage_csv_file(con: psycopg.Connection, name: str, columns: dict[str, str], path: Path) -> None:
    """Copy a CSV file (header line, ``\\N`` for NULL) into a new temporary table of ``columns``."""
    con.execute(f"CREATE TEMP TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns.items())}) ON COMMIT DROP")
    with open(path, "rb") as f:
        f.readline()  # the header
        _copy_in(con, name, list(columns), iter(lambda: f.read(1 << 20), b""))


def _copy_in(con: psycopg.Connection, table: str, cols: list[str], chunks) -> None:
    with con.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN "
                                       "(FORMAT csv, NULL '\\N')") as copy:
        for chunk in chunks:
            copy.write(chunk)


#: the columns of a staged vote table (:func:`insert_staged_votes`)
STAGED_VOTE_COLUMNS = {"vote_id": "TEXT", "user_id": "TEXT", "subject": "TEXT", "answer": "SMALLINT",
                       "marks": "JSON", "created_at": "TIMESTAMP", "time_spent_s": "DOUBLE PRECISION",
                       "session": "TEXT", "arrival": "BIGINT"}


def normalised_votes_csv(duck: duckdb.DuckDBPyConnection, relation: str, present: set[str], out: Path,
                         unique_ids: bool) -> None:
    """Write the registered DuckDB ``relation`` (votes + ``arrival``) as the staged vote CSV of
    :data:`STAGED_VOTE_COLUMNS`; DuckDB casts, and keeps the first of each repeated id unless ``unique_ids``."""
    def col(name: str, cast: str) -> str:
        return f"{name}::{cast} AS {name}" if name in present else f"NULL::{cast} AS {name}"

    select = ", ".join([col("vote_id", "VARCHAR"), col("user_id", "VARCHAR"), col("subject", "VARCHAR"),
                        col("answer", "TINYINT"), col("marks", "VARCHAR"), col("created_at", "TIMESTAMP"),
                        col("time_spent_s", "DOUBLE"), col("session", "VARCHAR"), "arrival"])
    first = "" if unique_ids else "QUALIFY row_number() OVER (PARTITION BY vote_id ORDER BY arrival) = 1"
    target = str(out).replace("'", "''")
    duck.execute(f"COPY (SELECT {select} FROM {relation} {first}) TO '{target}' (HEADER, NULLSTR '\\N')")


# ---------------------------------------------------------------------- writes (caller's transaction)
def insert_subjects(con: psycopg.Connection, frame: pd.DataFrame, *, replace: bool) -> int:
    """Insert validated subjects (kept, or updated if ``replace``); returns how many are new."""
    stage_frame(con, "_new_subjects", "subjects", frame[SUBJECT_COLUMNS])
    before = count_rows(con, "subjects")
    cols = ", ".join(SUBJECT_COLUMNS)
    conflict = ("DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in SUBJECT_COLUMNS[1:])
                if replace else "DO NOTHING")
    con.execute(f"INSERT INTO subjects ({cols}) SELECT {cols} FROM _new_subjects ON CONFLICT (subject) {conflict}")
    con.execute("UPDATE live_swap_meta SET stale = true")  # live scores: recompute with these subjects
    return count_rows(con, "subjects") - before


def count_rows(con: psycopg.Connection, table: str) -> int:
    """Rows of ``table`` (one of :data:`TABLES`)."""
    if table not in TABLES:
        raise ValueError(table)
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def unknown_subjects(con: psycopg.Connection, staged: str, limit: int = 5) -> list[str]:
    """Up to ``limit`` subjects of the staged table that the subjects table lacks."""
    rows = con.execute(f"SELECT DISTINCT n.subject FROM {staged} n WHERE NOT EXISTS "
                       f"(SELECT 1 FROM subjects s WHERE s.subject = n.subject) LIMIT {int(limit)}").fetchall()
    return [r[0] for r in rows]


def insert_staged_votes(con: psycopg.Connection, staged: str) -> int:
    """Insert staged votes (ids unique within the stage), skipping ids already stored; ``seq`` from the
    sequence in (created_at, arrival) order.  Returns how many were new."""
    cur = con.execute(f"""
        INSERT INTO votes (vote_id, seq, user_id, subject, answer, marks, created_at, time_spent_s, session)
        SELECT vote_id, nextval('vote_seq'), user_id, subject, answer, marks, created_at, time_spent_s, session
        FROM (SELECT * FROM {staged} n WHERE NOT EXISTS (SELECT 1 FROM votes v WHERE v.vote_id = n.vote_id)
              ORDER BY created_at, arrival) o
        ON CONFLICT (vote_id) DO NOTHING""")
    return cur.rowcount


def insert_vote(con: psycopg.Connection, event: dict) -> None:
    """One vote event (:func:`.validation.vote_event`); an id already stored is kept as it was."""
    con.execute("""INSERT INTO votes (vote_id, seq, user_id, subject, answer, marks, created_at, time_spent_s,
                                      session)
                   VALUES (%s, nextval('vote_seq'), %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (vote_id) DO NOTHING""",
                [event["vote_id"], event["user_id"], event["subject"], event["answer"], event["marks"],
                 event["created_at"], event["time_spent_s"], event["session"]])


def vote_is_by(con: psycopg.Connection, vote_id: str, user_id: str) -> bool:
    """Whether ``vote_id`` exists and was cast by ``user_id``."""
    return con.execute("SELECT 1 FROM votes WHERE vote_id = %s AND user_id = %s",
                       [vote_id, user_id]).fetchone() is not None


def retract(con: psycopg.Connection, vote_id: str, user_id: str, at: str) -> None:
    """Mark the voter's own vote retracted, once."""
    con.execute("UPDATE votes SET retracted_at = %s WHERE vote_id = %s AND user_id = %s AND retracted_at IS NULL",
                [at, vote_id, user_id])


def insert_annotation(con: psycopg.Connection, event: dict) -> None:
    """One favourite/comment event."""
    con.execute("INSERT INTO annotations VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
                [event["event_id"], event["user_id"], event["subject"], event["favourite"], event["comment"],
                 event["created_at"]])


def replace_scores(con: psycopg.Connection, frame: pd.DataFrame, method: str) -> None:
    """The scores of ``method`` become ``frame`` (subject, probability, n_votes, status)."""
    stage_frame(con, "_scores", "scores", frame[["subject", "probability", "n_votes", "status"]])
    con.execute("DELETE FROM scores WHERE method = %s", [method])
    con.execute("INSERT INTO scores (subject, method, probability, n_votes, status) "
                "SELECT subject, %s, probability, n_votes, status FROM _scores", [method])


def replace_machine_scores(con: psycopg.Connection, frame: pd.DataFrame, model: str) -> None:
    """The machine scores of ``model`` become ``frame`` (subject, score, in_training)."""
    stage_frame(con, "_machine", "machine_scores", frame[["subject", "score", "in_training"]])
    con.execute("DELETE FROM machine_scores WHERE model = %s", [model])
    con.execute("INSERT INTO machine_scores (subject, model, score, in_training) "
                "SELECT subject, %s, score, in_training FROM _machine", [model])


def insert_user(con: psycopg.Connection, user_id: str, display_name: str, key_hash: str | None, role: str) -> bool:
    """Add a person unless the id exists; True when added."""
    cur = con.execute("INSERT INTO users (user_id, display_name, key_hash, role) VALUES (%s, %s, %s, %s) "
                      "ON CONFLICT (user_id) DO NOTHING", [user_id, display_name, key_hash, role])
    return cur.rowcount == 1


def insert_grade(con: psycopg.Connection, row: dict) -> None:
    """One expert grade (grade_id, user_id, subject, grade, created_at); an id already stored is kept."""
    con.execute("INSERT INTO grades (grade_id, user_id, subject, grade, created_at) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (grade_id) DO NOTHING",
                [row["grade_id"], row["user_id"], row["subject"], row["grade"], row["created_at"]])


def insert_lens_model(con: psycopg.Connection, row: dict) -> None:
    """One lens model (:func:`.validation.lens_model_row`)."""
    con.execute("INSERT INTO lens_models (model_id, user_id, subject, params, theta_e, theta_e_err, quality, refined, "
                "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [row[c] for c in LENS_MODEL_COLUMNS])


def put_setting(con: psycopg.Connection, key: str, value: Any) -> None:
    """Store ``value`` (JSON-serialisable) under ``key``."""
    con.execute("INSERT INTO settings VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, json.dumps(value)])


def insert_comment(con: psycopg.Connection, row: dict) -> None:
    """One discussion post (comment_id, user_id, subject, body, tags, created_at)."""
    con.execute("INSERT INTO comments (comment_id, user_id, subject, body, tags, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [row["comment_id"], row["user_id"], row["subject"], row["body"], row["tags"], row["created_at"]])


def user_role(con: psycopg.Connection, user_id: str) -> str | None:
    """The stored role of ``user_id``, None for nobody."""
    row = con.execute("SELECT role FROM users WHERE user_id = %s", [user_id]).fetchone()
    return None if row is None else row[0]


def set_user_role(con: psycopg.Connection, user_id: str, display_name: str, role: str) -> str | None:
    """Give ``user_id`` the role ``role`` (adding them, named ``display_name``, if unknown); returns the
    role they had before, None when added now."""
    # the row lock keeps the returned role true when two teachers change the same person at once
    row = con.execute("SELECT role FROM users WHERE user_id = %s FOR UPDATE", [user_id]).fetchone()
    if row is None:
        cur = con.execute("INSERT INTO users (user_id, display_name, role) VALUES (%s, %s, %s) "
                          "ON CONFLICT (user_id) DO NOTHING", [user_id, display_name, role])
        if cur.rowcount == 1:
            return None
        # someone (their first page open) added them meanwhile: change that row instead
        row = con.execute("SELECT role FROM users WHERE user_id = %s FOR UPDATE", [user_id]).fetchone()
    if row[0] != role:
        con.execute("UPDATE users SET role = %s WHERE user_id = %s", [role, user_id])
    return row[0]


def hide_comment(con: psycopg.Connection, comment_id: str, by: str, at: str) -> bool | None:
    """Hide a post once: True when hidden now, False when it was hidden already, None when unknown."""
    row = con.execute("SELECT hidden_at FROM comments WHERE comment_id = %s FOR UPDATE", [comment_id]).fetchone()
    if row is None:
        return None
    if row[0] is not None:
        return False
    con.execute("UPDATE comments SET hidden_at = %s, hidden_by = %s WHERE comment_id = %s", [at, by, comment_id])
    return True


def subject_id_set(con: psycopg.Connection) -> set[str]:
    """Every subject id."""
    return {r[0] for r in con.execute("SELECT subject FROM subjects").fetchall()}


def insert_table(con: psycopg.Connection, table: str, frame: pd.DataFrame) -> None:
    """Copy whole rows of ``table`` (a store copy): ``frame`` has the table's columns; the vote
    sequence moves past the copied ``seq``."""
    if table not in TABLES:
        raise ValueError(table)
    if len(frame):
        _copy_in(con, table, list(frame.columns), [frame.to_csv(index=False, header=False, na_rep="\\N").encode()])
    if table == "votes":
        con.execute("SELECT setval('vote_seq', greatest((SELECT coalesce(max(seq), 0) FROM votes), 1))")


# ---------------------------------------------------------------------- reads: votes for scoring
#: heap pages of the votes table per query of :func:`vote_code_tables` (~180,000 votes, ~9 MB of text)
_PAGES_PER_QUERY = 2048

_VOTE_TYPES = {"user_id": "string", "subject": "string", "answer": "int8", "t_us": "int64", "seq": "int64"}


def vote_code_tables(con: psycopg.Connection, url: str | None = None, readers: int = 2) -> tuple[Any, Any]:
    """What the scoring engine needs, straight from the server as of one moment, as Arrow tables:
    the subjects sorted by id (subject, label), and the votes not retracted (user_id, subject,
    answer, t_us = created_at in microseconds since 1970, seq, and s_code = the subject's row in
    the sorted subjects, null for a subject since deleted), in no particular order.

    The votes table is read in ranges of heap pages (TID range scans: each page is read once, no
    index needed).  For each range the server joins the rows into one tab-separated text (ids hold
    no control characters, :func:`.validation.check_id`), sent as bytes: psycopg hands a COPY over
    one row at a time, and decoding text into Python strings would cost as much as the server's
    work.  With ``url``, ``readers`` connections share the snapshot of ``con``'s transaction
    (``pg_export_snapshot``) and take alternate ranges in threads, so the server formats them on as
    many cores; pyarrow parses the texts at the end.
    """
    import concurrent.futures

    import pyarrow as pa
    import pyarrow.compute as pc

    con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    extra: list[psycopg.Connection] = []
    try:
        if url and readers > 1:
            snapshot = con.execute("SELECT pg_export_snapshot()").fetchone()[0]
            for _ in range(readers - 1):
                try:
                    other = connect(url)
                except StoreError as exc:   # e.g. the server is at max_connections: fewer readers, same rows
                    log.warning("scoring reads with %d connection(s): %s", len(extra) + 1, exc)
                    break
                extra.append(other)
                other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                other.execute(pg_sql.SQL("SET TRANSACTION SNAPSHOT {}").format(pg_sql.Literal(snapshot)))
        subjects = _parse_text(_subject_text(con), {"subject": pa.string(), "label": pa.int8()})
        subjects = subjects.take(pc.sort_indices(subjects, [("subject", "ascending")]))
        # every row our snapshot sees was written before it was taken, so it lies below today's size;
        # the last range is left open all the same
        pages = con.execute("SELECT pg_relation_size('votes') / current_setting('block_size')::int").fetchone()[0]
        starts = list(range(0, max(int(pages), 1), _PAGES_PER_QUERY))
        ranges = list(zip(starts, [*starts[1:], None]))
        parts = [con, *extra]
        types = {name: pa.type_for_alias(kind) for name, kind in _VOTE_TYPES.items()}
        with concurrent.futures.ThreadPoolExecutor(len(parts)) as pool:
            shares = pool.map(lambda k: list(_vote_texts(parts[k], ranges[k::len(parts)])), range(len(parts)))
            texts = [text for share in shares for text in share]
    finally:
        for c in (con, *extra):
            with contextlib.suppress(psycopg.Error):
                c.execute("COMMIT")
        for c in extra:
            c.close()
    # parsing and coding wait for the last text: on two cores the server's formatting keeps both busy
    # until then (doing them as texts arrive took longer: 10.0 s against 6.7 s at 10.8 M votes)
    votes = _parse_text(b"\n".join(texts), types)
    return subjects, votes.append_column("s_code", pc.index_in(votes["subject"], value_set=subjects["subject"]))


def _vote_texts(con: psycopg.Connection, ranges: list[tuple[int, int | None]]) -> Iterator[bytes]:
    """The votes not retracted in each range of heap pages [first, end) (end None: to the last page),
    as tab-separated text (one reader's share)."""
    # date_part is a double of seconds: 0.2 us of rounding at today's dates, so * 1e6 rounds back exactly
    rows = """SELECT convert_to(string_agg(concat_ws(E'\\t', user_id, subject, answer,
                                                     (date_part('epoch', created_at) * 1e6)::int8, seq),
                                           E'\\n'), 'UTF8')
              FROM votes WHERE retracted_at IS NULL AND ctid >= %s::tid"""
    with con.cursor(binary=True) as cur:
        for first, end in ranges:
            if end is None:
                row = cur.execute(rows, (f"({first},0)",)).fetchone()
            else:
                row = cur.execute(rows + " AND ctid < %s::tid", (f"({first},0)", f"({end},0)")).fetchone()
            if row and row[0]:
                yield bytes(row[0])


def _subject_text(con: psycopg.Connection) -> bytes:
    """The subjects (subject, label) as one tab-separated text."""
    with con.cursor(binary=True) as cur:
        row = cur.execute("SELECT convert_to(string_agg(concat_ws(E'\\t', subject, label), E'\\n'), 'UTF8') "
                          "FROM subjects").fetchone()
    return bytes(row[0]) if row and row[0] else b""


def _parse_text(text: bytes, columns: dict[str, Any]) -> Any:
    """A tab-separated ``text`` (no header) as an Arrow table with ``columns`` (name: type)."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not text:
        return pa.table({name: pa.array([], kind) for name, kind in columns.items()})
    # blocks of 16 MB: still parsed in parallel, and few chunks for the compute kernels afterwards
    # (dictionary_encode copies its dictionary into every chunk)
    return pacsv.read_csv(io.BytesIO(text), read_options=pacsv.ReadOptions(column_names=list(columns),
                                                                          block_size=16 << 20),
                          parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
                          convert_options=pacsv.ConvertOptions(column_types=columns, strings_can_be_null=False))


# ---------------------------------------------------------------------- reads: a DuckDB copy
@contextlib.contextmanager
def load_snapshot(con: psycopg.Connection, tables: tuple[str, ...] = TABLES) -> Iterator[Path]:
    """A private DuckDB file holding ``tables`` as they are now (one REPEATABLE READ transaction),
    with the DuckDB schema of :mod:`.migrations`; deleted when the block ends."""
    with tempfile.TemporaryDirectory(prefix="lf-pg-snap-") as tmp:
        dump = {}
        con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            for table in tables:
                path = Path(tmp) / f"{table}.csv"
                with open(path, "wb") as f, con.cursor() as cur, cur.copy(
                        f"COPY {table} TO STDOUT (FORMAT csv, HEADER, NULL '\\N')") as copy:
                    for chunk in copy:
                        f.write(chunk)
                dump[table] = path
        finally:
            con.execute("COMMIT")
        db = Path(tmp) / "snapshot.duckdb"
        shutil.copyfile(_empty_duckdb_schema(), db)
        duck = duckdb.connect(str(db))
        try:
            for table, path in dump.items():
                if _has_rows(path):
                    duck.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_csv(?, header = true, "
                                 "all_varchar = true, nullstr = '\\N', allow_quoted_nulls = false)", [str(path)])
        finally:
            duck.close()
        yield db


_TEMPLATE: dict[int, Path] = {}


def _empty_duckdb_schema() -> Path:
    """A DuckDB file with the schema of :mod:`.migrations` and no rows, made once per process (copying
    it is much cheaper than running the migrations for every snapshot)."""
    from .migrations import apply_migrations

    path = _TEMPLATE.get(os.getpid())
    if path is None or not path.exists():
        folder = Path(tempfile.mkdtemp(prefix="lf-pg-schema-"))
        path = folder / "schema.duckdb"
        con = duckdb.connect(str(path))
        try:
            apply_migrations(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        atexit.register(shutil.rmtree, folder, True)
        _TEMPLATE[os.getpid()] = path
    return path


def _has_rows(path: Path) -> bool:
    with open(path, "rb") as f:
        f.readline()
        return bool(f.read(1))
