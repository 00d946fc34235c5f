"""Is a cutout at the Legacy Survey's 0.262"/pixel?  The pixel-scale check of an ingest.

Mocks are painted, Einstein radii drawn and the machine trained at 0.262"/pixel
(:data:`~lensfinder_nb.imaging.survey.PIXSCALE_ARCSEC`), so a cutout at another scale shows arcs
at the wrong size in pixels.  The scale comes from the file's celestial WCS (CD, or PC and
CDELT, through astropy's ``proj_plane_pixel_scales``) or, without one, from a scale card
(``PIXSCALE``, ``PIXSCAL1``/``PIXSCAL2``, ``SECPIX``, in arcsec); one more than
:data:`PIXSCALE_TOLERANCE` off along either axis is refused with what was found.  Files with
neither are taken to be at 0.262"/pixel, and the ingest says so.

>>> from astropy.io import fits
>>> h = fits.Header({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CDELT1": -1 / 3600, "CDELT2": 1 / 3600})
>>> [round(s, 3) for s in pixel_scales(celestial_wcs(h))]
[1.0, 1.0]
>>> print(pixel_scale_problem(pixel_scales(celestial_wcs(h))))  # doctest: +ELLIPSIS
pixel scale 1.000"/pixel (from the header), not the Legacy Survey's 0.262"/pixel ...
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..imaging.survey import PIXSCALE_ARCSEC

__all__ = ["PIXSCALE_TOLERANCE", "celestial_wcs", "pixel_scales", "header_pixel_scales", "pixel_scale_problem"]

#: A pixel scale more than this fraction away from 0.262"/pixel is refused: 0.249-0.275" passes (DES
#: 0.263", Pan-STARRS 0.25"), HSC 0.168", KiDS 0.2", SDSS 0.396" and 1" do not.
PIXSCALE_TOLERANCE = 0.05


def celestial_wcs(header: Any):
    """The 2-axis celestial ``astropy.wcs.WCS`` of a FITS header, or None when it has none (or a broken one)."""
    if header is None or not str(header.get("CTYPE1", "")).upper().startswith("RA"):
        return None
    from astropy.wcs import WCS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # user headers often carry harmless FITSFixedWarnings
        try:
            wcs = WCS(header, naxis=2)
        except Exception:  # astropy raises several kinds for malformed cards
            return None
    return wcs if wcs.has_celestial else None


def pixel_scales(wcs) -> tuple[float, float] | None:
    """Arcsec per pixel along x and y of a celestial WCS, or None when it gives no finite positive scale."""
    if wcs is None:
        return None
    from astropy.wcs.utils import proj_plane_pixel_scales
    try:
        scales = proj_plane_pixel_scales(wcs.celestial) * 3600.0
    except Exception:  # a singular CD matrix
        return None
    if not (np.all(np.isfinite(scales)) and np.all(scales > 0)):
        return None
    return float(scales[0]), float(scales[1])


def header_pixel_scales(header: Any) -> tuple[float, float] | None:
    """Arcsec per pixel (x, y) from scale cards of a header without a WCS, or None when it has none.

    ``PIXSCAL1``/``PIXSCAL2`` (one per axis) win over ``PIXSCALE`` and ``SECPIX``.

    >>> header_pixel_scales({"PIXSCALE": 0.262})
    (0.262, 0.262)
    >>> header_pixel_scales({"PIXSCAL1": -0.168, "PIXSCAL2": 0.168})
    (0.168, 0.168)
    """
    if header is None:
        return None

    def card(key: str) -> float | None:
        try:
            v = abs(float(header.get(key)))
        except (TypeError, ValueError):
            return None
        return v if np.isfinite(v) and v > 0 else None

    sx, sy = card("PIXSCAL1"), card("PIXSCAL2")
    if sx is not None or sy is not None:
        return (sx or sy, sy or sx)
    s = card("PIXSCALE") or card("SECPIX")
    return (s, s) if s is not None else None


def pixel_scale_problem(scales: tuple[float, float] | None) -> str | None:
    """Why a cutout's pixel scale (arcsec, x and y) is not the Legacy Survey's, or None when it is or is unknown."""
    if scales is None:
        return None
    off = max(abs(s / PIXSCALE_ARCSEC - 1.0) for s in scales)
    if off <= PIXSCALE_TOLERANCE:
        return None
    sx, sy = scales
    found = f"{sx:.3f}" if abs(sx - sy) <= 1e-3 * max(sx, sy) else f"{sx:.3f} x {sy:.3f}"
    return (f"pixel scale {found}\"/pixel (from the header), not the Legacy Survey's {PIXSCALE_ARCSEC}\"/pixel "
            f"(more than {100 * PIXSCALE_TOLERANCE:.0f} % off): lensfinder's mocks and machine work at "
            f"{PIXSCALE_ARCSEC}\"/pixel; resample the cutout to it first, or fetch it from the Legacy Survey "
            f"(lensfinder fetch, pixscale {PIXSCALE_ARCSEC})")
