"""Writing ingested cutouts into the data folder and adding them to the store in one transaction.

A FITS input lands as ``cubes/ingest/<subject>.fits`` (float32 g, r, z cube, Legacy Survey
layout, with its celestial WCS); every subject gets ``images/<subject>.jpg``: the viewer
colours of the cube, or the input picture re-encoded.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .readers import BANDS, Cutout

__all__ = ["add_cutouts"]

_KIND = {1: "lens", 0: "nonlens"}


def add_cutouts(store, items: Sequence[Cutout], source: str) -> list[str]:
    """Write the files of ``items`` (their ``subject`` set) and add them to ``store``; returns the ids."""
    if not items:
        return []
    from ..imaging.files import write_file, write_image
    data_dir = Path(store.settings.data_dir)
    rows = []
    for item in items:
        cube_ref = None
        if item.cube is not None:
            cube_ref = f"cubes/ingest/{item.subject}.fits"
            write_file(data_dir / cube_ref, _cube_fits(item))
        rows.append({"subject": item.subject, "label": item.label, "kind": _KIND.get(item.label, "unknown"),
                     "ra": item.ra, "dec": item.dec, "image": write_image(data_dir, item.subject, _jpeg(item)),
                     "cube": cube_ref, "params": json.dumps({"file": item.name, "coords_from": item.coords_from}),
                     "source": source})
    store.add_subjects(pd.DataFrame(rows))
    return [r["subject"] for r in rows]


def _jpeg(item: Cutout) -> bytes:
    """The picture volunteers see: the cube in viewer colours, or the input picture."""
    if item.cube is not None:
        from ..imaging.render import encode_jpeg, viewer_rgb
        return encode_jpeg(viewer_rgb(item.cube))
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(item.rgb).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _cube_fits(item: Cutout) -> bytes:
    from astropy.io import fits
    header = fits.Header()
    if item.wcs_header is not None:
        header.extend(item.wcs_header, update=True)
    header["BANDS"] = ("".join(BANDS), "band of each plane")
    for i, band in enumerate(BANDS):
        header[f"BAND{i}"] = band
    header["ORIGFILE"] = item.name[-68:]
    buf = io.BytesIO()
    fits.PrimaryHDU(item.cube.astype(np.float32), header=header).writeto(buf)
    return buf.getvalue()

