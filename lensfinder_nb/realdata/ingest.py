"""Bring real cutouts from a folder into the store, checking every file first.

A folder may hold any mix of

* Legacy-Survey-style FITS cubes: an image HDU of shape (band, ny, nx) with the band
  names in the header (``BANDS='grz'`` or ``BAND0='g'``, ``BAND1=...``);
* per-band FITS images of one object, named ``<object>_g.fits``, ``<object>_r.fits``,
  ``<object>_z.fits`` (or with a ``BAND`` header card), shape (ny, nx) each;
* colour JPEG or PNG pictures (north up), which are shown as they are.

Each file is checked (shape, bands, NaN and empty pixels, truncation, duplicate
positions); bad files are reported with the reason and skipped, good ones are copied
into the data folder (``cubes/ingest/<subject>.fits`` as a float32 g, r, z cube and
``images/<subject>.jpg``) and added to the store in one transaction.  Subject ids are
derived from the sky position (``J095832.78+021213.5``) or, without one, from the file
name, so running the same ingest twice adds nothing the second time.

Example
-------
>>> report = ingest_directory(store, "downloads/ls-dr9")  # doctest: +SKIP
>>> print(report.summary())                                # doctest: +SKIP
12 added, 0 already in the store, 1 bad, 0 ignored
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["IngestError", "IngestReport", "ingest_directory", "ingest_files", "coordinate_name",
           "read_labels", "BAD_PIXEL_LIMIT", "DUPLICATE_RADIUS_ARCSEC"]

#: Two cutouts whose centres are closer than this show the same object.
DUPLICATE_RADIUS_ARCSEC = 1.0

_SAFE = re.compile(r"[^A-Za-z0-9._+\-]+")

from .readers import (BAD_PIXEL_LIMIT, BANDS, PICTURE_SUFFIXES, _BAND_NAME, _Bad, _is_fits, _Item,
                           _load_band_group, _load_cube_file, _load_picture, _strip_suffix)

Progress = Callable[..., Iterable]


class IngestError(ValueError):
    """A problem with the whole ingest (missing folder, unreadable labels file)."""


@dataclass
class IngestReport:
    """What an ingest did.  ``bad`` and ``notes`` hold ``(file, reason)`` pairs."""

    added: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unmatched_labels: int = 0

    def summary(self) -> str:
        """One line: counts of added, already stored, bad and ignored files."""
        text = (f"{len(self.added)} added, {len(self.existing)} already in the store, "
                f"{len(self.bad)} bad, {len(self.ignored)} ignored")
        if self.unmatched_labels:
            text += f"; {self.unmatched_labels} labels-file rows matched no file"
        return text






# ---------------------------------------------------------------------- names
def coordinate_name(ra_deg: float, dec_deg: float) -> str:
    """IAU-style name from a position (truncated, not rounded), e.g. ``J095832.78+021213.5``.

    >>> coordinate_name(149.63659, 2.20375)
    'J095832.78+021213.5'
    >>> coordinate_name(0.0, -0.5)
    'J000000.00-003000.0'
    """
    ra_cs = int(math.floor((float(ra_deg) % 360.0) / 15.0 * 360000.0 + 1e-6)) % 8640000
    h, rem = divmod(ra_cs, 360000)
    m, rem = divmod(rem, 6000)
    dec_ds = int(math.floor(abs(float(dec_deg)) * 36000.0 + 1e-6))
    d, drem = divmod(dec_ds, 36000)
    dm, drem = divmod(drem, 600)
    sign = "-" if dec_deg < 0 else "+"
    return f"J{h:02d}{m:02d}{rem // 100:02d}.{rem % 100:02d}{sign}{d:02d}{dm:02d}{drem // 10:02d}.{drem % 10:d}"


def _safe(text: str) -> str:
    return _SAFE.sub("_", text).strip("._")[:80] or "image"


# ---------------------------------------------------------------------- labels file
def read_labels(source: str | os.PathLike | pd.DataFrame | None) -> pd.DataFrame:
    """Read a labels table: ``name`` or ``file``, ``ra``, ``dec``, ``label`` (all optional but one key).

    Returns columns key (lower-case file name or object name, may be empty), ra, dec,
    label (the raw text; checked per file).
    """
    if source is None:
        return pd.DataFrame({"key": pd.Series(dtype=str), "ra": pd.Series(dtype=float),
                             "dec": pd.Series(dtype=float), "label": pd.Series(dtype=object)})
    if isinstance(source, pd.DataFrame):
        df = source.copy()
    else:
        path = Path(source)
        if not path.is_file():
            raise IngestError(f"{path}: no such labels file")
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise IngestError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0]})") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    aliases = {"ra [deg]": "ra", "dec [deg]": "dec", "filename": "file", "subject": "name"}
    df = df.rename(columns={k: v for k, v in aliases.items() if k in df.columns and v not in df.columns})
    key_col = "file" if "file" in df else ("name" if "name" in df else None)
    has_pos = "ra" in df and "dec" in df
    if key_col is None and not has_pos:
        raise IngestError("the labels file needs a 'name' or 'file' column, or 'ra' and 'dec'")
    out = pd.DataFrame(index=df.index)
    out["key"] = df[key_col].astype(str).str.strip().str.lower() if key_col else ""
    for col in ("ra", "dec"):
        out[col] = pd.to_numeric(df[col], errors="coerce") if has_pos else np.nan
    out["label"] = df["label"].astype(object) if "label" in df else None
    return out.reset_index(drop=True)


def _parse_label(value: Any) -> int:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return -1
    text = str(value).strip().lower()
    if text in {"", "-1", "unknown", "?", "nan", "none"}:
        return -1
    from ..store import StoreError, parse_answer
    try:
        return parse_answer(text)
    except StoreError:
        raise _Bad(f"label {value!r} in the labels file is not 1, 0 or -1") from None


# ---------------------------------------------------------------------- reading files


















# ---------------------------------------------------------------------- collecting




def _collect(files: Sequence[Path], root: Path) -> tuple[list[tuple[_Item, Any]], list[str]]:
    """Group files into items; per-band FITS (name_g.fits ...) become one item."""
    items: list[tuple[_Item, Any]] = []
    groups: dict[Path, dict[str, Path]] = {}
    ignored: list[str] = []
    for p in sorted(files):
        rel = _rel(p, root)
        if _is_fits(p):
            m = _BAND_NAME.match(_strip_suffix(p))
            if m:
                groups.setdefault(p.parent / m["base"], {})[m["band"].lower()] = p
            else:
                items.append((_Item(rel, _strip_suffix(p), [p]), _load_cube_file))
        elif p.name.lower().endswith(PICTURE_SUFFIXES):
            items.append((_Item(rel, _strip_suffix(p), [p]), _load_picture))
        elif p.suffix.lower() != ".csv":
            ignored.append(rel)
    for base, bands in sorted(groups.items()):
        paths = [bands[b] for b in BANDS if b in bands]
        ext = paths[0].name[len(base.name) + 2:]
        label = _rel(base.parent / f"{base.name}_{{{','.join(sorted(bands, key=BANDS.index))}}}{ext}", root)
        item = _Item(label, base.name, paths)
        items.append((item, lambda it, bands=bands: _load_band_group(it, bands)))
    return items, ignored


def _rel(p: Path, root: Path) -> str:
    try:
        return str(p.relative_to(root))
    except ValueError:
        return str(p)


def _list_files(root: Path, skip: Sequence[Path] = ()) -> list[Path]:
    """Files under ``root`` minus hidden ones, temporary ``.part`` files and the ``skip`` folders."""
    if root.is_file():
        return [root]
    skip_set = {p.resolve() for p in skip}
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith(".") and (Path(dirpath) / d).resolve() not in skip_set)
        out.extend(Path(dirpath) / f for f in filenames if not f.startswith(".") and ".part" not in f)
    return out


# ---------------------------------------------------------------------- main entry points
def ingest_directory(store, path: str | os.PathLike, labels_csv: str | os.PathLike | pd.DataFrame | None = None,
                     progress: Progress | None = None) -> IngestReport:
    """Check every cutout under ``path`` (recursively) and add the good ones to ``store``.

    Parameters
    ----------
    store : lensfinder_nb.store.Store
    path : folder (or a single file) of FITS cubes, per-band FITS or JPEG/PNG pictures.
    labels_csv : optional CSV (or DataFrame) with ``name`` or ``file``, ``ra``, ``dec``
        (degrees), ``label`` (1 lens, 0 not a lens, -1 or empty unknown).  Rows are matched
        to files by file name or object name, else by position (within 1 arcsec).
    progress : optional ``progress(iterable, total=, desc=, unit=)`` wrapper (a tqdm bar).

    Returns
    -------
    IngestReport
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise IngestError(f"{root}: no such file or folder")
    data_dir = Path(store.settings.data_dir)
    own = [data_dir / "images", data_dir / "cubes"]  # never re-ingest the store's own pictures
    return ingest_files(store, _list_files(root, own), labels_csv, progress=progress,
                        root=root if root.is_dir() else root.parent)


def ingest_files(store, files: Iterable[str | os.PathLike], labels_csv=None, *, progress: Progress | None = None,
                 root: str | os.PathLike | None = None, source: str = "ingest") -> IngestReport:
    """Like :func:`ingest_directory` for an explicit list of files (``root`` shortens names)."""
    files = [Path(f) for f in files]
    root = Path(root) if root is not None else (Path(os.path.commonpath([f.parent for f in files])) if files else Path("."))
    labels = read_labels(labels_csv)
    report = IngestReport()
    items, report.ignored = _collect(files, root)
    loop: Iterable = items
    if progress is not None and items:
        loop = progress(items, total=len(items), desc="checking", unit="file")
    good: list[_Item] = []
    for item, loader in loop:
        try:
            loader(item)
        except _Bad as exc:
            report.bad.append((item.name, str(exc)))
            continue
        good.append(item)
    used = _apply_labels(good, labels, report)
    report.unmatched_labels = int(len(labels) - len(used))
    good = _assign_ids(store, good, report)
    _write_and_add(store, good, report, source)
    return report


def _apply_labels(items: list[_Item], labels: pd.DataFrame, report: IngestReport) -> set[int]:
    """Attach each item's labels row (by name, then by position); fill ra/dec from it if missing."""
    used: set[int] = set()
    by_key: dict[str, int] = {}
    for i, key in enumerate(labels["key"]):
        if key:
            by_key.setdefault(key, i)
            by_key.setdefault(Path(key).name, i)
    have_pos = labels[["ra", "dec"]].notna().all(axis=1).to_numpy()
    for item in items:
        keys = [Path(item.name).name.lower(), item.name.lower(), item.stem.lower()] + [p.name.lower() for p in item.paths]
        row = next((by_key[k] for k in keys if k in by_key), None)
        if row is None and item.ra is not None and have_pos.any():
            sep = _sep_arcsec(item.ra, item.dec, labels["ra"].to_numpy(), labels["dec"].to_numpy())
            sep[~have_pos] = np.inf
            j = int(np.argmin(sep))
            row = j if sep[j] <= DUPLICATE_RADIUS_ARCSEC else None
        item.label_raw = None if row is None else labels["label"].iloc[row]
        if row is None:
            continue
        used.add(row)
        if item.ra is None and have_pos[row]:
            item.ra, item.dec, item.coords_from = float(labels["ra"].iloc[row]) % 360.0, float(labels["dec"].iloc[row]), "labels"
    return used


def _sep_arcsec(ra1, dec1, ra2, dec2) -> np.ndarray:
    """Great-circle separation (haversine), arcsec; broadcasts."""
    r1, d1, r2, d2 = (np.radians(np.asarray(x, dtype=float)) for x in (ra1, dec1, ra2, dec2))
    h = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))) * 3600.0


def _close_pairs(ra1, dec1, ra2, dec2, radius_arcsec: float) -> dict[int, list[tuple[float, int]]]:
    """For each index into the first list, the (separation arcsec, index) of second-list positions
    within ``radius_arcsec``, nearest first (a KD-tree: fine for millions of subjects)."""
    ra1, dec1, ra2, dec2 = (np.asarray(x, dtype=float) for x in (ra1, dec1, ra2, dec2))
    if not len(ra1) or not len(ra2):
        return {}
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    i1, i2, sep, _ = SkyCoord(ra2 * u.deg, dec2 * u.deg).search_around_sky(
        SkyCoord(ra1 * u.deg, dec1 * u.deg), radius_arcsec * u.arcsec)
    out: dict[int, list[tuple[float, int]]] = {}
    for a, b, d in zip(i1.tolist(), i2.tolist(), sep.arcsec.tolist()):
        out.setdefault(a, []).append((d, b))
    return {k: sorted(v) for k, v in out.items()}


def _assign_ids(store, items: list[_Item], report: IngestReport) -> list[_Item]:
    """Give ids; drop items already stored, duplicates of stored subjects or of each other."""
    existing = store.subjects()[["subject", "ra", "dec"]]
    ids = set(existing["subject"])
    known = existing.dropna(subset=["ra", "dec"])
    kid = known["subject"].to_numpy()
    placed = [k for k, it in enumerate(items) if it.ra is not None]
    pra = [items[k].ra for k in placed]
    pdec = [items[k].dec for k in placed]
    vs_store = _close_pairs(pra, pdec, known["ra"], known["dec"], DUPLICATE_RADIUS_ARCSEC)
    vs_run = _close_pairs(pra, pdec, pra, pdec, DUPLICATE_RADIUS_ARCSEC)
    slot = {k: n for n, k in enumerate(placed)}
    taken: dict[str, str] = {}
    accepted: list[_Item] = []
    kept: set[int] = set()  # indices into ``placed`` of accepted items
    for k, item in enumerate(items):
        try:
            item.label = _parse_label(item.label_raw)
        except _Bad as exc:
            report.bad.append((item.name, str(exc)))
            continue
        if item.ra is not None:
            sid = coordinate_name(item.ra, item.dec)
        else:
            sid = "img-" + _safe(item.stem)
            if taken.get(sid, item.name) != item.name:
                sid += "-" + uuid.uuid5(uuid.NAMESPACE_URL, item.name).hex[:6]
        taken.setdefault(sid, item.name)
        item.subject = sid
        if sid in ids:
            report.existing.append(sid)
            continue
        if item.ra is not None:
            n = slot[k]
            near = vs_store.get(n)
            if near:
                report.bad.append((item.name, f"duplicate position: {near[0][0]:.2f} arcsec from subject "
                                              f"{kid[near[0][1]]} already in the store"))
                continue
            twin = next(((d, m) for d, m in vs_run.get(n, []) if m in kept), None)
            if twin is not None:
                report.bad.append((item.name, f"duplicate position: {twin[0]:.2f} arcsec from "
                                              f"{items[placed[twin[1]]].name}"))
                continue
            kept.add(n)
        accepted.append(item)
    return accepted


def _write_and_add(store, items: list[_Item], report: IngestReport, source: str) -> None:
    if not items:
        return
    data_dir = Path(store.settings.data_dir)
    rows = []
    for item in items:
        sid = item.subject
        cube_ref = None
        if item.cube is not None:
            cube_ref = f"cubes/ingest/{sid}.fits"
            _write_cube(data_dir / cube_ref, item)
            from ..imaging.render import encode_jpeg, viewer_rgb
            jpeg = encode_jpeg(viewer_rgb(item.cube))
        else:
            from PIL import Image
            buf = io.BytesIO()
            Image.fromarray(item.rgb).save(buf, format="JPEG", quality=90)
            jpeg = buf.getvalue()
        from ..imaging.files import write_image
        image_ref = write_image(data_dir, sid, jpeg)
        label = item.label
        rows.append({"subject": sid, "label": label, "kind": {1: "lens", 0: "nonlens"}.get(label, "unknown"),
                     "ra": item.ra, "dec": item.dec, "image": image_ref, "cube": cube_ref,
                     "params": json.dumps({"file": item.name, "coords_from": item.coords_from}),
                     "source": source})
        for note in item.notes:
            report.notes.append((item.name, note))
    store.add_subjects(pd.DataFrame(rows))
    report.added.extend(r["subject"] for r in rows)


def _write_cube(path: Path, item: _Item) -> None:
    from astropy.io import fits
    header = fits.Header()
    if item.wcs_header is not None:
        header.extend(item.wcs_header, update=True)
    header["BANDS"] = ("".join(BANDS), "band of each plane")
    for i, band in enumerate(BANDS):
        header[f"BAND{i}"] = band
    header["ORIGFILE"] = item.name[-68:]
    hdu = fits.PrimaryHDU(item.cube.astype(np.float32), header=header)
    buf = io.BytesIO()
    hdu.writeto(buf)
    _atomic_write(path, buf.getvalue())


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
