"""Dawid-Skene EM for two classes with the training labels held fixed.

Model: each volunteer u has a 2x2 confusion matrix given by PL_u = P("lens" | lens) and
PD_u = P("not" | not a lens); votes are independent given the true class.

* Training subjects (label 1 / 0) keep their class in every M-step (they anchor the
  volunteers' matrices); unknown subjects get posteriors from the E-step.
* M-step: PL_u, PD_u are the expected right answers with SWAP's 2-of-4 pseudo-votes
  (a Beta(2, 2) prior), clipped to [0.01, 0.99], so one-vote volunteers stay near 0.5.
* Class prior: estimated from the unknown subjects that have votes (training sets are
  lens-rich, so they must not set it), mean posterior with one pseudo-lens and one
  pseudo-non-lens, clipped to [1e-6, 0.5]; pass ``prior=`` to hold it fixed instead.
* Reported probability: the posterior from the votes alone, also for training subjects
  (so ROC curves on training subjects mean something).

Vectorised: every step is a handful of ``np.bincount`` over the votes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._votes import CodedVotes, as_coded, expit, scores_frame
from .metrics import swap_agent

__all__ = ["dawid_skene", "DS_DEFAULTS"]

#: Default Dawid-Skene settings.
DS_DEFAULTS = {"detect": 0.95, "reject": 1e-7, "n_iter": 100, "tol": 1e-7}


def _posterior_logodds(c: CodedVotes, pl: np.ndarray, pdd: np.ndarray, prior: float) -> np.ndarray:
    lpl, lpd = pl[c.user], pdd[c.user]
    llr = np.where(c.answer == 1, np.log(lpl / (1.0 - lpd)), np.log((1.0 - lpl) / lpd))
    return np.log(prior / (1.0 - prior)) + np.bincount(c.subject, weights=llr, minlength=c.n_subjects)


def dawid_skene(votes: pd.DataFrame | CodedVotes, subjects: pd.DataFrame | None = None, *,
                prior: float | None = None, n_iter: int = DS_DEFAULTS["n_iter"], tol: float = DS_DEFAULTS["tol"],
                detect: float = DS_DEFAULTS["detect"], reject: float = DS_DEFAULTS["reject"],
                min_votes: int = 0, return_model: bool = False
                ) -> pd.DataFrame | tuple[pd.DataFrame, dict]:
    """Dawid-Skene posteriors: frame subject, probability, n_votes, status.

    Starts from the volunteers' training performance, iterates E and M steps until no
    posterior moves by more than ``tol`` (or ``n_iter`` steps).  With ``return_model``
    also returns ``{"PL", "PD" (arrays per user, sorted user ids in "users"), "prior",
    "n_iter"}``.
    """
    if n_iter < 1:
        raise ValueError("n_iter must be at least 1")
    c = as_coded(votes, subjects)
    lab, n = c.labels, c.n_users
    fixed = lab >= 0
    unknown_voted = (~fixed) & (c.votes_per_subject() > 0)
    truth = np.where(lab == 1, 1.0, 0.0)
    # Start: the volunteers' training performance, a uniform 1 % prior.
    t = np.where(fixed, truth, 0.0)
    w_train = fixed[c.subject].astype(np.float64)
    pi = 0.01 if prior is None else float(prior)
    steps = 0
    for steps in range(1, n_iter + 1):
        tv = t[c.subject]
        w = w_train if steps == 1 else np.ones(len(tv))
        pl = swap_agent(np.bincount(c.user, weights=w * tv * c.answer, minlength=n),
                        np.bincount(c.user, weights=w * tv, minlength=n))
        pdd = swap_agent(np.bincount(c.user, weights=w * (1 - tv) * (1 - c.answer), minlength=n),
                         np.bincount(c.user, weights=w * (1 - tv), minlength=n))
        post = expit(_posterior_logodds(c, pl, pdd, pi))
        new_t = np.where(fixed, truth, np.where(unknown_voted, post, pi))
        if prior is None:
            pi = float(np.clip((1.0 + new_t[unknown_voted].sum()) / (2.0 + unknown_voted.sum()), 1e-6, 0.5))
        delta = float(np.max(np.abs(new_t - t))) if len(t) else 0.0
        t = new_t
        if steps > 1 and delta < tol:
            break
    prob = expit(_posterior_logodds(c, pl, pdd, pi)) if len(t) else np.zeros(0)
    scores = scores_frame(c, prob, detect, reject, min_votes)
    if return_model:
        return scores, {"users": c.users, "PL": pl, "PD": pdd, "prior": pi, "n_iter": steps}
    return scores
