"""Reading and writing the CSV/Parquet files people bring: subjects and votes.

Every reader validates the whole file before anything is written and raises
:class:`~lensfinder_nb.store.core.StoreError` naming the line and the problem, so an
import is all or nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .core import StoreError, content_vote_ids

__all__ = ["read_subjects_csv", "read_votes_csv", "write_votes"]

_LENS = {"1", "lens", "yes", "y", "true", "l"}
_NOT = {"0", "not", "not a lens", "not_lens", "notlens", "no", "n", "false", "nonlens"}


def _read_csv(path: Path, required: list[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path}: no such file")
    raw = path.read_bytes()
    if not raw.strip():
        raise StoreError(f"{path}: the file is empty")
    if b"\x00" in raw[:4096]:
        raise StoreError(f"{path}: not a CSV text file (binary data on line 1)")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise StoreError(f"{path}: line {line}: not UTF-8 text") from None
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise StoreError(f"{path}: not a readable CSV file ({str(exc).strip()})") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise StoreError(f"{path}: line 1: missing column(s) {', '.join(missing)} "
                         f"(found: {', '.join(df.columns) or 'none'})")
    if df.empty:
        raise StoreError(f"{path}: no rows after the header")
    return df


def _first_bad(path: Path, bad: np.ndarray, df: pd.DataFrame, column: str, what: str) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise StoreError(f"{path}: line {i + 2}: {what}: {df[column].iloc[i]!r}")


def read_subjects_csv(path: Path) -> pd.DataFrame:
    """Subjects from a CSV with ``subject,label`` and optional ``ra,dec,image``."""
    df = _read_csv(path, ["subject", "label"])
    _first_bad(path, (df["subject"].str.strip() == "").to_numpy(), df, "subject", "empty subject id")
    dup = df["subject"].duplicated().to_numpy()
    _first_bad(path, dup, df, "subject", "subject appears twice")
    _first_bad(path, ~df["label"].str.strip().isin(["1", "0", "-1"]).to_numpy(), df, "label",
               "label must be 1 (lens), 0 (not a lens) or -1 (unknown)")
    out = pd.DataFrame({"subject": df["subject"].str.strip(), "label": df["label"].astype(int)})
    for col in ("ra", "dec"):
        if col in df:
            values = pd.to_numeric(df[col].replace("", np.nan), errors="coerce")
            _first_bad(path, (values.isna() & (df[col] != "")).to_numpy(), df, col, f"{col} is not a number")
            limit = (0, 360) if col == "ra" else (-90, 90)
            _first_bad(path, ((values < limit[0]) | (values > limit[1])).to_numpy(), df, col,
                       f"{col} outside {limit[0]}..{limit[1]} degrees")
            out[col] = values
    if "image" in df:
        out["image"] = df["image"].replace("", None)
    out["kind"] = out["label"].map({1: "mock", 0: "nonlens", -1: "unknown"})
    out["source"] = f"import:{Path(path).name}"
    return out


def read_votes_csv(path: Path, known_subjects: set[str]) -> pd.DataFrame:
    """Votes from ``user,subject,answer,created_at`` (+ optional ``vote_id``); answers 1/0 or lens/not."""
    df = _read_csv(path, ["user", "subject", "answer", "created_at"])
    for col in ("user", "subject"):
        _first_bad(path, (df[col].str.strip() == "").to_numpy(), df, col, f"empty {col}")
    unknown = ~df["subject"].str.strip().isin(known_subjects)
    _first_bad(path, unknown.to_numpy(), df, "subject", "unknown subject")
    answers = df["answer"].str.strip().str.lower()
    _first_bad(path, ~(answers.isin(_LENS) | answers.isin(_NOT)).to_numpy(), df, "answer",
               "answer must be 1/0 or lens/not")
    stamps = pd.to_datetime(df["created_at"].str.strip(), format="ISO8601", errors="coerce", utc=True)
    _first_bad(path, stamps.isna().to_numpy(), df, "created_at", "created_at is not an ISO 8601 time")
    out = pd.DataFrame({
        "user_id": df["user"].str.strip(),
        "subject": df["subject"].str.strip(),
        "answer": answers.isin(_LENS).astype("int8"),
        "created_at": stamps.dt.tz_convert(None).astype("datetime64[us]"),
    })
    ids = df["vote_id"].str.strip() if "vote_id" in df else pd.Series([""] * len(df))
    generated = content_vote_ids(out)
    out["vote_id"] = np.where(ids.to_numpy() == "", generated.to_numpy(), ids.to_numpy())
    return out


def write_votes(frame: pd.DataFrame, path: Path) -> None:
    """Write votes to .csv or .parquet, chosen by the extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        raise StoreError(f"{path}: choose a .csv or .parquet file name")
