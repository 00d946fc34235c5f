"""The store on a shared PostgreSQL server: the :class:`~lensfinder_nb.store.Store` API, other backend.

What differs from the DuckDB file is only where rows go and come from (:mod:`.postgres`):
votes, retractions and annotations are written straight into PostgreSQL in a transaction
(the server serialises concurrent writers; there is no journal and nothing to fold), and
every read runs on a private DuckDB copy of the tables (:func:`.postgres.load_snapshot`), so
:mod:`.queries`, :mod:`.views` and :meth:`Store.sql` behave exactly as on the file.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from . import connections, postgres
from .core import Store, _refuse_unknown_subjects, checked_machine_scores, checked_scores
from .fold import journal_frames
from .validation import (StoreError, check_id, parse_timestamp, prepare_vote_import, validate_subjects,
                         vote_event)
from . import writes
from ..settings import Settings

__all__ = ["PostgresStore"]

log = logging.getLogger(__name__)


class PostgresStore(Store):
    """A lensfinder store on PostgreSQL (``settings.db_path`` is a ``postgresql://`` URL)."""

    #: the module of the SQL writes that :meth:`transaction`'s connection takes
    sql_writes = postgres
    journalled = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = str(settings.db_path)
        self._subject_ids: set[str] | None = None
        self._mutex = threading.RLock()  # one connection, used by one thread at a time
        self._con = postgres.connect(self.path)
        with self._mutex:
            postgres.apply_pg_migrations(self._con)
        self._live_con = None   # the live scores' own connection, opened at the first update
        self._horizon = None    # the background rounds' seq horizon (live.PgHorizon)
        self._live_mutex = threading.Lock()
        self._folder: threading.Thread | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------ connections
    @contextlib.contextmanager
    def _pg(self) -> Iterator[Any]:
        """The server connection inside one transaction (COMMIT at the end, ROLLBACK on an exception)."""
        with self._pg_statement() as con, con.transaction():
            yield con

    @contextlib.contextmanager
    def _pg_statement(self) -> Iterator[Any]:
        """The server connection for one statement, which autocommit makes a transaction of its own."""
        with self._mutex:
            if self._con.closed:
                self._con = postgres.connect(self.path)
            yield self._con

    @contextlib.contextmanager
    def transaction(self, timeout_s: float | None = None) -> Iterator[Any]:
        """A PostgreSQL connection inside one transaction (the store package's own writes)."""
        with self._pg() as con:
            yield con

    @contextlib.contextmanager
    def _reader_raw(self) -> Iterator[connections.Connection]:
        with self._snapshot_of(("subjects", "users", "settings")) as con:
            yield con

    @contextlib.contextmanager
    def _snapshot_of(self, tables: tuple[str, ...]) -> Iterator[connections.Connection]:
        with self._mutex:
            loaded = postgres.load_snapshot(self._con, tables)
            path = loaded.__enter__()
        try:
            with connections.snapshot(path, lambda con: journal_frames([])) as con:
                yield con
        finally:
            loaded.__exit__(None, None, None)

    def snapshot(self) -> Iterator[connections.Connection]:
        """A read-only DuckDB connection over a copy of the server's tables as they are now (same views
        as on the file: see :meth:`Store.snapshot`)."""
        return self._snapshot_of(postgres.TABLES)

    def live_vote_codes(self) -> dict[str, Any]:
        """:func:`.queries.live_vote_codes` read from the server directly (no DuckDB copy of every table)."""
        import numpy as np
        import pyarrow.compute as pc

        with self._mutex:
            subjects, votes = postgres.vote_code_tables(self._con, self.path)
        # users by dictionary_encode (few: small dictionaries); subjects were coded block by block
        user_ids, user_idx = _encoded(votes["user_id"])
        order = pc.sort_indices(user_ids).to_numpy()
        rank = np.empty(len(order), np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        out = {"u_code": rank[user_idx], "s_code": votes["s_code"].fill_null(-1).to_numpy().astype(np.int32),
               "answer": votes["answer"].to_numpy(), "seq": votes["seq"].to_numpy(), "t_us": votes["t_us"].to_numpy()}
        known = out["s_code"] >= 0
        if not known.all():   # votes on subjects since deleted are left out, as by the join on the file
            out = {key: value[known] for key, value in out.items()}
        # users who voted only on deleted subjects stay in the list, as in the file's query
        out.update(subjects=np.asarray(subjects["subject"].to_pylist(), dtype=object),
                   labels=subjects["label"].to_numpy().astype(np.int8),
                   users=np.asarray(user_ids.take(order).to_pylist(), dtype=object))
        return out

    def _ensure_schema(self) -> None:
        with self._mutex:
            postgres.apply_pg_migrations(self._con)

    # ------------------------------------------------------------------ subjects
    def subject_ids(self, refresh: bool = False) -> set[str]:
        if self._subject_ids is None or refresh:
            with self._pg() as con:
                self._subject_ids = postgres.subject_id_set(con)
        return self._subject_ids

    def add_subjects(self, frame: pd.DataFrame, *, replace: bool = False) -> int:
        df = validate_subjects(frame)
        with self._pg() as con:
            added = postgres.insert_subjects(con, df, replace=replace)
        self._subject_ids = None
        return added

    # ------------------------------------------------------------------ votes
    def add_vote(self, user: str, subject: str, answer: Any, **extra: Any) -> str:
        event = vote_event(check_id("user", user), self._check_subject(subject), answer, extra)
        with self._pg_statement() as con:
            postgres.insert_vote(con, event)
        self._start_folder()
        return event["vote_id"]

    def retract_vote(self, vote_id: str, user: str) -> None:
        with self._pg() as con:
            if not postgres.vote_is_by(con, vote_id, user):
                raise StoreError(f"no vote {vote_id!r} by {user!r} to retract")
            postgres.retract(con, vote_id, user, parse_timestamp(None).isoformat())
        self._start_folder()

    def annotate(self, user: str, subject: str, *, favourite: bool | None = None,
                 comment: str | None = None) -> str:
        user, subject = check_id("user", user), self._check_subject(subject)
        if comment is not None and len(comment) > 2000:
            raise StoreError("comment is longer than 2,000 characters")
        event = {"event_id": uuid.uuid4().hex, "user_id": user, "subject": subject, "favourite": favourite,
                 "comment": comment, "created_at": parse_timestamp(None).isoformat()}
        with self._pg_statement() as con:
            postgres.insert_annotation(con, event)
        return event["event_id"]

    def import_votes(self, frame: pd.DataFrame) -> int:
        df = prepare_vote_import(frame)
        return self._import_relation(df, set(df.columns), unique_ids=False)

    def import_votes_arrow(self, table: Any) -> int:
        import pyarrow as pa

        if not isinstance(table, pa.Table):
            table = pa.Table.from_pandas(pd.DataFrame(table), preserve_index=False)
        missing = [c for c in ("vote_id", "user_id", "subject", "answer", "created_at") if c not in table.column_names]
        if missing:
            raise StoreError(f"votes need the columns {missing}")
        table = table.append_column("arrival", pa.array(range(table.num_rows), pa.int64()))
        return self._import_relation(table, set(table.column_names), unique_ids=True)

    def _import_relation(self, data: Any, present: set[str], *, unique_ids: bool) -> int:
        """Check and cast the votes in DuckDB, stream them to the server, insert them in one transaction."""
        with tempfile.TemporaryDirectory(prefix="lf-pg-import-") as tmp:
            out = Path(tmp) / "votes.csv"
            duck = duckdb.connect()
            try:
                duck.register("_votes_in", data)
                if unique_ids:
                    writes.check_vote_table(duck, "_votes_in")
                postgres.normalised_votes_csv(duck, "_votes_in", present, out, unique_ids)
            finally:
                duck.close()
            with self._pg() as con:
                postgres.stage_csv_file(con, "_staged_votes", postgres.STAGED_VOTE_COLUMNS, out)
                _refuse_unknown_subjects(postgres.unknown_subjects(con, "_staged_votes"))
                return postgres.insert_staged_votes(con, "_staged_votes")

    # ------------------------------------------------------------------ folding: only the live scores
    def fold(self, blocking: bool = True) -> int:
        """No journal to fold (PostgreSQL stores each vote when it is acknowledged); brings the live SWAP
        scores up to date (:mod:`.live`) unless another process is doing it.  Returns 0."""
        if self.settings.live_scores:
            self._update_live(min_interval_s=0.0, wait=blocking)
        return 0

    def _update_live(self, min_interval_s: float, wait: bool = False, immediate: bool = False) -> None:
        from . import live
        with self._live_mutex:
            try:
                if self._live_con is None or self._live_con.closed:
                    self._live_con = postgres.connect(self.path)
                if self._horizon is None:
                    self._horizon = live.PgHorizon()
                step = live.update_postgres(self._live_con, min_interval_s=min_interval_s, wait=wait,
                                            horizon=self._horizon, immediate=immediate)
                if step is not None:
                    self.last_live_step = step
            except Exception:  # pragma: no cover - retried at the next round; votes are stored already
                log.exception("updating the live SWAP scores failed; will retry")
                if self._live_con is not None and not self._live_con.closed:
                    self._live_con.rollback()

    def _fold_loop(self) -> None:
        # Every writing process runs this; the advisory lock of live.update_postgres lets one work,
        # and the others skip a round when the scores were updated less than an interval ago.
        # Twice per fold interval (at most four times a second): a check that finds nothing new is one
        # small query, and a vote then reaches the scores within about half an interval plus the update.
        interval = max(self.settings.fold_interval_s / 2, 0.25)
        while not self._stop.wait(interval):
            if self.settings.live_scores:
                self._update_live(min_interval_s=interval * 0.9)

    # ------------------------------------------------------------------ scores, people, settings
    def write_scores(self, frame: pd.DataFrame, method: str) -> int:
        frame = checked_scores(frame)
        with self._pg() as con:
            postgres.replace_scores(con, frame, method)
        return len(frame)

    def write_machine_scores(self, frame: pd.DataFrame, model: str) -> int:
        df = checked_machine_scores(frame)
        model = check_id("model", model)
        with self._pg() as con:
            postgres.replace_machine_scores(con, df, model)
        return len(df)

    def add_user(self, user_id: str, display_name: str, *, key_hash: str | None = None,
                 role: str = "volunteer") -> bool:
        user_id = check_id("user", user_id)
        with self._pg() as con:
            return postgres.insert_user(con, user_id, str(display_name), key_hash, role)

    def set_setting(self, key: str, value: Any) -> None:
        with self._pg() as con:
            postgres.put_setting(con, key, value)

    def close(self) -> None:
        """Stop the live scores' thread and close the server connections; a process that wrote votes
        first tries a last live update (skipped if another process is updating: that one takes them in)."""
        self._stop_folder()
        if self._folder is not None and self.settings.live_scores:
            self._update_live(min_interval_s=0.0, immediate=True)
        with self._live_mutex:
            if self._live_con is not None:
                self._live_con.close()
        with self._mutex:
            self._con.close()


def _encoded(column: Any) -> tuple[Any, Any]:
    """A string column as its distinct values and every row's position among them (numpy int32)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    # on a chunked column the chunks share one dictionary (the kernel keeps one table of values)
    encoded = pc.dictionary_encode(column)
    if encoded.num_chunks == 0:
        return pa.array([], pa.string()), np.zeros(0, np.int32)
    indices = np.concatenate([chunk.indices.to_numpy() for chunk in encoded.chunks])
    return encoded.chunk(0).dictionary, indices.astype(np.int32, copy=False)
