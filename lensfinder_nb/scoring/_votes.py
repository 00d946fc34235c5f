"""Votes as integer-coded arrays: the one preparation step every aggregator shares.

Conventions (see ``docs/scoring.md``):

* retracted votes (``retracted_at`` not null) are dropped;
* votes are put in time order: ``created_at``, ties broken by ``seq`` (arrival order);
  without a ``seq`` column the row position stands in for it;
* only a person's first vote on a subject (in that order) counts.  This is the counting rule
  of the store (the ``counted_votes`` view, :mod:`lensfinder_nb.store.views`), applied here in
  numpy to every vote source: a store (:func:`~lensfinder_nb.scoring.load_votes`, where it is
  several times faster than the view at millions of votes), files, Panoptes exports,
  simulations; a test checks that it agrees with the view;
* users are coded in sorted-name order and subjects in sorted-id order, so the result
  does not depend on the order of the input rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InvalidInput

__all__ = ["CodedVotes", "code_votes", "as_coded", "assign_status", "STATUSES"]

STATUSES = ("detected", "rejected", "undecided")
_REQUIRED = ("user_id", "subject", "answer", "created_at")


@dataclass(frozen=True)
class CodedVotes:
    """Counted votes in time order plus the subject and user tables they index.

    Attributes
    ----------
    user, subject : int32 arrays, shape (n_votes,)
        Codes into ``users`` and ``subjects``.
    answer : int8 array, shape (n_votes,)
        1 = "lens", 0 = "not a lens".
    time_us : int64 array, shape (n_votes,)
        ``created_at`` in microseconds since 1970 (for trajectories).
    users : object array, shape (n_users,)
        User ids, sorted.
    subjects : object array, shape (n_subjects,)
        Subject ids, sorted.
    labels : int8 array, shape (n_subjects,)
        1 = simulated lens, 0 = known non-lens, -1 = unknown.
    """

    user: np.ndarray
    subject: np.ndarray
    answer: np.ndarray
    time_us: np.ndarray
    users: np.ndarray
    subjects: np.ndarray
    labels: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_subjects(self) -> int:
        return len(self.subjects)

    @property
    def vote_label(self) -> np.ndarray:
        """Label of the subject of each vote, int8 shape (n_votes,)."""
        return self.labels[self.subject]

    def votes_per_subject(self) -> np.ndarray:
        """Counted votes per subject, int64 shape (n_subjects,)."""
        return np.bincount(self.subject, minlength=self.n_subjects)

    @classmethod
    def from_codes(cls, user: np.ndarray, subject: np.ndarray, answer: np.ndarray, time_us: np.ndarray,
                   tiebreak: np.ndarray, users: np.ndarray, subjects: np.ndarray,
                   labels: np.ndarray) -> "CodedVotes":
        """Order by (time_us, tiebreak), keep first votes per (user, subject); codes must be valid."""
        user = np.asarray(user, dtype=np.int32)
        subject = np.asarray(subject, dtype=np.int32)
        time_us = np.asarray(time_us, dtype=np.int64)
        order = np.lexsort((np.asarray(tiebreak), time_us))  # fast: stored votes come nearly in order
        user, subject = user[order], subject[order]
        keep = first_occurrences(user.astype(np.int64) * max(len(subjects), 1) + subject)
        if keep is not None:
            order, user, subject = order[keep], user[keep], subject[keep]
        return cls(user=user, subject=subject, answer=np.asarray(answer, dtype=np.int8)[order],
                   time_us=time_us[order], users=np.asarray(users, dtype=object),
                   subjects=np.asarray(subjects, dtype=object), labels=np.asarray(labels, dtype=np.int8))


def first_occurrences(key: np.ndarray) -> np.ndarray | None:
    """Mask of the first occurrence of each value of ``key`` (int64), or None if all are distinct.

    A hash table (pandas) rather than sorting: faster than ``np.unique(key, return_index=True)``
    on 10 million votes.
    """
    if len(key) < 100_000:
        _, first = np.unique(key, return_index=True)   # first occurrence in time order
        if len(first) == len(key):
            return None
        keep = np.zeros(len(key), dtype=bool)
        keep[first] = True
        return keep
    repeat = pd.Series(key, copy=False).duplicated(keep="first").to_numpy()
    return ~repeat if repeat.any() else None


def code_votes(votes: pd.DataFrame, subjects: pd.DataFrame) -> CodedVotes:
    """Prepare a votes frame (store columns) and a subjects frame (subject, label) for scoring.

    Raises ``ValueError`` for missing columns, answers other than 0/1, or votes on
    subjects absent from ``subjects``.
    """
    missing = [c for c in _REQUIRED if c not in votes.columns]
    if missing:
        raise ValueError(f"votes need the columns {missing}")
    if "subject" not in subjects.columns or "label" not in subjects.columns:
        raise ValueError("subjects need the columns subject and label")
    if "retracted_at" in votes.columns:
        votes = votes[votes["retracted_at"].isna()]
    subj = subjects[["subject", "label"]].sort_values("subject", kind="stable")
    if subj["subject"].duplicated().any():
        raise ValueError(f"subject {subj['subject'][subj['subject'].duplicated()].iloc[0]!r} appears twice")
    labels = subj["label"].to_numpy(dtype=np.int8)
    if not np.isin(labels, (-1, 0, 1)).all():
        raise ValueError("subject labels must be 1, 0 or -1")
    index = pd.Index(subj["subject"].astype(object))
    s_code = _codes(votes["subject"], index)
    if (s_code < 0).any():
        unknown = pd.unique(votes["subject"].to_numpy()[s_code < 0])[:5]
        raise ValueError("votes on unknown subject(s): " + ", ".join(repr(x) for x in unknown))
    users = pd.Index(pd.unique(votes["user_id"].dropna())).astype(object).sort_values()
    u_code = _codes(votes["user_id"], users)
    if (u_code < 0).any():
        raise ValueError("votes with a missing user_id")
    answer = votes["answer"].to_numpy()
    if len(answer) and not np.isin(answer, (0, 1)).all():
        raise ValueError("answers must be 1 (lens) or 0 (not a lens)")
    time_us = pd.to_datetime(votes["created_at"]).to_numpy(dtype="datetime64[us]").astype(np.int64)
    tiebreak = votes["seq"].to_numpy(dtype=np.int64) if "seq" in votes.columns else np.arange(len(votes))
    return CodedVotes.from_codes(u_code, s_code, answer, time_us, tiebreak, np.asarray(users, dtype=object),
                                 index.to_numpy(dtype=object), labels)


def _codes(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each value in ``index`` (-1 if absent); fast for categorical columns."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cat = index.get_indexer(values.cat.categories.astype(object))
        if len(cat) == 0:
            return np.full(len(values), -1, dtype=np.int64)
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, cat[codes], -1)
    return index.get_indexer(values.astype(object))


def as_coded(votes: pd.DataFrame | CodedVotes, subjects: pd.DataFrame | None = None) -> CodedVotes:
    """``votes`` itself if already coded, else :func:`code_votes` (then ``subjects`` is required)."""
    if isinstance(votes, CodedVotes):
        return votes
    if subjects is None:
        raise ValueError("subjects (subject, label) are needed to score a votes frame")
    return code_votes(votes, subjects)


def assign_status(probability: np.ndarray, n_votes: np.ndarray, detect: float, reject: float,
                  min_votes: int = 0) -> np.ndarray:
    """'detected' where p > detect, 'rejected' where p < reject, else 'undecided'.

    Subjects with fewer than ``min_votes`` counted votes stay 'undecided'.
    """
    if not reject <= detect:
        raise InvalidInput(f"the rejection threshold {reject} is above the detection threshold {detect}")
    status = np.full(len(probability), "undecided", dtype=object)
    enough = np.asarray(n_votes) >= min_votes
    status[(probability > detect) & enough] = "detected"
    status[(probability < reject) & enough] = "rejected"
    return status


def scores_frame(coded: CodedVotes, probability: np.ndarray, detect: float, reject: float,
                 min_votes: int = 0) -> pd.DataFrame:
    """The standard scores frame: subject, probability, n_votes, status (one row per subject)."""
    n = coded.votes_per_subject()
    return pd.DataFrame({
        "subject": coded.subjects,
        "probability": np.asarray(probability, dtype=np.float64),
        "n_votes": n.astype(np.int64),
        "status": assign_status(probability, n, detect, reject, min_votes),
    })


def expit(x: np.ndarray) -> np.ndarray:
    """Logistic function 1 / (1 + exp(-x)) without overflow warnings."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def logit(p: float) -> float:
    """ln(p / (1 - p)) for 0 < p < 1."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"a prior probability must be strictly between 0 and 1, got {p}")
    return float(np.log(p / (1.0 - p)))
