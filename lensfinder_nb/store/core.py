"""The store: one DuckDB file that many processes share, plus per-process vote journals.

Design (see ``docs/architecture.md``):

* Votes, retractions and annotations are *events*.  ``add_vote`` appends one JSON
  line to this process's journal and returns: that is the acknowledgement.  It
  never waits for DuckDB, so a class of forty voting kernels never queues on a lock.
* A background thread (any process, one at a time, about once per
  ``fold_interval_s``) folds all journals into DuckDB under an exclusive ``flock``
  (:mod:`.fold`).  Events carry unique ids, so folding is idempotent: re-folding after a
  crash, or submitting the same vote id twice, stores the vote once.
* Readers take a shared ``flock``, open the file read-only and add the journal
  tails not yet folded (:meth:`Store.snapshot`), so every reader sees every acknowledged
  vote and never meets DuckDB's "Could not set lock" error.
* Other writes go through :meth:`Store.transaction`: exclusive lock, connection, one
  transaction.  Their SQL is in :mod:`.writes`, the reads in :mod:`.queries`.

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
import logging
import math
import os
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from . import connections, queries, writes
from .connections import Connection, atomic
from .fold import fold_journals, journal_frames
from .journal import JournalWriter, read_tails
from .locks import LockTimeout, file_lock
from .migrations import SCHEMA_VERSION, apply_migrations, schema_version
from .validation import (QueryError, StoreError, check_id, content_vote_ids, lens_model_row, parse_answer,
                         parse_grade,
                         parse_timestamp, prepare_vote_import, validate_subjects, vote_event)
from ..settings import Settings, is_database_url

__all__ = ["Store", "StoreError", "QueryError", "LockTimeout", "open_store", "parse_answer", "parse_timestamp",
           "content_vote_ids"]

log = logging.getLogger(__name__)


class Store:
    """A lensfinder store; use :func:`open_store` to get one."""

    #: the module of the SQL writes that :meth:`transaction`'s connection takes
    sql_writes = writes
    #: votes go through per-process journals folded later (False on PostgreSQL: stored at once)
    journalled = True
    #: what the last live SWAP update of this process did (:class:`.live.LiveStep`), None before one
    last_live_step = None

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
    def _writer(self, timeout_s: float | None = None, blocking: bool = True) -> Iterator[Connection | None]:
        """The file open read-write under the exclusive lock (None when ``blocking=False`` and busy)."""
        timeout = self.settings.lock_timeout_s if timeout_s is None else timeout_s
        with file_lock(self.lock_path, exclusive=True, timeout_s=timeout, blocking=blocking) as held:
            if not held:
                yield None
                return
            with connections.writer(self.path) as con:
                yield con

    @contextlib.contextmanager
    def transaction(self, timeout_s: float | None = None) -> Iterator[Connection]:
        """A writer connection inside one transaction: exclusive lock, BEGIN, then COMMIT when the
        block ends or ROLLBACK on any exception.  Waits up to ``timeout_s`` (default
        ``settings.lock_timeout_s``) for other writers, then raises :class:`LockTimeout`.

        For the store package's own writes (:mod:`.writes`); elsewhere call the named methods.
        """
        with self._writer(timeout_s) as con, atomic(con):
            yield con

    @contextlib.contextmanager
    def _reader_raw(self) -> Iterator[Connection]:
        """The file alone, read-only, under the shared lock (no journals: subjects and settings only)."""
        with file_lock(self.lock_path, exclusive=False, timeout_s=self.settings.lock_timeout_s):
            with connections.raw_reader(self.path) as con:
                yield con

    def _ensure_schema(self) -> None:
        if self.path.exists():
            with self._reader_raw() as con:
                if schema_version(con) == SCHEMA_VERSION:
                    # Loaded now so that the first vote of a page never waits for a read.
                    self._subject_ids = queries.subject_id_set(con)
                    return
        with self._writer() as con:
            apply_migrations(con)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read-only DuckDB connection over the current data, journals included.

        Views: ``subjects``, ``users``, ``votes`` (retracted votes have ``retracted_at``),
        ``counted_votes`` (the votes that count, :mod:`lensfinder_nb.store.views`),
        ``annotations``, ``scores``, ``machine_scores``, ``settings``; the file itself is
        attached read-only as ``db``, and no statement can read or write other files.  Writers
        are never blocked by it (they append to journals), but folding waits, so keep it short.
        """
        def pending(con: Connection) -> dict[str, pd.DataFrame]:
            return journal_frames(read_tails(self.journal_dir, queries.journal_progress(con, "db")))

        with file_lock(self.lock_path, exclusive=False, timeout_s=self.settings.lock_timeout_s):
            with connections.snapshot(self.path, pending) as con:
                yield con

    def sql(self, query: str, params: list | dict | None = None) -> pd.DataFrame:
        """Run any read-only SQL over the current data (see :meth:`snapshot` for the views).

        Raises :class:`QueryError` (one line saying why) for SQL that fails, including any
        attempt to write, or to read or write files (``COPY ... TO``, ``ATTACH``, ``INSTALL``,
        ``read_csv``): save a result with pandas, or ``lensfinder sql --out``.
        """
        with self.snapshot() as con:
            try:
                return con.execute(query, params).df() if params is not None else con.execute(query).df()
            except connections.DatabaseError as exc:
                raise QueryError(_query_error_message(exc)) from None

    # ------------------------------------------------------------------ subjects
    def subjects(self) -> pd.DataFrame:
        """All subjects: subject, label, kind, ra, dec, image, cube, params, source, created_at."""
        return queries.subjects(self)

    @property
    def location(self) -> str:
        """Where the store is, for messages (a PostgreSQL URL without its password)."""
        path = str(self.path)
        if path.startswith(("postgresql://", "postgres://")):
            from .postgres import safe_url
            return safe_url(path)
        return path

    def subject_ids(self, refresh: bool = False) -> set[str]:
        """Ids of all subjects (cached; ``refresh`` reads them again)."""
        if self._subject_ids is None or refresh:
            with self._reader_raw() as con:
                self._subject_ids = queries.subject_id_set(con)
        return self._subject_ids

    def add_subjects(self, frame: pd.DataFrame, *, replace: bool = False) -> int:
        """Insert subjects (all or nothing); returns how many are new.  Existing ids are kept
        unless ``replace``."""
        df = validate_subjects(frame)
        with self.transaction() as con:
            added = writes.insert_subjects(con, df, replace=replace)
        self._subject_ids = None
        return added

    def _check_subject(self, subject: Any) -> str:
        subject = check_id("subject", subject)
        if subject not in self.subject_ids() and subject not in self.subject_ids(refresh=True):
            raise StoreError(f"unknown subject {subject!r}")
        return subject

    # ------------------------------------------------------------------ votes
    def add_vote(self, user: str, subject: str, answer: Any, **extra: Any) -> str:
        """Record one vote and return its id once it is safe (acknowledged).

        ``extra``: ``vote_id`` (re-sending the same id stores the vote once), ``marks``
        (list of (x, y) image pixels), ``created_at`` (ISO 8601 or datetime, default now),
        ``time_spent_s``, ``session``.
        """
        event = vote_event(check_id("user", user), self._check_subject(subject), answer, extra)
        self._append([event])
        return event["vote_id"]

    def retract_vote(self, vote_id: str, user: str) -> None:
        """Record that ``user`` took back their vote ``vote_id`` (the vote is kept, marked retracted)."""
        if not queries.vote_is_by(self, vote_id, user):
            raise StoreError(f"no vote {vote_id!r} by {user!r} to retract")
        self._append([{"type": "retract", "vote_id": vote_id, "user_id": user,
                       "retracted_at": parse_timestamp(None).isoformat()}])

    def annotate(self, user: str, subject: str, *, favourite: bool | None = None,
                 comment: str | None = None) -> str:
        """Record a favourite flag and/or a short comment; the latest per (user, subject) wins."""
        user, subject = check_id("user", user), self._check_subject(subject)
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
        return queries.votes(self, include_retracted)

    def import_votes(self, frame: pd.DataFrame) -> int:
        """Bulk-insert validated votes in one transaction; returns how many were new.

        ``frame`` columns: user_id, subject, answer, created_at, and optionally vote_id,
        marks, time_spent_s, session.  Rows without a vote_id get a deterministic id
        from their content, so importing the same file twice adds nothing.
        """
        df = prepare_vote_import(frame)
        with self.transaction() as con:
            con.register("_import", df)
            _refuse_unknown_subjects(writes.unknown_subjects(con, "_import"))
            before = writes.count_votes(con)
            writes.insert_votes(con, "_import")
            return writes.count_votes(con) - before

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
        with self.transaction() as con:
            con.register("_arrow", table)
            writes.check_vote_table(con, "_arrow")
            _refuse_unknown_subjects(writes.unknown_subjects(con, "_arrow"))
            before = writes.count_votes(con)
            writes.insert_vote_table(con, "_arrow", set(table.column_names))
            return writes.count_votes(con) - before

    # ------------------------------------------------------------------ folding
    def fold(self, blocking: bool = True) -> int:
        """Move journalled events into DuckDB; returns the number of events folded
        (0 without waiting when ``blocking=False`` and another process holds the file)."""
        return self._fold(blocking) or 0

    def _fold(self, blocking: bool) -> int | None:
        """:meth:`fold`, or None when ``blocking=False`` and the file is busy."""
        with self._writer(blocking=blocking) as con:
            if con is None:
                return None
            n = fold_journals(con, self.journal_dir)
            self._stamp_path.touch()
            if self.settings.live_scores:
                self._update_live(con)
        return n

    def _update_live(self, con: Connection) -> None:
        """The live SWAP scores after a fold (:mod:`.live`); a failure is logged and never stops folding."""
        from . import live
        try:
            self.last_live_step = live.update_duckdb(con)
        except Exception:  # pragma: no cover - retried at the next fold; the votes are folded already
            log.exception("updating the live SWAP scores failed; will retry at the next fold")

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
        wait = interval
        while not self._stop.wait(wait):
            wait = interval
            try:
                age = time.time() - self._stamp_path.stat().st_mtime
            except FileNotFoundError:
                age = math.inf
            if age < interval:
                continue  # another process folded moments ago
            try:
                if self._fold(blocking=False) is None:
                    # A reader's snapshot or another folder holds the file: try again soon rather than
                    # an interval later, so a vote reaches the file (and the live scores) within ~2 s.
                    wait = min(0.1, interval)
            except Exception:  # pragma: no cover - folding is retried; votes are safe in journals
                log.exception("folding the vote journals failed; will retry")

    # ------------------------------------------------------------------ scores
    def write_scores(self, frame: pd.DataFrame, method: str) -> int:
        """Replace the stored scores of ``method`` with ``frame`` (subject, probability, n_votes, status)."""
        df = checked_scores(frame)
        with self.transaction() as con:
            writes.replace_scores(con, df, method)
        return len(df)

    def write_machine_scores(self, frame: pd.DataFrame, model: str) -> int:
        """Replace the stored machine scores of ``model`` with ``frame`` (subject, score in [0, 1],
        optional in_training: the model trained on that subject, default False); one transaction.
        An empty frame removes the model's scores."""
        df = checked_machine_scores(frame)
        with self.transaction() as con:
            writes.replace_machine_scores(con, df, check_id("model", model))
        return len(df)

    # ------------------------------------------------------------------ expert grades
    def add_grade(self, user: str, subject: str, grade: Any, *, grade_id: str | None = None,
                  created_at: Any = None) -> str:
        """Record an expert's grade (0-3) of a subject and return its id.  Grading again adds a row:
        the latest grade of a grader counts (:meth:`grades`), older ones stay as history.
        Grades are rare, so they go straight into the store (no journal)."""
        row = grade_row(check_id("user", user), self._check_subject(subject), grade, grade_id, created_at)
        with self.transaction() as con:
            self.sql_writes.insert_grade(con, row)
        return row["grade_id"]

    def grades(self, history: bool = False) -> pd.DataFrame:
        """Each grader's latest grade per subject (every grade with ``history``): grade_id, user_id,
        subject, grade, created_at."""
        return queries.grades(self, history)

    # ------------------------------------------------------------------ lens models
    def add_lens_model(self, user: str, subject: str, params: dict[str, Any], *, theta_e_err: float | None = None,
                       quality: float | None = None, refined: bool = False) -> str:
        """Store one person's lens model of ``subject`` (``params``: name -> number with theta_e_arcsec;
        ``quality``: the fit's reduced chi2); every save is kept, the newest is the person's current
        model.  Returns its id."""
        row = lens_model_row(check_id("user", user), self._check_subject(subject), params, theta_e_err, quality,
                             refined)
        with self.transaction() as con:
            self.sql_writes.insert_lens_model(con, row)
        return row["model_id"]

    def lens_models(self, subject: str | None = None, user: str | None = None) -> pd.DataFrame:
        """Stored lens models, oldest first (see :func:`.queries.lens_models` for the columns)."""
        return queries.lens_models(self, subject, user)

    # ------------------------------------------------------------------ people and settings
    def add_user(self, user_id: str, display_name: str, *, key_hash: str | None = None,
                 role: str = "volunteer") -> bool:
        """Add a person (``key_hash``: SHA-256 of their secret key, if they have one); returns
        False, changing nothing, when ``user_id`` exists already."""
        user_id = check_id("user", user_id)
        with self.transaction() as con:
            return writes.insert_user(con, user_id, str(display_name), key_hash, role)

    def set_role(self, user_id: str, role: str, display_name: str) -> str | None:
        """Give a person a role (e.g. make a JupyterHub user an expert), adding them named
        ``display_name`` if unknown; returns their role before, None when added now."""
        user_id, role = check_id("user", user_id), check_id("role", role)
        with self.transaction() as con:
            return self.sql_writes.set_user_role(con, user_id, str(display_name), role)

    # ------------------------------------------------------------------ discussion threads
    def post_comment(self, user: str, subject: str, text: str) -> str:
        """Add a post to ``subject``'s thread and return its id.

        The text is trimmed and checked (:func:`~lensfinder_nb.classify.discussion.check_comment`:
        :class:`~lensfinder_nb.classify.discussion.CommentError` says why, nothing is stored); its
        hashtags are stored with it.  A rare write: one transaction, no journal.
        """
        from ..classify.discussion import check_comment, hashtags, tag_text

        user, subject = check_id("user", user), self._check_subject(subject)
        body = check_comment(text)
        row = {"comment_id": uuid.uuid4().hex, "user_id": user, "subject": subject, "body": body,
               "tags": tag_text(hashtags(body)), "created_at": parse_timestamp(None).isoformat()}
        with self.transaction() as con:
            self.sql_writes.insert_comment(con, row)
        return row["comment_id"]

    def hide_comment(self, comment_id: str, moderator: str) -> bool:
        """Hide a post; ``moderator`` must be a stored person with the teacher or expert role.

        Returns True when hidden now, False when it was hidden already (the first hiding is
        kept); raises :class:`StoreError` for an unknown post or a person who may not hide.
        """
        from ..classify.discussion import is_moderator

        comment_id, moderator = check_id("comment", comment_id), check_id("user", moderator)
        with self.transaction() as con:
            if not is_moderator(self.sql_writes.user_role(con, moderator)):
                raise StoreError(f"{moderator!r} may not hide comments (only a teacher or an expert)")
            done = self.sql_writes.hide_comment(con, comment_id, moderator, parse_timestamp(None).isoformat())
        if done is None:
            raise StoreError(f"no comment {comment_id!r}")
        return done

    def thread(self, subject: str) -> pd.DataFrame:
        """Every post on ``subject``, newest first, hidden ones included (:func:`.queries.thread`)."""
        return queries.thread(self, check_id("subject", subject))

    def search_comments(self, tag: str, include_hidden: bool = False) -> pd.DataFrame:
        """Posts with hashtag ``tag`` (``#Arc`` and ``arc`` are the same), newest first."""
        from ..classify.discussion import normalise_tag

        return queries.comments_tagged(self, normalise_tag(tag), include_hidden)

    def hashtag_counts(self, include_hidden: bool = False) -> pd.DataFrame:
        """Posts and subjects per hashtag, most used first (tag, n_comments, n_subjects)."""
        return queries.hashtag_counts(self, include_hidden)

    def get_setting(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default`` if it was never set."""
        found, value = queries.setting(self, key)
        return value if found else default

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable ``value`` under ``key``."""
        with self.transaction() as con:
            writes.put_setting(con, key, value)

    def close(self) -> None:
        """Stop the folder thread and fold what this process wrote (best effort)."""
        self._stop_folder()
        with self._write_mutex:
            self._journal.close()
        self.fold(blocking=False)


_FOLDING: weakref.WeakSet[Store] = weakref.WeakSet()


def grade_row(user: str, subject: str, grade: Any, grade_id: str | None, created_at: Any) -> dict:
    """A checked grade row for either backend."""
    return {"grade_id": check_id("grade_id", grade_id) if grade_id is not None else uuid.uuid4().hex,
            "user_id": user, "subject": subject, "grade": parse_grade(grade),
            "created_at": parse_timestamp(created_at)}


def checked_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of a scores frame (subject, probability, n_votes, status), or StoreError."""
    missing = {"subject", "probability", "n_votes", "status"} - set(frame.columns)
    if missing:
        raise StoreError(f"scores need the columns {sorted(missing)}")
    return frame[["subject", "probability", "n_votes", "status"]]


def checked_machine_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """A machine scores frame as stored (subject, score in [0, 1], in_training), or StoreError."""
    missing = {"subject", "score"} - set(frame.columns)
    if missing:
        raise StoreError(f"machine scores need the columns {sorted(missing)}")
    df = pd.DataFrame({"subject": frame["subject"].astype(str), "score": frame["score"].astype(float),
                       "in_training": (frame["in_training"].astype(bool) if "in_training" in frame else False)})
    if not df["score"].between(0.0, 1.0).all():
        raise StoreError("machine scores must be in [0, 1]")
    return df


@atexit.register
def _stop_all_folders() -> None:
    # A daemon thread still inside DuckDB when the interpreter finalises aborts the process
    # (its forced unwind meets DuckDB's C++); stop them first.  Journals keep every vote anyway.
    for store in list(_FOLDING):
        store._stop_folder()


def open_store(path: str | os.PathLike | None = None, *, settings: Settings | None = None, **values: Any) -> Store:
    """Open (creating or upgrading) the store at ``path``: a DuckDB file, or a ``postgresql://`` URL
    (:class:`~lensfinder_nb.store.pg_store.PostgresStore`, the same API on a shared server).

    ``settings``: the entry point's :class:`Settings` (default: built from the environment, so
    ``$LENSFINDER_DB`` or ``data/lensfinder.duckdb``); ``path`` and ``values`` override its fields.
    """
    if path is not None:
        values["db_path"] = path
    settings = Settings.from_env(**values) if settings is None else replace(settings, **values)
    if is_database_url(settings.db_path):
        from .pg_store import PostgresStore  # psycopg is imported only for a PostgreSQL store
        return PostgresStore(settings)
    return Store(settings)


def _refuse_unknown_subjects(unknown: list[str]) -> None:
    if unknown:
        raise StoreError("unknown subject(s): " + ", ".join(repr(m) for m in unknown))


def _query_error_message(exc: Exception) -> str:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, connections.AccessRefused) or "configuration has been locked" in first:
        return ("read-only SQL: statements that read or write files or change settings (COPY ... TO, "
                "ATTACH, INSTALL, read_csv, SET) are not allowed here; save a result with pandas or "
                f"`lensfinder sql --out FILE` ({first})")
    if "read-only mode" in first:
        return f"read-only SQL: the store cannot be changed from here ({first})"
    return first
