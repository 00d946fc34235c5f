"""One entry point for every aggregation method: :func:`score` and :data:`METHODS`."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from ._votes import CodedVotes, as_coded
from .dawid_skene import DS_DEFAULTS, dawid_skene
from .fraction import FRACTION_DEFAULTS, majority, weighted
from .swap import SWAP_DEFAULTS, swap, swap_offline

__all__ = ["METHODS", "score", "default_thresholds"]

#: Method name -> scoring function ``f(coded_votes, *, detect, reject, min_votes)``.
METHODS: dict[str, Callable[..., pd.DataFrame]] = {
    "majority": majority,
    "weighted": weighted,
    "swap": swap,
    "swap-offline": swap_offline,
    "dawid-skene": dawid_skene,
}

_DEFAULTS = {
    "majority": FRACTION_DEFAULTS,
    "weighted": FRACTION_DEFAULTS,
    "swap": {**SWAP_DEFAULTS, "min_votes": 0},
    "swap-offline": {**SWAP_DEFAULTS, "min_votes": 0},
    "dawid-skene": {"detect": DS_DEFAULTS["detect"], "reject": DS_DEFAULTS["reject"], "min_votes": 0},
}


def default_thresholds(method: str) -> dict[str, float]:
    """``{"detect", "reject", "min_votes"}`` used by ``method`` when none are given."""
    _check(method)
    d = _DEFAULTS[method]
    return {"detect": d["detect"], "reject": d["reject"], "min_votes": d["min_votes"]}


def score(votes: pd.DataFrame | CodedVotes, subjects: pd.DataFrame | None, method: str, *,
          detect: float | None = None, reject: float | None = None, min_votes: int | None = None,
          **options: object) -> pd.DataFrame:
    """Scores of every subject by ``method``: frame subject, probability, n_votes, status.

    ``detect``/``reject``/``min_votes`` default to :func:`default_thresholds`; other
    keyword ``options`` go to the method (e.g. ``prior=`` for the SWAP methods).

    >>> votes = pd.DataFrame({"user_id": ["a", "b"], "subject": ["s1", "s1"], "answer": [1, 1],
    ...                       "created_at": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    >>> subjects = pd.DataFrame({"subject": ["s1", "s2"], "label": [-1, -1]})
    >>> score(votes, subjects, "majority", min_votes=1)[["subject", "probability", "status"]].values.tolist()
    [['s1', 1.0, 'detected'], ['s2', 0.0, 'undecided']]
    """
    _check(method)
    t = default_thresholds(method)
    if detect is not None:
        t["detect"] = detect
    if reject is not None:
        t["reject"] = reject
    if min_votes is not None:
        t["min_votes"] = min_votes
    return METHODS[method](as_coded(votes, subjects), **t, **options)


def _check(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown scoring method {method!r}; choose one of {', '.join(METHODS)}")
