"""Bring real cutouts from a folder into the store, checking every file first.

A folder may hold any mix of

* Legacy-Survey-style FITS cubes: an image HDU of shape (band, ny, nx) with the band
  names in the header (``BANDS='grz'`` or ``BAND0='g'``, ``BAND1=...``);
* per-band FITS images of one object, named ``<object>_g.fits``, ``<object>_r.fits``,
  ``<object>_z.fits`` (or with a ``BAND`` header card), shape (ny, nx) each;
* ``.npz`` arrays of shape (H, W, 3) or (3, H, W) in nanomaggies, north up (:mod:`.arrays`);
* colour JPEG or PNG pictures (north up), which are shown as they are.

Each file is checked (shape, bands, NaN and empty pixels, truncation, pixel scale, flux units,
duplicate positions); refused files are reported with the reason and skipped, good ones are copied
into the data folder (``cubes/ingest/<subject>.fits`` as a float32 g, r, z cube and
``images/<subject>.jpg``) and added to the store in one transaction.  Subject ids are
derived from the sky position (``J095832.78+021213.5``) or, without one, from the file
name, so running the same ingest twice adds nothing the second time.

The steps live in their own modules: :mod:`.collect` (find and group files),
:mod:`.readers` and :mod:`.arrays` (open and check one cutout, with :mod:`.pixscale` and
:mod:`.units`), :mod:`.labels` (the labels file),
:mod:`.ids` (subject ids and duplicates) and :mod:`.write` (files and store).

Example (on a folder of downloads; ``lensfinder ingest`` does the same)::

    report = ingest_directory(store, "downloads/ls-dr9")
    print(report.summary())     # 12 added, 0 already in the store, 1 refused, 0 ignored
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..imaging.survey import PIXSCALE_ARCSEC
from ..store.tables import TableError
from .collect import collect_cutouts, list_files
from .crossmatch import DUPLICATE_RADIUS_ARCSEC
from .ids import assign_ids
from .labels import attach_labels, match_labels, read_labels
from .names import coordinate_name
from .readers import BAD_PIXEL_LIMIT, Checks, Cutout, Refused
from .write import add_cutouts

__all__ = ["IngestError", "IngestReport", "ingest_directory", "ingest_files", "coordinate_name",
           "read_labels", "BAD_PIXEL_LIMIT", "DUPLICATE_RADIUS_ARCSEC", "Checks"]

Progress = Callable[..., Iterable]


class IngestError(InvalidInput):
    """A problem with the whole ingest (missing folder, unreadable labels file, a bad option)."""


@dataclass
class IngestReport:
    """What an ingest did.  ``refused`` and ``notes`` hold ``(file, reason)`` pairs.

    Labels-file rows are counted three ways: ``labels_matched`` rows whose file landed or was
    already in the store, ``labels_refused`` (the files) for rows whose file was found but
    refused, and ``unmatched_labels`` rows that matched no file at all.  ``sky_ratios`` (sky
    noise per band over a Legacy Survey cutout's) and ``pixscales`` (arcsec per pixel from the
    WCS, None when assumed) describe the cubes that passed the checks.
    """

    added: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    labels_matched: int = 0
    labels_refused: list[str] = field(default_factory=list)
    unmatched_labels: int = 0
    sky_ratios: list[np.ndarray] = field(default_factory=list)
    pixscales: list[float | None] = field(default_factory=list)

    def summary(self) -> str:
        """One line: counts of added, already stored, refused and ignored files, and of labels rows."""
        text = (f"{len(self.added)} added, {len(self.existing)} already in the store, "
                f"{len(self.refused)} refused, {len(self.ignored)} ignored")
        if self.labels_matched or self.labels_refused or self.unmatched_labels:
            text += (f"; labels file: {self.labels_matched} row(s) matched a file, "
                     f"{len(self.labels_refused)} matched a refused file, {self.unmatched_labels} matched no file")
        return text

    def found(self) -> str:
        """One line on the units and scale of the cubes that passed: what the checks measured."""
        if not self.pixscales:
            return ""
        ratios = np.array(self.sky_ratios)
        finite = ratios[np.isfinite(ratios)]
        scales = [s for s in self.pixscales if s is not None]
        text = (f"checked {len(self.pixscales)} cube(s): sky noise {finite.min():.2g}-{finite.max():.2g}x a Legacy "
                f"Survey cutout's in nanomaggies (median {np.median(finite):.2g}x)")
        if scales:
            text += f"; pixel scale {min(scales):.3f}-{max(scales):.3f}\"/pixel from the header in {len(scales)}"
        if len(scales) < len(self.pixscales):
            text += f"; {len(self.pixscales) - len(scales)} without a WCS or PIXSCALE card, taken as {PIXSCALE_ARCSEC}\"/pixel"
        return text

    @property
    def bad(self) -> list[tuple[str, str]]:
        """The refused files (the name of this list before refusals said why)."""
        return self.refused


def ingest_directory(store, path: str | os.PathLike, labels_csv: str | os.PathLike | pd.DataFrame | None = None,
                     progress: Progress | None = None, *, flux_scale: float | None = None,
                     check_units: bool = True) -> IngestReport:
    """Check every cutout under ``path`` (recursively) and add the good ones to ``store``.

    Parameters
    ----------
    store : lensfinder_nb.store.Store
    path : folder (or a single file) of FITS cubes, per-band FITS, ``.npz`` arrays or JPEG/PNG pictures.
    labels_csv : optional CSV (or DataFrame) with ``name`` or ``file``, ``ra``, ``dec``
        (degrees), ``label`` (1 lens, 0 not a lens, -1 or empty unknown).  Rows are matched
        to files by file name or object name, else by position (within 1 arcsec).
    progress : optional ``progress(iterable, total=, desc=, unit=)`` wrapper (a tqdm bar).
    flux_scale : multiply every cube by this before the flux-unit check (e.g. to turn counts
        with one known zero point into nanomaggies).
    check_units : False skips the flux-unit check (``--allow-units``).

    Returns
    -------
    IngestReport
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise IngestError(f"{root}: no such file or folder")
    data_dir = Path(store.settings.data_dir)
    own = [data_dir / "images", data_dir / "cubes"]  # never re-ingest the store's own pictures
    return ingest_files(store, list_files(root, own), labels_csv, progress=progress,
                        root=root if root.is_dir() else root.parent, flux_scale=flux_scale, check_units=check_units)


def ingest_files(store, files: Iterable[str | os.PathLike], labels_csv=None, *, progress: Progress | None = None,
                 root: str | os.PathLike | None = None, source: str = "ingest", flux_scale: float | None = None,
                 check_units: bool = True) -> IngestReport:
    """Like :func:`ingest_directory` for an explicit list of files (``root`` shortens names)."""
    if flux_scale is not None and not (math.isfinite(flux_scale) and flux_scale > 0):
        raise IngestError(f"flux scale must be a positive number, not {flux_scale!r}")
    checks = Checks(flux_scale=flux_scale, check_units=check_units)
    files = [Path(f) for f in files]
    root = Path(root) if root is not None else (Path(os.path.commonpath([f.parent for f in files])) if files else Path("."))
    try:
        labels = read_labels(labels_csv)
    except TableError as exc:
        raise IngestError(str(exc)) from None
    report = IngestReport()
    collected, report.ignored = collect_cutouts(files, root)
    loop: Iterable = collected
    if progress is not None and collected:
        loop = progress(collected, total=len(collected), desc="checking", unit="file")
    items: list[Cutout] = []
    for item, load in loop:
        try:
            load(item, checks)
        except Refused as exc:
            item.refused = str(exc)
        items.append(item)
    rows = match_labels(items, labels)
    passed = [k for k, item in enumerate(items) if item.refused is None]
    labelled, bad_labels = attach_labels([items[k] for k in passed], [rows[k] for k in passed], labels)
    ids = assign_ids(store.subjects()[["subject", "ra", "dec"]], labelled)
    report.refused = [(item.name, item.refused) for item in items if item.refused is not None]
    report.refused += bad_labels + ids.duplicates
    report.existing = ids.existing
    report.added = add_cutouts(store, ids.new, source)
    report.notes = [(item.name, note) for item in ids.new for note in item.notes]
    checked = [item for item in items if item.cube is not None and item.refused is None]
    report.sky_ratios = [item.sky_ratio for item in checked]
    report.pixscales = [item.pixscale for item in checked]
    _count_labels(report, items, rows, len(labels))
    return report


def _count_labels(report: IngestReport, items: list[Cutout], rows: list[int | None], n_rows: int) -> None:
    """Sort the labels rows into matched a file that landed (or was stored), matched only refused files, none."""
    refused = {name for name, _ in report.refused}
    files: dict[int, list[str]] = {}
    for item, row in zip(items, rows):
        if row is not None:
            files.setdefault(row, []).append(item.name)
    for row in range(n_rows):
        names = files.get(row, [])
        if any(n not in refused for n in names):
            report.labels_matched += 1
        elif names:
            report.labels_refused.append(names[0])
        else:
            report.unmatched_labels += 1
