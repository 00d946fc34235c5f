"""Expert grading's pure rules: classes, consensus, Krippendorff's alpha, each grader against the others,
the queue and the graded catalogue; expected values worked out by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.scoring.grading import (CATALOGUE_COLUMNS, consensus, grade_class, graded_catalogue,
                                           grader_agreement, grading_queue, krippendorff_alpha, queue_scores)


def _grades(rows):
    return pd.DataFrame(rows, columns=["user_id", "subject", "grade"])


def test_classes_follow_the_written_boundaries():
    assert [grade_class(x) for x in (3, 2.6, 2.5, 2.0, 1.5, 1.4, 0)] == ["A", "A", "B", "B", "B", "C", "C"]


def test_consensus_is_the_mean_of_each_graders_latest_grade():
    g = pd.DataFrame({"user_id": ["ann", "bob", "cy", "ann", "bob", "ann"],
                      "subject": ["s1", "s1", "s1", "s2", "s2", "s2"],
                      "grade": [3, 2, 3, 3, 1, 0],
                      "created_at": pd.to_datetime(["2026-01-01T10:00"] * 5 + ["2026-01-01T11:00"])})
    c = consensus(g).set_index("subject")
    # s1: (3 + 2 + 3) / 3 = 2.667 -> A; s2: Ann regraded 3 -> 0, so (0 + 1) / 2 = 0.5 -> C
    assert c.loc["s1", "mean_grade"] == pytest.approx(8 / 3)
    assert (c.loc["s1", "grade_class"], c.loc["s1", "n_graders"]) == ("A", 3)
    assert (c.loc["s2", "mean_grade"], c.loc["s2", "grade_class"], c.loc["s2", "n_graders"]) == (0.5, "C", 2)
    assert list(c.index) == ["s1", "s2"]  # best first


def test_alpha_is_one_for_full_agreement():
    g = _grades([("a", "s1", 3), ("b", "s1", 3), ("a", "s2", 0), ("b", "s2", 0)])
    assert krippendorff_alpha(g) == pytest.approx(1.0)


def test_ordinal_alpha_matches_the_hand_computation():
    # units s1 (3, 2), s2 (0, 0), s3 (3, 3): n = 6 values, n_0 = 2, n_2 = 1, n_3 = 3.
    # ordinal delta^2(c, k) = (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2:
    #   d(2,3) = (4 - 2)^2 = 4, d(0,2) = (3 - 1.5)^2 = 2.25, d(0,3) = (6 - 2.5)^2 = 12.25
    # observed: o_23 = o_32 = 1 -> 8;  expected: 2 * (2*1*2.25 + 2*3*12.25 + 1*3*4) = 180
    # alpha = 1 - (n - 1) * 8 / 180 = 1 - 40/180 = 7/9
    g = _grades([("a", "s1", 3), ("b", "s1", 2), ("a", "s2", 0), ("b", "s2", 0), ("a", "s3", 3), ("b", "s3", 3)])
    assert krippendorff_alpha(g) == pytest.approx(7 / 9)


def test_alpha_uses_only_subjects_with_two_grades_and_is_nan_without_any():
    # s4 has one grade: not pairable, it must not change the 7/9 above
    g = _grades([("a", "s1", 3), ("b", "s1", 2), ("a", "s2", 0), ("b", "s2", 0), ("a", "s3", 3), ("b", "s3", 3),
                 ("a", "s4", 1)])
    assert krippendorff_alpha(g) == pytest.approx(7 / 9)
    assert math.isnan(krippendorff_alpha(_grades([("a", "s1", 3), ("b", "s2", 0)])))


def test_each_grader_is_compared_with_the_mean_of_the_others():
    g = _grades([("ann", "s1", 3), ("bob", "s1", 2), ("cy", "s1", 3), ("ann", "s2", 0), ("bob", "s2", 1),
                 ("dan", "s3", 2)])
    a = grader_agreement(g).set_index("user_id")
    # ann: s1 |3 - 2.5| = 0.5, s2 |0 - 1| = 1 -> 0.75, both within one, bias (0.5 - 1) / 2 = -0.25
    assert a.loc["ann", "mean_abs_diff"] == pytest.approx(0.75)
    assert a.loc["ann", "within_one"] == 1.0 and a.loc["ann", "bias"] == pytest.approx(-0.25)
    # bob: s1 |2 - 3| = 1, s2 |1 - 0| = 1 -> 1.0, bias (-1 + 1) / 2 = 0
    assert a.loc["bob", "mean_abs_diff"] == pytest.approx(1.0) and a.loc["bob", "bias"] == pytest.approx(0.0)
    assert a.loc["cy", "mean_abs_diff"] == pytest.approx(0.5) and a.loc["cy", "n_compared"] == 1
    assert a.loc["dan", "n_compared"] == 0 and math.isnan(a.loc["dan", "mean_abs_diff"])


def test_within_one_counts_only_close_grades():
    g = _grades([("a", "s1", 3), ("b", "s1", 0), ("a", "s2", 2), ("b", "s2", 2)])
    a = grader_agreement(g).set_index("user_id")
    assert a.loc["a", "within_one"] == 0.5 and a.loc["a", "mean_abs_diff"] == pytest.approx(1.5)


# ---------------------------------------------------------------------- the queue
def test_queue_keeps_scores_above_threshold_best_first_and_drops_full_or_own_subjects():
    scores = pd.DataFrame({"subject": ["a", "b", "c", "d", "e"], "score": [0.9, 0.4, 0.99, 0.7, 0.95]})
    grades = _grades([("x", "c", 3), ("y", "c", 2),   # c has two graders: full when N = 2
                      ("me", "e", 1),                 # e was graded by me
                      ("x", "d", 2)])
    q = grading_queue(scores, grades, "me", threshold=0.5, n_graders=2)
    assert q["subject"].tolist() == ["a", "d"]
    assert q["n_graders"].tolist() == [0, 1]
    q = grading_queue(scores, grades, "me", threshold=0.5, n_graders=6)
    assert q["subject"].tolist() == ["c", "a", "d"]
    q = grading_queue(scores, grades, "newcomer", threshold=0.8, n_graders=6,
                      subjects=pd.DataFrame({"subject": list("abcde"), "label": [-1, -1, -1, -1, 1]}))
    assert q["subject"].tolist() == ["c", "a"]  # e is a training subject


def test_queue_scores_by_source():
    crowd = pd.DataFrame({"subject": ["a", "b"], "probability": [0.2, 0.9]})
    machine = pd.DataFrame({"subject": ["a", "c"], "score": [0.8, 0.3]})
    assert queue_scores("crowd", crowd, machine)["score"].tolist() == [0.2, 0.9]
    assert queue_scores("machine", crowd, machine)["subject"].tolist() == ["a", "c"]
    both = queue_scores("combined", crowd, machine).set_index("subject")["score"].to_dict()
    assert both == {"a": 0.8, "b": 0.9, "c": 0.3}
    comb = pd.DataFrame({"subject": ["a"], "probability": [0.6]})
    assert queue_scores("combined", crowd, machine, comb)["score"].tolist() == [0.6]
    with pytest.raises(ValueError, match="source"):
        queue_scores("votes", crowd)


# ---------------------------------------------------------------------- the catalogue
def test_catalogue_rows_columns_and_models_join():
    grades = _grades([("a", "s1", 3), ("b", "s1", 3), ("a", "s2", 1), ("b", "s2", 2)])
    subjects = pd.DataFrame({"subject": ["s1", "s2", "s3"], "ra": [10.0, 11.0, 12.0], "dec": [1.0, 2.0, 3.0],
                             "label": [-1, -1, -1]})
    crowd = pd.DataFrame({"subject": ["s1", "s3"], "probability": [0.97, 0.5]})
    machine = pd.DataFrame({"subject": ["s2"], "score": [0.4]})
    known = pd.DataFrame({"subject": ["s1"], "known_name": ["J0101+0100"]})
    models = pd.DataFrame({"subject": ["s1"], "theta_E": [1.2], "theta_E_err": [0.05], "e1": [0.1], "e2": [0.0],
                           "gamma1": [0.01], "gamma2": [-0.02], "center_x": [0.0], "center_y": [0.1],
                           "n_models": [2]})
    cat = graded_catalogue(grades, subjects, crowd=crowd, machine=machine, known=known, models=models)
    assert list(cat.columns) == CATALOGUE_COLUMNS
    assert cat["subject"].tolist() == ["s1", "s2"]           # s3 was never graded
    assert cat["grade_class"].tolist() == ["A", "B"] and cat["mean_grade"].tolist() == [3.0, 1.5]
    assert cat["known_lens"].tolist() == ["J0101+0100", ""]
    assert cat.loc[0, "crowd_score"] == 0.97 and np.isnan(cat.loc[1, "crowd_score"])
    assert cat.loc[1, "machine_score"] == 0.4
    assert cat.loc[0, "theta_E"] == 1.2 and np.isnan(cat.loc[1, "theta_E"])
    assert cat["n_models"].tolist() == [2, 0]
    # units (3, 3) and (1, 2): n_1 = n_2 = 1, n_3 = 2; d(1,2) = (2 - 1)^2 = 1, d(1,3) = (4 - 1.5)^2 = 6.25,
    # d(2,3) = (3 - 1.5)^2 = 2.25; observed 2 * 1 = 2; expected 2 * (1 + 2*6.25 + 2*2.25) = 36
    # alpha = 1 - 3 * 2 / 36 = 5/6
    assert cat["agreement_alpha"].tolist() == pytest.approx([5 / 6, 5 / 6])
    no_models = graded_catalogue(grades, subjects, known=known)
    assert no_models["theta_E"].isna().all() and (no_models["n_models"] == 0).all()


def test_store_catalogue_carries_the_consensus_of_stored_models(store):
    """A refined model saved for a graded subject reaches the catalogue; an ungraded subject's does not."""
    from lensfinder_nb.scoring.grading import catalogue_from_store

    store.add_grade("e-ann", "S008", 3)
    store.add_grade("e-bo", "S008", 2)
    store.add_lens_model("ada", "S008", {"theta_e_arcsec": 1.4, "e1": 0.1, "e2": 0.0, "gamma1": 0.0,
                                         "gamma2": 0.0, "center_x": 0.0, "center_y": 0.0},
                         theta_e_err=0.05, quality=1.1, refined=True)
    store.add_lens_model("ada", "S009", {"theta_e_arcsec": 2.0}, refined=False)
    cat = catalogue_from_store(store, match_known=False).set_index("subject")
    assert list(cat.index) == ["S008"]
    assert cat.loc["S008", "theta_E"] == pytest.approx(1.4) and cat.loc["S008", "n_models"] == 1
    assert cat.loc["S008", "grade_class"] == "B" and cat.loc["S008", "mean_grade"] == 2.5
