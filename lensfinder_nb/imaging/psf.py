"""Gaussian PSF convolution of batches of arcs, matching lenstronomy's pixel Gaussian."""

from __future__ import annotations

import numpy as np


def _gaussian_taps(fwhm_arcsec, pixscale_arcsec, truncation=5.0):
    """1D taps (n, 3, 2 r + 1) of lenstronomy's pixel Gaussian PSF.

    lenstronomy samples the Gaussian at pixel centres on a square of half-width
    ``r = max(round(truncation sigma / pixel), 1)`` and normalises it, which is exactly the
    outer product of these normalised 1D taps (zero-padded to the largest ``r``).
    """
    sigma = fwhm_arcsec / (2 * np.sqrt(2 * np.log(2)))
    radius = np.minimum(np.maximum(np.round(truncation * sigma / pixscale_arcsec), 1), 110).astype(int)
    rmax = int(radius.max())
    idx = np.arange(-rmax, rmax + 1)
    taps = np.exp(-((idx * pixscale_arcsec) ** 2) / (2 * sigma[..., None] ** 2))
    taps *= np.abs(idx) <= radius[..., None]
    taps /= taps.sum(axis=-1, keepdims=True)
    return taps, rmax


def _convolve_gaussian(unit, fwhm_arcsec, pixscale_arcsec):
    """Batched FFT convolution of (n, ny, nx) images with each mock's 3 Gaussian PSFs.

    Returns float32 (n, 3, ny, nx). Edges are extended with the nearest pixel, as lenstronomy's
    Gaussian convolution (scipy.ndimage, mode "nearest") does: light of an arc that leaves the
    cutout is not lost at the border. The 2D transfer function of the separable kernel is the
    outer product of the 1D transforms of its taps, so only the image needs a 2D FFT.
    """
    import scipy.fft as sfft

    n, ny, nx = unit.shape
    taps, r = _gaussian_taps(np.asarray(fwhm_arcsec, float), pixscale_arcsec)
    padded = np.pad(unit, ((0, 0), (r, r), (r, r)), mode="edge")
    fy, fx = sfft.next_fast_len(ny + 2 * r, real=True), sfft.next_fast_len(nx + 2 * r, real=True)
    img_f = sfft.rfft2(padded, s=(fy, fx))
    ty = sfft.fft(taps, n=fy).astype(np.complex64)
    tx = sfft.rfft(taps, n=fx).astype(np.complex64)
    prod = img_f[:, None] * ty[..., :, None] * tx[..., None, :]
    full = sfft.irfft2(prod, s=(fy, fx))
    return full[..., 2 * r:2 * r + ny, 2 * r:2 * r + nx]
