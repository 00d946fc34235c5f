"""Live SWAP: the online SWAP of :mod:`.swap`, kept up to date one batch of new votes at a time.

SWAP is online by nature: a vote moves only its subject's log-odds, and (on a training
subject) its voter's confusion counts.  The state is therefore

* per volunteer: sims seen, "lens" on sims, duds seen, "not" on duds (the agent counts of
  :func:`~lensfinder_nb.scoring.metrics.swap_agent`) and the time of their last counted vote;
* per subject: the sum of the log-likelihood ratios of its counted votes and their number;
* the last vote ``seq`` applied and how many votes were retracted then (kept by the store).

:func:`apply_votes` takes a batch of new votes and the state rows of the volunteers and
subjects they touch, and returns those rows updated: O(new votes), the same numbers as a
full :func:`~lensfinder_nb.scoring.swap.swap` over all the votes (the same additions in the
same order: ``np.add.at`` continues ``bincount``'s running sums).

Exactness needs every volunteer's votes to arrive in time order.  When they do not, the
batch cannot be applied on top of the state and :func:`apply_votes` returns ``None``: the
caller recomputes everything (:func:`full_state`).  That happens when

* a new vote is older (``created_at``) than a counted vote of the same person already
  applied (a clock step, a vote file merged late, a vote appended just as a fold ran);
* a vote was retracted since the last update (its weight is inside the sums; the store
  notices by the count of retracted votes);
* subjects were added or relabelled (the store marks the state stale).

A later vote of a person on a subject they already voted on never counts (the counting rule
of :mod:`lensfinder_nb.store.views`): the store says which pairs of the batch already have a
counted vote (``repeat``), and repeats inside the batch keep their first vote.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._votes import CodedVotes, assign_status, expit, logit
from .metrics import swap_agent
from .swap import SWAP_DEFAULTS, _llr, agent_history, counts_before

__all__ = ["LiveBatch", "UserRows", "SubjectRows", "apply_votes", "full_state", "live_scores", "EMPTY_TIME"]

#: ``last_us`` of a volunteer with no counted vote yet
EMPTY_TIME = np.iinfo(np.int64).min


@dataclass(frozen=True)
class LiveBatch:
    """New votes (not retracted), coded into the touched ``UserRows`` and ``SubjectRows``.

    ``repeat``: the (user, subject) pair already has a counted vote among the applied ones.
    """

    user: np.ndarray      # int, index into UserRows
    subject: np.ndarray   # int, index into SubjectRows
    answer: np.ndarray    # 0/1
    time_us: np.ndarray   # created_at, microseconds
    seq: np.ndarray       # arrival order
    repeat: np.ndarray    # bool


@dataclass(frozen=True)
class UserRows:
    """Agent state of some volunteers: ``counts`` (n, 4) = sims seen, "lens" on sims, duds seen,
    "not" on duds; ``last_us`` = created_at of their last counted vote (:data:`EMPTY_TIME` if none)."""

    ids: np.ndarray
    counts: np.ndarray
    last_us: np.ndarray


@dataclass(frozen=True)
class SubjectRows:
    """State of some subjects: ``label`` (1/0/-1), ``llr_sum`` (sum of the log-likelihood ratios of
    the counted votes, without the prior) and ``n_votes`` (counted votes)."""

    ids: np.ndarray
    label: np.ndarray
    llr_sum: np.ndarray
    n_votes: np.ndarray


def apply_votes(batch: LiveBatch, users: UserRows, subjects: SubjectRows
                ) -> tuple[UserRows, SubjectRows, int] | None:
    """``users`` and ``subjects`` after the votes of ``batch``, and how many of them counted;
    ``None`` when a volunteer's new vote is older than one already applied (recompute instead).

    Cost O(len(batch) + touched rows).
    """
    order = np.lexsort((batch.seq, batch.time_us))
    u, s = batch.user[order].astype(np.int64), batch.subject[order].astype(np.int64)
    answer, t = batch.answer[order].astype(np.int8), batch.time_us[order].astype(np.int64)
    if (t < users.last_us[u]).any():
        return None
    keep = ~batch.repeat[order]
    key = u * max(len(subjects.ids), 1) + s
    _, first = np.unique(key, return_index=True)
    in_batch_first = np.zeros(len(key), dtype=bool)
    in_batch_first[first] = True
    keep &= in_batch_first
    u, s, answer, t = u[keep], s[keep], answer[keep], t[keep]

    lab = subjects.label[s]
    coded = CodedVotes(user=u.astype(np.int32), subject=s.astype(np.int32), answer=answer, time_us=t,
                       users=users.ids, subjects=subjects.ids, labels=subjects.label)
    before = counts_before(coded, np.int64)
    start = users.counts[u]
    pl = swap_agent(before[1] + start[:, 1], before[0] + start[:, 0])
    pd_ = swap_agent(before[3] + start[:, 3], before[2] + start[:, 2])
    llr = _llr(answer, pl, pd_)

    llr_sum = subjects.llr_sum.astype(np.float64).copy()
    np.add.at(llr_sum, s, llr)           # in time order, as bincount adds them in a full run
    n_votes = subjects.n_votes.astype(np.int64) + np.bincount(s, minlength=len(subjects.ids))
    counts = users.counts.astype(np.int64).copy()
    for j, inc in enumerate((lab == 1, (lab == 1) & (answer == 1), lab == 0, (lab == 0) & (answer == 0))):
        counts[:, j] += np.bincount(u, weights=inc, minlength=len(users.ids)).astype(np.int64)
    last_us = users.last_us.astype(np.int64).copy()
    np.maximum.at(last_us, u, t)
    return (UserRows(users.ids, counts, last_us), SubjectRows(subjects.ids, subjects.label, llr_sum, n_votes),
            int(len(u)))


def full_state(coded: CodedVotes) -> tuple[UserRows, SubjectRows]:
    """The live state of every volunteer and subject from all counted votes (a full recompute)."""
    pl, pd_ = agent_history(coded)
    llr = _llr(coded.answer, pl, pd_)
    llr_sum = np.bincount(coded.subject, weights=llr, minlength=coded.n_subjects).astype(np.float64)
    lab = coded.vote_label
    n = coded.n_users
    counts = np.zeros((n, 4), dtype=np.int64)
    for j, inc in enumerate((lab == 1, (lab == 1) & (coded.answer == 1), lab == 0,
                             (lab == 0) & (coded.answer == 0))):
        counts[:, j] = np.bincount(coded.user, weights=inc, minlength=n).astype(np.int64)
    last_us = np.full(n, EMPTY_TIME, dtype=np.int64)
    np.maximum.at(last_us, coded.user, coded.time_us)
    return (UserRows(np.asarray(coded.users, dtype=object), counts, last_us),
            SubjectRows(np.asarray(coded.subjects, dtype=object), coded.labels.astype(np.int8), llr_sum,
                        coded.votes_per_subject().astype(np.int64)))


def live_scores(subjects: SubjectRows, *, prior: float = SWAP_DEFAULTS["prior"],
                detect: float = SWAP_DEFAULTS["detect"], reject: float = SWAP_DEFAULTS["reject"],
                min_votes: int = 0) -> pd.DataFrame:
    """The scores rows of ``subjects`` (subject, probability, n_votes, status), as :func:`swap` gives them."""
    p = expit(logit(prior) + subjects.llr_sum)
    return pd.DataFrame({"subject": subjects.ids, "probability": p,
                         "n_votes": subjects.n_votes.astype(np.int64),
                         "status": assign_status(p, subjects.n_votes, detect, reject, min_votes)})
