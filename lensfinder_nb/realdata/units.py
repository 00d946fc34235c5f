"""Is a cutout in nanomaggies?  The flux-unit checks of an ingest.

lensfinder's cubes are Legacy Survey fluxes: nanomaggies per pixel (AB zero point 22.5).  A
file in other units (raw counts, counts per second, maggies, Jansky) looks normal once
rendered, but the machine, the mocks painted into it and every magnitude would be wrong by the
same factor.  So every cube is checked in two ways before it lands:

* **its header**, when it says something: ``BUNIT`` must name nanomaggies, a zero point
  (``MAGZERO``, ``MAGZP``, ``ZP``, PS1's ``FPA.ZP``, HSC's ``FLUXMAG0`` ...) must be 22.5, and
  Pan-STARRS's asinh-compressed pixels (``BSOFTEN``/``BOFFSET``) are refused;
* **its pixels**: the sky noise of each band, the robust standard deviation (astropy's
  ``mad_std``) of the pixels along the cutout's edges, must be within a factor
  :data:`NOISE_RATIO_LIMIT` of a Legacy Survey cutout's (:data:`~lensfinder_nb.imaging.survey.SKY_SIGMA_NMGY`),
  and no pixel near the centre may be brighter than :data:`PEAK_LIMIT_NMGY`.

Raw Pan-STARRS stack counts come out with a sky noise thousands of times a Legacy Survey
cutout's; PS1 cutouts converted to nanomaggies sit at 0.5-3.7x (measured on the reference
cubes, ``docs/real_data.md``), synthetic DESI-like fields at 0.65-2.7x.

>>> rng = np.random.default_rng(0)
>>> cube = rng.normal(0, 1, (3, 64, 64)) * np.array(SKY_SIGMA_NMGY)[:, None, None]
>>> bool(np.allclose(sky_noise_ratio(cube), 1.0, atol=0.15))
True
>>> print(flux_problem(cube * 1000))  # doctest: +ELLIPSIS
sky noise in ... about 1,...x a Legacy Survey cutout's in nanomaggies ...: are these raw counts? ...
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..imaging.survey import BANDS, SKY_SIGMA_NMGY, ZERO_POINT_MAG, nmgy_to_mag

__all__ = ["NOISE_RATIO_LIMIT", "PEAK_LIMIT_NMGY", "sky_noise", "sky_noise_ratio", "header_problem",
           "flux_problem", "OVERRIDE_HINT"]

#: A band whose sky noise is more than this factor above or below a Legacy Survey cutout's is refused.
NOISE_RATIO_LIMIT = 10.0

#: A pixel near the centre brighter than this (nanomaggies; AB 10 mag in one pixel) is refused.
PEAK_LIMIT_NMGY = 1.0e5

#: What a person can do about a refusal, added to every flux-unit reason.
OVERRIDE_HINT = "convert to nanomaggies (AB zero point 22.5) first, or pass --flux-scale FACTOR or --allow-units"

_NANOMAGGY_UNITS = {"nanomaggy", "nanomaggies", "nmgy", "nmgys", "nanomaggy/pixel", "nanomaggy/pix", "nmgy/pixel"}

# Header cards that give a magnitude zero point directly.
_ZERO_POINT_KEYS = ("MAGZERO", "MAGZP", "MAGZPT", "ZP", "ZPT", "ZEROPT", "PHOTZP", "FPA.ZP")


def sky_noise(cube: np.ndarray) -> np.ndarray:
    """The sky noise of each band of a (band, ny, nx) cube, in the cube's units.

    The robust standard deviation (``astropy.stats.mad_std``) of the pixels in each of the four
    edge strips (an eighth of the side wide, at least 4 pixels), then the median of the four, so
    that one bright star or a galaxy on one edge does not raise it.  NaN and exactly-zero pixels
    (no data) are left out; a band without such pixels gives NaN.
    """
    from astropy.stats import mad_std
    cube = np.asarray(cube, dtype=np.float64)
    _, ny, nx = cube.shape
    w = max(4, min(ny, nx) // 8)
    out = []
    for band in cube:
        strips = (band[:w], band[-w:], band[w:-w, :w], band[w:-w, -w:])
        values = []
        for strip in strips:
            v = strip[np.isfinite(strip) & (strip != 0)]
            if v.size >= 16:
                values.append(float(mad_std(v)))
        out.append(float(np.median(values)) if values else math.nan)
    return np.array(out)


def sky_noise_ratio(cube: np.ndarray) -> np.ndarray:
    """:func:`sky_noise` of each band over a typical Legacy Survey cutout's (g, r, z)."""
    return sky_noise(cube) / np.asarray(SKY_SIGMA_NMGY, dtype=np.float64)


def header_problem(headers: Sequence[Any]) -> str | None:
    """Why the FITS header(s) say the pixels are not nanomaggies, or None when they say nothing against it."""
    for header in headers:
        if header is None:
            continue
        unit = str(header.get("BUNIT", "")).strip()
        if unit and unit.lower().replace(" ", "") not in _NANOMAGGY_UNITS:
            return f"header BUNIT = {unit!r}, not nanomaggies{_exptime(header)}: {OVERRIDE_HINT}"
        if "BSOFTEN" in header or "BOFFSET" in header:
            return ("header has BSOFTEN/BOFFSET: Pan-STARRS asinh-compressed pixels, not linear fluxes; "
                    f"linearise them and {OVERRIDE_HINT}")
        zp = _zero_point(header)
        if zp is not None and abs(zp[1] - ZERO_POINT_MAG) > 0.05:
            key, value = zp
            return (f"header zero point {key} = {value:.2f}{_exptime(header)}, not {ZERO_POINT_MAG:g} as for "
                    f"nanomaggies: multiply by 10^(-0.4 ({value:.2f} - 22.5)) = {10 ** (-0.4 * (value - 22.5)):.3g} "
                    f"if that zero point is for these pixel values as they are, or {OVERRIDE_HINT}")
    return None


def flux_problem(cube: np.ndarray, headers: Sequence[Any] = ()) -> str | None:
    """Why a (3, ny, nx) g, r, z cube is not plausibly in nanomaggies, or None when it is.

    Checks the sky noise of each band against a Legacy Survey cutout's (a factor
    :data:`NOISE_RATIO_LIMIT` either way) and the brightest pixel of the central quarter against
    :data:`PEAK_LIMIT_NMGY`.  The reason says what was measured, and the header's ``EXPTIME``
    when there is one.
    """
    cube = np.asarray(cube)
    ratio = sky_noise_ratio(cube)
    noise = sky_noise(cube)
    peak_band, peak = _central_peak(cube)
    exptime = next((_exptime(h) for h in headers if h is not None and _exptime(h)), "")
    for b, band in enumerate(BANDS):
        if not math.isfinite(ratio[b]) or ratio[b] == 0:
            return (f"no sky noise in {band} (the pixels along the edges are all equal or empty): "
                    f"a noiseless or clipped image, not a survey cutout in nanomaggies; {OVERRIDE_HINT}")
    worst = int(np.argmax(np.abs(np.log(ratio))))
    band, r = BANDS[worst], float(ratio[worst])
    if r > NOISE_RATIO_LIMIT:
        return (f"sky noise in {band} is {_num(noise[worst])}, about {_times(r)} a Legacy Survey cutout's in "
                f"nanomaggies ({SKY_SIGMA_NMGY[worst]:g}); its brightest central pixel is {_num(peak)}{exptime}: "
                f"are these raw counts? {OVERRIDE_HINT}")
    if r < 1.0 / NOISE_RATIO_LIMIT:
        inverse = _times(1.0 / r, suffix="")
        return (f"sky noise in {band} is {_num(noise[worst])}, about 1/{inverse} of a Legacy Survey "
                f"cutout's in nanomaggies ({SKY_SIGMA_NMGY[worst]:g}){exptime}: maggies, Jansky or a rescaled image? "
                f"{OVERRIDE_HINT}")
    if peak > PEAK_LIMIT_NMGY:
        mag = float(nmgy_to_mag(peak))
        return (f"the brightest central pixel in {peak_band} is {_num(peak)}, a {mag:.1f} mag pixel if these were "
                f"nanomaggies (no lens candidate has one brighter than {float(nmgy_to_mag(PEAK_LIMIT_NMGY)):.0f} "
                f"mag){exptime}: are these raw counts? {OVERRIDE_HINT}")
    return None


def _central_peak(cube: np.ndarray) -> tuple[str, float]:
    """The band and value of the brightest finite pixel in the central quarter (half of each side)."""
    _, ny, nx = cube.shape
    centre = np.asarray(cube[:, ny // 4: ny - ny // 4, nx // 4: nx - nx // 4], dtype=np.float64)
    peaks = [float(np.max(c[np.isfinite(c)], initial=-np.inf)) for c in centre]
    b = int(np.argmax(peaks))
    return BANDS[b], peaks[b]


def _zero_point(header: Any) -> tuple[str, float] | None:
    for key in _ZERO_POINT_KEYS:
        value = _number(header.get(key))
        if value is not None:
            return key, value
    flux0 = _number(header.get("FLUXMAG0"))
    if flux0 is not None and flux0 > 0:
        return "2.5 log10(FLUXMAG0)", 2.5 * math.log10(flux0)
    return None


def _exptime(header: Any) -> str:
    t = _number(header.get("EXPTIME"))
    return f" (header EXPTIME = {t:g} s)" if t is not None else ""


def _number(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _num(v: float) -> str:
    """A measured value in 2-3 significant figures, without a long exponent for ordinary numbers."""
    v = float(v)
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.2g}"
    return f"{v:.3g}"


def _times(r: float, suffix: str = "x") -> str:
    """``1,200x``: a ratio in two significant figures."""
    r = float(f"{r:.2g}")
    return (f"{r:,.0f}" if r >= 10 else f"{r:g}") + suffix
