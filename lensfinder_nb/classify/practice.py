"""The tutorial's practice round: how many answers are right, one count per live vote.

The tally is kept by vote id, so a vote taken back with undo stops counting and the answer
given after it counts instead: the round can never report more right answers than images.

>>> tally = PracticeTally(size=2)
>>> tally.record("v1", correct=True)
>>> tally.forget("v1")                  # undo: that answer no longer counts
>>> tally.record("v2", correct=False)
>>> tally.record("v3", correct=True)
>>> tally.right, tally.n, tally.done
(1, 2, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PracticeTally"]


@dataclass
class PracticeTally:
    """Right answers of a practice round of ``size`` images, by vote id."""

    size: int
    _correct: dict[str, bool] = field(default_factory=dict, repr=False)

    def record(self, vote_id: str, correct: bool | None) -> None:
        """Count the answer of a stored vote (``correct`` None, an unknown image, counts as not right)."""
        self._correct[vote_id] = bool(correct)

    def forget(self, vote_id: str) -> None:
        """The vote was taken back: it no longer counts."""
        self._correct.pop(vote_id, None)

    @property
    def n(self) -> int:
        """Answers that count (live votes of this round)."""
        return len(self._correct)

    @property
    def right(self) -> int:
        """How many of them were right."""
        return sum(self._correct.values())

    @property
    def done(self) -> bool:
        """True once ``size`` answers count."""
        return self.n >= self.size
