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

The steps live in their own modules: :mod:`.collect` (find and group files),
:mod:`.readers` (open and check one cutout), :mod:`.labels` (the labels file),
:mod:`.ids` (subject ids and duplicates) and :mod:`.write` (files and store).

Example (on a folder of downloads; ``lensfinder ingest`` does the same)::

    report = ingest_directory(store, "downloads/ls-dr9")
    print(report.summary())     # 12 added, 0 already in the store, 1 bad, 0 ignored
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import InvalidInput
from ..store.tables import TableError
from .collect import collect_cutouts, list_files
from .crossmatch import DUPLICATE_RADIUS_ARCSEC
from .ids import assign_ids
from .labels import attach_labels, read_labels
from .names import coordinate_name
from .readers import BAD_PIXEL_LIMIT, Cutout, Refused
from .write import add_cutouts

__all__ = ["IngestError", "IngestReport", "ingest_directory", "ingest_files", "coordinate_name",
           "read_labels", "BAD_PIXEL_LIMIT", "DUPLICATE_RADIUS_ARCSEC"]

Progress = Callable[..., Iterable]


class IngestError(InvalidInput):
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
    return ingest_files(store, list_files(root, own), labels_csv, progress=progress,
                        root=root if root.is_dir() else root.parent)


def ingest_files(store, files: Iterable[str | os.PathLike], labels_csv=None, *, progress: Progress | None = None,
                 root: str | os.PathLike | None = None, source: str = "ingest") -> IngestReport:
    """Like :func:`ingest_directory` for an explicit list of files (``root`` shortens names)."""
    files = [Path(f) for f in files]
    root = Path(root) if root is not None else (Path(os.path.commonpath([f.parent for f in files])) if files else Path("."))
    try:
        labels = read_labels(labels_csv)
    except TableError as exc:
        raise IngestError(str(exc)) from None
    report = IngestReport()
    items, report.ignored = collect_cutouts(files, root)
    loop: Iterable = items
    if progress is not None and items:
        loop = progress(items, total=len(items), desc="checking", unit="file")
    readable: list[Cutout] = []
    for item, load in loop:
        try:
            load(item)
        except Refused as exc:
            report.bad.append((item.name, str(exc)))
            continue
        readable.append(item)
    labelled, bad_labels, used = attach_labels(readable, labels)
    report.bad += bad_labels
    report.unmatched_labels = len(labels) - len(used)
    ids = assign_ids(store.subjects()[["subject", "ra", "dec"]], labelled)
    report.existing, report.bad = ids.existing, report.bad + ids.duplicates
    report.added = add_cutouts(store, ids.new, source)
    report.notes = [(item.name, note) for item in ids.new for note in item.notes]
    return report
