"""The system of record: a DuckDB file shared by many processes, with per-process vote journals.

Everything that speaks SQL to the schema lives in this package: the schema in
:mod:`.migrations`, the changes in :mod:`.writes`, lensfinder's reads in :mod:`.queries`, the
views of a snapshot (and the counting rule) in :mod:`.views`.  The rest of lensfinder calls the
named methods of :class:`Store` and the functions of :mod:`.queries`; people's own SQL goes
through :meth:`Store.sql`, which is read-only.
"""

from . import queries
from .core import Store, open_store
from .locks import LockTimeout
from .validation import QueryError, StoreError, content_vote_ids, parse_answer, parse_timestamp

__all__ = ["Store", "StoreError", "QueryError", "LockTimeout", "open_store", "parse_answer", "parse_timestamp",
           "content_vote_ids", "queries"]
