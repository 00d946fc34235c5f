"""Expert grading: the grading queue, the consensus grade, agreement between graders, the graded catalogue.

Pure functions over DataFrames (the store reads are in :func:`queue_scores_from_store` only).
The rules are written in ``docs/grading.md``:

* **Scale** (:data:`GRADE_SCALE`): 3 definitely a lens, 2 probably, 1 possibly, 0 not a lens.
* **Queue** (:func:`grading_queue`): unknown subjects whose score from the chosen source is above the
  threshold, best score first; a subject leaves the queue once ``n_graders`` experts graded it
  (default 6, after Rojas et al. 2023), and an expert never sees a subject they already graded.
* **Consensus** (:func:`consensus`): the mean of each grader's latest grade; class A above 2.5,
  B from 1.5 to 2.5, C below 1.5.
* **Agreement**: Krippendorff's alpha, ordinal, over every graded subject (:func:`krippendorff_alpha`,
  from the maintained ``krippendorff`` package); per grader, the distance to the mean of the *other*
  graders (:func:`grader_agreement`), so a grader is not compared with a consensus they are part of.

>>> g = pd.DataFrame({"user_id": ["ann", "bob", "ann", "bob"], "subject": ["s1", "s1", "s2", "s2"],
...                   "grade": [3, 3, 0, 1]})
>>> consensus(g)[["subject", "mean_grade", "grade_class", "n_graders"]].values.tolist()
[['s1', 3.0, 'A', 2], ['s2', 0.5, 'C', 2]]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import InvalidInput

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["GRADE_SCALE", "DEFAULT_GRADERS", "SOURCES", "grade_class", "consensus", "krippendorff_alpha",
           "grader_agreement", "queue_scores", "grading_queue", "queue_scores_from_store", "graded_catalogue",
           "MODEL_COLUMNS", "CATALOGUE_COLUMNS", "crowd_scores", "catalogue_from_store", "default_threshold"]

#: grade -> catalogue key of its written definition (``grade.scale.<n>``)
GRADE_SCALE = {3: "definitely", 2: "probably", 1: "possibly", 0: "not"}
#: graders per subject before it leaves the queue (Rojas et al. 2023 used six)
DEFAULT_GRADERS = 6
#: where the queue's score comes from
SOURCES = ("crowd", "machine", "combined")
#: the lens-model columns the catalogue carries (from the modelling consensus, NaN without a model)
MODEL_COLUMNS = ["theta_E", "theta_E_err", "e1", "e2", "gamma1", "gamma2", "center_x", "center_y", "n_models"]
CATALOGUE_COLUMNS = ["subject", "ra", "dec", "grade_class", "mean_grade", "n_graders", "agreement_alpha",
                     "crowd_score", "machine_score", "known_lens", *MODEL_COLUMNS]


def grade_class(mean_grade: float) -> str:
    """A (mean > 2.5), B (1.5 <= mean <= 2.5) or C (below 1.5); "" without grades.

    >>> [grade_class(x) for x in (3.0, 2.51, 2.5, 1.5, 1.49, float("nan"))]
    ['A', 'A', 'B', 'B', 'C', '']
    """
    if mean_grade is None or (isinstance(mean_grade, float) and math.isnan(mean_grade)):
        return ""
    if mean_grade > 2.5:
        return "A"
    return "B" if mean_grade >= 1.5 else "C"


def _latest(grades: pd.DataFrame) -> pd.DataFrame:
    """One grade per (grader, subject): the latest when ``created_at`` is there, else the last row."""
    df = grades
    if "created_at" in df.columns:
        df = df.sort_values("created_at", kind="stable")
    return df.drop_duplicates(["user_id", "subject"], keep="last")[["user_id", "subject", "grade"]]


def consensus(grades: pd.DataFrame) -> pd.DataFrame:
    """Per graded subject: subject, mean_grade, grade_class, n_graders, grade_std (population),
    sorted by mean grade (best first), then subject.  ``grades``: user_id, subject, grade
    (repeats of a grader on a subject: the latest counts)."""
    df = _latest(grades)
    if df.empty:
        return pd.DataFrame({"subject": pd.Series(dtype=object), "mean_grade": pd.Series(dtype=float),
                             "grade_class": pd.Series(dtype=object), "n_graders": pd.Series(dtype="int64"),
                             "grade_std": pd.Series(dtype=float)})
    agg = df.groupby("subject")["grade"].agg(mean_grade="mean", n_graders="count",
                                             grade_std=lambda g: float(np.std(g)))
    agg = agg.reset_index()
    agg["mean_grade"] = agg["mean_grade"].astype(float)
    agg["n_graders"] = agg["n_graders"].astype("int64")
    agg["grade_class"] = [grade_class(m) for m in agg["mean_grade"]]
    agg = agg.sort_values(["mean_grade", "subject"], ascending=[False, True], kind="stable")
    return agg[["subject", "mean_grade", "grade_class", "n_graders", "grade_std"]].reset_index(drop=True)


def krippendorff_alpha(grades: pd.DataFrame) -> float:
    """Krippendorff's alpha (ordinal, grades 0-3) between all graders over all subjects; NaN when
    no subject has two grades or every grade is the same (no variation to agree on)."""
    df = _latest(grades)
    table = df.pivot(index="user_id", columns="subject", values="grade")
    pairable = table.notna().sum(axis=0) >= 2
    table = table.loc[:, pairable]
    values = table.to_numpy(dtype=float)
    if values.size == 0 or np.unique(values[~np.isnan(values)]).size < 2:
        return float("nan")
    import krippendorff

    return float(krippendorff.alpha(reliability_data=values, level_of_measurement="ordinal",
                                    value_domain=[0, 1, 2, 3]))


def grader_agreement(grades: pd.DataFrame) -> pd.DataFrame:
    """Each grader against the others: user_id, n_compared (subjects that others graded too),
    mean_abs_diff (mean |grade - mean of the other graders|), within_one (fraction of those within
    one grade), bias (mean signed difference: > 0 grades higher than the others).  Graders with
    nothing to compare get NaN; sorted by user_id."""
    df = _latest(grades)
    by_subject = df.groupby("subject")["grade"].agg(["sum", "count"])
    df = df.join(by_subject, on="subject")
    others = df["count"] - 1
    df = df.assign(diff=np.where(others > 0, df["grade"] - (df["sum"] - df["grade"]) / others.clip(lower=1),
                                 np.nan))
    rows = []
    for user, g in df.groupby("user_id", sort=True):
        d = g["diff"].dropna().to_numpy(dtype=float)
        rows.append({"user_id": user, "n_graded": len(g), "n_compared": len(d),
                     "mean_abs_diff": float(np.mean(np.abs(d))) if len(d) else float("nan"),
                     "within_one": float(np.mean(np.abs(d) <= 1.0)) if len(d) else float("nan"),
                     "bias": float(np.mean(d)) if len(d) else float("nan")})
    return pd.DataFrame(rows, columns=["user_id", "n_graded", "n_compared", "mean_abs_diff", "within_one", "bias"])


# ---------------------------------------------------------------------- the queue
#: SWAP-scale posteriors start at the prior (2e-4), so a useful cut is a few times the prior, not 0.5:
#: on the demo class (10 hidden lenses among 200 unknowns, ~10 votes each) 5x the prior keeps 9 of the
#: 10 lenses and no other subject, while 0.5 keeps nothing.
_SWAP_SCALE_FACTOR = 5.0


def default_threshold(source: str, method: str = "swap") -> float:
    """The queue's default score cut: 5x SWAP's prior (0.001) for SWAP-scale scores (crowd with
    swap / swap-offline, combined), 0.5 for the machine's score and the vote-fraction methods.

    >>> default_threshold("crowd"), default_threshold("machine"), default_threshold("crowd", "majority")
    (0.001, 0.5, 0.5)
    """
    from .swap import SWAP_DEFAULTS
    swap_scale = source == "combined" or (source == "crowd" and method in ("swap", "swap-offline"))
    return round(_SWAP_SCALE_FACTOR * SWAP_DEFAULTS["prior"], 12) if swap_scale else 0.5


def queue_scores(source: str, crowd: pd.DataFrame | None = None, machine: pd.DataFrame | None = None,
                 combined: pd.DataFrame | None = None) -> pd.DataFrame:
    """The score each subject is queued by: subject, score.

    ``crowd``: subject, probability (stored scores of a method); ``machine``: subject, score (latest
    model); ``combined``: subject, probability (the crowd with the machine's evidence,
    :func:`lensfinder_nb.machine.combine.combine`).  For "combined" without that frame, the larger of
    the crowd and the machine score (either alone where the other is missing).
    """
    empty = pd.DataFrame({"subject": pd.Series(dtype=object), "score": pd.Series(dtype=float)})

    def frame(df: pd.DataFrame | None, col: str) -> pd.DataFrame:
        if df is None or df.empty:
            return empty
        return pd.DataFrame({"subject": df["subject"].astype(str), "score": df[col].astype(float)})

    if source == "crowd":
        return frame(crowd, "probability")
    if source == "machine":
        return frame(machine, "score")
    if source == "combined":
        if combined is not None:
            return frame(combined, "probability")
        both = pd.concat([frame(crowd, "probability"), frame(machine, "score")])
        return both.groupby("subject", as_index=False)["score"].max()
    raise InvalidInput(f"source must be one of {', '.join(SOURCES)}, not {source!r}")


def grading_queue(scores: pd.DataFrame, grades: pd.DataFrame, user: str, *, threshold: float = 0.5,
                  n_graders: int = DEFAULT_GRADERS, subjects: pd.DataFrame | None = None) -> pd.DataFrame:
    """What ``user`` grades next, best score first: subject, score, n_graders.

    A subject is queued when its score is above ``threshold``, fewer than ``n_graders`` experts
    graded it and ``user`` has not; with ``subjects`` (subject, label) only unknown ones (label -1).
    Ties: subject id.
    """
    if n_graders < 1:
        raise ValueError("n_graders must be at least 1")
    df = scores[scores["score"] > threshold][["subject", "score"]]
    if subjects is not None:
        unknown = set(subjects.loc[subjects["label"] == -1, "subject"].astype(str))
        df = df[df["subject"].isin(unknown)]
    latest = _latest(grades) if len(grades) else pd.DataFrame(columns=["user_id", "subject", "grade"])
    counts = latest.groupby("subject").size()
    mine = set(latest.loc[latest["user_id"] == user, "subject"])
    df = df.assign(n_graders=counts.reindex(df["subject"]).fillna(0).astype("int64").to_numpy())
    df = df[(df["n_graders"] < n_graders) & ~df["subject"].isin(mine)]
    return df.sort_values(["score", "subject"], ascending=[False, True], kind="stable").reset_index(drop=True)


def queue_scores_from_store(store: Store, source: str = "crowd", method: str = "swap") -> pd.DataFrame:
    """:func:`queue_scores` from the store: the stored scores of ``method`` (scored now from the votes
    when none are stored), the latest machine scores, and for "combined" the SWAP combination when the
    machine's skill can be measured on held-out training subjects (else the larger of the two)."""
    from ..store import queries

    if source not in SOURCES:
        raise InvalidInput(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    crowd = machine = combined = None
    if source in ("crowd", "combined"):
        crowd = crowd_scores(store, method)
    if source in ("machine", "combined"):
        machine = queries.latest_machine_scores(store)
    if source == "combined" and machine is not None and not machine.empty and method == "swap":
        from ..machine.combine import combine, skill_from_store
        try:
            combined = combine(crowd, machine, skill_from_store(store))
        except InvalidInput:
            combined = None
    return queue_scores(source, crowd, machine, combined)


def crowd_scores(store: Store, method: str = "swap") -> pd.DataFrame:
    """The crowd's scores of ``method``: stored ones, else scored now from the votes (subject,
    probability, n_votes, status)."""
    from ..store import queries

    stored = queries.stored_scores(store, method)
    if not stored.empty:
        return stored
    from . import load_votes, score
    return score(load_votes(store), None, method)


# ---------------------------------------------------------------------- the graded catalogue
def graded_catalogue(grades: pd.DataFrame, subjects: pd.DataFrame, *, crowd: pd.DataFrame | None = None,
                     machine: pd.DataFrame | None = None, known: pd.DataFrame | None = None,
                     models: pd.DataFrame | None = None, match_known: bool = True,
                     match_radius_arcsec: float = 5.0) -> pd.DataFrame:
    """One row per graded subject, best mean grade first (columns :data:`CATALOGUE_COLUMNS`).

    ``grades``: user_id, subject, grade (latest per grader counts); ``subjects``: subject, ra, dec;
    ``crowd``: subject, probability; ``machine``: subject, score; ``known``: a known-lens match
    with subject and a name column (without it the lenscat cross-match runs when ``match_known``);
    ``models``: subject and :data:`MODEL_COLUMNS` (the consensus lens model; NaN where missing).
    ``agreement_alpha`` is the catalogue's one Krippendorff alpha, repeated on every row.
    """
    from .candidates import known_lens_names

    cons = consensus(grades)
    info = subjects.drop_duplicates("subject").set_index("subject").reindex(cons["subject"])

    def lookup(df: pd.DataFrame | None, col: str) -> np.ndarray:
        if df is None or df.empty:
            return np.full(len(cons), np.nan)
        return df.drop_duplicates("subject").set_index("subject")[col].reindex(cons["subject"]) \
            .to_numpy(dtype=float)

    out = pd.DataFrame({
        "subject": cons["subject"].to_numpy(dtype=object),
        "ra": info["ra"].to_numpy(dtype=float) if "ra" in info else np.full(len(cons), np.nan),
        "dec": info["dec"].to_numpy(dtype=float) if "dec" in info else np.full(len(cons), np.nan),
        "grade_class": cons["grade_class"].to_numpy(dtype=object),
        "mean_grade": cons["mean_grade"].to_numpy(dtype=float),
        "n_graders": cons["n_graders"].to_numpy(dtype=np.int64),
        "agreement_alpha": np.full(len(cons), krippendorff_alpha(grades) if len(cons) else np.nan),
        "crowd_score": lookup(crowd, "probability"),
        "machine_score": lookup(machine, "score"),
    })
    out["known_lens"] = known_lens_names(out, known, match=match_known, radius_arcsec=match_radius_arcsec)
    for col in MODEL_COLUMNS:
        out[col] = lookup(models, col) if models is not None and col in models.columns \
            else np.full(len(out), np.nan)
    out["n_models"] = np.nan_to_num(out["n_models"].to_numpy(dtype=float), nan=0.0).astype(np.int64)
    return out[CATALOGUE_COLUMNS]


def catalogue_from_store(store: Store, *, method: str = "swap", models: pd.DataFrame | None = None,
                         match_known: bool = True) -> pd.DataFrame:
    """:func:`graded_catalogue` of the store's grades, with the crowd scores of ``method``, the
    latest machine scores and ``models`` (default: the consensus of the stored lens models,
    :func:`lensfinder_nb.modelling.consensus.consensus_models`)."""
    from ..modelling.consensus import consensus_models
    from ..store import queries

    if method not in _crowd_methods():
        raise InvalidInput(f"unknown method {method!r}: use one of {', '.join(_crowd_methods())}")
    grades = queries.grades(store)
    crowd = crowd_scores(store, method) if len(grades) else None
    if models is None:
        models = consensus_models(store.lens_models())
    return graded_catalogue(grades, store.subjects(), crowd=crowd, machine=queries.latest_machine_scores(store),
                            models=models, match_known=match_known)


def _crowd_methods() -> tuple[str, ...]:
    from .methods import METHODS
    return tuple(METHODS)

