"""Live SWAP scores in the store (store/live.py), on both backends: the stored ``swap`` scores follow the
votes batch after batch, equal to a full ``lensfinder score --method swap``, and within ~2 s of a vote."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.cli import main as cli
from lensfinder_nb.store import open_store, queries
from lensfinder_nb.store.core import Store


def _class_votes(n_users: int = 30, seed: int = 0) -> pd.DataFrame:
    """A small simulated class on the twelve subjects of the store fixture, in time order."""
    rng = np.random.default_rng(seed)
    label = np.array([1, 1, 1, 1, 0, 0, 0, 0, -1, -1, -1, -1])
    truth = np.r_[label[:8], [1, 0, 0, 0]]
    rows = []
    t0 = pd.Timestamp("2026-03-01 10:00:00")
    for u in range(n_users):
        pl, pd_ = rng.uniform(0.75, 0.98, 2)
        for k, s in enumerate(rng.permutation(12)):
            right = rng.random() < (pl if truth[s] == 1 else pd_)
            rows.append({"user_id": f"stu{u:02d}", "subject": f"S{s:03d}",
                         "answer": int(truth[s] if right else 1 - truth[s]),
                         "created_at": t0 + pd.Timedelta(seconds=int(7 * k + rng.integers(0, 5))),
                         "vote_id": f"v-{u}-{s}"})
    return pd.DataFrame(rows).sort_values(["created_at", "vote_id"]).reset_index(drop=True)


def _full_cli_scores(store: Store, tmp_path) -> pd.DataFrame:
    """What `lensfinder score --method swap` gives on the same votes."""
    out = tmp_path / f"full-{time.monotonic_ns()}.csv"
    assert cli(["--db", str(store.path), "score", "--method", "swap", "--out", str(out)]) == 0
    return pd.read_csv(out)


def _assert_live_equals_full(store: Store, tmp_path) -> pd.DataFrame:
    live = queries.stored_scores(store, "swap").set_index("subject")
    full = _full_cli_scores(store, tmp_path).set_index("subject")
    assert list(live.index) == list(full.index)
    np.testing.assert_allclose(live["probability"], full["probability"], rtol=0, atol=1e-9)
    assert (live["n_votes"] == full["n_votes"]).all() and (live["status"] == full["status"]).all()
    return live


def test_live_scores_equal_a_full_score_after_every_batch(store, tmp_path):
    votes = _class_votes()
    parts = np.array_split(np.arange(len(votes)), 4)
    store.import_votes(votes.iloc[parts[0]])           # a bulk import
    store.fold()
    assert store.last_live_step.mode == "full"       # the first update builds the state
    _assert_live_equals_full(store, tmp_path)

    store.import_votes(votes.iloc[parts[1]])
    store.fold()
    assert (store.last_live_step.mode, store.last_live_step.new_votes) == ("incremental", len(parts[1]))
    _assert_live_equals_full(store, tmp_path)

    for r in votes.iloc[parts[2]].itertuples():       # one by one, as the classify page adds them
        store.add_vote(r.user_id, r.subject, r.answer, vote_id=r.vote_id, created_at=r.created_at)
    store.fold()
    _assert_live_equals_full(store, tmp_path)

    # a second opinion of a person on a subject never counts
    late = votes["created_at"].max() + pd.Timedelta(minutes=5)
    first = votes.iloc[parts[2][0]]
    store.add_vote(first.user_id, first.subject, 1 - first.answer, created_at=late)
    store.fold()
    live = _assert_live_equals_full(store, tmp_path)
    assert live.loc[first.subject, "n_votes"] == (votes.iloc[: parts[2][-1] + 1]["subject"] == first.subject).sum()

    # an undo: the retracted vote's weight leaves the score (a full recompute)
    gone = votes.iloc[parts[1][0]]
    n_before = live.loc[gone.subject, "n_votes"]
    store.retract_vote(gone.vote_id, gone.user_id)
    store.fold()
    live = _assert_live_equals_full(store, tmp_path)
    assert live.loc[gone.subject, "n_votes"] == n_before - 1

    # new subjects: scored at the prior, then voted on
    store.add_subjects(pd.DataFrame({"subject": ["NEW1"], "label": [-1]}))
    store.import_votes(votes.iloc[parts[3]])
    store.add_vote("stu00", "NEW1", 1, created_at=late + pd.Timedelta(minutes=1))
    store.fold()
    live = _assert_live_equals_full(store, tmp_path)
    assert live.loc["NEW1", "n_votes"] == 1
    assert {"detected", "rejected"} <= set(live["status"])   # decided subjects: status is tested too


def test_votes_of_one_person_out_of_order_are_recomputed(store, tmp_path):
    votes = _class_votes(n_users=4, seed=2)
    store.import_votes(votes.iloc[:30])
    store.fold()
    # an old vote of stu00 merged late (a Binder file): earlier than stu00's votes already applied
    old = votes[(votes["user_id"] == "stu00")].iloc[0]
    unseen = sorted(set(f"S{i:03d}" for i in range(12)) - set(votes.iloc[:30].query("user_id == 'stu00'")["subject"]))
    store.add_vote("stu00", unseen[0], 1, created_at=old.created_at - pd.Timedelta(minutes=1))
    store.fold()
    assert store.last_live_step.mode == "full" and "older" in store.last_live_step.reason
    _assert_live_equals_full(store, tmp_path)


def test_the_queue_and_the_teacher_read_the_live_scores(store):
    from lensfinder_nb.scoring.retirement import retired_subjects
    from lensfinder_nb.ui.teacher import top_candidates

    for k in range(10):   # trained volunteers all say "not a lens" on S011: rejected, so retired
        for t in range(8):
            store.add_vote(f"p{k}", f"S{t:03d}", int(t < 4))
        store.add_vote(f"p{k}", "S011", 0)
    store.fold()
    assert "S011" in retired_subjects(store)
    top, stored = top_candidates(store, "swap")
    assert stored and top.loc[top["subject"] == "S011", "status"].item() == "rejected"


def test_live_scores_can_be_switched_off(store_location):
    off = open_store(store_location, live_scores=False)
    off.add_subjects(pd.DataFrame({"subject": ["S008"], "label": [-1]}))
    off.add_vote("ada", "S008", 1)
    off.fold()
    assert queries.stored_scores(off, "swap").empty
    off.close()


def _wait_for(store: Store, subject: str, n: int, timeout_s: float = 10.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        got = queries.stored_scores(store, "swap")
        row = got[got["subject"] == subject]
        if len(row) and row["n_votes"].item() == n:
            return time.monotonic() - t0
        time.sleep(0.2)   # a teacher's page refreshing often
    raise AssertionError(f"the live score of {subject} did not reach {n} votes in {timeout_s} s")


def test_a_vote_shows_in_the_live_scores_within_two_seconds(store, store_location):
    teacher = open_store(store_location)      # another reader, as the teacher's page
    store.add_vote("warm-up", "S009", 1)      # the first update builds the state
    _wait_for(teacher, "S009", 1)
    waited = []
    for k in range(3):
        time.sleep(0.35 * k)                  # votes at different phases of the background cycle
        t0 = time.monotonic()
        store.add_vote(f"p{k}", "S010", 1)    # through the Store API: the real fold thread / background task
        _wait_for(teacher, "S010", k + 1)
        waited.append(time.monotonic() - t0)
    print(f"{type(store).__name__}: vote -> live score in " + ", ".join(f"{w:.2f}" for w in waited) + " s")
    # ~2 s; on this shared 2-core machine (load 10-20) single updates sometimes take ~0.5 s more
    assert sorted(waited)[1] < 2.0 and max(waited) < 4.0
    teacher.close()
