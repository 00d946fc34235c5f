"""The tables of positions and labels people bring: a fetch catalogue and an ingest labels file.

Both are read by :func:`lensfinder_nb.store.tables.read_csv_table`, so a missing, empty,
binary or non-UTF-8 file, missing columns or a position that is not a number are reported
the same way, with the line.  A labels row is matched to a file by name, else by position.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..store.tables import CsvTable, read_csv_table
from .crossmatch import DUPLICATE_RADIUS_ARCSEC, nearest_within
from .names import coordinate_name, safe_name
from .readers import Cutout

__all__ = ["read_catalog", "read_labels", "label_value", "match_labels", "attach_labels"]

_UNKNOWN = {"", "-1", "unknown", "?", "nan", "none"}


def label_value(text: object) -> int | None:
    """1 (lens), 0 (not a lens), -1 (unknown: empty, -1, ?) or None when ``text`` is none of these.

    >>> [label_value(t) for t in ("lens", "0", "", "maybe")]
    [1, 0, -1, None]
    """
    from ..store import StoreError, parse_answer
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return -1
    if str(text).strip().lower() in _UNKNOWN:
        return -1
    try:
        return parse_answer(text)
    except StoreError:
        return None


def read_catalog(source: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """A fetch catalogue as columns name, ra, dec (degrees), label (1, 0 or -1).

    ``ra`` and ``dec`` are required (in any case, also ``RA [deg]``); ``name`` is optional
    (the coordinate name ``J095832.78+021213.5`` is used instead) and made safe for a file
    name; ``label`` is optional (-1).  Empty or impossible positions are kept: the fetch
    reports those rows as failed.  Raises :class:`~lensfinder_nb.store.tables.TableError`.
    """
    table = read_csv_table(source, ["ra", "dec"], ["name", "label"], what="catalogue")
    out = pd.DataFrame({"ra": table.numbers("ra"), "dec": table.numbers("dec")})
    labels = table.rows["label"].map(label_value)
    table.reject(labels.isna(), "label", "label must be 1 (lens), 0 (not a lens) or -1/empty (unknown)")
    out["name"] = [safe_name(n) or (coordinate_name(r, d) if math.isfinite(r) and math.isfinite(d) else f"row{i}")
                   for i, (n, r, d) in enumerate(zip(table.rows["name"], out["ra"], out["dec"]))]
    out["label"] = labels.astype(int)
    seen: set[str] = set()
    for i, n in enumerate(out["name"]):  # distinct objects with one name get -<row>
        if n in seen:
            out.iat[i, out.columns.get_loc("name")] = f"{n}-{i}"
        seen.add(n)
    return out[["name", "ra", "dec", "label"]]


def read_labels(source: str | os.PathLike | pd.DataFrame | None) -> pd.DataFrame:
    """Read a labels table: ``file`` or ``name``, ``ra``, ``dec`` (degrees), ``label``; a file or
    name column, or both positions, must be there.

    Returns columns key (lower-case file name, else object name; may be empty), ra, dec
    (NaN where empty) and label (the text; checked per file, so one bad value refuses only
    its file).  Raises :class:`~lensfinder_nb.store.tables.TableError`.
    """
    if source is None:
        return pd.DataFrame({"key": pd.Series(dtype=str), "ra": pd.Series(dtype=float),
                             "dec": pd.Series(dtype=float), "label": pd.Series(dtype=str)})
    table: CsvTable = read_csv_table(source, one_of=[["file"], ["name"], ["ra", "dec"]], optional=["label"],
                                     aliases={"filename": "file", "subject": "name"}, what="labels")
    rows = table.rows
    key = rows["file"].where(rows["file"] != "", rows["name"]).str.lower()
    return pd.DataFrame({"key": key, "ra": table.numbers("ra", 0, 360, "degrees"),
                         "dec": table.numbers("dec", -90, 90, "degrees"), "label": rows["label"]})


def match_labels(items: Sequence[Cutout], labels: pd.DataFrame) -> list[int | None]:
    """The labels row of each item: by file or object name, else the nearest row with a position
    within :data:`DUPLICATE_RADIUS_ARCSEC` (None: no row).  Refused items are matched too, so that
    the summary can tell a row whose file was refused from a row that matched no file.
    """
    by_key: dict[str, int] = {}
    for i, key in enumerate(labels["key"]):
        if key:
            by_key.setdefault(key, i)
            by_key.setdefault(Path(key).name, i)
    rows: list[int | None] = []
    for item in items:
        keys = [Path(item.name).name.lower(), item.name.lower(), item.stem.lower(), *(p.name.lower() for p in item.paths)]
        rows.append(next((by_key[k] for k in keys if k in by_key), None))
    unnamed = [k for k, item in enumerate(items) if rows[k] is None and item.ra is not None]
    if unnamed and len(labels):
        near, _ = nearest_within([items[k].ra for k in unnamed], [items[k].dec for k in unnamed],
                                 (labels["ra"].to_numpy(), labels["dec"].to_numpy()), DUPLICATE_RADIUS_ARCSEC)
        for k, j in zip(unnamed, near.tolist()):
            rows[k] = j if j >= 0 else None
    return rows


def attach_labels(items: Sequence[Cutout], rows: Sequence[int | None],
                  labels: pd.DataFrame) -> tuple[list[Cutout], list[tuple[str, str]]]:
    """Give each item the label of its row (from :func:`match_labels`); an item without a
    position takes the row's.

    Returns the items whose label is valid and ``(file, reason)`` for those refused for a bad label.
    """
    good, bad = [], []
    for item, row in zip(items, rows):
        raw = "" if row is None else labels["label"].iloc[row]
        value = label_value(raw)
        if row is not None and item.ra is None and np.isfinite(labels["ra"].iloc[row]):
            item.ra, item.dec, item.coords_from = float(labels["ra"].iloc[row]) % 360.0, float(labels["dec"].iloc[row]), "labels"
        if value is None:
            bad.append((item.name, f"label {raw!r} in the labels file is not 1, 0 or -1"))
            continue
        item.label = value
        good.append(item)
    return good, bad
