"""Every read of the schema that lensfinder itself makes, as named functions.

Each public function takes a :class:`~lensfinder_nb.store.Store` and returns a DataFrame (or a
number) read from one consistent snapshot (the DuckDB file plus the journal tails not yet
folded, see :mod:`.views`), so every acknowledged vote is seen.  Counts of votes use the
``counted_votes`` view: the counting rule of :mod:`.views`, written once.

People's own SQL goes through :meth:`Store.sql <lensfinder_nb.store.Store.sql>` instead.

>>> import tempfile, pathlib, pandas as pd
>>> from lensfinder_nb.store import open_store
>>> store = open_store(pathlib.Path(tempfile.mkdtemp()) / "x.duckdb")
>>> _ = store.add_subjects(pd.DataFrame({"subject": ["a", "b"], "label": [1, -1]}))
>>> _ = store.add_vote("ada", "a", 1)
>>> _ = store.add_vote("ada", "a", 0)          # a second opinion: not counted
>>> subject_pool(store)[["subject", "n_votes"]].values.tolist()
[['a', 1], ['b', 0]]
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .connections import Connection
    from .core import Store

__all__ = ["subjects", "votes", "setting", "vote_is_by", "live_vote_codes", "votes_of_user",
           "annotations_of_user", "subject_pool", "stored_scores", "latest_machine_scores", "newest_model_scores",
           "machine_skill_sample", "volunteer_activity", "counted_vote_span", "activity_counts",
           "count_counted_votes", "user_record", "count_subjects", "mock_backgrounds", "journal_progress",
           "subject_id_set", "thread", "comments_tagged", "hashtag_counts", "has_live_vote", "comment_record",
           "comments_by_user", "subject_image",
           "grades", "people_with_role", "lens_models"]


def _frame(store: Store, query: str, params: list | None = None) -> pd.DataFrame:
    with store.snapshot() as con:
        return con.execute(query, params).df() if params else con.execute(query).df()


# ---------------------------------------------------------------------- the store's own reads
def journal_progress(con: Connection, catalog: str | None = None) -> dict[str, int]:
    """Journal file -> bytes already folded, read on an open connection (``catalog``: e.g. ``db``)."""
    table = f"{catalog}.journal_progress" if catalog else "journal_progress"
    return dict(con.execute(f"SELECT journal, offset_bytes FROM {table}").fetchall())


def subject_id_set(con: Connection) -> set[str]:
    """Every subject id, read on an open connection to the file."""
    return {r[0] for r in con.execute("SELECT subject FROM subjects").fetchall()}


def subjects(store: Store) -> pd.DataFrame:
    """All subjects by id: subject, label, kind, ra, dec, image, cube, params, source, created_at."""
    with store._reader_raw() as con:
        return con.execute("SELECT * FROM subjects ORDER BY subject").df()


def votes(store: Store, include_retracted: bool = False) -> pd.DataFrame:
    """All votes (not retracted ones unless asked) in arrival order, every column of the votes view."""
    where = "" if include_retracted else "WHERE retracted_at IS NULL"
    return _frame(store, f"SELECT * FROM votes {where} ORDER BY seq")


def setting(store: Store, key: str) -> tuple[bool, Any]:
    """(True, value) for a stored setting, (False, None) when ``key`` was never set."""
    df = _frame(store, "SELECT value FROM settings WHERE key = ?", [key])
    return (False, None) if df.empty else (True, json.loads(df["value"].iloc[0]))


def vote_is_by(store: Store, vote_id: str, user_id: str) -> bool:
    """Whether ``vote_id`` exists and was cast by ``user_id``."""
    return not _frame(store, "SELECT 1 FROM votes WHERE vote_id = ? AND user_id = ?", [vote_id, user_id]).empty


# ---------------------------------------------------------------------- scoring
_CODED_SUBJECTS = "SELECT subject, label FROM subjects ORDER BY subject"
_CODED_USERS = "SELECT DISTINCT user_id FROM votes WHERE retracted_at IS NULL ORDER BY user_id"
_CODED_VOTES = """
WITH s AS (SELECT subject, (row_number() OVER (ORDER BY subject) - 1)::INTEGER AS s_code FROM subjects),
     u AS (SELECT user_id, (row_number() OVER (ORDER BY user_id) - 1)::INTEGER AS u_code
           FROM (SELECT DISTINCT user_id FROM votes WHERE retracted_at IS NULL))
SELECT u.u_code, s.s_code, v.answer, epoch_us(v.created_at) AS t_us, v.seq
FROM votes v JOIN s USING (subject) JOIN u USING (user_id)
WHERE v.retracted_at IS NULL
"""


def live_vote_codes(store: Store) -> dict[str, np.ndarray]:
    """The votes not retracted as integer codes, for the scoring engine (only numbers cross into Python).

    Repeats are still in: the scoring engine keeps each person's first vote per subject itself
    (:meth:`~lensfinder_nb.scoring.CodedVotes.from_codes`, the rule of :mod:`.views` on integer
    codes), because at millions of votes a hash table in numpy is several times faster than
    the ``counted_votes`` window (3 million votes: ~0.4 s against ~1.5-2 s).  A test checks
    that both give the same votes.

    Keys: ``subjects`` (ids, sorted), ``labels`` (per subject), ``users`` (ids, sorted), and per
    vote ``u_code``, ``s_code`` (positions in ``users`` and ``subjects``), ``answer``, ``t_us``
    (created_at in microseconds since 1970) and ``seq``; votes in no particular order.
    A PostgreSQL store reads them from the server itself (``PostgresStore.live_vote_codes``).
    """
    if hasattr(store, "live_vote_codes"):
        return store.live_vote_codes()
    return snapshot_vote_codes(store)


def snapshot_vote_codes(store: Store) -> dict[str, np.ndarray]:
    """:func:`live_vote_codes` through a snapshot's views, on either backend."""
    with store.snapshot() as con:
        subj = con.execute(_CODED_SUBJECTS).fetchnumpy()
        users = con.execute(_CODED_USERS).fetchnumpy()["user_id"]
        v = con.execute(_CODED_VOTES).fetchnumpy()
    out = {k: np.asarray(v[k]) for k in ("u_code", "s_code", "answer", "t_us", "seq")}
    out.update(subjects=np.asarray(subj["subject"], dtype=object), labels=np.asarray(subj["label"], dtype=np.int8),
               users=np.asarray(users, dtype=object))
    return out


def stored_scores(store: Store, method: str) -> pd.DataFrame:
    """The scores written for ``method`` (``lensfinder score``): subject, probability, n_votes, status."""
    return _frame(store, "SELECT subject, probability, n_votes, status FROM scores WHERE method = ? "
                         "ORDER BY subject", [method])


# ---------------------------------------------------------------------- one person
def votes_of_user(store: Store, user_id: str) -> pd.DataFrame:
    """All votes of ``user_id`` (retracted ones too), oldest first.

    Columns: vote_id, seq, user_id, subject, answer, created_at, retracted_at, counted (the
    vote counts, :mod:`.views`), label (-1 for a subject no longer in the store), image.
    """
    return _frame(store, """
        SELECT v.vote_id, v.seq, v.user_id, v.subject, v.answer, v.created_at, v.retracted_at,
               v.vote_id IN (SELECT vote_id FROM counted_votes WHERE user_id = ?) AS counted,
               coalesce(s.label, -1)::TINYINT AS label, s.image
        FROM votes v LEFT JOIN subjects s USING (subject)
        WHERE v.user_id = ?
        ORDER BY v.created_at, v.seq""", [user_id, user_id])


def annotations_of_user(store: Store, user_id: str) -> pd.DataFrame:
    """The latest non-null favourite and comment of ``user_id`` per subject, latest first.

    Columns: subject, favourite, comment (NULL where never set), updated_at, image.
    """
    return _frame(store, """
        SELECT a.*, s.image FROM (
            SELECT subject,
                   arg_max(favourite, created_at) FILTER (WHERE favourite IS NOT NULL) AS favourite,
                   arg_max(comment, created_at) FILTER (WHERE comment IS NOT NULL) AS comment,
                   max(created_at) AS updated_at
            FROM annotations WHERE user_id = ?
            GROUP BY subject) a
        LEFT JOIN subjects s USING (subject)
        ORDER BY a.updated_at DESC, a.subject""", [user_id])


def user_record(store: Store, user_id: str) -> pd.DataFrame:
    """The person ``user_id`` (no row if unknown): display_name, key_hash, role."""
    return _frame(store, "SELECT display_name, key_hash, role FROM users WHERE user_id = ?", [user_id])


def people_with_role(store: Store, role: str) -> pd.DataFrame:
    """Everyone with ``role`` (e.g. ``expert``): user_id, display_name, created_at, by id."""
    return _frame(store, "SELECT user_id, display_name, created_at FROM users WHERE role = ? ORDER BY user_id",
                  [role])


# ---------------------------------------------------------------------- expert grades
def grades(store: Store, history: bool = False) -> pd.DataFrame:
    """Expert grades: each grader's latest grade per subject (the ``latest_grades`` view), or every
    grade ever given with ``history``.  Columns: grade_id, user_id, subject, grade, created_at."""
    view = "grades" if history else "latest_grades"
    return _frame(store, f"SELECT grade_id, user_id, subject, grade::INTEGER AS grade, created_at FROM {view} "
                         "ORDER BY created_at, grade_id")


# ---------------------------------------------------------------------- the queue
def subject_pool(store: Store, method: str = "swap") -> pd.DataFrame:
    """Every subject with what the queue needs, by id.

    Columns: subject, label, image, cube, mask (arc mask reference of a mock, from params),
    snr (a mock's arc S/N in its best band, from params; NULL for others),
    n_votes (counted votes now), probability and status (scores stored for ``method``; NULL
    where not scored).
    """
    return _frame(store, """
        SELECT s.subject, s.label, s.image, s.cube,
               json_extract_string(s.params, '$.mask') AS mask,
               greatest(TRY_CAST(json_extract_string(s.params, '$.snr_g') AS DOUBLE),
                        TRY_CAST(json_extract_string(s.params, '$.snr_r') AS DOUBLE),
                        TRY_CAST(json_extract_string(s.params, '$.snr_z') AS DOUBLE)) AS snr,
               coalesce(v.n_votes, 0) AS n_votes, sc.probability, sc.status
        FROM subjects s
        LEFT JOIN (SELECT subject, count(*) AS n_votes FROM counted_votes GROUP BY subject) v USING (subject)
        LEFT JOIN (SELECT subject, probability, status FROM scores WHERE method = ?) sc USING (subject)
        ORDER BY s.subject""", [method])


# ---------------------------------------------------------------------- the machine
def latest_machine_scores(store: Store) -> pd.DataFrame:
    """The machine score of each scored subject: that of the newest model that scored it.

    Columns: subject, score (in [0, 1], a ranking score).
    """
    return _frame(store, "SELECT subject, arg_max(score, created_at) AS score FROM machine_scores "
                         "GROUP BY subject ORDER BY subject")


def machine_skill_sample(store: Store, model: str | None = None) -> pd.DataFrame:
    """Scores of ``model`` (default: the newest) on training subjects it did not train on: score, y (label)."""
    which = "?" if model is not None else "(SELECT model FROM machine_scores ORDER BY created_at DESC LIMIT 1)"
    return _frame(store, f"""
        SELECT m.score, s.label AS y FROM machine_scores m JOIN subjects s USING (subject)
        WHERE s.label IN (0, 1) AND NOT m.in_training AND m.model = {which}""",
                  [model] if model is not None else None)


def newest_model_scores(store: Store) -> pd.DataFrame:
    """Every score of the newest model: subject, score, in_training (the model trained on it), label."""
    return _frame(store, """
        SELECT m.subject, m.score, m.in_training, s.label FROM machine_scores m JOIN subjects s USING (subject)
        WHERE m.model = (SELECT model FROM machine_scores ORDER BY created_at DESC LIMIT 1)
        ORDER BY m.subject""")


# ---------------------------------------------------------------------- the class
def volunteer_activity(store: Store) -> pd.DataFrame:
    """One row per person with counted votes: user_id, name (display name or NULL), last_active."""
    return _frame(store, """
        SELECT v.user_id, any_value(u.display_name) AS name, max(v.created_at) AS last_active
        FROM counted_votes v LEFT JOIN users u USING (user_id)
        GROUP BY v.user_id ORDER BY v.user_id""")


def counted_vote_span(store: Store) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Times of the first and the last counted vote (None, None without votes)."""
    df = _frame(store, "SELECT min(created_at) AS t0, max(created_at) AS t1 FROM counted_votes")
    t0, t1 = df["t0"].iloc[0], df["t1"].iloc[0]
    return (None, None) if pd.isna(t0) else (pd.Timestamp(t0), pd.Timestamp(t1))


def activity_counts(store: Store, minutes: int = 1) -> pd.DataFrame:
    """Counted votes per bin of ``minutes`` (bins start on whole minutes / hours, UTC; empty bins absent).

    Columns: start (bin start), votes, volunteers (distinct people), lens_votes.
    """
    return _frame(store, """
        SELECT time_bucket(INTERVAL (?) MINUTE, created_at) AS start, count(*) AS votes,
               count(DISTINCT user_id) AS volunteers, sum(answer)::BIGINT AS lens_votes
        FROM counted_votes GROUP BY 1 ORDER BY 1""", [int(minutes)])


def count_counted_votes(store: Store) -> int:
    """How many votes count (the rule of :mod:`.views`)."""
    return int(_frame(store, "SELECT count(*) AS n FROM counted_votes")["n"].iloc[0])


# ---------------------------------------------------------------------- data sets
def count_subjects(store: Store, source: str | None = None) -> int:
    """How many subjects the store holds (only those of ``source``, e.g. ``demo``, if given)."""
    if source is None:
        return int(_frame(store, "SELECT count(*) AS n FROM subjects")["n"].iloc[0])
    return int(_frame(store, "SELECT count(*) AS n FROM subjects WHERE source = ?", [source])["n"].iloc[0])


def mock_backgrounds(store: Store) -> pd.DataFrame:
    """Plain non-lenses with a cube, usable behind a mock lens: subject, ra, dec, cube, params (JSON text).

    Look-alikes, artefacts and mocks (or subjects whose cube is itself a mock) are left out.
    """
    return _frame(store, """
        SELECT subject, ra, dec, cube, params FROM subjects
        WHERE label = 0 AND cube IS NOT NULL AND kind NOT LIKE 'lookalike:%' AND kind NOT LIKE 'artefact:%'
          AND kind <> 'mock' AND cube NOT LIKE 'mock:%'
        ORDER BY subject""")


# ---------------------------------------------------------------------- discussion threads
_COMMENT_COLUMNS = """c.comment_id, c.subject, c.user_id, coalesce(nullif(u.display_name, ''), c.user_id) AS name,
       c.body, c.tags, c.created_at, c.hidden_at, c.hidden_by,
       (SELECT coalesce(nullif(h.display_name, ''), h.user_id) FROM users h WHERE h.user_id = c.hidden_by)
           AS hidden_by_name"""


def thread(store: Store, subject: str) -> pd.DataFrame:
    """Every post on ``subject`` (hidden ones too: the caller decides what a reader sees), newest first.

    Columns: comment_id, subject, user_id, name (display name, else the user id), body, tags
    (space-separated), created_at, hidden_at (NULL unless hidden), hidden_by, hidden_by_name.
    """
    return _frame(store, f"""
        SELECT {_COMMENT_COLUMNS} FROM comments c LEFT JOIN users u USING (user_id)
        WHERE c.subject = ? ORDER BY c.created_at DESC, c.comment_id DESC""", [subject])


def comments_tagged(store: Store, tag: str, include_hidden: bool = False) -> pd.DataFrame:
    """Posts carrying the (already normalised) hashtag ``tag``, newest first; columns of :func:`thread`."""
    hidden = "" if include_hidden else "AND c.hidden_at IS NULL"
    return _frame(store, f"""
        SELECT {_COMMENT_COLUMNS} FROM comments c LEFT JOIN users u USING (user_id)
        WHERE list_contains(string_split(c.tags, ' '), ?) {hidden}
        ORDER BY c.created_at DESC, c.comment_id DESC""", [tag])


def hashtag_counts(store: Store, include_hidden: bool = False) -> pd.DataFrame:
    """Each hashtag with the posts and subjects carrying it, most used first.

    Columns: tag, n_comments, n_subjects.
    """
    hidden = "" if include_hidden else "WHERE hidden_at IS NULL"
    return _frame(store, f"""
        SELECT tag, count(*) AS n_comments, count(DISTINCT subject) AS n_subjects
        FROM (SELECT subject, unnest(string_split(tags, ' ')) AS tag FROM comments {hidden})
        WHERE tag <> ''
        GROUP BY tag ORDER BY n_comments DESC, tag""")


def has_live_vote(store: Store, user_id: str, subject: str) -> bool:
    """Whether ``user_id`` has a vote on ``subject`` that was not taken back."""
    return bool(_frame(store, "SELECT count(*) AS n FROM votes WHERE user_id = ? AND subject = ? "
                              "AND retracted_at IS NULL", [user_id, subject])["n"].iloc[0])


def comment_record(store: Store, comment_id: str) -> pd.DataFrame:
    """The post ``comment_id`` (no row if unknown); columns of :func:`thread`."""
    return _frame(store, f"SELECT {_COMMENT_COLUMNS} FROM comments c LEFT JOIN users u USING (user_id) "
                         "WHERE c.comment_id = ?", [comment_id])


def subject_image(store: Store, subject: str) -> str | None:
    """The display image reference of ``subject`` ("" when it has none), None for an unknown subject.

    Only the picture: a page that shows one subject must not hold its label.
    """
    with store._reader_raw() as con:
        row = con.execute("SELECT coalesce(image, '') FROM subjects WHERE subject = ?", [subject]).fetchone()
    return None if row is None else row[0]


def comments_by_user(store: Store, user_id: str) -> pd.DataFrame:
    """The posts of ``user_id`` on every thread, newest first; columns of :func:`thread`."""
    return _frame(store, f"""
        SELECT {_COMMENT_COLUMNS} FROM comments c LEFT JOIN users u USING (user_id)
        WHERE c.user_id = ? ORDER BY c.created_at DESC, c.comment_id DESC""", [user_id])


# ---------------------------------------------------------------------- lens models
def lens_models(store: Store, subject: str | None = None, user_id: str | None = None) -> pd.DataFrame:
    """Stored lens models, oldest first (of ``subject`` and/or ``user_id`` when given).

    Columns: model_id, user_id, subject, params (a dict), theta_e, theta_e_err, quality, refined, created_at.
    """
    where, args = [], []
    for col, value in (("subject", subject), ("user_id", user_id)):
        if value is not None:
            where.append(f"{col} = ?")
            args.append(value)
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    df = _frame(store, f"""SELECT model_id, user_id, subject, params::VARCHAR AS params, theta_e, theta_e_err,
                                  quality, refined::BOOLEAN AS refined, created_at::TIMESTAMP AS created_at
                           FROM lens_models {clause} ORDER BY created_at, model_id""", args or None)
    df["params"] = [json.loads(p) for p in df["params"]]
    return df
