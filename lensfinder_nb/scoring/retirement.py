"""Retirement (which subjects stop being shown) and thresholds tuned on the training set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["retirement", "tune_thresholds", "Thresholds"]


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
