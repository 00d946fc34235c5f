"""DuckDB connections of the store: writer, raw reader, read-only snapshot, and transactions.

The only module that opens DuckDB (a second backend would replace this module and the SQL
dialect of :mod:`.writes`, :mod:`.queries` and :mod:`.views`, not their callers).  Locking is
the caller's job (:class:`~lensfinder_nb.store.Store` holds the ``flock`` of
:mod:`.locks` around each of these).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pandas as pd

from .views import SNAPSHOT_VIEWS

__all__ = ["Connection", "DatabaseError", "AccessRefused", "atomic", "writer", "raw_reader", "snapshot"]

Connection = duckdb.DuckDBPyConnection
#: what DuckDB raises for SQL it cannot run
DatabaseError = duckdb.Error
#: what DuckDB raises when SQL on a snapshot reaches for a file or an extension
AccessRefused = duckdb.PermissionException


@contextlib.contextmanager
def atomic(con: Connection) -> Iterator[Connection]:
    """One transaction: COMMIT when the block ends, ROLLBACK (and re-raise) on any exception.

    The only place the store writes BEGIN / COMMIT / ROLLBACK.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextlib.contextmanager
def writer(path: Path) -> Iterator[Connection]:
    """A read-write connection to the file (hold the exclusive lock first)."""
    con = duckdb.connect(str(path))
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def raw_reader(path: Path) -> Iterator[Connection]:
    """A read-only connection to the file alone, journals not included (hold the shared lock first)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def snapshot(path: Path, pending: Callable[[Connection], dict[str, pd.DataFrame]]) -> Iterator[Connection]:
    """An in-memory connection with the file attached read-only as ``db`` and the views of
    :mod:`.views` over it and the journal events not yet folded: ``pending(con)`` returns them
    (frames ``votes``, ``retractions``, ``annotations``; see :func:`.fold.journal_frames`).

    Nothing run on it can touch a file: the attachment is read-only, file access (COPY TO,
    ATTACH, INSTALL, read_csv, ...) is switched off and the setting locked.
    """
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{_quoted(path)}' AS db (READ_ONLY)")
        # After the ATTACH, which needs it; locked so that SQL cannot switch it back on.
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        for name, frame in pending(con).items():
            con.register(f"_pending_{name}", frame)
        con.execute(SNAPSHOT_VIEWS)
        yield con
    finally:
        con.close()


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
