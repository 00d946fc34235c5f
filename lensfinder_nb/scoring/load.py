"""Votes straight from the store into :class:`CodedVotes`, coded inside DuckDB.

Faster than ``code_votes(store.votes(), store.subjects())`` at scale: only integer columns
cross into Python (no vote ids, marks or per-vote strings), and the store has already kept
only the votes that count (:mod:`lensfinder_nb.store.views`).
"""

from __future__ import annotations

from ._votes import CodedVotes

__all__ = ["load_votes"]


def load_votes(store) -> CodedVotes:
    """Counted votes of ``store`` (a :class:`~lensfinder_nb.store.Store`) from one snapshot."""
    from ..store import queries

    c = queries.counted_vote_codes(store)
    return CodedVotes.from_codes(c["u_code"], c["s_code"], c["answer"], c["t_us"], c["seq"], c["users"],
                                 c["subjects"], c["labels"], counted=True)
