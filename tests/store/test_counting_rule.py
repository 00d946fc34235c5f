"""One counting rule everywhere: a repeat vote of a person on a subject counts once.

The rule (``lensfinder_nb.store.views``): a vote counts when it is not retracted, and only the
first such vote of a person on a subject, by created_at then arrival.  Every consumer is asked
on the same real store, before and after the journals are folded into DuckDB.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.classify.personal import my_metrics, my_votes, progress, training_skill
from lensfinder_nb.classify.session import ClassifySession
from lensfinder_nb.scoring import code_votes, load_votes, retired_subjects, volunteer_metrics
from lensfinder_nb.scoring.analysis import activity as analysis_activity
from lensfinder_nb.scoring.metrics import skill_bits, swap_agent
from lensfinder_nb.store import queries
from lensfinder_nb.ui.teacher import activity as teacher_activity
from lensfinder_nb.ui.teacher import class_table


def _t(second: int) -> str:
    return f"2026-03-01T10:00:{second:02d}"


@pytest.fixture(params=["journal", "folded"])
def voted(store, request):
    """S000-S003 are lenses (label 1), S004-S007 non-lenses (0), S008-S011 unknown (-1)."""
    store.add_vote("ada", "S000", 1, created_at=_t(0))
    store.add_vote("ada", "S000", 0, created_at=_t(1))        # repeat: ada stays right on S000
    store.add_vote("ada", "S008", 1, created_at=_t(2))
    store.add_vote("ada", "S008", 1, created_at=_t(3))        # repeat
    store.add_vote("bob", "S008", 1, created_at=_t(4))
    first = store.add_vote("cy", "S004", 1, created_at=_t(5))
    store.retract_vote(first, "cy")
    store.add_vote("cy", "S004", 0, created_at=_t(6))         # counts: the first vote was taken back
    store.add_vote("dan", "S001", 0, created_at=_t(7))        # same time: arrival decides, this one counts
    store.add_vote("dan", "S001", 1, created_at=_t(7))
    if request.param == "folded":
        store.fold()
        assert queries.count_counted_votes(store) == 5
    return store


COUNTED = 5  # ada S000, ada S008, bob S008, cy S004 (second vote), dan S001 (first)


def test_the_view_keeps_first_live_votes(voted):
    got = voted.sql("SELECT user_id, subject, answer FROM counted_votes ORDER BY user_id, subject")
    assert got.values.tolist() == [["ada", "S000", 1], ["ada", "S008", 1], ["bob", "S008", 1],
                                   ["cy", "S004", 0], ["dan", "S001", 0]]
    assert len(voted.votes()) == 8  # the votes themselves are all kept (retracted one aside)


def test_queue_counts_once(voted):
    pool = queries.subject_pool(voted).set_index("subject")["n_votes"]
    assert pool[["S000", "S008", "S004", "S001", "S002"]].tolist() == [1, 2, 1, 1, 0]


def test_retirement_counts_people_not_votes(voted):
    voted.write_scores(pd.DataFrame({"subject": ["S008"], "probability": [0.99], "n_votes": [2],
                                     "status": ["detected"]}), "swap")
    # three live votes on S008, but only two people: not yet at three
    assert retired_subjects(voted, max_votes_detected=3) == set()
    assert retired_subjects(voted, max_votes_detected=2) == {"S008"}


def test_scoring_and_metrics_count_once(voted):
    coded = load_votes(voted)
    per_subject = dict(zip(coded.subjects, coded.votes_per_subject()))
    assert (per_subject["S000"], per_subject["S008"], per_subject["S004"]) == (1, 2, 1)
    assert len(coded.answer) == COUNTED
    m = volunteer_metrics(coded).set_index("user_id")
    assert m.loc["ada", ["n_votes", "TP", "FN"]].tolist() == [2, 1, 0]
    assert m.loc["cy", ["TN", "FP"]].tolist() == [1, 0]
    assert m.loc["dan", ["TP", "FN"]].tolist() == [0, 1]


def test_the_scoring_engine_keeps_the_same_votes_as_the_view(voted):
    """The scoring engine applies the rule in numpy (to a store's votes and to any frame); same votes."""
    view = voted.sql("SELECT user_id, subject, answer, epoch_us(created_at) AS t FROM counted_votes")
    expected = sorted(map(tuple, view.values.tolist()))

    def key(c):
        return sorted(zip(c.users[c.user], c.subjects[c.subject], c.answer.tolist(), c.time_us.tolist()))

    assert key(load_votes(voted)) == expected
    assert key(code_votes(voted.votes(include_retracted=True), voted.subjects())) == expected


def test_personal_centre_counts_once(voted):
    mine = my_votes(voted, "ada")
    assert len(mine) == 4 and mine["counted"].tolist() == [True, False, True, False]
    metrics = my_metrics(mine)
    assert (metrics["n_votes"], metrics["TP"], metrics["FN"]) == (2, 1, 0)
    assert progress(mine)["n_classified"].tolist() == [1, 2]


def test_routing_skill_counts_once(voted):
    # ada: one right vote on a lens; her repeat "not a lens" on it must not count as a miss
    expected = float(skill_bits(swap_agent(1, 1), swap_agent(0, 0)))
    assert expected > 0
    assert training_skill(voted, "ada") == pytest.approx(expected)
    assert training_skill(voted, "nobody") == 0.0


def test_session_counts_once(voted):
    assert ClassifySession(voted, "ada", seed=0).n_done == 2


def test_teacher_table_and_activity_count_once(voted):
    table = class_table(voted).set_index("user_id")
    assert table.loc["ada", "n_votes"] == 2 and table.loc["bob", "n_votes"] == 1
    bins, per = teacher_activity(voted)
    assert per == "minute" and int(bins["n"].sum()) == COUNTED
    assert int(analysis_activity(voted)["votes"].sum()) == COUNTED
    assert queries.count_counted_votes(voted) == COUNTED


def test_first_occurrences_agrees_with_sorting_at_scale():
    """The scoring engine's repeat finder (hash table above 100,000 votes) keeps the earliest row."""
    from lensfinder_nb.scoring._votes import first_occurrences

    rng = np.random.default_rng(1)
    key = rng.integers(0, 150_000, 200_000)
    keep = first_occurrences(key)
    _, first = np.unique(key, return_index=True)
    assert keep is not None and np.array_equal(np.flatnonzero(keep), np.sort(first))
    assert first_occurrences(np.arange(200_000)) is None
