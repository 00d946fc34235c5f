"""The store: one DuckDB file that many processes share, plus per-process vote journals.

Design (see ``docs/architecture.md``):

* Votes, retractions and annotations are *events*.  ``add_vote`` appends one JSON
  line to this process's journal and returns: that is the acknowledgement.  It
  never waits for DuckDB, so a class of forty voting kernels never queues on a lock.
* A background thread (any process, one at a time, about once per
  ``fold_interval_s``) folds all journals into DuckDB under an exclusive ``flock``.
  Events carry unique ids, so folding is idempotent: re-folding after a crash, or
  submitting the same vote id twice, stores the vote once.
* Readers take a shared ``flock``, open the file read-only and add the journal
  tails not yet folded, so every reader sees every acknowledged vote and never
  meets DuckDB's "Could not set lock" error.

Example
-------
>>> import tempfile, pathlib
>>> store = open_store(pathlib.Path(tempfile.mkdtemp()) / "x.duckdb")
>>> store.add_subjects(pd.DataFrame({"subject": ["s1"], "label": [-1]}))
1
>>> vid = store.add_vote("ada", "s1", 1)
>>> store.votes()[["user_id", "subject", "answer"]].values.tolist()
[['ada', 's1', 1]]
>>> store.close()
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from .journal import JournalWriter, journal_is_live, parse_events, read_tails
from .locks import LockTimeout, file_lock
from .migrations import SCHEMA_VERSION, apply_migrations, schema_version
from ..settings import Settings

__all__ = ["Store", "StoreError", "LockTimeout", "open_store", "parse_answer", "parse_timestamp", "content_vote_ids"]

VOTE_COLUMNS = ["vote_id", "seq", "user_id", "subject", "answer", "marks", "created_at",
                "time_spent_s", "session", "retracted_at"]
SUBJECT_COLUMNS = ["subject", "label", "kind", "ra", "dec", "image", "cube", "params", "source"]
_MAX_ID = 200


class StoreError(ValueError):
    """Input the store refuses; the message says what and where."""


def parse_answer(value: Any) -> int:
    """1 for a lens, 0 for not a lens; accepts 1/0, True/False, 'lens'/'not' and the like."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int,)) and value in (0, 1):
        return int(value)
    if isinstance(value, float) and value in (0.0, 1.0):
        return int(value)
    text = str(value).strip().lower()
    if text in {"1", "lens", "yes", "y", "true", "l"}:
        return 1
    if text in {"0", "not", "not a lens", "not_lens", "notlens", "no", "n", "false", "nonlens"}:
        return 0
    raise StoreError(f"answer must be 1/0 or lens/not, got {value!r}")


def parse_timestamp(value: Any) -> dt.datetime:
    """A naive UTC datetime from an ISO 8601 string, a datetime or epoch seconds."""
    if value is None:
        return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        ts = value
    elif isinstance(value, (int, float)) and math.isfinite(value):
        ts = dt.datetime.fromtimestamp(value, dt.timezone.utc)
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            ts = dt.datetime.fromisoformat(text)
        except ValueError:
            raise StoreError(f"created_at must be an ISO 8601 time, got {value!r}") from None
    if ts.tzinfo is not None:
        ts = ts.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return ts


def _check_id(kind: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise StoreError(f"{kind} is missing")
    text = str(value).strip()
    if not text or len(text) > _MAX_ID or any(ord(c) < 32 for c in text):
        raise StoreError(f"{kind} must be 1-{_MAX_ID} printable characters, got {value!r}")
    return text


def _marks_json(marks: Any) -> str | None:
    """Marks as JSON text ``[[x, y], ...]`` (image pixels), or None."""
    if marks is None:
        return None
    try:
        out = [[float(x), float(y)] for x, y in marks]
    except (TypeError, ValueError):
        raise StoreError(f"marks must be a list of (x, y) pairs, got {marks!r}") from None
    if not all(math.isfinite(v) for p in out for v in p):
        raise StoreError("marks must be finite numbers")
    return json.dumps(out) if out else None


class Store:
    """A lensfinder store; use :func:`open_store` to get one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = Path(settings.db_path)
        self.journal_dir = self.path.with_name(self.path.name + ".journal")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._stamp_path = self.path.with_name(self.path.name + ".folded")
        self._journal = JournalWriter(self.journal_dir, fsync=settings.fsync_votes)
        self._write_mutex = threading.Lock()
        self._subject_ids: set[str] | None = None
        self._folder: threading.Thread | None = None
        self._stop = threading.Event()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._ensure_schema()

    # ------------------------------------------------------------------ connections
    @contextlib.contextmanager
    def _writer(self, timeout_s: float | None = None, blocking: bool = True) -> Iterator[duckdb.DuckDBPyConnection | None]:
        timeout = self.settings.lock_timeout_s if timeout_s is None else timeout_s
        with file_lock(self.lock_path, exclusive=True, timeout_s=timeout, blocking=blocking) as held:
            if not held:
                yield None
                return
            con = duckdb.connect(str(self.path))
            try:
                yield con
            finally:
                con.close()

    def _ensure_schema(self) -> None:
        if self.path.exists():
            with self._reader_raw() as con:
                if schema_version(con) == SCHEMA_VERSION:
                    # Loaded now so that the first vote of a page never waits for a read.
                    self._subject_ids = {r[0] for r in con.execute("SELECT subject FROM subjects").fetchall()}
                    return
        with self._writer() as con:
            apply_migrations(con)

    @contextlib.contextmanager
    def _reader_raw(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with file_lock(self.lock_path, exclusive=False, timeout_s=self.settings.lock_timeout_s):
            con = duckdb.connect(str(self.path), read_only=True)
            try:
                yield con
            finally:
                con.close()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only DuckDB connection over the current data, journals included.

        Views: ``subjects``, ``users``, ``votes`` (retracted votes have ``retracted_at``),
        ``annotations``, ``settings``; the file itself is attached as ``db``.  Writers
        are never blocked by it (they append to journals), but folding waits, so keep
        it short.
        """
        with file_lock(self.lock_path, exclusive=False, timeout_s=self.settings.lock_timeout_s):
            con = duckdb.connect()
            try:
                con.execute(f"ATTACH '{self.path}' AS db (READ_ONLY)")
                progress = dict(con.execute("SELECT journal, offset_bytes FROM db.journal_progress").fetchall())
                votes, retractions, annotations = _frames(read_tails(self.journal_dir, progress))
                con.register("_pending_votes", votes)
                con.register("_pending_retractions", retractions)
                con.register("_pending_annotations", annotations)
                con.execute(_SNAPSHOT_VIEWS)
                yield con
            finally:
                con.close()

    def sql(self, query: str, params: list | dict | None = None) -> pd.DataFrame:
        """Run any read-only SQL over the current data (see :meth:`snapshot` for the views)."""
        with self.snapshot() as con:
            return con.execute(query, params).df() if params is not None else con.execute(query).df()

    # ------------------------------------------------------------------ subjects
    def subjects(self) -> pd.DataFrame:
        """All subjects: subject, label, kind, ra, dec, image, cube, params, source, created_at."""
        with self._reader_raw() as con:
            return con.execute("SELECT * FROM subjects ORDER BY subject").df()

    def subject_ids(self, refresh: bool = False) -> set[str]:
        if self._subject_ids is None or refresh:
            with self._reader_raw() as con:
                self._subject_ids = {r[0] for r in con.execute("SELECT subject FROM subjects").fetchall()}
        return self._subject_ids

    def add_subjects(self, frame: pd.DataFrame, *, replace: bool = False) -> int:
        """Insert subjects (all or nothing); returns how many are new.  Existing ids are kept
        unless ``replace``."""
        df = _validate_subjects(frame)
        with self._writer() as con:
            con.register("_new", df)
            before = con.execute("SELECT count(*) FROM subjects").fetchone()[0]
            cols = ", ".join(SUBJECT_COLUMNS)
            conflict = ("DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in SUBJECT_COLUMNS[1:])
                        if replace else "DO NOTHING")
            con.execute(f"INSERT INTO subjects ({cols}) SELECT {cols} FROM _new ON CONFLICT (subject) {conflict}")
            after = con.execute("SELECT count(*) FROM subjects").fetchone()[0]
        self._subject_ids = None
        return after - before

    # ------------------------------------------------------------------ votes
    def add_vote(self, user: str, subject: str, answer: Any, **extra: Any) -> str:
        """Record one vote and return its id once it is safe (acknowledged).

        ``extra``: ``vote_id`` (re-sending the same id stores the vote once), ``marks``
        (list of (x, y) image pixels), ``created_at`` (ISO 8601 or datetime, default now),
        ``time_spent_s``, ``session``.
        """
        unknown = set(extra) - {"vote_id", "marks", "created_at", "time_spent_s", "session"}
        if unknown:
            raise TypeError(f"unknown vote fields: {sorted(unknown)}")
        user = _check_id("user", user)
        subject = _check_id("subject", subject)
        if subject not in self.subject_ids() and subject not in self.subject_ids(refresh=True):
            raise StoreError(f"unknown subject {subject!r}")
        time_spent = extra.get("time_spent_s")
        if time_spent is not None:
            time_spent = float(time_spent)
            if not math.isfinite(time_spent) or time_spent < 0:
                raise StoreError("time_spent_s must be a non-negative number")
        event = {
            "type": "vote",
            "vote_id": _check_id("vote_id", extra["vote_id"]) if extra.get("vote_id") is not None else uuid.uuid4().hex,
            "user_id": user,
            "subject": subject,
            "answer": parse_answer(answer),
            "marks": _marks_json(extra.get("marks")),
            "created_at": parse_timestamp(extra.get("created_at")).isoformat(),
            "time_spent_s": time_spent,
            "session": None if extra.get("session") is None else str(extra["session"])[:_MAX_ID],
        }
        self._append([event])
        return event["vote_id"]

    def retract_vote(self, vote_id: str, user: str) -> None:
        """Record that ``user`` took back their vote ``vote_id`` (the vote is kept, marked retracted)."""
        mine = self.sql("SELECT count(*) AS n FROM votes WHERE vote_id = ? AND user_id = ?", [vote_id, user])
        if int(mine["n"].iloc[0]) == 0:
            raise StoreError(f"no vote {vote_id!r} by {user!r} to retract")
        self._append([{"type": "retract", "vote_id": vote_id, "user_id": user,
                       "retracted_at": parse_timestamp(None).isoformat()}])

    def annotate(self, user: str, subject: str, *, favourite: bool | None = None,
                 comment: str | None = None) -> str:
        """Record a favourite flag and/or a short comment; the latest per (user, subject) wins."""
        user, subject = _check_id("user", user), _check_id("subject", subject)
        if subject not in self.subject_ids() and subject not in self.subject_ids(refresh=True):
            raise StoreError(f"unknown subject {subject!r}")
        if comment is not None and len(comment) > 2000:
            raise StoreError("comment is longer than 2,000 characters")
        event = {"type": "annotation", "event_id": uuid.uuid4().hex, "user_id": user, "subject": subject,
                 "favourite": favourite, "comment": comment,
                 "created_at": parse_timestamp(None).isoformat()}
        self._append([event])
        return event["event_id"]

    def _append(self, events: list[dict]) -> None:
        with self._write_mutex:
            self._journal.append(events)
        self._start_folder()

    def votes(self, include_retracted: bool = False) -> pd.DataFrame:
        """Votes in arrival order: vote_id, seq, user_id, subject, answer, marks, created_at,
        time_spent_s, session, retracted_at."""
        where = "" if include_retracted else "WHERE retracted_at IS NULL"
        return self.sql(f"SELECT * FROM votes {where} ORDER BY seq")

    def import_votes(self, frame: pd.DataFrame) -> int:
        """Bulk-insert validated votes in one transaction; returns how many were new.

        ``frame`` columns: user_id, subject, answer, created_at, and optionally vote_id,
        marks, time_spent_s, session.  Rows without a vote_id get a deterministic id
        from their content, so importing the same file twice adds nothing.
        """
        df = frame.copy()
        for col in ["vote_id", "marks", "time_spent_s", "session"]:
            if col not in df:
                df[col] = None
        missing_id = df["vote_id"].isna()
        if missing_id.any():
            df.loc[missing_id, "vote_id"] = content_vote_ids(df[missing_id])
        df["arrival"] = range(len(df))  # file order breaks created_at ties
        if pd.api.types.is_numeric_dtype(df["answer"]) and df["answer"].isin([0, 1]).all():
            df["answer"] = df["answer"].astype("int8")
        else:
            df["answer"] = df["answer"].map(parse_answer).astype("int8")
        with self._writer() as con:
            con.register("_import", df)
            missing = con.execute(
                "SELECT DISTINCT n.subject FROM _import n ANTI JOIN subjects s USING (subject) LIMIT 5").fetchall()
            if missing:
                raise StoreError("unknown subject(s): " + ", ".join(repr(m[0]) for m in missing))
            con.execute("BEGIN TRANSACTION")
            before = con.execute("SELECT count(*) FROM votes").fetchone()[0]
            _insert_votes(con, "_import")
            after = con.execute("SELECT count(*) FROM votes").fetchone()[0]
            con.execute("COMMIT")
        return after - before

    def import_votes_arrow(self, table: Any) -> int:
        """Bulk-insert already-valid votes without per-row Python work; returns how many were new.

        The fast path for large simulations and exports (millions of rows): ``table`` is a
        ``pyarrow.Table`` (or a DataFrame, converted once) with columns vote_id, user_id,
        subject, answer (0/1), created_at, and optionally marks (JSON text), time_spent_s,
        session.  Unlike :meth:`import_votes` nothing is parsed or generated per row: vote ids
        must be given and unique within ``table``, answers must already be 0/1.  Unknown
        subjects are refused (an anti-join in SQL) and ids already stored are skipped, all in
        one transaction; seq follows created_at, ties in row order.
        """
        import pyarrow as pa

        if not isinstance(table, pa.Table):
            table = pa.Table.from_pandas(pd.DataFrame(table), preserve_index=False)
        missing = [c for c in ("vote_id", "user_id", "subject", "answer", "created_at") if c not in table.column_names]
        if missing:
            raise StoreError(f"votes need the columns {missing}")
        table = table.append_column("arrival", pa.array(range(table.num_rows), pa.int64()))
        optional = {"marks": "NULL::JSON", "time_spent_s": "NULL::DOUBLE", "session": "NULL::VARCHAR"}
        extra = ", ".join(c if c in table.column_names else f"{default} AS {c}" for c, default in optional.items())
        with self._writer() as con:
            con.register("_arrow", table)
            bad = con.execute("""SELECT count(*) FILTER (WHERE answer IS NULL OR answer::INTEGER NOT IN (0, 1)),
                                        count(*) FILTER (WHERE vote_id IS NULL OR user_id IS NULL OR created_at IS NULL),
                                        count(*) - count(DISTINCT vote_id) FROM _arrow""").fetchone()
            for n, what in zip(bad, ("answers that are not 0/1", "missing vote_id, user_id or created_at",
                                     "repeated vote ids")):
                if n:
                    raise StoreError(f"{n} votes with {what}")
            unknown = con.execute("SELECT DISTINCT n.subject FROM _arrow n ANTI JOIN subjects s "
                                  "ON n.subject::VARCHAR = s.subject LIMIT 5").fetchall()
            if unknown:
                raise StoreError("unknown subject(s): " + ", ".join(repr(m[0]) for m in unknown))
            con.execute("BEGIN TRANSACTION")
            try:
                before = con.execute("SELECT count(*) FROM votes").fetchone()[0]
                con.execute(f"""
                    INSERT INTO votes (vote_id, seq, user_id, subject, answer, marks, created_at, time_spent_s, session)
                    SELECT vote_id, (SELECT coalesce(max(seq), 0) FROM votes)
                                    + row_number() OVER (ORDER BY created_at, arrival),
                           user_id, subject, answer, marks, created_at, time_spent_s, session
                    FROM (SELECT vote_id::VARCHAR AS vote_id, user_id::VARCHAR AS user_id,
                                 subject::VARCHAR AS subject, answer::TINYINT AS answer,
                                 created_at::TIMESTAMP AS created_at, arrival, {extra}
                          FROM _arrow) n
                    WHERE NOT EXISTS (SELECT 1 FROM votes v WHERE v.vote_id = n.vote_id)""")
                after = con.execute("SELECT count(*) FROM votes").fetchone()[0]
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        return after - before

    # ------------------------------------------------------------------ folding
    def fold(self, blocking: bool = True) -> int:
        """Move journalled events into DuckDB; returns the number of events folded."""
        with self._writer(blocking=blocking) as con:
            if con is None:
                return 0
            progress = dict(con.execute("SELECT journal, offset_bytes FROM journal_progress").fetchall())
            tails = read_tails(self.journal_dir, progress)
            votes, retractions, annotations = _frames(tails)
            con.execute("BEGIN TRANSACTION")
            try:
                if len(votes):
                    _insert_votes(con, "votes_df", votes_df=votes)
                if len(retractions):
                    con.register("_r", retractions)
                    con.execute("""UPDATE votes SET retracted_at = r.retracted_at FROM _r r
                                   WHERE votes.vote_id = r.vote_id AND votes.user_id = r.user_id
                                   AND votes.retracted_at IS NULL""")
                if len(annotations):
                    con.register("_a", annotations)
                    con.execute("""INSERT INTO annotations SELECT event_id, user_id, subject, favourite, comment,
                                   created_at FROM _a ON CONFLICT (event_id) DO NOTHING""")
                for tail in tails:
                    if tail.end != tail.start:
                        con.execute("INSERT OR REPLACE INTO journal_progress VALUES (?, ?)", [tail.journal, tail.end])
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
            # Journals whose writer has exited and that are fully folded are removed.
            # Checked in this order: once the writer is gone nothing more is appended, so a
            # journal read to its last complete line is finished (a torn tail was never acknowledged).
            for tail in tails:
                path = self.journal_dir / tail.journal
                if journal_is_live(path):
                    continue
                with open(path, "rb") as f:
                    f.seek(tail.end)
                    rest = f.read()
                if b"\n" in rest:
                    continue  # written after we read it; folded next time
                con.execute("DELETE FROM journal_progress WHERE journal = ?", [tail.journal])
                path.unlink(missing_ok=True)
            self._stamp_path.touch()
            return len(votes) + len(retractions) + len(annotations)

    def _start_folder(self) -> None:
        if self._folder is not None and self._folder.is_alive():
            return
        self._folder = threading.Thread(target=self._fold_loop, name="lensfinder-fold", daemon=True)
        self._folder.start()
        _FOLDING.add(self)

    def _stop_folder(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._folder is not None and self._folder is not threading.current_thread():
            self._folder.join(timeout_s)

    def _fold_loop(self) -> None:
        interval = self.settings.fold_interval_s
        while not self._stop.wait(interval):
            try:
                age = time.time() - self._stamp_path.stat().st_mtime
            except FileNotFoundError:
                age = math.inf
            if age < interval:
                continue  # another process folded moments ago
            try:
                self.fold(blocking=False)
            except Exception:  # pragma: no cover - folding is retried; votes are safe in journals
                import logging
                logging.getLogger(__name__).exception("folding the vote journals failed; will retry")

    # ------------------------------------------------------------------ scores
    def write_scores(self, frame: pd.DataFrame, method: str) -> int:
        """Replace the stored scores of ``method`` with ``frame`` (subject, probability, n_votes, status)."""
        missing = {"subject", "probability", "n_votes", "status"} - set(frame.columns)
        if missing:
            raise StoreError(f"scores need the columns {sorted(missing)}")
        df = frame[["subject", "probability", "n_votes", "status"]]
        with self._writer() as con:
            con.register("_scores", df)
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM scores WHERE method = ?", [method])
            con.execute("INSERT INTO scores (subject, method, probability, n_votes, status) "
                        "SELECT subject, ?, probability, n_votes, status FROM _scores", [method])
            con.execute("COMMIT")
        return len(df)

    # ------------------------------------------------------------------ settings
    def get_setting(self, key: str, default: Any = None) -> Any:
        df = self.sql("SELECT value FROM settings WHERE key = ?", [key])
        return default if df.empty else json.loads(df["value"].iloc[0])

    def set_setting(self, key: str, value: Any) -> None:
        with self._writer() as con:
            con.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, json.dumps(value)])

    def close(self) -> None:
        """Stop the folder thread and fold what this process wrote (best effort)."""
        self._stop_folder()
        with self._write_mutex:
            self._journal.close()
        self.fold(blocking=False)


_FOLDING: weakref.WeakSet[Store] = weakref.WeakSet()


@atexit.register
def _stop_all_folders() -> None:
    # A daemon thread still inside DuckDB when the interpreter finalises aborts the process
    # (its forced unwind meets DuckDB's C++); stop them first.  Journals keep every vote anyway.
    for store in list(_FOLDING):
        store._stop_folder()


def open_store(path: str | os.PathLike | None = None, **settings: Any) -> Store:
    """Open (creating or upgrading) the store at ``path`` (default: :func:`config.default_db_path`)."""
    if path is not None:
        settings["db_path"] = Path(path).expanduser().resolve()
    return Store(Settings(**settings))


# ---------------------------------------------------------------------- helpers
def content_vote_ids(frame: pd.DataFrame) -> pd.Series:
    """Deterministic ids for votes that came without one, so a re-import adds nothing."""
    keys = (frame["user_id"].astype(str) + "\x1f" + frame["subject"].astype(str) + "\x1f"
            + frame["answer"].astype(str) + "\x1f" + frame["created_at"].astype(str))
    return keys.map(lambda k: "imp-" + hashlib.sha1(k.encode()).hexdigest()[:24])


def _insert_votes(con: duckdb.DuckDBPyConnection, source: str, votes_df: pd.DataFrame | None = None) -> None:
    """Insert votes from a registered relation, dropping ids already stored; seq follows time."""
    if votes_df is not None:
        con.register(source, votes_df)
    con.execute(f"""
        INSERT INTO votes (vote_id, seq, user_id, subject, answer, marks, created_at, time_spent_s, session)
        SELECT vote_id,
               (SELECT coalesce(max(seq), 0) FROM votes) + row_number() OVER (ORDER BY created_at, arrival),
               user_id, subject, answer, marks, created_at, time_spent_s, session
        FROM (SELECT * FROM {source} n
              WHERE NOT EXISTS (SELECT 1 FROM votes v WHERE v.vote_id = n.vote_id)
              QUALIFY row_number() OVER (PARTITION BY vote_id ORDER BY arrival) = 1)
    """)


def _frames(tails) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split journal events into vote, retraction and annotation frames (arrival order kept)."""
    ev = parse_events(tails)
    ev["arrival"] = range(len(ev))
    kind = ev["type"]
    v = ev.loc[kind == "vote", ["vote_id", "user_id", "subject", "answer", "marks", "created_at",
                                "time_spent_s", "session", "arrival"]].copy()
    v["created_at"] = pd.to_datetime(v["created_at"], format="ISO8601").astype("datetime64[us]")
    r = ev.loc[kind == "retract", ["vote_id", "user_id", "retracted_at"]].copy()
    r["retracted_at"] = pd.to_datetime(r["retracted_at"], format="ISO8601").astype("datetime64[us]")
    r = r.drop_duplicates("vote_id")
    a = ev.loc[kind == "annotation", ["event_id", "user_id", "subject", "favourite", "comment",
                                      "created_at"]].copy()
    a["created_at"] = pd.to_datetime(a["created_at"], format="ISO8601").astype("datetime64[us]")
    return v, r, a


_SNAPSHOT_VIEWS = """
CREATE TEMP VIEW subjects AS SELECT * FROM db.subjects;
CREATE TEMP VIEW users AS SELECT * FROM db.users;
CREATE TEMP VIEW settings AS SELECT * FROM db.settings;
CREATE TEMP VIEW scores AS SELECT * FROM db.scores;
CREATE TEMP VIEW machine_scores AS SELECT * FROM db.machine_scores;
CREATE TEMP VIEW votes AS
WITH stored AS (SELECT * FROM db.votes),
pending AS (
    SELECT p.vote_id,
           (SELECT coalesce(max(seq), 0) FROM db.votes) + row_number() OVER (ORDER BY p.created_at, p.arrival) AS seq,
           p.user_id, p.subject, p.answer::TINYINT AS answer, p.marks::JSON AS marks, p.created_at::TIMESTAMP AS created_at,
           p.time_spent_s, p.session, NULL::TIMESTAMP AS retracted_at
    FROM _pending_votes p
    WHERE NOT EXISTS (SELECT 1 FROM db.votes v WHERE v.vote_id = p.vote_id)
    QUALIFY row_number() OVER (PARTITION BY p.vote_id ORDER BY p.arrival) = 1
),
allv AS (SELECT * FROM stored UNION ALL BY NAME SELECT * FROM pending)
SELECT allv.* REPLACE (coalesce(allv.retracted_at,
        CASE WHEN r.user_id = allv.user_id THEN r.retracted_at::TIMESTAMP END) AS retracted_at)
FROM allv LEFT JOIN _pending_retractions r USING (vote_id);
CREATE TEMP VIEW annotations AS
SELECT * FROM db.annotations
UNION ALL BY NAME
SELECT event_id, user_id, subject, favourite::BOOLEAN AS favourite, comment, created_at::TIMESTAMP AS created_at
FROM _pending_annotations WHERE event_id NOT IN (SELECT event_id FROM db.annotations);
"""


def _validate_subjects(frame: pd.DataFrame) -> pd.DataFrame:
    if "subject" not in frame or "label" not in frame:
        raise StoreError("subjects need the columns subject and label")
    df = frame.copy()
    for col in SUBJECT_COLUMNS:
        if col not in df:
            df[col] = None
    df["subject"] = [_check_id("subject", s) for s in df["subject"]]
    dup = df["subject"][df["subject"].duplicated()]
    if len(dup):
        raise StoreError(f"subject {dup.iloc[0]!r} appears twice")
    try:
        labels = pd.to_numeric(df["label"], errors="raise")
    except (TypeError, ValueError):
        raise StoreError("label must be 1, 0 or -1") from None
    if not labels.isin([-1, 0, 1]).all():
        bad = df["label"][~labels.isin([-1, 0, 1])].iloc[0]
        raise StoreError(f"label must be 1, 0 or -1, got {bad!r}")
    df["label"] = labels.astype("int8")
    df["params"] = [None if p is None or (isinstance(p, float) and math.isnan(p))
                    else (p if isinstance(p, str) else json.dumps(p)) for p in df["params"]]
    for col in ("ra", "dec"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df[SUBJECT_COLUMNS]
