"""How good are the scores?  Completeness, purity, ROC AUC against a known truth.

``truth`` arrays are 1 (lens) / 0 (not a lens), aligned with the probabilities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["roc_auc", "completeness_at_fpr", "completeness_purity", "evaluate"]


def roc_auc(probability: np.ndarray, truth: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count one half); NaN without both classes.

    >>> roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    0.75
    """
    p, y = np.asarray(probability, dtype=np.float64), np.asarray(truth).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = pd.Series(p).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def completeness_at_fpr(probability: np.ndarray, truth: np.ndarray, fpr: float) -> float:
    """Largest fraction of lenses above a threshold that lets at most ``fpr`` of non-lenses through.

    The threshold is "p > t" with t one of the non-lens probabilities, so ties are never split.

    >>> p, truth = np.array([0.9, 0.8, 0.7, 0.3, 0.2]), np.array([1, 0, 1, 0, 0])
    >>> completeness_at_fpr(p, truth, 0.0), completeness_at_fpr(p, truth, 0.5)  # 0 or 1 of 3 non-lenses
    (0.5, 1.0)
    """
    p, y = np.asarray(probability, dtype=np.float64), np.asarray(truth).astype(bool)
    neg = np.sort(p[~y])[::-1]
    if y.sum() == 0:
        return float("nan")
    allowed = int(np.floor(fpr * len(neg) + 1e-9))
    if allowed >= len(neg):
        return 1.0
    t = neg[allowed]                      # at most `allowed` negatives are strictly above t
    return float(np.mean(p[y] > t))


def completeness_purity(detected: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(completeness, purity) of a boolean detection mask; NaN when undefined.

    >>> completeness_purity(np.array([True, True, False, False]), np.array([1, 0, 1, 0]))
    (0.5, 0.5)
    """
    d, y = np.asarray(detected).astype(bool), np.asarray(truth).astype(bool)
    tp = int((d & y).sum())
    comp = tp / y.sum() if y.sum() else float("nan")
    pur = tp / d.sum() if d.sum() else float("nan")
    return float(comp), float(pur)


def evaluate(scores: pd.DataFrame, truth: pd.Series, fpr: float = 0.01) -> dict[str, float]:
    """Completeness, purity (status 'detected'), ROC AUC and completeness at ``fpr``.

    ``truth``: 1/0 indexed by subject; only those subjects are evaluated.
    """
    s = scores.set_index("subject").loc[truth.index]
    y = truth.to_numpy()
    comp, pur = completeness_purity(s["status"].to_numpy() == "detected", y)
    p = s["probability"].to_numpy()
    return {"completeness": comp, "purity": pur, "auc": roc_auc(p, y),
            f"completeness@fpr={fpr:g}": completeness_at_fpr(p, y, fpr)}
