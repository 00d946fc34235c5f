"""Vote fractions: plain majority (the baseline) and the skill-weighted vote.

Both give a fraction in [0, 1], not a calibrated probability, so their status thresholds
are those of a vote: detected above one half, rejected below one half, and only once a
subject has ``min_votes`` counted votes (default 5).  A subject without votes gets 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._votes import CodedVotes, as_coded, scores_frame

__all__ = ["majority", "weighted", "vote_weights", "FRACTION_DEFAULTS"]

#: Default thresholds of the fraction methods: (detect, reject, min_votes).
FRACTION_DEFAULTS = {"detect": 0.5, "reject": 0.5, "min_votes": 5}


def _fraction(c: CodedVotes, weight: np.ndarray) -> np.ndarray:
    num = np.bincount(c.subject, weights=weight * c.answer, minlength=c.n_subjects)
    den = np.bincount(c.subject, weights=weight, minlength=c.n_subjects)
    out = np.zeros(c.n_subjects)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return np.clip(out, 0.0, 1.0)


def majority(votes: pd.DataFrame | CodedVotes, subjects: pd.DataFrame | None = None, *,
             detect: float | None = None, reject: float | None = None,
             min_votes: int | None = None) -> pd.DataFrame:
    """Fraction of "lens" votes per subject; frame subject, probability, n_votes, status."""
    c = as_coded(votes, subjects)
    prob = _fraction(c, np.ones(len(c.answer)))
    return scores_frame(c, prob, *_defaults(detect, reject, min_votes))


def vote_weights(c: CodedVotes, prior_correct: float = 3.0, prior_seen: float = 4.0) -> np.ndarray:
    """Per-user weight w = max(0, 2 acc - 1), float64 shape (n_users,).

    ``acc = (prior_correct + correct training votes) / (prior_seen + training votes)``:
    a newcomer counts with accuracy 0.75 (weight 0.5), a volunteer at chance level or
    worse gets weight 0, a reliable one approaches 1.
    """
    lab = c.vote_label
    train = lab >= 0
    correct = np.bincount(c.user[train], weights=(c.answer[train] == lab[train]), minlength=c.n_users)
    seen = np.bincount(c.user[train], minlength=c.n_users)
    acc = (prior_correct + correct) / (prior_seen + seen)
    return np.maximum(0.0, 2.0 * acc - 1.0)


def weighted(votes: pd.DataFrame | CodedVotes, subjects: pd.DataFrame | None = None, *,
             detect: float | None = None, reject: float | None = None,
             min_votes: int | None = None) -> pd.DataFrame:
    """Weighted fraction sum(w a) / sum(w) with :func:`vote_weights`; 0 if all weights are 0."""
    c = as_coded(votes, subjects)
    w = vote_weights(c)[c.user]
    return scores_frame(c, _fraction(c, w), *_defaults(detect, reject, min_votes))


def _defaults(detect: float | None, reject: float | None, min_votes: int | None) -> tuple[float, float, int]:
    d = FRACTION_DEFAULTS
    return (d["detect"] if detect is None else detect, d["reject"] if reject is None else reject,
            d["min_votes"] if min_votes is None else min_votes)
