"""Finding the input files of an ingest and grouping them into cutouts (per-band FITS files become one)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from .arrays import NPZ_SUFFIX, load_npz
from .readers import (BAND_FILE_NAME, PICTURE_SUFFIXES, SURVEY_BANDS, Checks, Cutout, is_fits, load_band_group,
                      load_cube_file, load_picture, strip_suffix)

__all__ = ["list_files", "collect_cutouts", "Loader"]

#: Fills a cutout's pixels from its files under the given checks, or raises
#: :class:`~lensfinder_nb.realdata.readers.Refused`.
Loader = Callable[[Cutout, Checks], None]


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

    ``obj_g.fits``, ``obj_r.fits``, ``obj_z.fits`` become one cutout named ``obj_{g,r,z}.fits``
    (files of other bands, ``obj_i.fits`` or ``obj_y.fits``, join the group, so that the reader
    can say they are not used or that g, r or z is missing); names are relative to ``root``;
    CSV files are skipped silently, other non-image files are ignored (and listed).
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
        elif p.name.lower().endswith(NPZ_SUFFIX):
            items.append((Cutout(rel, p.name[: -len(NPZ_SUFFIX)], [p]), load_npz))
        elif p.name.lower().endswith(PICTURE_SUFFIXES):
            items.append((Cutout(rel, strip_suffix(p), [p]), load_picture))
        elif p.suffix.lower() != ".csv":
            ignored.append(rel)
    for base, bands in sorted(groups.items()):
        order = sorted(bands, key=SURVEY_BANDS.index)
        paths = [bands[b] for b in order]
        ext = paths[0].name[len(base.name) + 2:]
        name = (_relative(paths[0], root) if len(paths) == 1
                else _relative(base.parent / f"{base.name}_{{{','.join(order)}}}{ext}", root))
        items.append((Cutout(name, base.name, paths),
                      lambda it, checks, bands=bands: load_band_group(it, bands, checks)))
    return items, ignored


def _relative(p: Path, root: Path) -> str:
    try:
        return str(p.relative_to(root))
    except ValueError:
        return str(p)
