"""Which subject a person sees next: pure functions over a table of subjects.

Rules (docs/architecture.md): never the same subject twice for a person; retired
subjects are not served; unknown subjects with the fewest votes come first;
training subjects (mocks stratified by arc S/N, :mod:`.stratify`) are mixed in at a rate that falls with experience, as Space
Warps did (2 in 5 for the first few, then 1 in 5, 1 in 7, 1 in 10).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .stratify import stratified_order

__all__ = ["TRAINING_SCHEDULE", "training_rate", "plan_queue", "practice_order"]

#: (classifications done so far, share of training subjects from then on)
TRAINING_SCHEDULE: tuple[tuple[int, float], ...] = ((0, 2 / 5), (10, 1 / 5), (40, 1 / 7), (100, 1 / 10))


def training_rate(n_done: int, schedule: tuple[tuple[int, float], ...] = TRAINING_SCHEDULE,
                  scale: float = 1.0) -> float:
    """Share of training subjects for someone who has classified ``n_done`` subjects.

    >>> training_rate(0), training_rate(10), training_rate(500)
    (0.4, 0.2, 0.1)
    """
    rate = schedule[0][1]
    for start, r in schedule:
        if n_done >= start:
            rate = r
    return float(min(1.0, max(0.0, rate * scale)))


def plan_queue(pool: pd.DataFrame, seen: set[str], n: int, n_done: int, rng: np.random.Generator,
               rate_scale: float = 1.0, unknown_order: list[str] | None = None) -> list[str]:
    """The next ``n`` subject ids for one person.

    ``pool`` columns: subject, label (1/0/-1), n_votes (votes so far), retired (bool).
    Unknowns are taken fewest-votes first (random among equals); each slot is a training
    subject with probability :func:`training_rate` at that point; when one kind runs out the
    other fills in.  ``unknown_order`` (machine routing) replaces the fewest-votes order of
    the unknowns it lists; unknowns it leaves out follow, fewest votes first.

    >>> pool = pd.DataFrame({"subject": ["a", "b", "c", "d", "sim"], "label": [-1, -1, -1, -1, 1],
    ...                      "n_votes": [3, 0, 1, 0, 9], "retired": [False, False, False, True, False]})
    >>> # "b" was seen and "d" is retired; no training wanted, until the unknowns run out
    >>> plan_queue(pool, seen={"b"}, n=5, n_done=0, rng=np.random.default_rng(0), rate_scale=0.0)
    ['c', 'a', 'sim']
    """
    fresh = pool[~pool["subject"].isin(seen) & ~pool["retired"].astype(bool)]
    unknown = fresh[fresh["label"] == -1]
    training = fresh[fresh["label"] != -1]
    # fewest votes first; a random key breaks ties so two people do not march in step
    unknown = unknown.assign(_r=rng.random(len(unknown))).sort_values(["n_votes", "_r"])["subject"].tolist()
    if unknown_order is not None:
        live = set(unknown)
        first = [s for s in unknown_order if s in live]
        chosen = set(first)
        unknown = first + [s for s in unknown if s not in chosen]
    # mocks by arc S/N bin in the population's proportions, so faint arcs are served in their share
    training = stratified_order(training, rng)
    out: list[str] = []
    iu = it = 0
    for k in range(n):
        want_training = rng.random() < training_rate(n_done + k, scale=rate_scale)
        if (want_training and it < len(training)) or iu >= len(unknown):
            if it >= len(training):
                break
            out.append(training[it])
            it += 1
        else:
            out.append(unknown[iu])
            iu += 1
    return out


def practice_order(pool: pd.DataFrame, seen: set[str], n: int, rng: np.random.Generator) -> list[str]:
    """A practice round of ``n`` training subjects that goes from obvious to realistic.

    ``pool`` columns: subject, label (1/0), snr (arc S/N of a mock, best band).  Half the round
    (rounded up) are mock lenses picked evenly along the S/N ranking of the unseen mocks, brightest
    first, down to the faint end of the population (where real arcs are); the non-lenses, picked at
    random, sit between them at random places.  Mocks without an S/N count as the faintest.

    >>> pool = pd.DataFrame({"subject": ["m1", "m2", "m3", "m4", "n1", "n2"], "label": [1, 1, 1, 1, 0, 0],
    ...                      "snr": [12.0, 90.0, 30.0, 15.0, None, None]})
    >>> lenses = [s for s in practice_order(pool, set(), 4, np.random.default_rng(0)) if s.startswith("m")]
    >>> lenses
    ['m2', 'm1']
    """
    fresh = pool[~pool["subject"].isin(seen)]
    mocks = fresh[fresh["label"] == 1].assign(_s=fresh["snr"].astype(float).fillna(-np.inf))
    mocks = mocks.sort_values(["_s", "subject"], ascending=[False, True])["subject"].tolist()
    others = fresh.loc[fresh["label"] == 0, "subject"].tolist()
    n_lens = min(len(mocks), (n + 1) // 2)
    n_other = min(len(others), n - n_lens)
    n_lens = min(len(mocks), n - n_other)            # fill up with mocks when non-lenses run short
    picks = np.unique(np.rint(np.linspace(0, len(mocks) - 1, n_lens)).astype(int)) if n_lens else []
    lenses = [mocks[i] for i in picks]
    chosen_others = [others[i] for i in rng.permutation(len(others))[:n_other]]
    slots = np.zeros(len(lenses) + len(chosen_others), bool)
    slots[rng.permutation(len(slots))[:len(chosen_others)]] = True
    out, il, io = [], iter(lenses), iter(chosen_others)
    for is_other in slots:
        out.append(next(io) if is_other else next(il))
    return out
