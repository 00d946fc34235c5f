"""Reading and writing the CSV/Parquet tables people bring: subjects, votes, catalogues, labels.

:func:`read_csv_table` is the one CSV reader of lensfinder: it checks the whole file before
anything is used and raises an error naming the file, the line and the problem (missing,
empty, binary or not UTF-8 files; missing columns, naming those found; bad values; no rows),
so an import is all or nothing.  The subjects and votes readers here, the fetch catalogue and
the ingest labels file (:mod:`lensfinder_nb.realdata.labels`) all go through it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .core import StoreError, content_vote_ids

__all__ = ["TableError", "CsvTable", "read_csv_table", "read_subjects_csv", "read_votes_csv", "write_votes"]

_LENS = {"1", "lens", "yes", "y", "true", "l"}
_NOT = {"0", "not", "not a lens", "not_lens", "notlens", "no", "n", "false", "nonlens"}
_UNIT = re.compile(r"\s*[\[(][^\])]*[\])]$")  # "RA [deg]" -> "ra"


class TableError(StoreError):
    """A table someone brought cannot be used; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class CsvTable:
    """A checked table: ``rows`` holds stripped text cells under lower-case column names
    (every required and optional column, empty text where absent); ``origin`` names it in errors."""

    rows: pd.DataFrame
    origin: str
    from_file: bool

    def where(self, i: int) -> str:
        """``<file>: line <n>`` for row ``i`` (the header is line 1), or ``<table>: row <n>``."""
        return f"{self.origin}: line {i + 2}" if self.from_file else f"{self.origin}: row {i + 1}"

    def reject(self, bad: np.ndarray | pd.Series, column: str, what: str) -> None:
        """Raise :class:`TableError` naming the first row where ``bad`` is true, its line and its value."""
        bad = np.asarray(bad, dtype=bool)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise TableError(f"{self.where(i)}: {what}: {self.rows[column].iloc[i]!r}")

    def numbers(self, column: str, lo: float = -math.inf, hi: float = math.inf, unit: str = "") -> pd.Series:
        """``column`` as floats (NaN where empty); text that is not a number, or a value outside
        ``lo..hi``, is an error naming its line."""
        text = self.rows[column]
        values = pd.to_numeric(text.replace("", np.nan), errors="coerce").astype(float)
        self.reject(values.isna() & (text != ""), column, f"{column} is not a number")
        limits = f" {unit}" if unit else ""
        self.reject((values < lo) | (values > hi), column, f"{column} outside {lo:g}..{hi:g}{limits}")
        return values


def read_csv_table(source: str | os.PathLike | pd.DataFrame, required: Sequence[str] = (),
                   optional: Sequence[str] = (), *, one_of: Sequence[Sequence[str]] = (),
                   aliases: Mapping[str, str] | None = None, what: str = "") -> CsvTable:
    """Read and check a CSV file (or a DataFrame given in its place) before any of it is used.

    Column names are matched without case, surrounding spaces or a unit suffix (``RA [deg]``
    is ``ra``), then renamed by ``aliases``.  ``required`` columns must all be present; of
    ``one_of`` (alternative column sets) at least one set must be; ``optional`` columns are
    filled with empty text where absent.  Other columns are dropped.  ``what`` names the kind
    of file in the "no such file" message.  Every problem raises :class:`TableError`.

    >>> t = read_csv_table(pd.DataFrame({"RA [deg]": [150.0], "Dec": [2.5]}), ["ra", "dec"], ["name"])
    >>> t.rows.to_dict("records")
    [{'ra': '150', 'dec': '2.5', 'name': ''}]
    >>> read_csv_table(pd.DataFrame({"x": [1]}), ["ra", "dec"])
    Traceback (most recent call last):
    ...
    lensfinder_nb.store.tables.TableError: the given table: missing column(s) ra, dec (found: x)
    """
    if isinstance(source, pd.DataFrame):
        origin, from_file, head = f"the {what or 'given'} table", False, ""
        df = source.map(_cell_text).astype(str)
    else:
        path = Path(source)
        origin, from_file, head = str(path), True, "line 1: "
        df = _read_text_csv(path, what)
    names = [_UNIT.sub("", str(c).strip().lower()) for c in df.columns]
    df.columns = [(aliases or {}).get(n, n) for n in names]
    twice = df.columns[df.columns.duplicated()]
    if len(twice):
        raise TableError(f"{origin}: {head}column {twice[0]!r} appears twice")
    found = ", ".join(df.columns) or "none"
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise TableError(f"{origin}: {head}missing column(s) {', '.join(missing)} (found: {found})")
    if one_of and not any(all(c in df.columns for c in group) for group in one_of):
        needs = ", or ".join(" and ".join(group) for group in one_of)
        raise TableError(f"{origin}: {head}missing column(s): needs {needs} (found: {found})")
    if df.empty:
        raise TableError(f"{origin}: no rows after the header" if from_file else f"{origin}: no rows")
    keep = list(dict.fromkeys([*required, *(c for group in one_of for c in group), *optional]))
    rows = pd.DataFrame({c: df[c].str.strip() if c in df.columns else "" for c in keep}, index=df.index)
    return CsvTable(rows.reset_index(drop=True), origin, from_file)


def _read_text_csv(path: Path, what: str) -> pd.DataFrame:
    """All cells as text; refuses missing, empty, binary, non-UTF-8 and unparsable files."""
    if not path.is_file():
        raise TableError(f"{path}: no such {what + ' ' if what else ''}file")
    raw = path.read_bytes()
    if not raw.strip():
        raise TableError(f"{path}: the file is empty")
    if b"\x00" in raw[:4096]:
        raise TableError(f"{path}: not a CSV text file (binary data on line 1)")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TableError(f"{path}: line {line}: not UTF-8 text") from None
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise TableError(f"{path}: not a readable CSV file ({str(exc).strip()})") from None


def _cell_text(value: object) -> str:
    """A DataFrame cell as the text a CSV file would hold (NaN empty, 1.0 as 1)."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_subjects_csv(path: Path) -> pd.DataFrame:
    """Subjects from a CSV with ``subject,label`` and optional ``ra,dec,image``."""
    table = read_csv_table(path, ["subject", "label"], ["ra", "dec", "image"])
    df = table.rows
    table.reject(df["subject"] == "", "subject", "empty subject id")
    table.reject(df["subject"].duplicated(), "subject", "subject appears twice")
    table.reject(~df["label"].isin(["1", "0", "-1"]), "label", "label must be 1 (lens), 0 (not a lens) or -1 (unknown)")
    out = pd.DataFrame({"subject": df["subject"], "label": df["label"].astype(int),
                        "ra": table.numbers("ra", 0, 360, "degrees"),
                        "dec": table.numbers("dec", -90, 90, "degrees"),
                        "image": df["image"].replace("", None)})
    out["kind"] = out["label"].map({1: "mock", 0: "nonlens", -1: "unknown"})
    out["source"] = f"import:{Path(path).name}"
    return out


def read_votes_csv(path: Path, known_subjects: set[str]) -> pd.DataFrame:
    """Votes from ``user,subject,answer,created_at`` (+ optional ``vote_id``); answers 1/0 or lens/not."""
    table = read_csv_table(path, ["user", "subject", "answer", "created_at"], ["vote_id"])
    df = table.rows
    for col in ("user", "subject"):
        table.reject(df[col] == "", col, f"empty {col}")
    table.reject(~df["subject"].isin(known_subjects), "subject", "unknown subject")
    answers = df["answer"].str.lower()
    table.reject(~(answers.isin(_LENS) | answers.isin(_NOT)), "answer", "answer must be 1/0 or lens/not")
    stamps = pd.to_datetime(df["created_at"], format="ISO8601", errors="coerce", utc=True)
    table.reject(stamps.isna(), "created_at", "created_at is not an ISO 8601 time")
    out = pd.DataFrame({
        "user_id": df["user"],
        "subject": df["subject"],
        "answer": answers.isin(_LENS).astype("int8"),
        "created_at": stamps.dt.tz_convert(None).astype("datetime64[us]"),
    })
    generated = content_vote_ids(out)
    out["vote_id"] = np.where(df["vote_id"].to_numpy() == "", generated.to_numpy(), df["vote_id"].to_numpy())
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
