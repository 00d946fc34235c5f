"""The Gaussian PSF: one convolution for the synthetic sky and the mock arcs, matching lenstronomy's.

lenstronomy's pixel Gaussian (``psf_type="GAUSSIAN"``) samples the Gaussian at pixel centres on
a square of half-width ``r = max(round(5 sigma / pixel), 1)`` pixels and normalises it; that
kernel is exactly the outer product of the normalised 1D taps of :func:`gaussian_taps`, so the
2D transfer function is the outer product of two 1D transforms and only the image needs a 2D FFT.

>>> import numpy as np
>>> point = np.zeros((1, 3, 31, 31), np.float32)
>>> point[0, :, 15, 15] = 1.0
>>> out = convolve_gaussian(point, [[1.4, 1.25, 1.18]], pixscale_arcsec=0.262, edges="zero")
>>> out.shape, out.dtype.name, np.round(out.sum(axis=(2, 3)), 5).tolist()
((1, 3, 31, 31), 'float32', [[1.0, 1.0, 1.0]])
"""

from __future__ import annotations

import numpy as np

__all__ = ["convolve_gaussian", "gaussian_taps", "psf_radius_px", "FWHM_PER_SIGMA"]

#: FWHM / sigma of a Gaussian, 2 sqrt(2 ln 2).
FWHM_PER_SIGMA = 2 * np.sqrt(2 * np.log(2))

_TRUNCATION_SIGMA = 5.0   # lenstronomy's default truncation of the pixel Gaussian
_MAX_RADIUS_PX = 110


def psf_radius_px(fwhm_arcsec, pixscale_arcsec: float) -> np.ndarray:
    """Half-width (pixels) of lenstronomy's truncated pixel Gaussian for each FWHM."""
    sigma = np.asarray(fwhm_arcsec, float) / FWHM_PER_SIGMA
    return np.minimum(np.maximum(np.round(_TRUNCATION_SIGMA * sigma / pixscale_arcsec), 1),
                      _MAX_RADIUS_PX).astype(int)


def gaussian_taps(fwhm_arcsec, pixscale_arcsec: float, min_radius_px: int = 0) -> tuple[np.ndarray, int]:
    """Normalised 1D taps of lenstronomy's pixel Gaussian PSF for each FWHM.

    Parameters
    ----------
    fwhm_arcsec : array of any shape, e.g. (n, band)
    pixscale_arcsec : arcsec per pixel
    min_radius_px : zero-pad the taps to at least this half-width

    Returns
    -------
    taps : float64 array ``fwhm_arcsec.shape + (2 r + 1,)``, each summing to 1, zero-padded to
        the largest half-width ``r``.
    r : that largest half-width in pixels.
    """
    sigma = np.asarray(fwhm_arcsec, float) / FWHM_PER_SIGMA
    radius = psf_radius_px(fwhm_arcsec, pixscale_arcsec)
    rmax = max(int(radius.max()), int(min_radius_px))
    idx = np.arange(-rmax, rmax + 1)
    taps = np.exp(-((idx * pixscale_arcsec) ** 2) / (2 * sigma[..., None] ** 2))
    taps *= np.abs(idx) <= radius[..., None]
    taps /= taps.sum(axis=-1, keepdims=True)
    return taps, rmax


def convolve_gaussian(images: np.ndarray, fwhm_arcsec, pixscale_arcsec: float, *,
                      edges: str = "nearest", min_radius_px: int = 0) -> np.ndarray:
    """Convolve images with a Gaussian PSF per image and band (batched FFT).

    Parameters
    ----------
    images : array (n, ny, nx) or (n, band, ny, nx)
        3D: each image is seen through every band's PSF (one arc shape, several bands);
        4D: each band's image through its own PSF.
    fwhm_arcsec : array (n, band)
        PSF FWHM per image and band.
    pixscale_arcsec : arcsec per pixel.
    edges : "nearest" or "zero"
        What lies beyond the border: "nearest" extends the edge pixels, as lenstronomy does
        (scipy.ndimage mode "nearest"; an arc leaving the cutout keeps its light at the border);
        "zero" is a dark sky (light is lost across the border; the synthetic sky's fields).
    min_radius_px : pad by at least this many pixels.  The FFT size follows the largest PSF of
        the batch; a fixed value (see :func:`psf_radius_px`) makes each image's pixels the same
        bit for bit whichever batch it is convolved in.

    Returns
    -------
    float32 (or float64 for float64 input) array (n, band, ny, nx).
    """
    import scipy.fft as sfft

    if edges not in ("nearest", "zero"):
        raise ValueError(f"edges must be 'nearest' or 'zero', not {edges!r}")
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be (n, ny, nx) or (n, band, ny, nx), got shape {images.shape}")
    ny, nx = images.shape[-2:]
    taps, r = gaussian_taps(fwhm_arcsec, pixscale_arcsec, min_radius_px)
    pad = ((0, 0),) * (images.ndim - 2) + ((r, r), (r, r))
    padded = np.pad(images, pad, mode="edge") if edges == "nearest" else np.pad(images, pad)
    fy, fx = sfft.next_fast_len(ny + 2 * r, real=True), sfft.next_fast_len(nx + 2 * r, real=True)
    img_f = sfft.rfft2(padded, s=(fy, fx))
    if images.ndim == 3:
        img_f = img_f[:, None]
    complex_dtype = np.complex64 if images.dtype == np.float32 else np.complex128
    ty = sfft.fft(taps, n=fy).astype(complex_dtype)
    tx = sfft.rfft(taps, n=fx).astype(complex_dtype)
    prod = img_f * ty[..., :, None] * tx[..., None, :]
    full = sfft.irfft2(prod, s=(fy, fx))
    # the kernel's centre tap sits r pixels into it, on top of the r pixels of padding
    return full[..., 2 * r:2 * r + ny, 2 * r:2 * r + nx]
