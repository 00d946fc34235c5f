"""Which unknown subject a volunteer should see next, so that each vote helps most.

:func:`route` is a pure function over a table of subjects (the classify page's queue calls
it when the teacher's setting ``routing`` is on):

* value of a vote = its expected information gain in bits about "is this a lens?", given the
  subject's current posterior (crowd SWAP plus the machine's evidence, :mod:`.combine`) and the
  volunteer's skill.  With a small prior this ranks high machine scores and undecided
  subjects first, and spends nothing on subjects already all but rejected;
* hard subjects (still undecided after many votes) go to skilled volunteers: their value is
  raised for volunteers with ``skill >= HARD_SKILL_BITS`` and lowered for the others;
* a share ``explore`` of the slots is drawn at random among the live unknowns, so subjects the
  machine scores low (it misses faint arcs) still reach people.

:func:`simulate_routing` replays a crowd voting in routed or random order and counts the
classifications needed to reach a decision on every hidden lens.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..scoring.metrics import skill_bits
from ..scoring.swap import SWAP_DEFAULTS

__all__ = ["route", "vote_value", "accuracy_for_skill", "simulate_routing", "simulate_votes", "HARD_SKILL_BITS",
           "HARD_VOTES"]

#: volunteers at or above this skill (bits per vote at p = 0.5) get the hard subjects
HARD_SKILL_BITS = 0.3
#: a live unknown is fully "hard" after this many votes without a decision
HARD_VOTES = 10


def accuracy_for_skill(skill: float) -> float:
    """The symmetric accuracy a (PL = PD = a) whose skill in bits is ``skill`` (0 -> 0.5, 1 -> 1)."""
    s = float(np.clip(skill, 0.0, 1.0))
    lo, hi = 0.5, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if skill_bits(np.array(mid), np.array(mid)) < s else (lo, mid)
    return (lo + hi) / 2


def vote_value(posterior: np.ndarray, n_votes: np.ndarray, volunteer_skill: float) -> np.ndarray:
    """Expected information gain (bits) of one vote by this volunteer, weighted for hard subjects."""
    p = np.clip(np.asarray(posterior, float), 0.0, 1.0)
    a = accuracy_for_skill(volunteer_skill)
    gain = skill_bits(np.full(p.shape, a), np.full(p.shape, a), p)
    hard = np.clip(np.asarray(n_votes, float) / HARD_VOTES, 0.0, 1.0)
    weight = 1.0 + hard if volunteer_skill >= HARD_SKILL_BITS else 1.0 - 0.5 * hard
    return gain * weight


def route(pool: pd.DataFrame, volunteer_skill: float, n: int, rng: np.random.Generator, *,
          explore: float = 0.1, prior: float = SWAP_DEFAULTS["prior"]) -> list[str]:
    """The ``n`` unknown subjects this volunteer should see next, best first.

    Parameters
    ----------
    pool : DataFrame
        subject, label (1/0/-1), n_votes, retired (bool), machine_score (may be NaN), posterior
        (the subject's current lens probability with the machine's evidence; NaN -> ``prior``).
        Only live unknowns (label -1, not retired) are routed; the caller mixes in training
        subjects and removes what the person has already seen.
    volunteer_skill : float
        The volunteer's skill in bits (:func:`lensfinder_nb.scoring.skill_bits`; 0 for a newcomer).
    n : int
        How many ids to return (fewer if the pool runs out).
    rng : numpy.random.Generator
        Breaks ties and draws the exploration slots.
    explore : float
        Share of slots given to random live unknowns.

    >>> pool = pd.DataFrame({"subject": ["a", "b", "c"], "label": [-1, -1, 1], "n_votes": [0, 0, 0],
    ...                      "retired": [False, False, False], "machine_score": [0.1, 0.9, 0.5],
    ...                      "posterior": [1e-5, 0.3, 0.5]})
    >>> route(pool, 0.3, 2, np.random.default_rng(0), explore=0.0)
    ['b', 'a']
    """
    if not 0.0 <= explore <= 1.0:
        raise ValueError(f"explore must be in [0, 1], got {explore}")
    live = pool[(pool["label"] == -1) & ~pool["retired"].astype(bool)]
    if n <= 0 or live.empty:
        return []
    post = live["posterior"].astype(float).fillna(prior).to_numpy()
    value = vote_value(post, live["n_votes"].to_numpy(), volunteer_skill)
    # best value first; among equal values (e.g. a newcomer, whose vote carries no information
    # yet) the most probable lens first, then random
    order = np.lexsort((rng.random(len(live)), -post, -np.round(value, 12)))
    ids = live["subject"].to_numpy()[order]
    n = min(n, len(ids))
    n_explore = int(rng.binomial(n, explore)) if explore > 0 else 0
    best = list(ids[:n - n_explore])
    rest = ids[n - n_explore:]
    extra = list(rng.choice(rest, size=min(n_explore, len(rest)), replace=False)) if n_explore else []
    out = best + extra
    if extra:  # explorations take random places in the list
        out = [out[i] for i in np.argsort(np.concatenate([np.arange(len(best)),
                                                          rng.uniform(0, len(best), len(extra))]), kind="stable")]
    return [str(s) for s in out]


def _draw_volunteers(rng, n_users):
    """Volunteers as in :func:`lensfinder_nb.scoring.simulate_crowd`: 85 % ordinary, 15 % careless."""
    careless = rng.random(n_users) < 0.15
    pl = np.where(careless, rng.uniform(0.4, 0.65, n_users), rng.beta(5, 2, n_users))
    pd_ = np.where(careless, rng.uniform(0.4, 0.65, n_users), rng.beta(20, 1.5, n_users))
    activity = rng.lognormal(0.0, 1.0, n_users)
    return pl, pd_, activity / activity.sum()


def simulate_routing(truth: pd.Series, machine_llr: pd.Series | None, *, order: str = "routed",
                     n_users: int = 200, batch: int = 10, max_votes: int = 50_000, seed: int = 0,
                     prior: float = SWAP_DEFAULTS["prior"], detect: float = SWAP_DEFAULTS["detect"],
                     reject: float = SWAP_DEFAULTS["reject"], explore: float = 0.1) -> dict:
    """Classifications needed until every hidden lens among the unknowns is decided.

    A crowd (volunteers drawn as in :func:`~lensfinder_nb.scoring.simulate_crowd`) classifies the
    unknowns of ``truth`` (1/0 indexed by subject) in batches of ``batch``: ``order="routed"``
    takes each batch from :func:`route`, ``"random"`` draws live unknowns at random (the
    fewest-votes-first queue in spirit).  Each vote updates SWAP log-odds with the volunteer's
    PL, PD (assumed already learned from training subjects); a subject retires when detected
    or rejected.  ``machine_llr`` (per subject, see :func:`.combine.machine_llr`) is the starting
    evidence; ``None`` for the crowd alone.

    Returns a dict: votes_all_lenses_decided (``max_votes`` + 1 if never), votes_90pc,
    lenses_detected, lenses_rejected, nonlenses_detected, votes.
    """
    if order not in ("routed", "random"):
        raise ValueError(f"order must be 'routed' or 'random', not {order!r}")
    rng = np.random.default_rng(seed)
    ids = truth.index.to_numpy()
    y = truth.to_numpy().astype(bool)
    lo = np.full(len(ids), np.log(prior / (1 - prior)))
    if machine_llr is not None:
        lo += machine_llr.reindex(truth.index).fillna(0.0).to_numpy()
    pl, pd_, share = _draw_volunteers(rng, n_users)
    skill = skill_bits(pl, pd_)
    lo_detect, lo_reject = np.log(detect / (1 - detect)), np.log(reject / (1 - reject))
    n_votes = np.zeros(len(ids), np.int64)
    seen = np.zeros((n_users, len(ids)), bool)
    retired = (lo > lo_detect) | (lo < lo_reject)
    decided_at = np.where(retired & y, 0, -1)
    n_lens = int(y.sum())
    votes = 0
    position = {s: i for i, s in enumerate(ids)}
    while votes < max_votes and (decided_at[y] < 0).any():
        u = int(rng.choice(n_users, p=share))
        fresh = ~retired & ~seen[u]
        if not fresh.any():
            if not (~retired).any():
                break
            continue
        if order == "routed":
            pool = pd.DataFrame({"subject": ids[fresh], "label": -1, "n_votes": n_votes[fresh], "retired": False,
                                 "posterior": 1 / (1 + np.exp(-lo[fresh]))})
            pool["machine_score"] = np.nan
            picks = np.array([position[s] for s in route(pool, float(skill[u]), batch, rng, explore=explore,
                                                          prior=prior)])
        else:
            cand = np.flatnonzero(fresh)
            picks = rng.choice(cand, size=min(batch, len(cand)), replace=False)
        for i in picks:
            if retired[i]:
                continue
            lens_vote = rng.random() < (pl[u] if y[i] else 1 - pd_[u])
            lo[i] += np.log(pl[u] / (1 - pd_[u])) if lens_vote else np.log((1 - pl[u]) / pd_[u])
            n_votes[i] += 1
            seen[u, i] = True
            votes += 1
            if lo[i] > lo_detect or lo[i] < lo_reject:
                retired[i] = True
                if y[i]:
                    decided_at[i] = votes
    lens_decided = decided_at[y]
    done = lens_decided >= 0
    need_90 = int(np.ceil(0.9 * n_lens))
    return {
        "votes_all_lenses_decided": int(lens_decided.max()) if done.all() and n_lens else max_votes + 1,
        "votes_90pc": int(np.sort(lens_decided[done])[need_90 - 1]) if done.sum() >= need_90 and n_lens
        else max_votes + 1,
        "lenses_detected": int((y & (lo > lo_detect)).sum()),
        "lenses_rejected": int((y & (lo < lo_reject)).sum()),
        "nonlenses_detected": int((~y & (lo > lo_detect)).sum()),
        "votes": votes,
    }


def simulate_votes(subjects: pd.DataFrame, truth: pd.Series, n_votes: int, *, n_users: int = 200,
                   training_share: float = 0.2, seed: int = 0) -> pd.DataFrame:
    """Votes of a simulated crowd on real subject ids, for SWAP (random order, no routing).

    ``subjects``: subject, label; ``truth``: 1/0 for the unknowns (label -1), indexed by subject
    (e.g. from the demo's ``demo_truth.csv``).  Volunteers are drawn as in
    :func:`~lensfinder_nb.scoring.simulate_crowd`; each vote is on a training subject with
    probability ``training_share``, else on a random unknown; a volunteer may meet a subject twice
    (SWAP counts the first vote).  Returns user_id, subject, answer, created_at, seq.
    """
    rng = np.random.default_rng(seed)
    pl, pd_, share = _draw_volunteers(rng, n_users)
    train = subjects[subjects["label"] >= 0]
    unknown = subjects[subjects["label"] == -1]
    user = rng.choice(n_users, size=n_votes, p=share)
    is_train = rng.random(n_votes) < training_share
    t_idx = rng.integers(0, len(train), n_votes)
    u_idx = rng.integers(0, len(unknown), n_votes)
    subject = np.where(is_train, train["subject"].to_numpy()[t_idx], unknown["subject"].to_numpy()[u_idx])
    t_truth = train["label"].to_numpy()[t_idx]
    u_truth = truth.reindex(unknown["subject"]).fillna(0).to_numpy()[u_idx]
    lens = np.where(is_train, t_truth, u_truth).astype(bool)
    r = rng.random(n_votes)
    answer = np.where(lens, r < pl[user], r >= pd_[user]).astype(np.int8)
    created = np.datetime64("2025-01-01T00:00:00", "us") + np.arange(n_votes) * np.int64(1_000_000)
    return pd.DataFrame({"user_id": [f"sim{u:04d}" for u in user], "subject": subject, "answer": answer,
                         "created_at": created, "seq": np.arange(1, n_votes + 1)})
