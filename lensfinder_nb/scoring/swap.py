"""SWAP, the Space Warps Analysis Pipeline: online (as the votes arrive) and offline.

Each volunteer is an agent with PL = P("lens" | lens) and PD = P("not" | not a lens),
learned from training subjects with 2-of-4 pseudo-votes and clipped to [0.01, 0.99]
(:func:`~lensfinder_nb.scoring.metrics.swap_agent`).  A subject's log-odds start at
logit(prior) and add ln(PL / (1 - PD)) for a "lens" vote, ln((1 - PL) / PD) for a "not".

Online: each vote uses the agent's PL, PD from the training votes made *before* it (time
order, ties by ``seq``); the agent learns from a training vote after the subject update.
Vectorised: per-user exclusive cumulative counts after a stable sort by user.
Offline: PL, PD from all of the agent's training votes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._votes import CodedVotes, as_coded, expit, logit, scores_frame
from .metrics import swap_agent

__all__ = ["swap", "swap_offline", "swap_reference", "swap_trajectories", "agent_history", "SWAP_DEFAULTS"]

#: Default SWAP settings: prior (100 lenses in ~430k images), detection and rejection thresholds.
SWAP_DEFAULTS = {"prior": 2e-4, "detect": 0.95, "reject": 1e-7}


def counts_before(c: CodedVotes, dtype: type = np.int32) -> list[np.ndarray]:
    """Per vote, the voter's four agent counts (sims seen, sims called lenses, duds seen, duds called
    not) from their earlier votes in ``c``, each of shape (n_votes,)."""
    lab = c.vote_label
    # Grouped by user, time order inside: a stable sort, radix for up to 65,536 users.
    by = c.user.astype(np.uint16) if c.n_users <= 1 << 16 else c.user
    order = np.argsort(by, kind="stable")
    u = c.user[order]
    start = np.ones(len(u), dtype=bool)
    start[1:] = u[1:] != u[:-1]
    first = np.flatnonzero(start)
    run = np.diff(np.append(first, len(u)))
    lab_o, ans_o = lab[order], c.answer[order]
    counts = []
    for inc in (lab_o == 1, (lab_o == 1) & (ans_o == 1), lab_o == 0, (lab_o == 0) & (ans_o == 0)):
        total = np.cumsum(inc, dtype=dtype)
        before = total - inc - np.repeat(total[first] - inc[first], run)   # exclusive, restarted per user
        out = np.empty(len(u), dtype=dtype)
        out[order] = before
        counts.append(out)
    return counts


def agent_history(c: CodedVotes) -> tuple[np.ndarray, np.ndarray]:
    """PL, PD of each vote's agent just *before* that vote, float64 shapes (n_votes,)."""
    counts = counts_before(c)
    return swap_agent(counts[1], counts[0]), swap_agent(counts[3], counts[2])


def _llr(answer: np.ndarray, pl: np.ndarray, pd_: np.ndarray) -> np.ndarray:
    """ln(PL / (1 - PD)) for a "lens" vote, ln((1 - PL) / PD) for a "not"."""
    yes = answer == 1
    return np.log(np.where(yes, pl, 1.0 - pl)) - np.log(np.where(yes, 1.0 - pd_, pd_))


def _swap_logodds(c: CodedVotes, prior: float) -> tuple[np.ndarray, np.ndarray]:
    pl, pdd = agent_history(c)
    llr = _llr(c.answer, pl, pdd)
    return logit(prior) + np.bincount(c.subject, weights=llr, minlength=c.n_subjects), llr


def swap(votes: pd.DataFrame | CodedVotes, subjects: pd.DataFrame | None = None, *,
         prior: float = SWAP_DEFAULTS["prior"], detect: float = SWAP_DEFAULTS["detect"],
         reject: float = SWAP_DEFAULTS["reject"], min_votes: int = 0,
         trajectories: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Online SWAP scores: frame subject, probability, n_votes, status (one row per subject).

    With ``trajectories=True`` returns ``(scores, trajectories)``, see :func:`swap_trajectories`.
    Training subjects are scored too (from the votes, not the label) for ROC curves.
    """
    c = as_coded(votes, subjects)
    lo, llr = _swap_logodds(c, prior)
    scores = scores_frame(c, expit(lo), detect, reject, min_votes)
    if trajectories:
        return scores, _trajectories(c, llr, prior)
    return scores


def swap_trajectories(votes: pd.DataFrame | CodedVotes, subjects: pd.DataFrame | None = None, *,
                      prior: float = SWAP_DEFAULTS["prior"]) -> pd.DataFrame:
    """Probability of each subject after each of its counted votes (online SWAP).

    Columns: subject, k (1 for the first vote), created_at, user_id, answer, probability;
    ordered by subject, then k.  Plot probability against k (log scale) per subject.
    """
    c = as_coded(votes, subjects)
    _, llr = _swap_logodds(c, prior)
    return _trajectories(c, llr, prior)


def _trajectories(c: CodedVotes, llr: np.ndarray, prior: float) -> pd.DataFrame:
    order = np.argsort(c.subject, kind="stable")
    s = c.subject[order]
    total = np.cumsum(llr[order])
    start = np.ones(len(s), dtype=bool)
    start[1:] = s[1:] != s[:-1]
    first = np.maximum.accumulate(np.where(start, np.arange(len(s)), 0))
    lo = logit(prior) + total - (total[first] - llr[order][first])
    k = np.arange(len(s)) - first + 1
    return pd.DataFrame({
        "subject": c.subjects[s], "k": k.astype(np.int64),
        "created_at": c.time_us[order].astype("datetime64[us]"),
        "user_id": c.users[c.user[order]], "answer": c.answer[order], "probability": expit(lo),
    })


def swap_offline(votes: pd.DataFrame | CodedVotes, subjects: pd.DataFrame | None = None, *,
                 prior: float = SWAP_DEFAULTS["prior"], detect: float = SWAP_DEFAULTS["detect"],
                 reject: float = SWAP_DEFAULTS["reject"], min_votes: int = 0) -> pd.DataFrame:
    """SWAP with time-independent agents: PL, PD from all of each volunteer's training votes.

    A training subject's own votes are part of the agents' training here, so its score is
    optimistic; unknown subjects are unaffected.
    """
    c = as_coded(votes, subjects)
    lab = c.vote_label
    n = c.n_users
    sims, duds = lab == 1, lab == 0
    pl = swap_agent(np.bincount(c.user[sims], weights=c.answer[sims], minlength=n),
                    np.bincount(c.user[sims], minlength=n))
    pdd = swap_agent(np.bincount(c.user[duds], weights=1 - c.answer[duds], minlength=n),
                     np.bincount(c.user[duds], minlength=n))
    llr = _llr(c.answer, pl[c.user], pdd[c.user])
    lo = logit(prior) + np.bincount(c.subject, weights=llr, minlength=c.n_subjects)
    return scores_frame(c, expit(lo), detect, reject, min_votes)


def swap_reference(votes: pd.DataFrame, subjects: pd.DataFrame, *, prior: float = SWAP_DEFAULTS["prior"],
                   detect: float = SWAP_DEFAULTS["detect"], reject: float = SWAP_DEFAULTS["reject"]
                   ) -> pd.DataFrame:
    """Online SWAP as a plain per-vote Python loop: the specification, for tests and benchmarks."""
    import math

    label = dict(zip(subjects["subject"], subjects["label"].astype(int)))
    rows = votes
    if "retracted_at" in rows.columns:
        rows = rows[rows["retracted_at"].isna()]
    seq = rows["seq"].tolist() if "seq" in rows.columns else list(range(len(rows)))
    when = pd.to_datetime(rows["created_at"]).astype("datetime64[us]").astype("int64").tolist()
    records = sorted(zip(when, seq, rows["user_id"].tolist(), rows["subject"].tolist(),
                         rows["answer"].astype(int).tolist()))
    log_odds = {s: math.log(prior / (1 - prior)) for s in label}
    n_votes = dict.fromkeys(label, 0)
    agents: dict[str, list[int]] = {}   # sims seen, sims right, duds seen, duds right
    seen: set[tuple[str, str]] = set()
    for _, _, user, subject, answer in records:
        if (user, subject) in seen:
            continue
        seen.add((user, subject))
        a = agents.setdefault(user, [0, 0, 0, 0])
        pl = min(max((2 + a[1]) / (4 + a[0]), 0.01), 0.99)
        pd_ = min(max((2 + a[3]) / (4 + a[2]), 0.01), 0.99)
        log_odds[subject] += math.log(pl / (1 - pd_)) if answer == 1 else math.log((1 - pl) / pd_)
        n_votes[subject] += 1
        if label[subject] == 1:
            a[0] += 1
            a[1] += answer == 1
        elif label[subject] == 0:
            a[2] += 1
            a[3] += answer == 0
    names = sorted(label)
    prob = [1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
            for x in (log_odds[s] for s in names)]
    status = ["detected" if p > detect else "rejected" if p < reject else "undecided" for p in prob]
    return pd.DataFrame({"subject": names, "probability": prob, "n_votes": [n_votes[s] for s in names],
                         "status": status})
