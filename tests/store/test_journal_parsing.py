"""Journal tails parse to the same frame with pyarrow and in Python (a classify kernel keeps pyarrow out)."""

from __future__ import annotations

import json

import pandas as pd

from lensfinder_nb.store.journal import JournalTail, _parse_in_python, parse_events

EVENTS = [
    {"type": "vote", "vote_id": "v1", "user_id": "u-a", "subject": "S1", "answer": 1, "marks": "[[1.0, 2.0]]",
     "created_at": "2026-01-01T00:00:00.123456+00:00", "time_spent_s": 1.5, "session": "s1"},
    {"type": "vote", "vote_id": "v2", "user_id": "u-a", "subject": "S2", "answer": 0, "marks": None,
     "created_at": "2026-01-01T00:00:01+00:00", "time_spent_s": None, "session": None, "unknown": 7},
    {"type": "retract", "vote_id": "v1", "user_id": "u-a", "retracted_at": "2026-01-01T00:00:02+00:00"},
    {"type": "annotation", "event_id": "e1", "user_id": "u-a", "subject": "S2", "favourite": True,
     "comment": "arc?", "created_at": "2026-01-01T00:00:03+00:00"},
]


def _tails(lines: list[bytes]) -> list[JournalTail]:
    blob = b"".join(lines)
    return [JournalTail("1-a.jsonl", 0, len(blob), blob)]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) and a.dtypes.to_dict() == b.dtypes.to_dict()
    pd.testing.assert_frame_equal(a, b)


def test_python_parsing_gives_pyarrows_frame_and_skips_a_torn_line():
    lines = [json.dumps(e).encode() + b"\n" for e in EVENTS]
    torn = lines + [b'{"type": "vote", "vote_id": "v9", "ans\n']
    for tails in (_tails(lines), _tails(torn), _tails(lines[:1]), _tails([])):
        blob = b"".join(t.data for t in tails)
        _same(parse_events(tails), _parse_in_python(blob))
    parsed = _parse_in_python(b"".join(torn))
    assert parsed["vote_id"].tolist()[:2] == ["v1", "v2"] and len(parsed) == 4
