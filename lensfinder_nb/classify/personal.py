"""One person's own data: history, training metrics, progress, rank, annotations and CSV export.

Every query here is filtered by the ``user_id`` it is given, and that id must come from a
checked :class:`~lensfinder_nb.classify.identity.Identity` (the pages never take it from the query
string).  The only figure computed over everyone is the rank, and only the rank number and
the number of volunteers leave this module.

Metrics count the votes of the store's counting rule (:mod:`lensfinder_nb.store.views`: not
retracted, a person's first vote per subject), marked ``counted`` by :func:`my_votes`; truth
exists only for training subjects (label 1 = simulated lens, 0 = known non-lens), never for
unknowns (label -1).

>>> import tempfile, pathlib
>>> from lensfinder_nb.store import open_store
>>> store = open_store(pathlib.Path(tempfile.mkdtemp()) / "x.duckdb")
>>> _ = store.add_subjects(pd.DataFrame({"subject": ["a", "b"], "label": [1, -1]}))
>>> _ = store.add_vote("u-ada", "a", 1, vote_id="v1", created_at="2024-05-01T10:00:00")
>>> votes_csv(my_votes(store, "u-ada")).splitlines()
['user,subject,answer,created_at,vote_id', 'u-ada,a,1,2024-05-01T10:00:00.000000Z,v1']
>>> store.close()
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..store import queries

__all__ = ["HISTORY_PAGE_SIZE", "EXPORT_COLUMNS", "my_votes", "my_annotations", "my_metrics", "training_skill",
           "counted", "progress", "contribution_rank", "history_page", "votes_csv", "csv_data_url",
           "thumbnail", "Rank"]

#: thumbnails per page of the history
HISTORY_PAGE_SIZE = 24
#: columns of the CSV export; exactly what :func:`lensfinder_nb.store.tables.read_votes_csv` reads back
EXPORT_COLUMNS = ["user", "subject", "answer", "created_at", "vote_id"]

def my_votes(store, user_id: str) -> pd.DataFrame:
    """All votes of ``user_id`` (retracted ones too), oldest first.

    Columns: vote_id, seq, user_id, subject, answer, created_at, retracted_at, counted (the
    vote counts), label (-1 for a subject no longer in the store), image (path relative to the
    data folder).
    """
    return queries.votes_of_user(store, user_id)


def my_annotations(store, user_id: str) -> pd.DataFrame:
    """The person's current favourite flag and comment per subject, latest first.

    Each field takes its latest non-null value (an annotation that only sets a comment
    leaves the favourite as it was).  Columns: subject, favourite (bool), comment ("" if none),
    updated_at, image.
    """
    notes = queries.annotations_of_user(store, user_id)
    notes["favourite"] = notes["favourite"].astype("boolean").fillna(False).astype(bool)
    notes["comment"] = notes["comment"].astype(object).where(notes["comment"].notna(), "")
    return notes


def counted(votes: pd.DataFrame) -> pd.DataFrame:
    """The votes that count (column ``counted`` of :func:`my_votes`), in time order."""
    return votes[votes["counted"].astype(bool)].sort_values(["created_at", "seq"], kind="stable")


def my_metrics(votes: pd.DataFrame) -> dict:
    """Training metrics of one person's votes (a frame from :func:`my_votes`).

    Keys as the columns of :func:`lensfinder_nb.scoring.volunteer_metrics` (TP, FP, TN, FN,
    accuracy, precision, recall, F1, PL, PD, skill, contribution, n_votes, n_training, n_test);
    NaN where a ratio has no evidence.
    """
    from ..scoring import volunteer_metrics

    live = counted(votes)
    if live.empty:
        return {"TP": 0, "FP": 0, "TN": 0, "FN": 0, "accuracy": math.nan, "precision": math.nan,
                "recall": math.nan, "F1": math.nan, "PL": 0.5, "PD": 0.5, "skill": 0.0,
                "contribution": 0.0, "n_votes": 0, "n_training": 0, "n_test": 0}
    subjects = live[["subject", "label"]].drop_duplicates("subject")
    row = volunteer_metrics(live, subjects).iloc[0].to_dict()
    row.pop("user_id", None)
    return row


def training_skill(store, user_id: str) -> float:
    """The person's skill in bits now: :func:`my_metrics` ``skill`` of their counted votes (0 before
    any training vote); what routing uses to send hard subjects to skilled people."""
    return float(my_metrics(my_votes(store, user_id))["skill"])


def progress(votes: pd.DataFrame) -> pd.DataFrame:
    """Cumulative classifications and running training accuracy after each counted vote.

    Columns: created_at, n_classified, accuracy (share right among training votes so far;
    NaN before the first training vote).
    """
    c = counted(votes)
    training = c["label"].isin([0, 1]).to_numpy()
    right = (training & (c["answer"].to_numpy() == c["label"].to_numpy())).astype(np.int64)
    n_train = np.cumsum(training)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n_train > 0, np.cumsum(right) / np.maximum(n_train, 1), np.nan)
    return pd.DataFrame({"created_at": c["created_at"].to_numpy(),
                         "n_classified": np.arange(1, len(c) + 1),
                         "accuracy": acc})


@dataclass(frozen=True)
class Rank:
    """Place by contribution (1 = most), among ``of`` volunteers with counted votes."""

    place: int | None
    of: int


def contribution_rank(store, user_id: str) -> Rank:
    """The person's place by contribution among all volunteers (ties share the better place)."""
    from ..scoring import load_votes, volunteer_metrics

    metrics = volunteer_metrics(load_votes(store))
    metrics = metrics[metrics["n_votes"] > 0]
    mine = metrics.loc[metrics["user_id"] == user_id, "contribution"]
    if mine.empty:
        return Rank(None, len(metrics))
    return Rank(int((metrics["contribution"] > mine.iloc[0]).sum()) + 1, len(metrics))


def history_page(votes: pd.DataFrame, page: int, size: int = HISTORY_PAGE_SIZE) -> tuple[pd.DataFrame, int]:
    """Page ``page`` (0 = newest) of the history, newest first, and the number of pages (>= 1)."""
    newest = votes.sort_values(["created_at", "seq"], ascending=False, kind="stable")
    pages = max(1, -(-len(newest) // size))
    page = min(max(page, 0), pages - 1)
    return newest.iloc[page * size:(page + 1) * size], pages


def _iso_z(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts).dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def votes_csv(votes: pd.DataFrame) -> str:
    """The person's live (not retracted) votes as CSV with :data:`EXPORT_COLUMNS`, oldest first.

    Times are UTC ISO 8601 with microseconds, so a teacher's import keeps them exactly, and
    the vote ids make a repeated import add nothing.
    """
    live = votes[votes["retracted_at"].isna()].sort_values(["created_at", "seq"], kind="stable")
    out = pd.DataFrame({"user": live["user_id"], "subject": live["subject"],
                        "answer": live["answer"].astype(int), "created_at": _iso_z(live["created_at"]),
                        "vote_id": live["vote_id"]}, columns=EXPORT_COLUMNS)
    return out.to_csv(index=False, lineterminator="\n")


def csv_data_url(text: str) -> str:
    """A ``data:`` URL holding ``text`` as a UTF-8 CSV file (for an ``<a download>`` link)."""
    return "data:text/csv;charset=utf-8;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


def thumbnail(data_dir: Path, image: object) -> bytes | None:
    """The JPEG bytes of a subject's display image, or None when it has none or it is missing."""
    if image is None or (isinstance(image, float) and math.isnan(image)) or not str(image):
        return None
    from ..imaging.files import read_image
    try:
        return read_image(data_dir, str(image))
    except (OSError, ValueError):
        return None