"""Volunteer metrics from training subjects (label 1 = simulated lens, 0 = known non-lens).

Counts use the same votes as the aggregators: not retracted, and only a person's first
vote on a subject.  Ratios whose denominator is zero are NaN (no evidence), never 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._votes import CodedVotes, as_coded

__all__ = ["volunteer_metrics", "swap_agent", "skill_bits", "confusion_matrices", "PSEUDO_COUNTS"]

#: SWAP's agent prior: 2 right and 2 wrong pseudo-votes on each class, i.e. PL = PD = 0.5 at start.
PSEUDO_COUNTS = (2.0, 4.0)
_CLIP = (0.01, 0.99)


def swap_agent(correct: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """SWAP's smoothed rate clip((2 + correct) / (4 + seen), 0.01, 0.99); arrays of any shape.

    >>> swap_agent(np.array([0, 3, 100]), np.array([0, 4, 100])).round(3).tolist()  # none seen; 3 of 4; 100 of 100
    [0.5, 0.625, 0.981]
    >>> float(swap_agent(0, 1000))                 # never right in 1000: clipped
    0.01
    """
    a, b = PSEUDO_COUNTS
    return np.clip((a + np.asarray(correct, dtype=np.float64)) / (b + np.asarray(seen, dtype=np.float64)), *_CLIP)


def _xlog2x(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    pos = x > 0
    out[pos] = x[pos] * np.log2(x[pos])
    return out


def skill_bits(pl: np.ndarray, pd_: np.ndarray, p: float = 0.5) -> np.ndarray:
    """Expected information gain (bits) from one vote on a subject with lens probability ``p``.

    0 for a random volunteer (PL = PD = 0.5), 1 for a perfect one at p = 0.5.

    >>> float(skill_bits(np.array(1.0), np.array(1.0)))
    1.0
    >>> float(skill_bits(np.array(0.5), np.array(0.5)))
    0.0
    """
    pl, pd_ = np.asarray(pl, dtype=np.float64), np.asarray(pd_, dtype=np.float64)
    gain = (p * (_xlog2x(pl) + _xlog2x(1 - pl)) + (1 - p) * (_xlog2x(pd_) + _xlog2x(1 - pd_))
            - _xlog2x(p * pl + (1 - p) * (1 - pd_)) - _xlog2x(p * (1 - pl) + (1 - p) * pd_))
    return np.maximum(gain, 0.0) + 0.0  # rounding can give -1e-17; + 0.0 turns -0.0 into 0.0


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(len(num), np.nan)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


def volunteer_metrics(votes: pd.DataFrame | CodedVotes, subjects: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per volunteer with their training performance and activity.

    Columns: user_id; TP, FN (lens / not-lens votes on label-1 subjects), FP, TN (on
    label-0); accuracy, precision, recall, F1 (NaN when the denominator is 0); PL, PD
    (SWAP agent, :func:`swap_agent`, 0.5 without training); skill (bits, :func:`skill_bits`
    of PL, PD); contribution (skill x n_test, bits); n_votes, n_training, n_test.
    Sorted by user_id.

    >>> votes = pd.DataFrame({"user_id": ["ada"] * 4 + ["bob"], "subject": ["L1", "L2", "N1", "U1", "L1"],
    ...                       "answer": [1, 0, 0, 1, 1], "created_at": pd.Timestamp("2024-05-01")})
    >>> subjects = pd.DataFrame({"subject": ["L1", "L2", "N1", "U1"], "label": [1, 1, 0, -1]})
    >>> m = volunteer_metrics(votes, subjects).set_index("user_id")
    >>> m.loc["ada", ["TP", "FN", "FP", "TN", "n_test"]].tolist()       # one lens missed, one unknown
    [1, 1, 0, 1, 1]
    >>> m.loc["ada", ["accuracy", "PL", "PD"]].astype(float).round(3).tolist()   # PL = (2+1)/(4+2)
    [0.667, 0.5, 0.6]
    """
    c = as_coded(votes, subjects)
    lab = c.vote_label
    n = c.n_users

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(c.user[mask], minlength=n).astype(np.int64)

    lens, yes = lab == 1, c.answer == 1
    tp, fn = count(lens & yes), count(lens & ~yes)
    fp, tn = count((lab == 0) & yes), count((lab == 0) & ~yes)
    n_test = count(lab == -1)
    n_train = tp + fn + fp + tn
    pl, pdd = swap_agent(tp, tp + fn), swap_agent(tn, tn + fp)
    skill = skill_bits(pl, pdd)
    return pd.DataFrame({
        "user_id": c.users,
        "TP": tp, "FP": fp, "TN": tn, "FN": fn,
        "accuracy": _ratio(tp + tn, n_train),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "F1": _ratio(2 * tp, 2 * tp + fp + fn),
        "PL": pl, "PD": pdd,
        "skill": skill,
        "contribution": skill * n_test,
        "n_votes": n_train + n_test, "n_training": n_train, "n_test": n_test,
    })


def confusion_matrices(metrics: pd.DataFrame) -> np.ndarray:
    """Confusion matrices from :func:`volunteer_metrics`, int64 shape (n_users, 2, 2).

    Axes: (user, true class, answer), class 0 = not a lens, 1 = lens:
    ``[[TN, FP], [FN, TP]]`` for each user.

    >>> m = pd.DataFrame({"TP": [3], "FN": [1], "FP": [2], "TN": [5]})
    >>> confusion_matrices(m)[0].tolist()          # rows: truth not / lens; columns: answer not / lens
    [[5, 2], [1, 3]]
    """
    cols = metrics[["TN", "FP", "FN", "TP"]].to_numpy(dtype=np.int64)
    return cols.reshape(-1, 2, 2)
