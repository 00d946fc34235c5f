"""The system of record: a DuckDB file shared by many processes, with per-process vote journals.

Everything that speaks SQL to the schema lives in this package; the rest of lensfinder calls
the named functions of :class:`Store`.
"""

from .core import LockTimeout, Store, StoreError, content_vote_ids, open_store, parse_answer, parse_timestamp

__all__ = ["Store", "StoreError", "LockTimeout", "open_store", "parse_answer", "parse_timestamp", "content_vote_ids"]
