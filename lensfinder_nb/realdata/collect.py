"""Finding the input files of an ingest and grouping them into cutouts (per-band FITS files become one)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from .readers import (BAND_FILE_NAME, BANDS, PICTURE_SUFFIXES, Cutout, is_fits, load_band_group, load_cube_file,
                      load_picture, strip_suffix)

__all__ = ["list_files", "collect_cutouts", "Loader"]

#: Fills a cutout's pixels from its files, or raises :class:`~lensfinder_nb.realdata.readers.Refused`.
Loader = Callable[[Cutout], None]


def list_files(root: Path, skip: Sequence[Path] = ()) -> list[Path]:
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


def collect_cutouts(files: Sequence[Path], root: Path) -> tuple[list[tuple[Cutout, Loader]], list[str]]:
    """Group files into cutouts, each with the loader that reads it, and list the files ignored.

    ``obj_g.fits``, ``obj_r.fits``, ``obj_z.fits`` become one cutout named ``obj_{g,r,z}.fits``;
    names are relative to ``root``; CSV files are skipped silently, other non-image files are
    ignored (and listed).
    """
    items: list[tuple[Cutout, Loader]] = []
    groups: dict[Path, dict[str, Path]] = {}
    ignored: list[str] = []
    for p in sorted(files):
        rel = _relative(p, root)
        if is_fits(p):
            m = BAND_FILE_NAME.match(strip_suffix(p))
            if m:
                groups.setdefault(p.parent / m["base"], {})[m["band"].lower()] = p
            else:
                items.append((Cutout(rel, strip_suffix(p), [p]), load_cube_file))
        elif p.name.lower().endswith(PICTURE_SUFFIXES):
            items.append((Cutout(rel, strip_suffix(p), [p]), load_picture))
        elif p.suffix.lower() != ".csv":
            ignored.append(rel)
    for base, bands in sorted(groups.items()):
        paths = [bands[b] for b in BANDS if b in bands]
        ext = paths[0].name[len(base.name) + 2:]
        name = _relative(base.parent / f"{base.name}_{{{','.join(sorted(bands, key=BANDS.index))}}}{ext}", root)
        items.append((Cutout(name, base.name, paths), lambda it, bands=bands: load_band_group(it, bands)))
    return items, ignored


def _relative(p: Path, root: Path) -> str:
    try:
        return str(p.relative_to(root))
    except ValueError:
        return str(p)
