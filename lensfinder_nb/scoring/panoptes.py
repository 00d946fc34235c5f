"""Read a Zooniverse Panoptes classification export of a yes/no ("is there a lens?") question.

Export columns used: classification_id, user_name, user_id, user_ip, created_at,
annotations (JSON list of ``{"task": ..., "value": ...}``), subject_ids.

Answer mapping (case-insensitive, on the question task's ``value``): text starting with
"yes", "lens", "y" or "true" -> 1; starting with "no", "not", "non", "n" or "false" -> 0;
anything else is an error unless ``answers`` maps it.  Answer indices (integers) are
ambiguous across workflows and need ``answers`` too, e.g. ``{0: 1, 1: 0}``.

Users: logged-in volunteers are ``user_id`` (stable across renames); the others are
``not-logged-in-<user_ip>`` (the export's ``user_ip`` is already a hash).  Vote ids are
``panoptes-<classification_id>``, so importing the same export twice adds nothing.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..errors import InvalidInput

__all__ = ["read_panoptes", "PanoptesError", "panoptes_answer"]

_REQUIRED = ("classification_id", "user_name", "user_id", "created_at", "annotations", "subject_ids")
_YES = ("yes", "lens", "true", "y")
_NO = ("no", "not", "non", "false", "n")


class PanoptesError(InvalidInput):
    """A malformed export; the message names the line."""


def panoptes_answer(value: Any, answers: Mapping[Any, int] | None = None) -> int:
    """1 (lens) or 0 (not a lens) for an annotation value; ``ValueError`` if it is neither."""
    if answers and value in answers:
        return int(answers[value])
    if isinstance(value, str):
        text = value.strip().lower()
        if answers and text in {str(k).lower() for k in answers}:
            return int({str(k).lower(): v for k, v in answers.items()}[text])
        first = text.replace(",", " ").replace("!", " ").replace(".", " ").split()
        word = first[0] if first else ""
        if word in _YES or text.startswith("yes") or text.startswith("lens"):
            return 1
        if word in _NO or text.startswith("not") or text.startswith("non"):
            return 0
    raise ValueError(f"cannot map the answer {value!r} to lens / not a lens (pass answers={{...}})")


def read_panoptes(path: str | os.PathLike, *, task: str | None = None,
                  answers: Mapping[Any, int] | None = None) -> pd.DataFrame:
    """Votes from a Panoptes export: frame user_id, subject, answer, created_at, vote_id.

    ``task``: the question's task key (e.g. "T0"); by default the first annotation.
    Raises :class:`PanoptesError` naming the CSV line for any row it cannot read.
    """
    rows: list[tuple[str, str, int, pd.Timestamp, str]] = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise PanoptesError(f"{os.fspath(path)}: not a Panoptes classification export, missing columns {missing}")
        for row in reader:
            line = reader.line_num
            try:
                rows.append(_parse_row(row, task, answers))
            except (ValueError, TypeError, KeyError) as exc:
                raise PanoptesError(f"{os.fspath(path)}, line {line}: {exc}") from None
    return pd.DataFrame(rows, columns=["user_id", "subject", "answer", "created_at", "vote_id"]).astype(
        {"answer": "int8", "created_at": "datetime64[us]"})


def _parse_row(row: dict[str, str], task: str | None, answers: Mapping[Any, int] | None
               ) -> tuple[str, str, int, pd.Timestamp, str]:
    cid = (row["classification_id"] or "").strip()
    if not cid:
        raise ValueError("empty classification_id")
    user = (row["user_id"] or "").strip()
    if not user:
        ip = (row.get("user_ip") or "").strip()
        if not ip:
            raise ValueError("no user_id and no user_ip")
        user = f"not-logged-in-{ip}"
    subjects = [s.strip() for s in (row["subject_ids"] or "").replace(",", ";").split(";") if s.strip()]
    if len(subjects) != 1:
        raise ValueError(f"expected one subject id, got {row['subject_ids']!r}")
    try:
        notes = json.loads(row["annotations"])
    except json.JSONDecodeError as exc:
        raise ValueError(f"annotations are not JSON ({exc.msg})") from None
    if not isinstance(notes, list) or not notes or not all(isinstance(n, dict) for n in notes):
        raise ValueError("annotations must be a non-empty JSON list of {task, value}")
    chosen = notes[0] if task is None else next((n for n in notes if n.get("task") == task), None)
    if chosen is None:
        raise ValueError(f"no annotation for task {task!r}")
    created = pd.Timestamp((row["created_at"] or "").replace(" UTC", "+00:00"))
    if pd.isna(created):
        raise ValueError("empty created_at")
    if created.tzinfo is not None:
        created = created.tz_convert("UTC").tz_localize(None)
    return user, subjects[0], panoptes_answer(chosen.get("value"), answers), created, f"panoptes-{cid}"
