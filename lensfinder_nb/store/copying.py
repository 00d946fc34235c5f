"""``lensfinder store copy``: move a whole store between a DuckDB file and PostgreSQL, all or nothing.

Every table is read from one snapshot of the source (a DuckDB source's journalled votes
included) and written to the target in one transaction, rows unchanged: vote ids, ``seq``,
retractions, annotations, scores, machine scores, people, settings and the live SWAP state.  The target must be
empty (a fresh file or database); if anything fails, nothing of the copy stays.
"""

from __future__ import annotations

import os

import pandas as pd

from .core import Store, open_store
from .postgres import TABLES, safe_url
from .validation import StoreError

__all__ = ["copy_store", "read_all_tables", "table_rows"]


def read_all_tables(store: Store) -> dict[str, pd.DataFrame]:
    """Every table of ``store`` as it is now, from one snapshot (votes include retracted ones)."""
    with store.snapshot() as con:
        return {t: con.execute(f"SELECT * FROM {t}").df() for t in TABLES}


def table_rows(store: Store) -> dict[str, int]:
    """Rows per table of ``store`` (journalled votes included)."""
    with store.snapshot() as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def copy_store(source: str | os.PathLike, target: str | os.PathLike) -> dict[str, int]:
    """Copy the store at ``source`` into the empty store at ``target`` (each a DuckDB file or a
    ``postgresql://`` URL); returns the rows copied per table."""
    if str(source) == str(target):
        raise StoreError("store copy: the source and the target are the same store")
    src = open_store(source)
    try:
        frames = read_all_tables(src)
    finally:
        src.close()
    dst = open_store(target)
    try:
        held = {t: n for t, n in table_rows(dst).items() if n}
        if held:
            raise StoreError(f"store copy: the target {safe_url(str(target))} is not empty ("
                             + ", ".join(f"{n} {t}" for t, n in held.items()) + "); copy into a new store")
        with dst.transaction() as con:
            for table in TABLES:
                dst.sql_writes.insert_table(con, table, frames[table])
    finally:
        dst.close()
    return {t: len(f) for t, f in frames.items()}
