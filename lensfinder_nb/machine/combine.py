"""The machine as one more participant in SWAP: measured skill, then one graded piece of evidence.

Skill is measured like a volunteer's, on training subjects (label 1 / 0) - but only on those the
model did *not* train on (``in_training`` false), so it is an honest estimate.

How the score enters SWAP (see docs/machine.md for why): one *graded vote* per subject.  The
score range is cut into bins; on the held-out training subjects each bin gets a likelihood
ratio ``P(bin | lens) / P(bin | not a lens)`` with one pseudo-count per bin and class (as SWAP's
agents start from pseudo-votes), clipped to SWAP's agent limits (0.01 ... 0.99 -> |ln LR| <=
ln 99).  Its logarithm is added to the subject's SWAP log-odds, exactly as a volunteer's
vote adds ln(PL / (1 - PD)) or ln((1 - PL) / PD).  The special case of two bins split at a
threshold is the machine as an ordinary SWAP agent with (PL, PD) at that threshold.

>>> import numpy as np, pandas as pd
>>> held_out = pd.DataFrame({"score": [0.9, 0.8, 0.2, 0.1], "y": [1, 1, 0, 0]})
>>> skill = measure_skill(held_out["score"], held_out["y"], edges=(0.0, 0.5, 1.0))
>>> round(skill.pl, 2), round(skill.pd, 2)
(0.67, 0.67)
>>> [round(v, 2) for v in skill.llr]
[-1.1, 1.1]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..scoring.metrics import skill_bits, swap_agent
from ..scoring.swap import SWAP_DEFAULTS

__all__ = ["MachineSkill", "measure_skill", "machine_llr", "combine", "machine_only", "skill_from_store",
           "DEFAULT_EDGES"]

#: score bins of the graded vote (the scores are sigmoid outputs, most near 0 or 1)
DEFAULT_EDGES = (0.0, 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98, 1.0)
_LLR_CAP = float(np.log(0.99 / 0.01))
_P_CLIP = 1e-12


@dataclass(frozen=True)
class MachineSkill:
    """The machine as a SWAP agent, measured on held-out training subjects.

    ``edges`` (n_bins + 1) cut the score range; ``llr`` (n_bins) is the log likelihood ratio of
    each bin; ``threshold``, ``pl``, ``pd`` describe the machine as a binary voter ("lens" when
    score > threshold) and ``skill_bits`` its information per vote at p = 0.5 (as a volunteer's).
    """

    edges: tuple[float, ...]
    llr: tuple[float, ...]
    threshold: float
    pl: float
    pd: float
    n_lenses: int
    n_nonlenses: int

    @property
    def skill_bits(self) -> float:
        return float(skill_bits(np.array(self.pl), np.array(self.pd)))


def measure_skill(score, y, *, edges=DEFAULT_EDGES, threshold: float = 0.5, pseudo: float = 1.0) -> MachineSkill:
    """Skill of the machine from held-out training subjects: ``score`` in [0, 1], ``y`` 1 = lens, 0 = not.

    PL, PD at ``threshold`` use SWAP's own smoothing (2 of 4 pseudo-votes); the bins' likelihood
    ratios use ``pseudo`` counts per bin and class.
    """
    score, y = np.asarray(score, float), np.asarray(y).astype(int)
    if len(score) != len(y) or not ((y == 0) | (y == 1)).all():
        raise ValueError("score and y must have the same length and y must be 0/1")
    edges = tuple(float(e) for e in edges)
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError("edges must increase")
    b = _bin(score, edges)
    k = len(edges) - 1
    n1, n0 = int(y.sum()), int((1 - y).sum())
    c1 = np.bincount(b[y == 1], minlength=k) + pseudo
    c0 = np.bincount(b[y == 0], minlength=k) + pseudo
    llr = np.log((c1 / c1.sum()) / (c0 / c0.sum()))
    llr = np.clip(llr, -_LLR_CAP, _LLR_CAP)
    pl = float(swap_agent(np.sum((score > threshold) & (y == 1)), n1))
    pd_ = float(swap_agent(np.sum((score <= threshold) & (y == 0)), n0))
    return MachineSkill(edges, tuple(float(v) for v in llr), float(threshold), pl, pd_, n1, n0)


def _bin(score: np.ndarray, edges) -> np.ndarray:
    return np.clip(np.searchsorted(np.asarray(edges[1:-1]), score, side="right"), 0, len(edges) - 2)


def machine_llr(score, skill: MachineSkill, mode: str = "graded") -> np.ndarray:
    """Log-likelihood ratio the machine adds for each score: ``"graded"`` (by bin) or
    ``"threshold"`` (one SWAP vote with the machine's PL, PD)."""
    score = np.asarray(score, float)
    if mode == "graded":
        return np.asarray(skill.llr)[_bin(score, skill.edges)]
    if mode == "threshold":
        return np.where(score > skill.threshold, np.log(skill.pl / (1 - skill.pd)),
                        np.log((1 - skill.pl) / skill.pd))
    raise ValueError(f"mode must be 'graded' or 'threshold', not {mode!r}")


def _logit(p):
    p = np.clip(np.asarray(p, float), _P_CLIP, 1 - _P_CLIP)
    return np.log(p) - np.log1p(-p)


def _status(p, detect, reject):
    return np.where(p > detect, "detected", np.where(p < reject, "rejected", "undecided"))


def combine(crowd: pd.DataFrame, machine: pd.DataFrame, skill: MachineSkill, *, mode: str = "graded",
            prior: float = SWAP_DEFAULTS["prior"], detect: float = SWAP_DEFAULTS["detect"],
            reject: float = SWAP_DEFAULTS["reject"]) -> pd.DataFrame:
    """SWAP scores with the machine's evidence added.

    Parameters
    ----------
    crowd : DataFrame
        SWAP output (subject, probability, n_votes), e.g. from :func:`lensfinder_nb.scoring.swap`
        with the same ``prior``.  Subjects missing here start from ``prior``.
    machine : DataFrame
        subject, score (e.g. the ``machine_scores`` table).  Subjects without a machine score
        keep their crowd probability.
    skill : MachineSkill
        From :func:`measure_skill` on held-out training subjects.

    Returns
    -------
    DataFrame subject, probability, n_votes, status, machine_llr, one row per subject of either input.
    """
    subjects = pd.Index(crowd["subject"]).union(pd.Index(machine["subject"]))
    c = crowd.set_index("subject").reindex(subjects)
    m = machine.set_index("subject")["score"].reindex(subjects)
    lo = np.where(c["probability"].notna(), _logit(c["probability"].fillna(prior)), _logit(prior))
    llr = np.where(m.notna(), machine_llr(m.fillna(0.5).to_numpy(), skill, mode), 0.0)
    p = 1.0 / (1.0 + np.exp(-(lo + llr)))
    n_votes = c["n_votes"].fillna(0).astype(np.int64).to_numpy() if "n_votes" in c else np.zeros(len(c), np.int64)
    return pd.DataFrame({"subject": subjects.to_numpy(), "probability": p, "n_votes": n_votes,
                         "status": _status(p, detect, reject), "machine_llr": llr})


def machine_only(machine: pd.DataFrame, skill: MachineSkill, **kwargs) -> pd.DataFrame:
    """The machine's evidence alone, from the prior (no votes): same columns as :func:`combine`."""
    empty = pd.DataFrame({"subject": pd.Series([], dtype=object), "probability": pd.Series([], dtype=float),
                          "n_votes": pd.Series([], dtype=np.int64)})
    return combine(empty, machine, skill, **kwargs)


def skill_from_store(store, model: str | None = None, **kwargs) -> MachineSkill:
    """:func:`measure_skill` from the ``machine_scores`` of ``model`` (default: the newest) on the
    training subjects that model did not train on."""
    from ..store import queries

    df = queries.machine_skill_sample(store, model)
    if df.empty or df["y"].nunique() < 2:
        raise InvalidInput("no held-out training subjects with machine scores; run `lensfinder predict`")
    return measure_skill(df["score"], df["y"], **kwargs)
