"""One expert's grading session: the queue of candidates (:func:`lensfinder_nb.scoring.grading.grading_queue`),
the picture in every stretch and zoom, and grades stored 0-3.  No widget code here.

Blind grading (the default, ``GradingSettings.blind``): nothing of the crowd's score or the other
graders' grades leaves this object before the expert's own grade of that subject is stored
(:meth:`GradingSession.before_grading` is empty).  Without blind grading the page may show the
crowd score and the consensus so far before grading, and the consensus after.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..scoring.grading import (DEFAULT_GRADERS, SOURCES, consensus, default_threshold, grading_queue,
                               queue_scores_from_store)
from ..store import Store, queries
from .picture import Shown, SubjectPictures

__all__ = ["GradingSettings", "GradingSession", "Consensus"]


@dataclass(frozen=True)
class GradingSettings:
    """How candidates reach the graders (stored in the store's settings table as ``grading``)."""

    source: str = "crowd"        # crowd, machine or combined (docs/grading.md)
    method: str = "swap"         # the crowd score's aggregation method
    threshold: float | None = None  # queue subjects whose score is above this (None: default_threshold)
    n_graders: int = DEFAULT_GRADERS
    blind: bool = True

    def __post_init__(self) -> None:
        from ..errors import InvalidInput
        if self.source not in SOURCES:
            raise InvalidInput(f"source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        if self.threshold is not None and not 0.0 <= float(self.threshold) < 1.0:
            raise InvalidInput(f"threshold must be in [0, 1), got {self.threshold!r}")
        if not 1 <= int(self.n_graders) <= 50:
            raise InvalidInput(f"graders per subject must be 1-50, got {self.n_graders!r}")
        object.__setattr__(self, "threshold", None if self.threshold is None else float(self.threshold))
        object.__setattr__(self, "n_graders", int(self.n_graders))
        object.__setattr__(self, "blind", bool(self.blind))

    @property
    def score_cut(self) -> float:
        """The threshold in force: the one set, else the source's default (:func:`default_threshold`)."""
        return default_threshold(self.source, self.method) if self.threshold is None else self.threshold

    @classmethod
    def load(cls, store: Store) -> GradingSettings:
        """The stored grading settings (defaults for anything missing or unusable)."""
        from ..errors import InvalidInput
        stored = store.get_setting("grading", {}) or {}
        try:
            return cls(**{k: v for k, v in stored.items() if k in cls.__dataclass_fields__})
        except (InvalidInput, TypeError, ValueError):
            return cls()

    def save(self, store: Store) -> None:
        store.set_setting("grading", {"source": self.source, "method": self.method, "threshold": self.threshold,
                                      "n_graders": self.n_graders, "blind": self.blind})


@dataclass(frozen=True)
class Consensus:
    """The grades of one subject so far: mean, class, graders."""

    mean_grade: float
    grade_class: str
    n_graders: int


class GradingSession(SubjectPictures):
    """Serve ``user`` the candidates they may grade, best score first, and store their grades."""

    def __init__(self, store: Store, user: str, settings: GradingSettings | None = None) -> None:
        self.store = store
        self.user = user
        self.settings = settings or GradingSettings.load(store)
        self.data_dir = Path(store.settings.data_dir)
        self._refs: dict[str, tuple[str | None, str | None]] = {}
        self._scores: dict[str, float] = {}
        self.n_done = int((queries.grades(store)["user_id"] == user).sum())
        self.current: Shown | None = None
        self.last: tuple[str, int] | None = None   # (subject, grade) just stored
        self._queue: list[str] = []
        self._regrading = False
        self._load()
        self._advance()

    def _load(self) -> None:
        """Subjects and queue scores, read once per session (they change only with imports and
        ``lensfinder score``/``predict``); grades are read again before every subject."""
        s = self.settings
        subjects = self.store.subjects()
        self._refs = {r.subject: (r.image, r.cube) for r in subjects.itertuples(index=False)}
        self._labels = subjects[["subject", "label"]]
        self._score_frame = queue_scores_from_store(self.store, s.source, s.method)
        self._scores = dict(zip(self._score_frame["subject"], self._score_frame["score"]))

    def _refill(self) -> None:
        s = self.settings
        queue = grading_queue(self._score_frame, queries.grades(self.store), self.user, threshold=s.score_cut,
                              n_graders=s.n_graders, subjects=self._labels)
        self._queue = queue["subject"].tolist()

    def _advance(self) -> None:
        self._refill()  # other experts grade meanwhile: a subject may have filled up
        if self.current is not None and self.current.subject in self._queue:
            self._queue.remove(self.current.subject)
        nxt = self._queue.pop(0) if self._queue else None
        self.current = None if nxt is None else Shown(nxt, self._read_image(nxt), shown_at=time.monotonic())

    @property
    def remaining(self) -> int:
        """Subjects still waiting for this expert, the one shown included."""
        return len(self._queue) + (self.current is not None)

    def grade(self, grade: int) -> str:
        """Store this expert's grade (0-3) of the subject shown and move on; returns the grade id."""
        if self.current is None:
            raise ValueError("nothing to grade")
        subject = self.current.subject
        grade_id = self.store.add_grade(self.user, subject, grade)
        self.last = (subject, int(grade))
        self.n_done += 0 if self._regrading else 1
        self._regrading = False
        self.current = None
        self._advance()
        return grade_id

    def back(self) -> bool:
        """Show the subject just graded again, to change its grade (a new grade row; the latest counts).
        Returns False when there is nothing to go back to."""
        if self.last is None:
            return False
        subject = self.last[0]
        if self.current is not None:
            self._queue.insert(0, self.current.subject)
        self.current = Shown(subject, self._read_image(subject), shown_at=time.monotonic())
        self.last = None
        self._regrading = True
        return True

    def consensus_of(self, subject: str) -> Consensus | None:
        """The consensus of ``subject`` so far (None without grades)."""
        g = queries.grades(self.store)
        row = consensus(g[g["subject"] == subject])
        if row.empty:
            return None
        r = row.iloc[0]
        return Consensus(float(r["mean_grade"]), str(r["grade_class"]), int(r["n_graders"]))

    def before_grading(self) -> dict[str, object]:
        """What the page may show about the current subject before this expert grades it: nothing
        when grading is blind, else the queue score and the consensus so far."""
        if self.settings.blind or self.current is None:
            return {}
        return {"score": self._scores.get(self.current.subject),
                "consensus": self.consensus_of(self.current.subject)}

    def after_grading(self) -> Consensus | None:
        """The consensus of the subject just graded, own grade included (None when blind)."""
        if self.settings.blind or self.last is None:
            return None
        return self.consensus_of(self.last[0])


def graded_by(store: Store, user: str) -> pd.DataFrame:
    """This expert's latest grades: subject, grade, created_at (newest first)."""
    g = queries.grades(store)
    return g[g["user_id"] == user].sort_values("created_at", ascending=False)[["subject", "grade", "created_at"]]
