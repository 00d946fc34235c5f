"""Flag subjects that sit on a known lens or lens candidate (the ``lenscat`` catalogue).

``lenscat`` (PyPI, MIT licence) ships about 33,000 known lenses and candidates as a CSV
file inside its wheel.  Its Python module needs ``ligo.skymap`` (gravitational-wave sky-map
tools we do not use), so we install it without dependencies::

    python -m pip install --no-deps lenscat==1.1.3

and read the CSV through the package metadata, never importing ``lenscat`` itself.

Example
-------
>>> cat = load_catalog()
>>> m = match_known([cat.ra[0], 200.0], [cat.dec[0], -89.0])   # degrees (ICRS); within 5 arcsec
>>> m["known_name"].tolist()
['J0011-0845', '']
"""

from __future__ import annotations

import functools
import importlib.metadata
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InvalidInput, UserError
from .crossmatch import nearest_within, sky_coords

__all__ = ["LenscatMissing", "load_catalog", "match_known", "known_subjects", "INSTALL_COMMAND"]

INSTALL_COMMAND = "python -m pip install --no-deps lenscat==1.1.3"
_DIST = "lenscat"
_CSV = "lenscat/data/catalog.csv"
MATCH_COLUMNS = ["known_name", "known_type", "known_grade", "known_zlens", "known_ref", "sep_arcsec"]


class LenscatMissing(UserError, ImportError):
    """The lenscat catalogue is not installed."""


def _catalog_path() -> Path:
    try:
        dist = importlib.metadata.distribution(_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise LenscatMissing(
            f"the known-lens catalogue comes from the lenscat package, which is not installed; "
            f"install it with: {Path(sys.executable).name} -m pip install --no-deps lenscat==1.1.3") from None
    path = Path(str(dist.locate_file(_CSV)))
    if not path.is_file():
        raise LenscatMissing(f"lenscat {dist.version} is installed but has no {_CSV}; reinstall with: {INSTALL_COMMAND}")
    return path


def _zlens(text: str) -> float:
    """First number of a lenscat redshift field ('0.675266 | 0.6753', 'not measured', '-')."""
    head = str(text).split("|")[0].strip()
    try:
        return float(head)
    except ValueError:
        return float("nan")


@functools.lru_cache(maxsize=1)
def load_catalog() -> pd.DataFrame:
    """The lenscat catalogue: name, ra, dec (deg), zlens (NaN if unknown), type, grade, ref.

    ``type`` is galaxy, group or cluster; ``grade`` confident or probable.  Cached; treat
    the frame as read-only.
    """
    raw = pd.read_csv(_catalog_path(), dtype=str, keep_default_na=False)
    df = pd.DataFrame({
        "name": raw["name"].str.strip(),
        "ra": pd.to_numeric(raw["RA [deg]"], errors="coerce"),
        "dec": pd.to_numeric(raw["DEC [deg]"], errors="coerce"),
        "zlens": [_zlens(z) for z in raw["zlens"]],
        "type": raw["type"].str.strip(),
        "grade": raw["grading"].str.strip(),
        "ref": raw["ref"].str.strip(),
    })
    return df.dropna(subset=["ra", "dec"]).reset_index(drop=True)


@functools.lru_cache(maxsize=1)
def _catalog_coords():
    cat = load_catalog()
    return sky_coords(cat["ra"].to_numpy(), cat["dec"].to_numpy())


def match_known(ra: Sequence[float] | np.ndarray, dec: Sequence[float] | np.ndarray,
                radius_arcsec: float = 5.0) -> pd.DataFrame:
    """The nearest known lens within ``radius_arcsec`` of each position (degrees, ICRS).

    Returns a frame aligned with the inputs (same length and order): known_name,
    known_type, known_grade, known_zlens, known_ref (empty strings / NaN without a match)
    and sep_arcsec (NaN without a match).  Positions that are NaN never match.
    """
    if not radius_arcsec > 0:
        raise InvalidInput(f"radius_arcsec must be positive, got {radius_arcsec}")
    index, sep = nearest_within(ra, dec, _catalog_coords, radius_arcsec)
    n = len(index)
    out = pd.DataFrame({"known_name": [""] * n, "known_type": [""] * n, "known_grade": [""] * n,
                        "known_zlens": np.full(n, np.nan), "known_ref": [""] * n, "sep_arcsec": np.full(n, np.nan)})
    rows = np.flatnonzero(index >= 0)
    if not len(rows):
        return out
    src = load_catalog().iloc[index[rows]]
    for col in ("name", "type", "grade", "ref"):
        out.loc[rows, f"known_{col}"] = src[col].to_numpy()
    out.loc[rows, "known_zlens"] = src["zlens"].to_numpy()
    out.loc[rows, "sep_arcsec"] = sep[rows]
    return out


def known_subjects(store, radius_arcsec: float = 5.0) -> pd.DataFrame:
    """Subjects of ``store`` within ``radius_arcsec`` of a known lens: subject, label, kind, ra,
    dec and the match columns of :func:`match_known`, nearest first."""
    subjects = store.subjects()[["subject", "label", "kind", "ra", "dec"]]
    matches = match_known(subjects["ra"].to_numpy(float), subjects["dec"].to_numpy(float), radius_arcsec)
    both = pd.concat([subjects.reset_index(drop=True), matches], axis=1)
    return both[both["known_name"] != ""].sort_values(["sep_arcsec", "subject"]).reset_index(drop=True)

