"""The candidate list: detected unknown subjects with positions and known-lens matches, and
writing any table as CSV, FITS or VOTable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["candidates", "write_table", "known_lens_names", "TABLE_FORMATS"]

#: File extension -> astropy format (None: written by pandas).
TABLE_FORMATS = {".csv": None, ".fits": "fits", ".xml": "votable", ".vot": "votable"}
COLUMNS = ["subject", "ra", "dec", "probability", "n_votes", "method", "known_lens", "image"]


def candidates(scores: pd.DataFrame, subjects: pd.DataFrame, method: str, known: pd.DataFrame | None = None,
               top: int | None = None, *, match_radius_arcsec: float = 5.0,
               match: bool = True) -> pd.DataFrame:
    """Unknown subjects (label -1) with status 'detected', most probable first.

    Columns: subject, ra, dec (deg), probability, n_votes, method, known_lens (name of a
    known lens nearby, "" if none), image.  ``top`` keeps the first N.

    ``known``: a precomputed known-lens match, either with a ``subject`` column or aligned
    row by row with the candidates, holding the name in ``known_lens``, ``known_name`` or ``name``.
    Without it (and with ``match``), :func:`lensfinder_nb.realdata.known.match_known` is
    called on the candidates' positions if that module is available.
    """
    sub = subjects.set_index("subject")
    s = scores[scores["status"] == "detected"]
    s = s[sub["label"].reindex(s["subject"]).to_numpy() == -1]
    s = s.sort_values(["probability", "subject"], ascending=[False, True], kind="stable")
    if top is not None:
        s = s.head(top)
    info = sub.reindex(s["subject"])
    out = pd.DataFrame({
        "subject": s["subject"].to_numpy(dtype=object),
        "ra": _col(info, "ra", np.nan).astype(np.float64),
        "dec": _col(info, "dec", np.nan).astype(np.float64),
        "probability": s["probability"].to_numpy(dtype=np.float64),
        "n_votes": s["n_votes"].to_numpy(dtype=np.int64),
        "method": np.full(len(s), method, dtype=object),
        "known_lens": np.full(len(s), "", dtype=object),
        "image": np.array(["" if _missing(x) else str(x) for x in _col(info, "image", None)], dtype=object),
    })
    out["known_lens"] = known_lens_names(out, known, match=match, radius_arcsec=match_radius_arcsec)
    return out


def known_lens_names(out: pd.DataFrame, known: pd.DataFrame | None = None, *, match: bool = True,
                     radius_arcsec: float = 5.0) -> np.ndarray:
    """The name of a known lens near each row of ``out`` (subject, ra, dec), "" where none.

    ``known``: a precomputed match (see :func:`candidates`); without it and with ``match``, the
    lenscat cross-match of :mod:`lensfinder_nb.realdata.known` when its catalogue is available.
    """
    if known is None and match and len(out):
        known = _match_known(out, radius_arcsec)
    if known is not None and len(out):
        return _known_names(known, out)
    return np.full(len(out), "", dtype=object)


def _col(info: pd.DataFrame, name: str, fill: object) -> np.ndarray:
    return info[name].to_numpy() if name in info.columns else np.full(len(info), fill, dtype=object)


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA


def _match_known(out: pd.DataFrame, radius_arcsec: float) -> pd.DataFrame | None:
    try:
        from ..realdata.known import match_known
    except ImportError:
        return None
    ok = np.isfinite(out["ra"]) & np.isfinite(out["dec"])
    if not ok.any():
        return None
    try:
        found = match_known(out["ra"][ok].to_numpy(), out["dec"][ok].to_numpy(), radius_arcsec=radius_arcsec)
    except ImportError:  # the catalogue is optional (LenscatMissing)
        return None
    found = found.reset_index(drop=True)
    found["subject"] = out["subject"][ok].to_numpy()
    return found


def _known_names(known: pd.DataFrame, out: pd.DataFrame) -> np.ndarray:
    name_col = next((c for c in ("known_lens", "known_name", "name") if c in known.columns), None)
    if name_col is None:
        raise ValueError("the known-lens frame needs a known_lens, known_name or name column")
    if "subject" in known.columns:
        names = known.drop_duplicates("subject").set_index("subject")[name_col].reindex(out["subject"])
    elif len(known) == len(out):
        names = known[name_col]
    else:
        raise ValueError("the known-lens frame needs a subject column or one row per candidate")
    return np.array(["" if _missing(x) else str(x) for x in names], dtype=object)


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as .csv (pandas), .fits or .xml/.vot VOTable (astropy), chosen by extension."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in TABLE_FORMATS:
        raise ValueError(f"cannot write {path.name!r}: the extension must be one of "
                         f"{', '.join(TABLE_FORMATS)} (CSV, FITS, VOTable)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if TABLE_FORMATS[ext] is None:
        frame.to_csv(path, index=False)
        return path
    from astropy.table import Table

    table = Table()
    for name in frame.columns:
        col = frame[name]
        if col.dtype.kind in "biuf":
            table[name] = col.to_numpy()
        elif col.dtype.kind == "M":
            table[name] = col.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").fillna("").to_numpy(dtype=str)
        else:
            table[name] = np.array(["" if _missing(x) else str(x) for x in col], dtype=str)
    table.write(path, format=TABLE_FORMATS[ext], overwrite=True)
    return path
