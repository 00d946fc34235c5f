"""One person's classifying session: the queue, prefetched images, votes and feedback.

No widget code here: the page wires buttons to :meth:`ClassifySession.vote`.  The truth
of a training subject stays in this object (the kernel) and is only revealed through
the :class:`Feedback` returned *after* the vote is stored.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .queue import plan_queue
from .store import Store

__all__ = ["ClassifySession", "Shown", "Feedback"]

log = logging.getLogger(__name__)

_POOL_SQL = """
SELECT s.subject, s.label, s.image,
       coalesce(v.n_votes, 0) AS n_votes,
       coalesce(sc.status = 'rejected' AND s.label = -1, false) AS retired
FROM subjects s
LEFT JOIN (SELECT subject, count(*) AS n_votes FROM votes WHERE retracted_at IS NULL GROUP BY subject) v
       USING (subject)
LEFT JOIN scores sc ON sc.subject = s.subject AND sc.method = 'swap'
"""


@dataclass
class Shown:
    """A subject on screen; ``image`` is the JPEG bytes or None when the file is broken."""

    subject: str
    image: bytes | None
    shown_at: float


@dataclass(frozen=True)
class Feedback:
    """What to tell the person after a vote: ``correct`` is None for subjects of unknown truth."""

    vote_id: str
    correct: bool | None
    is_lens: bool | None


class ClassifySession:
    """Serve subjects to ``user`` and record their votes in ``store``."""

    def __init__(self, store: Store, user: str, *, seed: int | None = None, prefetch: int = 6,
                 session_id: str | None = None) -> None:
        self.store = store
        self.user = user
        self.session_id = session_id
        self.rng = np.random.default_rng(seed)
        self.prefetch = prefetch
        self._queue: collections.deque[Shown] = collections.deque()
        self._labels: dict[str, int] = {}
        self._images: dict[str, str | None] = {}
        mine = store.sql("SELECT subject FROM votes WHERE user_id = ?", [user])
        self.seen: set[str] = set(mine["subject"])
        self.n_done = len(self.seen)
        self.current: Shown | None = None
        self.last_vote: str | None = None
        self._advance()

    # ------------------------------------------------------------------ queue
    def _refill(self) -> None:
        pool = self.store.sql(_POOL_SQL)
        self._labels.update(zip(pool["subject"], pool["label"].astype(int)))
        self._images.update(zip(pool["subject"], pool["image"]))
        queued = {s.subject for s in self._queue} | ({self.current.subject} if self.current else set())
        plan = plan_queue(pool, self.seen | queued, 3 * self.prefetch, self.n_done + len(self._queue), self.rng)
        for subject in plan:
            self._queue.append(Shown(subject, self._read_image(subject), 0.0))

    def _read_image(self, subject: str) -> bytes | None:
        ref = self._images.get(subject)
        if not ref:
            return None
        try:
            data = (Path(self.store.settings.data_dir) / ref).read_bytes()
        except OSError:
            log.warning("image of subject %s is missing (%s)", subject, ref)
            return None
        return data if data[:2] == b"\xff\xd8" or data[:4] == b"\x89PNG" else None

    def _advance(self) -> None:
        if len(self._queue) < self.prefetch:
            self._refill()
        self.current = self._queue.popleft() if self._queue else None
        if self.current is not None:
            self.current.shown_at = time.monotonic()

    # ------------------------------------------------------------------ votes
    def vote(self, answer: int, marks: list[tuple[float, float]] | None = None) -> Feedback:
        """Store the vote on the current subject, move on, and say whether it was right."""
        shown = self.current
        if shown is None:
            raise RuntimeError("there is no subject to classify")
        vote_id = self.store.add_vote(self.user, shown.subject, answer, marks=marks or None,
                                      time_spent_s=round(time.monotonic() - shown.shown_at, 3),
                                      session=self.session_id)
        self.seen.add(shown.subject)
        self.n_done += 1
        self.last_vote = vote_id
        label = self._labels.get(shown.subject, -1)
        self._advance()
        if label == -1:
            return Feedback(vote_id, None, None)
        return Feedback(vote_id, bool(answer) == (label == 1), label == 1)

    def skip(self) -> None:
        """Move on without a vote (a skip is never a 'not a lens')."""
        if self.current is not None:
            self.seen.add(self.current.subject)
        self._advance()

    def pool_size(self) -> int:
        return len(self._queue) + (self.current is not None)


def votes_of(store: Store, user: str) -> pd.DataFrame:
    """A person's own votes, newest first."""
    return store.sql("SELECT * FROM votes WHERE user_id = ? ORDER BY seq DESC", [user])
