"""Folding: moving the events of the vote journals into the DuckDB file.

Whichever process holds the exclusive lock reads every journal past its recorded offset,
inserts the events and records the new offsets in one transaction (so a crash mid-fold
repeats nothing: vote and event ids are unique), then deletes the journals that are finished.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import queries, writes
from .connections import Connection, atomic
from .journal import JournalTail, journal_is_live, parse_events, read_tails

__all__ = ["journal_frames", "fold_journals"]


def journal_frames(tails: list[JournalTail]) -> dict[str, pd.DataFrame]:
    """The events of ``tails`` as frames ``votes``, ``retractions`` and ``annotations``, arrival order kept.

    ``votes`` has an ``arrival`` column (position among all events) that breaks ties of
    ``created_at``; a vote retracted twice keeps its first retraction.
    """
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
    return {"votes": v, "retractions": r, "annotations": a}


def fold_journals(con: Connection, journal_dir: Path) -> int:
    """Fold every journal of ``journal_dir`` into the file open on ``con`` (exclusive lock held);
    returns the number of events folded."""
    tails = read_tails(journal_dir, queries.journal_progress(con))
    frames = journal_frames(tails)
    with atomic(con):
        if len(frames["votes"]):
            con.register("_folded_votes", frames["votes"])
            writes.insert_votes(con, "_folded_votes")
        if len(frames["retractions"]):
            writes.apply_retractions(con, frames["retractions"])
        if len(frames["annotations"]):
            writes.insert_annotations(con, frames["annotations"])
        for tail in tails:
            if tail.end != tail.start:
                writes.record_journal_progress(con, tail.journal, tail.end)
    _remove_finished(con, journal_dir, tails)
    return sum(len(f) for f in frames.values())


def _remove_finished(con: Connection, journal_dir: Path, tails: list[JournalTail]) -> None:
    # A journal goes when its writer has exited and it is folded to the end.  Checked in this
    # order: once the writer is gone nothing more is appended, so a journal read to its last
    # complete line is finished (a torn tail was never acknowledged).
    for tail in tails:
        path = journal_dir / tail.journal
        if journal_is_live(path):
            continue
        with open(path, "rb") as f:
            f.seek(tail.end)
            rest = f.read()
        if b"\n" in rest:
            continue  # written after we read it; folded next time
        writes.forget_journal(con, tail.journal)
        path.unlink(missing_ok=True)
