"""Live SWAP (scoring/live_swap.py): batches of new votes applied to the state give the full SWAP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.scoring import code_votes, simulate_crowd, swap
from lensfinder_nb.scoring.live_swap import (EMPTY_TIME, LiveBatch, SubjectRows, UserRows, apply_votes, full_state,
                                             live_scores)


class MemoryState:
    """The store's side of a live update, in memory: the whole state, one batch at a time."""

    def __init__(self, subjects: pd.DataFrame) -> None:
        self.label = dict(zip(subjects["subject"], subjects["label"].astype(int)))
        self.users: dict[str, tuple[np.ndarray, int]] = {}
        self.subjects = {s: (0.0, 0) for s in self.label}
        self.pairs: set[tuple[str, str]] = set()

    def apply(self, votes: pd.DataFrame) -> int | None:
        users = pd.Index(pd.unique(votes["user_id"]))
        subj = pd.Index(pd.unique(votes["subject"]))
        got = [self.users.get(u, (np.zeros(4, np.int64), EMPTY_TIME)) for u in users]
        urows = UserRows(users.to_numpy(object), np.array([g[0] for g in got]).reshape(-1, 4),
                         np.array([g[1] for g in got], dtype=np.int64))
        srows = SubjectRows(subj.to_numpy(object), np.array([self.label[s] for s in subj], np.int8),
                            np.array([self.subjects[s][0] for s in subj]), np.array([self.subjects[s][1] for s in subj]))
        repeat = np.array([(u, s) in self.pairs for u, s in zip(votes["user_id"], votes["subject"])], dtype=bool)
        batch = LiveBatch(users.get_indexer(votes["user_id"]), subj.get_indexer(votes["subject"]),
                          votes["answer"].to_numpy(), pd.to_datetime(votes["created_at"]).to_numpy("datetime64[us]")
                          .astype(np.int64), votes["seq"].to_numpy(), repeat)
        done = apply_votes(batch, urows, srows)
        if done is None:
            return None
        urows, srows, counted = done
        for i, u in enumerate(urows.ids):
            self.users[u] = (urows.counts[i], int(urows.last_us[i]))
        for i, s in enumerate(srows.ids):
            self.subjects[s] = (float(srows.llr_sum[i]), int(srows.n_votes[i]))
        self.pairs |= set(zip(votes["user_id"], votes["subject"]))
        return counted

    def scores(self) -> pd.DataFrame:
        ids = np.array(sorted(self.subjects), dtype=object)
        rows = SubjectRows(ids, np.array([self.label[s] for s in ids], np.int8),
                           np.array([self.subjects[s][0] for s in ids]), np.array([self.subjects[s][1] for s in ids]))
        return live_scores(rows)


@pytest.fixture(scope="module")
def crowd():
    c = simulate_crowd(n_votes=30_000, n_users=200, n_subjects=3_000, n_training=300, seed=3, categorical=False)
    votes = c.votes.sort_values("created_at", kind="stable").reset_index(drop=True)
    votes["seq"] = np.arange(1, len(votes) + 1)
    # a few second opinions: later votes of a person on a subject they already voted on never count
    again = votes.sample(300, random_state=1).assign(answer=lambda f: 1 - f["answer"])
    again["created_at"] = pd.to_datetime(again["created_at"]) + pd.Timedelta("3D")
    votes = pd.concat([votes, again]).sort_values("created_at", kind="stable").reset_index(drop=True)
    votes["seq"] = np.arange(1, len(votes) + 1)
    return votes, c.subjects[["subject", "label"]]


def _assert_same(live: pd.DataFrame, full: pd.DataFrame) -> None:
    live, full = live.set_index("subject"), full.set_index("subject").loc[live["subject"]]
    np.testing.assert_allclose(live["probability"], full["probability"], rtol=0, atol=1e-9)
    assert (live["n_votes"].to_numpy() == full["n_votes"].to_numpy()).all()
    assert (live["status"].to_numpy() == full["status"].to_numpy()).all()


def test_batches_of_new_votes_give_the_full_swap(crowd):
    votes, subjects = crowd
    state = MemoryState(subjects)
    cuts = [0, 1, 17, 2_000, 9_000, 9_001, 20_000, len(votes)]   # one vote, a few, thousands
    counted = 0
    for a, b in zip(cuts[:-1], cuts[1:]):
        got = state.apply(votes.iloc[a:b])
        assert got is not None
        counted += got
        _assert_same(state.scores(), swap(votes.iloc[:b], subjects))
    full = swap(votes, subjects)
    assert counted == full["n_votes"].sum() < len(votes)   # second opinions were left out
    assert (full["status"] != "undecided").any()


def test_a_batch_shuffled_inside_is_applied_in_time_order(crowd):
    votes, subjects = crowd
    state = MemoryState(subjects)
    state.apply(votes.iloc[:10_000])
    assert state.apply(votes.iloc[10_000:14_000].sample(frac=1.0, random_state=0)) is not None
    _assert_same(state.scores(), swap(votes.iloc[:14_000], subjects))


def test_a_vote_older_than_an_applied_one_of_the_same_person_asks_for_a_recompute(crowd):
    votes, subjects = crowd
    state = MemoryState(subjects)
    state.apply(votes.iloc[:5_000])
    late = votes.iloc[[100]].copy()        # same person, earlier than their votes already applied
    late["subject"] = votes.loc[~votes["subject"].isin(votes["subject"].iloc[:5_000]), "subject"].iloc[0]
    late["seq"] = len(votes) + 1
    before = dict(state.subjects)
    assert state.apply(late) is None
    assert state.subjects == before        # nothing changed
    # another person's vote at that time is fine: only each person's own order matters
    other = late.assign(user_id="someone-new")
    assert state.apply(other) == 1


def test_the_full_state_scores_are_swap(crowd):
    votes, subjects = crowd
    coded = code_votes(votes, subjects)
    users, subj = full_state(coded)
    _assert_same(live_scores(subj), swap(coded))
    assert users.counts.sum(axis=0)[0] == (coded.vote_label == 1).sum()
    assert (users.last_us > EMPTY_TIME).all()
