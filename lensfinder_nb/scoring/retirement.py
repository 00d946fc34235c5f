"""Retirement (which subjects stop being shown) and thresholds tuned on the training set.

Training subjects are shown far more often than unknowns, so their scores are more extreme;
:func:`tune_thresholds_matched` tunes on training scores made from as many votes as the
unknowns get (see ``docs/scoring.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._votes import CodedVotes, as_coded, assign_status

__all__ = ["retirement", "retired_subjects", "retired_in_pool", "tune_thresholds", "tune_thresholds_matched", "matched_training_scores",
           "Thresholds"]


def retirement(scores: pd.DataFrame, votes_per_subject: pd.Series | None = None, *,
               max_votes_detected: int = 30, labels: pd.Series | None = None,
               max_votes: int | None = None) -> set[str]:
    """Subjects to stop showing.

    * rejected subjects retire at once (SWAP: "retired" below the rejection threshold);
    * detected subjects keep being shown until ``max_votes_detected`` votes, so that
      more eyes confirm a candidate;
    * any subject retires at ``max_votes`` votes if given;
    * with ``labels`` (label per subject), training subjects (label 1/0) never retire.

    ``votes_per_subject``: votes per subject (a Series indexed by subject, e.g. all
    classifications shown); defaults to the ``n_votes`` of ``scores``.
    """
    s = scores.set_index("subject")
    n = s["n_votes"] if votes_per_subject is None else votes_per_subject.reindex(s.index).fillna(0)
    retired = (s["status"] == "rejected") | ((s["status"] == "detected") & (n >= max_votes_detected))
    if max_votes is not None:
        retired |= n >= max_votes
    if labels is not None:
        retired &= labels.reindex(s.index).fillna(-1).to_numpy() < 0
    return set(s.index[retired.to_numpy()])


def retired_in_pool(pool: pd.DataFrame, max_votes_detected: int = 30) -> set[str]:
    """Unknown subjects to stop showing, from a subject pool (:func:`lensfinder_nb.store.queries.subject_pool`).

    The rule of :func:`retirement`: a rejected unknown retires at once; a detected one once
    ``max_votes_detected`` people have voted on it (counted now, not when it was scored);
    training subjects never retire.  Subjects without stored scores (status NULL) are not retired.
    """
    scored = pool[pool["status"].notna()]
    if scored.empty:
        return set()
    return retirement(scored[["subject", "probability", "n_votes", "status"]], max_votes_detected=max_votes_detected,
                      labels=scored.set_index("subject")["label"])


def retired_subjects(store, method: str = "swap", max_votes_detected: int = 30) -> set[str]:
    """Unknown subjects the queue should stop showing, from the scores stored for ``method``
    and the votes counted now (:func:`retired_in_pool`)."""
    from ..store import queries

    return retired_in_pool(queries.subject_pool(store, method), max_votes_detected)


@dataclass(frozen=True)
class Thresholds:
    """Detection / rejection thresholds and what they achieve on the training subjects."""

    detect: float          #: detected when p > detect
    reject: float          #: rejected when p < reject
    fpr: float             #: fraction of label-0 training subjects above ``detect``
    missed: float          #: fraction of label-1 training subjects below ``reject``


def tune_thresholds(scores: pd.DataFrame, labels: pd.Series, target_fpr: float = 0.01,
                    target_missed: float = 0.1) -> Thresholds:
    """Thresholds from the training subjects (Zooniverse Supernova Hunters' recipe).

    ``detect`` is the lowest threshold with at most ``target_fpr`` of the known non-lenses
    (label 0) above it; ``reject`` the highest with at most ``target_missed`` of the
    simulated lenses (label 1) below it.  If they would cross, ``reject`` is lowered to
    ``detect``.  ``labels``: label per subject (Series indexed by subject).
    """
    if not (0 <= target_fpr < 1 and 0 <= target_missed < 1):
        raise ValueError("target_fpr and target_missed must be in [0, 1)")
    lab = labels.reindex(scores["subject"]).to_numpy()
    p = scores["probability"].to_numpy(dtype=np.float64)
    duds, sims = np.sort(p[lab == 0])[::-1], np.sort(p[lab == 1])
    if len(duds) == 0 or len(sims) == 0:
        raise ValueError("tuning needs scored training subjects of both labels (1 and 0)")
    detect = float(duds[int(np.floor(target_fpr * len(duds) + 1e-9))])
    reject = float(min(sims[int(np.floor(target_missed * len(sims) + 1e-9))], detect))
    return Thresholds(detect=detect, reject=reject, fpr=float(np.mean(duds > detect)),
                      missed=float(np.mean(sims < reject)))


def matched_training_scores(votes: pd.DataFrame | CodedVotes, subjects: pd.DataFrame | None = None,
                            method: str = "swap", *, seed: int | None = 0, **options: object) -> pd.DataFrame:
    """Scores in which every training subject has only as many votes as an unknown typically has.

    Each training subject keeps its first ``n`` counted votes (time order), ``n`` drawn at
    random from the unknown subjects' counted votes (zeros included).  For ``swap`` the
    score is the online posterior after vote ``n`` (:func:`swap_trajectories`), so the
    volunteers' skills still come from all their training votes; other methods are re-run on
    the truncated votes.  Unknown subjects keep their full scores.  Columns as :func:`score`.
    """
    from .methods import default_thresholds, score
    from .swap import SWAP_DEFAULTS, swap_trajectories

    c = as_coded(votes, subjects)
    rng = np.random.default_rng(seed)
    n = c.votes_per_subject()
    unknown_n = n[c.labels == -1]
    if len(unknown_n) == 0:
        raise ValueError("matching needs unknown subjects (label -1)")
    train = np.flatnonzero(c.labels >= 0)
    cap = np.full(c.n_subjects, np.iinfo(np.int64).max)
    cap[train] = rng.choice(unknown_n, size=len(train))
    full = score(c, None, method, **options)
    if method == "swap":
        prior = float(options.get("prior", SWAP_DEFAULTS["prior"]))
        traj = swap_trajectories(c, prior=prior)
        code = pd.Index(c.subjects).get_indexer(traj["subject"])
        at = traj["k"].to_numpy() == cap[code]
        prob = full["probability"].to_numpy(dtype=np.float64).copy()   # cap >= n: all votes
        prob[cap == 0] = prior
        prob[code[at]] = traj["probability"].to_numpy()[at]
        t = default_thresholds(method)
        t.update({k: v for k, v in options.items() if k in t})
        out = full.copy()
        n_cut = np.minimum(n, cap)
        out.loc[train, "probability"] = prob[train]
        out.loc[train, "n_votes"] = n_cut[train]
        out.loc[train, "status"] = assign_status(prob, n_cut, t["detect"], t["reject"], t["min_votes"])[train]
        return out
    # time rank of each vote among its subject's votes (votes are in time order)
    order = np.argsort(c.subject, kind="stable")
    s = c.subject[order]
    start = np.r_[True, s[1:] != s[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(len(s)), 0))
    rank = np.empty(len(s), dtype=np.int64)
    rank[order] = np.arange(len(s)) - first
    keep = rank < cap[c.subject]
    cut = CodedVotes(user=c.user[keep], subject=c.subject[keep], answer=c.answer[keep], time_us=c.time_us[keep],
                     users=c.users, subjects=c.subjects, labels=c.labels)
    out = full.copy()
    part = score(cut, None, method, **options)
    cols = ["probability", "n_votes", "status"]
    out.loc[train, cols] = part.loc[train, cols].to_numpy()
    return out


def tune_thresholds_matched(votes: pd.DataFrame | CodedVotes, subjects: pd.DataFrame | None = None,
                            method: str = "swap", target_fpr: float = 0.01, target_missed: float = 0.1, *,
                            seed: int | None = 0, **options: object) -> Thresholds:
    """:func:`tune_thresholds` on :func:`matched_training_scores`: thresholds that hold for unknowns.

    ``fpr`` and ``missed`` of the result are measured on the matched training scores.
    """
    c = as_coded(votes, subjects)
    scores = matched_training_scores(c, None, method, seed=seed, **options)
    labels = pd.Series(c.labels, index=c.subjects)
    return tune_thresholds(scores, labels, target_fpr=target_fpr, target_missed=target_missed)
