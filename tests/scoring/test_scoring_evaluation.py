"""Evaluation against a known truth: every figure checked on a case counted by hand or by brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.scoring import completeness_at_fpr, completeness_purity, evaluate, roc_auc
from lensfinder_nb.scoring.analysis import hidden_lens_recovery, roc_curve


def pairwise_auc(p: np.ndarray, y: np.ndarray) -> float:
    """AUC the slow, obvious way: over every (lens, non-lens) pair, 1 if the lens scores higher, 1/2 on a tie."""
    pos, neg = p[y == 1][:, None], p[y == 0][None, :]
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


def test_auc_counted_by_hand_with_ties():
    # lenses 0.2 and 0.9, non-lenses 0.2 and 0.6: pairs (0.2, 0.2) tie 1/2, (0.2, 0.6) 0,
    # (0.9, 0.2) 1, (0.9, 0.6) 1  ->  2.5 / 4
    p, y = np.array([0.2, 0.2, 0.6, 0.9]), np.array([0, 1, 0, 1])
    assert roc_auc(p, y) == 0.625
    assert roc_auc(-p, y) == 1 - 0.625                    # the reversed ranker
    assert roc_auc(np.ones(4), y) == 0.5                  # all tied: no information
    assert roc_auc(np.array([0.1, 0.9]), np.array([0, 1])) == 1.0
    assert np.isnan(roc_auc(p, np.ones(4))) and np.isnan(roc_auc(p, np.zeros(4)))


@pytest.mark.parametrize("seed", range(4))
def test_auc_equals_the_pairwise_count(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    p = np.round(rng.random(300) + 0.3 * y, 2)            # rounded: many ties
    assert roc_auc(p, y) == pytest.approx(pairwise_auc(p, y), abs=1e-12)


def test_roc_curve_by_hand_and_its_area_is_the_auc():
    p, y = np.array([0.9, 0.8, 0.8, 0.3, 0.1]), np.array([1, 1, 0, 0, 1])
    fpr, tpr = roc_curve(p, y)
    # thresholds 0.9, 0.8 (one lens and one non-lens tie), 0.3, 0.1
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 1, 1])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 2 / 3, 2 / 3, 1])
    area = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)
    assert area == pytest.approx(roc_auc(p, y)) == pytest.approx(pairwise_auc(p, y))


def test_completeness_purity_and_completeness_at_fpr_by_hand():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])   # 4 lenses, 10 non-lenses
    detected = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], bool)
    assert completeness_purity(detected, y) == (0.75, 0.75)
    comp, pur = completeness_purity(np.zeros(14, bool), y)
    assert comp == 0.0 and np.isnan(pur)
    p = np.array([0.95, 0.7, 0.6, 0.1, 0.9, 0.6, 0.4, 0.3, 0.3, 0.2, 0.2, 0.1, 0.05, 0.0])
    # FPR 10 %: one non-lens may pass, so the threshold is the second-highest non-lens score (0.6):
    # lenses strictly above it are 0.95 and 0.7 (the lens tied at 0.6 is not: ties are never split)
    assert completeness_at_fpr(p, y, 0.1) == 0.5
    assert completeness_at_fpr(p, y, 0.15) == 0.5                # 1.5 non-lenses: still only one
    assert completeness_at_fpr(p, y, 0.0) == 0.25                # only above 0.9
    assert completeness_at_fpr(p, y, 1.0) == 1.0
    scores = pd.DataFrame({"subject": [f"s{i}" for i in range(14)], "probability": p,
                           "status": np.where(detected, "detected", "undecided")})
    e = evaluate(scores, pd.Series(y, index=scores["subject"]), fpr=0.1)
    assert e == {"completeness": 0.75, "purity": 0.75, "auc": pytest.approx(pairwise_auc(p, y)),
                 "completeness@fpr=0.1": 0.5}


def test_hidden_lens_recovery_counts_a_planted_case():
    truth = pd.Series([1, 1, 1, 0, 0, 0, 0], index=[f"u{i}" for i in range(7)])
    # "good" detects two of the three hidden lenses and one non-lens; the training subject t0 is
    # detected too but is not in the truth, so it must not count
    good = pd.DataFrame({"subject": ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "t0"],
                         "probability": [0.99, 0.97, 0.4, 0.98, 0.1, 0.2, 0.3, 0.999],
                         "status": ["detected", "detected", "undecided", "detected", "rejected", "rejected",
                                    "undecided", "detected"]})
    blind = good.assign(probability=0.5, status="undecided")
    got = hidden_lens_recovery({"good": good, "blind": blind}, truth).set_index("method")
    assert got.loc["good"].to_dict() == {"hidden": 3, "detected": 2, "false_detections": 1, "in_top": 2}
    # all tied: the top three by subject id are u0, u1, u2, the three lenses
    assert got.loc["blind"].to_dict() == {"hidden": 3, "detected": 0, "false_detections": 0, "in_top": 3}
