"""Live SWAP scores in the store: the state tables, the new votes, one update step, on both backends.

The numbers are computed by :mod:`lensfinder_nb.scoring.live_swap` (pure numpy); this module
reads what one step needs and writes what it changes, all in one transaction:

* ``live_swap_meta`` (one row, ``name = 'swap'``): the last vote ``seq`` applied, how many votes
  were retracted then, the prior and thresholds used, and ``stale`` (set when subjects are added
  or replaced: ``insert_subjects`` of both backends sets it);
* ``live_swap_users``: each volunteer's four agent counts and the time of their last counted vote;
* ``live_swap_subjects``: each subject's sum of log-likelihood ratios and counted votes;
* the ``scores`` rows of method ``swap`` of the subjects touched.

A step reads the votes with ``seq`` above the last one applied, the state rows of the
volunteers and subjects they touch, and which of their (person, subject) pairs already have a
counted vote; it writes back only those rows: O(new votes), with key lookups (PostgreSQL: primary
keys and the ``votes (user_id, subject)`` index; DuckDB: small hash joins on the state tables
and, for the repeat check, a scan of the votes of the people in the batch).  When the state
cannot be continued (no state yet, ``stale``, a retraction since the last step, other SWAP
settings, or a vote older than one already applied) the step recomputes everything from all
votes and rewrites every row.

Where a step runs: on DuckDB right after each fold, in the folding process under the exclusive
lock (:meth:`Store.fold <lensfinder_nb.store.Store.fold>`); on PostgreSQL in a background thread of
every process that writes votes, one at a time (an advisory lock), up to a ``seq`` horizon below which
every vote has committed (:class:`PgHorizon`; an explicit fold: :func:`pg_seq_horizon`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from . import queries
from ..scoring import live_swap
from ..scoring._votes import CodedVotes
from ..scoring.swap import SWAP_DEFAULTS

__all__ = ["LIVE_TABLES", "LiveStep", "update_duckdb", "update_postgres", "pg_seq_horizon", "PgHorizon",
           "read_state"]

log = logging.getLogger(__name__)

#: the state tables (copied by ``lensfinder store copy``, in PostgreSQL snapshots)
LIVE_TABLES = ("live_swap_meta", "live_swap_users", "live_swap_subjects")
_METHOD = "swap"
_PG_LOCK = 0x1E45F2A   # any constant: one live updater per database at a time


@dataclass(frozen=True)
class LiveStep:
    """What one update did: ``mode`` 'none' (nothing new), 'incremental' or 'full' (and why);
    ``new_votes`` read, ``counted`` of them, ``seconds`` spent (wall clock) and ``cpu_seconds`` (this
    process, all threads: the cost on a busy machine)."""

    mode: str
    new_votes: int = 0
    counted: int = 0
    reason: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def _params() -> dict[str, float]:
    return {"prior": SWAP_DEFAULTS["prior"], "detect": SWAP_DEFAULTS["detect"], "reject": SWAP_DEFAULTS["reject"]}


# ---------------------------------------------------------------------- the two dialects
class _Dialect:
    """The few statements that differ between DuckDB (``?``) and PostgreSQL (``%s``)."""

    def __init__(self, con: Any, pg: bool) -> None:
        self.con, self.pg = con, pg

    def q(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.pg else sql

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.con.execute(self.q(sql), params or []).fetchall()

    def frame(self, sql: str, params: list | None = None) -> pd.DataFrame:
        cur = self.con.execute(self.q(sql), params or [])
        if not self.pg:
            return cur.df()
        cols = [d.name for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=cols)

    def stage(self, name: str, frame: pd.DataFrame, columns: dict[str, str]) -> None:
        """``frame`` as a relation ``name`` for the statements of this transaction."""
        if not self.pg:
            self.con.register(name, frame)
            return
        from .postgres import _copy_in
        self.con.execute(f"CREATE TEMP TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns.items())}) "
                         "ON COMMIT DROP")
        if len(frame):
            _copy_in(self.con, name, list(columns),
                     [frame[list(columns)].to_csv(index=False, header=False, na_rep="\\N").encode()])

    def unstage(self, name: str) -> None:
        if not self.pg:
            self.con.unregister(name)


_USER_COLS = {"user_id": "TEXT", "sims_seen": "BIGINT", "sims_lens": "BIGINT", "duds_seen": "BIGINT",
              "duds_not": "BIGINT", "last_us": "BIGINT"}
_SUBJECT_COLS = {"subject": "TEXT", "llr_sum": "DOUBLE PRECISION", "n_votes": "BIGINT"}
_SCORE_COLS = {"subject": "TEXT", "probability": "DOUBLE PRECISION", "n_votes": "BIGINT", "status": "TEXT"}
_PAIR_COLS = {"user_id": "TEXT", "subject": "TEXT"}


def _read_meta(d: _Dialect) -> dict | None:
    rows = d.rows("SELECT last_seq, n_retracted, prior, detect, reject, stale FROM live_swap_meta WHERE name = ?",
                  [_METHOD])
    if not rows:
        return None
    last_seq, n_retracted, prior, detect, reject, stale = rows[0]
    return {"last_seq": int(last_seq), "n_retracted": int(n_retracted), "prior": float(prior),
            "detect": float(detect), "reject": float(reject), "stale": bool(stale)}


def _count_retracted(d: _Dialect) -> int:
    # PostgreSQL: the partial index votes_retracted holds only retracted votes.
    return int(d.rows("SELECT count(*) FROM votes WHERE retracted_at IS NOT NULL")[0][0])


def _new_votes(d: _Dialect, after: int, upto: int) -> pd.DataFrame:
    t_us = "extract(epoch FROM created_at)::numeric * 1000000" if d.pg else "epoch_us(created_at)"
    df = d.frame(f"""SELECT seq, user_id, subject, answer, ({t_us})::BIGINT AS t_us FROM votes
                     WHERE seq > ? AND seq <= ? AND retracted_at IS NULL""", [after, upto])
    return df.astype({"seq": np.int64, "answer": np.int8, "t_us": np.int64})


def _write_meta(d: _Dialect, last_seq: int, n_retracted: int) -> None:
    p = _params()
    now = "(now() AT TIME ZONE 'UTC')" if d.pg else "current_timestamp"
    d.con.execute(d.q(f"""INSERT INTO live_swap_meta (name, last_seq, n_retracted, prior, detect, reject, stale,
                                                      updated_at) VALUES (?, ?, ?, ?, ?, ?, false, {now})
                          ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq,
                          n_retracted = excluded.n_retracted, prior = excluded.prior, detect = excluded.detect,
                          reject = excluded.reject, stale = false, updated_at = excluded.updated_at"""),
                  [_METHOD, int(last_seq), int(n_retracted), p["prior"], p["detect"], p["reject"]])


def _user_frame(rows: live_swap.UserRows) -> pd.DataFrame:
    c = rows.counts
    return pd.DataFrame({"user_id": rows.ids.astype(str), "sims_seen": c[:, 0], "sims_lens": c[:, 1],
                         "duds_seen": c[:, 2], "duds_not": c[:, 3], "last_us": rows.last_us})


def _subject_frame(rows: live_swap.SubjectRows) -> pd.DataFrame:
    return pd.DataFrame({"subject": rows.ids.astype(str), "llr_sum": rows.llr_sum, "n_votes": rows.n_votes})


def _upsert(d: _Dialect, table: str, frame: pd.DataFrame, columns: dict[str, str], key: list[str],
            fixed: dict[str, str] | None = None) -> None:
    """Insert or update ``frame`` rows of ``table`` by ``key`` (``fixed``: constant columns, SQL text)."""
    stage = f"_live_{table}"
    d.stage(stage, frame, columns)
    fixed = fixed or {}
    cols = list(columns) + list(fixed)
    select = ", ".join(list(columns) + [f"{v} AS {k}" for k, v in fixed.items()])
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in key)
    d.con.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {select} FROM {stage} "
                  f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}")
    d.unstage(stage)


def _write_scores(d: _Dialect, rows: live_swap.SubjectRows, meta: dict) -> None:
    scores = live_swap.live_scores(rows, prior=meta["prior"], detect=meta["detect"], reject=meta["reject"])
    now = "(now() AT TIME ZONE 'UTC')" if d.pg else "current_timestamp"
    _upsert(d, "scores", scores, _SCORE_COLS, ["subject", "method"], {"method": f"'{_METHOD}'", "computed_at": now})


# ---------------------------------------------------------------------- one step
def _step(d: _Dialect, horizon: int, coded_all) -> LiveStep:
    c0, w0 = time.process_time(), time.perf_counter()
    step = _step_untimed(d, horizon, coded_all)
    return replace(step, seconds=time.perf_counter() - w0, cpu_seconds=time.process_time() - c0)


def _step_untimed(d: _Dialect, horizon: int, coded_all) -> LiveStep:
    t0 = time.perf_counter()
    meta = _read_meta(d)
    n_retracted = _count_retracted(d)
    reason = ("no state yet" if meta is None else "subjects changed" if meta["stale"]
              else "a vote was retracted" if meta["n_retracted"] != n_retracted
              else "other SWAP settings" if {k: meta[k] for k in ("prior", "detect", "reject")} != _params()
              else "")
    if reason:
        return _full(d, horizon, n_retracted, coded_all, reason, t0)
    if horizon <= meta["last_seq"]:
        return LiveStep("none", seconds=time.perf_counter() - t0)
    new = _new_votes(d, meta["last_seq"], horizon)
    if new.empty:
        _write_meta(d, horizon, n_retracted)
        return LiveStep("none", seconds=time.perf_counter() - t0)
    users = pd.Index(pd.unique(new["user_id"]))
    subjects = pd.Index(pd.unique(new["subject"]))
    d.stage("_live_users_in", pd.DataFrame({"user_id": users.astype(str)}), {"user_id": "TEXT"})
    d.stage("_live_subjects_in", pd.DataFrame({"subject": subjects.astype(str)}), {"subject": "TEXT"})
    u_state = d.frame("SELECT u.* FROM live_swap_users u JOIN _live_users_in USING (user_id)")
    s_state = d.frame("""SELECT i.subject, s.label, l.llr_sum, l.n_votes FROM _live_subjects_in i
                         JOIN subjects s USING (subject) LEFT JOIN live_swap_subjects l USING (subject)""")
    pairs = new[["user_id", "subject"]].drop_duplicates()
    d.stage("_live_pairs", pairs, _PAIR_COLS)
    repeats = d.frame("""SELECT DISTINCT v.user_id, v.subject FROM votes v JOIN _live_pairs p
                         ON v.user_id = p.user_id AND v.subject = p.subject
                         WHERE v.seq <= ? AND v.retracted_at IS NULL""", [meta["last_seq"]])
    for name in ("_live_users_in", "_live_subjects_in", "_live_pairs"):
        d.unstage(name)
    if len(s_state) != len(subjects) or s_state["llr_sum"].isna().any():
        return _full(d, horizon, n_retracted, coded_all, "a subject without state", t0)

    u_state = u_state.set_index("user_id").reindex(users)
    s_state = s_state.set_index("subject").reindex(subjects)
    urows = live_swap.UserRows(
        ids=users.to_numpy(dtype=object),
        counts=u_state[["sims_seen", "sims_lens", "duds_seen", "duds_not"]].fillna(0).to_numpy(dtype=np.int64),
        last_us=u_state["last_us"].fillna(live_swap.EMPTY_TIME).to_numpy(dtype=np.int64))
    srows = live_swap.SubjectRows(ids=subjects.to_numpy(dtype=object), label=s_state["label"].to_numpy(np.int8),
                                  llr_sum=s_state["llr_sum"].to_numpy(np.float64),
                                  n_votes=s_state["n_votes"].to_numpy(np.int64))
    rep = pd.MultiIndex.from_frame(repeats[["user_id", "subject"]]) if len(repeats) else None
    repeat = (pd.MultiIndex.from_frame(new[["user_id", "subject"]]).isin(rep) if rep is not None
              else np.zeros(len(new), dtype=bool))
    batch = live_swap.LiveBatch(user=users.get_indexer(new["user_id"]), subject=subjects.get_indexer(new["subject"]),
                                answer=new["answer"].to_numpy(), time_us=new["t_us"].to_numpy(),
                                seq=new["seq"].to_numpy(), repeat=np.asarray(repeat, dtype=bool))
    done = live_swap.apply_votes(batch, urows, srows)
    if done is None:
        return _full(d, horizon, n_retracted, coded_all, "a vote older than one applied", t0)
    urows, srows, counted = done
    _upsert(d, "live_swap_users", _user_frame(urows), _USER_COLS, ["user_id"])
    _upsert(d, "live_swap_subjects", _subject_frame(srows), _SUBJECT_COLS, ["subject"])
    _write_scores(d, srows, meta)
    _write_meta(d, horizon, n_retracted)
    return LiveStep("incremental", len(new), counted, seconds=time.perf_counter() - t0)


def _full(d: _Dialect, horizon: int, n_retracted: int, coded_all, reason: str, t0: float) -> LiveStep:
    coded: CodedVotes = coded_all(d, horizon)
    users, subjects = live_swap.full_state(coded)
    for table in ("live_swap_users", "live_swap_subjects"):
        d.con.execute(f"DELETE FROM {table}")
    d.con.execute(d.q("DELETE FROM scores WHERE method = ?"), [_METHOD])
    _upsert(d, "live_swap_users", _user_frame(users), _USER_COLS, ["user_id"])
    _upsert(d, "live_swap_subjects", _subject_frame(subjects), _SUBJECT_COLS, ["subject"])
    _write_scores(d, subjects, _params())
    _write_meta(d, horizon, n_retracted)
    return LiveStep("full", len(coded.user), len(coded.user), reason, time.perf_counter() - t0)


# ---------------------------------------------------------------------- DuckDB
def _coded_duckdb(d: _Dialect, horizon: int) -> CodedVotes:
    subj = d.con.execute(queries._CODED_SUBJECTS).fetchnumpy()
    users = d.con.execute(queries._CODED_USERS).fetchnumpy()["user_id"]
    v = d.con.execute(queries._CODED_VOTES).fetchnumpy()
    return CodedVotes.from_codes(v["u_code"], v["s_code"], v["answer"], v["t_us"], v["seq"], users,
                                 subj["subject"], subj["label"])


def update_duckdb(con: duckdb.DuckDBPyConnection) -> LiveStep:
    """One step on the DuckDB file open read-write on ``con`` (exclusive lock held), in one transaction."""
    from .connections import atomic

    d = _Dialect(con, pg=False)
    with atomic(con):
        horizon = int(con.execute("SELECT coalesce(max(seq), 0) FROM votes").fetchone()[0])
        return _step(d, horizon, _coded_duckdb)


# ---------------------------------------------------------------------- PostgreSQL
def pg_seq_horizon(con: Any, lock_timeout_ms: int = 200) -> int | None:
    """The highest vote ``seq`` below which every vote is committed (or never will be), or None when
    votes could not be paused for ``lock_timeout_ms`` (a long import is running).

    ``seq`` comes from a sequence, so a vote can commit after one with a higher ``seq``: a
    short SHARE lock on ``votes`` waits for the inserts in flight and reads the sequence.
    """
    with con.transaction():
        con.execute(f"SET LOCAL lock_timeout = '{int(lock_timeout_ms)}ms'")
        try:
            con.execute("LOCK TABLE votes IN SHARE MODE")
        except Exception as exc:   # psycopg.errors.LockNotAvailable: the transaction is rolled back
            if type(exc).__name__ != "LockNotAvailable":
                raise
            return None
        last, called = con.execute("SELECT last_value, is_called FROM vote_seq").fetchone()
    return int(last) if called else 0


def _coded_postgres(d: _Dialect, horizon: int) -> CodedVotes:
    """All votes not retracted, through ``COPY`` into DuckDB, coded as :func:`queries.live_vote_codes` does."""
    with tempfile.TemporaryDirectory(prefix="lf-live-") as tmp:
        paths = {}
        for name, sql in (("votes", "SELECT user_id, subject, answer, created_at, seq, retracted_at FROM votes "
                                    f"WHERE seq <= {int(horizon)} AND retracted_at IS NULL"),
                          ("subjects", "SELECT subject, label FROM subjects")):
            paths[name] = Path(tmp) / f"{name}.csv"
            with open(paths[name], "wb") as f, d.con.cursor() as cur, cur.copy(
                    f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER, NULL '\\N')") as copy:
                for chunk in copy:
                    f.write(chunk)
        duck = duckdb.connect()
        try:
            duck.execute("CREATE TABLE votes AS SELECT user_id::VARCHAR AS user_id, subject::VARCHAR AS subject, "
                         "answer::TINYINT AS answer, created_at::TIMESTAMP AS created_at, seq::BIGINT AS seq, "
                         "retracted_at::TIMESTAMP AS retracted_at FROM read_csv(?, header = true, all_varchar = true, "
                         "nullstr = '\\N')", [str(paths["votes"])])
            duck.execute("CREATE TABLE subjects AS SELECT subject::VARCHAR AS subject, label::TINYINT AS label "
                         "FROM read_csv(?, header = true, all_varchar = true, nullstr = '\\N')",
                         [str(paths["subjects"])])
            return _coded_duckdb(_Dialect(duck, pg=False), horizon)
        finally:
            duck.close()


class PgHorizon:
    """The ``seq`` horizon of a background updater, found without pausing the votes.

    ``seq`` comes from a sequence, so a vote can commit after one with a higher ``seq``.  Each
    round reads the sequence's value S and the server's transaction horizon: a value S read one
    round earlier is safe once every transaction that existed a round after it was read has ended
    (the snapshot's xmin has passed the xmax seen then), since a vote's transaction gets its id
    microseconds after its ``nextval``.  Votes thus reach the scores two rounds after they commit.
    A long import holds the horizon back until it commits (read-only transactions do not).
    """

    def __init__(self) -> None:
        self._pending: list[list[int | None]] = []   # [S, xmax seen a round later, or None]

    def advance(self, con: Any) -> int | None:
        """The highest safe ``seq`` known now, or None."""
        with con.transaction():
            s_now, xmin, xmax = con.execute(
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END, "
                "pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
                "pg_snapshot_xmax(pg_current_snapshot())::text::bigint FROM vote_seq").fetchone()
        for p in self._pending:
            if p[1] is None:
                p[1] = int(xmax)
        safe = [int(p[0]) for p in self._pending if int(p[1]) <= int(xmin)]
        self._pending = [p for p in self._pending if int(p[1]) > int(xmin)]
        self._pending.append([int(s_now), None])
        if safe:
            self._pending.insert(0, [max(safe), int(xmin)])  # kept: the newest safe value stays known
            return max(safe)
        return None


def update_postgres(con: Any, *, min_interval_s: float = 0.0, wait: bool = False,
                    horizon: PgHorizon | None = None, immediate: bool = False) -> LiveStep | None:
    """One step on the PostgreSQL store of ``con`` (its own connection, autocommit off).

    Background rounds (``wait=False``) take the ``seq`` horizon from ``horizon`` (:class:`PgHorizon`,
    no lock on the votes) and return None when nothing is new, the last update is younger than
    ``min_interval_s``, no horizon is known yet, or another process is updating.  With ``wait``
    (an explicit :meth:`fold`) the step waits for another updater and fixes the horizon at once with a
    short SHARE lock on ``votes`` (:func:`pg_seq_horizon`), so it includes every vote committed before.
    ``immediate`` (a process closing): that horizon, but with a 200 ms lock timeout and no waiting for
    another updater (which then takes these votes in).
    """
    if immediate:
        safe = pg_seq_horizon(con, lock_timeout_ms=200)
        if safe is None:
            return None
    elif not wait:
        with con.transaction():
            row = con.execute("""SELECT extract(epoch FROM (clock_timestamp() AT TIME ZONE 'UTC') - updated_at),
                                        last_seq = (SELECT CASE WHEN is_called THEN last_value ELSE 0 END
                                                    FROM vote_seq)
                                        AND n_retracted = (SELECT count(*) FROM votes
                                                           WHERE retracted_at IS NOT NULL)
                                        AND NOT stale
                                 FROM live_swap_meta WHERE name = %s""", [_METHOD]).fetchone()
        safe = (horizon or PgHorizon()).advance(con)
        if row is not None and (row[1] or float(row[0]) < min_interval_s):
            return None   # nothing new, or updated moments ago
        if safe is None:
            return None
    else:
        # the lock first, so that the horizon is read after the other updater has finished
        with con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK])
        safe = pg_seq_horizon(con, lock_timeout_ms=10_000)
        if safe is None:
            return None
    with con.transaction():
        con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        got = con.execute(f"SELECT {'pg_advisory_xact_lock' if wait else 'pg_try_advisory_xact_lock'}(%s)",
                          [_PG_LOCK]).fetchone()[0]
        if not wait and not got:
            return None
        d = _Dialect(con, pg=True)
        meta = _read_meta(d)
        if not wait and meta is not None and not meta["stale"] and safe <= meta["last_seq"] \
                and meta["n_retracted"] == _count_retracted(d):
            return None   # the votes past the last one applied are not safe yet
        return _step(d, max(safe, meta["last_seq"]) if meta is not None else safe, _coded_postgres)


def read_state(d_con: Any, pg: bool) -> dict[str, pd.DataFrame]:
    """The state tables as frames (tests, the benchmark)."""
    d = _Dialect(d_con, pg)
    return {t: d.frame(f"SELECT * FROM {t}") for t in LIVE_TABLES}
