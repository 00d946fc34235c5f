"""Readers behind :mod:`lensfinder_nb.realdata.ingest`: open and check one FITS cube, a group of per-band FITS
files, a ``.npz`` array or a colour picture, and say in one line why a file is refused.

Every cube passes the same checks (:func:`finish_cube`): shape and bad pixels here, the pixel scale
(:mod:`.pixscale`) and the flux units (:mod:`.units`).  The ``.npz`` reader is in :mod:`.arrays`.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..imaging.survey import BANDS, PIXSCALE_ARCSEC
from .pixscale import celestial_wcs, header_pixel_scales, pixel_scale_problem, pixel_scales
from .units import flux_problem, header_problem, sky_noise_ratio

__all__ = ["Cutout", "Checks", "Refused", "load_cube_file", "load_band_group", "load_picture", "finish_cube",
           "header_band", "band_list", "missing_bands_reason", "one_line", "is_fits", "strip_suffix", "BAD_PIXEL_LIMIT", "EDGE_BAD_PIXEL_LIMIT",
           "MIN_SIDE", "MAX_SIDE", "BANDS", "FITS_SUFFIXES", "PICTURE_SUFFIXES", "BAND_FILE_NAME", "SURVEY_BANDS"]

#: A band with more than this fraction of NaN, infinite or exactly-zero pixels in its central
#: region (the middle half of each side, where the lens is) is refused.
BAD_PIXEL_LIMIT = 0.05

#: ... and one with more than this fraction over the whole cutout (survey edges, chip gaps).
EDGE_BAD_PIXEL_LIMIT = 0.25

#: Accepted image sizes in pixels, per side (the cutout service allows up to 3000).
MIN_SIDE, MAX_SIDE = 16, 3000


FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz")

PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png")

#: Optical bands a per-band file may be named after; lensfinder uses g, r and z of them.
SURVEY_BANDS = ("u", "g", "r", "i", "z", "y")

BAND_FILE_NAME = re.compile(r"^(?P<base>.+?)[_.\-](?P<band>[ugrizyUGRIZY])$")

# Header cards naming the band of a single-band image (DECam, PS1, HSC, SDSS ...).
_BAND_KEYS = ("BAND", "FILTER", "FILTNAM", "FILTER1", "FPA.FILTER")


@dataclass(frozen=True)
class Checks:
    """The options of the checks every cube passes.

    ``flux_scale`` multiplies every pixel before the flux-unit check (to turn consistent files
    into nanomaggies; the header's unit cards are then not consulted); ``check_units=False``
    skips the flux-unit check altogether.
    """

    flux_scale: float | None = None
    check_units: bool = True


@dataclass
class Cutout:
    """One candidate subject: a cube file, a group of per-band files, a ``.npz`` array or a picture."""

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
    pixscale: float | None = None           # arcsec per pixel from the header (None: assumed 0.262)
    sky_ratio: np.ndarray | None = None     # sky noise per band over a Legacy Survey cutout's
    refused: str | None = None              # the reason, once a check refused it


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
            raise Refused(f"not a readable FITS file ({one_line(exc)})") from None
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


def header_band(header: Any) -> tuple[str, str] | None:
    """``(card, band)`` of a single-band image's header: ``FILTER = 'i'``, DECam's ``'g DECam SDSS c0001 ...'``,
    PS1's ``FPA.FILTER = 'y.00000'``, HSC's ``'HSC-I'``; None when no card names an optical band.

    >>> header_band({"FILTER": "HSC-I"}), header_band({"FPA.FILTER": "y.00000"}), header_band({"OBJECT": "x"})
    (('FILTER', 'i'), ('FPA.FILTER', 'y'), None)
    """
    for key in _BAND_KEYS:
        text = str(header.get(key, "") or "").strip().lower()
        if not text:
            continue
        token = text.split()[0].split("-")[-1].split(".")[0]
        if token in SURVEY_BANDS:
            return key, token
    return None


def band_list(bands) -> str:
    """``g, r and z``: band names in survey order, in words."""
    names = sorted(bands, key=lambda b: SURVEY_BANDS.index(b) if b in SURVEY_BANDS else len(SURVEY_BANDS))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def missing_bands_reason(found, what: str) -> str:
    """The reason for a cutout without all of g, r and z."""
    missing = [b for b in BANDS if b not in found]
    unused = [b for b in found if b not in BANDS]
    text = f"lensfinder uses the g, r and z bands: {band_list(missing)} missing ({what} {band_list(found) or 'none'})"
    if unused:
        text += f"; {band_list(unused)} {'is' if len(unused) == 1 else 'are'} not used"
    return text


def _place(item: Cutout, header: Any, ny: int, nx: int) -> tuple[float, float] | None:
    """Set the item's position from the header's WCS (when it has none yet); return the header's pixel scales.

    Done before the pixel checks, so that a refused file can still be matched to its labels row.
    """
    wcs = celestial_wcs(header)
    if wcs is None:
        return header_pixel_scales(header)
    if item.ra is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ra, dec = wcs.pixel_to_world_values((nx - 1) / 2.0, (ny - 1) / 2.0)
                wcs_header = wcs.to_header()
        except Exception:  # a WCS astropy builds but cannot evaluate
            return None
        ra, dec = float(ra), float(dec)
        if math.isfinite(ra) and math.isfinite(dec) and -90.0 <= dec <= 90.0:
            item.ra, item.dec, item.wcs_header, item.coords_from = ra % 360.0, dec, wcs_header, "wcs"
    return pixel_scales(wcs)


def _check_cube(cube: np.ndarray, item: Cutout) -> np.ndarray:
    """float32 (3, ny, nx) with a few NaN set to 0; raises Refused for bad shapes or pixels."""
    _, ny, nx = cube.shape
    if min(ny, nx) < MIN_SIDE or max(ny, nx) > MAX_SIDE:
        raise Refused(f"image is {nx}x{ny} pixels; {MIN_SIDE} to {MAX_SIDE} per side are accepted")
    cube = np.asarray(cube, dtype=np.float32)
    finite = np.isfinite(cube)
    bad = ~finite | (cube == 0)
    centre = (slice(ny // 4, ny - ny // 4), slice(nx // 4, nx - nx // 4))
    for b, band in enumerate(BANDS):
        if not finite[b].any() or not np.any(cube[b][finite[b]]):
            raise Refused(f"the {band} band is empty (all NaN or zero)")
        frac = float(bad[b][centre].mean())
        if frac > BAD_PIXEL_LIMIT:
            raise Refused(f"{100 * frac:.1f} % of the {band}-band pixels near the centre are NaN or zero "
                          f"(limit {100 * BAD_PIXEL_LIMIT:.0f} %)")
        frac = float(bad[b].mean())
        if frac > EDGE_BAD_PIXEL_LIMIT:
            raise Refused(f"{100 * frac:.1f} % of the {band}-band pixels are NaN or zero "
                          f"(limit {100 * EDGE_BAD_PIXEL_LIMIT:.0f} %)")
    n_nan = int(cube.size - np.count_nonzero(finite))
    if n_nan:
        cube = np.where(finite, cube, np.float32(0.0))
        item.notes.append(f"{n_nan} NaN pixels set to 0")
    return np.ascontiguousarray(cube)


def finish_cube(item: Cutout, cube: np.ndarray, headers: list[Any], scales: list[tuple[float, float] | None],
                checks: Checks) -> None:
    """The checks every cube passes, then ``item.cube``: pixel scale, shape and pixels, flux units.

    ``cube`` is (3, ny, nx) g, r, z in FITS orientation; ``scales`` holds the WCS pixel scales
    of its file(s) (None where a file has neither a WCS nor a scale card).  Raises :class:`Refused`.
    """
    known = [s for s in scales if s is not None]
    for s in known:
        problem = pixel_scale_problem(s)
        if problem:
            raise Refused(problem)
    if known:
        item.pixscale = float(np.mean(known[0]))
    else:
        item.notes.append(f"no WCS or PIXSCALE card: pixel scale taken as {PIXSCALE_ARCSEC}\"/pixel")
    cube = _check_cube(cube, item)
    if checks.flux_scale is not None:
        cube = (cube * np.float32(checks.flux_scale)).astype(np.float32)
        item.notes.append(f"fluxes multiplied by {checks.flux_scale:g}")
    if checks.check_units:
        problem = (None if checks.flux_scale is not None else header_problem(headers)) or flux_problem(cube, headers)
        if problem:
            raise Refused(problem)
    else:
        item.notes.append("flux units not checked (--allow-units)")
    item.sky_ratio = sky_noise_ratio(cube)
    item.cube = cube


def load_cube_file(item: Cutout, checks: Checks = Checks()) -> None:
    """Fill ``item.cube`` (and its position) from a (band, ny, nx) FITS cube; raises :class:`Refused`."""
    data, header = _read_fits(item.paths[0])
    scales = _place(item, header, *data.shape[-2:])
    if data.ndim == 3 and data.shape[0] == 1 and _bands_of(header, 1) is None:
        data = data[0]
    if data.ndim == 2:
        found = header_band(header)
        if found is not None:
            key, band = found
            raise Refused(f"a single {band}-band image (header {key}); lensfinder uses the g, r and z bands: give "
                          f"per-band files {item.stem}_g.fits, {item.stem}_r.fits, {item.stem}_z.fits or a "
                          "(3, ny, nx) cube")
        raise Refused(f"a {data.ndim}-D image; name per-band files like {item.stem}_g.fits or give a (band, ny, nx) cube")
    if data.ndim != 3:
        raise Refused(f"a {data.ndim}-D image; give a (band, ny, nx) cube")
    bands = _bands_of(header, data.shape[0])
    if bands is None:
        if data.shape[0] != 3:
            raise Refused(f"wrong shape {data.shape}: expected (3, ny, nx) for g, r, z or a BANDS header naming "
                          f"the {data.shape[0]} planes")
        bands = list(BANDS)
        item.notes.append("no BANDS header; planes taken as g, r, z")
    if len(bands) != data.shape[0]:
        raise Refused(f"BANDS names {len(bands)} bands but the cube has {data.shape[0]} planes")
    if any(b not in bands for b in BANDS):
        raise Refused(missing_bands_reason(bands, "the cube has"))
    cube = np.stack([data[bands.index(b)] for b in BANDS])
    finish_cube(item, cube, [header], [scales], checks)


def load_band_group(item: Cutout, bands: dict[str, Path], checks: Checks = Checks()) -> None:
    """Fill ``item.cube`` from per-band FITS files (``bands`` maps band letters to paths); raises :class:`Refused`.

    Files of other bands (u, i, y) are not used, and a note says so; a header whose ``FILTER``
    (or ``BAND``) names another band than the file name refuses the group.
    """
    if any(b not in bands for b in BANDS):
        raise Refused(missing_bands_reason(list(bands), "found band files"))
    planes, headers, scales = [], [], []
    for band in BANDS:
        try:
            data, header = _read_fits(bands[band])
        except Refused as exc:
            raise Refused(f"{bands[band].name}: {exc}") from None
        found = header_band(header)
        if found is not None and found[1] != band:
            raise Refused(f"{bands[band].name}: the header says {found[0]} = {header.get(found[0])!r}, a "
                          f"{found[1]}-band image, but the file name says {band}")
        data = np.squeeze(data)
        if data.ndim != 2:
            raise Refused(f"{bands[band].name}: wrong shape {data.shape}, expected (ny, nx)")
        scales.append(_place(item, header, *data.shape))
        planes.append(data)
        headers.append(header)
    if len({p.shape for p in planes}) != 1:
        raise Refused("the bands differ in shape: " + ", ".join(f"{b} {p.shape}" for b, p in zip(BANDS, planes)))
    unused = [b for b in bands if b not in BANDS]
    if unused:
        item.notes.append(f"{band_list(unused)}-band file{'s' if len(unused) > 1 else ''} not used "
                          "(lensfinder uses g, r and z)")
    finish_cube(item, np.stack(planes), headers, scales, checks)


def load_picture(item: Cutout, checks: Checks = Checks()) -> None:
    """Fill ``item.rgb`` from a JPEG or PNG picture; raises :class:`Refused`."""
    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(item.paths[0]) as im:
                im.load()
                rgb = np.asarray(im.convert("RGB"))
    except Exception as exc:  # OSError (truncated), UnidentifiedImageError, bomb warnings
        raise Refused(f"not a readable image ({one_line(exc)})") from None
    ny, nx = rgb.shape[:2]
    if min(ny, nx) < MIN_SIDE or max(ny, nx) > MAX_SIDE:
        raise Refused(f"image is {nx}x{ny} pixels; {MIN_SIDE} to {MAX_SIDE} per side are accepted")
    if not rgb.any():
        raise Refused("the image is empty (all black)")
    item.rgb = rgb


def one_line(exc: BaseException) -> str:
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
