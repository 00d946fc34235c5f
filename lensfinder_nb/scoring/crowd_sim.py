"""A simulated crowd with a known truth, to validate and benchmark the aggregators.

Two steps, as for mocks: draw a parameter table (volunteers: PL, PD, activity;
subjects: label, truth), then draw the votes.  Everything is vectorised and seeded, so
the CFHTLS scale (10.8 million votes) takes seconds.

* Volunteers: 85 % "ordinary" with PL ~ Beta(5, 2) (mean 0.71) and PD ~ Beta(20, 1.5)
  (mean 0.93); 15 % careless with PL, PD ~ U(0.4, 0.65).  Activity: lognormal weights
  (sigma ``activity_sigma``), so a few volunteers make most of the votes.
* Subjects: unknowns (label -1) are lenses with probability ``lens_rate``; training
  subjects are simulated lenses (label 1) and known non-lenses (label 0) in the ratio of
  CFHTLS stage 1 (5,712 : 450), unless ``dud_fraction`` says otherwise.
* Training mix, as the classify page serves it: the k-th vote of a volunteer is a
  training subject with probability 2/5 (k < 10), 1/5 (k < 50), 1/7 (k < 200), else 1/10.
* Time: each volunteer starts at a random time in the first 80 % of ``days`` and votes
  at exponential intervals; times are whole seconds (so ties happen), and ``seq`` is the
  arrival order.  A volunteer can meet a subject twice (about as often as chance says).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

__all__ = ["simulate_crowd", "SimulatedCrowd", "training_rate"]


class SimulatedCrowd(NamedTuple):
    """votes (user_id, subject, answer, created_at, seq), subjects (subject, label),
    truth (1/0 per subject, Series indexed by subject), volunteers (user_id, PL, PD, n_votes)."""

    votes: pd.DataFrame
    subjects: pd.DataFrame
    truth: pd.Series
    volunteers: pd.DataFrame


def training_rate(k: np.ndarray) -> np.ndarray:
    """Chance that a volunteer's k-th vote (k = 0, 1, ...) is on a training subject."""
    k = np.asarray(k)
    return np.select([k < 10, k < 50, k < 200], [2 / 5, 1 / 5, 1 / 7], 1 / 10)


def simulate_crowd(n_votes: int = 100_000, n_users: int = 1_000, n_subjects: int = 20_000, *,
                   n_training: int | None = None, lens_rate: float = 0.01, dud_fraction: float = 450 / 6162,
                   sim_share: float = 0.5, activity_sigma: float = 2.0, days: float = 30.0, seed: int | None = 0,
                   categorical: bool = True) -> SimulatedCrowd:
    """Draw a crowd.  ``n_training`` defaults to 1.5 % of ``n_subjects`` (CFHTLS: 6,162 of 427,064).

    With ``categorical`` (default) user_id and subject are pandas categoricals, which keeps
    10 million rows cheap; the aggregators accept either.
    """
    rng = np.random.default_rng(seed)
    n_training = max(2, int(round(0.0144 * n_subjects))) if n_training is None else n_training
    n_test = n_subjects - n_training
    if n_test < 1 or n_users < 1 or n_votes < n_users:
        raise ValueError("need at least one unknown subject and one vote per volunteer")
    # --- parameter tables
    careless = rng.random(n_users) < 0.15
    pl = np.where(careless, rng.uniform(0.4, 0.65, n_users), rng.beta(5, 2, n_users))
    pdd = np.where(careless, rng.uniform(0.4, 0.65, n_users), rng.beta(20, 1.5, n_users))
    weight = rng.lognormal(0.0, activity_sigma, n_users)
    counts = 1 + rng.multinomial(n_votes - n_users, weight / weight.sum())
    n_duds = max(1, int(round(dud_fraction * n_training)))
    label = np.concatenate([np.ones(n_training - n_duds, np.int8), np.zeros(n_duds, np.int8),
                            np.full(n_test, -1, np.int8)])
    truth = np.where(label >= 0, label, rng.random(n_subjects) < lens_rate).astype(np.int8)
    perm = rng.permutation(n_subjects)            # interleave training and unknown ids
    names = np.array([f"SW{i:07d}" for i in range(n_subjects)], dtype=object)
    # --- votes, grouped by user
    user = np.repeat(np.arange(n_users, dtype=np.int32), counts)
    first = np.cumsum(counts) - counts              # index of each volunteer's first vote
    k = np.arange(n_votes) - np.repeat(first, counts)
    is_train = rng.random(n_votes) < training_rate(k)
    n_sims = n_training - n_duds
    show_sim = rng.random(n_votes) < sim_share
    train_pick = np.where(show_sim, rng.integers(0, n_sims, n_votes), n_sims + rng.integers(0, n_duds, n_votes))
    subject = np.where(is_train, train_pick, n_training + rng.integers(0, n_test, n_votes)).astype(np.int64)
    lens = truth[subject] == 1
    u = rng.random(n_votes)
    answer = np.where(lens, u < pl[user], u >= pdd[user]).astype(np.int8)
    gap = rng.exponential(1.0, n_votes) * np.repeat(rng.uniform(5.0, 60.0, n_users), counts)
    elapsed = np.cumsum(gap)
    elapsed -= np.repeat(elapsed[first] - gap[first], counts)
    t0 = np.repeat(rng.uniform(0.0, 0.8 * days * 86400.0, n_users), counts)
    seconds = np.floor(t0 + elapsed).astype(np.int64)
    arrival = np.lexsort((rng.random(n_votes), seconds))
    created = np.datetime64("2013-05-08T00:00:00", "us") + seconds[arrival] * np.int64(1_000_000)
    user_names = np.array([f"volunteer{i:05d}" for i in range(n_users)], dtype=object)
    subj_codes = perm[subject[arrival]]
    if categorical:
        user_col = pd.Categorical.from_codes(user[arrival], categories=user_names)
        subj_col = pd.Categorical.from_codes(subj_codes, categories=names)
    else:
        user_col, subj_col = user_names[user[arrival]], names[subj_codes]
    votes = pd.DataFrame({"user_id": user_col, "subject": subj_col, "answer": answer[arrival],
                          "created_at": created, "seq": np.arange(1, n_votes + 1, dtype=np.int64)})
    subjects = pd.DataFrame({"subject": names[perm], "label": label}).sort_values("subject", ignore_index=True)
    truth_s = pd.Series(truth, index=pd.Index(names[perm], name="subject"), name="truth").sort_index()
    volunteers = pd.DataFrame({"user_id": user_names, "PL": pl, "PD": pdd, "n_votes": counts})
    return SimulatedCrowd(votes, subjects, truth_s, volunteers)
