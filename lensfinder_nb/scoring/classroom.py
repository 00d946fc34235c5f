"""A simulated class voting on the store's own subjects, so the analysis pages have data.

The volunteers are drawn like :func:`~lensfinder_nb.scoring.crowd_sim.simulate_crowd`'s
(85 % ordinary with PL ~ Beta(5, 2), PD ~ Beta(20, 1.5); 15 % careless with PL, PD ~
U(0.4, 0.65)) and are served like the classify page serves people: never the same subject
twice, training subjects at the rate of :func:`~lensfinder_nb.scoring.crowd_sim.training_rate`
(half sims, half duds).  Votes go in through :meth:`Store.import_votes`, with vote ids
derived from the seed, so running the same class twice adds nothing.

The truth of an unknown subject comes from ``truth`` or, for the demo, from the secret
``demo_truth.csv`` in the store's data folder; without either, unknowns are non-lenses.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from .crowd_sim import training_rate

__all__ = ["simulate_class", "SimulatedClass", "demo_truth"]

_START = np.datetime64("2024-03-12T14:00:00", "us")   # a Tuesday afternoon lesson (UTC)


class SimulatedClass(NamedTuple):
    """votes (as imported), volunteers (user_id, PL, PD, careless, n_votes), n_new (votes the store did not have)."""

    votes: pd.DataFrame
    volunteers: pd.DataFrame
    n_new: int


def demo_truth(store) -> pd.Series | None:
    """``is_lens`` (1/0) per unknown subject from ``<data folder>/demo_truth.csv``, or None if absent.

    Only validation code and the analysis notebooks read this file; the app never does.
    """
    path = Path(store.settings.data_dir) / "demo_truth.csv"
    if not path.exists():
        return None
    t = pd.read_csv(path, usecols=["subject", "is_lens"], dtype={"subject": str})
    return t.set_index("subject")["is_lens"].astype(np.int8)


def simulate_class(store, n_volunteers: int = 40, votes_per_volunteer: int | None = None, seed: int = 0,
                   truth: pd.Series | None = None, *, session_minutes: float = 45.0,
                   start: str | np.datetime64 | None = None) -> SimulatedClass:
    """Make ``n_volunteers`` simulated students vote on the subjects of ``store``.

    Parameters
    ----------
    store : lensfinder_nb.store.Store
    n_volunteers : int
        Students, named ``student01``, ``student02``, ...
    votes_per_volunteer : int, optional
        Mean votes per student (each draws around it, lognormal sigma 0.5).  Default: enough
        for about 10 votes per unknown subject.  Nobody votes more than once per subject.
    seed : int
        Skills, choices, answers and times all follow from it.
    truth : pandas.Series, optional
        1 (lens) / 0 per unknown subject; default :func:`demo_truth`, else all 0.
    session_minutes : float
        Length of the lesson; each student starts in its first 5 minutes and spends 3-15 s
        per image on average, faster if needed to finish in time.
    start : datetime-like, optional
        Start of the lesson (UTC); default 2024-03-12 14:00.

    Returns
    -------
    SimulatedClass
    """
    if n_volunteers < 1:
        raise InvalidInput(f"n_volunteers must be at least 1, got {n_volunteers}")
    rng = np.random.default_rng(seed)
    subj = store.subjects()[["subject", "label"]]
    if subj.empty:
        raise InvalidInput("the store has no subjects to vote on")
    truth = demo_truth(store) if truth is None else truth
    label = subj["label"].to_numpy(dtype=np.int8)
    is_lens = np.where(label >= 0, label, 0).astype(np.int8)
    if truth is not None:
        hidden = truth.reindex(subj["subject"]).fillna(0).to_numpy(dtype=np.int8)
        is_lens = np.where(label == -1, hidden, is_lens)
    names = subj["subject"].to_numpy(dtype=object)
    pools = {k: np.flatnonzero(label == k) for k in (1, 0, -1)}
    if votes_per_volunteer is None:
        votes_per_volunteer = int(np.ceil(10 * max(len(pools[-1]), 1) / (0.8 * n_volunteers)))
    if votes_per_volunteer < 1:
        raise InvalidInput(f"votes_per_volunteer must be at least 1, got {votes_per_volunteer}")

    careless = rng.random(n_volunteers) < 0.15
    pl = np.where(careless, rng.uniform(0.4, 0.65, n_volunteers), rng.beta(5, 2, n_volunteers))
    pd_ = np.where(careless, rng.uniform(0.4, 0.65, n_volunteers), rng.beta(20, 1.5, n_volunteers))
    wanted = np.maximum(1, np.round(votes_per_volunteer * rng.lognormal(-0.125, 0.5, n_volunteers))).astype(int)
    t0 = np.datetime64(start, "us") if start is not None else _START
    session_us = session_minutes * 60e6
    rows = []
    for i in range(n_volunteers):
        user = f"student{i + 1:02d}"
        queues = {k: list(rng.permutation(p)) for k, p in pools.items()}
        picked = []
        for k in range(min(wanted[i], len(names))):
            if rng.random() < training_rate(k):
                kind = 1 if rng.random() < 0.5 else 0
                kind = kind if queues[kind] else 1 - kind
                kind = kind if queues[kind] else -1
            else:
                kind = -1 if queues[-1] else (1 if queues[1] else 0)
            picked.append(queues[kind].pop())
        picked = np.array(picked, dtype=np.int64)
        lens = is_lens[picked] == 1
        u = rng.random(len(picked))
        answer = np.where(lens, u < pl[i], u >= pd_[i]).astype(np.int8)
        spent = rng.exponential(rng.uniform(3.0, 15.0), len(picked)) + 0.5
        begin = rng.uniform(0, 5 * 60e6)
        squeeze = min(1.0, (session_us - begin) / (spent.sum() * 1e6))
        spent = spent * squeeze
        when = t0 + (begin + np.cumsum(spent) * 1e6).astype(np.int64)
        rows.append(pd.DataFrame({
            "vote_id": [f"class{seed}-{user}-{k:05d}" for k in range(len(picked))],
            "user_id": user, "subject": names[picked], "answer": answer,
            "created_at": when, "time_spent_s": np.round(spent, 2), "session": f"class{seed}-{user}",
        }))
    votes = pd.concat(rows, ignore_index=True)
    n_new = store.import_votes(votes)
    volunteers = pd.DataFrame({"user_id": [f"student{i + 1:02d}" for i in range(n_volunteers)], "PL": pl, "PD": pd_,
                               "careless": careless,
                               "n_votes": votes.groupby("user_id").size().reindex(
                                   [f"student{i + 1:02d}" for i in range(n_volunteers)]).to_numpy()})
    return SimulatedClass(votes, volunteers, n_new)
