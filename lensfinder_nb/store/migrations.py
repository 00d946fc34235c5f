"""Named, recorded schema migrations of the DuckDB store.

Each migration runs once, in order, inside one transaction together with the row
that records it in ``schema_migrations``.  Opening a file of an older schema applies
the missing ones in place; rows are never dropped.
"""

from __future__ import annotations

from .connections import Connection, atomic

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "apply_migrations", "schema_version"]

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "core tables", """
        CREATE TABLE subjects (
            subject     VARCHAR PRIMARY KEY,
            label       TINYINT NOT NULL CHECK (label IN (-1, 0, 1)),
            kind        VARCHAR,          -- mock, nonlens, lookalike, unknown, ...
            ra          DOUBLE,
            dec         DOUBLE,
            image       VARCHAR,          -- display JPEG, relative to the data folder
            cube        VARCHAR,          -- FITS/npy reference for re-rendering
            params      JSON,             -- simulation parameters where known
            source      VARCHAR,
            created_at  TIMESTAMP DEFAULT current_timestamp
        );
        CREATE TABLE users (
            user_id     VARCHAR PRIMARY KEY,
            display_name VARCHAR,
            key_hash    VARCHAR,
            role        VARCHAR DEFAULT 'volunteer',
            created_at  TIMESTAMP DEFAULT current_timestamp
        );
        CREATE SEQUENCE vote_seq START 1;
        CREATE TABLE votes (
            vote_id      VARCHAR PRIMARY KEY,
            seq          BIGINT NOT NULL,  -- order of arrival, breaks created_at ties
            user_id      VARCHAR NOT NULL,
            subject      VARCHAR NOT NULL,
            answer       TINYINT NOT NULL CHECK (answer IN (0, 1)),
            marks        JSON,             -- [[x, y], ...] in image pixels, or NULL
            created_at   TIMESTAMP NOT NULL,
            time_spent_s DOUBLE,
            session      VARCHAR
        );
        CREATE TABLE journal_progress (
            journal     VARCHAR PRIMARY KEY,
            offset_bytes BIGINT NOT NULL
        );
        CREATE TABLE settings (
            key   VARCHAR PRIMARY KEY,
            value JSON
        );
    """),
    (2, "retractions, favourites and comments", """
        ALTER TABLE votes ADD COLUMN retracted_at TIMESTAMP;
        CREATE TABLE annotations (
            event_id    VARCHAR PRIMARY KEY,
            user_id     VARCHAR NOT NULL,
            subject     VARCHAR NOT NULL,
            favourite   BOOLEAN,
            comment     VARCHAR,
            created_at  TIMESTAMP NOT NULL
        );
    """),
    (3, "subject scores per method", """
        CREATE TABLE scores (
            subject     VARCHAR NOT NULL,
            method      VARCHAR NOT NULL,   -- majority, weighted, swap, swap-offline, dawid-skene, machine
            probability DOUBLE NOT NULL,
            n_votes     INTEGER NOT NULL,
            status      VARCHAR NOT NULL,   -- detected, rejected, undecided
            computed_at TIMESTAMP DEFAULT current_timestamp,
            PRIMARY KEY (subject, method)
        );
    """),
    (4, "machine scores", """
        CREATE TABLE machine_scores (
            subject     VARCHAR NOT NULL,
            model       VARCHAR NOT NULL,   -- model file id (name + data snapshot hash)
            score       DOUBLE NOT NULL,    -- in [0, 1]; a ranking score, not a calibrated probability
            in_training BOOLEAN NOT NULL DEFAULT false,  -- the model saw this subject while training
            created_at  TIMESTAMP DEFAULT current_timestamp,
            PRIMARY KEY (subject, model)
        );
    """),
    # The numbers are shared with PG_MIGRATIONS: 5 is an index that only the server needs.
    (5, "votes by user (an index on PostgreSQL only)", "SELECT 1"),
    (6, "discussion threads", """
        CREATE TABLE comments (
            comment_id  VARCHAR PRIMARY KEY,
            user_id     VARCHAR NOT NULL,
            subject     VARCHAR NOT NULL,
            body        VARCHAR NOT NULL,
            tags        VARCHAR NOT NULL DEFAULT '',  -- hashtags, lower case, space-separated
            created_at  TIMESTAMP NOT NULL,
            hidden_at   TIMESTAMP,                    -- set when a teacher or expert hid it
            hidden_by   VARCHAR
        );
    """),
    (7, "expert grades", """
        CREATE TABLE grades (
            grade_id    VARCHAR PRIMARY KEY,
            user_id     VARCHAR NOT NULL,
            subject     VARCHAR NOT NULL,
            grade       TINYINT NOT NULL CHECK (grade BETWEEN 0 AND 3),  -- 3 definitely a lens ... 0 not
            created_at  TIMESTAMP NOT NULL   -- a grader's latest grade of a subject counts; older ones are history
        );
    """),
    (8, "lens models", """
        CREATE TABLE lens_models (
            model_id    VARCHAR PRIMARY KEY,
            user_id     VARCHAR NOT NULL,   -- a person, or 'auto' for `lensfinder model`
            subject     VARCHAR NOT NULL,
            params      JSON NOT NULL,      -- the full model (modelling.model.MODEL_KEYS)
            theta_e     DOUBLE NOT NULL,    -- arcsec
            theta_e_err DOUBLE,             -- arcsec, the fit's; NULL for a model not refined
            quality     DOUBLE,             -- the fit's reduced chi2; NULL for a model not refined
            refined     BOOLEAN NOT NULL DEFAULT false,
            created_at  TIMESTAMP NOT NULL
        );
    """),
    # Live SWAP scores (store/live.py): the state that lets each fold update the swap scores from
    # the new votes alone.  Derived data: dropping the rows makes the next update recompute them.
    (9, "live swap state", """
        CREATE TABLE live_swap_meta (
            name        VARCHAR PRIMARY KEY,  -- 'swap'
            last_seq    BIGINT NOT NULL,      -- the last vote seq applied
            n_retracted BIGINT NOT NULL,      -- retracted votes at that time (a change means recompute)
            prior       DOUBLE NOT NULL,
            detect      DOUBLE NOT NULL,
            reject      DOUBLE NOT NULL,
            stale       BOOLEAN NOT NULL DEFAULT false,  -- subjects changed since: recompute
            updated_at  TIMESTAMP
        );
        CREATE TABLE live_swap_users (
            user_id     VARCHAR PRIMARY KEY,
            sims_seen   BIGINT NOT NULL,
            sims_lens   BIGINT NOT NULL,
            duds_seen   BIGINT NOT NULL,
            duds_not    BIGINT NOT NULL,
            last_us     BIGINT NOT NULL      -- created_at of the last counted vote, microseconds
        );
        CREATE TABLE live_swap_subjects (
            subject     VARCHAR PRIMARY KEY,
            llr_sum     DOUBLE NOT NULL,     -- sum of the counted votes' log-likelihood ratios
            n_votes     BIGINT NOT NULL
        );
    """),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]


def schema_version(con: Connection) -> int:
    """The highest applied migration, 0 for an empty file."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchone()[0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def apply_migrations(con: Connection, upto: int | None = None) -> list[int]:
    """Apply every missing migration (up to ``upto``); returns the versions applied."""
    con.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP DEFAULT current_timestamp)""")
    current = schema_version(con)
    applied = []
    for version, name, sql in MIGRATIONS:
        if version <= current or (upto is not None and version > upto):
            continue
        with atomic(con):
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
        applied.append(version)
    return applied
