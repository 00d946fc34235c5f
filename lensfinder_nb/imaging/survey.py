"""The survey lensfinder's images come from: DESI Legacy Imaging Surveys DR9 (DECaLS), g, r, z.

Every constant about the survey lives here, once; the mocks, the synthetic sky, the readers and
the network's input scaling import them from this module.

Sources
-------
* Bands, pixel scale and flux unit: Dey et al. 2019, AJ 157, 168 ("Overview of the DESI Legacy
  Imaging Surveys"), and the Legacy Surveys DR9 documentation (legacysurvey.org/dr9/description):
  DECam coadds at 0.262 arcsec/pixel, images in nanomaggies, i.e. AB magnitude
  ``m = 22.5 - 2.5 log10(flux / nanomaggy)`` (the SDSS convention).
* Seeing: DECaLS's delivered image quality (Dey et al. 2019): median PSF FWHM about 1.3", 1.2"
  and 1.1" in g, r, z; the ranges below bracket the bulk of the coadds.
* Sky noise per pixel and electrons per nanomaggy: typical values of DR9 DECaLS coadds at the
  survey's nominal depth (``1 / sqrt(invvar)`` of the coadd inverse-variance maps; the coadd's
  exposure time times the DECam gain, per nanomaggy).  They set the noise of synthetic fields and
  the shot noise of mock arcs, and scale the network's input; they are typical values, not a
  model of one brick.  The z value (0.016, was 0.013) comes from DR10 lens pictures: rendered the
  same way (docs/realism.md, "Demo sky"), their z-band sky noise relative to g and r is about
  1.25x what 0.013 gives.  Depth varies from field to field; the synthetic sky draws it per field.

>>> mag_to_nmgy([22.5, 20.0]).round(3).tolist()
[1.0, 10.0]
>>> round(float(nmgy_to_mag(1.0)), 6)
22.5
"""

from __future__ import annotations

import numpy as np

__all__ = ["BANDS", "CUTOUT_SIZE_PX", "PIXSCALE_ARCSEC", "ZERO_POINT_MAG", "ELECTRONS_PER_NMGY",
           "SKY_SIGMA_NMGY", "SEEING_RANGE_ARCSEC", "TYPICAL_SEEING_ARCSEC", "mag_to_nmgy", "nmgy_to_mag"]

#: band order of every cube, table and column set: (band, ny, nx) with band 0 = g.
BANDS = ("g", "r", "z")

#: default cutout side (pixels): 26.5" at the native scale, enough for galaxy-scale lenses; the
#: docs recommend 201 pixels for cluster-scale arcs.  Real cutouts may have any size.
CUTOUT_SIZE_PX = 101

#: native DECam coadd pixel scale (arcsec per pixel).
PIXSCALE_ARCSEC = 0.262

#: AB magnitude of one nanomaggy (the unit of Legacy Surveys images).
ZERO_POINT_MAG = 22.5

#: electrons per nanomaggy of a typical coadd (g, r, z), for the shot noise of sources.
ELECTRONS_PER_NMGY = (1.1e4, 1.0e4, 1.2e4)

#: typical sky noise per pixel of Legacy Surveys DR9/DR10 coadds (nanomaggies; g, r, z).
SKY_SIGMA_NMGY = (0.003, 0.006, 0.016)

#: PSF FWHM (arcsec) per band, (low, high): the range synthetic fields draw from.
SEEING_RANGE_ARCSEC = ((1.30, 1.50), (1.20, 1.30), (1.10, 1.25))

#: typical PSF FWHM (arcsec; g, r, z) for a cutout that does not state its own: about the
#: middles of :data:`SEEING_RANGE_ARCSEC`.
TYPICAL_SEEING_ARCSEC = (1.40, 1.25, 1.18)


def mag_to_nmgy(mag):
    """AB magnitude to nanomaggies; NaN or +inf (no light) give 0."""
    mag = np.asarray(mag, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        flux = 10.0 ** (-0.4 * (mag - ZERO_POINT_MAG))
    return np.where(np.isfinite(flux), flux, 0.0)


def nmgy_to_mag(flux_nmgy):
    """Nanomaggies to AB magnitude; 0 or negative flux gives +inf."""
    flux = np.asarray(flux_nmgy, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = ZERO_POINT_MAG - 2.5 * np.log10(flux)
    return np.where(flux > 0, mag, np.inf)
