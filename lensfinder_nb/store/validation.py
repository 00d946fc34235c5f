"""What the store accepts: answers, times, ids, marks, subject tables and vote events.

Pure Python and pandas, no SQL: every function either returns the value in the form the
store keeps or raises :class:`StoreError` saying what is wrong.

>>> parse_answer("lens"), parse_answer(False)
(1, 0)
>>> parse_timestamp("2024-05-01T12:00:00+02:00").isoformat()
'2024-05-01T10:00:00'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import uuid
from typing import Any

import pandas as pd

from ..errors import InvalidInput

__all__ = ["StoreError", "QueryError", "parse_answer", "parse_timestamp", "check_id", "marks_json",
           "vote_event", "validate_subjects", "prepare_vote_import", "content_vote_ids",
           "SUBJECT_COLUMNS", "VOTE_FIELDS", "MAX_ID_CHARS", "LENS_MODEL_COLUMNS", "lens_model_row"]

#: columns of the lens_models table, in insert order
LENS_MODEL_COLUMNS = ["model_id", "user_id", "subject", "params", "theta_e", "theta_e_err", "quality", "refined",
                      "created_at"]

#: columns of the subjects table that an import may set
SUBJECT_COLUMNS = ["subject", "label", "kind", "ra", "dec", "image", "cube", "params", "source"]
#: optional keyword fields of :meth:`Store.add_vote <lensfinder_nb.store.Store.add_vote>`
VOTE_FIELDS = frozenset({"vote_id", "marks", "created_at", "time_spent_s", "session"})
#: longest user, subject, vote or session id kept
MAX_ID_CHARS = 200

_LENS = {"1", "lens", "yes", "y", "true", "l"}
_NOT = {"0", "not", "not a lens", "not_lens", "notlens", "no", "n", "false", "nonlens"}


class StoreError(InvalidInput):
    """Input the store refuses; the message says what and where."""


class QueryError(StoreError):
    """SQL given to :meth:`Store.sql <lensfinder_nb.store.Store.sql>` that cannot run (or tried to write)."""


def parse_answer(value: Any) -> int:
    """1 for a lens, 0 for not a lens; accepts 1/0, True/False, 'lens'/'not' and the like."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return int(value)
    if isinstance(value, float) and value in (0.0, 1.0):
        return int(value)
    text = str(value).strip().lower()
    if text in _LENS:
        return 1
    if text in _NOT:
        return 0
    raise StoreError(f"answer must be 1/0 or lens/not, got {value!r}")


def parse_timestamp(value: Any) -> dt.datetime:
    """A naive UTC datetime from an ISO 8601 string, a datetime or epoch seconds (None: now)."""
    if value is None:
        return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        ts = value
    elif isinstance(value, (int, float)) and math.isfinite(value):
        ts = dt.datetime.fromtimestamp(value, dt.timezone.utc)
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            ts = dt.datetime.fromisoformat(text)
        except ValueError:
            raise StoreError(f"created_at must be an ISO 8601 time, got {value!r}") from None
    if ts.tzinfo is not None:
        ts = ts.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return ts


def check_id(kind: str, value: Any) -> str:
    """``value`` as an id of 1-200 printable characters (surrounding blanks dropped)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise StoreError(f"{kind} is missing")
    text = str(value).strip()
    if not text or len(text) > MAX_ID_CHARS or any(ord(c) < 32 for c in text):
        raise StoreError(f"{kind} must be 1-{MAX_ID_CHARS} printable characters, got {value!r}")
    return text


def marks_json(marks: Any) -> str | None:
    """Marks as JSON text ``[[x, y], ...]`` (image pixels), or None for no marks."""
    if marks is None:
        return None
    try:
        out = [[float(x), float(y)] for x, y in marks]
    except (TypeError, ValueError):
        raise StoreError(f"marks must be a list of (x, y) pairs, got {marks!r}") from None
    if not all(math.isfinite(v) for p in out for v in p):
        raise StoreError("marks must be finite numbers")
    return json.dumps(out) if out else None


def vote_event(user: str, subject: str, answer: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """The journal event of one vote; ``user`` and ``subject`` already checked, ``extra`` as
    :data:`VOTE_FIELDS`."""
    unknown = extra.keys() - VOTE_FIELDS
    if unknown:
        raise TypeError(f"unknown vote fields: {sorted(unknown)}")
    time_spent = extra.get("time_spent_s")
    if time_spent is not None:
        time_spent = float(time_spent)
        if not math.isfinite(time_spent) or time_spent < 0:
            raise StoreError("time_spent_s must be a non-negative number")
    vote_id = extra.get("vote_id")
    session = extra.get("session")
    return {
        "type": "vote",
        "vote_id": uuid.uuid4().hex if vote_id is None else check_id("vote_id", vote_id),
        "user_id": user,
        "subject": subject,
        "answer": parse_answer(answer),
        "marks": marks_json(extra.get("marks")),
        "created_at": parse_timestamp(extra.get("created_at")).isoformat(),
        "time_spent_s": time_spent,
        "session": None if session is None else str(session)[:MAX_ID_CHARS],
    }


def validate_subjects(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly :data:`SUBJECT_COLUMNS`, ids checked, labels in {1, 0, -1}, params as JSON."""
    if "subject" not in frame or "label" not in frame:
        raise StoreError("subjects need the columns subject and label")
    df = frame.copy()
    for col in SUBJECT_COLUMNS:
        if col not in df:
            df[col] = None
    df["subject"] = [check_id("subject", s) for s in df["subject"]]
    dup = df["subject"][df["subject"].duplicated()]
    if len(dup):
        raise StoreError(f"subject {dup.iloc[0]!r} appears twice")
    try:
        labels = pd.to_numeric(df["label"], errors="raise")
    except (TypeError, ValueError):
        raise StoreError("label must be 1, 0 or -1") from None
    if not labels.isin([-1, 0, 1]).all():
        bad = df["label"][~labels.isin([-1, 0, 1])].iloc[0]
        raise StoreError(f"label must be 1, 0 or -1, got {bad!r}")
    df["label"] = labels.astype("int8")
    df["params"] = [None if p is None or (isinstance(p, float) and math.isnan(p))
                    else (p if isinstance(p, str) else json.dumps(p)) for p in df["params"]]
    for col in ("ra", "dec"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df[SUBJECT_COLUMNS]


def prepare_vote_import(frame: pd.DataFrame) -> pd.DataFrame:
    """Votes to import with every column of the votes table, ids derived where missing
    (:func:`content_vote_ids`), answers as int8 and ``arrival`` (file order, breaks time ties)."""
    df = frame.copy()
    for col in ["vote_id", "marks", "time_spent_s", "session"]:
        if col not in df:
            df[col] = None
    missing_id = df["vote_id"].isna()
    if missing_id.any():
        df.loc[missing_id, "vote_id"] = content_vote_ids(df[missing_id])
    df["arrival"] = range(len(df))
    if pd.api.types.is_numeric_dtype(df["answer"]) and df["answer"].isin([0, 1]).all():
        df["answer"] = df["answer"].astype("int8")
    else:
        df["answer"] = df["answer"].map(parse_answer).astype("int8")
    return df


def content_vote_ids(frame: pd.DataFrame) -> pd.Series:
    """Deterministic ids for votes that came without one, so a re-import adds nothing."""
    keys = (frame["user_id"].astype(str) + "\x1f" + frame["subject"].astype(str) + "\x1f"
            + frame["answer"].astype(str) + "\x1f" + frame["created_at"].astype(str))
    return keys.map(lambda k: "imp-" + hashlib.sha1(k.encode()).hexdigest()[:24])


def parse_grade(value: Any) -> int:
    """An expert grade: an integer 0-3 (3 definitely a lens, 2 probably, 1 possibly, 0 not)."""
    if isinstance(value, bool):
        raise StoreError(f"a grade is 0, 1, 2 or 3, got {value!r}")
    try:
        grade = int(value)
    except (TypeError, ValueError):
        raise StoreError(f"a grade is 0, 1, 2 or 3, got {value!r}") from None
    if grade != value and str(grade) != str(value).strip():
        raise StoreError(f"a grade is 0, 1, 2 or 3, got {value!r}")
    if not 0 <= grade <= 3:
        raise StoreError(f"a grade is 0, 1, 2 or 3, got {value!r}")
    return grade


def _optional_positive(name: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise StoreError(f"{name} must be a number (got {value!r})") from None
    if math.isnan(v):  # a fit that could not tell its error: unknown, stored as NULL
        return None
    if not (math.isfinite(v) and v >= 0):
        raise StoreError(f"{name} must be a finite number >= 0 (got {value!r})")
    return v


def lens_model_row(user: str, subject: str, params: dict[str, Any], theta_e_err: Any = None,
                   quality: Any = None, refined: bool = False) -> dict[str, Any]:
    """A row of ``lens_models``: ``params`` a mapping of parameter name -> finite number that holds
    ``theta_e_arcsec`` > 0 (the model's own checks are :func:`lensfinder_nb.modelling.model.checked_model`);
    ``theta_e_err`` and ``quality`` (the fit's reduced chi2) finite and >= 0, or None (NaN: None)."""
    if not isinstance(params, dict) or not params:
        raise StoreError("a lens model's params must be a non-empty mapping of name -> number")
    clean: dict[str, float] = {}
    for key, value in params.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise StoreError(f"lens model parameter {key!r} must be a number (got {value!r})") from None
        if not math.isfinite(v):
            raise StoreError(f"lens model parameter {key!r} must be finite (got {value!r})")
        clean[str(key)] = v
    theta_e = clean.get("theta_e_arcsec")
    if theta_e is None or theta_e <= 0:
        raise StoreError("a lens model needs theta_e_arcsec > 0")
    return {"model_id": uuid.uuid4().hex, "user_id": user, "subject": subject,
            "params": json.dumps(clean, sort_keys=True), "theta_e": theta_e,
            "theta_e_err": _optional_positive("theta_e_err", theta_e_err),
            "quality": _optional_positive("quality", quality), "refined": bool(refined),
            "created_at": parse_timestamp(None)}
