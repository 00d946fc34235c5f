"""One person's classifying session: the queue, prefetched images, votes, undo and feedback.

No widget code here: the page wires buttons and keys to :class:`ClassifySession`.  The truth
of a training subject (its label and, for a mock, its arc mask) stays in this object, in the
kernel, and is revealed only through the :class:`Feedback` returned *after* the vote is stored.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..imaging.render import STRETCHES
from .order import plan_queue, practice_order
from .picture import ZOOMS, Shown, SubjectPictures, zoom_window
from ..store import Store, queries

__all__ = ["ClassifySession", "Shown", "Feedback", "UNDO_SECONDS", "STRETCHES", "ZOOMS", "marks_touch_arc",
           "zoom_window"]

log = logging.getLogger(__name__)

UNDO_SECONDS = 10.0


@dataclass(frozen=True)
class Feedback:
    """What to tell the person after a vote.

    ``correct`` is None for unknown subjects (nobody knows yet).  For a mock, ``arc_mask`` is the
    arc as a bool array (north up, the picture's shape (ny, nx)) and ``marks_on_arc`` says whether
    the marks touched it (None without marks).
    """

    vote_id: str
    subject: str
    answer: int
    correct: bool | None
    is_lens: bool | None
    arc_mask: np.ndarray | None = None
    marks_on_arc: bool | None = None
    image: bytes | None = None


def marks_touch_arc(marks: list[tuple[float, float]], mask: np.ndarray, tolerance_px: int = 2) -> bool:
    """True when any mark (x, y in north-up pixels) lies within ``tolerance_px`` of the arc mask."""
    ny, nx = mask.shape
    for x, y in marks:
        i, j = int(round(y)), int(round(x))
        lo_i, hi_i = max(0, i - tolerance_px), min(ny, i + tolerance_px + 1)
        lo_j, hi_j = max(0, j - tolerance_px), min(nx, j + tolerance_px + 1)
        if lo_i < hi_i and lo_j < hi_j and mask[lo_i:hi_i, lo_j:hi_j].any():
            return True
    return False


class ClassifySession(SubjectPictures):
    """Serve subjects to ``user`` and record their votes in ``store``.

    ``training_only`` serves training subjects only (the tutorial's practice round); ``practice``
    starts with a round of that many training subjects that goes from obvious to realistic arcs
    (:func:`~lensfinder_nb.classify.order.practice_order`); ``rate_scale`` multiplies the training
    mix (a teacher setting).
    """

    def __init__(self, store: Store, user: str, *, seed: int | None = None, prefetch: int = 6,
                 session_id: str | None = None, rate_scale: float = 1.0, training_only: bool = False,
                 max_votes_detected: int = 30, routing: bool = False, practice: int = 0) -> None:
        self.store = store
        self._practice_pending = int(practice)
        self.user = user
        self.session_id = session_id
        self.rng = np.random.default_rng(seed)
        self.prefetch = prefetch
        self.rate_scale = rate_scale
        self.training_only = training_only
        self.max_votes_detected = max_votes_detected
        self.routing = routing
        self.data_dir = Path(store.settings.data_dir)
        self._queue: collections.deque[Shown] = collections.deque()
        self._truth: dict[str, tuple[int, str | None]] = {}  # subject -> (label, mask ref); kernel only
        self._refs: dict[str, tuple[str | None, str | None]] = {}  # subject -> (image, cube)
        mine = queries.votes_of_user(store, user)
        self.seen: set[str] = set(mine["subject"])  # retracted too: the person has seen them
        self.n_done = int(mine["counted"].sum())
        self.current: Shown | None = None
        self._last: tuple[str, Shown, float] | None = None  # (vote id, what was shown, when)
        self._advance()

    # ------------------------------------------------------------------ queue
    def _refill(self) -> None:
        from ..scoring.retirement import retired_in_pool  # the one place the retirement rule lives
        pool = queries.subject_pool(self.store, "swap")
        pool["retired"] = pool["subject"].isin(retired_in_pool(pool, max_votes_detected=self.max_votes_detected))
        for row in pool.itertuples(index=False):
            self._truth[row.subject] = (int(row.label), row.mask if isinstance(row.mask, str) else None)
            self._refs[row.subject] = (row.image, row.cube)
        if self.training_only:
            pool = pool[pool["label"] != -1]
        queued = {s.subject for s in self._queue} | ({self.current.subject} if self.current else set())
        scale = 1e6 if self.training_only else self.rate_scale
        order = self._routed(pool, self.seen | queued) if self.routing and not self.training_only else None
        if self._practice_pending:
            # the practice round: obvious arcs first, then fainter ones down to the realistic end
            plan = practice_order(pool[pool["label"] != -1], self.seen | queued, self._practice_pending, self.rng)
            self._practice_pending = 0
        else:
            plan = plan_queue(pool, self.seen | queued, 3 * self.prefetch, self.n_done + len(self._queue), self.rng,
                              rate_scale=scale, unknown_order=order)
        for subject in plan:
            self._queue.append(Shown(subject, self._read_image(subject)))

    def _routed(self, pool: pd.DataFrame, exclude: set[str]) -> list[str]:
        """Unknowns in the order where this person's vote helps most: the SWAP posterior with the
        machine's measured evidence added, and the person's skill.  Machine scores stay in the
        kernel, never on the page."""
        from ..machine.combine import combine, skill_from_store
        from ..machine.routing import route
        from .personal import training_skill
        skill = training_skill(self.store, self.user)
        crowd = queries.stored_scores(self.store, "swap")
        machine = queries.latest_machine_scores(self.store)
        try:
            posterior = combine(crowd, machine, skill_from_store(self.store))[["subject", "probability"]]
        except ValueError:  # no machine measured on held-out training subjects yet: the crowd alone
            posterior = crowd[["subject", "probability"]]
        candidates = pool[~pool["subject"].isin(exclude)].merge(
            posterior.rename(columns={"probability": "posterior"}), on="subject", how="left")
        candidates = candidates.merge(machine.rename(columns={"score": "machine_score"}), on="subject", how="left")
        return route(candidates, skill, 3 * self.prefetch, self.rng)

    def _advance(self) -> None:
        if len(self._queue) < self.prefetch:
            self._refill()
        self.current = self._queue.popleft() if self._queue else None
        if self.current is not None:
            self.current.shown_at = time.monotonic()

    # ------------------------------------------------------------------ votes
    def vote(self, answer: int, marks: list[tuple[float, float]] | None = None) -> Feedback:
        """Store the vote on the current subject, move on, and say whether it was right.

        ``marks`` are (x, y) in north-up pixels of the full picture (see :meth:`view_window`).
        """
        shown = self.current
        if shown is None:
            raise RuntimeError("there is no subject to classify")
        vote_id = self.store.add_vote(self.user, shown.subject, answer, marks=marks or None,
                                      time_spent_s=round(time.monotonic() - shown.shown_at, 3),
                                      session=self.session_id)
        self.seen.add(shown.subject)
        self.n_done += 1
        self._last = (vote_id, shown, time.monotonic())
        self._advance()
        return self._feedback(vote_id, shown, int(answer), marks)

    def _feedback(self, vote_id: str, shown: Shown, answer: int, marks) -> Feedback:
        label, mask_ref = self._truth.get(shown.subject, (-1, None))
        if label == -1:
            return Feedback(vote_id, shown.subject, answer, None, None, image=shown.image)
        is_lens = label == 1
        mask = on_arc = None
        if is_lens and mask_ref:
            try:
                from ..imaging.files import load_mask
                mask = np.flipud(load_mask(self.data_dir, mask_ref))  # FITS rows run south to north
            except (OSError, ValueError):
                mask = None
        correct = bool(answer) == is_lens
        if is_lens and answer == 1 and marks and mask is not None:
            on_arc = marks_touch_arc(marks, mask)
            correct = on_arc  # a lens vote on a mock counts as found only if the marks touch the arc
        return Feedback(vote_id, shown.subject, answer, correct, is_lens, mask, on_arc, shown.image)

    def can_undo(self) -> bool:
        return self._last is not None and time.monotonic() - self._last[2] <= UNDO_SECONDS

    def undo(self) -> str | None:
        """Take back the last vote (kept as a retraction) and show its subject again.

        Returns the id of the vote taken back, or None when there is nothing to undo.
        """
        if not self.can_undo():
            return None
        vote_id, shown, _ = self._last
        self.store.retract_vote(vote_id, self.user)
        self._last = None
        if self.current is not None:
            self._queue.appendleft(self.current)
        self.seen.discard(shown.subject)
        self.n_done -= 1
        self.current = shown
        shown.shown_at = time.monotonic()
        return vote_id

    def skip(self) -> None:
        """Move on without a vote (a skip is never a 'not a lens')."""
        if self.current is not None:
            self.seen.add(self.current.subject)
        self._advance()

    # ------------------------------------------------------------------ favourites and comments
    def post_comment(self, text: str) -> str | None:
        """Post ``text`` to the thread of the subject on screen; its id, or None when nothing is shown.

        Raises :class:`~lensfinder_nb.classify.discussion.CommentError` for text that cannot be posted.
        """
        if self.current is None:
            return None
        return self.store.post_comment(self.user, self.current.subject, text)

    def annotate(self, *, favourite: bool | None = None, comment: str | None = None) -> None:
        if self.current is not None:
            self.store.annotate(self.user, self.current.subject, favourite=favourite, comment=comment)

