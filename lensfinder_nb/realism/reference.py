"""A folder of real lenses to calibrate against: FITS cubes plus an optional ``manifest.csv``.

The manifest (any of these columns; extra ones are kept): ``file`` (the cube's file name),
``image_sep`` (image separation in arcsec; theta_E is about half of it), ``sled_name`` or
``name``.  Cubes are g, r, z in nanomaggies at 0.262"/pixel, as ``lensfinder ingest`` wants them.

:func:`split_reference` divides the lenses, by a hash of their names, into a *calibration* part
(may join training and realism checks) and a *held-out* part that nothing is trained or tuned on:
the benchmark of the machine on real lenses scores only the held-out part.

>>> parts = split_reference([f"lens{k}.fits" for k in range(1000)])
>>> sorted(set(parts)), 400 < int((parts == "held_out").sum()) < 600
(['calibration', 'held_out'], True)
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..imaging.survey import CUTOUT_SIZE_PX

__all__ = ["RealLenses", "load_real_lenses", "split_reference", "SEPARATION_BINS"]

#: image-separation bins (arcsec) used to report recall: below 1.5" ground-based seeing hides most arcs
SEPARATION_BINS = ((0.0, 1.5), (1.5, math.inf))

_SALT = "lensfinder-real-lens-split-v1"


@dataclass
class RealLenses:
    """Real lens cubes (n, 3, ny, nx) float32 nanomaggies (FITS orientation) and one row each in ``table``
    (``file``, ``name``, ``image_sep_arcsec`` (NaN if unknown), ``theta_e_arcsec`` = half of it, ``part``)."""

    cubes: np.ndarray
    table: pd.DataFrame

    def subset(self, mask) -> RealLenses:
        mask = np.asarray(mask, bool)
        return RealLenses(self.cubes[mask], self.table[mask].reset_index(drop=True))

    def __len__(self) -> int:
        return len(self.table)


def split_reference(names, held_out_fraction: float = 0.5) -> np.ndarray:
    """'calibration' or 'held_out' per name, fixed by a salted hash (stable across runs and machines)."""
    out = []
    for name in names:
        h = int(hashlib.sha256(f"{_SALT}:{name}".encode()).hexdigest()[:8], 16) / 16 ** 8
        out.append("held_out" if h < held_out_fraction else "calibration")
    return np.array(out, dtype=object)


def load_real_lenses(folder: str | Path, size: int = CUTOUT_SIZE_PX) -> RealLenses:
    """Read every FITS cube of ``folder`` (centre-cropped to ``size`` pixels) with its manifest row.

    Raises ValueError naming the file when a cube is not (3, ny, nx) with ny, nx >= ``size``.
    """
    from astropy.io import fits

    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".fits", ".fit") or p.name.endswith(".fits.gz"))
    if not files:
        raise InvalidInput(f"{folder}: no FITS cubes")
    manifest = folder / "manifest.csv"
    meta = pd.read_csv(manifest) if manifest.exists() else pd.DataFrame({"file": [p.name for p in files]})
    meta = meta.set_index("file") if "file" in meta else pd.DataFrame(index=[p.name for p in files])
    cubes, rows = [], []
    for p in files:
        data = np.asarray(fits.getdata(p), np.float32)
        if data.ndim != 3 or data.shape[0] != 3 or min(data.shape[1:]) < size:
            raise InvalidInput(f"{p.name}: expected a g, r, z cube of at least {size} x {size} pixels, "
                               f"got {data.shape}")
        y0, x0 = (data.shape[1] - size) // 2, (data.shape[2] - size) // 2
        cubes.append(data[:, y0:y0 + size, x0:x0 + size])
        row = meta.loc[p.name].to_dict() if p.name in meta.index else {}
        sep = pd.to_numeric(pd.Series([row.get("image_sep")]), errors="coerce").iloc[0]
        name = row.get("sled_name") or row.get("name") or p.stem
        rows.append({"file": p.name, "name": str(name), "image_sep_arcsec": float(sep),
                     "theta_e_arcsec": float(sep) / 2})
    table = pd.DataFrame(rows)
    table["part"] = split_reference(table["file"])
    return RealLenses(np.stack(cubes), table)
