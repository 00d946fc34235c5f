"""Readers behind :mod:`lensfinder_nb.realdata.ingest`: open and check one FITS cube, a group of per-band FITS
files or a colour picture, and say in one line why a file is refused."""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..imaging.survey import BANDS

__all__ = ["Cutout", "Refused", "load_cube_file", "load_band_group", "load_picture", "is_fits", "strip_suffix",
           "BAD_PIXEL_LIMIT", "MIN_SIDE", "MAX_SIDE", "BANDS", "FITS_SUFFIXES", "PICTURE_SUFFIXES", "BAND_FILE_NAME"]

#: A band with more than this fraction of NaN, infinite or exactly-zero pixels is refused.
BAD_PIXEL_LIMIT = 0.05

#: Accepted image sizes in pixels, per side (the cutout service allows up to 3000).
MIN_SIDE, MAX_SIDE = 16, 3000


FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz")

PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png")

BAND_FILE_NAME = re.compile(r"^(?P<base>.+?)[_.\-](?P<band>[grzGRZ])$")


@dataclass
class Cutout:
    """One candidate subject: a cube file, a group of per-band files or a picture."""

    name: str                      # display name (relative path, or "<base>_{g,r,z}.fits")
    stem: str                      # object name used for labels matching and fallback ids
    paths: list[Path]
    cube: np.ndarray | None = None  # float32 (3, ny, nx), FITS orientation
    rgb: np.ndarray | None = None   # uint8 (ny, nx, 3), north up
    wcs_header: Any = None
    ra: float | None = None
    dec: float | None = None
    coords_from: str | None = None
    notes: list[str] = field(default_factory=list)
    label: int = -1
    subject: str = ""


class Refused(Exception):
    """A file fails a check; the message is the reason shown to the user."""


def _read_fits(path: Path) -> tuple[np.ndarray, Any]:
    """The first image HDU's data and header; truncated or damaged files raise Refused."""
    from astropy.io import fits
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with fits.open(path, memmap=False, lazy_load_hdus=False) as hdul:
                for hdu in hdul:
                    if getattr(hdu, "is_image", False) and hdu.data is not None and hdu.data.ndim >= 2:
                        return np.array(hdu.data), hdu.header.copy()
        except Refused:
            raise
        except Exception as exc:  # astropy raises OSError, ValueError, TypeError, ...
            raise Refused(f"not a readable FITS file ({_one_line(exc)})") from None
        finally:
            for w in caught:
                if "truncated" in str(w.message).lower():
                    raise Refused("truncated FITS file") from None
    raise Refused("FITS file without image data")


def _bands_of(header: Any, nplanes: int) -> list[str] | None:
    text = str(header.get("BANDS", "")).strip().lower()
    if text:
        return list(text)
    named = [str(header.get(f"BAND{i}", "")).strip().lower() for i in range(nplanes)]
    return named if all(named) else None


def _wcs_position(header: Any, ny: int, nx: int) -> tuple[float, float, Any] | None:
    """(ra, dec) of the pixel centre and a 2-axis WCS header, or None without a sky WCS."""
    if not str(header.get("CTYPE1", "")).upper().startswith("RA"):
        return None
    from astropy.wcs import WCS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # user headers often carry harmless FITSFixedWarnings
        try:
            wcs = WCS(header, naxis=2)
            ra, dec = wcs.pixel_to_world_values((nx - 1) / 2.0, (ny - 1) / 2.0)
            wcs_header = wcs.to_header()
        except Exception:
            return None
    ra, dec = float(ra), float(dec)
    if not (math.isfinite(ra) and math.isfinite(dec) and -90.0 <= dec <= 90.0):
        return None
    return ra % 360.0, dec, wcs_header


def _check_cube(cube: np.ndarray, item: Cutout) -> np.ndarray:
    """float32 (3, ny, nx) with a few NaN set to 0; raises Refused for bad shapes or pixels."""
    _, ny, nx = cube.shape
    if min(ny, nx) < MIN_SIDE or max(ny, nx) > MAX_SIDE:
        raise Refused(f"image is {nx}x{ny} pixels; {MIN_SIDE} to {MAX_SIDE} per side are accepted")
    cube = np.asarray(cube, dtype=np.float32)
    finite = np.isfinite(cube)
    for b, band in enumerate(BANDS):
        if not finite[b].any() or not np.any(cube[b][finite[b]]):
            raise Refused(f"the {band} band is empty (all NaN or zero)")
        frac = 1.0 - np.count_nonzero(finite[b] & (cube[b] != 0)) / cube[b].size
        if frac > BAD_PIXEL_LIMIT:
            raise Refused(f"{100 * frac:.1f} % of the {band}-band pixels are NaN or zero "
                       f"(limit {100 * BAD_PIXEL_LIMIT:.0f} %)")
    n_nan = int(cube.size - np.count_nonzero(finite))
    if n_nan:
        cube = np.where(finite, cube, np.float32(0.0))
        item.notes.append(f"{n_nan} NaN pixels set to 0")
    return np.ascontiguousarray(cube)


def load_cube_file(item: Cutout) -> None:
    """Fill ``item.cube`` (and its position) from a (band, ny, nx) FITS cube; raises :class:`Refused`."""
    data, header = _read_fits(item.paths[0])
    if data.ndim != 3:
        raise Refused(f"a {data.ndim}-D image; name per-band files like {item.stem}_g.fits or give a (band, ny, nx) cube")
    bands = _bands_of(header, data.shape[0])
    if bands is None:
        if data.shape[0] != 3:
            raise Refused(f"wrong shape {data.shape}: expected (3, ny, nx) for g, r, z or a BANDS header")
        bands = list(BANDS)
        item.notes.append("no BANDS header; planes taken as g, r, z")
    if len(bands) != data.shape[0]:
        raise Refused(f"BANDS names {len(bands)} bands but the cube has {data.shape[0]} planes")
    missing = [b for b in BANDS if b not in bands]
    if missing:
        raise Refused(f"missing band(s) {', '.join(missing)} (has {''.join(bands)})")
    cube = np.stack([data[bands.index(b)] for b in BANDS])
    item.cube = _check_cube(cube, item)
    _set_wcs(item, header)


def load_band_group(item: Cutout, bands: dict[str, Path]) -> None:
    """Fill ``item.cube`` from per-band FITS files (``bands`` maps g, r, z to paths); raises :class:`Refused`."""
    missing = [b for b in BANDS if b not in bands]
    if missing:
        have = ", ".join(sorted(bands, key=BANDS.index))
        raise Refused(f"missing band(s) {', '.join(missing)} (found {have})")
    planes, header0 = [], None
    for band in BANDS:
        try:
            data, header = _read_fits(bands[band])
        except Refused as exc:
            raise Refused(f"{bands[band].name}: {exc}") from None
        data = np.squeeze(data)
        if data.ndim != 2:
            raise Refused(f"{bands[band].name}: wrong shape {data.shape}, expected (ny, nx)")
        planes.append(data)
        header0 = header0 if header0 is not None else header
    if len({p.shape for p in planes}) != 1:
        raise Refused("the bands differ in shape: " + ", ".join(f"{b} {p.shape}" for b, p in zip(BANDS, planes)))
    item.cube = _check_cube(np.stack(planes), item)
    _set_wcs(item, header0)


def _set_wcs(item: Cutout, header: Any) -> None:
    pos = _wcs_position(header, *item.cube.shape[1:])
    if pos is not None:
        item.ra, item.dec, item.wcs_header = pos
        item.coords_from = "wcs"


def load_picture(item: Cutout) -> None:
    """Fill ``item.rgb`` from a JPEG or PNG picture; raises :class:`Refused`."""
    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(item.paths[0]) as im:
                im.load()
                rgb = np.asarray(im.convert("RGB"))
    except Exception as exc:  # OSError (truncated), UnidentifiedImageError, bomb warnings
        raise Refused(f"not a readable image ({_one_line(exc)})") from None
    ny, nx = rgb.shape[:2]
    if min(ny, nx) < MIN_SIDE or max(ny, nx) > MAX_SIDE:
        raise Refused(f"image is {nx}x{ny} pixels; {MIN_SIDE} to {MAX_SIDE} per side are accepted")
    if not rgb.any():
        raise Refused("the image is empty (all black)")
    item.rgb = rgb


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def is_fits(p: Path) -> bool:
    """Whether ``p`` is named like a FITS file (also gzipped)."""
    return p.name.lower().endswith(FITS_SUFFIXES)


def strip_suffix(p: Path) -> str:
    """The file name without its FITS or picture suffix (``a.fits.gz`` -> ``a``)."""
    name = p.name
    for suf in FITS_SUFFIXES + PICTURE_SUFFIXES:
        if name.lower().endswith(suf):
            return name[: -len(suf)]
    return p.stem
